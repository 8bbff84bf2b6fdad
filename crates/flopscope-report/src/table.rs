//! The terminal table: the model, its totals, and one row per node.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use flopscope_ir::{Dim, ShapeDisplay};

use crate::model::{NodeReport, Report, TensorReport, describe_reason};
use crate::units::{exact, human, percent};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

fn right_align(t: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn tensor(t: &TensorReport) -> String {
    match (&t.dtype, &t.shape) {
        (Some(dtype), Some(shape)) => format!("{dtype}{}", ShapeDisplay(shape)),
        (Some(dtype), None) => dtype.clone(),
        _ => "?".into(),
    }
}

fn shapes(node: &NodeReport) -> String {
    node.outputs
        .iter()
        .map(|o| match &o.shape {
            Some(s) => ShapeDisplay(s).to_string(),
            None => "?".into(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders the report as text tables.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.model;
    let opsets = m
        .opsets
        .iter()
        .map(|(d, v)| format!("{d} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "Model   {}", m.path);
    let producer = if m.producer.is_empty() {
        String::new()
    } else {
        format!(", from {}", m.producer)
    };
    let _ = writeln!(
        out,
        "        IR {}, opsets {opsets}{producer}",
        m.ir_version
    );
    for input in &m.inputs {
        let _ = writeln!(out, "Input   {}: {}", input.name, tensor(input));
    }
    if !report.bindings.is_empty() {
        let dims = report
            .bindings
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "Dims    {dims}");
    }
    out.push('\n');

    let t = &report.totals;
    let bound = if t.lower_bound { "≥ " } else { "" };
    let mut totals = table(&["Total", "value", "exact"]);
    let row = |totals: &mut Table,
               name: &str,
               value: &Dim,
               unit: &str,
               exact_unit: &str,
               prefix: &str| {
        let exact_text = if value.is_const() && !exact_unit.is_empty() {
            format!("{} {exact_unit}", exact(value))
        } else {
            exact(value)
        };
        totals.add_row(vec![
            name.to_owned(),
            format!("{prefix}{}", human(value, unit)),
            format!("{prefix}{exact_text}"),
        ]);
    };
    row(&mut totals, "MACs", &t.macs, "MACs", "", bound);
    // The precision breakdown only when it says something: more than one type, or integers.
    if t.macs_by_dtype.len() > 1 || t.macs_by_dtype.keys().any(|d| !d.starts_with("float")) {
        for (dtype, macs) in &t.macs_by_dtype {
            row(
                &mut totals,
                &format!("  in {dtype}"),
                macs,
                "MACs",
                "",
                bound,
            );
        }
    }
    row(&mut totals, "FLOPs", &t.flops, "FLOPs", "", bound);
    let k = &t.flops_by_kind;
    for (name, value) in [
        ("  2 per MAC", &k.mac),
        ("  add", &k.add),
        ("  mul", &k.mul),
        ("  div", &k.div),
        ("  cmp", &k.cmp),
        ("  special", &k.special),
    ] {
        row(&mut totals, name, value, "FLOPs", "", bound);
    }
    if let Some(c) = &report.convention {
        let prefix = if c.lower_bound { "≥ " } else { "" };
        row(&mut totals, &c.label, &c.total, &c.unit, "", prefix);
    }
    row(&mut totals, "Params", &t.params, "", "", "");
    row(&mut totals, "Buffers", &t.buffers, "", "", "");
    if t.quant_params != Dim::zero() {
        row(&mut totals, "Quant params", &t.quant_params, "", "", "");
    }
    row(&mut totals, "Constants", &t.constants, "", "", "");
    row(&mut totals, "Weight memory", &t.weight_bytes, "B", "B", "");
    row(
        &mut totals,
        "Activation memory",
        &t.activation_bytes,
        "B",
        "B",
        "",
    );
    row(
        &mut totals,
        "Peak activation memory",
        &t.peak_activation_bytes,
        "B",
        "B",
        "",
    );
    row(&mut totals, "Memory traffic", &t.bytes, "B", "B", bound);
    right_align(&mut totals, &[1, 2]);
    let _ = writeln!(out, "{totals}");

    let shown: Vec<&NodeReport> = report.nodes.iter().filter(|n| !n.constant).collect();
    let convention_column = report
        .convention
        .as_ref()
        .map(|c| format!("{} {}", c.convention, c.unit));
    let mut header = vec![
        "#",
        "Node",
        "Op",
        "Output shape",
        "Params",
        "MACs",
        "FLOPs",
        "% MACs",
    ];
    if let Some(c) = &convention_column {
        header.push(c);
    }
    let mut nodes = table(&header);
    for (i, n) in shown.iter().enumerate() {
        let op = if n.domain == "ai.onnx" {
            n.op_type.clone()
        } else {
            format!("{}::{}", n.domain, n.op_type)
        };
        let (macs, flops, share) = if n.counted {
            (
                human(&n.macs, ""),
                human(&n.flops, ""),
                percent(&n.macs, &t.macs),
            )
        } else {
            ("uncounted".into(), "uncounted".into(), "-".into())
        };
        let mut row = vec![
            (i + 1).to_string(),
            n.name.clone(),
            op,
            shapes(n),
            human(&n.params, ""),
            macs,
            flops,
            share,
        ];
        if convention_column.is_some() {
            row.push(
                n.convention
                    .as_ref()
                    .map_or_else(|| "-".into(), |v| human(v, "")),
            );
        }
        nodes.add_row(row);
    }
    right_align(&mut nodes, &[0, 4, 5, 6, 7, 8]);
    let hidden = report.nodes.len() - shown.len();
    let _ = writeln!(
        out,
        "\nNodes in execution order: {} shown{}; {} of {} counted",
        shown.len(),
        if hidden > 0 {
            format!(", {hidden} constant nodes hidden")
        } else {
            String::new()
        },
        t.counted_nodes,
        t.nodes,
    );
    let _ = writeln!(out, "{nodes}");

    if !report.data_dependent_dims.is_empty() {
        let _ = writeln!(out, "\nSizes known only at run time:");
        for d in &report.data_dependent_dims {
            let _ = writeln!(out, "  {} (from {}, {})", d.symbol, d.node, d.op_type);
        }
    }

    if !report.uncounted.is_empty() {
        let _ = writeln!(
            out,
            "\nUncounted ops (the totals marked ≥ are lower bounds):"
        );
        for u in &report.uncounted {
            let _ = writeln!(
                out,
                "  {}::{} × {}: {} ({})",
                u.domain,
                u.op_type,
                u.nodes.len(),
                describe_reason(&u.reason),
                u.nodes.join(", ")
            );
        }
    }
    out
}
