//! Each convention's per-layer rule against a hand computation.

use std::collections::BTreeMap;

use flopscope_ir::Dim;

use super::*;
use crate::model::{AttrReport, FlopsByKindReport, ModelInfo, ToolInfo, TotalsReport};

fn tensor(name: &str, shape: &[i64]) -> TensorReport {
    TensorReport {
        name: name.to_owned(),
        dtype: Some("float32".into()),
        shape: Some(shape.iter().map(|&d| Dim::from_i64(d)).collect()),
        value: None,
    }
}

/// A constant scalar input with its value.
fn scalar(name: &str, v: f64) -> TensorReport {
    TensorReport {
        value: Some(vec![v]),
        ..tensor(name, &[])
    }
}

struct N(NodeReport);

impl N {
    /// A counted node named `name` (a legacy-exporter scope path) with one output.
    fn new(op: &str, name: &str, inputs: Vec<TensorReport>, output: &[i64]) -> N {
        N(NodeReport {
            // The class the op's record gives it.
            class: flopscope_counters::registry()
                .lookup("", op, 21)
                .map_or(OpClass::Other, |d| d.class),
            inputs,
            outputs: vec![tensor(&format!("{name}_output_0"), output)],
            ..NodeReport::stub(name, op)
        })
    }

    fn macs(mut self, macs: i64) -> N {
        self.0.macs = Dim::from_i64(macs);
        self.0.flops = Dim::from_i64(2 * macs);
        self
    }

    fn params(mut self, params: i64) -> N {
        self.0.params = Dim::from_i64(params);
        self
    }

    fn attr(mut self, name: &str, value: AttrReport) -> N {
        self.0.attributes.insert(name.to_owned(), value);
        self
    }
}

/// Every convention's count of `node` when it is alone in its graph.
fn counts(node: &NodeReport) -> BTreeMap<&'static str, i64> {
    counts_in(std::slice::from_ref(node), 0)
}

/// Every convention's count of `nodes[i]` within `nodes`.
fn counts_in(nodes: &[NodeReport], i: usize) -> BTreeMap<&'static str, i64> {
    let graph = GraphFacts::new(nodes);
    Convention::ALL
        .iter()
        .map(|c| {
            let v = c.node_count(&nodes[i], &graph);
            (c.name(), v.as_i64().unwrap_or_else(|| panic!("{c}: {v}")))
        })
        .collect()
}

fn expect(got: &BTreeMap<&'static str, i64>, expected: &[(&str, i64)]) {
    for (name, value) in expected {
        assert_eq!(got[name], *value, "{name}: {got:?}");
    }
}

#[test]
fn names_round_trip() {
    for c in Convention::ALL {
        assert_eq!(c.name().parse::<Convention>(), Ok(c));
        assert!(c.label().starts_with(c.name()), "{}", c.label());
    }
    assert!("flops".parse::<Convention>().is_err());
}

#[test]
fn conv_with_bias() {
    // x [1,16,32,32] * w [32,16,3,3] + b → [1,32,30,30]: 28,800 outputs · 144 = 4,147,200 MACs.
    let o = 32 * 30 * 30;
    let macs = o * 16 * 9;
    let node = N::new(
        "Conv",
        "/conv/Conv",
        vec![
            tensor("x", &[1, 16, 32, 32]),
            tensor("w", &[32, 16, 3, 3]),
            tensor("b", &[32]),
        ],
        &[1, 32, 30, 30],
    )
    .macs(macs)
    .params(32 * 16 * 9 + 32);
    expect(
        &counts(&node.0),
        &[
            ("thop", macs),
            ("ptflops", macs + o),
            ("ptflops-aten", macs + o),
            ("fvcore", macs),
            ("torch", 2 * macs),
            ("onnx-tool", macs + o),
            ("flopscope", 2 * macs),
        ],
    );
}

#[test]
fn depthwise_conv_divides_input_channels_by_groups() {
    // 32 groups of one channel: 32·14·14 outputs · 9 taps.
    let o = 32 * 14 * 14;
    let node = N::new(
        "Conv",
        "/dw/Conv",
        vec![tensor("x", &[1, 32, 14, 14]), tensor("w", &[32, 1, 3, 3])],
        &[1, 32, 14, 14],
    )
    .macs(o * 9)
    .attr("group", AttrReport::Int(32));
    expect(
        &counts(&node.0),
        &[("thop", o * 9), ("ptflops", o * 9), ("onnx-tool", o * 9)],
    );
}

#[test]
fn conv_transpose_thop_and_onnx_tool_use_output_positions() {
    // x [1,8,4,4], w [8,4,2,2], stride 2 → [1,4,8,8]. True MACs: 16 inputs · 8 · 4 · 4 = 2,048.
    let node = N::new(
        "ConvTranspose",
        "/up/ConvTranspose",
        vec![tensor("x", &[1, 8, 4, 4]), tensor("w", &[8, 4, 2, 2])],
        &[1, 4, 8, 8],
    )
    .macs(2048);
    expect(
        &counts(&node.0),
        &[
            // 256 outputs · 8 input channels · 4 taps.
            ("thop", 256 * 8 * 4),
            ("ptflops", 2048),
            ("fvcore", 2048),
            // 256 outputs · (4 · 2 · 2) weight elements past the first dim.
            ("onnx-tool", 256 * 16),
        ],
    );
}

#[test]
fn linear_as_gemm() {
    // [2,64] · [10,64]ᵀ + b: 1,280 MACs, 20 outputs.
    let node = N::new(
        "Gemm",
        "/fc/Gemm",
        vec![
            tensor("x", &[2, 64]),
            tensor("w", &[10, 64]),
            tensor("b", &[10]),
        ],
        &[2, 10],
    )
    .macs(1280)
    .params(650)
    .attr("transB", AttrReport::Int(1));
    expect(
        &counts(&node.0),
        &[
            ("thop", 1280),
            ("ptflops", 1300),
            ("ptflops-aten", 1300),
            ("fvcore", 1280),
            ("torch", 2560),
            ("onnx-tool", 1300),
        ],
    );
}

#[test]
fn linear_on_3d_input_is_matmul_and_bias_add() {
    // nn.Linear(8, 6) on [2,5,8]: MatMul with the weight, then Add of the bias (60 outputs).
    let matmul = N::new(
        "MatMul",
        "/proj/MatMul",
        vec![tensor("x", &[2, 5, 8]), tensor("w", &[8, 6])],
        &[2, 5, 6],
    )
    .macs(480)
    .params(48);
    let add = N::new(
        "Add",
        "/proj/Add",
        vec![
            tensor("b", &[6]),
            tensor("/proj/MatMul_output_0", &[2, 5, 6]),
        ],
        &[2, 5, 6],
    );
    let nodes = [matmul.0, add.0];
    expect(
        &counts_in(&nodes, 0),
        &[
            ("thop", 480),
            ("ptflops", 480),
            ("ptflops-aten", 480),
            ("fvcore", 480),
            ("onnx-tool", 480),
        ],
    );
    expect(
        &counts_in(&nodes, 1),
        &[
            ("thop", 0),
            ("ptflops", 60),
            ("ptflops-aten", 60),
            ("fvcore", 0),
            ("torch", 0),
            ("onnx-tool", 60),
        ],
    );
}

#[test]
fn functional_linear_is_invisible_to_ptflops_but_not_to_aten() {
    // F.linear in a parent's forward (its scope `/proj` holds a child): ptflops does not patch
    // F.linear, so neither the product nor the bias counts; ATen sees addmm with its bias.
    let matmul = N::new(
        "MatMul",
        "/proj/MatMul",
        vec![tensor("x", &[2, 5, 8]), tensor("w", &[8, 6])],
        &[2, 5, 6],
    )
    .macs(480)
    .params(48);
    let add = N::new(
        "Add",
        "/proj/Add",
        vec![
            tensor("/proj/MatMul_output_0", &[2, 5, 6]),
            tensor("b", &[6]),
        ],
        &[2, 5, 6],
    );
    let child = N::new("Identity", "/proj/child/Identity", vec![], &[1]);
    let nodes = [matmul.0, add.0, child.0];
    expect(
        &counts_in(&nodes, 0),
        &[("thop", 0), ("ptflops", 0), ("ptflops-aten", 480)],
    );
    expect(
        &counts_in(&nodes, 1),
        &[("ptflops", 0), ("ptflops-aten", 60)],
    );
}

#[test]
fn functional_matmul_counts_a_times_last_dim_of_b() {
    // torch.matmul([2,5,8], [2,8,6]) in a parent's forward: thop ignores it.
    let node = N::new(
        "MatMul",
        "/attn/MatMul",
        vec![tensor("q", &[2, 5, 8]), tensor("k", &[2, 8, 6])],
        &[2, 5, 6],
    )
    .macs(480);
    let child = N::new(
        "Conv",
        "/attn/proj/Conv",
        vec![tensor("x", &[1, 1, 1]), tensor("w", &[1, 1, 1])],
        &[1, 1, 1],
    );
    let nodes = [node.0, child.0];
    expect(
        &counts_in(&nodes, 0),
        &[
            ("thop", 0),
            ("ptflops", 80 * 6),
            ("fvcore", 80 * 6),
            ("torch", 960),
        ],
    );
}

#[test]
fn batchnorm() {
    // 128 elements.
    let inputs = || {
        ["x", "scale", "bias", "mean", "var"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if i == 0 {
                    tensor(n, &[1, 8, 4, 4])
                } else {
                    tensor(n, &[8])
                }
            })
            .collect::<Vec<_>>()
    };
    let node = N::new(
        "BatchNormalization",
        "/bn/BatchNormalization",
        inputs(),
        &[1, 8, 4, 4],
    );
    expect(
        &counts(&node.0),
        &[
            ("thop", 4 * 128),
            ("ptflops", 2 * 128),
            ("ptflops-aten", 0),
            ("fvcore", 2 * 128),
            ("torch", 0),
            // add + sqrt (24) + div (4) + add + mul.
            ("onnx-tool", 31 * 128),
        ],
    );
    let training = node.attr("training_mode", AttrReport::Int(1));
    expect(&counts(&training.0), &[("fvcore", 5 * 128)]);
}

#[test]
fn layer_norm() {
    // [2,5,8] over the last axis: 80 elements, 10 rows.
    let node = N::new(
        "LayerNormalization",
        "/ln/LayerNormalization",
        vec![
            tensor("x", &[2, 5, 8]),
            tensor("g", &[8]),
            tensor("b", &[8]),
        ],
        &[2, 5, 8],
    );
    expect(
        &counts(&node.0),
        &[
            ("thop", 320),
            ("ptflops", 80),
            ("fvcore", 400),
            ("torch", 0),
            ("onnx-tool", 7 * 80 + 29 * 10),
        ],
    );
}

/// A `nodes` list where `name`'s scope holds a child module (so `name` is functional) when
/// `functional`.
fn with_scope(node: N, functional: bool) -> Vec<NodeReport> {
    let mut nodes = vec![node.0];
    if functional {
        let scope = super::scope(&nodes[0].name).unwrap().to_owned();
        nodes.push(
            N::new(
                "Identity",
                &format!("{scope}/child/Identity"),
                vec![tensor("y", &[1])],
                &[1],
            )
            .0,
        );
    }
    nodes
}

#[test]
fn relu_counts_twice_in_ptflops_when_a_module() {
    // 1,000 elements: nn.ReLU's hook plus the patched F.relu it calls.
    let relu = || {
        N::new(
            "Relu",
            "/block/Relu",
            vec![tensor("x", &[1, 10, 10, 10])],
            &[1, 10, 10, 10],
        )
    };
    let module = with_scope(relu(), false);
    expect(
        &counts_in(&module, 0),
        &[
            ("thop", 0),
            ("ptflops", 2000),
            ("fvcore", 0),
            ("onnx-tool", 1000),
        ],
    );
    let functional = with_scope(relu(), true);
    expect(&counts_in(&functional, 0), &[("ptflops", 1000)]);
}

#[test]
fn clip_is_relu6_only_with_bounds_0_and_6() {
    let clip = |lo: f64, hi: f64| {
        N::new(
            "Clip",
            "/act/Clip",
            vec![tensor("x", &[1, 100]), scalar("lo", lo), scalar("hi", hi)],
            &[1, 100],
        )
    };
    expect(
        &counts(&clip(0.0, 6.0).0),
        &[
            ("thop", 0),
            ("ptflops", 100),
            ("fvcore", 0),
            ("onnx-tool", 200),
        ],
    );
    // nn.Hardtanh or torch.clamp: no ptflops rule.
    expect(
        &counts(&clip(-1.0, 1.0).0),
        &[("ptflops", 0), ("onnx-tool", 200)],
    );
    // Opset < 11: the bounds are attributes.
    let old = N::new("Clip", "/act/Clip", vec![tensor("x", &[1, 100])], &[1, 100])
        .attr("min", AttrReport::Float(0.0))
        .attr("max", AttrReport::Float(6.0));
    expect(&counts(&old.0), &[("ptflops", 100)]);
}

#[test]
fn global_average_pool_module_and_functional() {
    // [1,64,7,7] → [1,64,1,1]: 3,136 inputs, 64 outputs.
    let gap = || {
        N::new(
            "GlobalAveragePool",
            "/pool/GlobalAveragePool",
            vec![tensor("x", &[1, 64, 7, 7])],
            &[1, 64, 1, 1],
        )
    };
    // nn.AdaptiveAvgPool2d(1).
    expect(
        &counts_in(&with_scope(gap(), false), 0),
        &[
            ("thop", 3136 + 64),
            ("ptflops", 2 * 3136),
            ("fvcore", 3136),
            ("torch", 0),
            ("onnx-tool", 3136 + 4 * 64),
        ],
    );
    // F.adaptive_avg_pool2d in a parent's forward.
    expect(
        &counts_in(&with_scope(gap(), true), 0),
        &[("thop", 0), ("ptflops", 3136), ("fvcore", 3136)],
    );
}

#[test]
fn max_and_average_pool() {
    // 3×3 windows, stride 2: [1,8,9,9] (648) → [1,8,4,4] (128).
    let pool = |op: &str| {
        N::new(
            op,
            &format!("/pool/{op}"),
            vec![tensor("x", &[1, 8, 9, 9])],
            &[1, 8, 4, 4],
        )
        .attr("kernel_shape", AttrReport::Ints(vec![3, 3]))
    };
    expect(
        &counts(&pool("MaxPool").0),
        &[
            ("thop", 0),
            ("ptflops", 2 * 648),
            ("fvcore", 0),
            ("onnx-tool", 128 * 9),
        ],
    );
    expect(
        &counts(&pool("AveragePool").0),
        &[
            ("thop", 128),
            ("ptflops", 2 * 648),
            ("fvcore", 0),
            ("onnx-tool", 128 * 9),
        ],
    );
}

#[test]
fn softmax() {
    // [2,4,10] over the last axis: 80 elements in 8 rows of 10.
    let node = N::new(
        "Softmax",
        "/sm/Softmax",
        vec![tensor("x", &[2, 4, 10])],
        &[2, 4, 10],
    )
    .attr("axis", AttrReport::Int(-1));
    expect(
        &counts(&node.0),
        &[
            // exp + div per element, one add fewer than elements per row.
            ("thop", 3 * 80 - 8),
            ("ptflops", 80),
            ("fvcore", 0),
            ("onnx-tool", 36 * 80),
        ],
    );
}

#[test]
fn bilinear_resize() {
    // [1,3,4,4] → [1,3,8,8]: 192 outputs.
    let node = N::new(
        "Resize",
        "/up/Resize",
        vec![tensor("x", &[1, 3, 4, 4])],
        &[1, 3, 8, 8],
    )
    .attr("mode", AttrReport::String("linear".into()));
    expect(
        &counts(&node.0),
        &[
            ("thop", 11 * 192),
            ("ptflops", 2 * 192),
            ("fvcore", 4 * 192),
            ("onnx-tool", 4 * 192),
        ],
    );
}

#[test]
fn lstm() {
    // seq 3, batch 2, input 4, hidden 5, one direction, with B: flopscope's MACs are
    // 4 gates · 5 · (4 + 5) · 6 steps = 1,080.
    let node = N::new(
        "LSTM",
        "/rnn/LSTM",
        vec![
            tensor("x", &[3, 2, 4]),
            tensor("w", &[1, 20, 4]),
            tensor("r", &[1, 20, 5]),
            tensor("b", &[1, 40]),
        ],
        &[3, 1, 2, 5],
    )
    .macs(1080)
    .attr("hidden_size", AttrReport::Int(5));
    expect(
        &counts(&node.0),
        &[
            // per step: 4 · ((4 + 5)·5 + 5 + 2·5) + 3·5 + 5 = 260.
            ("thop", 260 * 6),
            // per step: 4·5·9 weights + 10·5 gate math + 2·4·5 biases = 270.
            ("ptflops", 270 * 6),
            ("ptflops-aten", 1080 + 40 * 6),
            ("fvcore", 0),
            ("torch", 2160),
            // (80 + 100) weights and 40 biases per step, 180 per hidden state.
            ("onnx-tool", 180 * 6 + 40 * 6 + 180 * 30),
        ],
    );
}

#[test]
fn onnx_tool_elementwise_costs() {
    let unary = |op: &str| N::new(op, &format!("/{op}"), vec![tensor("x", &[10])], &[10]);
    let binary = |op: &str| {
        N::new(
            op,
            &format!("/{op}"),
            vec![tensor("a", &[10]), tensor("b", &[10])],
            &[10],
        )
    };
    for (node, per_element) in [
        (binary("Add"), 1),
        (binary("Mul"), 1),
        (binary("Div"), 4),
        (unary("Sigmoid"), 32),
        (unary("Tanh"), 76),
        (unary("Sqrt"), 24),
        (unary("Erf"), 0),
        (unary("Reshape"), 0),
        (unary("HardSwish"), 5),
    ] {
        let op = node.0.op_type.clone();
        assert_eq!(counts(&node.0)["onnx-tool"], 10 * per_element, "{op}");
    }
}

#[test]
fn onnx_tool_einsum_multiplies_every_letter() {
    let node = N::new(
        "Einsum",
        "/Einsum",
        vec![tensor("a", &[2, 3, 4]), tensor("b", &[2, 4, 5])],
        &[2, 3, 5],
    )
    .macs(120)
    .attr("equation", AttrReport::String("bij, bjk -> bik".into()));
    expect(
        &counts(&node.0),
        &[("onnx-tool", 120), ("torch", 240), ("thop", 0)],
    );
}

#[test]
fn scopes_tell_modules_from_functional_calls() {
    let names = [
        "/features/features.0/features.0.0/Conv",
        "/features/features.0/features.0.2/Clip",
        "/features/features.3/Add",
        "/features/features.3/conv/conv.0/Conv",
        "/GlobalAveragePool",
        "Relu_7",
    ];
    let nodes: Vec<NodeReport> = names
        .iter()
        .map(|n| N::new("Relu", n, vec![tensor("x", &[1])], &[1]).0)
        .collect();
    let scopes = Scopes::new(&nodes);
    let calls: Vec<Call> = nodes.iter().map(|n| scopes.call(n)).collect();
    assert_eq!(
        calls,
        [
            Call::Module,
            Call::Module,
            Call::Functional,
            Call::Module,
            Call::Functional,
            Call::Module,
        ]
    );
    // A model that is one leaf module: its ops sit at the root.
    let conv = N::new("Conv", "/Conv", vec![], &[1]).0;
    let relu = N::new("Relu", "/Relu", vec![], &[1]).0;
    let bare = Scopes::new(&[conv.clone(), relu]);
    assert_eq!(bare.call(&conv), Call::Module);
    // Without scopes, Softmax and weightless MatMul are functional.
    let softmax = N::new("Softmax", "Softmax_3", vec![], &[1]).0;
    assert_eq!(scopes.call(&softmax), Call::Functional);
}

#[test]
fn dynamo_module_paths_tell_modules_from_functional_calls() {
    // torchvision ResNet from the dynamo exporter: node names carry no scope, each node its
    // module path (`pkg.torch.onnx.name_scopes`).
    let node = |op: &str, name: &str, module: &[&str]| {
        let mut n = N::new(op, name, vec![tensor("x", &[1])], &[1]).0;
        n.module = module.iter().map(|m| (*m).to_owned()).collect();
        n
    };
    let nodes = [
        node(
            "Conv",
            "node_Conv_0",
            &["layer1", "layer1.0", "layer1.0.conv1"],
        ),
        node("Add", "node_add", &["layer1", "layer1.0"]),
        node("ReduceMean", "node_mean", &["avgpool"]),
        node("Flatten", "node_flatten", &[]),
    ];
    let scopes = Scopes::new(&nodes);
    let calls: Vec<Call> = nodes.iter().map(|n| scopes.call(n)).collect();
    assert_eq!(
        calls,
        [
            Call::Module,
            Call::Functional,
            Call::Module,
            Call::Functional,
        ]
    );
}

#[test]
fn a_matmul_by_a_transposed_weight_is_a_linear_layer() {
    // The dynamo exporter's nn.Linear(768, 3072) on [1, 197, 768]: MatMul(x, Transpose(W)),
    // the Transpose owning the weight.
    let mut t = N::new(
        "Transpose",
        "node_t",
        vec![tensor("w", &[3072, 768])],
        &[768, 3072],
    )
    .params(3072 * 768)
    .0;
    t.constant = true;
    t.outputs[0].name = "wt".into();
    let mut mm = N::new(
        "MatMul",
        "node_mm",
        vec![tensor("x", &[1, 197, 768]), tensor("wt", &[768, 3072])],
        &[1, 197, 3072],
    )
    .macs(197 * 768 * 3072)
    .0;
    mm.module = vec!["mlp".into(), "mlp.0".into()];
    t.module = mm.module.clone();
    let nodes = [t, mm];
    let thop = Convention::Thop.node_count(&nodes[1], &GraphFacts::new(&nodes));
    assert_eq!(thop, Dim::from_i64(197 * 768 * 3072));
}

#[test]
fn adaptive_average_pooling_from_the_dynamo_exporter_counts_as_global_pooling() {
    // nn.AdaptiveAvgPool2d(1) on [2, 512, 7, 7]: ReduceMean over axes 2 and 3, kept. thop
    // counts kernel elements + 1 per output, ptflops the input elements twice (a module),
    // fvcore the input elements.
    let mean = |keepdims: i64, module: &[&str]| {
        let mut n = N::new(
            "ReduceMean",
            "node_mean",
            vec![tensor("x", &[2, 512, 7, 7]), {
                let mut axes = tensor("axes", &[2]);
                axes.value = Some(vec![-2.0, -1.0]);
                axes
            }],
            if keepdims == 1 {
                &[2, 512, 1, 1]
            } else {
                &[2, 512]
            },
        )
        .0;
        n.attributes
            .insert("keepdims".to_owned(), AttrReport::Int(keepdims));
        n.module = module.iter().map(|m| (*m).to_owned()).collect();
        n
    };
    let (i, o) = (2 * 512 * 7 * 7, 2 * 512);
    let pooled = [mean(1, &["avgpool"])];
    let count = |c: Convention, nodes: &[NodeReport]| {
        c.node_count(&nodes[0], &GraphFacts::new(nodes))
            .as_i64()
            .expect("concrete")
    };
    assert_eq!(count(Convention::Thop, &pooled), i + o);
    assert_eq!(count(Convention::Ptflops, &pooled), 2 * i);
    assert_eq!(count(Convention::Fvcore, &pooled), i);
    // x.mean((2, 3)) drops the axes: none of them counts it.
    let mean_call = [mean(0, &["avgpool"])];
    for c in [Convention::Thop, Convention::Ptflops, Convention::Fvcore] {
        assert_eq!(count(c, &mean_call), 0, "{c:?}");
    }
}

#[test]
fn totals_split_by_op_class() {
    let conv = N::new(
        "Conv",
        "/c/Conv",
        vec![tensor("x", &[1, 1, 4, 4]), tensor("w", &[2, 1, 1, 1])],
        &[1, 2, 4, 4],
    )
    .macs(32);
    let relu = N::new(
        "Relu",
        "/r/Relu",
        vec![tensor("x", &[1, 2, 4, 4])],
        &[1, 2, 4, 4],
    );
    let report = Report {
        schema_version: 1,
        tool: ToolInfo {
            name: "flopscope".into(),
            version: "0".into(),
        },
        model: ModelInfo {
            path: "m.onnx".into(),
            ir_version: 8,
            producer: String::new(),
            opsets: BTreeMap::new(),
            graph: "g".into(),
            inputs: vec![],
            outputs: vec![],
        },
        bindings: BTreeMap::new(),
        totals: TotalsReport {
            macs: Dim::from_i64(32),
            flops: Dim::from_i64(96),
            flops_by_kind: FlopsByKindReport::default(),
            bytes: Dim::zero(),
            params: Dim::zero(),
            buffers: Dim::zero(),
            constants: Dim::zero(),
            weight_bytes: Dim::zero(),
            weight_bytes_by_dtype: BTreeMap::new(),
            activation_bytes: Dim::zero(),
            nodes: 2,
            counted_nodes: 2,
            lower_bound: false,
            ..TotalsReport::default()
        },
        nodes: vec![conv.0, relu.0],
        uncounted: vec![],
        data_dependent_dims: vec![],
        derived_dims: vec![],
        convention: None,
        bench: None,
        generation: None,
        hardware: None,
    };
    let report = report.with_convention(Convention::Ptflops);
    let c = report.convention.as_ref().unwrap();
    assert_eq!(c.total, Dim::from_i64(32 + 64));
    assert_eq!(c.by_class["conv"], Dim::from_i64(32));
    assert_eq!(c.by_class["activation"], Dim::from_i64(64));
    assert_eq!(c.by_class["pooling"], Dim::zero());
    assert_eq!(report.nodes[1].convention, Some(Dim::from_i64(64)));
    // The convention survives a JSON round trip.
    let json = report.to_json().unwrap();
    assert_eq!(Report::from_json(&json).unwrap(), report);
}

#[test]
fn symbolic_shapes_give_formulas() {
    let b = Dim::sym("batch");
    let mut node = N::new("BatchNormalization", "/bn/BatchNormalization", vec![], &[]).0;
    let shape = vec![b.clone(), Dim::from_i64(8)];
    node.inputs = vec![TensorReport {
        shape: Some(shape.clone()),
        ..tensor("x", &[])
    }];
    let nodes = [node];
    let graph = GraphFacts::new(&nodes);
    assert_eq!(Convention::Thop.node_count(&nodes[0], &graph), &b * 32);
}
