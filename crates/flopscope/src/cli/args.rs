//! What several commands take: the model and its input shapes, units, output formats, and
//! the parsers of `NAME=SHAPE`-style arguments.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use flopscope_counters::ProfileOptions;
use flopscope_ir::Dim;
use flopscope_report::{Convention, Report, Units};

use crate::cli::{OutputClosed, UsageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum UnitsArg {
    Human,
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

/// What to profile: the model and the shapes and values of its inputs.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelArgs {
    /// The .onnx file.
    pub(crate) model: PathBuf,
    #[command(flatten)]
    pub(crate) shapes: ShapeArgs,
}

/// The shapes and values to give a model's inputs.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ShapeArgs {
    /// Fix an input's shape: NAME=1x3x224x224, or NAME=batch,3,224,224 to keep a dim named.
    #[arg(long = "input", value_name = "NAME=SHAPE", value_parser = parse_input)]
    pub(crate) inputs: Vec<(String, Vec<Dim>)>,
    /// Give a named dim a value everywhere it appears: batch=32.
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim)]
    pub(crate) dims: Vec<(String, Dim)>,
    /// Bind an input to a serialized TensorProto (or SequenceProto / OptionalProto): its shape,
    /// and for a small tensor its values (for models whose shapes are computed from inputs).
    #[arg(long = "input-value", value_name = "NAME=FILE.pb", value_parser = parse_input_value)]
    pub(crate) input_values: Vec<(String, PathBuf)>,
    /// Custom ops declared in a TOML file: their output shapes and cost (docs/op-costs.md).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    pub(crate) op_costs: Vec<PathBuf>,
}

pub(crate) fn parse_convention(s: &str) -> Result<Convention, String> {
    s.parse()
        .map_err(|e: flopscope_report::UnknownConvention| e.to_string())
}

/// `NAME=1x3x224x224` (integers separated by `x`) or `NAME=batch,3,224,224` (dim expressions
/// separated by commas). The name is everything before the last `=`.
pub(crate) fn parse_input(s: &str) -> Result<(String, Vec<Dim>), String> {
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
pub(crate) fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p >= 0.0)
        .ok_or_else(|| format!("`{s}` is not a percentage of at least 0"))
}

/// `NAME=FILE`.
pub(crate) fn parse_input_value(s: &str) -> Result<(String, PathBuf), String> {
    match s.rsplit_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(file)))
        }
        _ => Err(format!("`{s}` is not NAME=FILE.pb")),
    }
}

/// `NAME=SHAPE[;SHAPE...]`, each shape as `--input` reads it.
pub(crate) fn parse_input_shapes(s: &str) -> Result<(String, Vec<Vec<Dim>>), String> {
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
pub(crate) fn parse_dim(s: &str) -> Result<(String, Dim), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE (for example batch=32)"))?;
    let value = Dim::parse(value.trim()).map_err(|e| e.to_string())?;
    Ok((name.trim().to_owned(), value))
}

/// Refuses a negative size in `--input` shapes or `--dim` values, naming the flag: ONNX
/// writes -1 for a dynamic dim, flopscope keeps a dim symbolic when it is left out or named.
pub(crate) fn check_sizes<'a>(
    inputs: impl IntoIterator<Item = (&'a String, &'a [Dim])>,
    dims: impl IntoIterator<Item = (&'a String, &'a [Dim])>,
) -> Result<()> {
    let negative = |values: &[Dim]| {
        values
            .iter()
            .find(|d| d.as_i64().is_some_and(|v| v < 0))
            .cloned()
    };
    for (name, shape) in inputs {
        if let Some(d) = negative(shape) {
            let shown: Vec<String> = shape.iter().map(ToString::to_string).collect();
            bail!(UsageError(format!(
                "--input {name}={}: {d} is not a size (0 or more); write a name, such as batch, for a dim to keep symbolic",
                shown.join(",")
            )));
        }
    }
    for (name, values) in dims {
        if let Some(d) = negative(values) {
            bail!(UsageError(format!(
                "--dim {name}={d}: a size is 0 or more; leave --dim {name} out to keep `{name}` symbolic"
            )));
        }
    }
    Ok(())
}

/// Writes the command's output; a reader that closed it ends the command quietly
/// ([`OutputClosed`]).
pub(crate) fn write(out: &mut dyn Write, text: &str) -> Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        other => other.context("cannot write the output"),
    }
}

/// Loads and profiles the model into a report.
pub(crate) fn report(args: ModelArgs) -> Result<Report> {
    report_of(&args.model, args.shapes)
}

pub(crate) fn report_of(path: &Path, args: ShapeArgs) -> Result<Report> {
    let model = flopscope_onnx::load(path)?;
    let options = profile_options(&model, args)?;
    let profile = crate::profile_model(path, &model, &options)?;
    Ok(Report::new(&path.display().to_string(), &model, &profile))
}

/// The profile options the shape arguments ask for (`--input-value` files are read against
/// the model's declared input kinds).
pub(crate) fn profile_options(
    model: &flopscope_ir::Model,
    args: ShapeArgs,
) -> Result<ProfileOptions> {
    check_sizes(
        args.inputs.iter().map(|(n, s)| (n, s.as_slice())),
        args.dims.iter().map(|(n, d)| (n, std::slice::from_ref(d))),
    )?;
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
    options.declared_ops =
        flopscope_op_costs::declared(&flopscope_op_costs::load_all(&args.op_costs)?);
    for (name, file) in &args.input_values {
        let value = crate::load_input_value(model, name, file)?;
        if options.input_values.insert(name.clone(), value).is_some() {
            bail!("--input-value `{name}` is given twice");
        }
    }
    Ok(options)
}

/// How a table is shown: units, and colour on a terminal.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct StyleArgs {
    /// `human` (300.77 MMACs) or `raw` (300,774,272).
    #[arg(long, value_enum, default_value_t = UnitsArg::Human)]
    pub(crate) units: UnitsArg,
    /// No colour even on a terminal (colour is never used when the output is not a terminal).
    #[arg(long)]
    pub(crate) no_color: bool,
}

/// `--hardware`: the machine roofline estimates are made for.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HardwareArgs {
    /// Estimate times from the roofline on this machine: a preset (h100-sxm, h200, a100-80gb,
    /// l4, rtx-4090, mi300x, apple-m1-max), this-machine (after `bench --calibrate`), or a
    /// TOML file of the same format (FILE.toml, FILE.toml#NAME).
    #[arg(long, value_name = "NAME|FILE.toml")]
    pub(crate) hardware: Option<String>,
}

impl HardwareArgs {
    /// The machine, when one was named.
    pub(crate) fn resolve(&self) -> Result<Option<flopscope_report::Hardware>> {
        Ok(self
            .hardware
            .as_deref()
            .map(crate::hardware::resolve)
            .transpose()?)
    }
}

impl UnitsArg {
    pub(crate) fn units(self) -> Units {
        match self {
            UnitsArg::Human => Units::Human,
            UnitsArg::Raw => Units::Raw,
        }
    }
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
