//! `flopscope diff`: what changed between two models or two JSON reports, and the CI gate.
//!
//! The expected deltas come from the models' shapes, not from flopscope's param counts:
//! `mobilenet_v2_bn` is `mobilenet_v2` before its BatchNormalizations were folded into the
//! convolutions, so each BN over C channels adds scale and bias (2·C params) and running mean
//! and variance (2·C buffers), and takes the folded bias (C params) off the Conv before it.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use tests::{Run, flopscope, model};

fn json(run: &Run) -> Value {
    assert!(run.success(), "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON output")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn total<'a>(diff: &'a Value, key: &str) -> &'a Value {
    diff["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no total {key}"))
}

const SHAPE: &str = "input=1x3x224x224";

#[test]
fn batch_norm_nodes_show_as_added_with_their_params_and_buffers() {
    let diff = json(&flopscope(&[
        "diff",
        &model("mobilenet_v2"),
        &model("mobilenet_v2_bn"),
        "--input",
        SHAPE,
        "--format",
        "json",
    ]));
    // The BatchNormalization nodes of the new model, and their channel counts from its shapes.
    let new = json(&flopscope(&[
        "profile",
        &model("mobilenet_v2_bn"),
        "--input",
        SHAPE,
        "--format",
        "json",
    ]));
    let bn: Vec<(&str, i64)> = new["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["op_type"] == "BatchNormalization")
        .map(|n| {
            (
                n["name"].as_str().unwrap(),
                int(&n["outputs"][0]["shape"][1]),
            )
        })
        .collect();
    assert_eq!(bn.len(), 52, "MobileNetV2 has 52 conv+BN blocks");
    let channels: i64 = bn.iter().map(|(_, c)| c).sum();

    let nodes = diff["nodes"].as_array().unwrap();
    let added: Vec<&str> = nodes
        .iter()
        .filter(|n| n["change"] == "added")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(added, bn.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    assert!(nodes.iter().all(|n| n["change"] != "removed"));
    // Every changed node is a Conv that lost its folded bias: C_out params, same MACs.
    for n in nodes.iter().filter(|n| n["change"] == "changed") {
        assert_eq!(n["new"]["op_type"], "Conv", "{n}");
        let c_out: i64 = n["new"]["outputs"][0]
            .as_str()
            .unwrap()
            .trim_matches(['[', ']'])
            .split(", ")
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(int(&n["old"]["params"]) - int(&n["new"]["params"]), c_out);
        assert_eq!(n["old"]["macs"], n["new"]["macs"]);
    }

    assert_eq!(
        int(&total(&diff, "params")["delta"]),
        2 * channels - channels
    );
    assert_eq!(int(&total(&diff, "params")["delta"]), 17_056);
    assert_eq!(int(&total(&diff, "buffers")["delta"]), 2 * channels);
    assert_eq!(int(&total(&diff, "buffers")["delta"]), 34_112);
    assert_eq!(int(&total(&diff, "macs")["delta"]), 0);
    assert_eq!(int(&total(&diff, "nodes")["delta"]), 52);
    let pct = total(&diff, "params")["delta_percent"].as_f64().unwrap();
    let old_params = int(&total(&diff, "params")["old"]);
    let expected = 17_056.0 * 100.0 / old_params as f64;
    assert!((pct - expected).abs() < 1e-9, "{pct} vs {expected}");

    // The module of each BN (`features.0.1`, ...) is new; none is removed.
    let modules = diff["modules"].as_array().unwrap();
    assert!(
        modules
            .iter()
            .any(|m| m["change"] == "added" && m["path"] == "features/features.0/features.0.1")
    );
    assert!(modules.iter().all(|m| m["change"] != "removed"));

    // The table says the same in words.
    let table = flopscope(&[
        "diff",
        &model("mobilenet_v2"),
        &model("mobilenet_v2_bn"),
        "--input",
        SHAPE,
        "--units",
        "raw",
    ]);
    assert!(table.success(), "{}", table.stderr);
    assert!(
        table
            .stdout
            .contains("Nodes: 52 added, 0 removed, 52 changed")
    );
    assert!(table.stdout.contains("+17,056"));
    assert!(table.stdout.contains("+34,112"));
}

#[test]
fn a_model_against_itself_is_empty() {
    for shape in [Some(SHAPE), None] {
        let mut args = vec!["diff", "--format", "json"];
        let m = model("mobilenet_v2");
        args.extend([m.as_str(), m.as_str()]);
        if let Some(s) = shape {
            args.extend(["--input", s]);
        }
        let diff = json(&flopscope(&args));
        assert_eq!(diff["nodes"], Value::Array(Vec::new()));
        assert_eq!(diff["modules"], Value::Array(Vec::new()));
        for t in diff["totals"].as_array().unwrap() {
            assert_eq!(t["delta"], 0, "{t}");
        }
        let run = flopscope(&["diff", &m, &m, "--fail-above", "0"]);
        assert_eq!(run.code, ExitCode::SUCCESS, "{}", run.stderr);
        assert!(run.stdout.contains("No differences"), "{}", run.stdout);
        assert!(!run.stdout.contains('┌'), "no tables: {}", run.stdout);
    }
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn write_report(name: &str, model_name: &str, input: &str) -> String {
    let run = flopscope(&[
        "profile",
        &model(model_name),
        "--input",
        input,
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let path = tmp(name);
    std::fs::write(&path, &run.stdout).unwrap();
    path.display().to_string()
}

#[test]
fn json_reports_diff_like_their_models() {
    let old = write_report("diff-old.json", "mobilenet_v2", SHAPE);
    let new = write_report("diff-new.json", "mobilenet_v2_bn", SHAPE);
    let from_json = json(&flopscope(&["diff", &old, &new, "--format", "json"]));
    let from_models = json(&flopscope(&[
        "diff",
        &model("mobilenet_v2"),
        &model("mobilenet_v2_bn"),
        "--input",
        SHAPE,
        "--format",
        "json",
    ]));
    for key in ["totals", "modules", "nodes"] {
        assert_eq!(from_json[key], from_models[key], "{key}");
    }
    // Shapes apply to models only.
    let run = flopscope(&["diff", &old, &new, "--input", SHAPE]);
    assert_eq!(run.code, ExitCode::from(1));
    assert!(run.stderr.contains("not to JSON reports"), "{}", run.stderr);
}

#[test]
fn batch_32_against_batch_1_is_32_times_the_macs_and_the_same_params() {
    let one = write_report("diff-b1.json", "mobilenet_v2", "input=1x3x224x224");
    let many = write_report("diff-b32.json", "mobilenet_v2", "input=32x3x224x224");
    let diff = json(&flopscope(&["diff", &one, &many, "--format", "json"]));
    let macs = total(&diff, "macs");
    assert_eq!(int(&macs["new"]), 32 * int(&macs["old"]));
    assert_eq!(macs["delta_percent"].as_f64(), Some(3100.0));
    assert_eq!(int(&total(&diff, "params")["delta"]), 0);
    // Every computing node changed its output shape; no node was added or removed.
    let nodes = diff["nodes"].as_array().unwrap();
    assert!(nodes.iter().all(|n| n["change"] == "changed"));
    assert!(nodes.iter().any(|n| n["new"]["outputs"][0] == "[32, 1000]"));
}

#[test]
fn fail_above_gates_growth() {
    let (old, new) = (model("mobilenet_v2"), model("mobilenet_v2_bn"));
    // Params grew by 0.49%.
    let run = flopscope(&["diff", &old, &new, "--fail-above", "0.4"]);
    assert_eq!(run.code, ExitCode::from(3), "{}", run.stderr);
    assert!(run.stdout.contains("Totals"), "the diff is printed first");
    assert!(
        run.stderr.contains("params grew by 0.49% (more than 0.4%)"),
        "{}",
        run.stderr
    );
    let run = flopscope(&["diff", &old, &new, "--fail-above", "0.5"]);
    assert_eq!(run.code, ExitCode::SUCCESS, "{}", run.stderr);
    // Shrinking never fails the gate.
    let run = flopscope(&["diff", &new, &old, "--fail-above", "0"]);
    assert_eq!(run.code, ExitCode::SUCCESS, "{}", run.stderr);
    // A symbolic delta cannot be gated: the error says what to give.
    let run = flopscope(&["diff", &old, &model("squeezenet1_0"), "--fail-above", "5"]);
    assert_eq!(run.code, ExitCode::from(1));
    assert!(run.stderr.contains("--input or --dim"), "{}", run.stderr);
    for bad in ["--fail-above=-1", "--fail-above=lots"] {
        let run = flopscope(&["diff", &old, &new, bad]);
        assert_eq!(run.code, ExitCode::from(2), "usage error: {}", run.stderr);
    }
}

#[test]
fn a_bad_report_names_the_file() {
    let path = tmp("not-a-report.json");
    std::fs::write(&path, "{\"schema_version\": 1}").unwrap();
    let p = path.display().to_string();
    let run = flopscope(&["diff", &p, &p]);
    assert_eq!(run.code, ExitCode::from(1));
    assert!(
        run.stderr.contains(&p) && run.stderr.contains("not a flopscope JSON report"),
        "{}",
        run.stderr
    );
}
