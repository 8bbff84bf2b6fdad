//! `flopscope compare`: every convention's count of one model, side by side, by op class, with
//! what each counts and ignores.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use flopscope_ir::Dim;
use serde::{Deserialize, Serialize};

use crate::conventions::{Convention, ConventionReport, OpClass, notes};
use crate::model::{Report, SCHEMA_VERSION, TensorReport};
use crate::units::{exact, human};

/// Every convention's count of a model: what `flopscope compare --format json` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema_version: u32,
    /// The model path as given.
    pub model: String,
    pub inputs: Vec<TensorReport>,
    pub bindings: BTreeMap<String, Dim>,
    /// flopscope's own MACs and FLOPs.
    pub macs: Dim,
    pub flops: Dim,
    /// One per convention, in [`Convention::ALL`] order.
    pub conventions: Vec<ConventionReport>,
    /// What each convention counts per op class: convention → class → rule.
    pub rules: BTreeMap<String, BTreeMap<String, String>>,
    /// Why published numbers may differ from these counts, for this model.
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn new(report: &Report) -> Comparison {
        Comparison {
            schema_version: SCHEMA_VERSION,
            model: report.model.path.clone(),
            inputs: report.model.inputs.clone(),
            bindings: report.bindings.clone(),
            macs: report.totals.macs.clone(),
            flops: report.totals.flops.clone(),
            conventions: Convention::ALL.iter().map(|c| c.apply(report).1).collect(),
            rules: Convention::ALL
                .iter()
                .map(|c| {
                    let rules = OpClass::ALL
                        .iter()
                        .map(|k| (k.name().to_owned(), c.describe(*k).to_owned()))
                        .collect();
                    (c.name().to_owned(), rules)
                })
                .collect(),
            notes: notes(report),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        crate::json::to_string_pretty(self, 64 * 1024)
    }
}

fn table(header: Vec<String>, width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    crate::views::fit(&mut t, width);
    t
}

fn right_align(t: &mut Table, columns: std::ops::Range<usize>) {
    for c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// `value / macs` as `1.089×` when both are integers.
fn ratio(value: &Dim, macs: &Dim) -> String {
    match (value.as_i64(), macs.as_i64()) {
        (Some(v), Some(m)) if m != 0 => format!("{:.3}×", v as f64 / m as f64),
        _ => "-".into(),
    }
}

/// Renders a comparison as text tables.
/// The comparison as terminal tables, fitted to `width` columns when given (a terminal's).
pub fn render_comparison(c: &Comparison, width: Option<u16>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Model   {}", c.model);
    for input in &c.inputs {
        let shape = input.shape.as_ref().map_or_else(
            || "?".to_owned(),
            |s| flopscope_ir::ShapeDisplay(s).to_string(),
        );
        let _ = writeln!(out, "Input   {}: {shape}", input.name);
    }
    let _ = writeln!(
        out,
        "flopscope: {} ({}), {} ({})\n",
        human(&c.macs, "MACs"),
        exact(&c.macs),
        human(&c.flops, "FLOPs"),
        exact(&c.flops)
    );

    let bound = |r: &ConventionReport| if r.lower_bound { "≥ " } else { "" };
    let mut totals = table(
        [
            "Convention",
            "Counts",
            "Total",
            "Exact",
            "vs flopscope MACs",
        ]
        .map(String::from)
        .to_vec(),
        width,
    );
    for r in &c.conventions {
        totals.add_row(vec![
            r.convention.clone(),
            r.label.clone(),
            format!("{}{}", bound(r), human(&r.total, &r.unit)),
            format!("{}{}", bound(r), exact(&r.total)),
            ratio(&r.total, &c.macs),
        ]);
    }
    right_align(&mut totals, 2..5);
    let _ = writeln!(out, "{totals}");

    let mut header = vec!["By op class".to_owned()];
    header.extend(OpClass::ALL.iter().map(|k| k.name().to_owned()));
    let mut classes = table(header, width);
    for r in &c.conventions {
        let mut row = vec![format!("{} ({})", r.convention, r.unit)];
        row.extend(OpClass::ALL.iter().map(|k| {
            r.by_class
                .get(k.name())
                .map_or_else(|| "-".into(), |v| human(v, ""))
        }));
        classes.add_row(row);
    }
    right_align(&mut classes, 1..OpClass::ALL.len() + 1);
    let _ = writeln!(out, "\n{classes}");

    let _ = writeln!(out, "\nWhat each counts, per op class:");
    for (name, rules) in Convention::NAMES
        .iter()
        .filter_map(|n| Some((n, c.rules.get(*n)?)))
    {
        let text = OpClass::ALL
            .iter()
            .filter_map(|k| Some(format!("{}: {}", k.name(), rules.get(k.name())?)))
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = writeln!(out, "  {name:<12} {text}");
    }
    if !c.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in &c.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}
