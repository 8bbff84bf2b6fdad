//! `flopscope compare`: the model counted as other tools count, side by side.

use std::io::Write;

use anyhow::Result;
use flopscope_report::{Comparison, render_comparison};

use crate::cli::Terminal;
use crate::cli::args::{Format, ModelArgs, report, write};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
    let comparison = Comparison::new(&report(args.model)?);
    match args.format {
        Format::Table => write(out, &render_comparison(&comparison, term.width)),
        Format::Json => write(out, &(comparison.to_json()? + "\n")),
    }
}
