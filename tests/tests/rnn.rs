//! Two-layer LSTM and GRU fixtures (batch 2, seq 16, input 64, hidden 128) against the hand
//! formula: gate MACs = gates·hidden·(input + hidden)·seq·batch·directions per layer.

use serde_json::Value;
use tests::{fixture, flopscope};

const SEQ: i64 = 16;
const BATCH: i64 = 2;
const INPUT: i64 = 64;
const HIDDEN: i64 = 128;

fn totals(model: &str) -> Value {
    let path = fixture(&format!("models/{model}")).display().to_string();
    let run = flopscope(&["profile", &path, "--format", "json"]);
    assert!(run.success(), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["uncounted"].as_array().unwrap().len(), 0);
    report["totals"].clone()
}

/// MACs and params of two stacked layers of a cell with `gates` gates: the first reads the
/// input, the second the first's hidden state; W [gates·h, in], R [gates·h, h], B [2·gates·h].
fn hand(gates: i64) -> (i64, i64) {
    let layer_macs = |input: i64| gates * HIDDEN * (input + HIDDEN) * SEQ * BATCH;
    let layer_params =
        |input: i64| gates * HIDDEN * input + gates * HIDDEN * HIDDEN + 2 * gates * HIDDEN;
    (
        layer_macs(INPUT) + layer_macs(HIDDEN),
        layer_params(INPUT) + layer_params(HIDDEN),
    )
}

#[test]
fn lstm_matches_the_hand_formula() {
    let t = totals("lstm_2layer.onnx");
    let (macs, params) = hand(4);
    assert_eq!(t["macs"], macs);
    assert_eq!(t["params"], params);
}

#[test]
fn gru_matches_the_hand_formula() {
    let t = totals("gru_2layer.onnx");
    let (macs, params) = hand(3);
    assert_eq!(t["macs"], macs);
    assert_eq!(t["params"], params);
}
