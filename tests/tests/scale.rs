//! Size and depth: nothing in the pipeline recurses once per node, so a 200k-node chain and a
//! 100k-wide graph profile on a test thread's ordinary stack, and graphs nested thousands deep
//! are refused with a clear error instead of overflowing the stack. (Timings: `cargo xtask
//! bench-scale`.)

use std::path::Path;

use bytes::Bytes;
use flopscope_counters::ProfileOptions;
use flopscope_ir::Dim;
use flopscope_report::Report;
use flopscope_testkit::proto::{GraphProto, NodeProto, ValueInfoProto};
use flopscope_testkit::{BOOL, graph, graph_attr, model, node, typed, value, with_attrs};

const WIDTH: i64 = 16;

fn f(name: &str) -> ValueInfoProto {
    value(name, Some(&[1, WIDTH]))
}

fn relu(input: &str, output: &str) -> NodeProto {
    node("", "Relu", "", &[input], &[output])
}

/// A model of the default domain at opset 17 over `x` → `nodes` → `y`.
fn net(name: &str, nodes: Vec<NodeProto>) -> Vec<u8> {
    model(
        &[("", 17)],
        graph(name, nodes, vec![f("x")], vec![f("y")], vec![]),
    )
    .unwrap()
}

/// x → Relu → Relu → … → y, `n` nodes.
fn chain(n: usize) -> Vec<u8> {
    let name = |i: usize| {
        if i + 1 == n {
            "y".to_owned()
        } else {
            format!("v{i}")
        }
    };
    let nodes = (0..n)
        .map(|i| relu(&if i == 0 { "x".into() } else { name(i - 1) }, &name(i)))
        .collect();
    net("chain", nodes)
}

/// x → `n` Relus side by side → Sum of all → y.
fn wide(n: usize) -> Vec<u8> {
    let mut nodes: Vec<NodeProto> = (0..n).map(|i| relu("x", &format!("v{i}"))).collect();
    let sum_inputs: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = sum_inputs.iter().map(String::as_str).collect();
    nodes.push(node("", "Sum", "", &refs, &["y"]));
    net("wide", nodes)
}

fn profile(bytes: Vec<u8>) -> (flopscope_ir::Model, flopscope_counters::Profile) {
    let model = flopscope_onnx::load_bytes(Bytes::from(bytes), Path::new("synthetic.onnx"))
        .expect("a valid model");
    let profile = flopscope_counters::profile(&model, &ProfileOptions::default()).unwrap();
    (model, profile)
}

#[test]
fn a_200k_node_chain_profiles_on_an_ordinary_stack() {
    let n = 200_000;
    let (model, p) = profile(chain(n));
    assert_eq!(p.nodes.len(), n);
    // One comparison per element per Relu.
    assert_eq!(p.totals.flops.cmp, Dim::from_i64(n as i64 * WIDTH));
    // Peak live memory: a Relu's input and output (the graph input stays live to the end? no:
    // it is read once, by the first node).
    assert_eq!(p.totals.peak_activation_bytes, Dim::from_i64(2 * WIDTH * 4));
    let report = Report::new("chain.onnx", &model, &p);
    assert_eq!(report.nodes.len(), n);
}

#[test]
fn a_100k_wide_graph_profiles() {
    let n = 100_000;
    let (_, p) = profile(wide(n));
    assert_eq!(p.nodes.len(), n + 1);
    // Relus: one cmp per element each; Sum of n inputs: n - 1 adds per element.
    assert_eq!(p.totals.flops.cmp, Dim::from_i64(n as i64 * WIDTH));
    assert_eq!(p.totals.flops.add, Dim::from_i64((n as i64 - 1) * WIDTH));
}

/// `depth` If nodes, each the then-branch of the one above; every else-branch is a plain
/// Identity.
fn nested_ifs(depth: usize) -> GraphProto {
    let out = |d: usize| value(&format!("y{d}"), Some(&[2]));
    let leaf = |d: usize| {
        let y = format!("y{d}");
        graph(
            &format!("leaf{d}"),
            vec![node("", "Identity", "", &["x"], &[&y])],
            vec![],
            vec![out(d)],
            vec![],
        )
    };
    let mut g = leaf(depth);
    for d in (0..depth).rev() {
        let y = format!("y{d}");
        let branch = with_attrs(
            node("", "If", "", &["c"], &[&y]),
            vec![
                graph_attr("then_branch", g),
                graph_attr("else_branch", leaf(d)),
            ],
        );
        g = graph(&format!("g{d}"), vec![branch], vec![], vec![out(d)], vec![]);
    }
    let inputs = vec![value("x", Some(&[2])), typed("c", BOOL, Some(&[]))];
    graph("main", g.node, inputs, g.output, vec![])
}

/// Encoding with prost recomputes every nested length at every level (quadratic in the depth),
/// so the deep model is written here directly in protobuf's wire format, innermost level first.
mod wire {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Field `field` as a length-delimited value.
    pub(super) fn bytes(out: &mut Vec<u8>, field: u64, data: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    pub(super) fn int(out: &mut Vec<u8>, field: u64, v: u64) {
        varint(out, field << 3);
        varint(out, v);
    }

    /// `ValueInfoProto` of a float tensor [2].
    pub(super) fn float2(name: &str) -> Vec<u8> {
        let mut dim = Vec::new();
        int(&mut dim, 1, 2); // Dimension.dim_value
        let mut shape = Vec::new();
        bytes(&mut shape, 1, &dim); // TensorShapeProto.dim
        let mut tensor = Vec::new();
        int(&mut tensor, 1, 1); // elem_type FLOAT
        bytes(&mut tensor, 2, &shape);
        let mut ty = Vec::new();
        bytes(&mut ty, 1, &tensor); // TypeProto.tensor_type
        let mut vi = Vec::new();
        bytes(&mut vi, 1, name.as_bytes());
        bytes(&mut vi, 2, &ty);
        vi
    }

    /// `NodeProto`.
    pub(super) fn node(op: &str, inputs: &[&str], output: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            bytes(&mut n, 1, i.as_bytes());
        }
        bytes(&mut n, 2, output.as_bytes());
        bytes(&mut n, 4, op.as_bytes());
        for a in attrs {
            bytes(&mut n, 5, a);
        }
        n
    }

    /// `AttributeProto` holding a graph.
    pub(super) fn graph_attr(name: &str, graph: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        bytes(&mut a, 1, name.as_bytes());
        int(&mut a, 20, 5); // type GRAPH
        bytes(&mut a, 6, graph);
        a
    }

    /// `GraphProto` with nodes, inputs and outputs.
    pub(super) fn graph(
        name: &str,
        nodes: &[Vec<u8>],
        inputs: &[Vec<u8>],
        outputs: &[Vec<u8>],
    ) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            bytes(&mut g, 1, n);
        }
        bytes(&mut g, 2, name.as_bytes());
        for i in inputs {
            bytes(&mut g, 11, i);
        }
        for o in outputs {
            bytes(&mut g, 12, o);
        }
        g
    }

    /// `ModelProto` (IR 8, ai.onnx 17) around a graph.
    pub(super) fn model(graph: &[u8]) -> Vec<u8> {
        let mut opset = Vec::new();
        int(&mut opset, 2, 17);
        let mut m = Vec::new();
        int(&mut m, 1, 8);
        bytes(&mut m, 8, &opset);
        bytes(&mut m, 7, graph);
        m
    }
}

/// [`nested_ifs`] in the wire format, built innermost first.
fn encode_deep(depth: usize) -> Vec<u8> {
    let leaf = |d: usize| {
        let y = format!("y{d}");
        wire::graph(
            &format!("leaf{d}"),
            &[wire::node("Identity", &["x"], &y, &[])],
            &[],
            &[wire::float2(&y)],
        )
    };
    let mut g = leaf(depth);
    for d in (1..depth).rev() {
        let y = format!("y{d}");
        let node = wire::node(
            "If",
            &["c"],
            &y,
            &[
                wire::graph_attr("then_branch", &g),
                wire::graph_attr("else_branch", &leaf(d)),
            ],
        );
        g = wire::graph(&format!("g{d}"), &[node], &[], &[wire::float2(&y)]);
    }
    let mut c = Vec::new();
    wire::bytes(&mut c, 1, b"c");
    let mut bool_scalar = Vec::new();
    let mut tensor = Vec::new();
    wire::int(&mut tensor, 1, 9); // BOOL
    wire::bytes(&mut tensor, 2, &[]); // shape []
    wire::bytes(&mut bool_scalar, 1, &tensor);
    wire::bytes(&mut c, 2, &bool_scalar);
    let top = wire::node(
        "If",
        &["c"],
        "y0",
        &[
            wire::graph_attr("then_branch", &g),
            wire::graph_attr("else_branch", &leaf(0)),
        ],
    );
    wire::model(&wire::graph(
        "main",
        &[top],
        &[wire::float2("x"), c],
        &[wire::float2("y0")],
    ))
}

#[test]
fn the_wire_encoding_matches_the_writer() {
    // The hand-written encoding and the crate's writer describe the same model.
    let ours =
        flopscope_onnx::load_bytes(Bytes::from(encode_deep(3)), Path::new("a.onnx")).unwrap();
    let theirs = flopscope_onnx::load_bytes(
        Bytes::from(model(&[("", 17)], nested_ifs(3)).unwrap()),
        Path::new("b.onnx"),
    )
    .unwrap();
    assert_eq!(ours.graph.nodes.len(), theirs.graph.nodes.len());
    let (mut po, mut pt) = (
        flopscope_counters::profile(&ours, &ProfileOptions::default()).unwrap(),
        flopscope_counters::profile(&theirs, &ProfileOptions::default()).unwrap(),
    );
    // The node names differ (the writer names its nodes); everything else is the same.
    (po.totals.peak_at, pt.totals.peak_at) = (None, None);
    assert_eq!(po.totals, pt.totals);
}

#[test]
fn shallow_nesting_profiles() {
    let bytes = encode_deep(8);
    let (_, p) = profile(bytes);
    assert_eq!(p.nodes.len(), 1);
    assert!(p.uncounted.is_empty());
}

#[test]
fn nesting_5000_deep_is_a_clear_error_not_a_stack_overflow() {
    let bytes = encode_deep(5000);
    // This thread has an ordinary stack: the decoder must refuse before recursing 5000 deep.
    let err = flopscope_onnx::load_bytes(Bytes::from(bytes), Path::new("nested.onnx"))
        .expect_err("refused")
        .to_string();
    assert!(err.starts_with("nested.onnx: "), "{err}");
    assert!(err.contains("nested too deep"), "{err}");
    // One readable line: not the thousands of enclosing fields prost lists.
    assert!(
        !err.contains('\n') && err.len() < 400,
        "{} chars: {err}",
        err.len()
    );
}
