//! Quantizing does not change the math: the same matrix product in float, in QDQ form and
//! dynamically quantized has the same MACs, and the report says which run in integers.

use serde_json::{Value, json};
use tests::{fixture, flopscope};

fn totals(model: &str) -> Value {
    let path = fixture(&format!("models/{model}")).display().to_string();
    let run = flopscope(&["profile", &path, "--dim", "batch=8", "--format", "json"]);
    assert!(run.success(), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["uncounted"], json!([]));
    report["totals"].clone()
}

#[test]
fn quantized_products_count_the_same_macs_as_integers() {
    // X [8, 64] · W [64, 32].
    let macs = 8 * 64 * 32;
    let float = totals("matmul_float.onnx");
    assert_eq!(float["macs"], macs);
    assert_eq!(float["macs_by_dtype"], json!({ "float32": macs }));
    for model in ["matmul_qdq.onnx", "matmul_dynamic_quant.onnx"] {
        let t = totals(model);
        assert_eq!(t["macs"], macs, "{model}");
        assert_eq!(t["macs_by_dtype"], json!({ "uint8": macs }), "{model}");
        // The int8 weight is a param like the float one.
        assert_eq!(t["params"], 64 * 32, "{model}");
    }
    // QDQ: per-tensor scale and zero point for X, per-channel (32) for W.
    assert_eq!(totals("matmul_qdq.onnx")["quant_params"], 1 + 1 + 32 + 32);
}
