//! The command line on good and bad input: bad input gives one line on stderr and exit code 1
//! (2 for bad usage), never a panic; an op without a counter is profiled and listed.

use std::process::ExitCode;

use flopscope::cli::ExitStatus;
use serde_json::Value;
use tests::{Run, fixture, flopscope};

fn path(relative: &str) -> String {
    fixture(relative).display().to_string()
}

/// Asserts a failed run with exit code 1 and one line on stderr containing every `needle`.
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

fn json(run: &Run) -> Value {
    assert!(run.success(), "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON output")
}

#[test]
fn profiles_a_shipped_model() {
    let run = flopscope(&["profile", &path("models/light_bvlc_alexnet.onnx")]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("MMACs") && run.stdout.contains("Conv"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(" flops"), "units are always explicit");
}

#[test]
fn missing_file() {
    let p = path("models/no_such_model.onnx");
    assert_one_line_error(&flopscope(&["profile", &p]), &[&p, "cannot read the file"]);
}

#[test]
fn a_directory() {
    let p = path("models");
    assert_one_line_error(&flopscope(&["profile", &p]), &[&p, "directory"]);
}

#[test]
fn empty_file() {
    let p = path("bad/empty.onnx");
    assert_one_line_error(&flopscope(&["profile", &p]), &[&p, "empty"]);
}

#[test]
fn text_file() {
    let p = path("bad/not_onnx.txt");
    assert_one_line_error(
        &flopscope(&["profile", &p]),
        &[&p, "not a valid ONNX model"],
    );
}

#[test]
fn truncated_model() {
    let p = path("bad/truncated.onnx");
    assert_one_line_error(
        &flopscope(&["profile", &p]),
        &[&p, "not a valid ONNX model"],
    );
}

#[test]
fn graph_with_a_cycle() {
    let p = path("bad/cycle.onnx");
    assert_one_line_error(&flopscope(&["profile", &p]), &[&p, "cycle"]);
}

#[test]
fn missing_opset_import() {
    let p = path("bad/missing_opset.onnx");
    assert_one_line_error(
        &flopscope(&["profile", &p]),
        &[&p, "does not import", "ai.onnx"],
    );
}

#[test]
fn inconsistent_input_shapes_name_the_input() {
    let p = path("models/light_bvlc_alexnet.onnx");
    assert_one_line_error(
        &flopscope(&["profile", &p, "--input", "data_0=1x4x224x224"]),
        &["data_0", "dim 1 is 3", "4 was given"],
    );
    assert_one_line_error(
        &flopscope(&["profile", &p, "--input", "nope=1x3x224x224"]),
        &["nope", "no input of that name", "data_0"],
    );
    assert_one_line_error(&flopscope(&["profile", &p, "--dim", "batch=2"]), &["batch"]);
}

#[test]
fn shapes_too_large_are_an_overflow_error_naming_the_node() {
    let p = path("models/mobilenet_v2.onnx");
    let huge = format!("input={0}x3x{0}x{0}", 1u64 << 40);
    assert_one_line_error(
        &flopscope(&["profile", &p, "--input", &huge]),
        &["overflow", "Conv"],
    );
}

#[test]
fn an_op_without_a_counter_is_listed_and_makes_a_lower_bound() {
    let p = path("bad/unknown_op.onnx");
    let report = json(&flopscope(&["profile", &p, "--format", "json"]));
    assert_eq!(report["totals"]["lower_bound"], true);
    let uncounted = report["uncounted"].as_array().unwrap();
    assert_eq!(uncounted.len(), 1, "{uncounted:?}");
    assert_eq!(uncounted[0]["domain"], "com.example");
    assert_eq!(uncounted[0]["op_type"], "Mystery");
    assert_eq!(uncounted[0]["reason"], "no_counter");
    // The Mystery output's declared type lets the rest of the graph be counted: two Relus of
    // 8 elements, 8 comparisons each.
    assert_eq!(report["totals"]["flops_by_kind"]["cmp"], 16);
    let table = flopscope(&["profile", &p]);
    assert!(
        table.stdout.contains("≥") && table.stdout.contains("com.example::Mystery"),
        "{}",
        table.stdout
    );
}

#[test]
fn nodes_after_an_undeclared_uncounted_output_are_listed_too() {
    let p = path("bad/unknown_op_undeclared.onnx");
    let report = json(&flopscope(&["profile", &p, "--format", "json"]));
    let reasons: Vec<(String, String)> = report["uncounted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["op_type"].as_str().unwrap().into(),
                u["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Sorted by domain (ai.onnx first), then op type.
    assert_eq!(
        reasons,
        vec![
            ("Relu".into(), "unknown_inputs".into()),
            ("Mystery".into(), "no_counter".into())
        ]
    );
    assert_eq!(
        report["totals"]["flops_by_kind"]["cmp"], 8,
        "only the first Relu is counted"
    );
}

#[test]
fn bad_usage_exits_2() {
    let run = flopscope(&["profile"]);
    assert_eq!(run.code, ExitCode::from(2));
    assert!(run.stderr.contains("MODEL"), "{}", run.stderr);
    let run = flopscope(&[
        "profile",
        &path("models/light_bvlc_alexnet.onnx"),
        "--input",
        "data_0",
    ]);
    assert_eq!(run.code, ExitCode::from(2));
    let run = flopscope(&["--help"]);
    assert!(run.success() && run.stdout.contains("profile"));
}

#[test]
fn ops_lists_the_registry() {
    let run = flopscope(&["ops"]);
    assert!(run.success());
    for op in ["Conv", "Gemm", "BatchNormalization", "ConstantOfShape"] {
        assert!(run.stdout.contains(op), "{op} missing");
    }
    assert!(run.stdout.contains("ai.onnx: "), "per-domain count");
    let ops = json(&flopscope(&["ops", "--format", "json"]));
    let conv = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op_type"] == "Conv")
        .expect("Conv listed");
    assert!(conv["formula"].as_str().unwrap().contains("macs"));
}

#[test]
fn model_local_functions_are_inferred_through() {
    // `y = Relu(x * alpha)` inside `local::ScaledRelu`, x: [batch, 8]; alpha comes from the
    // calling node's attribute.
    let p = path("models/local_function.onnx");
    let report = json(&flopscope(&["profile", &p, "--format", "json"]));
    assert_eq!(report["uncounted"].as_array().unwrap().len(), 0);
    assert_eq!(
        report["model"]["outputs"][0]["shape"],
        serde_json::json!(["batch", 8])
    );
    assert_eq!(report["totals"]["flops_by_kind"]["mul"], "8*batch");
    let report = json(&flopscope(&[
        "profile", &p, "--dim", "batch=3", "--format", "json",
    ]));
    assert_eq!(report["totals"]["flops_by_kind"]["mul"], 3 * 8);
    assert_eq!(report["totals"]["flops_by_kind"]["cmp"], 3 * 8);
}

#[test]
fn unbound_dims_stay_symbolic_and_readable() {
    let p = path("models/mobilenet_v2.onnx");
    let report = json(&flopscope(&["profile", &p, "--format", "json"]));
    assert_eq!(
        report["model"]["outputs"][0]["shape"],
        serde_json::json!(["batch", 1000])
    );
    // The stem conv: 3x3, stride 2, pad 1: floor((h + 2 - 3)/2) + 1 = ceil(h/2).
    assert_eq!(
        report["nodes"][0]["outputs"][0]["shape"],
        serde_json::json!(["batch", 32, "ceil(height/2)", "ceil(width/2)"])
    );
    let macs = report["totals"]["macs"].as_str().expect("a formula");
    assert!(
        macs.contains("batch") && macs.contains("ceil(height/32)"),
        "{macs}"
    );
}

#[test]
fn inconsistent_models_name_the_node_op_and_shapes() {
    // SqueezeNet's first conv is 7x7 with stride 2 and no padding: a 5x5 image leaves it no
    // window.
    let p = path("models/squeezenet1_0.onnx");
    assert_one_line_error(
        &flopscope(&["profile", &p, "--input", "input=1x3x5x5"]),
        &[
            "node `/features/features.0/Conv`",
            "ai.onnx::Conv",
            "size 5",
        ],
    );
}

#[test]
fn strict_makes_uncounted_ops_an_error() {
    let p = path("bad/unknown_op.onnx");
    let run = flopscope(&["profile", &p, "--strict"]);
    assert_eq!(run.code, ExitCode::from(1));
    assert!(
        run.stdout.contains("Mystery"),
        "the report is still printed"
    );
    assert!(
        run.stderr.contains("--strict") && run.stderr.contains("com.example::Mystery"),
        "{}",
        run.stderr
    );
    let run = flopscope(&[
        "profile",
        &path("models/light_bvlc_alexnet.onnx"),
        "--strict",
    ]);
    assert!(run.success(), "{}", run.stderr);
}

/// Runs the CLI as if its output were a terminal.
fn on_terminal(args: &[&str]) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("flopscope").chain(args.iter().copied());
    let code = flopscope::cli::run_on(argv, &mut out, &mut err, true);
    assert_eq!(
        code,
        ExitStatus::Success,
        "{}",
        String::from_utf8_lossy(&err)
    );
    String::from_utf8(out).unwrap()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let m = path("models/mobilenet_v2.onnx");
    let escape = "\u{1b}[";
    for view in ["layers", "tree"] {
        let args = ["profile", &m, "--view", view];
        assert!(
            on_terminal(&args).contains(escape),
            "{view}: colour on a terminal"
        );
        let mut plain = args.to_vec();
        plain.push("--no-color");
        assert!(!on_terminal(&plain).contains(escape), "{view}: --no-color");
        let piped = flopscope(&args);
        assert!(!piped.stdout.contains(escape), "{view}: not a terminal");
    }
    // Formats meant for files never carry escapes.
    for format in ["markdown", "csv", "json", "html", "svg"] {
        let out = on_terminal(&["profile", &m, "--format", format]);
        assert!(!out.contains(escape), "{format}");
    }
    let diff = on_terminal(&["diff", &m, &path("models/mobilenet_v2_bn.onnx")]);
    assert!(diff.contains(escape));
}

#[test]
fn a_plugin_op_is_uncounted_without_its_plugin() {
    // This test binary does not link `flopscope-plugin-example`, so com.example::FusedMLP has
    // no record here (its own tests show it counted when linked).
    let run = flopscope(&[
        "profile",
        &path("models/fused_mlp.onnx"),
        "--input",
        "X=1x16x64",
        "--format",
        "json",
    ]);
    let report = json(&run);
    let uncounted = report["uncounted"].as_array().unwrap();
    assert_eq!(uncounted.len(), 1, "{uncounted:?}");
    assert_eq!(uncounted[0]["domain"], "com.example");
    assert_eq!(uncounted[0]["op_type"], "FusedMLP");
    assert_eq!(uncounted[0]["reason"], "no_counter");
    assert_eq!(report["totals"]["lower_bound"], true);
    // The Relu after it still counts: the model declares the FusedMLP output's type.
    assert_eq!(report["totals"]["counted_nodes"], 1);
}

#[test]
fn a_negative_size_is_refused_in_one_line_with_exit_2() {
    // ONNX users write -1 for "dynamic"; it once printed `MACs -300.77 MMACs`.
    let model = path("models/mobilenet_v2.onnx");
    for args in [
        vec!["profile", &model, "--dim", "batch=-1"],
        vec!["profile", &model, "--input", "input=-1x3x224x224"],
        vec!["profile", &model, "--input", "input=batch,3,-224,224"],
        vec!["sweep", &model, "--dim", "batch=1,-32"],
        vec!["sweep", &model, "--size", "224,-320"],
        vec!["compare", &model, "--dim", "batch=-1"],
    ] {
        let run = flopscope(&args);
        assert_eq!(run.code, ExitCode::from(2), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("a size is 0 or more") || run.stderr.contains("not a size"));
        assert!(run.stdout.is_empty());
    }
    // Zero stays legal: an empty KV cache before the first token is real.
    let run = flopscope(&["profile", &model, "--dim", "batch=0", "--format", "json"]);
    assert!(run.success(), "{}", run.stderr);
}

#[test]
fn errors_print_their_causes() {
    let model = path("models/mobilenet_v2.onnx");
    let run = flopscope(&["diff", "no-such-report.json", &model]);
    assert_eq!(run.code, ExitCode::from(1));
    let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    assert!(
        run.stderr.contains("cannot read no-such-report.json: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("os error") || run.stderr.contains(&os),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    let dir = std::env::temp_dir().join(format!("flopscope-bad-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("report.json");
    std::fs::write(&bad, "{\"schema_version\": 1,\n \"model\": [}").unwrap();
    let run = flopscope(&["diff", &bad.display().to_string(), &model]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, ExitCode::from(1));
    assert!(
        run.stderr.contains("not a flopscope JSON report: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 2 column"),
        "serde's place: {}",
        run.stderr
    );
}

/// An output whose reader went away after `room` bytes (`flopscope ops | head`).
struct ClosedAfter {
    room: usize,
}

impl std::io::Write for ClosedAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_output_ends_quietly_with_exit_0() {
    for args in [
        vec!["flopscope", "ops"],
        vec!["flopscope", "profile", "fixtures/models/mobilenet_v2.onnx"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix("fixtures/") {
                Some(rest) => path(rest),
                None => (*a).to_owned(),
            })
            .collect();
        let mut out = ClosedAfter { room: 300 };
        let mut err = Vec::new();
        let code = flopscope::cli::run_with(&args, &mut out, &mut err);
        assert_eq!(code, ExitCode::SUCCESS, "{args:?}");
        assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
    }
}

#[test]
fn the_library_refuses_a_negative_size_naming_the_dim() {
    let mut options = flopscope::counters::ProfileOptions::default();
    options
        .dims
        .insert("batch".into(), flopscope_ir::Dim::from_i64(-1));
    let err = flopscope::report_file(&fixture("models/mobilenet_v2.onnx"), &options).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("dim `batch` is -1: a size is 0 or more"),
        "{text}"
    );
    assert!(
        !text.contains("--dim"),
        "library errors name dims, not flags: {text}"
    );
}

/// Runs the CLI as on a terminal `width` columns wide.
fn on_terminal_of(width: u16, args: &[&str]) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("flopscope").chain(args.iter().copied());
    let term = flopscope::cli::Terminal {
        color: false,
        width: Some(width),
    };
    let status = flopscope::cli::run_in(argv, &mut out, &mut err, term);
    assert_eq!(
        status,
        ExitStatus::Success,
        "{}",
        String::from_utf8_lossy(&err)
    );
    String::from_utf8(out).unwrap()
}

#[test]
fn tables_fit_the_terminal() {
    // The symbolic totals table was ~350 columns wide and `ops` lines reached 1,400.
    let gpt2 = path("models/tiny_gpt2.onnx");
    let mobilenet = path("models/mobilenet_v2.onnx");
    for args in [
        vec!["ops"],
        vec!["profile", gpt2.as_str()],
        vec!["profile", gpt2.as_str(), "--view", "tree"],
        vec!["profile", gpt2.as_str(), "--view", "ops"],
        vec!["profile", mobilenet.as_str(), "--view", "memory"],
        vec!["diff", mobilenet.as_str(), gpt2.as_str()],
        vec!["compare", mobilenet.as_str()],
        vec![
            "sweep",
            mobilenet.as_str(),
            "--dim",
            "batch=1,32",
            "--size",
            "224,320",
        ],
    ] {
        let text = on_terminal_of(100, &args);
        let widest = text
            .lines()
            .filter(|l| l.starts_with(['│', '┌', '└', '╞', '├']))
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        assert!(
            widest > 0 && widest <= 100,
            "{args:?}: a table line of {widest} columns"
        );
    }
    // Not on a terminal (files, pipes), a table keeps its full text on one line.
    let run = flopscope(&["ops"]);
    assert!(run.stdout.lines().any(|l| l.chars().count() > 200));
}

#[test]
fn shares_and_order_hold_with_a_dim_left_free() {
    // With `batch` free every cost is a multiple of it: the shares are exact and the heaviest
    // op types come first (they once all read `-` and the list was alphabetical).
    let gpt2 = path("models/tiny_gpt2.onnx");
    let run = flopscope(&[
        "profile", &gpt2, "--view", "ops", "--dim", "seq=128", "--format", "csv",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows[0][0], "Gemm", "{}", run.stdout);
    let shares: Vec<f64> = rows
        .iter()
        .map(|r| {
            r[4].trim_end_matches('%')
                .parse::<f64>()
                .expect("a share, not `-`")
        })
        .collect();
    assert!(
        (shares.iter().sum::<f64>() - 100.0).abs() < 0.05,
        "{shares:?}"
    );
    assert!(
        shares.windows(2).all(|w| w[0] >= w[1]),
        "heaviest first: {shares:?}"
    );
    // The same at batch 4: the shares do not depend on the batch.
    let bound = flopscope(&[
        "profile", &gpt2, "--view", "ops", "--dim", "seq=128", "--dim", "batch=4", "--format",
        "csv",
    ]);
    let first: Vec<&str> = bound.stdout.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[4], rows[0][4]);
}
