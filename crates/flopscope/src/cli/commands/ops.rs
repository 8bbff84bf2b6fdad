//! `flopscope ops`: the ops flopscope counts, with their formulas.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use flopscope_counters::{DeclaredOp, registry};

use crate::cli::Terminal;
use crate::cli::args::{Format, write};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
    /// Also list the ops declared in a TOML file (after the built-ins, marked as declared).
    /// May be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    pub(crate) op_costs: Vec<PathBuf>,
}

pub(crate) fn run(args: Args, out: &mut dyn Write, term: Terminal) -> Result<()> {
    let defs: Vec<_> = registry().iter().collect();
    let declared = flopscope_op_costs::load_all(&args.op_costs)?;
    let place =
        |op: &flopscope_op_costs::TomlOp| format!("{}:{}", op.file().display(), op.location());
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
            t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
                "Domain",
                "Op",
                "Opsets",
                "Cost formula",
            ]);
            flopscope_report::views::fit(&mut t, term.width);
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
