//! `--hardware`: roofline estimates per node and in total, on a graph built here and on a
//! hardware file written here, against hand computations.

use flopscope_testkit::{graph, model, node, value, weights, with_init};
use serde_json::Value;
use tests::flopscope;

/// One MatMul: [64, 128] activations by a [128, 256] weight, float32.
fn matmul_model(dir: &std::path::Path) -> String {
    let g = with_init(
        graph(
            "matmul",
            vec![node("mm", "MatMul", "", &["x", "w"], &["y"])],
            vec![value("x", Some(&[64, 128]))],
            vec![value("y", None)],
            vec![],
        ),
        vec![weights("w", &[128, 256])],
    );
    let path = dir.join("matmul.onnx");
    std::fs::write(&path, model(&[("", 18)], g).expect("serializes")).expect("writes");
    path.display().to_string()
}

fn hardware_file(dir: &std::path::Path, bandwidth_gb_s: f64) -> String {
    let path = dir.join(format!("hw-{bandwidth_gb_s}.toml"));
    std::fs::write(
        &path,
        format!(
            "[[hardware]]\nname = \"round\"\nlabel = \"Round numbers\"\n\
             peak_tflops = {{ fp32 = 1.0 }}\nbandwidth_gb_s = {bandwidth_gb_s}\n\
             memory_gb = 1.0\nsource = \"this test\"\n"
        ),
    )
    .expect("writes");
    path.display().to_string()
}

#[test]
fn a_node_takes_the_larger_of_its_compute_and_memory_times() {
    let dir = std::env::temp_dir().join(format!("flopscope-hw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let model = matmul_model(&dir);
    // FLOPs 2·64·128·256; bytes (64·128 + 128·256 + 64·256)·4.
    let flops = 2.0 * 64.0 * 128.0 * 256.0;
    let bytes = (64.0 * 128.0 + 128.0 * 256.0 + 64.0 * 256.0) * 4.0;
    for (bandwidth, bound, time) in [(1.0, "memory", bytes / 1e9), (1e6, "compute", flops / 1e12)] {
        let hw = hardware_file(&dir, bandwidth);
        let run = flopscope(&["profile", &model, "--hardware", &hw, "--format", "json"]);
        assert!(run.success(), "{}", run.stderr);
        let r: Value = serde_json::from_str(&run.stdout).expect("JSON");
        let e = &r["nodes"][0]["estimate"];
        assert_eq!(e["bound"], bound);
        let got = e["time_s"].as_f64().expect("a time");
        assert!((got - time).abs() <= time * 1e-12, "{got} vs {time}");
        assert_eq!(r["hardware"]["name"], "round");
        assert_eq!(r["hardware"]["peak_flops_per_s"]["fp32"], 1e12);
        assert!((r["hardware"]["time_s"].as_f64().expect("a time") - time).abs() <= time * 1e-12);
        let table = flopscope(&["profile", &model, "--hardware", &hw]);
        assert!(
            table.stdout.contains("Est. time on round"),
            "{}",
            table.stdout
        );
        assert!(table.stdout.contains("not measured"), "{}", table.stdout);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hardware_errors_name_what_to_do() {
    let model = tests::fixture("models/mobilenet_v2.onnx")
        .display()
        .to_string();
    let run = flopscope(&["profile", &model, "--hardware", "h100-sxm"]);
    assert!(!run.success());
    assert!(run.stderr.contains("--input or --dim"), "{}", run.stderr);
    let run = flopscope(&[
        "profile",
        &model,
        "--dim",
        "batch=1",
        "--hardware",
        "tpu-v9",
    ]);
    assert!(run.stderr.contains("h100-sxm"), "{}", run.stderr);
    let run = flopscope(&[
        "profile",
        &model,
        "--input",
        "input=1x3x224x224",
        "--hardware",
        "h100-sxm",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("Estimated time on NVIDIA H100"),
        "{}",
        run.stdout
    );
}
