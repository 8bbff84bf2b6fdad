//! What the live HTML page carries for its script (`live.js`, `charts.js`): the dims left free
//! with their controls' ranges, and every formula the charts re-evaluate when a dim moves (the
//! module tree, the live activation memory along the execution order, the op graph and the
//! totals; the chart's bars carry theirs in the page). Formulas are stored once in a table and
//! referred to by index, so that a page with a thousand nodes stays small.

use std::collections::HashMap;

use flopscope_ir::Dim;
use serde_json::{Value, json};

use crate::model::Report;
use crate::totals::TotalKind;
use crate::views::{Module, module_tree};

/// What a free dim measures, read from its name: it sets the dim's control and the sweep's
/// defaults, and height and width can be swept together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DimKind {
    Height,
    Width,
    /// Another image size (`size`, `resolution`).
    Size,
    /// A sequence length or position count.
    Seq,
    /// Anything else: a batch, a count.
    Count,
}

impl DimKind {
    fn of(name: &str) -> DimKind {
        let lower = name.to_ascii_lowercase();
        let has = |keys: &[&str]| keys.iter().any(|k| lower.contains(k));
        if has(&["height"]) {
            DimKind::Height
        } else if has(&["width"]) {
            DimKind::Width
        } else if has(&["size", "resolution"]) {
            DimKind::Size
        } else if has(&["seq", "len", "token", "past", "position"]) {
            DimKind::Seq
        } else {
            DimKind::Count
        }
    }

    fn key(self) -> &'static str {
        match self {
            DimKind::Height => "height",
            DimKind::Width => "width",
            DimKind::Size => "size",
            DimKind::Seq => "seq",
            DimKind::Count => "count",
        }
    }

    /// The control's start value and range.
    fn control(self) -> (i64, i64, i64) {
        match self {
            DimKind::Height | DimKind::Width | DimKind::Size => (224, 16, 1024),
            DimKind::Seq => (128, 1, 8192),
            DimKind::Count => (1, 1, 256),
        }
    }

    /// The sweep's default range along the dim, and its default values as a series.
    fn sweep(self) -> ([i64; 2], &'static [i64]) {
        match self {
            DimKind::Height | DimKind::Width | DimKind::Size => ([64, 512], &[224, 320]),
            DimKind::Seq => ([1, 2048], &[128, 512, 2048]),
            DimKind::Count => ([1, 64], &[1, 8, 32]),
        }
    }
}

/// A dim left free in the report, with its control's start value and range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FreeDim {
    pub(crate) name: String,
    pub(crate) kind: DimKind,
    pub(crate) start: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
}

/// The dims the reports' totals depend on, sorted, each with its kind, start value and slider
/// range ([`DimKind::control`]).
pub(crate) fn free_dims(reports: &[&Report]) -> Vec<FreeDim> {
    let mut names: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            let t = &r.totals;
            [
                &t.macs,
                &t.flops,
                &t.params,
                &t.weight_bytes,
                &t.peak_activation_bytes,
                &t.bytes,
            ]
            .into_iter()
            .flat_map(|d| d.symbols())
        })
        .map(|s| s.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let kind = DimKind::of(&name);
            let (start, min, max) = kind.control();
            FreeDim {
                name,
                kind,
                start,
                min,
                max,
            }
        })
        .collect()
}

/// Formulas by index, each stored once: the page's cells (`data-f`) and charts refer to them.
#[derive(Debug, Default)]
pub(crate) struct Formulas {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Formulas {
    pub(crate) fn id(&mut self, d: &Dim) -> usize {
        self.id_text(&d.to_string())
    }

    pub(crate) fn id_text(&mut self, text: &str) -> usize {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        self.list.push(text.to_owned());
        self.index.insert(text.to_owned(), self.list.len() - 1);
        self.list.len() - 1
    }
}

/// The module tree in preorder: `[name, depth, macs, flops, params, bytes]` per module, the
/// costs as formula indices. A module's children follow it at depth + 1 and add up to it.
fn tree_rows(m: &Module, depth: usize, f: &mut Formulas, out: &mut Vec<Value>) {
    out.push(json!([
        m.name,
        depth,
        f.id(&m.macs),
        f.id(&m.flops),
        f.id(&m.params),
        f.id(&m.bytes)
    ]));
    for c in &m.children {
        tree_rows(c, depth + 1, f, out);
    }
}

/// The controls' dims and the values bound on the command line.
fn dims(free: &[FreeDim], bound: &[&Report]) -> (Value, Value) {
    (
        free.iter()
            .map(|d| {
                let (range, series) = d.kind.sweep();
                json!({
                    "name": d.name,
                    "kind": d.kind.key(),
                    "start": d.start,
                    "min": d.min,
                    "max": d.max,
                    "sweep": range,
                    "series": series,
                })
            })
            .collect(),
        bound
            .iter()
            .flat_map(|r| &r.bindings)
            .filter_map(|(k, v)| Some((k.clone(), json!(v.as_i64()?))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    )
}

/// An icicle of a report's module tree, drawn into the element `id`.
fn icicle(id: &str, title: &str, report: &Report, f: &mut Formulas) -> Value {
    let mut tree = Vec::new();
    tree_rows(&module_tree(report), 0, f, &mut tree);
    json!({"id": id, "title": title, "tree": tree})
}

/// The report page's data (`<script type="application/json" id="fs-data">`).
pub(crate) fn payload(report: &Report, free: &[FreeDim], mut f: Formulas) -> Value {
    let icicles = vec![icicle("icicle", "", report, &mut f)];
    let t = &report.totals;
    let totals: Vec<Value> = [
        TotalKind::Macs,
        TotalKind::Flops,
        TotalKind::Params,
        TotalKind::WeightBytes,
        TotalKind::PeakActivationBytes,
        TotalKind::Bytes,
    ]
    .iter()
    .map(|k| json!([k.label(), k.unit(), f.id(&k.of(t))]))
    .collect();
    let memory = json!({
        "names": report.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        "live": report
            .nodes
            .iter()
            .map(|n| f.id(&n.live_activation_bytes))
            .collect::<Vec<_>>(),
    });
    // The op graph: each shown node's place and costs, edges between places.
    let l = crate::layout::layout(&report.nodes);
    let graph = json!({
        "nodes": l
            .nodes
            .iter()
            .map(|&(i, layer, slot)| {
                let n = &report.nodes[i];
                json!([
                    i,
                    layer,
                    slot,
                    flopscope_ir::op_label(&n.domain, &n.op_type),
                    f.id(&n.macs),
                    f.id(&n.flops),
                    f.id(&n.bytes),
                    u8::from(n.counted)
                ])
            })
            .collect::<Vec<_>>(),
        "edges": l.edges.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
        "layers": l.layers,
        "width": l.width,
    });
    let (free, bound) = dims(free, &[report]);
    json!({
        "free": free,
        "bound": bound,
        "icicles": icicles,
        // What the module icicle weighs by first: the chart's measure.
        "metric": if crate::html::by_flops(t) { "flops" } else { "macs" },
        "memory": memory,
        "graph": graph,
        "totals": totals,
        "f": f.list,
    })
}

/// The diff page's data: both module trees, side by side.
pub(crate) fn diff_payload(old: &Report, new: &Report, free: &[FreeDim], mut f: Formulas) -> Value {
    let icicles = vec![
        icicle("icicle-old", &old.model.path, old, &mut f),
        icicle("icicle-new", &new.model.path, new, &mut f),
    ];
    let (free, bound) = dims(free, &[old, new]);
    json!({"free": free, "bound": bound, "icicles": icicles, "f": f.list})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_stored_once() {
        let mut f = Formulas::default();
        let batch = Dim::sym("batch");
        let a = f.id(&(batch.clone() * 3));
        let b = f.id(&Dim::from_i64(7));
        assert_eq!(f.id(&(batch * 3)), a);
        assert_ne!(a, b);
        assert_eq!(f.list, vec!["3*batch".to_owned(), "7".to_owned()]);
    }
}
