//! Real exports flopscope once aborted on or miscounted (`fixtures/exports/`, weight-stripped):
//! they profile at two input sizes, one of them not square, with shapes that follow the
//! architecture's own arithmetic (written out here), sizes it cannot express become derived
//! dims instead of errors, and parameters count as PyTorch counts them. CI also compares every
//! value of each with ONNX Runtime (`cargo xtask verify-shapes --exports`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use flopscope::counters::{Profile, ProfileOptions, WeightClass};
use flopscope::ir::{Dim, Model, ValueType};
use tests::{fixture, flopscope};

fn export(name: &str) -> PathBuf {
    fixture(&format!("exports/{name}"))
}

fn profile(name: &str, inputs: &[(&str, &[i64])]) -> (Model, Profile) {
    let mut options = ProfileOptions::default();
    for (input, dims) in inputs {
        options.inputs.insert(
            (*input).to_owned(),
            dims.iter().map(|&d| Dim::from_i64(d)).collect(),
        );
    }
    flopscope::profile_file(&export(name), &options)
        .unwrap_or_else(|e| panic!("{name} at {inputs:?}: {e}"))
}

/// The shape of the first output of the node named `node`.
fn output_shape(model: &Model, profile: &Profile, node: &str) -> Vec<i64> {
    let np = profile
        .nodes
        .iter()
        .find(|n| n.name == node)
        .unwrap_or_else(|| panic!("no node {node}"));
    let id = model.graph.node(np.id).outputs[0].expect("an output");
    match &profile.value_types[id.index()] {
        Some(ValueType::Tensor(t)) => t
            .shape
            .iter()
            .map(|d| d.as_i64().unwrap_or_else(|| panic!("{node}: symbolic {d}")))
            .collect(),
        other => panic!("{node}: {other:?}"),
    }
}

fn derived(profile: &Profile) -> Vec<(String, String)> {
    profile
        .nodes
        .iter()
        .flat_map(|n| n.derived_dims.iter().cloned())
        .collect()
}

fn concrete(d: &Dim) -> i64 {
    d.as_i64()
        .unwrap_or_else(|| panic!("expected a number, got {d}"))
}

#[test]
fn swin_t_pads_its_windows_at_any_size() {
    // The patch embedding (4×4, stride 4) gives H/4 × W/4 tokens; each stage pads them up to
    // a multiple of the 7×7 window, and PatchMerging pads them to even sizes.
    let up = |x: i64, m: i64| (x + m - 1) / m * m;
    for (batch, h, w) in [(1, 224, 224), (2, 200, 300)] {
        let (model, p) = profile("swin_t_legacy.onnx", &[("input", &[batch, 3, h, w])]);
        assert!(derived(&p).is_empty(), "{:?}", derived(&p));
        assert!(!p.totals.lower_bound);
        let (h1, w1) = (h / 4, w / 4);
        assert_eq!(
            output_shape(&model, &p, "/features/features.1/features.1.0/attn/Pad"),
            [batch, up(h1, 7), up(w1, 7), 96]
        );
        assert_eq!(
            output_shape(&model, &p, "/features/features.2/Pad"),
            [batch, up(h1, 2), up(w1, 2), 96]
        );
        let (h2, w2) = (up(h1, 2) / 2, up(w1, 2) / 2);
        assert_eq!(
            output_shape(&model, &p, "/features/features.3/features.3.0/attn/Pad"),
            [batch, up(h2, 7), up(w2, 7), 192]
        );
        concrete(&p.totals.macs);
    }
}

#[test]
fn swin_t_with_symbolic_dims_derives_its_window_masks_instead_of_aborting() {
    let (_, p) = profile("swin_t_legacy.onnx", &[]);
    let derived = derived(&p);
    assert!(!derived.is_empty());
    for (symbol, reason) in &derived {
        assert!(
            reason.contains("is computed at run time"),
            "{symbol}: {reason}"
        );
    }
    assert!(!p.totals.macs.is_const(), "MACs are a formula");
    // --strict refuses a derived dim, naming the node; the profile without it goes on.
    let path = export("swin_t_legacy.onnx");
    let path = path.to_str().unwrap();
    let run = flopscope(&["profile", path, "--strict", "--format", "json"]);
    assert!(!run.success());
    assert!(
        run.stderr.contains("--strict") && run.stderr.contains("is derived"),
        "{}",
        run.stderr
    );
    let run = flopscope(&["profile", path, "--format", "json"]);
    assert!(run.success(), "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let listed = report["derived_dims"].as_array().unwrap();
    assert_eq!(listed.len(), derived.len());
    // The window masks: Expand to a shape chosen by Where(Equal(size, -1)), where a size such
    // as 7·ceil(floor(height/4)/7) − 7 is −7 for height < 4, so the choice is not decided.
    assert!(
        listed
            .iter()
            .all(|d| d["op_type"] == "Expand" && d["reason"].is_string()),
        "{listed:?}"
    );
    // A derived dim binds like any named dim.
    let first = listed[0]["symbol"].as_str().unwrap();
    let run = flopscope(&[
        "profile",
        path,
        "--dim",
        &format!("{first}=64"),
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let bound: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(bound["bindings"][first], 64);
    let run = flopscope(&["profile", path, "--dim", "no_such_dim=3"]);
    assert!(!run.success());
    assert!(run.stderr.contains("no_such_dim"), "{}", run.stderr);
}

#[test]
fn detectors_resize_by_a_scale_computed_in_float() {
    // GeneralizedRCNNTransform(min_size, max_size): scale = min(min_size / min(h, w),
    // max_size / max(h, w)) in float32, the image resized to floor(h·scale) × floor(w·scale),
    // then padded to multiples of 32.
    for (file, resize, min_size, max_size) in [
        (
            "fasterrcnn_mobilenet_v3_large_320_fpn_legacy.onnx",
            "/transform/Resize",
            320.0f32,
            640.0f32,
        ),
        (
            "maskrcnn_resnet50_fpn_legacy.onnx",
            "/m/transform/Resize",
            800.0,
            1333.0,
        ),
    ] {
        for (h, w) in [(320i64, 320i64), (300, 451)] {
            let (model, p) = profile(file, &[("image", &[3, h, w])]);
            let (rh, rw) = {
                let (hf, wf) = (h as f32, w as f32);
                let scale = (min_size / hf.min(wf)).min(max_size / hf.max(wf));
                ((hf * scale).floor() as i64, (wf * scale).floor() as i64)
            };
            assert_eq!(
                output_shape(&model, &p, resize),
                [1, 3, rh, rw],
                "{file} {h}×{w}"
            );
            assert!(derived(&p).is_empty(), "{:?}", derived(&p));
            // Only the detections' counts are known at run time.
            for n in &p.nodes {
                for s in &n.fresh_symbols {
                    assert!(
                        ["NonZero", "If", "NonMaxSuppression", "TopK", "Loop"]
                            .contains(&n.op_type.as_str()),
                        "{s} from {} ({})",
                        n.name,
                        n.op_type
                    );
                }
            }
        }
        // With the image size left symbolic the profile goes on: the resize and its padding
        // are derived dims.
        let (_, p) = profile(file, &[]);
        assert!(
            derived(&p).iter().any(|(s, _)| s.contains("Resize")),
            "{:?}",
            derived(&p)
        );
    }
}

#[test]
fn llama_rope_inv_freq_is_not_a_param() {
    // vocab 1000, hidden 128, 2 layers, 4 heads and 2 KV heads of 32, MLP 256: embeddings,
    // per layer q, k, v, o, gate, up, down and two RMSNorm weights, the final norm, lm_head.
    let (v, h, layers, kv, mlp) = (1000, 128, 2, 2 * 32, 256);
    let per_layer = h * h + 2 * h * kv + h * h + 3 * h * mlp + 2 * h;
    let torch_params = v * h + layers * per_layer + h + h * v;
    assert_eq!(torch_params, 551_552);
    // (The exporter fixed the batch at the example's 1.)
    let (_, p) = profile("tiny_llama_dynamo.onnx", &[("input_ids", &[1, 24])]);
    // The exporter stores identical tensors once: at random initialisation the five RMSNorm
    // weights are all ones, one initializer.
    assert_eq!(concrete(&p.totals.params), torch_params - 4 * h);
    let rope: Vec<_> = p
        .nodes
        .iter()
        .filter(|n| n.name == "node_mul" || n.op_type == "Cos" || n.op_type == "Sin")
        .collect();
    assert!(!rope.is_empty());
    assert!(rope.iter().all(|n| n.params == Dim::zero()));
}

#[test]
fn lowered_group_norm_counts_only_the_learned_affine() {
    // Conv2d(3, 16, 3) with bias, GroupNorm(4, 16) with its weight and bias: the ones and
    // zeros the exporter gives InstanceNormalization are not parameters.
    let (_, p) = profile("groupnorm_cnn_legacy.onnx", &[("input", &[2, 3, 32, 48])]);
    assert_eq!(concrete(&p.totals.params), 16 * 3 * 3 * 3 + 16 + 16 + 16);
}

#[test]
fn weights_list_each_origin_with_its_class_and_add_up_to_the_totals() {
    let (_, p) = profile("groupnorm_cnn_legacy.onnx", &[("input", &[2, 3, 32, 48])]);
    let sum = |class: WeightClass| -> i64 {
        let of_class = p.weights.iter().filter(|w| w.class == class);
        of_class.map(|w| concrete(&w.elements)).sum()
    };
    assert_eq!(sum(WeightClass::Param), concrete(&p.totals.params));
    assert_eq!(sum(WeightClass::Constant), concrete(&p.totals.constants));
    // The first convolution's weight, by the name the exporter gave it.
    let conv = p
        .weights
        .iter()
        .find(|w| w.elements == Dim::from_i64(16 * 3 * 3 * 3));
    assert_eq!(conv.map(|w| w.class), Some(WeightClass::Param));
    // The InstanceNormalization's ones and zeros: 4 groups each, constants.
    let made: Vec<_> = p
        .weights
        .iter()
        .filter(|w| w.class == WeightClass::Constant)
        .collect();
    assert!(
        made.iter().any(|w| w.elements == Dim::from_i64(4)),
        "{made:?}"
    );
}

#[test]
fn wav2vec2_formulas_hold_at_both_sizes() {
    let (_, symbolic) = profile("tiny_wav2vec2_dynamo.onnx", &[]);
    assert!(!symbolic.totals.macs.is_const());
    for (batch, samples) in [(1, 16000), (2, 12000)] {
        let (_, p) = profile(
            "tiny_wav2vec2_dynamo.onnx",
            &[("input_values", &[batch, samples])],
        );
        let bindings: BTreeMap<&str, i64> = [("batch", batch), ("samples", samples)].into();
        let lookup = |s: &str| bindings.get(s).copied();
        for (name, formula, value) in [
            ("macs", &symbolic.totals.macs, &p.totals.macs),
            (
                "flops",
                &symbolic.totals.total_flops(),
                &p.totals.total_flops(),
            ),
        ] {
            assert_eq!(
                formula.eval(&lookup).ok(),
                value.as_i64(),
                "{name}: {formula} at {bindings:?}"
            );
        }
    }
}

#[test]
fn detr_first_decoder_layer_weights_are_params() {
    // d_model 64: each of the first decoder layer's q, k, v projections is a [64, 64] weight
    // and a [64] bias. No input reaches them (the layer attends over zeros plus the learned
    // query table), yet they are learned weights, as PyTorch counts them.
    let (_, p) = profile("detr_legacy.onnx", &[("pixel_values", &[1, 3, 256, 192])]);
    let d = 64;
    for proj in ["q_proj", "k_proj", "v_proj"] {
        let scope = format!("/model/model/decoder/layers.0/self_attn/{proj}/");
        let params: i64 = p
            .nodes
            .iter()
            .filter(|n| n.name.starts_with(&scope))
            .map(|n| concrete(&n.params))
            .sum();
        assert_eq!(params, d * d + d, "{proj}");
    }
}
