//! `flopscope generate`: what a generation costs on a decoder with a key/value cache.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use flopscope_ir::Dim;

use crate::cli::UsageError;
use crate::cli::args::{HardwareArgs, check_sizes, parse_dim, write};
use crate::generate::{GenerateError, GenerateRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GenerateFormat {
    Table,
    Markdown,
    /// The report of the profile (formulas in the pass's dims) with a `generation` object.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .onnx file: a decoder with a key/value cache (or any causal model with --recompute).
    pub(crate) model: PathBuf,
    /// Prompt tokens: the prefill is one pass over them.
    #[arg(long, value_name = "P")]
    pub(crate) prompt: i64,
    /// Tokens generated: the prefill yields the first, each decode step one more.
    #[arg(long = "new-tokens", value_name = "N")]
    pub(crate) new_tokens: i64,
    /// Sequences generated together.
    #[arg(long, value_name = "B", default_value_t = 1)]
    pub(crate) batch: i64,
    /// Another named dim's value (NAME=VALUE). May be given more than once.
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim)]
    pub(crate) dims: Vec<(String, Dim)>,
    /// The dim of a pass's new positions, when its name is unusual (default: axis 1 of
    /// input_ids).
    #[arg(long = "seq-dim", value_name = "NAME")]
    pub(crate) seq_dim: Option<String>,
    /// The dim of the cached positions, when its name is unusual (default: the named dim of
    /// the past… inputs that is not the batch).
    #[arg(long = "past-dim", value_name = "NAME")]
    pub(crate) past_dim: Option<String>,
    /// Price a generation without a cache: each step a whole pass over the sequence so far.
    #[arg(long)]
    pub(crate) recompute: bool,
    #[arg(long, value_enum, default_value_t = GenerateFormat::Table)]
    pub(crate) format: GenerateFormat,
    /// Also draw each decode step's MACs and memory traffic against its position (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Custom ops declared in a TOML file (docs/op-costs.md). May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    pub(crate) op_costs: Vec<PathBuf>,
    /// Time to first token, time per token, tokens/s, and whether weights, cache and
    /// activations fit in memory.
    #[command(flatten)]
    pub(crate) hardware: HardwareArgs,
}

pub(crate) fn run(args: Args, out: &mut dyn Write) -> Result<()> {
    check_sizes(
        [],
        args.dims.iter().map(|(n, v)| (n, std::slice::from_ref(v))),
    )?;
    for (flag, v, min) in [
        ("--prompt", args.prompt, 1),
        ("--new-tokens", args.new_tokens, 1),
        ("--batch", args.batch, 1),
    ] {
        if v < min {
            bail!(UsageError(format!("{flag} {v}: must be at least {min}")));
        }
    }
    let mut dims = Vec::new();
    for (name, value) in &args.dims {
        let Some(v) = value.as_i64() else {
            bail!(UsageError(format!(
                "--dim {name}={value}: generate needs a number"
            )));
        };
        dims.push((name.clone(), v));
    }
    let hardware = args.hardware.resolve()?;
    let model = flopscope_onnx::load(&args.model)?;
    let declared = flopscope_op_costs::load_all(&args.op_costs)?;
    let request = GenerateRequest {
        prompt: args.prompt,
        new_tokens: args.new_tokens,
        batch: args.batch,
        dims,
        seq_dim: args.seq_dim,
        past_dim: args.past_dim,
        recompute: args.recompute,
        declared_ops: flopscope_op_costs::declared(&declared),
        hardware,
    };
    let report = crate::generate::generate(&args.model, &model, &request).map_err(with_flags)?;
    let Some(generation) = &report.generation else {
        bail!("no generation in the report");
    };
    if let Some(plot) = &args.plot {
        std::fs::write(plot, generation.render_svg())
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    match args.format {
        GenerateFormat::Table => write(out, &generation.render_table()),
        GenerateFormat::Markdown => write(out, &generation.render_markdown()),
        GenerateFormat::Json => write(out, &(report.to_json()? + "\n")),
    }
}

/// The library's error with the flag that would fix it.
fn with_flags(e: crate::Error) -> anyhow::Error {
    let crate::Error::Generate { source, .. } = &e else {
        return e.into();
    };
    let hint = match source {
        GenerateError::Generation(flopscope_report::GenerationError::Unbound(s)) => {
            format!("add --dim {s}=VALUE")
        }
        GenerateError::NoCache => "--recompute prices it".to_owned(),
        GenerateError::NoTokens | GenerateError::NoSeq { .. } => {
            "name it with --seq-dim".to_owned()
        }
        GenerateError::NoPast | GenerateError::SeveralPast(_) => {
            "name it with --past-dim".to_owned()
        }
        GenerateError::UnknownDim { what, .. } => format!(
            "check --{}",
            if *what == "new positions" {
                "seq-dim"
            } else {
                "past-dim"
            }
        ),
        GenerateError::FixedBatch { .. } => "leave --batch out".to_owned(),
        GenerateError::Generation(_) => return e.into(),
    };
    anyhow::anyhow!("{e}: {hint}")
}
