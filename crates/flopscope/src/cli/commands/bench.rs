//! `flopscope bench`: the model run in ONNX Runtime, joined with flopscope's counts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use crate::cli::Terminal;
use crate::cli::args::{HardwareArgs, ShapeArgs, profile_options, write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProviderArg {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OptLevelArg {
    Disable,
    Basic,
    Extended,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .onnx file (optional with --calibrate). A weight-stripped model runs with made-up
    /// weights.
    pub(crate) model: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) shapes: ShapeArgs,
    /// Untimed runs first.
    #[arg(long, default_value_t = 5)]
    pub(crate) warmup: usize,
    /// Timed runs.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) runs: u64,
    /// Runs under ONNX Runtime's profiler, for the per-kernel times (0: none).
    #[arg(long, default_value_t = 10)]
    pub(crate) profile_runs: usize,
    /// Intra-op threads [default: ONNX Runtime's, one per core].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = ProviderArg::Cpu)]
    pub(crate) provider: ProviderArg,
    /// ONNX Runtime's graph optimizations.
    #[arg(long, value_enum, default_value_t = OptLevelArg::All)]
    pub(crate) opt_level: OptLevelArg,
    /// Measure this machine's compute and memory peaks (a large GEMM and a large Add) and
    /// cache them; later benches classify kernels with them.
    #[arg(long)]
    pub(crate) calibrate: bool,
    #[arg(long, value_enum, default_value_t = BenchFormat::Table)]
    pub(crate) format: BenchFormat,
    /// Draw the roofline (each kernel by intensity and achieved GFLOPS) into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Show every kernel, not the 15 slowest.
    #[arg(long)]
    pub(crate) all: bool,
    /// The estimated time, beside the measured latency.
    #[command(flatten)]
    pub(crate) hardware: HardwareArgs,
}

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
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
    let report = crate::bench::bench_file(&model, &ir, &options, runtime, &cfg, peaks).map_err(
        |e| match e {
            crate::Error::Bench(crate::bench::BenchError::Unsized { .. }) => {
                anyhow::anyhow!("{e} (--input or --dim)")
            }
            e => e.into(),
        },
    )?;
    let report = match args.hardware.resolve()? {
        Some(hardware) => report.with_hardware(hardware)?,
        None => report,
    };
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
                flopscope_report::TableStyle {
                    color: false,
                    width: term.width,
                },
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
