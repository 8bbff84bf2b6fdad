//! What changed between two reports: totals with their deltas, then the modules and nodes that
//! were added, removed or changed (`flopscope diff OLD NEW`).
//!
//! Nodes are matched by name (the first output's name for unnamed nodes; the k-th node of a
//! repeated name with the k-th of the same name on the other side); modules by their path.
//! A node changed when its op, output shapes, params, buffers, MACs or FLOPs differ. Lists
//! follow the new model's execution order, each removed entry placed before the first entry
//! that came after it in the old model.

use std::collections::{BTreeMap, HashMap};

use flopscope_ir::{Dim, ShapeDisplay, op_label};
use serde::{Deserialize, Serialize};

use crate::model::{NodeReport, Report, TensorReport};
use crate::totals::{TotalKind, percent_change, percent_change_text};
use crate::units::{exact, human};
use crate::views::{LiveCell, Section, Units};

/// How an entry differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    fn marker(self) -> &'static str {
        match self {
            Change::Added => "+ added",
            Change::Removed => "- removed",
            Change::Changed => "~ changed",
        }
    }
}

/// One total on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalDelta {
    /// The field of `totals` in the JSON report (`params`, `macs`, ...).
    pub key: String,
    pub old: Dim,
    pub new: Dim,
    pub delta: Dim,
    /// `delta / old` in percent, when both sides are numbers and `old` is not 0.
    pub delta_percent: Option<f64>,
}

/// The costs of a node or module on one side.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Costs {
    pub params: Dim,
    pub buffers: Dim,
    pub macs: Dim,
    pub flops: Dim,
}

impl Costs {
    fn of(n: &NodeReport) -> Costs {
        Costs {
            params: n.params.clone(),
            buffers: n.buffers.clone(),
            macs: n.macs.clone(),
            flops: n.flops.clone(),
        }
    }

    fn add(&mut self, other: &Costs) {
        self.params += &other.params;
        self.buffers += &other.buffers;
        self.macs += &other.macs;
        self.flops += &other.flops;
    }
}

/// A node on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSide {
    pub op_type: String,
    /// Output shapes, `[1, 32, 112, 112]`.
    pub outputs: Vec<String>,
    #[serde(flatten)]
    pub costs: Costs,
}

/// A node added, removed or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeChange {
    pub change: Change,
    pub name: String,
    pub old: Option<NodeSide>,
    pub new: Option<NodeSide>,
}

/// A module on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleSide {
    pub nodes: usize,
    #[serde(flatten)]
    pub costs: Costs,
}

/// A module added, removed or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleChange {
    pub change: Change,
    /// The module's path, scopes joined by `/`.
    pub path: String,
    pub old: Option<ModuleSide>,
    pub new: Option<ModuleSide>,
}

/// One side of the diff: which report, with which inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffSide {
    pub path: String,
    pub inputs: Vec<TensorReport>,
    pub bindings: BTreeMap<String, Dim>,
}

/// The difference between two reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDiff {
    pub old: DiffSide,
    pub new: DiffSide,
    /// Module levels compared.
    pub depth: usize,
    /// Every total, changed or not.
    pub totals: Vec<TotalDelta>,
    pub modules: Vec<ModuleChange>,
    pub nodes: Vec<NodeChange>,
}

fn side(report: &Report) -> DiffSide {
    DiffSide {
        path: report.model.path.clone(),
        inputs: report.model.inputs.clone(),
        bindings: report.bindings.clone(),
    }
}

/// The key a node is matched by: its name, or its first output's for an unnamed node, with the
/// occurrence number of that key.
fn node_keys(nodes: &[NodeReport]) -> Vec<(String, usize)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    nodes
        .iter()
        .map(|n| {
            let key = if n.name.is_empty() {
                format!("<output {}>", n.outputs.first().map_or("", |o| &o.name))
            } else {
                n.name.clone()
            };
            let k = seen.entry(key.clone()).or_insert(0);
            *k += 1;
            (key, *k - 1)
        })
        .collect()
}

fn node_side(n: &NodeReport) -> NodeSide {
    NodeSide {
        op_type: op_label(&n.domain, &n.op_type),
        outputs: n
            .outputs
            .iter()
            .map(|o| match &o.shape {
                Some(s) => ShapeDisplay(s).to_string(),
                None => "?".into(),
            })
            .collect(),
        costs: Costs::of(n),
    }
}

/// Merges two ordered keyed lists: every key of `new` in order, each key only in `old` placed
/// before the first entry that followed it in `old`. Yields (old index, new index).
fn merge<K: std::hash::Hash + Eq>(old: &[K], new: &[K]) -> Vec<(Option<usize>, Option<usize>)> {
    let in_old: HashMap<&K, usize> = old.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let in_new: HashMap<&K, usize> = new.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut out = Vec::with_capacity(new.len().max(old.len()));
    let mut next_old = 0;
    let flush =
        |upto: usize, next_old: &mut usize, out: &mut Vec<(Option<usize>, Option<usize>)>| {
            while *next_old < upto {
                if !in_new.contains_key(&old[*next_old]) {
                    out.push((Some(*next_old), None));
                }
                *next_old += 1;
            }
        };
    for (j, k) in new.iter().enumerate() {
        match in_old.get(k) {
            Some(&i) => {
                flush(i, &mut next_old, &mut out);
                next_old = next_old.max(i + 1);
                out.push((Some(i), Some(j)));
            }
            None => out.push((None, Some(j))),
        }
    }
    flush(old.len(), &mut next_old, &mut out);
    out
}

/// Every module of a report down to `depth` levels, in order of first appearance.
fn modules(report: &Report, depth: usize) -> Vec<(String, ModuleSide)> {
    let mut order: Vec<String> = Vec::new();
    let mut by_path: HashMap<String, ModuleSide> = HashMap::new();
    for n in &report.nodes {
        let costs = Costs::of(n);
        for level in 1..=n.module.len().min(depth) {
            let path = n.module[..level].join("/");
            let m = by_path.entry(path.clone()).or_insert_with(|| {
                order.push(path.clone());
                ModuleSide {
                    nodes: 0,
                    costs: Costs::default(),
                }
            });
            m.nodes += 1;
            m.costs.add(&costs);
        }
    }
    order
        .into_iter()
        .map(|p| {
            let m = by_path.remove(&p).unwrap_or(ModuleSide {
                nodes: 0,
                costs: Costs::default(),
            });
            (p, m)
        })
        .collect()
}

impl ReportDiff {
    /// Compares `old` with `new`, modules down to `depth` levels.
    pub fn new(old: &Report, new: &Report, depth: usize) -> ReportDiff {
        let totals = TotalKind::ALL
            .iter()
            .map(|kind| {
                let (o, n) = (kind.of(&old.totals), kind.of(&new.totals));
                let delta = &n - &o;
                TotalDelta {
                    key: kind.key().to_owned(),
                    delta_percent: percent_change(&o, &delta),
                    old: o,
                    new: n,
                    delta,
                }
            })
            .collect();

        let (old_keys, new_keys) = (node_keys(&old.nodes), node_keys(&new.nodes));
        let nodes = merge(&old_keys, &new_keys)
            .into_iter()
            .filter_map(|pair| {
                let (o, n) = (
                    pair.0.map(|i| node_side(&old.nodes[i])),
                    pair.1.map(|j| node_side(&new.nodes[j])),
                );
                let (change, name) = match pair {
                    (Some(_), Some(_)) if o == n => return None,
                    (Some(_), Some(j)) => (Change::Changed, new_keys[j].0.clone()),
                    (None, Some(j)) => (Change::Added, new_keys[j].0.clone()),
                    (Some(i), None) => (Change::Removed, old_keys[i].0.clone()),
                    (None, None) => return None,
                };
                Some(NodeChange {
                    change,
                    name,
                    old: o,
                    new: n,
                })
            })
            .collect();

        let (old_mods, new_mods) = (modules(old, depth), modules(new, depth));
        let old_paths: Vec<&String> = old_mods.iter().map(|(p, _)| p).collect();
        let new_paths: Vec<&String> = new_mods.iter().map(|(p, _)| p).collect();
        let modules = merge(&old_paths, &new_paths)
            .into_iter()
            .filter_map(|pair| {
                let o = pair.0.map(|i| old_mods[i].1.clone());
                let n = pair.1.map(|j| new_mods[j].1.clone());
                let (change, path) = match pair {
                    (Some(_), Some(_)) if o == n => return None,
                    (Some(_), Some(j)) => (Change::Changed, new_mods[j].0.clone()),
                    (None, Some(j)) => (Change::Added, new_mods[j].0.clone()),
                    (Some(i), None) => (Change::Removed, old_mods[i].0.clone()),
                    (None, None) => return None,
                };
                Some(ModuleChange {
                    change,
                    path,
                    old: o,
                    new: n,
                })
            })
            .collect();

        ReportDiff {
            old: side(old),
            new: side(new),
            depth,
            totals,
            modules,
            nodes,
        }
    }

    /// No total, module or node differs.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
            && self.modules.is_empty()
            && self.totals.iter().all(|t| t.delta == Dim::zero())
    }

    /// A total by its key.
    pub fn total(&self, key: &str) -> Option<&TotalDelta> {
        self.totals.iter().find(|t| t.key == key)
    }

    /// How many nodes were added, removed and changed.
    pub fn node_counts(&self) -> (usize, usize, usize) {
        counts(self.nodes.iter().map(|n| n.change))
    }

    /// How many modules were added, removed and changed.
    pub fn module_counts(&self) -> (usize, usize, usize) {
        counts(self.modules.iter().map(|m| m.change))
    }

    /// The diff as JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        crate::json::to_string_pretty(self, 64 * 1024)
    }

    /// The diff as terminal tables.
    pub fn render_table(&self, units: Units, style: crate::views::TableStyle) -> String {
        crate::views::render_sections_table(
            &(self.preamble().join("\n") + "\n"),
            &self.sections(units, false),
            style,
        )
    }

    /// The diff as Markdown for a PR comment; the module and node lists fold away.
    pub fn render_markdown(&self, units: Units) -> String {
        let title = format!("flopscope diff: {} → {}", self.old.path, self.new.path);
        crate::views::render_sections_markdown(
            &title,
            &crate::views::markdown_preamble(&self.preamble()[1..]),
            &self.sections(units, true),
        )
    }

    pub(crate) fn preamble(&self) -> Vec<String> {
        let mut lines = vec![format!("Diff    {} → {}", self.old.path, self.new.path)];
        let describe = |s: &DiffSide| {
            let mut parts: Vec<String> = s
                .inputs
                .iter()
                .map(|t| match (&t.dtype, &t.shape) {
                    (Some(d), Some(shape)) => format!("{}: {d}{}", t.name, ShapeDisplay(shape)),
                    _ => format!("{}: ?", t.name),
                })
                .collect();
            if !s.bindings.is_empty() {
                parts.push(
                    s.bindings
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            parts.join("; ")
        };
        let (o, n) = (describe(&self.old), describe(&self.new));
        if o == n {
            lines.push(format!("Inputs  {o}"));
        } else {
            lines.push(format!("Inputs  {o} → {n}"));
        }
        if self.is_empty() {
            lines.push("No differences: every total, module and node is the same.".into());
        }
        lines
    }

    pub(crate) fn sections(&self, units: Units, collapse: bool) -> Vec<Section> {
        if self.is_empty() {
            return Vec::new();
        }
        let num = |v: &Dim, unit: &str| match units {
            Units::Human => human(v, unit),
            Units::Raw | Units::Plain => exact(v),
        };
        let signed = |v: &Dim, unit: &str| match v.as_i64() {
            Some(0) => "0".to_owned(),
            Some(x) if x > 0 => format!("+{}", num(v, unit)),
            Some(_) => num(v, unit),
            None => format!("{} ({})", num(v, unit), v.factored()),
        };
        let mut out = Vec::new();
        // On the live page, a total that depends on free dims follows them.
        let mut live = Vec::new();
        let totals = self
            .totals
            .iter()
            .filter(|t| !(t.key == "quant_params" && t.old == Dim::zero() && t.new == Dim::zero()))
            .enumerate()
            .map(|(row, t)| {
                let kind = TotalKind::from_key(&t.key);
                let (label, unit) = kind.map_or(("", ""), |k| (k.label(), k.unit()));
                let cell = |d: &Dim, whole: Option<&Dim>| LiveCell {
                    formula: d.to_string(),
                    whole: whole.map(Dim::to_string),
                    unit: if whole.is_some() { "" } else { unit }.to_owned(),
                    human: whole.is_none() && units == Units::Human,
                    signed: whole.is_some(),
                    prefix: String::new(),
                    peak: false,
                };
                let symbolic = [&t.old, &t.new, &t.delta]
                    .iter()
                    .any(|d| d.as_i64().is_none());
                if symbolic && units != Units::Plain {
                    live.push((row, 1, cell(&t.old, None)));
                    live.push((row, 2, cell(&t.new, None)));
                    live.push((row, 3, signed_cell(&t.delta, unit, units)));
                    live.push((row, 4, cell(&t.delta, Some(&t.old))));
                }
                vec![
                    label.to_owned(),
                    num(&t.old, unit),
                    num(&t.new, unit),
                    signed(&t.delta, unit),
                    percent_change_text(&t.old, &t.delta),
                ]
            })
            .collect();
        out.push(Section {
            title: "Totals".into(),
            header: ["Total", "Old", "New", "Δ", "Δ%"]
                .map(String::from)
                .to_vec(),
            rows: totals,
            right: vec![1, 2, 3, 4],
            live,
            ..Section::default()
        });

        let delta_of = |o: Option<&Costs>, n: Option<&Costs>, f: fn(&Costs) -> &Dim| {
            let zero = Dim::zero();
            let (o, n) = (o.map_or(&zero, f), n.map_or(&zero, f));
            n - o
        };
        // The Δ params, buffers, MACs and FLOPs cells of a row from column `col` on, each live
        // when it depends on free dims.
        let deltas = |o: Option<&Costs>,
                      n: Option<&Costs>,
                      row: usize,
                      col: usize,
                      live: &mut Vec<(usize, usize, LiveCell)>| {
            let fields: [(CostField, &str); 4] = [
                (|c| &c.params, ""),
                (|c| &c.buffers, ""),
                (|c| &c.macs, "MACs"),
                (|c| &c.flops, "FLOPs"),
            ];
            fields
                .iter()
                .enumerate()
                .map(|(k, (field, unit))| {
                    let d = delta_of(o, n, *field);
                    if d.as_i64().is_none() && units != Units::Plain {
                        live.push((row, col + k, signed_cell(&d, unit, units)));
                    }
                    signed(&d, unit)
                })
                .collect::<Vec<String>>()
        };
        let (ma, mr, mc) = self.module_counts();
        let mut live = Vec::new();
        let mut modules = Vec::new();
        for (row, m) in self.modules.iter().enumerate() {
            let (o, n) = (
                m.old.as_ref().map(|s| &s.costs),
                m.new.as_ref().map(|s| &s.costs),
            );
            let mut cells = vec![m.change.marker().to_owned(), m.path.clone()];
            cells.extend(deltas(o, n, row, 2, &mut live));
            modules.push(cells);
        }
        out.push(Section {
            title: format!(
                "Modules (depth {}): {ma} added, {mr} removed, {mc} changed",
                self.depth
            ),
            header: [
                "Change",
                "Module",
                "Δ params",
                "Δ buffers",
                "Δ MACs",
                "Δ FLOPs",
            ]
            .map(String::from)
            .to_vec(),
            rows: modules,
            right: vec![2, 3, 4, 5],
            collapse,
            live,
            ..Section::default()
        });

        let (na, nr, nc) = self.node_counts();
        let mut live = Vec::new();
        let mut nodes = Vec::new();
        for (row, c) in self.nodes.iter().enumerate() {
            {
                let (o, n) = (c.old.as_ref(), c.new.as_ref());
                let op = match (o, n) {
                    (Some(o), Some(n)) if o.op_type != n.op_type => {
                        format!("{} → {}", o.op_type, n.op_type)
                    }
                    (_, Some(s)) | (Some(s), None) => s.op_type.clone(),
                    (None, None) => String::new(),
                };
                let shapes = |s: &NodeSide| s.outputs.join(", ");
                let output = match (o, n) {
                    (Some(o), Some(n)) if o.outputs != n.outputs => {
                        format!("{} → {}", shapes(o), shapes(n))
                    }
                    (_, Some(s)) | (Some(s), None) => shapes(s),
                    (None, None) => String::new(),
                };
                let (oc, nc) = (o.map(|s| &s.costs), n.map(|s| &s.costs));
                let mut cells = vec![c.change.marker().to_owned(), c.name.clone(), op, output];
                cells.extend(deltas(oc, nc, row, 4, &mut live));
                nodes.push(cells);
            }
        }
        out.push(Section {
            title: format!("Nodes: {na} added, {nr} removed, {nc} changed"),
            header: [
                "Change",
                "Node",
                "Op",
                "Output shape",
                "Δ params",
                "Δ buffers",
                "Δ MACs",
                "Δ FLOPs",
            ]
            .map(String::from)
            .to_vec(),
            rows: nodes,
            right: vec![4, 5, 6, 7],
            collapse,
            live,
            ..Section::default()
        });
        out
    }
}

/// One of a node's or module's costs.
type CostField = fn(&Costs) -> &Dim;

/// A change's live cell: shown with its sign (`+1.20 GMACs`).
fn signed_cell(delta: &Dim, unit: &str, units: Units) -> LiveCell {
    LiveCell {
        formula: delta.to_string(),
        whole: None,
        unit: unit.to_owned(),
        human: units == Units::Human,
        signed: true,
        prefix: String::new(),
        peak: false,
    }
}

fn counts(changes: impl Iterator<Item = Change>) -> (usize, usize, usize) {
    changes.fold((0, 0, 0), |(a, r, c), ch| match ch {
        Change::Added => (a + 1, r, c),
        Change::Removed => (a, r + 1, c),
        Change::Changed => (a, r, c + 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_both_orders() {
        let old = ["a", "b", "c", "d"];
        let new = ["a", "x", "c", "d", "y"];
        let pairs = merge(&old, &new);
        assert_eq!(
            pairs,
            vec![
                (Some(0), Some(0)),
                (None, Some(1)),
                (Some(1), None),
                (Some(2), Some(2)),
                (Some(3), Some(3)),
                (None, Some(4)),
            ]
        );
        // Removed entries at the end come last.
        let pairs = merge(&["a", "b"], &["a"]);
        assert_eq!(pairs, vec![(Some(0), Some(0)), (Some(1), None)]);
    }

    #[test]
    fn repeated_and_empty_names_get_distinct_keys() {
        let node = |name: &str, out: &str| NodeReport {
            outputs: vec![TensorReport {
                name: out.into(),
                dtype: None,
                shape: None,
                value: None,
            }],
            ..NodeReport::stub(name, "Relu")
        };
        let keys = node_keys(&[node("r", "a"), node("r", "b"), node("", "c")]);
        assert_eq!(
            keys,
            vec![
                ("r".to_owned(), 0),
                ("r".to_owned(), 1),
                ("<output c>".to_owned(), 0)
            ]
        );
    }
}
