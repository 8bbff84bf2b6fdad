//! Every model of `../shared/zoo` (the public CNNs, and the transformers with their fused and
//! 4-bit forms), at every size in `ANCHORS.json`: MACs equal to ONNX Runtime's dense MACs (in
//! total and per op type), every value's shape equal to the runtime shape in `oracle/*.json`,
//! and params as PyTorch counts them.

use std::collections::BTreeMap;
use std::path::Path;

use flopscope::counters::{Profile, ProfileOptions};
use flopscope::ir::{Dim, Model, ValueType};
use serde_json::Value;
use tests::shared_dir;

fn anchors(shared: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(shared.join("zoo/ANCHORS.json")).expect("ANCHORS.json");
    serde_json::from_str(&text).expect("ANCHORS.json is JSON")
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or_else(|| panic!("{v} is not a number"))
}

fn concrete(d: &Dim, what: &str) -> i64 {
    d.as_i64()
        .unwrap_or_else(|| panic!("{what} is symbolic ({d}) although every input dim is bound"))
}

/// Profiles `file` with the case's input shapes.
fn profile_case(file: &Path, inputs: &Value) -> (Model, Profile) {
    let mut options = ProfileOptions::default();
    for (name, shape) in inputs.as_object().expect("inputs") {
        let dims = shape
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| Dim::from_i64(int(d)))
            .collect();
        options.inputs.insert(name.clone(), dims);
    }
    flopscope::profile_file(file, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// Every mismatch between our value shapes and the runtime's, as messages.
fn shape_mismatches(model: &Model, profile: &Profile, oracle: &Value) -> Vec<String> {
    let graph = &model.graph;
    let mut ours: BTreeMap<&str, Option<&ValueType>> = BTreeMap::new();
    for (i, v) in graph.values.iter().enumerate() {
        ours.insert(v.name.as_str(), profile.value_types[i].as_ref());
    }
    let mut out = Vec::new();
    for (name, runtime) in oracle["values"].as_object().expect("values") {
        let runtime: Vec<i64> = runtime.as_array().expect("shape").iter().map(int).collect();
        match ours.get(name.as_str()) {
            None => out.push(format!("{name}: not in the graph")),
            Some(None) => out.push(format!("{name}: no inferred type (runtime {runtime:?})")),
            Some(Some(ValueType::Tensor(t))) => {
                let shape: Vec<Option<i64>> = t.shape.iter().map(Dim::as_i64).collect();
                if shape != runtime.iter().map(|&d| Some(d)).collect::<Vec<_>>() {
                    out.push(format!("{name}: inferred {t}, runtime {runtime:?}"));
                }
            }
            Some(Some(other)) => out.push(format!("{name}: inferred {other}, runtime a tensor")),
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn every_zoo_model_matches_onnx_runtime_at_every_anchored_size() {
    let shared = shared_dir();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, entry) in anchors(&shared) {
        let file = shared
            .join("zoo")
            .join(entry["file"].as_str().expect("file"));
        let mut params_seen = BTreeMap::new();
        for case in entry["onnxruntime"].as_array().expect("onnxruntime cases") {
            let label = format!("{name} {}", case["inputs"]);
            let (model, profile) = profile_case(&file, &case["inputs"]);
            let totals = &profile.totals;
            if totals.lower_bound {
                failures.push(format!("{label}: uncounted nodes {:?}", profile.uncounted));
            }
            let macs = concrete(&totals.macs, "macs");
            let expected = int(&case["dense_macs"]);
            if macs != expected {
                failures.push(format!("{label}: macs {macs}, ONNX Runtime {expected}"));
            }
            let mut by_op: BTreeMap<String, i64> = BTreeMap::new();
            for node in profile.nodes.iter().filter(|n| n.cost.macs != Dim::zero()) {
                *by_op.entry(node.op_type.clone()).or_default() +=
                    concrete(&node.cost.macs, "node macs");
            }
            let expected_by_op: BTreeMap<String, i64> = case["dense_macs_by_op"]
                .as_object()
                .expect("dense_macs_by_op")
                .iter()
                .map(|(k, v)| (k.clone(), int(v)))
                .collect();
            if by_op != expected_by_op {
                failures.push(format!(
                    "{label}: macs by op {by_op:?}, ONNX Runtime {expected_by_op:?}"
                ));
            }
            let oracle_path = shared
                .join("zoo")
                .join(case["value_shapes_file"].as_str().expect("oracle"));
            let oracle: Value =
                serde_json::from_str(&std::fs::read_to_string(&oracle_path).expect("oracle file"))
                    .expect("oracle JSON");
            let bad = shape_mismatches(&model, &profile, &oracle);
            if !bad.is_empty() {
                failures.push(format!(
                    "{label}: {} shapes differ: {:?}",
                    bad.len(),
                    &bad[..bad.len().min(5)]
                ));
            }
            params_seen.insert(
                case["inputs"].to_string(),
                (
                    concrete(&totals.params, "params"),
                    concrete(&totals.buffers, "buffers"),
                ),
            );
            checked += 1;
        }
        let distinct: Vec<_> = params_seen
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if distinct.len() != 1 {
            failures.push(format!(
                "{name}: params change with the input size: {params_seen:?}"
            ));
        }
    }
    assert!(checked >= 25, "only {checked} anchored cases were found");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Params and buffers as PyTorch counts them (its `torch_params` / `torch_buffers` anchors),
/// and as ONNX Runtime sees the file's float initializers.
#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn params_and_buffers_match_pytorch() {
    let shared = shared_dir();
    let anchors = anchors(&shared);
    let counts = |name: &str| {
        let entry = &anchors[name];
        let case = &entry["onnxruntime"][0];
        let (_, profile) = profile_case(
            &shared.join("zoo").join(entry["file"].as_str().unwrap()),
            &case["inputs"],
        );
        let t = &profile.totals;
        (
            concrete(&t.params, "params"),
            concrete(&t.buffers, "buffers"),
            int(&case["float_initializer_elements"]),
            entry["cases"].get(0).map(|c| {
                let buffers = c.get("torch_buffers").map_or(0, int);
                (int(&c["torch_params"]), buffers)
            }),
        )
    };

    // BatchNorm kept: PyTorch's params and buffers exactly (ANCHORS.json gives PyTorch's
    // counts for the network under `mobilenet_v2`, the same torchvision model); together they
    // are every float initializer of the file.
    let (params, buffers, floats, _) = counts("mobilenet_v2_bn");
    let (_, _, _, torch) = counts("mobilenet_v2");
    assert_eq!(Some((params, buffers)), torch);
    assert_eq!(params + buffers, floats);

    // BatchNorm folded: the file holds fewer params (conv weights and the biases the folding
    // produced), every float initializer of them, and no buffers.
    let (params, buffers, floats, _) = counts("mobilenet_v2");
    assert_eq!((params, buffers), (floats, 0));

    let (params, buffers, floats, torch) = counts("squeezenet1_0");
    assert_eq!(Some((params, buffers)), torch);
    assert_eq!(params, floats);

    // Fusing and 4-bit quantization keep the parameter count: a 4-bit weight is one param
    // (in the weight memory it takes half a byte).
    let (dense, _, _, _) = counts("tiny_bert");
    assert_eq!(counts("tiny_bert_fused").0, dense);
    assert_eq!(counts("tiny_bert_int4").0, dense);

    // GPT-2 ties its embedding and output projection: one tensor, counted once. The file's
    // eight scalar float constants are constants, not params.
    let (params, _, floats, torch) = counts("tiny_gpt2");
    assert_eq!(Some(params), torch.map(|t| t.0));
    assert_eq!(floats - params, 8);
}

/// With no bindings the MACs are a formula in the model's own dims, which evaluates to ONNX
/// Runtime's figure at every anchored size.
#[test]
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared, the shared model zoo beside the repository (only in CI)"
)]
fn mobilenet_macs_formula_evaluates_to_every_anchor() {
    let shared = shared_dir();
    let anchors = anchors(&shared);
    let entry = &anchors["mobilenet_v2"];
    let file = shared.join("zoo").join(entry["file"].as_str().unwrap());
    let (_, profile) = flopscope::profile_file(&file, &ProfileOptions::default()).unwrap();
    let formula = &profile.totals.macs;
    assert!(
        !formula.is_const(),
        "unbound dims must leave a formula, got {formula}"
    );
    for case in entry["onnxruntime"].as_array().unwrap() {
        let shape: Vec<i64> = case["inputs"]["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(int)
            .collect();
        let value = formula
            .eval(&|s| match s {
                "batch" => Some(shape[0]),
                "height" => Some(shape[2]),
                "width" => Some(shape[3]),
                _ => None,
            })
            .unwrap();
        assert_eq!(value, int(&case["dense_macs"]), "{formula} at {shape:?}");
    }
}
