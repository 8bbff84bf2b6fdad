//! The batch × resolution study: one row per point of a grid of input sizes, each figure's
//! ratio to the first row, and how every total grows with the model's dims; as a table,
//! Markdown, CSV, JSON or an SVG plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use flopscope_ir::{Dim, GrowthTerm};
use serde::{Deserialize, Serialize};

use crate::SCHEMA_VERSION;
use crate::totals::TotalKind;
use crate::units::{exact, human};

/// One swept quantity: a named dim, dims that move together (`size` sets height and width),
/// or an input's whole shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAxis {
    pub name: String,
    /// The model's dims this axis sets (empty for an input shape).
    pub symbols: Vec<String>,
}

/// The totals at one point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The value of each axis, in axis order (`"224"`, or a shape `"1x3x224x224"`).
    pub values: Vec<String>,
    pub params: i64,
    pub macs: i64,
    pub flops: i64,
    pub activation_bytes: i64,
    pub peak_activation_bytes: i64,
    /// The node where the peak is first reached.
    pub peak_at: Option<String>,
    /// The roofline time on the sweep's hardware (`--hardware`), seconds: an estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
}

impl SweepRow {
    /// The totals a sweep gives at every point, in column order.
    pub const TOTALS: [TotalKind; 5] = [
        TotalKind::Params,
        TotalKind::Macs,
        TotalKind::Flops,
        TotalKind::ActivationBytes,
        TotalKind::PeakActivationBytes,
    ];

    /// One of [`SweepRow::TOTALS`] at this point (`None` for another total).
    pub fn get(&self, kind: TotalKind) -> Option<i64> {
        match kind {
            TotalKind::Params => Some(self.params),
            TotalKind::Macs => Some(self.macs),
            TotalKind::Flops => Some(self.flops),
            TotalKind::ActivationBytes => Some(self.activation_bytes),
            TotalKind::PeakActivationBytes => Some(self.peak_activation_bytes),
            _ => None,
        }
    }
}

/// How one total grows: its power products of the model's dims, highest degree first, reading
/// `floor(h/k)` as `h/k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Law {
    pub total: String,
    pub unit: String,
    pub terms: Vec<LawTerm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LawTerm {
    pub coefficient: f64,
    /// `batch·seq²`, or `1` for the constant part.
    pub power_product: String,
}

impl Law {
    pub fn new(total: &str, unit: &str, value: &Dim) -> Law {
        Law {
            total: total.to_owned(),
            unit: unit.to_owned(),
            terms: value
                .growth()
                .iter()
                .map(|t: &GrowthTerm| LawTerm {
                    coefficient: t.coefficient,
                    power_product: t.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub schema_version: u32,
    /// The model's path as given.
    pub model: String,
    pub axes: Vec<SweepAxis>,
    pub rows: Vec<SweepRow>,
    /// The totals as formulas in the model's dims, when one symbolic profile serves every
    /// point (keys: `macs`, `flops`, `params`, `activation_bytes`, `peak_activation_bytes`).
    pub formulas: Option<BTreeMap<String, Dim>>,
    pub laws: Vec<Law>,
    /// Some nodes are uncounted: every figure is a lower bound.
    pub lower_bound: bool,
    /// The machine the rows' `time_s` are estimated for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<crate::hardware::Hardware>,
}

/// The quantities of a row, with their labels and units.
const COLUMNS: [(&str, &str); 5] = [
    ("Params", ""),
    ("MACs", "MACs"),
    ("FLOPs", "FLOPs"),
    ("Activations", "B"),
    ("Peak memory", "B"),
];

fn figures(row: &SweepRow) -> [i64; 5] {
    SweepRow::TOTALS.map(|k| row.get(k).unwrap_or_default())
}

/// `value / first` as `×32.00`.
fn ratio(value: i64, first: i64) -> String {
    if first == 0 {
        return "-".into();
    }
    let r = value as f64 / first as f64;
    format!("×{r:.2}")
}

/// The growth of one total as text: `≈ 5.97 K·batch·height·width + 1.28 M·batch`.
fn law_text(law: &Law) -> String {
    if law.terms.is_empty() {
        return "0".into();
    }
    let parts: Vec<String> = law
        .terms
        .iter()
        .map(|t| {
            let c = human(&Dim::from_i64(t.coefficient.round() as i64), "");
            let c = if t.coefficient.abs() < 1000.0 && t.coefficient.fract() != 0.0 {
                format!("{:.2}", t.coefficient)
            } else {
                c
            };
            if t.power_product == "1" {
                c
            } else {
                format!("{c}·{}", t.power_product)
            }
        })
        .collect();
    parts.join(" + ").replace("+ -", "− ")
}

impl SweepReport {
    pub fn new(model: &str, axes: Vec<SweepAxis>, rows: Vec<SweepRow>) -> SweepReport {
        SweepReport {
            schema_version: SCHEMA_VERSION,
            model: model.to_owned(),
            axes,
            rows,
            formulas: None,
            laws: Vec::new(),
            lower_bound: false,
            hardware: None,
        }
    }

    /// The time column's header and each row's cell, when the rows have times.
    fn time_cells(&self) -> Option<(String, Vec<(String, String)>)> {
        let h = self.hardware.as_ref()?;
        let first = self.rows.first().and_then(|r| r.time_s).unwrap_or(0.0);
        let cells = self
            .rows
            .iter()
            .map(|r| match r.time_s {
                Some(t) => (
                    crate::hardware::seconds(t),
                    if first > 0.0 {
                        format!("×{:.2}", t / first)
                    } else {
                        "-".into()
                    },
                ),
                None => ("-".into(), "-".into()),
            })
            .collect();
        Some((format!("Est. time on {}", h.name), cells))
    }

    pub fn to_json(&self) -> serde_json::Result<String> {
        crate::json::to_string_pretty(self, 64 * 1024)
    }

    fn header(&self, ratios: bool) -> Vec<String> {
        let mut h: Vec<String> = self.axes.iter().map(|a| a.name.clone()).collect();
        for (name, unit) in COLUMNS {
            h.push(if unit == "B" {
                format!("{name} (B)")
            } else {
                name.to_owned()
            });
            if ratios {
                h.push("×".into());
            }
        }
        h
    }

    /// The terminal table, then the laws.
    pub fn render_table(&self) -> String {
        self.render_table_in(None)
    }

    /// [`SweepReport::render_table`], fitted to `width` columns when given (a terminal's).
    pub fn render_table_in(&self, width: Option<u16>) -> String {
        let mut t = Table::new();
        let times = self.time_cells();
        let mut header = self.header(true);
        if let Some((name, _)) = &times {
            header.push(name.clone());
            header.push("×".into());
        }
        t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
        crate::views::fit(&mut t, width);
        let first = self.rows.first().map(figures).unwrap_or_default();
        for (r, row) in self.rows.iter().enumerate() {
            let mut cells = row.values.clone();
            for (i, (value, (_, unit))) in figures(row).iter().zip(COLUMNS).enumerate() {
                cells.push(human(&Dim::from_i64(*value), unit));
                cells.push(ratio(*value, first[i]));
            }
            if let Some((_, time)) = &times {
                cells.push(time[r].0.clone());
                cells.push(time[r].1.clone());
            }
            t.add_row(cells);
        }
        for c in 0..self.axes.len() + 2 * COLUMNS.len() + 2 {
            if let Some(col) = t.column_mut(c) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = format!("Model   {}\n", self.model);
        if self.lower_bound {
            out.push_str("Some nodes are uncounted: every figure is a lower bound.\n");
        }
        let _ = writeln!(out, "{t}");
        if let Some(h) = &self.hardware {
            let _ = writeln!(
                out,
                "Times on {} are {}.",
                h.label,
                crate::hardware::ESTIMATE_NOTE
            );
        }
        out.push_str(&self.laws_text());
        out
    }

    fn laws_text(&self) -> String {
        if self.laws.is_empty() {
            return String::new();
        }
        let mut out =
            String::from("\nHow the totals grow with the model's dims (floor(h/k) read as h/k):\n");
        let width = self.laws.iter().map(|l| l.total.len()).max().unwrap_or(0);
        for law in &self.laws {
            let unit = if law.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", law.unit)
            };
            let _ = writeln!(out, "  {:<width$}  ≈ {}{unit}", law.total, law_text(law));
        }
        out
    }

    /// A Markdown table (exact integers and ratios), then the laws.
    pub fn render_markdown(&self) -> String {
        let times = self.time_cells();
        let mut header = self.header(true);
        if let Some((name, _)) = &times {
            header.push(name.clone());
            header.push("×".into());
        }
        let mut out = format!(
            "**{}**\n\n| {} |\n|{}|\n",
            self.model,
            header.join(" | "),
            vec!["---:"; header.len()].join("|")
        );
        let first = self.rows.first().map(figures).unwrap_or_default();
        for (r, row) in self.rows.iter().enumerate() {
            let mut cells = row.values.clone();
            for (i, value) in figures(row).iter().enumerate() {
                cells.push(exact(&Dim::from_i64(*value)));
                cells.push(ratio(*value, first[i]));
            }
            if let Some((_, time)) = &times {
                cells.push(time[r].0.clone());
                cells.push(time[r].1.clone());
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        if let Some(h) = &self.hardware {
            let _ = writeln!(
                out,
                "\nTimes on {} are {}.",
                h.label,
                crate::hardware::ESTIMATE_NOTE
            );
        }
        if self.lower_bound {
            out.push_str("\nSome nodes are uncounted: every figure is a lower bound.\n");
        }
        if !self.laws.is_empty() {
            out.push_str(
                "\nHow the totals grow with the model's dims (`floor(h/k)` read as `h/k`):\n\n",
            );
            for law in &self.laws {
                let unit = if law.unit.is_empty() {
                    String::new()
                } else {
                    format!(" {}", law.unit)
                };
                let _ = writeln!(out, "- {}: ≈ {}{unit}", law.total, law_text(law));
            }
        }
        out
    }

    /// CSV with exact integers: one row per point, no ratios.
    pub fn render_csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let mut header: Vec<String> = self.axes.iter().map(|a| quote(&a.name)).collect();
        header.extend(SweepRow::TOTALS.map(|k| k.key().to_owned()));
        header.push("peak_at".to_owned());
        if self.hardware.is_some() {
            header.push("time_s".to_owned());
        }
        let mut out = header.join(",") + "\n";
        for row in &self.rows {
            let mut cells: Vec<String> = row.values.iter().map(|v| quote(v)).collect();
            cells.extend(figures(row).iter().map(i64::to_string));
            cells.push(quote(row.peak_at.as_deref().unwrap_or("")));
            if self.hardware.is_some() {
                cells.push(row.time_s.map_or_else(String::new, |t| format!("{t:e}")));
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

// ---- SVG ---------------------------------------------------------------------------------------

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" upper bound for an axis and its tick step: 1, 2 or 5 times a power of ten.
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// A plotted line: its label and its rows in x order.
type Series<'r> = (String, Vec<&'r SweepRow>);

/// A chart: its title, the unit of its y axis, and the value it plots.
type Panel = (&'static str, &'static str, fn(&SweepRow) -> f64);

impl SweepReport {
    /// The axis plotted along x (the numeric one with the most distinct values) and the series:
    /// each combination of the other axes' values, with the rows it holds.
    fn series(&self) -> Option<(usize, Vec<Series<'_>>)> {
        let distinct = |i: usize| {
            let mut v: Vec<&String> = self.rows.iter().map(|r| &r.values[i]).collect();
            v.sort();
            v.dedup();
            v.len()
        };
        let numeric = |i: usize| self.rows.iter().all(|r| r.values[i].parse::<f64>().is_ok());
        let x = (0..self.axes.len())
            .filter(|&i| numeric(i))
            .max_by_key(|&i| distinct(i))?;
        let mut groups: BTreeMap<String, Vec<&SweepRow>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for row in &self.rows {
            let label = self
                .axes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != x)
                .map(|(i, a)| format!("{} = {}", a.name, row.values[i]))
                .collect::<Vec<_>>()
                .join(", ");
            if !groups.contains_key(&label) {
                order.push(label.clone());
            }
            groups.entry(label).or_default().push(row);
        }
        let series = order
            .into_iter()
            .map(|label| {
                let mut rows = groups.remove(&label).unwrap_or_default();
                rows.sort_by(|a, b| {
                    let v = |r: &SweepRow| r.values[x].parse::<f64>().unwrap_or(0.0);
                    v(a).total_cmp(&v(b))
                });
                (label, rows)
            })
            .collect();
        Some((x, series))
    }

    /// Two line charts side by side: MACs and peak activation memory against the swept axis,
    /// one line per value of the other axes. The y axis is logarithmic when the values span
    /// more than 20×, so that small and large batches both show. A self-contained SVG document.
    pub fn render_svg(&self) -> String {
        let (panel_w, panel_h) = (440.0, 300.0);
        let (left, top, gap) = (90.0, 84.0, 120.0);
        let width = left + 2.0 * panel_w + gap + 40.0;
        let height = top + panel_h + 60.0;
        let Some((x_axis, series)) = self.series() else {
            return String::from(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"60\"><text x=\"10\" y=\"30\">no numeric axis to plot</text></svg>\n",
            );
        };
        let xs: Vec<f64> = self
            .rows
            .iter()
            .filter_map(|r| r.values[x_axis].parse::<f64>().ok())
            .collect();
        let x_min = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let x_max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
        let mut ticks: Vec<f64> = xs.clone();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();

        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"22\" font-size=\"16\" text-anchor=\"middle\">{}: MACs and peak activation memory</text>",
            width / 2.0,
            escape(&self.model)
        );
        // Legend, in one row under the title.
        let mut lx = left;
        for (k, (label, _)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let text = if label.is_empty() {
                "all points"
            } else {
                label.as_str()
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{lx}\" y1=\"44\" x2=\"{}\" y2=\"44\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{}\" y=\"48\">{}</text>",
                lx + 24.0,
                lx + 30.0,
                escape(text)
            );
            let advance = 60.0 + 7.0 * text.chars().count() as f64;
            lx += advance;
        }
        let panels: [Panel; 2] = [
            ("MACs", "MACs", |r| r.macs as f64),
            ("Peak activation memory", "bytes", |r| {
                r.peak_activation_bytes as f64
            }),
        ];
        for (p, (title, unit, value)) in panels.iter().enumerate() {
            let x0 = left + p as f64 * (panel_w + gap);
            let vals: Vec<f64> = self.rows.iter().map(value).filter(|v| *v > 0.0).collect();
            let y_max = vals.iter().copied().fold(0.0, f64::max);
            let y_min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let log = y_min.is_finite() && y_max / y_min > 20.0;
            let (scale, y_ticks): (Box<dyn Fn(f64) -> f64>, Vec<f64>) = if log {
                let lo = y_min.log10().floor();
                let hi = y_max.log10().ceil().max(lo + 1.0);
                let ticks = (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect();
                (
                    Box::new(move |y: f64| (y.max(1e-300).log10() - lo) / (hi - lo)),
                    ticks,
                )
            } else {
                let (y_top, step) = nice_axis(y_max);
                let n = (y_top / step).round() as i32;
                (
                    Box::new(move |y: f64| y / y_top),
                    (0..=n).map(|i| f64::from(i) * step).collect(),
                )
            };
            let px = |x: f64| x0 + (x - x_min) / x_span * panel_w;
            let py = |y: f64| top + panel_h - scale(y) * panel_h;
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{title}{}</text>",
                x0 + panel_w / 2.0,
                top - 10.0,
                if log { " (log scale)" } else { "" }
            );
            for y in &y_ticks {
                let _ = writeln!(
                    svg,
                    "<line x1=\"{x0}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#e0e0e0\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
                    py(*y),
                    x0 + panel_w,
                    x0 - 6.0,
                    py(*y) + 4.0,
                    compact(*y)
                );
            }
            let _ = writeln!(
                svg,
                "<line x1=\"{x0}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/><line x1=\"{x0}\" y1=\"{top}\" x2=\"{x0}\" y2=\"{0}\" stroke=\"black\"/>",
                top + panel_h,
                x0 + panel_w
            );
            for t in &ticks {
                let _ = writeln!(
                    svg,
                    "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"black\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
                    px(*t),
                    top + panel_h,
                    top + panel_h + 5.0,
                    top + panel_h + 18.0,
                    t
                );
            }
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x0 + panel_w / 2.0,
                top + panel_h + 40.0,
                escape(&axis_label(&self.axes[x_axis]))
            );
            let _ = writeln!(
                svg,
                "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}</text>",
                x0 - 64.0,
                top + panel_h / 2.0,
                unit
            );
            for (k, (_, rows)) in series.iter().enumerate() {
                let color = PALETTE[k % PALETTE.len()];
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter_map(|r| Some((px(r.values[x_axis].parse().ok()?), py(value(r)))))
                    .collect();
                let path: Vec<String> = points
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect();
                let _ = writeln!(
                    svg,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                    path.join(" ")
                );
                for (x, y) in points {
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{color}\"/>"
                    );
                }
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// `size (height = width)` for an axis that sets several dims, else its name.
fn axis_label(axis: &SweepAxis) -> String {
    if axis.symbols.len() > 1 {
        format!("{} ({})", axis.name, axis.symbols.join(" = "))
    } else {
        axis.name.clone()
    }
}

/// A tick label: the value with an SI prefix and no trailing zeros (`20 G`, `2.5 G`, `800 M`).
fn compact(v: f64) -> String {
    let (scaled, prefix) = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")]
        .iter()
        .find(|(s, _)| v.abs() >= *s)
        .map_or((v, ""), |(s, p)| (v / s, *p));
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if prefix.is_empty() {
        text.to_owned()
    } else {
        format!("{text} {prefix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[&str], macs: i64, peak: i64) -> SweepRow {
        SweepRow {
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            params: 10,
            macs,
            flops: 2 * macs,
            activation_bytes: peak * 3,
            peak_activation_bytes: peak,
            peak_at: Some("conv".into()),
            time_s: None,
        }
    }

    fn report() -> SweepReport {
        let axes = vec![
            SweepAxis {
                name: "batch".into(),
                symbols: vec!["batch".into()],
            },
            SweepAxis {
                name: "size".into(),
                symbols: vec!["height".into(), "width".into()],
            },
        ];
        let rows = vec![
            row(&["1", "224"], 1000, 400),
            row(&["1", "320"], 2000, 800),
            row(&["32", "224"], 32000, 12800),
            row(&["32", "320"], 64000, 25600),
        ];
        let mut r = SweepReport::new("m.onnx", axes, rows);
        let b = Dim::sym("batch");
        let h = Dim::sym("height");
        r.laws = vec![Law::new("MACs", "MACs", &(&b * &h * &h * 3 + &b * 7))];
        r
    }

    #[test]
    fn table_has_ratios_to_the_first_row_and_the_laws() {
        let text = report().render_table();
        assert!(text.contains("×64.00"), "{text}");
        assert!(text.contains("≈ 3·batch·height² + 7·batch MACs"), "{text}");
    }

    #[test]
    fn csv_and_markdown_hold_exact_integers() {
        let csv = report().render_csv();
        assert_eq!(
            csv.lines().next().unwrap(),
            "batch,size,params,macs,flops,activation_bytes,peak_activation_bytes,peak_at"
        );
        assert_eq!(
            csv.lines().nth(4).unwrap(),
            "32,320,10,64000,128000,76800,25600,conv"
        );
        let md = report().render_markdown();
        assert!(
            md.contains("| 32 | 320 | 10 | ×1.00 | 64,000 | ×64.00 |"),
            "{md}"
        );
    }

    #[test]
    fn svg_plots_one_line_per_other_axis_value() {
        let svg = report().render_svg();
        assert!(svg.starts_with("<svg"));
        // Two panels × two series.
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("batch = 1") && svg.contains("batch = 32"));
        assert!(svg.contains(">size (height = width)<"), "{svg}");
    }
}
