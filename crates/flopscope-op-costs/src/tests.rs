//! Op-cost files: declarations checked at load time (every error with its line), and declared
//! ops run through the engine on one-node models, against hand computations.

use flopscope_counters::ops::testing::Case;
use flopscope_counters::{Profile, ProfileError, ProfileOptions, profile};
use flopscope_ir::{Attr, Model, ValueType};

use super::*;

/// The FusedMLP declaration; the line numbers below refer to it.
const MLP: &str = r#"[[op]]
domain = "com.example"
op_type = "FusedMLP"
inputs = ["X", "W1", "B1", "W2", "B2"]
weights = ["W1", "W2"]
biases = ["B1", "B2"]

[op.let]
M = "numel(X[..-1])"
K = "X[-1]"
H = "W1[1]"
N = "W2[1]"

[[op.outputs]]
name = "Y"
shape = ["X[..-1]", "N"]
dtype = "X"

[op.cost]
macs = "M * (K*H + H*N)"
add = "M * (H + N)"
special = "M * H"
"#;

fn file() -> &'static Path {
    Path::new("decl.toml")
}

/// `MLP` with `from` replaced by `to` (which must occur).
fn mlp_with(from: &str, to: &str) -> String {
    assert!(MLP.contains(from), "{from:?} not in the declaration");
    MLP.replacen(from, to, 1)
}

fn parse_ok(text: &str) -> Vec<Arc<TomlOp>> {
    parse(text, file()).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of a declaration, checked to be at `line` and to contain `needle`.
fn parse_err(text: &str, line: usize, needle: &str) -> OpCostsError {
    let err = match parse(text, file()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert_eq!(err.location.map(|l| l.line), Some(line), "line of: {shown}");
    assert!(
        shown.starts_with(&format!("decl.toml:{line}:")),
        "the message names the file and line: {shown}"
    );
    assert!(shown.contains(needle), "{needle:?} not in: {shown}");
    assert!(!shown.contains('\n'), "one line: {shown:?}");
    err
}

// ---- a one-node model ----------------------------------------------------------------------

enum In {
    /// A graph input of this type.
    Activation(TensorType),
    /// An initializer of this type (no data).
    Weight(TensorType),
    Absent,
}

fn f32s(dims: &[i64]) -> TensorType {
    TensorType::new(
        DType::Float32,
        dims.iter().map(|&d| Dim::from_i64(d)).collect(),
    )
}

/// `X` [batch, 16, 64] and the weights of the fixture.
fn mlp_inputs(batch: Dim) -> Vec<In> {
    let x = TensorType::new(
        DType::Float32,
        vec![batch, Dim::from_i64(16), Dim::from_i64(64)],
    );
    vec![
        In::Activation(x),
        In::Weight(f32s(&[64, 256])),
        In::Weight(f32s(&[256])),
        In::Weight(f32s(&[256, 64])),
        In::Weight(f32s(&[64])),
    ]
}

/// One `com.example::<op_type>` node over `inputs`, with `outputs` outputs (the counters'
/// one-node model builder, `flopscope_counters::ops::testing`).
fn one_node(op_type: &str, inputs: Vec<In>, attrs: Vec<(&str, Attr)>, outputs: usize) -> Model {
    let mut case = Case::new(op_type)
        .domain("com.example")
        .opset(1)
        .outputs(outputs);
    for input in inputs {
        case = match input {
            In::Activation(t) => case.input(t),
            In::Weight(t) => case.weight(t),
            In::Absent => case.absent(),
        };
    }
    for (name, attr) in attrs {
        case = case.attr(name, attr);
    }
    case.model()
}

fn run(ops: &[Arc<TomlOp>], model: &Model) -> Result<Profile, ProfileError> {
    let options = ProfileOptions {
        declared_ops: declared(ops),
        ..ProfileOptions::default()
    };
    profile(model, &options)
}

fn output_shape(p: &Profile, j: usize) -> String {
    match &p.nodes[0].outputs[j].1 {
        Some(ValueType::Tensor(t)) => t.to_string(),
        other => panic!("output {j} is {other:?}"),
    }
}

// ---- declared ops at work ------------------------------------------------------------------

#[test]
fn fused_mlp_concrete_and_symbolic() {
    let ops = parse_ok(MLP);
    let (k, h, n) = (64i64, 256i64, 64i64);
    for batch in [Dim::from_i64(1), Dim::from_i64(3), Dim::sym("batch")] {
        let model = one_node("FusedMLP", mlp_inputs(batch.clone()), vec![], 1);
        let p = run(&ops, &model).unwrap_or_else(|e| panic!("{e}"));
        let node = &p.nodes[0];
        assert_eq!(node.uncounted, None);
        // Rows M = batch·16; macs = M·(K·H + H·N), add = M·(H + N), special = M·H.
        let m = &batch * 16;
        assert_eq!(node.cost.macs, &m * (k * h + h * n));
        assert_eq!(node.cost.flops.add, &m * (h + n));
        assert_eq!(node.cost.flops.special, &m * h);
        assert_eq!(node.cost.flops.mul, Dim::zero());
        assert_eq!(node.cost.flops.div, Dim::zero());
        assert_eq!(node.cost.flops.cmp, Dim::zero());
        // Y [batch, 16, N] in X's dtype.
        assert_eq!(output_shape(&p, 0), format!("float32[{batch}, 16, {n}]"));
        // W1, B1, W2, B2 are params by their roles.
        assert_eq!(p.totals.params, Dim::from_i64(k * h + h + h * n + n));
    }
}

#[test]
fn the_shipped_fixture_declares_the_same_op() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/op-costs/fused_mlp.toml");
    let ops = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].qualified_name(), "com.example::FusedMLP");
    assert_eq!(
        ops[0].formula(),
        "macs = M * (K*H + H*N); add = M * (H + N); special = M * H; \
         where M = numel(X[..-1]), K = X[-1], H = W1[1], N = W2[1]"
    );
    let model = one_node("FusedMLP", mlp_inputs(Dim::from_i64(2)), vec![], 1);
    let p = run(&ops, &model).unwrap();
    let mine = run(&parse_ok(MLP), &model).unwrap();
    assert_eq!(p.nodes[0].cost, mine.nodes[0].cost);
    assert_eq!(p.totals.params, mine.totals.params);
}

#[test]
fn roles_and_the_default_data_role() {
    let op = &parse_ok(MLP)[0];
    let roles: Vec<Role> = (0..6).map(|i| op.role(i)).collect();
    assert_eq!(
        roles,
        [
            Role::Data,
            Role::Weight,
            Role::Bias,
            Role::Weight,
            Role::Bias,
            Role::Data
        ]
    );
    let text = MLP.replace(
        "weights = [\"W1\", \"W2\"]",
        "buffers = [\"W1\"]\nquant = [\"W2\"]",
    );
    let op = &parse_ok(&text)[0];
    assert_eq!((op.role(1), op.role(3)), (Role::Buffer, Role::Quant));
}

/// A grouped op with an attribute, an optional input, a second output and a cost that reads
/// an output.
const GROUPED: &str = r#"[[op]]
domain = "com.example"
op_type = "Grouped"
inputs = ["X", "W", "B"]
optional = ["B"]
weights = ["W"]
biases = ["B"]
attributes = { groups = 1, stride = 2 }

[[op.outputs]]
name = "Y"
shape = [" X[0] ", "W[0]", "ceil(X[-1] / stride)"]
dtype = "X"

[[op.outputs]]
name = "Count"
shape = []
dtype = "int64"

[op.cost]
macs = "numel(Y) * X[1] / groups"
add = "has(B) * numel(Y)"
cmp = "max(X[-1] - 1, 0)"
div = 0
"#;

#[test]
fn attributes_optional_inputs_and_outputs_in_costs() {
    let ops = parse_ok(GROUPED);
    let x = f32s(&[2, 8, 9]);
    let w = f32s(&[6, 4]);
    // groups = 2 from the node, stride = 2 by default: Y [2, 6, ceil(9/2) = 5].
    let model = one_node(
        "Grouped",
        vec![
            In::Activation(x.clone()),
            In::Weight(w.clone()),
            In::Weight(f32s(&[6])),
        ],
        vec![("groups", Attr::Int(2))],
        2,
    );
    let p = run(&ops, &model).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output_shape(&p, 0), "float32[2, 6, 5]");
    assert_eq!(output_shape(&p, 1), "int64[]");
    let c = &p.nodes[0].cost;
    assert_eq!(c.macs, Dim::from_i64(2 * 6 * 5 * 8 / 2));
    assert_eq!(c.flops.add, Dim::from_i64(2 * 6 * 5));
    assert_eq!(c.flops.cmp, Dim::from_i64(9 - 1));
    assert_eq!(c.flops.div, Dim::zero());
    assert_eq!(p.totals.params, Dim::from_i64(6 * 4 + 6));

    // Without B (and without the second output), stride 3 from the node: no bias add.
    let model = one_node(
        "Grouped",
        vec![In::Activation(x), In::Weight(w), In::Absent],
        vec![("stride", Attr::Int(3))],
        1,
    );
    let p = run(&ops, &model).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output_shape(&p, 0), "float32[2, 6, 3]");
    assert_eq!(p.nodes[0].cost.macs, Dim::from_i64(2 * 6 * 3 * 8));
    assert_eq!(p.nodes[0].cost.flops.add, Dim::zero());
}

#[test]
fn symbolic_division_and_slices_in_shapes() {
    let text = r#"[[op]]
domain = "com.example"
op_type = "Fold"
inputs = ["X"]
[[op.outputs]]
name = "Y"
shape = ["X[0]", "X[1] * X[2] / 2", "X[2..]", "X[-2] / 4"]
[op.cost]
mul = "numel(Y)"
special = "numel(X[1..-1])"
"#;
    let ops = parse_ok(text);
    let (b, h) = (Dim::sym("batch"), Dim::sym("h"));
    let x = TensorType::new(
        DType::Float16,
        vec![b.clone(), &h * 2, Dim::from_i64(7), Dim::from_i64(3)],
    );
    let model = one_node("Fold", vec![In::Activation(x)], vec![], 1);
    let p = run(&ops, &model).unwrap_or_else(|e| panic!("{e}"));
    // X[1]·X[2]/2 = 2h·7/2 = 7h exactly; X[-2]/4 = floor(7/4) = 1; no dtype: X's.
    assert_eq!(
        output_shape(&p, 0),
        format!("float16[batch, {}, 7, 3, 1]", &h * 7)
    );
    assert_eq!(p.nodes[0].cost.flops.mul, &b * &h * 7 * 7 * 3);
    assert_eq!(p.nodes[0].cost.flops.special, &h * 2 * 7);
}

/// The message of a profile that fails.
fn profile_err(ops: &[Arc<TomlOp>], model: &Model) -> String {
    match run(ops, model) {
        Ok(_) => panic!("profiled"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn evaluation_errors_name_the_node_and_the_declaration() {
    let bad_index = mlp_with("H = \"W1[1]\"", "H = \"W1[2]\"");
    let err = profile_err(
        &parse_ok(&bad_index),
        &one_node("FusedMLP", mlp_inputs(Dim::from_i64(1)), vec![], 1),
    );
    for needle in [
        "node `node0` (com.example::FusedMLP)",
        "cost `macs` `M * (K*H + H*N)` (decl.toml:20:9)",
        "`H` = `W1[2]` (decl.toml:11:6)",
        "index 2 is out of range for `W1`, of rank 2",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }

    // 16 / batch is not exact and batch is not a constant.
    let inexact = mlp_with("add = \"M * (H + N)\"", "add = \"X[1] / X[0]\"");
    let err = profile_err(
        &parse_ok(&inexact),
        &one_node("FusedMLP", mlp_inputs(Dim::sym("batch")), vec![], 1),
    );
    assert!(
        err.contains("cost `add` `X[1] / X[0]` (decl.toml:21:8)")
            && err.contains("constant divisor"),
        "{err}"
    );

    // A required input left out, and an optional one read without has().
    let mut inputs = mlp_inputs(Dim::from_i64(1));
    inputs[4] = In::Absent;
    let err = profile_err(&parse_ok(MLP), &one_node("FusedMLP", inputs, vec![], 1));
    assert!(
        err.contains("input 4 (`B2`) is missing") && err.contains("not declare it optional"),
        "{err}"
    );
    let reads_b = GROUPED.replace("has(B) * numel(Y)", "numel(B)");
    let model = one_node(
        "Grouped",
        vec![
            In::Activation(f32s(&[2, 8, 9])),
            In::Weight(f32s(&[6, 4])),
            In::Absent,
        ],
        vec![],
        1,
    );
    let err = profile_err(&parse_ok(&reads_b), &model);
    assert!(
        err.contains("node `node0`") && err.contains("`B` is not given"),
        "{err}"
    );

    // More inputs or outputs than declared.
    let mut inputs = mlp_inputs(Dim::from_i64(1));
    inputs.push(In::Weight(f32s(&[1])));
    let err = profile_err(&parse_ok(MLP), &one_node("FusedMLP", inputs, vec![], 1));
    assert!(
        err.contains("the node has 6 inputs") && err.contains("declares 5"),
        "{err}"
    );
    let err = profile_err(
        &parse_ok(MLP),
        &one_node("FusedMLP", mlp_inputs(Dim::from_i64(1)), vec![], 2),
    );
    assert!(err.contains("the node has 2 outputs"), "{err}");

    // A negative dim, and an attribute of the wrong kind.
    let negative = mlp_with("shape = [\"X[..-1]\", \"N\"]", "shape = [\"N - K - 1\"]");
    let err = profile_err(
        &parse_ok(&negative),
        &one_node("FusedMLP", mlp_inputs(Dim::from_i64(1)), vec![], 1),
    );
    assert!(err.contains("the value is -1"), "{err}");
    let model = one_node(
        "Grouped",
        vec![In::Activation(f32s(&[2, 8, 9])), In::Weight(f32s(&[6, 4]))],
        vec![("groups", Attr::Float(2.0))],
        1,
    );
    let err = profile_err(&parse_ok(GROUPED), &model);
    assert!(err.contains("attribute `groups` is a float"), "{err}");
}

// ---- load-time errors, each with its line --------------------------------------------------

#[test]
fn toml_errors_have_lines() {
    // Syntax: an unterminated string.
    let e = parse_err(&mlp_with("K = \"X[-1]\"", "K = \"X[-1]"), 10, "");
    assert!(matches!(e.kind, OpCostsErrorKind::Toml(_)));
    // An unknown key, in an output and in the op.
    parse_err(
        &mlp_with("dtype = \"X\"", "dtype = \"X\"\nstride = 2"),
        18,
        "unknown field `stride`",
    );
    parse_err(
        &mlp_with(
            "biases = [\"B1\", \"B2\"]",
            "biases = [\"B1\", \"B2\"]\nbias = 1",
        ),
        7,
        "unknown field `bias`",
    );
    parse_err(
        &mlp_with("special =", "flops ="),
        22,
        "unknown field `flops`",
    );
    // A missing field: the table that lacks it.
    parse_err(&mlp_with("name = \"Y\"\n", ""), 14, "missing field `name`");
    parse_err(
        &mlp_with("op_type = \"FusedMLP\"\n", ""),
        1,
        "missing field `op_type`",
    );
    // A value of the wrong type.
    parse_err(
        &mlp_with("shape = [\"X[..-1]\", \"N\"]", "shape = [\"X[..-1]\", 2.5]"),
        16,
        "expected an expression",
    );
    parse_err("[[op]]\nop = 1\n[[op.outputs]\n", 3, "");
}

#[test]
fn expression_errors_point_at_the_column() {
    // `add = "` is 7 characters: the expression starts at column 8, `Q` is 9 further on.
    let e = parse_err(
        &mlp_with("M * (H + N)", "M * (H + Q)"),
        21,
        "unknown name `Q` in `M * (H + Q)` (the op declares: X, W1, B1, W2, B2, Y, M, K, H, N)",
    );
    assert_eq!(e.location.map(|l| l.column), Some(17));
    let e = parse_err(
        &mlp_with("M * H\"", "M * * H\""),
        22,
        "in `M * * H`: unexpected `*`",
    );
    assert_eq!(e.location.map(|l| l.column), Some(16));
    assert!(matches!(e.kind, OpCostsErrorKind::Syntax { .. }));
    // In a let, in a shape (a slice that is not a whole item), and an integer too large.
    parse_err(
        &mlp_with("K = \"X[-1]\"", "K = \"X[-1\""),
        10,
        "to close `[`",
    );
    parse_err(
        &mlp_with("\"X[..-1]\", \"N\"", "\"X[..-1] * 2\", \"N\""),
        16,
        "must be a whole shape item",
    );
    parse_err(
        &mlp_with("M * H\"", "M * 99999999999999999999\""),
        22,
        "does not fit in 64 bits",
    );
    // An escaped string: the error points at the string's start.
    let e = parse_err(
        &mlp_with("\"M * H\"", "\"M \\u002A \\u002A H\""),
        22,
        "unexpected `*`",
    );
    assert_eq!(e.location.map(|l| l.column), Some(11));
}

#[test]
fn names_used_where_they_do_not_fit() {
    parse_err(
        &mlp_with("\"X[..-1]\", \"N\"", "\"X[..-1]\", \"Y[0]\""),
        16,
        "output `Y` is not known while shapes are inferred",
    );
    parse_err(&mlp_with("M * H\"", "M * X\""), 22, "`X` is a tensor");
    parse_err(
        &mlp_with("M * H\"", "rank(M)\""),
        22,
        "`M` is a `let`, a number",
    );
    // A let that reads an output is fine in a cost, not in a shape.
    let reads_y = mlp_with("N = \"W2[1]\"", "N = \"W2[1]\"\nR = \"rank(Y)\"");
    parse_ok(&reads_y.replace("special = \"M * H\"", "special = \"M * H * R\""));
    parse_err(
        &reads_y.replace("\"X[..-1]\", \"N\"", "\"X[..-1]\", \"R\""),
        17,
        "`R` reads an output",
    );
    // A let defined through itself.
    parse_err(
        &mlp_with("K = \"X[-1]\"", "K = \"N\"").replace("N = \"W2[1]\"", "N = \"K + 1\""),
        12,
        "`K` is defined in terms of itself (K → N → K)",
    );
    // has() of an output.
    parse_err(&mlp_with("M * H\"", "has(Y)\""), 22, "has() takes an input");
}

#[test]
fn declaration_rules() {
    // Names: a clash, a function name, not a name.
    parse_err(
        &mlp_with(
            "biases = [\"B1\", \"B2\"]",
            "biases = [\"B1\", \"B2\"]\nattributes = { X = 1 }",
        ),
        7,
        "`X` is declared twice in this op (it is already an input at 4:11)",
    );
    parse_err(
        &mlp_with("[\"X\", \"W1\"", "[\"X\", \"min\""),
        4,
        "`min` is a function",
    );
    parse_err(
        &mlp_with("name = \"Y\"", "name = \"Y out\""),
        15,
        "not a name",
    );
    // Roles: an input in two lists, a name that is no input.
    parse_err(
        &mlp_with("biases = [\"B1\", \"B2\"]", "biases = [\"B1\", \"W2\"]"),
        6,
        "input `W2` is listed in both `weights` and `biases`",
    );
    let e = parse_err(
        &mlp_with("weights = [\"W1\", \"W2\"]", "weights = [\"W1\", \"W3\"]"),
        5,
        "unknown name `W3` in `weights`",
    );
    assert!(matches!(e.kind, OpCostsErrorKind::UnknownName { .. }));
    parse_err(
        &mlp_with(
            "weights = [\"W1\", \"W2\"]",
            "weights = [\"W1\", \"W2\"]\noptional = [\"Z\"]",
        ),
        6,
        "unknown name `Z` in `optional`",
    );
    // A dtype that is neither an input nor a dtype.
    let e = parse_err(
        &mlp_with("dtype = \"X\"", "dtype = \"floot32\""),
        17,
        "`floot32`",
    );
    assert!(matches!(e.kind, OpCostsErrorKind::Dtype(_)));
    parse_ok(&mlp_with("dtype = \"X\"", "dtype = \"bfloat16\""));
    // No op, no output, an empty formula, an op type that is not one word.
    parse_err("# nothing\n", 1, "declares no op");
    parse_err(
        "[[op]]\ndomain = \"d\"\nop_type = \"T\"\ninputs = []\noutputs = []\n[op.cost]\n",
        5,
        "declares no output",
    );
    parse_err(
        &mlp_with("[op.let]", "formula = \" \"\n[op.let]"),
        8,
        "the formula is empty",
    );
    parse_err(
        &mlp_with("\"FusedMLP\"", "\"Fused MLP\""),
        3,
        "not an op type",
    );
    // An output without dtype and without inputs to take it from.
    parse_err(
        "[[op]]\ndomain = \"d\"\nop_type = \"T\"\ninputs = []\n[[op.outputs]]\nname = \"Y\"\nshape = [1]\n[op.cost]\n",
        6,
        "needs a dtype",
    );
}

#[test]
fn an_op_declared_twice_or_already_counted() {
    // Twice in one file: the second `op_type`, line 22 + 3.
    let e = parse_err(
        &format!("{MLP}{MLP}"),
        25,
        "com.example::FusedMLP is declared twice (first at decl.toml:3:11)",
    );
    assert!(matches!(e.kind, OpCostsErrorKind::Duplicate { .. }));
    // A built-in, in either spelling of the default domain.
    for (domain, op) in [("", "Relu"), ("ai.onnx", "Conv")] {
        let text = mlp_with("com.example", domain).replace("FusedMLP", op);
        let e = parse_err(
            &text,
            3,
            &format!("ai.onnx::{op} is already counted by flopscope"),
        );
        assert!(matches!(e.kind, OpCostsErrorKind::AlreadyCounted { .. }));
    }
    // An op of the default domain that flopscope does not count may be declared.
    let op = &parse_ok(&mlp_with("com.example", "ai.onnx").replace("FusedMLP", "NotAnOnnxOp"))[0];
    assert_eq!(op.qualified_name(), "ai.onnx::NotAnOnnxOp");
}

#[test]
fn files_are_read_and_combined() {
    let dir = std::env::temp_dir().join(format!("flopscope-op-costs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.toml");
    let b = dir.join("b.toml");
    std::fs::write(&a, MLP).unwrap();
    std::fs::write(&b, GROUPED).unwrap();
    let ops = load_all(&[&a, &b]).unwrap();
    let names: Vec<String> = ops.iter().map(|o| o.qualified_name()).collect();
    assert_eq!(names, ["com.example::FusedMLP", "com.example::Grouped"]);
    assert_eq!(ops[1].file(), b.as_path());
    assert_eq!(
        ops[1].location(),
        Location {
            line: 3,
            column: 11
        }
    );

    // The same op in two files: an error in the second, naming the first.
    let err = load_all(&[&a, &b, &a]).unwrap_err();
    assert_eq!(err.path, a);
    assert_eq!(
        err.location,
        Some(Location {
            line: 3,
            column: 11
        })
    );
    assert!(
        err.to_string()
            .contains(&format!("declared twice (first at {}:3:11)", a.display())),
        "{err}"
    );

    let missing = dir.join("missing.toml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err.kind, OpCostsErrorKind::Read(_)));
    assert_eq!(err.location, None);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read the file", missing.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn formulas_given_or_derived() {
    let given = mlp_with(
        "[op.let]",
        "formula = \"\"\"\nmacs = M·(K·H + H·N),\n  add = M·(H + N)\"\"\"\n[op.let]",
    );
    assert_eq!(
        parse_ok(&given)[0].formula(),
        "macs = M·(K·H + H·N), add = M·(H + N)"
    );
    let text = "[[op]]\ndomain = \"d\"\nop_type = \"Copy\"\ninputs = [\"X\"]\n\
                [[op.outputs]]\nname = \"Y\"\nshape = [\"X[..]\"]\n[op.cost]\n";
    assert_eq!(parse_ok(text)[0].formula(), "no arithmetic");
}

#[test]
fn locations_count_characters() {
    let src = Source {
        text: "ab\nμν = 1\n",
        path: file(),
    };
    assert_eq!(src.location(0), Location { line: 1, column: 1 });
    assert_eq!(src.location(3), Location { line: 2, column: 1 });
    // After the two 2-byte letters: column 3; a byte inside a letter rounds down.
    assert_eq!(src.location(7), Location { line: 2, column: 3 });
    assert_eq!(src.location(4), Location { line: 2, column: 1 });
    assert_eq!(src.location(1000), Location { line: 3, column: 1 });
}
