//! `flopscope bench` as a process: without ONNX Runtime it fails with an install hint while
//! `profile` is unaffected; `--calibrate` measures and caches the machine's peaks, and a later
//! bench classifies its kernels with them.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    tests::fixture(&format!("models/{name}"))
        .display()
        .to_string()
}

/// The `flopscope` binary as `main.rs` builds it, as a process (its environment is its own).
fn flopscope(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flopscope-under-test"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the flopscope binary runs")
}

#[test]
fn without_onnx_runtime_bench_fails_with_a_hint_and_profile_works() {
    let missing = [("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")];
    let model = fixture("mobilenet_v2.onnx");
    let out = flopscope(&["bench", &model, "--input", "input=1x3x224x224"], &missing);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ONNX Runtime is not available") && err.contains("pip install onnxruntime"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let out = flopscope(
        &["profile", &model, "--input", "input=1x3x224x224"],
        &missing,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("300.77 MMACs"));
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn calibrated_peaks_are_cached_and_classify_kernels() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("peaks-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let cache_str = cache.display().to_string();
    let env = [("FLOPSCOPE_CACHE_DIR", cache_str.as_str())];
    let out = flopscope(&["bench", "--calibrate", "--threads", "1"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Machine peaks"));
    let cached: Value =
        serde_json::from_str(&std::fs::read_to_string(cache.join("peaks.json")).unwrap()).unwrap();
    let entries = cached.as_object().unwrap();
    assert_eq!(entries.len(), 1);
    let (key, peaks) = entries.iter().next().unwrap();
    assert!(
        key.contains("1 threads") && key.contains("onnxruntime"),
        "{key}"
    );
    let (gflops, gbps) = (
        peaks["gflops"].as_f64().unwrap(),
        peaks["gbps"].as_f64().unwrap(),
    );
    assert!(gflops > 0.1 && gbps > 0.1, "{peaks}");
    assert!((peaks["ridge"].as_f64().unwrap() - gflops / gbps).abs() < 1e-9);

    let out = flopscope(
        &[
            "bench",
            &fixture("mobilenet_v2.onnx"),
            "--input",
            "input=1x3x224x224",
            "--threads",
            "1",
            "--warmup",
            "1",
            "--runs",
            "3",
            "--profile-runs",
            "2",
            "--format",
            "json",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bench = &report["bench"];
    assert_eq!(&bench["peaks"], peaks, "the cached peaks are used");
    let ridge = gflops / gbps;
    let mut classified = 0;
    for l in bench["layers"].as_array().unwrap() {
        let (Some(i), Some(g)) = (l["intensity"].as_f64(), l["gflops"].as_f64()) else {
            continue;
        };
        let bound = if i < ridge { "memory" } else { "compute" };
        assert_eq!(l["bound"], bound, "{l}");
        let roof = gflops.min(gbps * i);
        assert!((l["roof_fraction"].as_f64().unwrap() - g / roof).abs() < 1e-9);
        classified += 1;
    }
    assert!(classified > 40);
}
