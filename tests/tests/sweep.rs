//! The batch × resolution study: `flopscope sweep` evaluates one symbolic profile over a grid;
//! its numbers equal ONNX Runtime's, and every formula equals the concrete profile at any
//! binding (odd sizes included).

use std::collections::BTreeMap;
use std::path::Path;

use flopscope::counters::ProfileOptions;
use flopscope::ir::Dim;
use serde_json::Value;
use tests::{fixture, flopscope, shared_dir};

fn sweep_json(args: &[&str]) -> Value {
    let mut all = vec!["sweep"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let run = flopscope(&all);
    assert!(run.success(), "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON")
}

fn column(report: &Value, key: &str) -> Vec<i64> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_i64().unwrap())
        .collect()
}

#[test]
fn the_seed_study_on_the_shipped_model() {
    let model = fixture("models/mobilenet_v2.onnx").display().to_string();
    let r = sweep_json(&[&model, "--dim", "batch=1,32", "--size", "224,320"]);
    let values: Vec<Vec<String>> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        values,
        [["1", "224"], ["1", "320"], ["32", "224"], ["32", "320"]]
    );
    let params = column(&r, "params");
    assert!(
        params.iter().all(|p| *p == params[0]),
        "params never move: {params:?}"
    );
    let macs = column(&r, "macs");
    // Linear in the batch: exactly 32×.
    assert_eq!(macs[2], 32 * macs[0]);
    assert_eq!(macs[3], 32 * macs[1]);
    let laws = r["laws"].as_array().unwrap();
    assert_eq!(laws[0]["terms"][0]["power_product"], "batch·height·width");
}

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn the_seed_study_equals_onnx_runtime() {
    let shared = shared_dir();
    let model = shared.join("zoo/mobilenet_v2.onnx").display().to_string();
    let r = sweep_json(&[&model, "--dim", "batch=1,32", "--size", "224,320"]);
    let anchors: Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("zoo/ANCHORS.json")).unwrap())
            .unwrap();
    let mut expected: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for case in anchors["mobilenet_v2"]["onnxruntime"].as_array().unwrap() {
        let shape = &case["inputs"]["input"];
        expected.insert(
            (shape[0].as_i64().unwrap(), shape[2].as_i64().unwrap()),
            case["dense_macs"].as_i64().unwrap(),
        );
    }
    for row in r["rows"].as_array().unwrap() {
        let batch: i64 = row["values"][0].as_str().unwrap().parse().unwrap();
        let size: i64 = row["values"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(
            row["macs"].as_i64(),
            expected.get(&(batch, size)).copied(),
            "{batch}×{size}"
        );
    }
}

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn attention_shows_its_quadratic_term() {
    let shared = shared_dir();
    let model = shared.join("zoo/tiny_gpt2.onnx").display().to_string();
    let r = sweep_json(&[&model, "--dim", "batch=1,4", "--dim", "seq=128,256"]);
    let macs_law: Vec<&str> = r["laws"][0]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["power_product"].as_str().unwrap())
        .collect();
    assert_eq!(
        macs_law,
        ["batch·seq²", "batch·seq"],
        "QKᵀ and AV grow with seq², the rest with seq"
    );
    let table = flopscope(&["sweep", &model, "--dim", "batch=1", "--dim", "seq=64,128"]);
    assert!(table.stdout.contains("batch·seq²"), "{}", table.stdout);
}

#[test]
fn a_model_with_fixed_dims_sweeps_over_input_shapes() {
    // ONNX's light SqueezeNet fixes its input to 1x3x224x224 but is fully convolutional.
    let model = fixture("models/light_squeezenet.onnx")
        .display()
        .to_string();
    let r = sweep_json(&[&model, "--input", "data_0=1x3x224x224;2x3x224x224"]);
    let macs = column(&r, "macs");
    assert_eq!(macs[1], 2 * macs[0]);
}

#[test]
fn the_plot_is_well_formed_svg_with_a_line_per_batch() {
    let model = fixture("models/mobilenet_v2.onnx").display().to_string();
    let dir = std::env::temp_dir().join(format!("flopscope-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("study.svg");
    let run = flopscope(&[
        "sweep",
        &model,
        "--dim",
        "batch=1,32",
        "--size",
        "224,320",
        "--plot",
        &plot.display().to_string(),
    ]);
    assert!(run.success(), "{}", run.stderr);
    let text = std::fs::read_to_string(&plot).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let lines = root
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert_eq!(lines, 4, "two panels, a line per batch");
    let texts: Vec<&str> = root.descendants().filter_map(|n| n.text()).collect();
    for label in [
        "batch = 1",
        "batch = 32",
        "size (height = width)",
        "MACs",
        "bytes",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "{label} missing");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// xorshift64: the same bindings on every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn formula_equals_concrete(path: &Path, ranges: &[(&str, i64, i64)], points: usize) {
    let symbolic = flopscope::profile_file(path, &ProfileOptions::default())
        .unwrap()
        .1;
    let t = &symbolic.totals;
    assert!(
        !t.macs.is_const(),
        "{}: MACs should be a formula",
        path.display()
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..points {
        let mut options = ProfileOptions::default();
        let mut binding = BTreeMap::new();
        for &(symbol, lo, hi) in ranges {
            let v = lo + (next(&mut seed) % (hi - lo + 1) as u64) as i64;
            binding.insert(symbol.to_owned(), v);
            options.dims.insert(symbol.to_owned(), Dim::from_i64(v));
        }
        let lookup = |s: &str| binding.get(s).copied();
        let concrete = flopscope::profile_file(path, &options).unwrap().1;
        let c = &concrete.totals;
        let label = format!("{} at {binding:?}", path.display());
        for (name, formula, value) in [
            ("macs", &t.macs, &c.macs),
            ("flops", &t.total_flops(), &c.total_flops()),
            ("params", &t.params, &c.params),
            ("activation_bytes", &t.activation_bytes, &c.activation_bytes),
            ("bytes", &t.bytes, &c.bytes),
        ] {
            assert_eq!(
                formula.eval(&lookup).ok(),
                value.as_i64(),
                "{name}: {formula} {label}"
            );
        }
        assert_eq!(
            symbolic.peak_at(&lookup).map(|p| p.0),
            c.peak_activation_bytes.as_i64(),
            "peak {label}"
        );
    }
}

#[test]
fn formulas_equal_the_concrete_profile_at_random_bindings() {
    // A fixture, so that this runs on every clone: odd sizes such as 193 make the floors matter.
    formula_equals_concrete(
        &fixture("models/mobilenet_v2.onnx"),
        &[("batch", 1, 9), ("height", 33, 401), ("width", 33, 401)],
        12,
    );
}

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn zoo_formulas_equal_the_concrete_profile_at_random_bindings() {
    let zoo = shared_dir().join("zoo");
    for (model, ranges) in [
        (
            "mobilenet_v2_bn.onnx",
            vec![("batch", 1, 9), ("height", 33, 401), ("width", 33, 401)],
        ),
        (
            "squeezenet1_0.onnx",
            vec![("batch", 1, 9), ("height", 65, 401), ("width", 65, 401)],
        ),
        // Its position table has 256 rows: a longer sequence cannot run (an error naming the
        // Gather).
        ("tiny_gpt2.onnx", vec![("batch", 1, 9), ("seq", 1, 256)]),
        ("tiny_bert.onnx", vec![("batch", 1, 9), ("seq", 1, 300)]),
        (
            "tiny_bert_fused.onnx",
            vec![("batch", 1, 9), ("seq", 1, 300)],
        ),
        (
            "tiny_bert_int4.onnx",
            vec![("batch", 1, 9), ("seq", 1, 300)],
        ),
    ] {
        formula_equals_concrete(&zoo.join(model), &ranges, 8);
    }
}

#[test]
fn library_errors_name_dims_and_the_cli_adds_its_flags() {
    let path = fixture("models/tiny_gpt2.onnx");
    let model = flopscope::onnx::load(&path).unwrap();
    let request = flopscope::sweep::SweepRequest {
        dims: vec![("batch".into(), vec![1, 2])],
        sizes: None,
        inputs: Vec::new(),
        declared_ops: Vec::new(),
        hardware: None,
    };
    let err = flopscope::sweep::sweep(&path, &model, &request)
        .unwrap_err()
        .to_string();
    assert!(err.contains("depend on `seq`"), "{err}");
    assert!(!err.contains("--"), "a library error names no flag: {err}");
    let run = flopscope(&["sweep", &path.display().to_string(), "--dim", "batch=1,2"]);
    assert!(run.stderr.contains("add --dim seq=V1,V2"), "{}", run.stderr);
}

#[test]
fn a_sweep_with_hardware_has_a_time_per_point_as_profile_gives_it() {
    // The time at each point is the one `profile --hardware` estimates at that size.
    let model = fixture("models/mobilenet_v2.onnx").display().to_string();
    let run = flopscope(&[
        "sweep",
        &model,
        "--dim",
        "batch=1,8",
        "--size",
        "224,320",
        "--hardware",
        "l4",
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let sweep: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(sweep["hardware"]["name"], "l4");
    for row in sweep["rows"].as_array().expect("rows") {
        let (batch, size) = (
            row["values"][0].as_str().unwrap(),
            row["values"][1].as_str().unwrap(),
        );
        let input = format!("input={batch}x3x{size}x{size}");
        let p = flopscope(&[
            "profile",
            &model,
            "--input",
            &input,
            "--hardware",
            "l4",
            "--format",
            "json",
        ]);
        assert!(p.success(), "{}", p.stderr);
        let r: serde_json::Value = serde_json::from_str(&p.stdout).expect("JSON");
        let (a, b) = (
            row["time_s"].as_f64().unwrap(),
            r["hardware"]["time_s"].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= b * 1e-12, "{batch}x{size}: {a} vs {b}");
    }
    let table = flopscope(&[
        "sweep",
        &model,
        "--dim",
        "batch=1,8",
        "--size",
        "224",
        "--hardware",
        "l4",
    ]);
    assert!(table.stdout.contains("Est. time on l4"), "{}", table.stdout);
}
