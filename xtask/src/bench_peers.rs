//! `cargo xtask bench-peers`: flopscope against the Python tools, whole process, per model of
//! the zoo: wall time and peak RSS of
//!
//! - `flopscope profile MODEL --format json`, as the model declares (symbolic dims stay
//!   symbolic) and at a fixed size (the first input sizes `ANCHORS.json` lists for the model);
//! - onnx-tool's `model_profile` at the same fixed size, in a fresh `python3`;
//! - `onnx.load` (external data off) + `onnx.shape_inference.infer_shapes` with the inputs
//!   fixed to the same size, in a fresh `python3`: what every Python tool pays before it counts.
//!
//! Each command runs once to warm up, then the commands of a model take turns for `--runs`
//! rounds; the table holds the medians (see `measure` for how time, CPU time and memory are
//! read). A tool that fails on a model is a cell saying so, with its error under the table.
//! A second table says where flopscope's time goes (its stages timed in a fresh process by
//! `xtask measure-stages`, and warm), and the start-up of trivial processes is measured
//! the same way, so the ratios can be read against what no tool avoids.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::measure::{self, Cell, median, mib, ms};

/// The onnx-tool release benchmarked (the one whose counts `ANCHORS.json` records).
pub(crate) const ONNX_TOOL_VERSION: &str = "1.0.1";

/// flopscope must be at least this many times faster than onnx-tool on every model onnx-tool
/// can profile.
const TARGET_SPEEDUP: f64 = 30.0;

/// The task's options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub zoo: PathBuf,
    pub runs: usize,
    pub markdown: Option<PathBuf>,
    /// The Python interpreter to start from (`python3`).
    pub python: OsString,
    /// Only the models whose path contains this.
    pub filter: Option<String>,
}

/// One fixed input: name, dims, numpy dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixedInput {
    pub name: String,
    pub dims: Vec<i64>,
    pub dtype: String,
}

/// `1x3x224x224`.
fn shape_text(dims: &[i64]) -> String {
    dims.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

/// The measured cells of one model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub model: String,
    /// `input=1x3x224x224`, or `as declared` when no size is known for the model.
    pub size: String,
    pub flopscope_declared: Cell,
    /// `None`: no fixed size known for this model.
    pub flopscope_fixed: Option<Cell>,
    pub onnx_tool: Cell,
    pub onnx_infer: Cell,
    /// flopscope's stages in process at the fixed size (`Err`: why it could not be timed).
    pub breakdown: Result<Stages, String>,
}

impl Row {
    /// flopscope's cell that the Python tools are compared with (same input sizes).
    fn flopscope(&self) -> &Cell {
        self.flopscope_fixed
            .as_ref()
            .unwrap_or(&self.flopscope_declared)
    }
}

/// `other ÷ flopscope` for time and RSS, when both were measured.
fn ratios(flopscope: &Cell, other: &Cell) -> Option<(f64, f64)> {
    let (fs_wall, fs_rss) = flopscope.measured()?;
    let (wall, rss) = other.measured()?;
    if fs_wall.is_zero() || fs_rss == 0 {
        return None;
    }
    Some((
        wall.as_secs_f64() / fs_wall.as_secs_f64(),
        rss as f64 / fs_rss as f64,
    ))
}

/// `other ÷ flopscope` for CPU time (user + system), when both were measured.
fn cpu_ratio(flopscope: &Cell, other: &Cell) -> Option<f64> {
    let (fs, other) = (flopscope.cpu()?, other.cpu()?);
    (!fs.is_zero()).then(|| other.as_secs_f64() / fs.as_secs_f64())
}

/// `38×` (or `3.2×` below 10).
fn times(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.1}×")
    }
}

/// Min / median / max of a list of ratios.
fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let min = values.iter().copied().reduce(f64::min)?;
    let max = values.iter().copied().reduce(f64::max)?;
    Some((min, median(values)?, max))
}

/// The rendered results.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub table: String,
    pub markdown: String,
}

const HEADER: [&str; 8] = [
    "Model",
    "Fixed size",
    "flopscope (as declared)",
    "flopscope",
    "onnx-tool",
    "onnx infer",
    "onnx-tool ÷ flopscope",
    "onnx infer ÷ flopscope",
];

/// The table rows as text cells, and the notes their `failed [n]` cells point to.
fn text_rows(rows: &[Row]) -> (Vec<Vec<String>>, Vec<String>) {
    let mut notes = Vec::new();
    let mut cell = |model: &str, tool: &str, cell: &Cell| match cell {
        Cell::Measured { wall, peak_rss, .. } => format!("{} / {}", ms(*wall), mib(*peak_rss)),
        Cell::Failed(line) => {
            notes.push(format!("[{}] {tool} on {model}: {line}", notes.len() + 1));
            format!("failed [{}]", notes.len())
        }
    };
    let ratio = |flopscope: &Cell, other: &Cell| {
        ratios(flopscope, other).map_or_else(
            || "-".to_owned(),
            |(wall, rss)| format!("{} / {}", times(wall), times(rss)),
        )
    };
    let mut out = Vec::new();
    for row in rows {
        out.push(vec![
            row.model.clone(),
            row.size.clone(),
            cell(
                &row.model,
                "flopscope (as declared)",
                &row.flopscope_declared,
            ),
            row.flopscope_fixed
                .as_ref()
                .map_or_else(|| "-".to_owned(), |c| cell(&row.model, "flopscope", c)),
            cell(&row.model, "onnx-tool", &row.onnx_tool),
            cell(&row.model, "onnx infer", &row.onnx_infer),
            ratio(row.flopscope(), &row.onnx_tool),
            ratio(row.flopscope(), &row.onnx_infer),
        ]);
    }
    (out, notes)
}

/// The summary lines: min / median / max of each ratio, and the target (the models onnx-tool
/// profiles where flopscope is less than the target times faster).
fn summary(rows: &[Row]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut misses = Vec::new();
    for (tool, pick) in [
        ("onnx-tool", (|r: &Row| &r.onnx_tool) as fn(&Row) -> &Cell),
        ("onnx infer", |r: &Row| &r.onnx_infer),
    ] {
        let pairs: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| ratios(r.flopscope(), pick(r)))
            .collect();
        let walls: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let rss: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let cpu: Vec<f64> = rows
            .iter()
            .filter_map(|r| cpu_ratio(r.flopscope(), pick(r)))
            .collect();
        match (spread(&walls), spread(&rss), spread(&cpu)) {
            (Some(w), Some(m), Some(c)) => lines.push(format!(
                "{tool} ÷ flopscope over {} models: time min {} / median {} / max {}; \
                 peak RSS min {} / median {} / max {}; CPU time min {} / median {} / max {}",
                pairs.len(),
                times(w.0),
                times(w.1),
                times(w.2),
                times(m.0),
                times(m.1),
                times(m.2),
                times(c.0),
                times(c.1),
                times(c.2)
            )),
            _ => lines.push(format!("{tool} ÷ flopscope: no model measured by both")),
        }
    }
    let mut profiled = 0;
    let mut cpu_misses = Vec::new();
    for row in rows {
        if let Some((wall, _)) = ratios(row.flopscope(), &row.onnx_tool) {
            profiled += 1;
            if wall < TARGET_SPEEDUP {
                misses.push(format!("{} ({})", row.model, times(wall)));
            }
        }
        if let Some(cpu) = cpu_ratio(row.flopscope(), &row.onnx_tool)
            && cpu < TARGET_SPEEDUP
        {
            cpu_misses.push(format!("{} ({})", row.model, times(cpu)));
        }
    }
    lines.push(if misses.is_empty() {
        format!(
            "target flopscope ≥ {TARGET_SPEEDUP:.0}× faster than onnx-tool: met on all {profiled} \
             models onnx-tool profiles"
        )
    } else {
        format!(
            "target flopscope ≥ {TARGET_SPEEDUP:.0}× faster than onnx-tool: missed on {} of \
             {profiled} models: {}",
            misses.len(),
            misses.join(", ")
        )
    });
    lines.push(if cpu_misses.is_empty() {
        format!("the same in CPU time: at least {TARGET_SPEEDUP:.0}× on every model")
    } else {
        format!(
            "the same in CPU time: under {TARGET_SPEEDUP:.0}× on {}",
            cpu_misses.join(", ")
        )
    });
    lines
}

const STAGES_HEADER: [&str; 9] = [
    "Model",
    "decode",
    "profile",
    "report",
    "JSON",
    "free",
    "in process",
    "in process, warm",
    "whole process",
];

/// The second table: where flopscope's time goes, in process (cold, stage by stage, and the
/// warm total), beside its whole-process time.
fn stage_rows(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let whole = r
                .flopscope()
                .measured()
                .map_or_else(|| "-".to_owned(), |(wall, _)| ms(wall));
            match &r.breakdown {
                Ok(Stages { cold, warm }) => vec![
                    r.model.clone(),
                    ms(cold.decode),
                    ms(cold.profile),
                    ms(cold.report),
                    ms(cold.json),
                    ms(cold.drop),
                    ms(cold.total()),
                    ms(warm.total()),
                    whole,
                ],
                Err(e) => vec![r.model.clone(), format!("failed: {e}")],
            }
        })
        .collect()
}

/// A terminal table with the columns after the first right-aligned.
fn terminal_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    for c in 2..header.len() {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// A Markdown table: the first column left-aligned, every other right-aligned unless it is
/// in `left`.
fn markdown_table(header: &[&str], left: usize, rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", header.join(" | "));
    for c in 0..header.len() {
        out.push_str(if c < left { "---|" } else { "---:|" });
    }
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// Renders the rows as a terminal table and as Markdown, with the summary and the notes;
/// `floors` are the start-up costs of trivial processes (`flopscope --version`, a bare
/// `python3`, `import onnx`, ...), so the ratios can be read against what no tool avoids.
pub(crate) fn render(
    rows: &[Row],
    runs: usize,
    method: &str,
    floors: &[(String, Cell)],
) -> Rendered {
    let (cells, notes) = text_rows(rows);
    let summary = summary(rows);
    let stages = stage_rows(rows);
    let floor_lines: Vec<String> = floors
        .iter()
        .map(|(command, cell)| match cell {
            Cell::Measured { wall, peak_rss, .. } => {
                format!("`{command}`: {} / {}", ms(*wall), mib(*peak_rss))
            }
            Cell::Failed(e) => format!("`{command}`: failed: {e}"),
        })
        .collect();
    let floors_note = "Process start-up floors (trivial commands, measured the same way)";
    let stages_note = "Where flopscope's time goes at the fixed size, medians: each stage in a \
                       fresh process as `flopscope profile` runs it once (decode = map + \
                       protobuf + IR, profile = shapes + costs, report = per-node facts, JSON = \
                       the text, free = dropping it all, as the process does before it exits), \
                       their sum, the same sum warm (repeated in one process: cold \
                       minus warm is a new process's first touches of memory and code), and the \
                       whole process (whole minus in process is start-up, exit and output)";

    let mut table = terminal_table(&HEADER, &cells);
    table.push('\n');
    table.push_str(&format!(
        "time / peak RSS, medians of {runs} runs after a warm-up; ratios are time / RSS\n"
    ));
    for line in summary.iter().chain(&notes) {
        let _ = writeln!(table, "{line}");
    }
    let _ = writeln!(table, "\n{stages_note}:");
    table.push_str(&terminal_table(&STAGES_HEADER, &stages));
    let _ = writeln!(table, "\n{floors_note}:");
    for line in &floor_lines {
        let _ = writeln!(table, "  {line}");
    }
    let _ = writeln!(table, "\n{method}");

    let mut markdown = String::from("## flopscope vs onnx-tool vs ONNX shape inference\n\n");
    let _ = writeln!(markdown, "{method}\n");
    markdown.push_str(&markdown_table(&HEADER, 2, &cells));
    markdown.push('\n');
    for line in &summary {
        let _ = writeln!(markdown, "- {line}");
    }
    if !notes.is_empty() {
        markdown.push('\n');
        for line in &notes {
            let _ = writeln!(markdown, "- {line}");
        }
    }
    let _ = writeln!(markdown, "\n{stages_note}.\n");
    markdown.push_str(&markdown_table(&STAGES_HEADER, 1, &stages));
    let _ = writeln!(markdown, "\n{floors_note}:\n");
    for line in &floor_lines {
        let _ = writeln!(markdown, "- {line}");
    }
    Rendered { table, markdown }
}

/// Reads the fixed input sizes from `ANCHORS.json`: for each model file name, the first
/// `onnxruntime` entry's inputs.
fn anchored_sizes(zoo: &Path) -> Result<BTreeMap<String, BTreeMap<String, Vec<i64>>>> {
    let path = zoo.join("ANCHORS.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(BTreeMap::new());
    };
    let anchors: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let mut out = BTreeMap::new();
    for entry in anchors.as_object().into_iter().flat_map(|o| o.values()) {
        let (Some(file), Some(inputs)) = (
            entry.get("file").and_then(|f| f.as_str()),
            entry
                .pointer("/onnxruntime/0/inputs")
                .and_then(|i| i.as_object()),
        ) else {
            continue;
        };
        let inputs: Option<BTreeMap<String, Vec<i64>>> = inputs
            .iter()
            .map(|(name, dims)| {
                let dims: Option<Vec<i64>> = dims.as_array()?.iter().map(|d| d.as_i64()).collect();
                Some((name.clone(), dims?))
            })
            .collect();
        if let Some(inputs) = inputs {
            out.insert(file.to_owned(), inputs);
        }
    }
    Ok(out)
}

/// numpy's name for an element type (the same names flopscope uses, for the types numpy has).
fn numpy_dtype(dtype: Option<flopscope_ir::DType>) -> &'static str {
    use flopscope_ir::DType::*;
    match dtype {
        Some(
            d @ (Float32 | Float64 | Float16 | Int8 | Int16 | Int32 | Int64 | Uint8 | Uint16
            | Uint32 | Uint64 | Bool | Complex64 | Complex128),
        ) => d.name(),
        _ => "float32",
    }
}

/// The fixed inputs of `model` from its anchored sizes, typed from the model's declarations.
fn fixed_inputs(model: &Path, sizes: &BTreeMap<String, Vec<i64>>) -> Result<Vec<FixedInput>> {
    let loaded = flopscope_onnx::load(model)?;
    Ok(sizes
        .iter()
        .map(|(name, dims)| {
            let dtype = loaded
                .graph
                .find_value(name)
                .and_then(|id| loaded.graph.value(id).declared.as_ref())
                .and_then(|d| match d {
                    flopscope_ir::DeclaredType::Tensor { dtype, .. } => *dtype,
                    _ => None,
                });
            FixedInput {
                name: name.clone(),
                dims: dims.clone(),
                dtype: numpy_dtype(dtype).to_owned(),
            }
        })
        .collect())
}

/// onnx-tool, as its README profiles a model: `model_profile(path, {input: ndarray})`. The
/// per-node table it prints goes to standard output, which the measurement discards.
const ONNX_TOOL_SCRIPT: &str = "\
import sys, numpy, onnx_tool
shapes = {}
for arg in sys.argv[2:]:
    name, spec = arg.rsplit('=', 1)
    dims, dtype = spec.split(':')
    shapes[name] = numpy.zeros([int(d) for d in dims.split('x')], dtype=dtype)
onnx_tool.model_profile(sys.argv[1], shapes or None)
";

/// The baseline: load without external data, fix the inputs' dims, infer every shape.
const ONNX_INFER_SCRIPT: &str = "\
import sys, onnx
model = onnx.load(sys.argv[1], load_external_data=False)
fixed = {}
for arg in sys.argv[2:]:
    name, spec = arg.rsplit('=', 1)
    fixed[name] = [int(d) for d in spec.split(':')[0].split('x')]
for value in model.graph.input:
    if value.name in fixed:
        for dim, size in zip(value.type.tensor_type.shape.dim, fixed[value.name]):
            dim.dim_value = size
onnx.shape_inference.infer_shapes(model)
";

/// The Python interpreter to run, and the one with onnx-tool (`Err`: why there is none).
#[derive(Debug)]
struct Pythons {
    plain: OsString,
    onnx_tool: Result<OsString, String>,
}

/// Output of `python -c code`, or why it failed.
fn python_output(python: &OsString, code: &str) -> Result<String, String> {
    let out = Command::new(python)
        .args(["-c", code])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.to_string_lossy()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(measure::error_line(
            &String::from_utf8_lossy(&out.stderr),
            "exit status non-zero",
        ))
    }
}

/// Resolves the interpreter (a `python3` on PATH may be a shell-script shim, whose start-up
/// would be timed too) and makes sure onnx-tool is installed: into a virtualenv under
/// `target/bench-peers/venv` that sees the system's packages (onnx, numpy), on the first run.
fn pythons(python: &OsString) -> Result<Pythons> {
    let plain = python_output(python, "import sys, onnx; print(sys.executable)")
        .map_err(|e| anyhow::anyhow!("{} with onnx is needed: {e}", python.to_string_lossy()))?;
    let plain = OsString::from(plain);
    let venv = crate::workspace_root().join("target/bench-peers/venv");
    let venv_python: OsString = venv.join("bin/python").into();
    let check = format!(
        "import onnx_tool, importlib.metadata as m; \
         assert m.version('onnx-tool') == '{ONNX_TOOL_VERSION}', m.version('onnx-tool')"
    );
    if python_output(&venv_python, &check).is_ok() {
        return Ok(Pythons {
            plain,
            onnx_tool: Ok(venv_python),
        });
    }
    eprintln!(
        "installing onnx-tool {ONNX_TOOL_VERSION} into {} (first run only; it needs PyPI)",
        venv.display()
    );
    let install = || -> Result<(), String> {
        let run = |program: &OsString, args: &[&str]| -> Result<(), String> {
            let out = Command::new(program)
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                Err(measure::error_line(
                    &String::from_utf8_lossy(&out.stderr),
                    "failed",
                ))
            }
        };
        let venv = venv.to_string_lossy();
        run(
            &plain,
            &["-m", "venv", "--clear", "--system-site-packages", &venv],
        )
        .map_err(|e| format!("python -m venv: {e}"))?;
        run(
            &venv_python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("onnx-tool=={ONNX_TOOL_VERSION}"),
            ],
        )
        .map_err(|e| format!("pip install onnx-tool=={ONNX_TOOL_VERSION}: {e}"))?;
        python_output(&venv_python, &check).map(drop)
    };
    let onnx_tool = match install() {
        Ok(()) => Ok(venv_python),
        Err(e) => {
            eprintln!("warning: onnx-tool is not available, its column is skipped: {e}");
            Err(format!("onnx-tool not installed: {e}"))
        }
    };
    Ok(Pythons { plain, onnx_tool })
}

/// How time and memory are measured, for the Markdown.
pub(crate) fn method_text(runs: usize, python: &str, load: &str) -> String {
    format!(
        "Whole process, each command in a fresh process: wall time from before the fork to the \
         reaping, peak RSS as the kernel's `ru_maxrss` and CPU time as `ru_utime + ru_stime`, \
         all from `wait4`, read by a small helper process so that the caller's memory is no \
         floor; each command runs once to warm up, then the commands of a model take turns for \
         {runs} rounds, and cells are medians. Cells are time / peak RSS; ratios are the other \
         tool's time / flopscope's time and RSS / RSS, against flopscope at the same fixed \
         size. flopscope: the release binary, `flopscope profile MODEL --format json` \
         (standard output discarded, as for every tool). onnx-tool {ONNX_TOOL_VERSION}: \
         `onnx_tool.model_profile(MODEL, {{input: numpy.zeros(shape)}})`. onnx infer: \
         `onnx.load(MODEL, load_external_data=False)`, inputs fixed, \
         `onnx.shape_inference.infer_shapes`. Python: `{python}`. Machine: {load}."
    )
}

/// Runs the task.
pub(crate) fn run(opts: &Options) -> Result<Rendered> {
    if opts.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut models = crate::profile_zoo::find_models(&opts.zoo)?;
    if let Some(filter) = &opts.filter {
        models.retain(|m| crate::profile_zoo::label(&opts.zoo, m).contains(filter.as_str()));
    }
    if models.is_empty() {
        bail!(
            "no .onnx file under {} (with the filter)",
            opts.zoo.display()
        );
    }
    let sizes = anchored_sizes(&opts.zoo)?;
    let load_before = measure::machine_load();
    let flopscope = measure::build_flopscope()?;
    let pythons = pythons(&opts.python)?;
    let helper = std::env::current_exe().context("cannot find the xtask binary")?;

    let mut rows = Vec::new();
    for (i, path) in models.iter().enumerate() {
        let model = crate::profile_zoo::label(&opts.zoo, path);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        eprintln!("[{}/{}] {model}", i + 1, models.len());
        let fixed = match sizes.get(&file) {
            Some(sizes) => Some(fixed_inputs(path, sizes).with_context(|| model.clone())?),
            None => None,
        };
        let fs = |inputs: &[FixedInput]| {
            let mut cmd: Vec<OsString> = vec![
                flopscope.clone().into(),
                "profile".into(),
                path.into(),
                "--format".into(),
                "json".into(),
            ];
            for input in inputs {
                cmd.push("--input".into());
                cmd.push(format!("{}={}", input.name, shape_text(&input.dims)).into());
            }
            cmd
        };
        let python_args: Vec<OsString> = fixed
            .iter()
            .flatten()
            .map(|input| {
                format!("{}={}:{}", input.name, shape_text(&input.dims), input.dtype).into()
            })
            .collect();
        let python = |interpreter: &OsString, script: &str| {
            let mut cmd: Vec<OsString> = vec![interpreter.clone(), "-c".into(), script.into()];
            cmd.push(path.into());
            cmd.extend(python_args.iter().cloned());
            cmd
        };
        // The commands of this model take turns (see `measure::sample_interleaved`).
        let mut commands = vec![fs(&[])];
        if let Some(inputs) = &fixed {
            commands.push(fs(inputs));
        }
        if let Ok(interpreter) = &pythons.onnx_tool {
            commands.push(python(interpreter, ONNX_TOOL_SCRIPT));
        }
        commands.push(python(&pythons.plain, ONNX_INFER_SCRIPT));
        let mut cells = measure::sample_interleaved(opts.runs, commands.len(), |i| {
            measure::measure(&helper, &commands[i])
        })?
        .into_iter();
        let mut next = || cells.next().context("a cell per command");
        let flopscope_declared = next()?;
        let flopscope_fixed = match &fixed {
            Some(_) => Some(next()?),
            None => None,
        };
        let onnx_tool = match &pythons.onnx_tool {
            Ok(_) => next()?,
            Err(e) => Cell::Failed(e.clone()),
        };
        let onnx_infer = next()?;
        let inputs = fixed.as_deref().unwrap_or(&[]);
        let breakdown = breakdown(path, inputs, opts.runs)
            .and_then(|warm| {
                let cold = cold_stages(&helper, path, inputs, opts.runs)?;
                Ok(Stages { cold, warm })
            })
            .map_err(|e| format!("{e:#}"));
        rows.push(Row {
            model,
            size: fixed.as_ref().map_or_else(
                || "as declared".to_owned(),
                |inputs| {
                    inputs
                        .iter()
                        .map(|i| format!("{}={}", i.name, shape_text(&i.dims)))
                        .collect::<Vec<_>>()
                        .join(" ")
                },
            ),
            flopscope_declared,
            flopscope_fixed,
            onnx_tool,
            onnx_infer,
            breakdown,
        });
    }
    let mut floors: Vec<(String, Vec<OsString>)> = vec![(
        "flopscope --version".to_owned(),
        vec![flopscope.clone().into(), "--version".into()],
    )];
    for code in ["pass", "import onnx"] {
        floors.push((
            format!("python3 -c '{code}'"),
            vec![pythons.plain.clone(), "-c".into(), code.into()],
        ));
    }
    if let Ok(interpreter) = &pythons.onnx_tool {
        floors.push((
            "python3 -c 'import onnx_tool' (its virtualenv)".to_owned(),
            vec![interpreter.clone(), "-c".into(), "import onnx_tool".into()],
        ));
    }
    let cells = measure::sample_interleaved(opts.runs, floors.len(), |i| {
        measure::measure(&helper, &floors[i].1)
    })?;
    let floors: Vec<(String, Cell)> = floors.into_iter().map(|f| f.0).zip(cells).collect();
    let rendered = render(
        &rows,
        opts.runs,
        &method_text(
            opts.runs,
            &pythons.plain.to_string_lossy(),
            &format!(
                "before the runs {load_before}; after them {}",
                measure::machine_load()
            ),
        ),
        &floors,
    );
    if let Some(path) = &opts.markdown {
        std::fs::write(path, &rendered.markdown)
            .with_context(|| format!("{}: cannot write the file", path.display()))?;
    }
    Ok(rendered)
}

/// Where flopscope's time goes on one model, in process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Breakdown {
    /// Map, protobuf decode, lowering to the IR.
    pub decode: Duration,
    /// Shape inference, costs, totals.
    pub profile: Duration,
    /// The report (per-node facts, module paths).
    pub report: Duration,
    /// The JSON text.
    pub json: Duration,
    /// Freeing it all (as the process does before it exits).
    pub drop: Duration,
}

impl Breakdown {
    fn total(&self) -> Duration {
        self.decode + self.profile + self.report + self.json + self.drop
    }

    /// The median of each stage.
    fn median(runs: &[Breakdown]) -> Breakdown {
        let m = |f: fn(&Breakdown) -> Duration| {
            let v: Vec<f64> = runs.iter().map(|b| f(b).as_secs_f64()).collect();
            Duration::from_secs_f64(median(&v).unwrap_or(0.0))
        };
        Breakdown {
            decode: m(|b| b.decode),
            profile: m(|b| b.profile),
            report: m(|b| b.report),
            json: m(|b| b.json),
            drop: m(|b| b.drop),
        }
    }
}

/// The stages, cold (the first run in a fresh process, as `flopscope profile` runs them) and
/// warm (repeated in one process).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stages {
    pub cold: Breakdown,
    pub warm: Breakdown,
}

/// Runs flopscope's stages on `model` once, as `flopscope profile --format json` does
/// (`flopscope::cli`): load, profile, report, JSON text.
fn stages_once(model: &Path, inputs: &[(String, Vec<i64>)]) -> Result<Breakdown> {
    let options = flopscope_counters::ProfileOptions {
        inputs: inputs
            .iter()
            .map(|(name, dims)| {
                let dims = dims.iter().map(|&d| flopscope_ir::Dim::from(d)).collect();
                (name.clone(), dims)
            })
            .collect(),
        ..Default::default()
    };
    let t0 = Instant::now();
    let loaded = flopscope_onnx::load(model)?;
    let t1 = Instant::now();
    let profile = flopscope_counters::profile(&loaded, &options)
        .with_context(|| model.display().to_string())?;
    let t2 = Instant::now();
    let report = flopscope_report::Report::new(&model.display().to_string(), &loaded, &profile);
    let t3 = Instant::now();
    let json = report.to_json()?;
    let t4 = Instant::now();
    drop(std::hint::black_box((json, report, profile, loaded)));
    let t5 = Instant::now();
    Ok(Breakdown {
        decode: t1 - t0,
        profile: t2 - t1,
        report: t3 - t2,
        json: t4 - t3,
        drop: t5 - t4,
    })
}

fn named_dims(inputs: &[FixedInput]) -> Vec<(String, Vec<i64>)> {
    inputs
        .iter()
        .map(|i| (i.name.clone(), i.dims.clone()))
        .collect()
}

/// The stages warm: medians of `runs` runs in this process after a warm-up.
fn breakdown(model: &Path, inputs: &[FixedInput], runs: usize) -> Result<Breakdown> {
    let inputs = named_dims(inputs);
    let mut all = Vec::with_capacity(runs);
    for run in 0..=runs {
        let b = stages_once(model, &inputs)?;
        if run > 0 {
            all.push(b);
        }
    }
    Ok(Breakdown::median(&all))
}

/// The helper's entry point (`xtask measure-stages MODEL [NAME=DIMS]...`): runs the stages
/// once, cold, and prints their times in nanoseconds.
pub(crate) fn stages_main(model: &Path, inputs: &[String]) -> Result<()> {
    let inputs = inputs
        .iter()
        .map(|spec| {
            let (name, dims) = spec.rsplit_once('=').context("not NAME=DIMS")?;
            let dims = dims
                .split('x')
                .map(str::parse)
                .collect::<Result<Vec<i64>, _>>()
                .with_context(|| format!("`{spec}`: not NAME=AxB"))?;
            Ok((name.to_owned(), dims))
        })
        .collect::<Result<Vec<_>>>()?;
    let b = stages_once(model, &inputs)?;
    println!(
        "{} {} {} {} {}",
        b.decode.as_nanos(),
        b.profile.as_nanos(),
        b.report.as_nanos(),
        b.json.as_nanos(),
        b.drop.as_nanos()
    );
    Ok(())
}

/// The stages cold: each run in a fresh process (the xtask binary `helper`, whose start-up is
/// outside the timed stages), medians of `runs` runs after a warm-up.
fn cold_stages(
    helper: &Path,
    model: &Path,
    inputs: &[FixedInput],
    runs: usize,
) -> Result<Breakdown> {
    let mut all = Vec::with_capacity(runs);
    for run in 0..=runs {
        let out = Command::new(helper)
            .arg("measure-stages")
            .arg(model)
            .args(
                named_dims(inputs)
                    .iter()
                    .map(|(n, d)| format!("{n}={}", shape_text(d))),
            )
            .output()
            .context("cannot run the measuring helper")?;
        if !out.status.success() {
            bail!(
                "{}",
                measure::error_line(
                    &String::from_utf8_lossy(&out.stderr),
                    "measure-stages failed"
                )
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let ns: Vec<u64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("measure-stages printed no times")?;
        let [decode, profile, report, json, drop] = ns[..] else {
            bail!("measure-stages printed `{}`", text.trim());
        };
        if run > 0 {
            all.push(Breakdown {
                decode: Duration::from_nanos(decode),
                profile: Duration::from_nanos(profile),
                report: Duration::from_nanos(report),
                json: Duration::from_nanos(json),
                drop: Duration::from_nanos(drop),
            });
        }
    }
    Ok(Breakdown::median(&all))
}

/// The arguments of `cargo xtask bench-peers`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model folder [default: $FLOPSCOPE_SHARED/zoo, else ../shared/zoo from the
    /// workspace root].
    #[arg(long, value_name = "DIR")]
    pub(crate) zoo: Option<std::path::PathBuf>,
    /// Timed runs per command, after one warm-up run.
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<std::path::PathBuf>,
    /// The Python interpreter with onnx (and from which onnx-tool's virtualenv is made).
    #[arg(long, default_value = "python3")]
    pub(crate) python: std::ffi::OsString,
    /// Only the models whose path contains this.
    #[arg(long)]
    pub(crate) filter: Option<String>,
}

/// `cargo xtask bench-peers`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        zoo,
        runs,
        markdown,
        python,
        filter,
    } = args;
    let options = crate::bench_peers::Options {
        zoo: zoo.unwrap_or_else(|| crate::shared_dir().join("zoo")),
        runs,
        markdown,
        python,
        filter,
    };
    let rendered = crate::bench_peers::run(&options)?;
    print!("{}", rendered.table);
    Ok(())
}

/// The arguments of `cargo xtask measure-stages`.
#[derive(Debug, clap::Args)]
pub(crate) struct StagesArgs {
    pub(crate) model: std::path::PathBuf,
    /// `NAME=AxB...`, the input sizes.
    pub(crate) inputs: Vec<String>,
}

/// `cargo xtask measure-stages`.
pub(crate) fn stages(args: StagesArgs) -> anyhow::Result<()> {
    let StagesArgs { model, inputs } = args;
    crate::bench_peers::stages_main(&model, &inputs)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn measured(ms: u64, mib: u64) -> Cell {
        // Half the wall time on the CPU: CPU ratios are the wall ones.
        Cell::Measured {
            wall: Duration::from_millis(ms),
            peak_rss: mib << 20,
            cpu: Duration::from_micros(ms * 500),
        }
    }

    fn row(model: &str, onnx_tool: Cell) -> Row {
        Row {
            model: model.to_owned(),
            size: "input=1x3x224x224".to_owned(),
            flopscope_declared: measured(12, 9),
            flopscope_fixed: Some(measured(10, 8)),
            onnx_tool,
            onnx_infer: measured(250, 40),
            breakdown: Ok(Stages {
                cold: Breakdown {
                    decode: Duration::from_millis(2),
                    profile: Duration::from_millis(3),
                    report: Duration::from_millis(1),
                    json: Duration::from_millis(1),
                    drop: Duration::ZERO,
                },
                warm: Breakdown {
                    decode: Duration::from_millis(1),
                    profile: Duration::from_millis(2),
                    report: Duration::from_millis(1),
                    json: Duration::from_millis(1),
                    drop: Duration::ZERO,
                },
            }),
        }
    }

    fn floors() -> Vec<(String, Cell)> {
        vec![
            ("flopscope --version".to_owned(), measured(1, 2)),
            (
                "python3 -c 'pass'".to_owned(),
                Cell::Failed("gone".to_owned()),
            ),
        ]
    }

    #[test]
    fn a_failing_tool_is_a_cell_with_its_error_under_the_table() {
        let rows = [
            row("a.onnx", measured(1000, 80)),
            row(
                "b.onnx",
                Cell::Failed("ValueError: cannot select an axis".to_owned()),
            ),
            row("c.onnx", measured(200, 64)),
        ];
        let out = render(&rows, 5, "method", &floors());
        let (cells, notes) = text_rows(&rows);
        assert_eq!(cells[0][2], "12.0 ms / 9.0 MiB");
        assert_eq!(cells[0][3], "10.0 ms / 8.0 MiB");
        assert_eq!(cells[0][6], "100× / 10×");
        assert_eq!(cells[0][7], "25× / 5.0×");
        assert_eq!(cells[1][4], "failed [1]");
        assert_eq!(cells[1][6], "-");
        assert_eq!(
            notes,
            ["[1] onnx-tool on b.onnx: ValueError: cannot select an axis"]
        );
        // Only the models both measured enter the spread; c misses the 30× target.
        assert!(
            out.table.contains(
                "onnx-tool ÷ flopscope over 2 models: time min 20× / median 60× / max 100×"
            )
        );
        assert!(
            out.table.contains(
                "onnx infer ÷ flopscope over 3 models: time min 25× / median 25× / max 25×"
            )
        );
        assert!(out.markdown.contains("| b.onnx | input=1x3x224x224 |"));
        assert!(
            out.markdown
                .contains("- [1] onnx-tool on b.onnx: ValueError")
        );
        assert!(
            out.markdown
                .contains("missed on 1 of 2 models: c.onnx (20×)")
        );
        assert!(
            out.table
                .contains("CPU time min 20× / median 60× / max 100×")
        );
        assert!(
            out.table
                .contains("the same in CPU time: under 30× on c.onnx (20×)")
        );
        // Where flopscope's time goes, beside its whole-process time; the start-up floors.
        assert!(out.markdown.contains(
            "| a.onnx | 2.0 ms | 3.0 ms | 1.0 ms | 1.0 ms | 0.0 ms | 7.0 ms | 5.0 ms | 10.0 ms |"
        ));
        assert!(
            out.table
                .contains("`flopscope --version`: 1.0 ms / 2.0 MiB")
        );
        assert!(out.markdown.contains("- `python3 -c 'pass'`: failed: gone"));
    }

    #[test]
    fn without_a_fixed_size_the_declared_profile_is_compared() {
        // The declared profile (12 ms, 9 MiB) is the reference: 360 ms / 18 MiB is 30× / 2×.
        let mut r = row("d.onnx", measured(360, 18));
        r.flopscope_fixed = None;
        r.size = "as declared".to_owned();
        let out = render(&[r], 3, "method", &floors());
        assert!(out.table.contains("30× / 2.0×"));
        assert!(out.table.contains("met on all 1 models"));
        assert!(
            out.table
                .contains("the same in CPU time: at least 30× on every model")
        );
        assert!(out.table.contains("medians of 3 runs"));
    }

    #[test]
    fn no_ratio_without_two_measurements() {
        let failed = Cell::Failed("x".to_owned());
        assert_eq!(ratios(&failed, &measured(1, 1)), None);
        assert_eq!(ratios(&measured(1, 1), &failed), None);
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(times(3.24), "3.2×");
        assert_eq!(times(31.4), "31×");
    }

    #[test]
    fn fixed_sizes_come_from_the_anchors_and_the_models_types() {
        let dir =
            std::env::temp_dir().join(format!("flopscope-bench-peers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ANCHORS.json"),
            r#"{"m": {"file": "m.onnx", "onnxruntime": [{"inputs": {"input": [1, 3, 224, 224]}},
                {"inputs": {"input": [2, 3, 320, 320]}}]},
                "other": {"file": "o.onnx"}}"#,
        )
        .unwrap();
        let sizes = anchored_sizes(&dir).unwrap();
        assert_eq!(sizes.len(), 1);
        assert_eq!(sizes["m.onnx"]["input"], [1, 3, 224, 224]);
        assert!(anchored_sizes(&dir.join("missing")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();

        let model = crate::workspace_root().join("fixtures/models/tiny_gpt2.onnx");
        let sizes = BTreeMap::from([("input_ids".to_owned(), vec![1, 128])]);
        let inputs = fixed_inputs(&model, &sizes).unwrap();
        assert_eq!(
            inputs,
            [FixedInput {
                name: "input_ids".to_owned(),
                dims: vec![1, 128],
                dtype: "int64".to_owned()
            }]
        );
    }
}
