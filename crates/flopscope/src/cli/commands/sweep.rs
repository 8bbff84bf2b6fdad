//! `flopscope sweep`: the totals over a grid of input sizes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use flopscope_ir::Dim;

use crate::cli::Terminal;
use crate::cli::UsageError;
use crate::cli::args::{HardwareArgs, check_sizes, parse_input_shapes, write};
use crate::sweep::parse_dim_values;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SweepFormat {
    Table,
    Markdown,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .onnx file.
    pub(crate) model: PathBuf,
    /// A named dim and its values: batch=1,32.
    #[arg(long = "dim", value_name = "NAME=V1,V2,...", value_parser = parse_dim_values)]
    pub(crate) dims: Vec<(String, Vec<i64>)>,
    /// Image sizes: each sets the height and width dims (axes 2 and 3 of NCHW inputs) together.
    #[arg(long, value_name = "S1,S2,...", value_delimiter = ',')]
    pub(crate) size: Option<Vec<i64>>,
    /// An input's shape, or several separated by `;` to sweep them (models with fixed dims):
    /// data_0=1x3x224x224;1x3x320x320.
    #[arg(long = "input", value_name = "NAME=SHAPE[;SHAPE...]", value_parser = parse_input_shapes)]
    pub(crate) inputs: Vec<(String, Vec<Vec<Dim>>)>,
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    pub(crate) format: SweepFormat,
    /// Also draw MACs and peak memory against the swept size into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Custom ops declared in a TOML file: their output shapes and cost (docs/op-costs.md).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    pub(crate) op_costs: Vec<PathBuf>,
    /// Every point's estimated time.
    #[command(flatten)]
    pub(crate) hardware: HardwareArgs,
}

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
    let shapes: Vec<(&String, &[Dim])> = args
        .inputs
        .iter()
        .flat_map(|(n, shapes)| shapes.iter().map(move |s| (n, s.as_slice())))
        .collect();
    let dims: Vec<(String, Vec<Dim>)> = args
        .dims
        .iter()
        .map(|(n, v)| (n.clone(), v.iter().map(|&v| Dim::from_i64(v)).collect()))
        .collect();
    check_sizes(shapes, dims.iter().map(|(n, v)| (n, v.as_slice())))?;
    if let Some(s) = args.size.iter().flatten().find(|s| **s < 0) {
        bail!(UsageError(format!("--size {s}: a size is 0 or more")));
    }
    let model = flopscope_onnx::load(&args.model)?;
    let declared = flopscope_op_costs::load_all(&args.op_costs)?;
    let request = crate::sweep::SweepRequest {
        dims: args.dims,
        sizes: args.size,
        inputs: args.inputs,
        declared_ops: flopscope_op_costs::declared(&declared),
        hardware: args.hardware.resolve()?,
    };
    let report = crate::sweep::sweep(&args.model, &model, &request).map_err(with_flags)?;
    if let Some(plot) = &args.plot {
        std::fs::write(plot, report.render_svg())
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    match args.format {
        SweepFormat::Table => write(out, &report.render_table_in(term.width)),
        SweepFormat::Markdown => write(out, &report.render_markdown()),
        SweepFormat::Csv => write(out, &report.render_csv()),
        SweepFormat::Json => write(out, &(report.to_json()? + "\n")),
    }
}

/// The library's error with the flags that would fix it.
fn with_flags(e: crate::Error) -> anyhow::Error {
    use crate::sweep::SweepError;
    let hint = match &e {
        crate::Error::Sweep { source, .. } => match source {
            SweepError::NoSpatialDims => {
                "name them with --dim, or give shapes with --input".to_owned()
            }
            SweepError::Unbound(s) => format!("add --dim {s}=V1,V2 (or --size)"),
            SweepError::Empty => {
                "give --dim NAME=V1,V2, --size S1,S2 or --input NAME=S1;S2".to_owned()
            }
            SweepError::Overflow(..) => return e.into(),
        },
        _ => return e.into(),
    };
    anyhow::anyhow!("{e}: {hint}")
}
