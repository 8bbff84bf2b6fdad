//! The `flopscope` command line.
//!
//! Exit codes: 0 success; 1 the model could not be loaded or profiled (one line on stderr);
//! 2 bad command-line usage; 3 a `diff --fail-above` gate failed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use flopscope_counters::{DeclaredOp, ProfileOptions, registry};
use flopscope_ir::Dim;
use flopscope_report::{
    Comparison, Convention, Report, ReportDiff, Units, View, ViewOptions, render_comparison,
    render_html, render_svg, render_view_csv, render_view_markdown, render_view_table,
};

#[derive(Debug, Parser)]
#[command(
    name = "flopscope",
    version,
    about = "What an ONNX model costs: MACs, FLOPs, params, memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count the MACs, FLOPs, params and memory of a model, per node and in total.
    Profile(ProfileArgs),
    /// Count a model as thop, ptflops, fvcore, torch's FlopCounterMode and onnx-tool would,
    /// side by side and by op class, with what each counts and ignores.
    Compare(CompareArgs),
    /// The totals over a grid of input sizes (the batch × resolution study), with ratios to
    /// the first point and how each total grows with the model's dims.
    Sweep(SweepArgs),
    /// What changed between two models or two JSON reports: totals with Δ and Δ%, then the
    /// modules and nodes added, removed and changed.
    Diff(DiffArgs),
    /// Run the model in ONNX Runtime: latency, throughput and achieved GFLOPS, and the time,
    /// intensity and bound of every kernel, joined with flopscope's counts.
    Bench(BenchArgs),
    /// List the ops flopscope can count, with their cost formulas.
    Ops(OpsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProviderArg {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OptLevelArg {
    Disable,
    Basic,
    Extended,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// The .onnx file (optional with --calibrate). A weight-stripped model runs with made-up
    /// weights.
    model: Option<PathBuf>,
    #[command(flatten)]
    shapes: ShapeArgs,
    /// Untimed runs first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Timed runs.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Runs under ONNX Runtime's profiler, for the per-kernel times (0: none).
    #[arg(long, default_value_t = 10)]
    profile_runs: usize,
    /// Intra-op threads [default: ONNX Runtime's, one per core].
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = ProviderArg::Cpu)]
    provider: ProviderArg,
    /// ONNX Runtime's graph optimizations.
    #[arg(long, value_enum, default_value_t = OptLevelArg::All)]
    opt_level: OptLevelArg,
    /// Measure this machine's compute and memory peaks (a large GEMM and a large Add) and
    /// cache them; later benches classify kernels with them.
    #[arg(long)]
    calibrate: bool,
    #[arg(long, value_enum, default_value_t = BenchFormat::Table)]
    format: BenchFormat,
    /// Draw the roofline (each kernel by intensity and achieved GFLOPS) into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Show every kernel, not the 15 slowest.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Table,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The old model (.onnx) or report (.json, written by `profile --format json`).
    old: PathBuf,
    /// The new model or report.
    new: PathBuf,
    /// Input shapes and dims, given to both models alike.
    #[command(flatten)]
    shapes: ShapeArgs,
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    format: DiffFormat,
    /// How many levels of modules to compare.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// `human` (+17.06 K) or `raw` (+17,056).
    #[arg(long, value_enum, default_value_t = UnitsArg::Human)]
    units: UnitsArg,
    /// No colour even on a terminal.
    #[arg(long)]
    no_color: bool,
    /// Exit with status 3 (after printing the diff) when the MACs or the params grew by more
    /// than PCT percent: a CI gate.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    fail_above: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Markdown,
    Csv,
    /// One self-contained page: totals, the chart and every view.
    Html,
    /// The chart of the heaviest modules alone.
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ViewArg {
    Layers,
    Tree,
    Ops,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum UnitsArg {
    Human,
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SweepFormat {
    Table,
    Markdown,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// The .onnx file.
    model: PathBuf,
    /// A named dim and its values: batch=1,32.
    #[arg(long = "dim", value_name = "NAME=V1,V2,...", value_parser = parse_dim_values)]
    dims: Vec<(String, Vec<i64>)>,
    /// Image sizes: each sets the height and width dims (axes 2 and 3 of NCHW inputs) together.
    #[arg(long, value_name = "S1,S2,...", value_delimiter = ',')]
    size: Option<Vec<i64>>,
    /// An input's shape, or several separated by `;` to sweep them (models with fixed dims):
    /// data_0=1x3x224x224;1x3x320x320.
    #[arg(long = "input", value_name = "NAME=SHAPE[;SHAPE...]", value_parser = parse_input_shapes)]
    inputs: Vec<(String, Vec<Vec<Dim>>)>,
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    format: SweepFormat,
    /// Also draw MACs and peak memory against the swept size into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Custom ops declared in a TOML file: their output shapes and cost (docs/op-costs.md).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    op_costs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// What to profile: the model and the shapes and values of its inputs.
#[derive(Debug, clap::Args)]
struct ModelArgs {
    /// The .onnx file.
    model: PathBuf,
    #[command(flatten)]
    shapes: ShapeArgs,
}

/// The shapes and values to give a model's inputs.
#[derive(Debug, Clone, clap::Args)]
struct ShapeArgs {
    /// Fix an input's shape: NAME=1x3x224x224, or NAME=batch,3,224,224 to keep a dim named.
    #[arg(long = "input", value_name = "NAME=SHAPE", value_parser = parse_input)]
    inputs: Vec<(String, Vec<Dim>)>,
    /// Give a named dim a value everywhere it appears: batch=32.
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim)]
    dims: Vec<(String, Dim)>,
    /// Bind an input to a serialized TensorProto (or SequenceProto / OptionalProto): its shape,
    /// and for a small tensor its values (for models whose shapes are computed from inputs).
    #[arg(long = "input-value", value_name = "NAME=FILE.pb", value_parser = parse_input_value)]
    input_values: Vec<(String, PathBuf)>,
    /// Custom ops declared in a TOML file: their output shapes and cost (docs/op-costs.md).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    op_costs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ProfileArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// What to show: one row per layer, the module tree, op types, or memory.
    #[arg(long, value_enum, default_value_t = ViewArg::Layers)]
    view: ViewArg,
    /// Layers view: also show data-movement and constant nodes.
    #[arg(long)]
    all: bool,
    /// Tree view: how many levels of modules to show.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// `human` (300.77 MMACs) or `raw` (300,774,272).
    #[arg(long, value_enum, default_value_t = UnitsArg::Human)]
    units: UnitsArg,
    /// No colour even on a terminal (colour is never used when the output is not a terminal).
    #[arg(long)]
    no_color: bool,
    /// Fail (exit 1, after printing the report) when any node is uncounted: for CI.
    #[arg(long)]
    strict: bool,
    /// Also count the model as another tool does, next to flopscope's figures (per node and
    /// in total): flopscope, thop, ptflops, ptflops-aten, fvcore, torch or onnx-tool.
    #[arg(long, value_name = "TOOL", value_parser = parse_convention)]
    convention: Option<Convention>,
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_convention(s: &str) -> Result<Convention, String> {
    s.parse()
        .map_err(|e: flopscope_report::UnknownConvention| e.to_string())
}

#[derive(Debug, clap::Args)]
struct OpsArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also list the ops declared in a TOML file (after the built-ins, marked as declared).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    op_costs: Vec<PathBuf>,
}

/// `NAME=1x3x224x224` (integers separated by `x`) or `NAME=batch,3,224,224` (dim expressions
/// separated by commas). The name is everything before the last `=`.
fn parse_input(s: &str) -> Result<(String, Vec<Dim>), String> {
    let (name, shape) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=SHAPE (for example input=1x3x224x224)"))?;
    if name.is_empty() {
        return Err(format!("`{s}` has no input name before `=`"));
    }
    let dims: Result<Vec<Dim>, String> = if shape.trim().is_empty() {
        Ok(Vec::new())
    } else if shape.contains(',') {
        shape
            .split(',')
            .map(|d| Dim::parse(d.trim()).map_err(|e| e.to_string()))
            .collect()
    } else {
        shape
            .split('x')
            .map(|d| {
                d.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .map(Dim::from_i64)
                    .ok_or_else(|| {
                        format!("`{d}` in `{shape}` is not a dim size (use commas for named dims)")
                    })
            })
            .collect()
    };
    Ok((name.to_owned(), dims?))
}

/// A percentage of at least 0.
fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p >= 0.0)
        .ok_or_else(|| format!("`{s}` is not a percentage of at least 0"))
}

/// `NAME=FILE`.
fn parse_input_value(s: &str) -> Result<(String, PathBuf), String> {
    match s.rsplit_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(file)))
        }
        _ => Err(format!("`{s}` is not NAME=FILE.pb")),
    }
}

/// `NAME=V1,V2,...`, non-negative integers (`--dim` of `sweep` and of `cargo xtask
/// profile-zoo`).
pub fn parse_dim_values(s: &str) -> Result<(String, Vec<i64>), String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=V1,V2 (for example batch=1,32)"))?;
    let values = values
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("`{v}` in `{s}` is not a dim size"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.trim().to_owned(), values))
}

/// `NAME=SHAPE[;SHAPE...]`, each shape as `--input` reads it.
fn parse_input_shapes(s: &str) -> Result<(String, Vec<Vec<Dim>>), String> {
    let (name, shapes) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=SHAPE[;SHAPE...]"))?;
    let shapes = shapes
        .split(';')
        .map(|shape| parse_input(&format!("{name}={shape}")).map(|(_, dims)| dims))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_owned(), shapes))
}

/// `NAME=VALUE`, the value an integer or a dim expression.
fn parse_dim(s: &str) -> Result<(String, Dim), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE (for example batch=32)"))?;
    let value = Dim::parse(value.trim()).map_err(|e| e.to_string())?;
    Ok((name.trim().to_owned(), value))
}

fn write(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the output")
}

/// Loads and profiles the model into a report.
fn report(args: ModelArgs) -> Result<Report> {
    report_of(&args.model, args.shapes)
}

fn report_of(path: &Path, args: ShapeArgs) -> Result<Report> {
    let model = flopscope_onnx::load(path)?;
    let options = profile_options(&model, args)?;
    let profile = crate::profile_model(path, &model, &options)?;
    Ok(Report::new(&path.display().to_string(), &model, &profile))
}

/// The profile options the shape arguments ask for (`--input-value` files are read against
/// the model's declared input kinds).
fn profile_options(model: &flopscope_ir::Model, args: ShapeArgs) -> Result<ProfileOptions> {
    let mut options = ProfileOptions::default();
    for (name, shape) in args.inputs {
        if options.inputs.insert(name.clone(), shape).is_some() {
            bail!("--input `{name}` is given twice");
        }
    }
    let mut dims = BTreeMap::new();
    for (name, value) in args.dims {
        if dims.insert(name.clone(), value).is_some() {
            bail!("--dim `{name}` is given twice");
        }
    }
    options.dims = dims;
    options.declared_ops = crate::op_costs::declared(&crate::op_costs::load_all(&args.op_costs)?);
    for (name, file) in &args.input_values {
        let value = crate::load_input_value(model, name, file)?;
        if options.input_values.insert(name.clone(), value).is_some() {
            bail!("--input-value `{name}` is given twice");
        }
    }
    Ok(options)
}

fn profile(args: ProfileArgs, out: &mut dyn Write, tty: bool) -> Result<()> {
    let mut report = report(args.model)?;
    if let Some(convention) = args.convention {
        report = report.with_convention(convention);
    }
    let options = ViewOptions {
        view: match args.view {
            ViewArg::Layers => View::Layers,
            ViewArg::Tree => View::Tree,
            ViewArg::Ops => View::Ops,
            ViewArg::Memory => View::Memory,
        },
        units: match args.units {
            UnitsArg::Human => Units::Human,
            UnitsArg::Raw => Units::Raw,
        },
        all_nodes: args.all,
        depth: args.depth,
        color: tty && !args.no_color,
    };
    if args.strict
        && let Some(d) = report.derived_dims.first()
    {
        bail!(
            "--strict: node `{}` ({}): the size `{}` is derived ({}); bind it with --dim {}=VALUE",
            d.node,
            d.op_type,
            d.symbol,
            d.reason,
            d.symbol
        );
    }
    match args.format {
        ReportFormat::Table => write(out, &render_view_table(&report, &options))?,
        ReportFormat::Markdown => write(out, &render_view_markdown(&report, &options))?,
        ReportFormat::Csv => write(out, &render_view_csv(&report, &options))?,
        ReportFormat::Json => write(out, &(report.to_json()? + "\n"))?,
        ReportFormat::Html => write(out, &render_html(&report, &options))?,
        ReportFormat::Svg => write(out, &render_svg(&report))?,
    }
    if args.strict && !report.uncounted.is_empty() {
        let ops: Vec<String> = report
            .uncounted
            .iter()
            .map(|u| format!("{}::{} ×{}", u.domain, u.op_type, u.nodes.len()))
            .collect();
        bail!(
            "--strict: {} uncounted ({}); the totals are lower bounds",
            ops.len(),
            ops.join(", ")
        );
    }
    Ok(())
}

fn compare(args: CompareArgs, out: &mut dyn Write) -> Result<()> {
    let comparison = Comparison::new(&report(args.model)?);
    match args.format {
        Format::Table => write(out, &render_comparison(&comparison)),
        Format::Json => write(out, &(comparison.to_json()? + "\n")),
    }
}

fn sweep(args: SweepArgs, out: &mut dyn Write) -> Result<()> {
    let model = flopscope_onnx::load(&args.model)?;
    let declared = crate::op_costs::load_all(&args.op_costs)?;
    let request = crate::sweep::SweepRequest {
        dims: args.dims,
        sizes: args.size,
        inputs: args.inputs,
        declared_ops: crate::op_costs::declared(&declared),
    };
    let report = crate::sweep::sweep(&args.model, &model, &request)?;
    if let Some(plot) = &args.plot {
        std::fs::write(plot, report.render_svg())
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    match args.format {
        SweepFormat::Table => write(out, &report.render_table()),
        SweepFormat::Markdown => write(out, &report.render_markdown()),
        SweepFormat::Csv => write(out, &report.render_csv()),
        SweepFormat::Json => write(out, &(report.to_json()? + "\n")),
    }
}

fn bench(args: BenchArgs, out: &mut dyn Write) -> Result<()> {
    use flopscope_ort::bench::{BenchConfig, OptLevel, Provider};
    if args.model.is_none() && !args.calibrate {
        bail!("bench needs a MODEL (or --calibrate to measure this machine's peaks)");
    }
    let cfg = BenchConfig {
        warmup: args.warmup,
        runs: usize::try_from(args.runs).unwrap_or(usize::MAX),
        profiled_runs: args.profile_runs,
        threads: args.threads,
        provider: match args.provider {
            ProviderArg::Cpu => Provider::Cpu,
            ProviderArg::Cuda => Provider::Cuda,
        },
        opt_level: match args.opt_level {
            OptLevelArg::Disable => OptLevel::Disable,
            OptLevelArg::Basic => OptLevel::Basic,
            OptLevelArg::Extended => OptLevel::Extended,
            OptLevelArg::All => OptLevel::All,
        },
    };
    // The model is read, and its external data checked, before ONNX Runtime is loaded: data
    // outside the model's folder is refused whether or not the runtime is installed.
    let model = match &args.model {
        Some(path) => {
            let ir = flopscope_onnx::load(path)?;
            flopscope_ort::bench::check_external_data(path, &ir)?;
            Some((path.clone(), ir))
        }
        None => None,
    };
    let runtime = flopscope_ort::Runtime::load()?;
    let cache = crate::bench::cache_dir();
    let mut peaks = None;
    if args.calibrate {
        let dir = cache
            .as_deref()
            .context("no cache folder: set FLOPSCOPE_CACHE_DIR or HOME")?;
        let p = crate::bench::calibrate(dir, runtime, &cfg)?;
        if args.format == BenchFormat::Table || model.is_none() {
            write(
                out,
                &format!(
                    "Machine peaks: {:.1} GFLOPS, {:.1} GB/s, ridge {:.1} FLOPs/byte\n  {}\n  cached in {}\n",
                    p.gflops,
                    p.gbps,
                    p.ridge,
                    p.method,
                    dir.join("peaks.json").display()
                ),
            )?;
        }
        peaks = Some(p);
    } else if let Some(dir) = &cache {
        peaks = crate::bench::cached_peaks(dir, runtime, &cfg)?;
    }
    let Some((model, ir)) = model else {
        return Ok(());
    };
    let options = profile_options(&ir, args.shapes)?;
    let report = crate::bench::bench_file(&model, &ir, &options, runtime, &cfg, peaks)?;
    let bench = report.bench.as_ref().context("the bench section")?;
    if let Some(plot) = &args.plot {
        std::fs::write(plot, flopscope_report::render_roofline_svg(bench))
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    let top = if args.all { None } else { Some(15) };
    let sections = bench.sections(&report, top);
    match args.format {
        BenchFormat::Json => write(out, &(report.to_json()? + "\n")),
        BenchFormat::Table => write(
            out,
            &flopscope_report::render_sections_table(
                &flopscope_report::views::preamble(&report),
                &sections,
                false,
            ),
        ),
        BenchFormat::Markdown => write(
            out,
            &flopscope_report::render_sections_markdown(
                &report.model.path,
                &flopscope_report::views::markdown_preamble_of(&report),
                &sections,
            ),
        ),
    }
}

/// A `diff --fail-above` gate that did not hold.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GateFailed(String);

/// A report from a JSON file, or from profiling a model.
fn report_or_json(path: &Path, shapes: &ShapeArgs) -> Result<Report> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return report_of(path, shapes.clone());
    }
    if !shapes.inputs.is_empty() || !shapes.dims.is_empty() || !shapes.input_values.is_empty() {
        bail!(
            "{}: --input, --dim and --input-value apply to models, not to JSON reports",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let report = Report::from_json(&text)
        .with_context(|| format!("{}: not a flopscope JSON report", path.display()))?;
    if report.schema_version > flopscope_report::SCHEMA_VERSION {
        bail!(
            "{}: report schema version {} is newer than this flopscope reads ({})",
            path.display(),
            report.schema_version,
            flopscope_report::SCHEMA_VERSION
        );
    }
    Ok(report)
}

fn diff(args: DiffArgs, out: &mut dyn Write, tty: bool) -> Result<()> {
    let old = report_or_json(&args.old, &args.shapes)?;
    let new = report_or_json(&args.new, &args.shapes)?;
    let diff = ReportDiff::new(&old, &new, args.depth);
    let units = match args.units {
        UnitsArg::Human => Units::Human,
        UnitsArg::Raw => Units::Raw,
    };
    match args.format {
        DiffFormat::Table => write(out, &diff.render_table(units, tty && !args.no_color))?,
        DiffFormat::Markdown => write(out, &diff.render_markdown(units))?,
        DiffFormat::Json => write(out, &(diff.to_json()? + "\n"))?,
    }
    let Some(limit) = args.fail_above else {
        return Ok(());
    };
    let mut breaches = Vec::new();
    for (key, label) in [("macs", "MACs"), ("params", "params")] {
        let Some(t) = diff.total(key) else { continue };
        match (t.delta_percent, t.delta.as_i64()) {
            (_, Some(0)) => {}
            (Some(p), _) if p > limit => {
                breaches.push(format!("{label} grew by {p:.2}% (more than {limit}%)"));
            }
            (Some(_), _) => {}
            (None, Some(d)) if d > 0 => {
                breaches.push(format!("{label} grew from 0 to {}", t.new));
            }
            (None, Some(_)) => {}
            (None, None) => bail!(
                "--fail-above: the {label} delta is symbolic ({}); give --input or --dim to fix the sizes",
                t.delta.factored()
            ),
        }
    }
    if breaches.is_empty() {
        Ok(())
    } else {
        Err(GateFailed(breaches.join("; ")).into())
    }
}

fn ops(args: OpsArgs, out: &mut dyn Write) -> Result<()> {
    let defs: Vec<_> = registry().iter().collect();
    let declared = crate::op_costs::load_all(&args.op_costs)?;
    let place = |op: &crate::op_costs::TomlOp| format!("{}:{}", op.file().display(), op.location());
    match args.format {
        Format::Json => {
            let mut rows: Vec<serde_json::Value> = defs
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "domain": d.domain_name(),
                        "op_type": d.op_type,
                        "opsets": d.opsets.to_string(),
                        "formula": d.formula,
                        "declared": false,
                    })
                })
                .collect();
            rows.extend(declared.iter().map(|op| {
                serde_json::json!({
                    "domain": flopscope_ir::display_domain(op.domain()),
                    "op_type": op.op_type(),
                    "opsets": "any",
                    "formula": op.formula(),
                    "declared": true,
                    "declared_in": place(op),
                })
            }));
            write(out, &(serde_json::to_string_pretty(&rows)? + "\n"))
        }
        Format::Table => {
            let mut per_domain: BTreeMap<&str, BTreeMap<&str, ()>> = BTreeMap::new();
            for d in &defs {
                per_domain
                    .entry(d.domain_name())
                    .or_default()
                    .insert(d.op_type, ());
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(vec!["Domain", "Op", "Opsets", "Cost formula"]);
            for d in &defs {
                t.add_row(vec![
                    d.domain_name(),
                    d.op_type,
                    &d.opsets.to_string(),
                    d.formula,
                ]);
            }
            for op in &declared {
                t.add_row(vec![
                    flopscope_ir::display_domain(op.domain()).to_owned(),
                    op.op_type().to_owned(),
                    "any (declared)".to_owned(),
                    op.formula(),
                ]);
            }
            let summary = per_domain
                .iter()
                .map(|(d, ops)| format!("{d}: {} ops", ops.len()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = format!("{t}\n{summary} ({} records)\n", defs.len());
            if !declared.is_empty() {
                let places: Vec<String> = declared
                    .iter()
                    .map(|op| format!("{} ({})", op.qualified_name(), place(op)))
                    .collect();
                text.push_str(&format!(
                    "declared with --op-costs: {}\n",
                    places.join(", ")
                ));
            }
            write(out, &text)
        }
    }
}

/// Runs the CLI on the given arguments (the first is the program name), writing what it prints
/// to `out` and `err` (never in colour).
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_on(args, out, err, false)
}

/// [`run_with`], with colour allowed when `tty` (`out` is a terminal and `NO_COLOR` is unset).
pub fn run_on<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, tty: bool) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to `out` with status 0; usage errors to `err` with 2.
            let text = e.render().to_string();
            return if e.use_stderr() {
                let _ = write!(err, "{text}");
                ExitCode::from(2)
            } else {
                let _ = write!(out, "{text}");
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Profile(args) => profile(args, out, tty),
        Command::Compare(args) => compare(args, out),
        Command::Sweep(args) => sweep(args, out),
        Command::Diff(args) => diff(args, out, tty),
        Command::Bench(args) => bench(args, out),
        Command::Ops(args) => ops(args, out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<GateFailed>() => {
            let _ = writeln!(err, "diff --fail-above: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The entry point of the `flopscope` binary: `fn main() -> ExitCode { flopscope::cli::main() }`.
/// A binary that links plugin crates calls this too, after `use my_plugin as _;`.
pub fn main() -> ExitCode {
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    run_on(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        tty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_specs() {
        let (name, dims) = parse_input("gpu_0/data_0=1x3x224x224").unwrap();
        assert_eq!(name, "gpu_0/data_0");
        assert_eq!(
            dims,
            vec![
                Dim::from_i64(1),
                Dim::from_i64(3),
                Dim::from_i64(224),
                Dim::from_i64(224)
            ]
        );
        let (_, dims) = parse_input("input=batch,3,224,224").unwrap();
        assert_eq!(dims[0], Dim::sym("batch"));
        assert!(parse_input("input=1xAx3").is_err());
        assert!(parse_input("1x3").is_err());
        assert!(parse_input("=1x3").is_err());
        let (_, dims) = parse_input("scalar=").unwrap();
        assert!(dims.is_empty());
    }

    #[test]
    fn dim_specs() {
        assert_eq!(
            parse_dim("batch=32").unwrap(),
            ("batch".into(), Dim::from_i64(32))
        );
        assert!(parse_dim("batch").is_err());
        assert!(parse_dim("batch=3+").is_err());
    }
}
