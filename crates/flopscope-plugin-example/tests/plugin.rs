//! With the plugin linked, `com.example::FusedMLP` in `fixtures/models/fused_mlp.onnx` is
//! counted by the ordinary CLI, at fixed sizes and symbolically, with the costs of the hand
//! formula written here. (Without the plugin the same model lists the node as uncounted: the
//! `tests` crate, which does not link it, checks that.)

use std::path::PathBuf;
use std::process::ExitCode;

use flopscope_ir::Dim;
use serde_json::Value;

// Link the plugin's records into this test binary.
use flopscope_plugin_example as _;

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/models/fused_mlp.onnx")
        .display()
        .to_string()
}

fn run(args: &[&str]) -> String {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("flopscope").chain(args.iter().copied());
    let code = flopscope::cli::run_with(argv, &mut out, &mut err);
    assert_eq!(code, ExitCode::SUCCESS, "{}", String::from_utf8_lossy(&err));
    String::from_utf8(out).unwrap()
}

fn dim(v: &Value) -> Dim {
    match v {
        Value::Number(n) => Dim::from_i64(n.as_i64().unwrap()),
        Value::String(s) => Dim::parse(s).unwrap(),
        other => panic!("not a dim: {other}"),
    }
}

/// The fixture's FusedMLP: X [batch, 16, 64], W1 [64, 256], W2 [256, 64].
const TOKENS: i64 = 16;
const K: i64 = 64;
const H: i64 = 256;
const N: i64 = 64;

fn check(report: &Value, batch: &Dim) {
    let m = batch * TOKENS;
    let node = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["op_type"] == "FusedMLP")
        .expect("the FusedMLP node");
    assert_eq!(node["counted"], true);
    assert_eq!(node["domain"], "com.example");
    assert_eq!(dim(&node["macs"]), &m * (K * H + H * N));
    assert_eq!(dim(&node["flops_by_kind"]["add"]), &m * (H + N));
    assert_eq!(dim(&node["flops_by_kind"]["special"]), &m * H);
    assert_eq!(dim(&node["flops_by_kind"]["mul"]), Dim::zero());
    assert_eq!(dim(&node["params"]), Dim::from_i64(K * H + H + H * N + N));
    assert_eq!(
        node["outputs"][0]["shape"],
        serde_json::json!([
            batch.as_i64().map_or(Value::from("batch"), Value::from),
            TOKENS,
            N
        ])
    );
    assert!(report["uncounted"].as_array().unwrap().is_empty());
    assert_eq!(report["totals"]["lower_bound"], false);
    // The Relu after it is inferred from FusedMLP's output and counted too.
    assert_eq!(report["totals"]["counted_nodes"], 2);
}

#[test]
fn fused_mlp_is_counted_with_the_plugin_linked() {
    for b in [1, 8] {
        let json = run(&[
            "profile",
            &fixture(),
            "--input",
            &format!("X={b}x{TOKENS}x{K}"),
            "--format",
            "json",
        ]);
        check(&serde_json::from_str(&json).unwrap(), &Dim::from_i64(b));
    }
    let json = run(&["profile", &fixture(), "--format", "json"]);
    check(&serde_json::from_str(&json).unwrap(), &Dim::sym("batch"));
}

#[test]
fn the_registry_and_ops_list_know_the_plugin_op() {
    let def = flopscope_counters::registry()
        .lookup("com.example", "FusedMLP", 1)
        .expect("registered");
    assert!(def.formula.contains("M·(K·H + H·N)"));
    let ops: Value = serde_json::from_str(&run(&["ops", "--format", "json"])).unwrap();
    assert!(
        ops.as_array()
            .unwrap()
            .iter()
            .any(|o| o["domain"] == "com.example" && o["op_type"] == "FusedMLP")
    );
}

#[test]
fn the_linked_op_appears_under_its_declared_class_in_compare() {
    // The record says `class: OpClass::Matmul`: compare totals FusedMLP under gemm/matmul.
    let json: Value = serde_json::from_str(&run(&[
        "compare",
        &fixture(),
        "--input",
        "X=1x16x64",
        "--format",
        "json",
    ]))
    .unwrap();
    let m = TOKENS;
    let macs = m * (K * H + H * N);
    let by_class = |convention: &str| {
        let all = json["conventions"].as_array().unwrap();
        let c = all.iter().find(|c| c["convention"] == convention).unwrap();
        c["by_class"].clone()
    };
    assert_eq!(
        by_class("flopscope")["gemm/matmul"],
        2 * macs + m * (H + N) + m * H
    );
    assert_eq!(by_class("torch")["gemm/matmul"], 2 * macs);
    assert_eq!(by_class("flopscope")["other"], 0);
}
