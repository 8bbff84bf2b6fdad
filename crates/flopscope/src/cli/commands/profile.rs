//! `flopscope profile`: a model's costs per node and in total, in one of its views.

use std::io::Write;

use anyhow::{Result, bail};
use clap::ValueEnum;
use flopscope_report::{
    Convention, View, ViewOptions, render_html, render_svg, render_view_csv, render_view_markdown,
    render_view_table,
};

use crate::cli::Terminal;
use crate::cli::args::{HardwareArgs, ModelArgs, StyleArgs, parse_convention, report, write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
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
pub(crate) enum ViewArg {
    Layers,
    Tree,
    Ops,
    Memory,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(crate) format: ReportFormat,
    /// What to show: one row per layer, the module tree, op types, or memory.
    #[arg(long, value_enum, default_value_t = ViewArg::Layers)]
    pub(crate) view: ViewArg,
    /// Layers view: also show data-movement and constant nodes.
    #[arg(long)]
    pub(crate) all: bool,
    /// Tree view: how many levels of modules to show.
    #[arg(long, default_value_t = 3)]
    pub(crate) depth: usize,
    #[command(flatten)]
    pub(crate) style: StyleArgs,
    /// Fail (exit 1, after printing the report) when any node is uncounted: for CI.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Also count the model as another tool does, next to flopscope's figures (per node and
    /// in total): flopscope, thop, ptflops, ptflops-aten, fvcore, torch or onnx-tool.
    #[arg(long, value_name = "TOOL", value_parser = parse_convention)]
    pub(crate) convention: Option<Convention>,
    /// Each node's estimated time, and the total.
    #[command(flatten)]
    pub(crate) hardware: HardwareArgs,
    /// With --hardware: draw the roofline (each node by FLOPs per byte and estimated rate).
    #[arg(long, value_name = "FILE.svg", requires = "hardware")]
    pub(crate) roofline: Option<std::path::PathBuf>,
}

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
    let mut report = report(args.model)?;
    if let Some(convention) = args.convention {
        report = report.with_convention(convention);
    }
    if let Some(hardware) = args.hardware.resolve()? {
        report = report.with_hardware(hardware)?;
    }
    if let Some(path) = &args.roofline {
        std::fs::write(
            path,
            flopscope_report::hardware::render_roofline_svg(&report),
        )
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    let options = ViewOptions {
        view: match args.view {
            ViewArg::Layers => View::Layers,
            ViewArg::Tree => View::Tree,
            ViewArg::Ops => View::Ops,
            ViewArg::Memory => View::Memory,
        },
        units: args.style.units.units(),
        all_nodes: args.all,
        depth: args.depth,
        color: term.color && !args.style.no_color,
        width: term.width,
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
