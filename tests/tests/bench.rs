//! `flopscope bench` on the shipped (weight-stripped) mobilenet_v2 and tiny_gpt2, in ONNX
//! Runtime: latency figures are consistent, achieved GFLOPS is FLOPs over the median latency,
//! kernel times add up to the latency within 20%, and every counted node is either joined to a
//! kernel or listed as unmatched.
//!
//! One intra-op thread, and tiny_gpt2 at 4×256: ONNX Runtime's profiler costs a few
//! microseconds per kernel, which at 1×128 (119 kernels of ~20 µs) is more than the 20%
//! tolerance; at sizes where kernels do real work it is a few percent.
//!
//! These need ONNX Runtime (`pip install onnxruntime`, or `ORT_DYLIB_PATH`). Without it they say
//! they are skipped, unless `FLOPSCOPE_REQUIRE_ORT=1` (set by `.ci/run`).

use std::collections::HashSet;

use serde_json::Value;
use tests::{fixture, flopscope};

/// Benches run one at a time: they time things, and the machine has few cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bench(model: &str, input: &str, profile_runs: &str, extra: &[&str]) -> Value {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = fixture(&format!("models/{model}.onnx"))
        .display()
        .to_string();
    let mut args = vec![
        "bench",
        path.as_str(),
        "--input",
        input,
        "--format",
        "json",
        "--threads",
        "1",
        "--warmup",
        "3",
        "--runs",
        "20",
        "--profile-runs",
        profile_runs,
    ];
    args.extend_from_slice(extra);
    let run = flopscope(&args);
    assert!(run.success(), "{model}: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn check(model: &str, report: &Value) {
    let b = &report["bench"];
    let l = &b["latency_ms"];
    let (min, median, p90, max) = (f(&l["min"]), f(&l["median"]), f(&l["p90"]), f(&l["max"]));
    assert!(min > 0.0, "{model}: {l}");
    assert!(min <= median && median <= p90 && p90 <= max, "{model}: {l}");
    assert_eq!(b["runs"], 20);

    // Achieved GFLOPS is the report's FLOPs over the median latency.
    let flops = report["totals"]["flops"].as_i64().expect("concrete FLOPs");
    let expected = flops as f64 / (median / 1000.0) / 1e9;
    let achieved = f(&b["achieved_gflops"]);
    assert!(
        (achieved - expected).abs() <= 1e-9 * expected,
        "{model}: {achieved} vs {expected}"
    );
    let ips = f(&b["throughput"]["inferences_per_s"]);
    assert!((ips - 1000.0 / median).abs() < 1e-9 * ips);

    // The kernels' times add up to the measured latency within 20%.
    let kernels_ms = f(&b["kernel_time_us"]) / 1000.0;
    let ratio = kernels_ms / median;
    assert!(
        (0.8..=1.2).contains(&ratio),
        "{model}: kernels {kernels_ms:.3} ms vs latency {median:.3} ms ({ratio:.2})"
    );
    let layers = b["layers"].as_array().unwrap();
    let shares: f64 = layers.iter().map(|l| f(&l["share"])).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{model}: shares {shares}");

    // Every counted node is joined to exactly one kernel or listed as unmatched.
    let joined: Vec<&str> = layers
        .iter()
        .flat_map(|l| l["nodes"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    let joined_set: HashSet<&str> = joined.iter().copied().collect();
    assert_eq!(
        joined.len(),
        joined_set.len(),
        "{model}: a node in two kernels"
    );
    let unmatched: HashSet<&str> = b["unmatched_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert!(joined_set.is_disjoint(&unmatched), "{model}");
    for n in report["nodes"].as_array().unwrap() {
        if n["counted"] == true {
            let name = n["name"].as_str().unwrap();
            assert!(
                joined_set.contains(name) || unmatched.contains(name),
                "{model}: {name} is neither joined nor unmatched"
            );
        }
    }
    // Most of the work is joined: kernels with nodes carry most of the FLOPs.
    let joined_flops: i64 = layers.iter().map(|l| l["flops"].as_i64().unwrap()).sum();
    let joined_share = joined_flops as f64 / flops as f64;
    assert!(
        joined_share > 0.9,
        "{model}: only {joined_share:.2} of FLOPs joined"
    );
    // The fixtures are stripped: their weights were made up.
    assert!(
        !b["runtime"]["synthesized_weights"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn mobilenet_v2_and_tiny_gpt2() {
    let mobilenet = bench("mobilenet_v2", "input=1x3x224x224", "10", &[]);
    check("mobilenet_v2", &mobilenet);
    // ONNX Runtime fuses each Conv with its Clip; the pair is one kernel.
    let layers = mobilenet["bench"]["layers"].as_array().unwrap();
    assert!(layers.iter().any(|l| {
        let nodes = l["nodes"].as_array().unwrap();
        l["op"] == "Conv" && nodes.len() == 2 && nodes[1].as_str().unwrap().ends_with("/Clip")
    }));
    let gpt2 = bench("tiny_gpt2", "input_ids=4x256", "10", &[]);
    check("tiny_gpt2", &gpt2);
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn samples_per_second_follow_the_batch() {
    let r = bench("mobilenet_v2", "input=2x3x224x224", "0", &[]);
    let t = &r["bench"]["throughput"];
    assert_eq!(t["batch"], 2);
    assert!((f(&t["samples_per_s"]) - 2.0 * f(&t["inferences_per_s"])).abs() < 1e-9);
    assert!(r["bench"]["layers"].as_array().unwrap().is_empty());
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn bench_needs_concrete_sizes_and_says_which() {
    let path = fixture("models/mobilenet_v2.onnx").display().to_string();
    let run = flopscope(&["bench", &path]);
    assert!(!run.success());
    assert!(
        run.stderr.contains("input") && run.stderr.contains("--input or --dim"),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn the_roofline_has_a_point_per_kernel_with_flops() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let svg_path = dir.join("roofline.svg");
    let r = bench(
        "mobilenet_v2",
        "input=1x3x224x224",
        "3",
        &["--plot", &svg_path.display().to_string()],
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    let with_flops = r["bench"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["intensity"].is_null() && !l["gflops"].is_null())
        .count();
    assert!(with_flops > 40);
    assert_eq!(circles, with_flops);
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn an_unavailable_provider_is_a_clear_error() {
    let path = fixture("models/mobilenet_v2.onnx").display().to_string();
    let run = flopscope(&[
        "bench",
        &path,
        "--input",
        "input=1x3x224x224",
        "--provider",
        "cuda",
        "--runs",
        "1",
        "--profile-runs",
        "0",
    ]);
    // With a CUDA build of ONNX Runtime this runs; with the CPU wheel it says what to do.
    if !run.success() {
        assert!(
            run.stderr
                .contains("CUDA execution provider is not available")
                && run.stderr.contains("--provider cpu"),
            "{}",
            run.stderr
        );
    }
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn without_profiled_runs_no_kernel_time_is_claimed() {
    // `--profile-runs 0` once printed `Kernel times add up to -0.000 ms, -0.0%` and a table
    // of no kernels.
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = fixture("models/mobilenet_v2.onnx").display().to_string();
    let run = flopscope(&[
        "bench",
        &path,
        "--input",
        "input=1x3x224x224",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--profile-runs",
        "0",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(!run.stdout.contains("-0.0"), "{}", run.stdout);
    assert!(!run.stdout.contains("Slowest kernels"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Kernel times were not measured"),
        "{}",
        run.stdout
    );
}
