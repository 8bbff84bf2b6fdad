//! `docs/report-schema.json` describes what `--format json` really writes: every shipped model's
//! report validates against it (symbolic and at fixed sizes, with each `--convention`, with
//! uncounted ops and run-time sizes), and the schema rejects reports that break it.

use serde_json::Value;
use tests::{fixture, flopscope, shared_dir, workspace_root};

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path = workspace_root().join("docs/report-schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/report-schema.json");
    let json: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("report-schema.json", json)
        .expect("schema resource");
    // Compiling validates the schema against the 2020-12 meta-schema.
    let index = compiler
        .compile("report-schema.json", &mut schemas)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
    (schemas, index)
}

fn report(args: &[&str]) -> Value {
    let mut all = vec!["profile"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let run = flopscope(&all);
    assert!(run.success(), "{args:?}: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON")
}

fn assert_valid(schemas: &boon::Schemas, index: boon::SchemaIndex, what: &str, r: &Value) {
    if let Err(e) = schemas.validate(r, index) {
        panic!("{what}: the report breaks docs/report-schema.json:\n{e:#}");
    }
}

/// Every `.onnx` under `fixtures/<dir>`, sorted.
fn models(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixture(dir))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "onnx").then(|| p.display().to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_model_report_matches_the_schema() {
    let (schemas, index) = schema();
    for m in models("models") {
        let r = report(&[&m]);
        assert_valid(&schemas, index, &m, &r);
    }
    let mv2 = fixture("models/mobilenet_v2.onnx").display().to_string();
    let r = report(&[&mv2, "--input", "input=1x3x224x224"]);
    assert_valid(&schemas, index, "mobilenet_v2 at 224", &r);
    for convention in [
        "flopscope",
        "thop",
        "ptflops",
        "ptflops-aten",
        "fvcore",
        "torch",
        "onnx-tool",
    ] {
        let r = report(&[&mv2, "--convention", convention]);
        assert_valid(&schemas, index, convention, &r);
        assert!(r["convention"].is_object());
    }
    let gpt2 = fixture("models/tiny_gpt2.onnx").display().to_string();
    let r = report(&[&gpt2, "--input", "input_ids=1x128"]);
    assert_valid(&schemas, index, "tiny_gpt2", &r);
    // Uncounted ops make a lower bound and an `uncounted` list.
    let unknown = fixture("bad/unknown_op.onnx").display().to_string();
    let r = report(&[&unknown]);
    assert_eq!(r["totals"]["lower_bound"], true);
    assert_valid(&schemas, index, "unknown_op", &r);
}

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn run_time_sizes_match_the_schema() {
    let shared = shared_dir();
    let (schemas, index) = schema();
    let model = shared.join("onnx-node/test_nonzero_example/model.onnx");
    let r = report(&[&model.display().to_string()]);
    assert!(
        !r["data_dependent_dims"].as_array().unwrap().is_empty(),
        "NonZero's count is a run-time size"
    );
    assert_valid(&schemas, index, "test_nonzero_example", &r);
}

#[test]
fn the_schema_rejects_broken_reports() {
    let (schemas, index) = schema();
    let good = report(&[&fixture("models/matmul_float.onnx").display().to_string()]);
    assert_valid(&schemas, index, "matmul_float", &good);
    type Breakage = (&'static str, fn(&mut Value));
    let broken: [Breakage; 6] = [
        ("an unknown field", |r| {
            r["surprise"] = Value::Bool(true);
        }),
        ("a negative count", |r| {
            r["totals"]["macs"] = Value::from(-5);
        }),
        ("a count that is neither integer nor expression", |r| {
            r["nodes"][0]["flops"] = Value::from(1.5);
        }),
        ("a missing total", |r| {
            r["totals"].as_object_mut().unwrap().remove("params");
        }),
        ("another schema version", |r| {
            r["schema_version"] = Value::from(2);
        }),
        ("an unknown uncounted reason", |r| {
            r["uncounted"] = serde_json::json!([
                {"domain": "x", "op_type": "Y", "reason": "tired", "nodes": ["n"]}
            ]);
        }),
    ];
    for (what, breakit) in broken {
        let mut r = good.clone();
        breakit(&mut r);
        assert!(
            schemas.validate(&r, index).is_err(),
            "the schema accepts {what}"
        );
    }
}

#[test]
fn a_report_with_hardware_estimates_matches_the_schema() {
    let (schemas, index) = schema();
    let r = report(&[
        &fixture("models/mobilenet_v2.onnx").display().to_string(),
        "--input",
        "input=2x3x160x192",
        "--hardware",
        "a100-80gb",
    ]);
    assert!(r["nodes"][0]["estimate"]["time_s"].is_number());
    assert_valid(&schemas, index, "profile --hardware", &r);
}

#[test]
fn a_generate_report_matches_the_schema() {
    let (schemas, index) = schema();
    let path = fixture("models/tiny_llama_kv.onnx").display().to_string();
    for extra in [
        &[][..],
        &["--recompute"][..],
        &["--hardware", "h100-sxm"][..],
    ] {
        let mut args = vec![
            "generate",
            &path,
            "--prompt",
            "32",
            "--new-tokens",
            "9",
            "--batch",
            "2",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = flopscope(&args);
        assert!(run.success(), "{}", run.stderr);
        let r: Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert!(r["generation"].is_object());
        assert_valid(&schemas, index, &format!("generate {extra:?}"), &r);
    }
}

#[test]
#[cfg_attr(
    not(has_ort),
    ignore = "needs ONNX Runtime: pip install onnxruntime, or set ORT_DYLIB_PATH"
)]
fn a_bench_report_matches_the_schema() {
    let (schemas, index) = schema();
    let path = fixture("models/mobilenet_v2.onnx").display().to_string();
    let run = flopscope(&[
        "bench",
        &path,
        "--input",
        "input=1x3x224x224",
        "--warmup",
        "1",
        "--runs",
        "2",
        "--profile-runs",
        "2",
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(r["bench"].is_object());
    assert_valid(&schemas, index, "bench", &r);
}
