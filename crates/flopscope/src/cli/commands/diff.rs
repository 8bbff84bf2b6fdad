//! `flopscope diff`: what changed between two models or reports, and the `--fail-above` gate.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use flopscope_report::{Report, ReportDiff, TableStyle};

use crate::cli::Terminal;

use crate::cli::args::{ShapeArgs, StyleArgs, parse_percent, report_of, write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiffFormat {
    Table,
    Markdown,
    Json,
    /// One self-contained page: both models side by side, live when dims are free
    Html,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The old model (.onnx) or report (.json, written by `profile --format json`).
    pub(crate) old: PathBuf,
    /// The new model or report.
    pub(crate) new: PathBuf,
    /// Input shapes and dims, given to both models alike.
    #[command(flatten)]
    pub(crate) shapes: ShapeArgs,
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub(crate) format: DiffFormat,
    /// How many levels of modules to compare.
    #[arg(long, default_value_t = 3)]
    pub(crate) depth: usize,
    #[command(flatten)]
    pub(crate) style: StyleArgs,
    /// Exit with status 3 (after printing the diff) when the MACs or the params grew by more
    /// than PCT percent: a CI gate.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub(crate) fail_above: Option<f64>,
}

/// A `diff --fail-above` gate that did not hold.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GateFailed(String);

/// A report from a JSON file, or from profiling a model.
pub(crate) fn report_or_json(path: &Path, shapes: &ShapeArgs) -> Result<Report> {
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

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
    let old = report_or_json(&args.old, &args.shapes)?;
    let new = report_or_json(&args.new, &args.shapes)?;
    let diff = ReportDiff::new(&old, &new, args.depth);
    let units = args.style.units.units();
    match args.format {
        DiffFormat::Table => {
            let style = TableStyle {
                color: term.color && !args.style.no_color,
                width: term.width,
            };
            write(out, &diff.render_table(units, style))?;
        }
        DiffFormat::Markdown => write(out, &diff.render_markdown(units))?,
        DiffFormat::Json => write(out, &(diff.to_json()? + "\n"))?,
        DiffFormat::Html => write(
            out,
            &flopscope_report::render_diff_html(&diff, &old, &new, units),
        )?,
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
