//! `--convention` against what the tools print (`../shared/zoo/ANCHORS.json`): MobileNetV2
//! with BatchNorm kept and SqueezeNet 1.0 reproduce thop, ptflops (both backends), fvcore and
//! torch's FlopCounterMode exactly at every anchored batch and size, and onnx-tool on the .onnx
//! files it was run on. On the BatchNorm-folded MobileNetV2 the PyTorch tools differ by exactly
//! the BatchNorm and bias terms the folding moved.

use std::collections::BTreeMap;
use std::path::Path;

use flopscope::counters::ProfileOptions;
use flopscope::ir::Dim;
use flopscope::report::{Convention, Report};
use serde_json::Value;
use tests::{fixture, flopscope, shared_dir};

/// ANCHORS.json key of each convention's number.
const ANCHOR_KEYS: [(Convention, &str); 6] = [
    (Convention::Thop, "thop_macs"),
    (Convention::Ptflops, "ptflops_macs"),
    (Convention::PtflopsAten, "ptflops_aten_macs"),
    (Convention::Fvcore, "fvcore_flops"),
    (Convention::Torch, "torch_flopcounter_flops"),
    (Convention::OnnxTool, "onnx_tool_macs"),
];

fn anchors(shared: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(shared.join("zoo/ANCHORS.json")).expect("ANCHORS.json");
    serde_json::from_str(&text).expect("ANCHORS.json is JSON")
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or_else(|| panic!("{v} is not a number"))
}

fn report(shared: &Path, file: &str, batch: i64, size: i64) -> Report {
    let mut options = ProfileOptions::default();
    options.inputs.insert(
        "input".into(),
        [batch, 3, size, size].map(Dim::from_i64).to_vec(),
    );
    flopscope::report_file(&shared.join("zoo").join(file), &options)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn count(report: &Report, c: Convention) -> i64 {
    let total = c.apply(report).1.total;
    total
        .as_i64()
        .unwrap_or_else(|| panic!("{c} is symbolic: {total}"))
}

/// Checks `conventions` on `file` against the cases of `anchored` (every case: batch and size);
/// returns the number of numbers compared.
fn check(
    shared: &Path,
    anchors: &BTreeMap<String, Value>,
    anchored: &str,
    file: &str,
    conventions: &[Convention],
    failures: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    for case in anchors[anchored]["cases"].as_array().expect("cases") {
        let (batch, size) = (int(&case["batch"]), int(&case["size"]));
        let report = report(shared, file, batch, size);
        assert!(!report.totals.lower_bound, "{file}: uncounted nodes");
        for (c, key) in ANCHOR_KEYS.iter().filter(|(c, _)| conventions.contains(c)) {
            let expected = int(&case[*key]);
            let got = count(&report, *c);
            // Exact: the ONNX graph holds the same layers as the PyTorch model.
            if got != expected {
                failures.push(format!(
                    "{file} {batch}x{size} {c}: {got}, {key} {expected} ({:+.4}%)",
                    (got - expected) as f64 * 100.0 / expected as f64
                ));
            }
            checked += 1;
        }
    }
    checked
}

const PYTORCH_TOOLS: [Convention; 5] = [
    Convention::Thop,
    Convention::Ptflops,
    Convention::PtflopsAten,
    Convention::Fvcore,
    Convention::Torch,
];

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn conventions_reproduce_the_anchors_exactly() {
    let shared = shared_dir();
    let anchors = anchors(&shared);
    let mut failures = Vec::new();
    let mut checked = 0;
    // The same torchvision MobileNetV2 as PyTorch ran it, BatchNorm kept.
    checked += check(
        &shared,
        &anchors,
        "mobilenet_v2",
        "mobilenet_v2_bn.onnx",
        &PYTORCH_TOOLS,
        &mut failures,
    );
    // onnx-tool ran on the BatchNorm-folded file.
    checked += check(
        &shared,
        &anchors,
        "mobilenet_v2",
        "mobilenet_v2.onnx",
        &[Convention::OnnxTool],
        &mut failures,
    );
    let mut all = PYTORCH_TOOLS.to_vec();
    all.push(Convention::OnnxTool);
    checked += check(
        &shared,
        &anchors,
        "squeezenet1_0",
        "squeezenet1_0.onnx",
        &all,
        &mut failures,
    );
    assert_eq!(checked, 4 * 5 + 4 + 2 * 6, "anchored numbers compared");
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Folding BatchNorm into the convs removes the BN layers the PyTorch tools count and gives the
/// convs biases: on the folded file each tool is off by exactly those terms, and onnx-tool on
/// the BN file by its 31 per BN element (less the folded biases' 1).
#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn folded_batchnorm_explains_the_differences_exactly() {
    let shared = shared_dir();
    let anchors = anchors(&shared);
    for case in anchors["mobilenet_v2"]["cases"].as_array().expect("cases") {
        let (batch, size) = (int(&case["batch"]), int(&case["size"]));
        let folded = report(&shared, "mobilenet_v2.onnx", batch, size);
        let kept = report(&shared, "mobilenet_v2_bn.onnx", batch, size);
        // Elements through BatchNorm: each follows a bias-free conv of the same output.
        let bn: i64 = kept
            .nodes
            .iter()
            .filter(|n| n.op_type == "BatchNormalization")
            .map(|n| {
                let shape = n.outputs[0].shape.as_ref().unwrap();
                shape.iter().map(|d| d.as_i64().unwrap()).product::<i64>()
            })
            .sum();
        let anchor = |key: &str| int(&case[key]);
        let label = format!("{batch}x{size}");
        // thop: BN 4/elem gone; the folded biases are not counted.
        assert_eq!(
            count(&folded, Convention::Thop),
            anchor("thop_macs") - 4 * bn,
            "{label}"
        );
        // ptflops: BN 2/elem gone, conv biases 1/elem added.
        assert_eq!(
            count(&folded, Convention::Ptflops),
            anchor("ptflops_macs") - bn,
            "{label}"
        );
        // ptflops-aten: conv biases added.
        assert_eq!(
            count(&folded, Convention::PtflopsAten),
            anchor("ptflops_aten_macs") + bn,
            "{label}"
        );
        // fvcore: BN 2/elem gone.
        assert_eq!(
            count(&folded, Convention::Fvcore),
            anchor("fvcore_flops") - 2 * bn,
            "{label}"
        );
        // torch: neither BN nor bias counted, so no difference.
        assert_eq!(
            count(&folded, Convention::Torch),
            anchor("torch_flopcounter_flops"),
            "{label}"
        );
        // onnx-tool on the BN file: 31 per BN element instead of the folded biases' 1.
        assert_eq!(
            count(&kept, Convention::OnnxTool),
            anchor("onnx_tool_macs") + 30 * bn,
            "{label}"
        );
    }
}

#[test]
fn profile_convention_and_compare_through_the_cli() {
    let model = tests::fixture("models/mobilenet_v2.onnx");
    let model = model.to_str().unwrap();
    let run = flopscope(&[
        "profile",
        model,
        "--input",
        "input=1x3x224x224",
        "--convention",
        "torch",
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    // torch's FlopCounterMode: 2 FLOPs per MAC of conv and matmul, here all of the MACs.
    assert_eq!(json["convention"]["total"], 2 * 300_774_272_i64);
    assert_eq!(json["convention"]["unit"], "FLOPs");
    assert!(json["nodes"][0]["convention"].is_i64());

    let run = flopscope(&[
        "profile",
        model,
        "--input",
        "input=1x3x224x224",
        "--convention",
        "thop",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("thop MACs (thop.profile's total"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("┆ thop MACs │"),
        "a per-node column: {}",
        run.stdout
    );

    let run = flopscope(&["compare", model, "--input", "input=1x3x224x224"]);
    assert!(run.success(), "{}", run.stderr);
    for name in Convention::NAMES {
        assert!(run.stdout.contains(name), "{name} missing:\n{}", run.stdout);
    }
    assert!(
        run.stdout.contains("folded"),
        "the BatchNorm note:\n{}",
        run.stdout
    );

    let run = flopscope(&["compare", model, "--format", "json"]);
    assert!(run.success(), "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["conventions"].as_array().unwrap().len(), 7);
    // Unbound dims: every count is a formula.
    assert!(json["conventions"][1]["total"].is_string());

    let run = flopscope(&["profile", model, "--convention", "flops"]);
    assert_eq!(run.code, std::process::ExitCode::from(2));
    assert!(run.stderr.contains("unknown convention"), "{}", run.stderr);
}

/// The dynamo-exported GPT-2 and BERT: fvcore and torch's FlopCounterMode exactly, except that
/// PyTorch's BertModel also runs its pooler (a 128×128 Linear on each sequence's first token),
/// which the exported graph (only `last_hidden_state`) does not hold: FlopCounterMode counts
/// it, 2·128·128 FLOPs per sequence; fvcore's anchor does not include it.
#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn transformers_match_fvcore_and_torch() {
    let shared = shared_dir();
    let anchors = anchors(&shared);
    let mut checked = 0;
    for (name, pooler) in [("tiny_gpt2", 0), ("tiny_bert", 2 * 128 * 128)] {
        for case in anchors[name]["cases"].as_array().expect("cases") {
            let (batch, seq) = (int(&case["batch"]), int(&case["seq"]));
            let mut options = ProfileOptions::default();
            options.inputs.insert(
                "input_ids".into(),
                vec![Dim::from_i64(batch), Dim::from_i64(seq)],
            );
            let file = shared.join("zoo").join(format!("{name}.onnx"));
            let report = flopscope::report_file(&file, &options).unwrap();
            let label = format!("{name} {batch}x{seq}");
            assert_eq!(
                count(&report, Convention::Fvcore),
                int(&case["fvcore_flops"]),
                "{label}"
            );
            assert_eq!(
                count(&report, Convention::Torch) + batch * pooler,
                int(&case["torch_flopcounter_flops"]),
                "{label}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn every_view_shows_the_convention_or_says_it_does_not() {
    // --convention was once silently ignored by the tree, ops and memory views.
    let model = fixture("models/mobilenet_v2.onnx").display().to_string();
    let base = [
        "profile",
        &model,
        "--input",
        "input=1x3x224x224",
        "--convention",
        "thop",
    ];
    let csv = |view: &str| {
        let mut args = base.to_vec();
        args.extend(["--view", view, "--format", "csv", "--depth", "1"]);
        let run = flopscope(&args);
        assert!(run.success(), "{}", run.stderr);
        run.stdout
    };
    let json = flopscope(&[&base[..], &["--format", "json"]].concat());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let total = report["convention"]["total"].as_i64().unwrap();
    assert!(total > 0);

    // The tree: a `thop MACs` column; the model's row is the convention's total.
    let tree = csv("tree");
    let header: Vec<&str> = tree.lines().next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"thop MACs"));
    let model_row: Vec<&str> = tree.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(model_row.last().unwrap().parse::<i64>().unwrap(), total);

    // The ops view: the column over every op type adds up to it.
    let ops = csv("ops");
    let header: Vec<&str> = ops.lines().next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"thop MACs"));
    let sum: i64 = ops
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(sum, total);

    // The memory view cannot show an arithmetic count, and says so.
    let mut args = base.to_vec();
    args.extend(["--view", "memory"]);
    let memory = flopscope(&args);
    assert!(memory.success());
    assert!(
        memory
            .stdout
            .contains("The thop count (--convention) is arithmetic, not memory")
    );
}
