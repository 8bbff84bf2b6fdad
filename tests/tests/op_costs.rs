//! `--op-costs FILE.toml`: the custom op of `fused_mlp.onnx` declared in TOML is counted like a
//! built-in (concrete and symbolic), on every command that profiles; bad files fail with one
//! line naming the file and line.

use std::path::PathBuf;
use std::process::ExitCode;

use flopscope_ir::Dim;
use serde_json::Value;
use tests::{Run, fixture, flopscope};

fn path(relative: &str) -> String {
    fixture(relative).display().to_string()
}

fn model() -> String {
    path("models/fused_mlp.onnx")
}

fn decl() -> String {
    path("op-costs/fused_mlp.toml")
}

fn json(run: &Run) -> Value {
    assert!(run.success(), "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON output")
}

/// A figure of a report: an integer, or a formula string, as a `Dim`.
fn dim(v: &Value) -> Dim {
    match v {
        Value::Number(n) => Dim::from_i64(n.as_i64().expect("an integer")),
        Value::String(s) => Dim::parse(s).unwrap_or_else(|e| panic!("{e}")),
        other => panic!("not a figure: {other}"),
    }
}

fn shape(v: &Value) -> Vec<Dim> {
    v["shape"]
        .as_array()
        .expect("a shape")
        .iter()
        .map(dim)
        .collect()
}

/// The fixture's sizes (fixtures/README.md): X [batch, S, K], W1 [K, H], B1 [H], W2 [H, N],
/// B2 [N].
const S: i64 = 16;
const K: i64 = 64;
const H: i64 = 256;
const N: i64 = 64;

/// Checks the FusedMLP node and the totals of a report against the hand formulas, for the
/// given batch (a number or the symbol).
fn check_fused_mlp(report: &Value, batch: &Dim) {
    let nodes = report["nodes"].as_array().expect("nodes");
    let mlp = nodes
        .iter()
        .find(|n| n["op_type"] == "FusedMLP")
        .expect("the FusedMLP node");
    // The shapes the formulas below assume.
    let c = Dim::from_i64;
    let inputs = mlp["inputs"].as_array().expect("inputs");
    assert_eq!(shape(&inputs[0]), [batch.clone(), c(S), c(K)]);
    assert_eq!(shape(&inputs[1]), [c(K), c(H)]);
    assert_eq!(shape(&inputs[2]), [c(H)]);
    assert_eq!(shape(&inputs[3]), [c(H), c(N)]);
    assert_eq!(shape(&inputs[4]), [c(N)]);
    assert_eq!(shape(&mlp["outputs"][0]), [batch.clone(), c(S), c(N)]);
    assert_eq!(mlp["outputs"][0]["dtype"], "float32");

    // M rows; macs = M·(K·H + H·N), add = M·(H + N) (two bias adds), special = M·H.
    let m = batch * S;
    let macs = &m * (K * H + H * N);
    let add = &m * (H + N);
    let special = &m * H;
    assert_eq!(mlp["counted"], true);
    assert_eq!(dim(&mlp["macs"]), macs);
    let kinds = &mlp["flops_by_kind"];
    assert_eq!(dim(&kinds["add"]), add);
    assert_eq!(dim(&kinds["special"]), special);
    for zero in ["mul", "div", "cmp"] {
        assert_eq!(dim(&kinds[zero]), Dim::zero(), "{zero}");
    }
    assert_eq!(dim(&mlp["flops"]), &macs * 2 + &add + &special);
    let params = K * H + H + H * N + N;
    assert_eq!(dim(&mlp["params"]), c(params));

    // The Relu after it is still counted: one comparison per element of H [batch, S, N].
    let relu = nodes
        .iter()
        .find(|n| n["op_type"] == "Relu")
        .expect("the Relu");
    assert_eq!(relu["counted"], true);
    let relu_cmp = batch * (S * N);
    assert_eq!(dim(&relu["flops_by_kind"]["cmp"]), relu_cmp);

    let totals = &report["totals"];
    assert_eq!(totals["lower_bound"], false);
    assert_eq!(totals["counted_nodes"], totals["nodes"]);
    assert_eq!(report["uncounted"].as_array().map(Vec::len), Some(0));
    assert_eq!(dim(&totals["macs"]), macs);
    assert_eq!(dim(&totals["params"]), c(params));
    assert_eq!(
        dim(&totals["flops"]),
        &macs * 2 + &add + &special + &relu_cmp
    );
}

#[test]
fn fused_mlp_is_counted_at_batch_1() {
    let report = json(&flopscope(&[
        "profile",
        &model(),
        "--input",
        "X=1x16x64",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    check_fused_mlp(&report, &Dim::from_i64(1));
}

#[test]
fn fused_mlp_is_symbolic_in_batch_without_input() {
    let report = json(&flopscope(&[
        "profile",
        &model(),
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    check_fused_mlp(&report, &Dim::sym("batch"));
}

#[test]
fn without_op_costs_the_node_is_uncounted() {
    let report = json(&flopscope(&[
        "profile",
        &model(),
        "--input",
        "X=1x16x64",
        "--format",
        "json",
    ]));
    let mlp = &report["nodes"][0];
    assert_eq!(mlp["op_type"], "FusedMLP");
    assert_eq!(mlp["counted"], false);
    assert_eq!(report["totals"]["lower_bound"], true);
    let uncounted = report["uncounted"].as_array().expect("uncounted");
    assert_eq!(uncounted.len(), 1);
    assert_eq!(uncounted[0]["op_type"], "FusedMLP");
    assert_eq!(dim(&report["totals"]["macs"]), Dim::zero());
}

#[test]
fn the_table_counts_every_node() {
    let run = flopscope(&[
        "profile",
        &model(),
        "--input",
        "X=1x16x64",
        "--op-costs",
        &decl(),
        "--units",
        "raw",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("2 of 2 nodes counted"),
        "{}",
        run.stdout
    );
    let macs = S * (K * H + H * N);
    // 524,288 as the table writes it.
    let grouped = format!("{},{:03}", macs / 1000, macs % 1000);
    assert!(run.stdout.contains(&grouped), "{grouped} in {}", run.stdout);
    assert!(!run.stdout.contains("Uncounted"), "{}", run.stdout);
}

#[test]
fn compare_diff_and_sweep_take_op_costs() {
    let macs = |batch: i64| batch * S * (K * H + H * N);

    let cmp = json(&flopscope(&[
        "compare",
        &model(),
        "--input",
        "X=1x16x64",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    assert_eq!(cmp["macs"].as_i64(), Some(macs(1)));

    // The same model on both sides: nothing changes, and both are counted.
    let diff = json(&flopscope(&[
        "diff",
        &model(),
        &model(),
        "--dim",
        "batch=2",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    let totals = diff["totals"].as_array().expect("totals");
    let macs_row = totals.iter().find(|t| t["key"] == "macs").expect("macs");
    assert_eq!(dim(&macs_row["old"]), Dim::from_i64(macs(2)));
    assert_eq!(dim(&macs_row["new"]), Dim::from_i64(macs(2)));

    let sweep = json(&flopscope(&[
        "sweep",
        &model(),
        "--dim",
        "batch=1,8",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    let rows = sweep["rows"].as_array().expect("rows");
    let got: Vec<i64> = rows.iter().map(|r| r["macs"].as_i64().unwrap()).collect();
    assert_eq!(got, [macs(1), macs(8)]);
    assert_eq!(sweep["lower_bound"], false);
}

#[test]
fn ops_lists_declared_ops_after_the_built_ins() {
    let run = flopscope(&["ops", "--op-costs", &decl()]);
    assert!(run.success(), "{}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("FusedMLP"))
        .expect("FusedMLP listed");
    assert!(
        line.contains("com.example") && line.contains("declared"),
        "{line}"
    );
    assert!(line.contains("macs = M * (K*H + H*N)"), "{line}");
    let last_row = run.stdout.lines().rfind(|l| l.starts_with('│'));
    assert_eq!(last_row, Some(line), "declared ops come last");

    let ops = json(&flopscope(&[
        "ops",
        "--format",
        "json",
        "--op-costs",
        &decl(),
    ]));
    let ops = ops.as_array().expect("a list");
    let last = ops.last().expect("rows");
    assert_eq!(last["op_type"], "FusedMLP");
    assert_eq!(last["declared"], true);
    assert!(
        last["declared_in"]
            .as_str()
            .unwrap()
            .contains("fused_mlp.toml:")
    );
    assert!(ops[..ops.len() - 1].iter().all(|o| o["declared"] == false));
    // Without the file it is not there.
    let plain = flopscope(&["ops"]);
    assert!(!plain.stdout.contains("FusedMLP"));
}

/// Writes `text` to a file of the test's temporary directory.
fn write_toml(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("op_costs");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write");
    file
}

/// Asserts exit code 1, nothing on stdout, and one line on stderr containing every needle.
fn assert_one_line_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, ExitCode::from(1), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    assert_eq!(
        run.stderr.matches('\n').count(),
        1,
        "one line: {:?}",
        run.stderr
    );
    assert!(run.stderr.starts_with("error: "), "{:?}", run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in {:?}",
            run.stderr
        );
    }
}

#[test]
fn bad_files_fail_with_the_file_and_line() {
    let good = std::fs::read_to_string(fixture("op-costs/fused_mlp.toml")).expect("fixture");
    let line_of = |needle: &str| {
        good.lines()
            .position(|l| l.starts_with(needle))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("{needle:?} not in the fixture"))
    };
    // (file name, replaced line, replacement, the line of the error, what the message says)
    let cases = [
        (
            "syntax.toml",
            "K = ",
            "K = \"X[-1]",
            line_of("K = "),
            "string",
        ),
        (
            "unknown_key.toml",
            "dtype = ",
            "dtype = \"X\"\nstrides = 2",
            line_of("dtype = ") + 1,
            "unknown field `strides`",
        ),
        (
            "unknown_name.toml",
            "add = ",
            "add = \"M * (H + Q)\"",
            line_of("add = "),
            "unknown name `Q`",
        ),
        (
            "expr_syntax.toml",
            "special = ",
            "special = \"M * (H\"",
            line_of("special = "),
            "in `M * (H`",
        ),
        (
            "dtype.toml",
            "dtype = ",
            "dtype = \"floot32\"",
            line_of("dtype = "),
            "dtype `floot32`",
        ),
    ];
    for (name, from, to, line, needle) in cases {
        let text: String = good
            .lines()
            .map(|l| if l.starts_with(from) { to } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        let file = write_toml(name, &text);
        let file = file.display().to_string();
        let run = flopscope(&["profile", &model(), "--op-costs", &file]);
        assert_one_line_error(&run, &[&format!("{file}:{line}:"), needle]);
    }

    // An op flopscope already counts (Relu of the default domain).
    let relu = good
        .replace("domain = \"com.example\"", "domain = \"\"")
        .replace("\"FusedMLP\"", "\"Relu\"");
    let file = write_toml("default_relu.toml", &relu).display().to_string();
    let run = flopscope(&["profile", &model(), "--op-costs", &file]);
    assert_one_line_error(
        &run,
        &[
            &format!("{file}:{}:", line_of("op_type = ")),
            "ai.onnx::Relu is already counted",
        ],
    );

    // A file given twice declares the op twice.
    let run = flopscope(&[
        "profile",
        &model(),
        "--op-costs",
        &decl(),
        "--op-costs",
        &decl(),
    ]);
    assert_one_line_error(&run, &["declared twice", &decl()]);

    // A file that does not exist.
    let missing = write_toml("x.toml", "").with_file_name("missing.toml");
    let missing = missing.display().to_string();
    let run = flopscope(&[
        "sweep",
        &model(),
        "--dim",
        "batch=1",
        "--op-costs",
        &missing,
    ]);
    assert_one_line_error(&run, &[&missing, "cannot read the file"]);
}

#[test]
fn errors_at_profile_time_name_the_node_and_the_declaration() {
    let good = std::fs::read_to_string(fixture("op-costs/fused_mlp.toml")).expect("fixture");
    let bad = good.replace("H = \"W1[1]\"", "H = \"W1[2]\"");
    assert_ne!(bad, good);
    let file = write_toml("index.toml", &bad).display().to_string();
    let line = bad
        .lines()
        .position(|l| l.starts_with("H = "))
        .map(|i| i + 1)
        .expect("the H line");
    let run = flopscope(&["profile", &model(), "--op-costs", &file]);
    assert_one_line_error(
        &run,
        &[
            &model(),
            "node `mlp` (com.example::FusedMLP)",
            &format!("`H` = `W1[2]` ({file}:{line}:6)"),
            "index 2 is out of range for `W1`, of rank 2",
        ],
    );
}

#[test]
fn two_files_combine() {
    // A second file declaring another op: both files are read, the model's op is counted.
    let other = "[[op]]\ndomain = \"com.example\"\nop_type = \"Other\"\ninputs = [\"A\"]\n\
                 [[op.outputs]]\nname = \"B\"\nshape = [\"A[..]\"]\n[op.cost]\nmul = \"numel(A)\"\n";
    let file = write_toml("other.toml", other).display().to_string();
    let report = json(&flopscope(&[
        "profile",
        &model(),
        "--op-costs",
        &file,
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    check_fused_mlp(&report, &Dim::sym("batch"));
    let run = flopscope(&["ops", "--op-costs", &file, "--op-costs", &decl()]);
    assert!(run.stdout.contains("Other") && run.stdout.contains("FusedMLP"));
}

#[test]
fn a_declared_class_puts_the_op_under_it_in_compare() {
    // The file declares `class = "matmul"`: the node's report carries it, and `compare` totals
    // FusedMLP under gemm/matmul, where the tools' contraction rules count its MACs.
    let (m, k, h, n) = (16, 64, 256, 64);
    let macs = m * (k * h + h * n);
    let flops = 2 * macs + m * (h + n) + m * h;
    let profile = json(&flopscope(&[
        "profile",
        &model(),
        "--input",
        "X=1x16x64",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    let mlp = &profile["nodes"][0];
    assert_eq!(mlp["op_type"], "FusedMLP");
    assert_eq!(mlp["class"], "matmul");
    assert_eq!(profile["nodes"][1]["class"], "activation");

    let compare = json(&flopscope(&[
        "compare",
        &model(),
        "--input",
        "X=1x16x64",
        "--op-costs",
        &decl(),
        "--format",
        "json",
    ]));
    let by_class = |convention: &str| -> Value {
        let all = compare["conventions"].as_array().expect("conventions");
        let c = all.iter().find(|c| c["convention"] == convention);
        c.expect(convention)["by_class"].clone()
    };
    assert_eq!(by_class("flopscope")["gemm/matmul"], flops);
    assert_eq!(by_class("flopscope")["other"], 0);
    assert_eq!(by_class("torch")["gemm/matmul"], 2 * macs);
    assert_eq!(by_class("fvcore")["gemm/matmul"], macs);
}

#[test]
fn an_unknown_class_is_refused_with_its_place() {
    let dir = std::env::temp_dir().join(format!("flopscope-class-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("ops.toml");
    let text = std::fs::read_to_string(decl()).expect("the fixture");
    std::fs::write(
        &file,
        text.replace("class = \"matmul\"", "class = \"gemm\""),
    )
    .expect("write");
    let run = flopscope(&[
        "profile",
        &model(),
        "--op-costs",
        &file.display().to_string(),
    ]);
    assert!(!run.success());
    assert!(
        run.stderr.contains(
            "unknown op class `gemm` (known: conv, matmul, norm, activation, pooling, add, other)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ops.toml:"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
