//! The browser formats: an SVG bar chart of the heaviest modules (`--format svg`), and one
//! self-contained HTML page (`--format html`) with the totals, that chart and every view's
//! tables. Nothing is fetched: no scripts, fonts or stylesheets from elsewhere.

use std::cell::RefCell;
use std::fmt::Write as _;

use flopscope_ir::Dim;

use crate::diff::ReportDiff;
use crate::live::Formulas;
use crate::model::Report;
use crate::totals::TotalKind;
use crate::units::human;
use crate::views::{
    LiveCell, Module, Section, Units, View, ViewOptions, header_lines, module_tree, sections,
};

/// Bars the chart shows at most.
pub const MAX_BARS: usize = 20;

/// One bar: a module (or node) and its cost, as a number at the chart's binding and as the
/// formula it is (which the live page re-evaluates).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub formula: Dim,
}

/// What the chart shows: its title, the unit of its values, the total they are shares of, and
/// the bars, heaviest first. `bars` is empty (and `why` says why) when there is nothing to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub unit: &'static str,
    pub total: i64,
    /// The formula of `total` (the model's MACs or FLOPs).
    pub total_formula: Dim,
    pub bars: Vec<Bar>,
    pub why: Option<String>,
}

/// A module path as a label: scopes joined by `/`, leaving out a scope its successor repeats
/// (`features/features.2/conv` → `features.2/conv`, `m/m.encoder` → `m.encoder`).
fn label(path: &[String]) -> String {
    let kept: Vec<&str> = path
        .iter()
        .enumerate()
        .filter(|(i, seg)| {
            path.get(i + 1)
                .is_none_or(|next| !next.starts_with(&format!("{seg}.")))
        })
        .map(|(_, seg)| seg.as_str())
        .collect();
    kept.join("/")
}

const OWN: &str = "(own ops)";

/// The charts weigh by FLOPs when the model has no MACs, else by MACs.
pub(crate) fn by_flops(t: &crate::model::TotalsReport) -> bool {
    t.macs == Dim::zero()
}

/// The heaviest modules: starting from the top of the module tree, the heaviest module that has
/// children is replaced by them while at most [`MAX_BARS`] remain. A chain of single children
/// is followed to its end, and modules that cost nothing are left out. A report without
/// module scopes charts its heaviest nodes instead.
pub fn heaviest(report: &Report) -> Chart {
    heaviest_at(report, &|_| None)
}

/// [`heaviest`] with the report's free dims valued by `lookup` (the live page charts its
/// dims' start values, then re-weighs the same bars as they move).
pub fn heaviest_at(report: &Report, lookup: &dyn Fn(&str) -> Option<i64>) -> Chart {
    let t = &report.totals;
    let (metric, unit): (fn(&Module) -> &Dim, _) = if by_flops(t) {
        (|m| &m.flops, "FLOPs")
    } else {
        (|m| &m.macs, "MACs")
    };
    let total_dim = if unit == "MACs" { &t.macs } else { &t.flops };
    let Ok(total) = total_dim.eval(lookup) else {
        return Chart {
            title: format!("Heaviest modules by {unit}"),
            unit,
            total: 0,
            total_formula: total_dim.clone(),
            bars: Vec::new(),
            why: Some(format!(
                "The {unit} depend on the model's dims ({}): give --input or --dim to chart them.",
                total_dim.factored()
            )),
        };
    };
    let value = |m: &Module| metric(m).eval(lookup).unwrap_or(0);
    let root = module_tree(report);
    if root.children.is_empty() {
        let mut bars: Vec<Bar> = report
            .nodes
            .iter()
            .filter_map(|n| {
                let formula = if unit == "MACs" { &n.macs } else { &n.flops };
                let value = formula.eval(lookup).ok().filter(|v| *v > 0)?;
                Some(Bar {
                    label: format!("{} ({})", n.name, n.op_type),
                    value,
                    formula: formula.clone(),
                })
            })
            .collect();
        bars.sort_by_key(|b| std::cmp::Reverse(b.value));
        bars.truncate(MAX_BARS);
        return Chart {
            title: format!("Heaviest nodes by {unit} (the model has no module scopes)"),
            unit,
            total,
            total_formula: total_dim.clone(),
            why: bars.is_empty().then(|| format!("No node has {unit}.")),
            bars,
        };
    }

    // The children of a module worth a bar, each followed down its chain of single children
    // (named after the top of the chain, which costs the same): (label, full path, module).
    let expand = |m: &Module, path: &[String]| -> Vec<(String, Vec<String>, Module)> {
        m.children
            .iter()
            .filter(|c| value(c) > 0)
            .map(|c| {
                if c.name == OWN {
                    let owner = if path.is_empty() {
                        "model".to_owned()
                    } else {
                        label(path)
                    };
                    return (format!("{owner} {OWN}"), Vec::new(), c.clone());
                }
                let mut path = path.to_vec();
                path.push(c.name.clone());
                let name = label(&path);
                let mut at = c;
                while at.children.len() == 1 && at.children[0].name != OWN {
                    at = &at.children[0];
                    path.push(at.name.clone());
                }
                (name, path, at.clone())
            })
            .collect()
    };
    let mut frontier = expand(&root, &[]);
    // The heaviest module with children that cost something (own ops have an empty path).
    let expandable = |f: &[(String, Vec<String>, Module)]| {
        f.iter()
            .enumerate()
            .filter(|(_, (_, p, m))| !p.is_empty() && m.children.iter().any(|c| value(c) > 0))
            .max_by_key(|(i, (_, _, m))| (value(m), std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    };
    while let Some(i) = expandable(&frontier) {
        let (_, path, m) = &frontier[i];
        let kids = expand(m, path);
        if frontier.len() - 1 + kids.len() > MAX_BARS {
            break;
        }
        frontier.splice(i..=i, kids);
    }
    let mut bars: Vec<Bar> = frontier
        .into_iter()
        .map(|(label, _, m)| Bar {
            label,
            value: value(&m),
            formula: metric(&m).clone(),
        })
        .collect();
    // Stable: equal values keep the model's order.
    bars.sort_by_key(|b| std::cmp::Reverse(b.value));
    Chart {
        title: format!("Heaviest modules by {unit}"),
        unit,
        total,
        total_formula: total_dim.clone(),
        why: bars.is_empty().then(|| format!("No module has {unit}.")),
        bars,
    }
}

/// Text for XML and HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The chart as a standalone SVG document.
pub fn render_svg(report: &Report) -> String {
    chart_svg(&heaviest(report), true, None)
}

/// Approximate width of `text` in pixels at 12 px sans-serif.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.6
}

/// The chart as SVG. With `formulas` (the live page), the SVG and each bar carry the formula
/// of the total and of the bar (`data-total`, `data-bar`) and the layout the script needs to
/// re-weigh and re-sort the same bars as the dims move.
fn chart_svg(chart: &Chart, standalone: bool, formulas: Option<&RefCell<Formulas>>) -> String {
    const ROW: f64 = 22.0;
    const BAR_W: f64 = 420.0;
    const TOP: f64 = 40.0;
    let label_w = chart
        .bars
        .iter()
        .map(|b| text_width(&b.label))
        .fold(120.0, f64::max)
        .min(420.0);
    let value_texts: Vec<String> = chart
        .bars
        .iter()
        .map(|b| {
            format!(
                "{} · {:.2}%",
                human(&Dim::from_i64(b.value), chart.unit),
                share(b.value, chart.total)
            )
        })
        .collect();
    let value_w = value_texts
        .iter()
        .map(|t| text_width(t))
        .fold(140.0, f64::max);
    let x0 = 16.0 + label_w + 8.0;
    let width = (x0 + BAR_W + 8.0 + value_w + 16.0).ceil();
    let rows = chart.bars.len().max(1) as f64;
    let height = (TOP + rows * ROW + 16.0).ceil();
    let max = chart.bars.iter().map(|b| b.value).max().unwrap_or(1).max(1);

    let mut s = String::new();
    if standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let live = formulas.map_or(String::new(), |f| {
        format!(
            " data-total=\"{}\" data-unit=\"{}\" data-barw=\"{BAR_W}\" data-row=\"{ROW}\"",
            f.borrow_mut().id(&chart.total_formula),
            chart.unit
        )
    });
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" \
         font-size=\"12\"{live}>",
        esc(&chart.title)
    );
    let _ = writeln!(
        s,
        "<rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"16\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#1f2937\">{}</text>",
        esc(&chart.title)
    );
    if let Some(why) = &chart.why {
        let _ = writeln!(
            s,
            "<text x=\"16\" y=\"{}\" fill=\"#6b7280\">{}</text>",
            TOP + 14.0,
            esc(why)
        );
    }
    for (i, (bar, value_text)) in chart.bars.iter().zip(&value_texts).enumerate() {
        let y = TOP + i as f64 * ROW;
        let w = (bar.value as f64 / max as f64 * BAR_W).max(1.0);
        let fill = if i == 0 { "#d97706" } else { "#3b82f6" };
        let live = formulas.map_or(String::new(), |f| {
            format!(" data-bar=\"{}\"", f.borrow_mut().id(&bar.formula))
        });
        let _ = writeln!(
            s,
            "<g{live}><title>{label}: {exact} {unit} ({pct:.2}%)</title>\
             <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#374151\">{label}</text>\
             <rect x=\"{x0:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"2\" fill=\"{fill}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty:.1}\" fill=\"#111827\">{value}</text></g>",
            label = esc(&bar.label),
            value = esc(value_text),
            exact = crate::units::exact(&Dim::from_i64(bar.value)),
            unit = chart.unit,
            pct = share(bar.value, chart.total),
            lx = x0 - 8.0,
            ty = y + 15.0,
            ry = y + 4.0,
            h = ROW - 6.0,
            vx = x0 + w + 6.0,
        );
    }
    s.push_str("</svg>\n");
    s
}

const STYLE: &str = "\
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  margin: 24px auto; max-width: 1400px; padding: 0 24px; color: #111827; background: #f9fafb; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #4b5563; margin: 2px 0; font-size: 13px; }
.meta code { font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .k { font-size: 12px; color: #6b7280; }
.card .v { font-size: 20px; font-weight: 600; }
.card .x { font-size: 11px; color: #6b7280; font-variant-numeric: tabular-nums; }
nav { margin: 16px 0; font-size: 14px; }
nav a { margin-right: 14px; color: #2563eb; text-decoration: none; }
.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px; overflow-x: auto; }
.scroll { overflow-x: auto; content-visibility: auto; contain-intrinsic-size: auto 600px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #e5e7eb; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f3f4f6; font-weight: 600; position: sticky; top: 0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.dims { display: flex; flex-wrap: wrap; gap: 16px; background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 12px; margin: 8px 0; position: sticky; top: 0; z-index: 2; }
.dims[hidden] { display: none; }
.dims label { font-size: 13px; font-weight: 600; }
.dims input[type=number] { width: 6em; }
.dims .bound { font-size: 13px; color: #4b5563; align-self: center; }
.controls { font-size: 13px; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
.controls input[type=number] { width: 6em; }
#crumbs a { color: #2563eb; text-decoration: none; }
.chart.graph { max-height: 640px; overflow: auto; }
.chart.graph svg { display: block; margin: 0 auto; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.sides h3 { margin: 6px 0; }
input.filter { margin: 4px 0; padding: 3px 6px; width: 22em; }
th[data-sorted=desc]::after { content: ' ▼'; }
th[data-sorted=asc]::after { content: ' ▲'; }
td.tree { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; white-space: pre; }
tr.heavy td { background: #fef3c7; font-weight: 600; }
tbody tr:hover td { background: #eff6ff; }
pre.notes { background: #fff; border: 1px solid #e5e7eb; padding: 8px; font-size: 12px; white-space: pre-wrap; }
footer { margin: 32px 0 8px; color: #6b7280; font-size: 12px; }
";

/// The page's script: re-evaluates every figure with a formula when a dim moves.
const LIVE_JS: &str = include_str!("live.js");
/// The charts the script draws: the module icicle, the heaviest bars, memory along the
/// execution order and the sweep.
const CHARTS_JS: &str = include_str!("charts.js");

/// The attributes live.js reads: `data-f` the formula (its index in the page's table of
/// formulas), `data-w` the whole of a percentage (also an index), `data-u` the unit, `data-h`
/// an SI prefix, `data-s` a sign, `data-p` a prefix.
fn live_attrs(cell: &LiveCell, formulas: &RefCell<Formulas>) -> String {
    let mut f = formulas.borrow_mut();
    let mut a = format!(" data-f=\"{}\"", f.id_text(&cell.formula));
    if let Some(w) = &cell.whole {
        let _ = write!(a, " data-w=\"{}\"", f.id_text(w));
    }
    if !cell.unit.is_empty() {
        let _ = write!(a, " data-u=\"{}\"", esc(&cell.unit));
    }
    if cell.human {
        a.push_str(" data-h=\"1\"");
    }
    if cell.signed {
        a.push_str(" data-s=\"1\"");
    }
    if !cell.prefix.is_empty() {
        let _ = write!(a, " data-p=\"{}\"", esc(&cell.prefix));
    }
    if cell.peak {
        a.push_str(" data-peak=\"value\"");
    }
    a
}

fn section_html(
    out: &mut String,
    s: &Section,
    tree: bool,
    sortable: bool,
    formulas: &RefCell<Formulas>,
) {
    let _ = writeln!(out, "<h3>{}</h3>", esc(&s.title));
    if !s.rows.is_empty() {
        out.push_str(if sortable {
            "<div class=\"scroll\"><table class=\"sortable\">\n<thead><tr>"
        } else {
            "<div class=\"scroll\"><table>\n<thead><tr>"
        });
        for (i, h) in s.header.iter().enumerate() {
            let class = if s.right.contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<th{class}>{}</th>", esc(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (r, row) in s.rows.iter().enumerate() {
            if s.emphasis.contains(&r) {
                out.push_str("<tr class=\"heavy\">");
            } else {
                out.push_str("<tr>");
            }
            for (i, c) in row.iter().enumerate() {
                let class = if s.right.contains(&i) {
                    " class=\"n\""
                } else if tree && i == 0 {
                    " class=\"tree\""
                } else {
                    ""
                };
                let live = s
                    .live
                    .iter()
                    .find(|(lr, lc, _)| *lr == r && *lc == i)
                    .map_or_else(String::new, |(_, _, cell)| live_attrs(cell, formulas));
                let _ = write!(out, "<td{class}{live}>{}</td>", esc(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !s.notes.is_empty() {
        let _ = writeln!(
            out,
            "<pre class=\"notes\">{}</pre>",
            esc(&s.notes.join("\n"))
        );
    }
}

/// The page's head: its title and the inline styles.
fn head(out: &mut String, report: &Report, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{} {}\">\n<title>flopscope: {}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(title)
    );
}

/// A slider and a number box for each free dim (hidden until the script runs), then the dims
/// the command line bound, which profiling fixed (to move one, leave it free).
fn dim_controls(
    out: &mut String,
    free: &[crate::live::FreeDim],
    bound: &std::collections::BTreeMap<String, Dim>,
) {
    if free.is_empty() {
        return;
    }
    out.push_str("<div id=\"dims\" class=\"dims\" hidden>\n");
    for d in free {
        let _ = writeln!(
            out,
            "<label>{name} <input type=\"range\" id=\"dim-range-{name}\" min=\"{min}\" \
             max=\"{max}\" value=\"{start}\"> <input type=\"number\" id=\"dim-box-{name}\" \
             min=\"0\" value=\"{start}\"></label>",
            name = esc(&d.name),
            min = d.min,
            max = d.max,
            start = d.start
        );
    }
    for (name, value) in bound {
        let _ = writeln!(
            out,
            "<span class=\"bound\" title=\"bound on the command line (--input or --dim)\">\
             {} = {}</span>",
            esc(name),
            esc(&value.to_string())
        );
    }
    out.push_str("</div>\n");
}

/// The page's data and its scripts.
fn scripts(out: &mut String, payload: &serde_json::Value) {
    // `</` cannot end the script early: JSON escapes nothing there, so escape `<`.
    let payload = payload.to_string().replace('<', "\\u003c");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"fs-data\">{payload}</script>\n\
         <script>\n{LIVE_JS}\n{CHARTS_JS}</script>"
    );
}

/// The whole report as one self-contained HTML page: the model, headline totals, the chart of
/// the heaviest modules, then the layers, tree, ops and memory views.
pub fn render_html(report: &Report, o: &ViewOptions) -> String {
    let t = &report.totals;
    let bound = if t.lower_bound { "≥ " } else { "" };
    let mut out = String::new();
    head(&mut out, report, &report.model.path);
    let _ = writeln!(out, "<h1>{}</h1>", esc(&report.model.path));
    for line in header_lines(report).lines().skip(1) {
        let _ = writeln!(out, "<p class=\"meta\">{}</p>", esc(line.trim()));
    }

    // The dims left free: each gets a control, and every figure marked with its formula
    // follows it (live.js, which also sorts and filters the layer table).
    let free = crate::live::free_dims(&[report]);
    dim_controls(&mut out, &free, &report.bindings);
    // The figures that depend on free dims carry their formula (`live_attrs`).
    let formulas = RefCell::new(Formulas::default());
    let live_cell = |d: &Dim, cell: LiveCell| -> String {
        if free.is_empty() || d.as_i64().is_some() {
            return String::new();
        }
        let cell = LiveCell {
            formula: d.to_string(),
            ..cell
        };
        live_attrs(&cell, &formulas)
    };
    let live = |d: &Dim, unit: &str, human: bool, prefix: &str| -> String {
        let cell = LiveCell {
            unit: unit.to_owned(),
            human,
            prefix: prefix.to_owned(),
            ..LiveCell::default()
        };
        live_cell(d, cell)
    };

    out.push_str("<div class=\"cards\">\n");
    let cards: [(&str, String, String, String, String); 6] = [
        (
            "Params",
            human(&t.params, ""),
            live(&t.params, "", true, ""),
            format!(
                "{} trainable + {} buffers",
                crate::units::exact(&t.params),
                crate::units::exact(&t.buffers)
            ),
            String::new(),
        ),
        (
            TotalKind::Macs.label(),
            format!("{bound}{}", human(&t.macs, TotalKind::Macs.unit())),
            live(&t.macs, TotalKind::Macs.unit(), true, bound),
            crate::units::exact(&t.macs),
            live(&t.macs, "", false, ""),
        ),
        (
            TotalKind::Flops.label(),
            format!("{bound}{}", human(&t.flops, TotalKind::Flops.unit())),
            live(&t.flops, TotalKind::Flops.unit(), true, bound),
            crate::units::exact(&t.flops),
            live(&t.flops, "", false, ""),
        ),
        (
            TotalKind::WeightBytes.label(),
            human(&t.weight_bytes, "B"),
            live(&t.weight_bytes, "B", true, ""),
            format!("{} B", crate::units::exact(&t.weight_bytes)),
            live(&t.weight_bytes, "B", false, ""),
        ),
        (
            TotalKind::PeakActivationBytes.label(),
            human(&t.peak_activation_bytes, "B"),
            // The report's peak formula is the largest of the steps that peak at sample sizes;
            // the page shows the largest of every step at the dims shown (charts.js), as
            // `profile --dim` does, and the node where it is reached (`data-peak`).
            live_cell(
                &t.peak_activation_bytes,
                LiveCell {
                    unit: "B".into(),
                    human: true,
                    peak: true,
                    ..LiveCell::default()
                },
            ),
            t.peak_at
                .as_deref()
                .map_or(String::new(), |n| format!("at {n}")),
            if free.is_empty() {
                String::new()
            } else {
                " data-peak=\"node\"".to_owned()
            },
        ),
        (
            "Nodes counted",
            format!("{} / {}", t.counted_nodes, t.nodes),
            String::new(),
            if t.lower_bound {
                "some uncounted: totals are lower bounds".to_owned()
            } else {
                "every node counted".to_owned()
            },
            String::new(),
        ),
    ];
    for (k, v, v_live, x, x_live) in &cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\"{v_live}>{}</div>\
             <div class=\"x\"{x_live}>{}</div></div>",
            esc(k),
            esc(v),
            esc(x)
        );
    }
    out.push_str("</div>\n");

    let views = [
        (View::Tree, "tree", "Module tree"),
        (View::Layers, "layers", "Layers"),
        (View::Ops, "ops", "Op types"),
        (View::Memory, "memory", "Memory"),
    ];
    let roofline = report.hardware.is_some() || report.bench.is_some();
    // Sections the script draws are hidden without it (their links too): the page without
    // scripts is the static report.
    out.push_str("<nav>");
    out.push_str("<a href=\"#chart\">Chart</a>");
    out.push_str("<a href=\"#modules\" class=\"js\" hidden>Modules</a>");
    out.push_str("<a href=\"#timeline\" class=\"js\" hidden>Memory over time</a>");
    out.push_str("<a href=\"#graph\" class=\"js\" hidden>Op graph</a>");
    if !free.is_empty() {
        out.push_str("<a href=\"#sweep\" class=\"js\" hidden>Sweep</a>");
    }
    if roofline {
        out.push_str("<a href=\"#roofline\">Roofline</a>");
    }
    for (_, id, title) in &views {
        let _ = write!(out, "<a href=\"#{id}\">{title}</a>");
    }
    out.push_str("</nav>\n");

    let _ = writeln!(
        out,
        "<h2 id=\"chart\">Where the cost is</h2>\n<div class=\"chart\" id=\"static-chart\">\n{}</div>",
        chart_svg(&heaviest(report), false, None)
    );
    // With free dims, the script shows this chart instead: the bars chosen at the controls'
    // start values, re-weighed and re-sorted as the dims move.
    if !free.is_empty() {
        let start = |name: &str| free.iter().find(|d| d.name == name).map(|d| d.start);
        let live = heaviest_at(report, &start);
        if !live.bars.is_empty() {
            let _ = writeln!(
                out,
                "<div class=\"chart\" id=\"live-chart\" hidden>\n{}</div>",
                chart_svg(&live, false, Some(&formulas))
            );
        }
    }
    out.push_str(
        "<section id=\"modules\" class=\"js\" hidden>\n<h2>Modules</h2>\n\
         <p class=\"meta\">Each module is as wide as its share of its parent; click one to zoom \
         in, a name in the path to zoom out.</p>\n\
         <div class=\"controls\"><label>by <select id=\"icicle-by\"></select></label> \
         <span id=\"crumbs\"></span></div>\n<div class=\"chart\" id=\"icicle\"></div>\n</section>\n\
         <section id=\"timeline\" class=\"js\" hidden>\n<h2>Memory along the execution order</h2>\n\
         <p class=\"meta\">Activation bytes live while each node runs (inputs, outputs and every \
         value still to be read); weights are not included.</p>\n\
         <div class=\"chart\" id=\"memory-chart\"></div>\n<p class=\"meta\" id=\"memory-at\"></p>\n\
         </section>\n",
    );
    out.push_str(
        "<section id=\"graph\" class=\"js\" hidden>\n<h2>Op graph</h2>\n\
         <p class=\"meta\">The nodes of the layer table, top to bottom in dependency order (data \
         movement and constants looked through), coloured by their cost; an uncounted node is \
         outlined in red. Click a node to find it in the layer table.</p>\n\
         <div class=\"controls\"><label>colour by <select id=\"graph-by\"></select></label></div>\n\
         <div class=\"chart graph\" id=\"graph-chart\"></div>\n</section>\n",
    );
    if !free.is_empty() {
        out.push_str(
            "<section id=\"sweep\" class=\"js\" hidden>\n<h2>Sweep</h2>\n\
             <p class=\"meta\">A total along one dim, one line per value of another; the other \
             dims stay at their controls' values.</p>\n\
             <div class=\"controls\"><label>total <select id=\"sweep-total\"></select></label> \
             <label>along <select id=\"sweep-x\"></select></label> \
             <label>from <input type=\"number\" id=\"sweep-from\" min=\"0\"></label> \
             <label>to <input type=\"number\" id=\"sweep-to\" min=\"0\"></label> \
             <label>one line per <select id=\"sweep-series\"></select></label> \
             <label>at <input type=\"text\" id=\"sweep-values\" size=\"14\"></label></div>\n\
             <div class=\"chart\" id=\"sweep-chart\"></div>\n</section>\n",
        );
    }
    if roofline {
        out.push_str("<h2 id=\"roofline\">Roofline</h2>\n");
        if let Some(hw) = &report.hardware {
            let _ = writeln!(
                out,
                "<p class=\"meta\">{}: {} estimated ({}).</p>\n<div class=\"chart\">\n{}</div>",
                esc(&hw.hardware.label),
                esc(&crate::hardware::seconds(hw.time_s)),
                esc(&hw.note),
                crate::hardware::render_roofline_svg(report)
            );
        }
        if let Some(bench) = &report.bench {
            let _ = writeln!(
                out,
                "<p class=\"meta\">Measured on {}: each kernel by its FLOPs per byte and the rate \
                 it reached.</p>\n<div class=\"chart\">\n{}</div>",
                esc(&format!(
                    "{} ({})",
                    bench.runtime.name, bench.runtime.provider
                )),
                crate::bench::render_roofline_svg(bench)
            );
        }
    }
    for (view, id, title) in views {
        let _ = writeln!(out, "<h2 id=\"{id}\">{title}</h2>");
        let opts = ViewOptions {
            view,
            color: false,
            ..*o
        };
        for (i, s) in sections(report, &opts).iter().enumerate() {
            // The layer table (the view's first section) sorts and filters.
            section_html(
                &mut out,
                s,
                view == View::Tree,
                view == View::Layers && i == 0,
                &formulas,
            );
        }
    }
    {
        let payload = crate::live::payload(report, &free, formulas.into_inner());
        scripts(&mut out, &payload);
    }
    let _ = writeln!(
        out,
        "<footer>{} {} · report schema {} · every number here is in the JSON report \
         (<code>--format json</code>)</footer>\n</body>\n</html>",
        esc(&report.tool.name),
        esc(&report.tool.version),
        report.schema_version
    );
    out
}

/// A page inside an `<iframe srcdoc>`, for notebooks (a report's `_repr_html_` in Python): the
/// page keeps its own styles, element ids, script and fragment, so that several reports on one
/// notebook page do not mix, and the notebook's styles do not reach it.
pub fn embed(page: &str) -> String {
    format!(
        "<iframe srcdoc=\"{}\" title=\"flopscope report\" \
         style=\"width: 100%; height: 720px; border: 1px solid #e5e7eb; border-radius: 8px;\"\
         ></iframe>",
        esc(page)
    )
}

/// A diff as one self-contained HTML page: both models side by side (headline totals old → new
/// with Δ, and their module icicles zoomed together), then the totals, modules and nodes that
/// changed. Free dims get controls, as on a report's page, and move both sides at once.
pub fn render_diff_html(diff: &ReportDiff, old: &Report, new: &Report, units: Units) -> String {
    let mut out = String::new();
    let title = format!("{} → {}", old.model.path, new.model.path);
    head(&mut out, new, &format!("diff {title}"));
    let _ = writeln!(out, "<h1>flopscope diff: {}</h1>", esc(&title));
    for line in diff.preamble().iter().skip(1) {
        let _ = writeln!(out, "<p class=\"meta\">{}</p>", esc(line.trim()));
    }
    let free = crate::live::free_dims(&[old, new]);
    dim_controls(&mut out, &free, &new.bindings);

    // Each headline total: old → new, then the change with its sign (live when it depends on
    // free dims).
    let signed = |d: &Dim, unit: &str| match d.as_i64() {
        Some(v) if v > 0 => format!("+{}", human(d, unit)),
        _ => human(d, unit),
    };
    let formulas = RefCell::new(Formulas::default());
    let live = |d: &Dim, unit: &str, whole: Option<&Dim>, signed: bool| -> String {
        if free.is_empty() || (d.as_i64().is_some() && whole.is_none_or(|w| w.as_i64().is_some())) {
            return String::new();
        }
        let cell = LiveCell {
            formula: d.to_string(),
            whole: whole.map(Dim::to_string),
            unit: if whole.is_some() { "" } else { unit }.to_owned(),
            human: whole.is_none(),
            signed,
            ..LiveCell::default()
        };
        live_attrs(&cell, &formulas)
    };
    out.push_str("<div class=\"cards\">\n");
    for kind in [
        TotalKind::Params,
        TotalKind::Macs,
        TotalKind::Flops,
        TotalKind::WeightBytes,
        TotalKind::PeakActivationBytes,
    ] {
        let Some(t) = diff.total(kind.key()) else {
            continue;
        };
        let unit = kind.unit();
        let _ = writeln!(
            out,
            "<div class=\"card\" data-total=\"{key}\"><div class=\"k\">{label}</div>\
             <div class=\"v\"><span class=\"old\"{lo}>{old}</span> → <span class=\"new\"{ln}>{new}</span></div>\
             <div class=\"x\">Δ <span class=\"delta\"{ld}>{delta}</span> \
             (<span class=\"pct\"{lp}>{pct}</span>)</div></div>",
            key = kind.key(),
            label = esc(kind.label()),
            old = esc(&human(&t.old, unit)),
            new = esc(&human(&t.new, unit)),
            delta = esc(&signed(&t.delta, unit)),
            pct = esc(&crate::totals::percent_change_text(&t.old, &t.delta)),
            lo = live(&t.old, unit, None, false),
            ln = live(&t.new, unit, None, false),
            ld = live(&t.delta, unit, None, true),
            lp = live(&t.delta, "", Some(&t.old), true),
        );
    }
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<section id=\"modules\" class=\"js\" hidden>\n<h2>Modules side by side</h2>\n\
         <p class=\"meta\">Each module is as wide as its share of its parent; click one to zoom \
         both sides in, a name in the path to zoom out. Outlined: a module the other side does \
         not have, or weighs differently.</p>\n\
         <div class=\"controls\"><label>by <select id=\"icicle-by\"></select></label> \
         <span id=\"crumbs\"></span></div>\n<div class=\"sides\">\n\
         <div><h3>old: {}</h3><div class=\"chart\" id=\"icicle-old\"></div></div>\n\
         <div><h3>new: {}</h3><div class=\"chart\" id=\"icicle-new\"></div></div>\n</div>\n</section>",
        esc(&old.model.path),
        esc(&new.model.path)
    );
    if diff.is_empty() {
        out.push_str("<p>No differences: every total, module and node is the same.</p>\n");
    }
    for s in &diff.sections(units, false) {
        section_html(&mut out, s, false, false, &formulas);
    }
    scripts(
        &mut out,
        &crate::live::diff_payload(old, new, &free, formulas.into_inner()),
    );
    let _ = writeln!(
        out,
        "<footer>{} {} · every number here is in the JSON diff (<code>--format json</code>)\
         </footer>\n</body>\n</html>",
        esc(&new.tool.name),
        esc(&new.tool.version),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn labels_leave_out_repeated_scopes() {
        assert_eq!(
            label(&segs(&["features", "features.2", "conv"])),
            "features.2/conv"
        );
        assert_eq!(
            label(&segs(&["m", "m.transformer", "m.transformer.h.0"])),
            "m.transformer.h.0"
        );
        assert_eq!(label(&segs(&["encoder", "layer"])), "encoder/layer");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    }
}
