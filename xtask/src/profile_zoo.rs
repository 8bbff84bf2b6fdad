//! `cargo xtask profile-zoo DIR`: every `.onnx` under DIR profiled at a grid of sizes in
//! parallel, a summary table, one JSON report per model and point, and snapshots that make a
//! change to any model or counter show up as a reviewed diff.
//!
//! A snapshot is one file per model (`<snapshots>/<path with / as __>.snap`, insta's format: a
//! small header, then the body), whose body is pretty JSON with each point's totals, uncounted
//! ops and per-op-type costs: enough to see any counter change, small enough to commit for a
//! whole zoo. `--check` compares and prints a Markdown diff (and `--review` leaves `.snap.new`
//! files for `cargo insta review`); `--update` rewrites.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use flopscope_counters::{DeclaredOp, ProfileOptions};
use flopscope_ir::{DeclaredType, Dim, Model, ShapeDisplay, op_label};
use flopscope_report::units::{exact, human};
use flopscope_report::{
    Convention, FlopsByKindReport, Report, TotalKind, TotalsReport, percent_change_text,
};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// What to do with the snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Profile and report only.
    Report,
    /// Compare with the stored snapshots; fail on any difference.
    Check,
    /// Rewrite the stored snapshots.
    Update,
}

/// The task's options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub dir: PathBuf,
    /// Image sizes: each sets axes 2 and 3 of every rank-4 input.
    pub sizes: Vec<i64>,
    /// Named dims and their values, for the models that have them.
    pub dims: Vec<(String, Vec<i64>)>,
    pub jobs: Option<usize>,
    pub snapshots: Option<PathBuf>,
    pub mode: Mode,
    /// With `--check`: leave `.snap.new` files for `cargo insta review`.
    pub review: bool,
    pub markdown: Option<PathBuf>,
    /// Where the JSON reports go (`None`: not written).
    pub out: Option<PathBuf>,
    pub convention: Option<Convention>,
    pub declared_ops: Vec<Arc<dyn DeclaredOp>>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
}

/// The figures kept for one point: every [`TotalKind`] under its key, in its order, with the
/// FLOPs by kind after the FLOPs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Totals {
    figures: Vec<(TotalKind, Dim)>,
    flops_by_kind: FlopsByKindReport,
}

impl Totals {
    fn of(t: &TotalsReport) -> Totals {
        Totals {
            figures: TotalKind::ALL.iter().map(|k| (*k, k.of(t))).collect(),
            flops_by_kind: t.flops_by_kind.clone(),
        }
    }

    fn get(&self, kind: TotalKind) -> Dim {
        let found = self.figures.iter().find(|(k, _)| *k == kind);
        found.map_or_else(Dim::zero, |(_, v)| v.clone())
    }
}

impl Serialize for Totals {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.figures.len() + 1))?;
        for (kind, value) in &self.figures {
            map.serialize_entry(kind.key(), value)?;
            if *kind == TotalKind::Flops {
                map.serialize_entry("flops_by_kind", &self.flops_by_kind)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Totals {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Totals, D::Error> {
        use serde::de::Error;
        let mut map = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let by_kind = map
            .remove("flops_by_kind")
            .ok_or_else(|| D::Error::missing_field("flops_by_kind"))?;
        let mut figures = Vec::new();
        for kind in TotalKind::ALL {
            let value = map
                .remove(kind.key())
                .ok_or_else(|| D::Error::missing_field(kind.key()))?;
            figures.push((
                kind,
                serde_json::from_value(value).map_err(D::Error::custom)?,
            ));
        }
        if let Some(key) = map.keys().next() {
            return Err(D::Error::unknown_field(key, &[]));
        }
        Ok(Totals {
            figures,
            flops_by_kind: serde_json::from_value(by_kind).map_err(D::Error::custom)?,
        })
    }
}

/// One op type's share at a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpTotals {
    pub count: usize,
    pub macs: Dim,
    pub flops: Dim,
    pub params: Dim,
}

/// Another tool's count at a point (`--convention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConventionTotal {
    pub convention: String,
    pub unit: String,
    pub total: Dim,
}

/// One point of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PointSnapshot {
    /// `size=224 batch=1`, or `as declared`.
    pub point: String,
    /// The inputs' types at this point.
    pub inputs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// `domain::op ×n` of every uncounted op.
    #[serde(default)]
    pub uncounted: Vec<String>,
    /// Per op type (`Conv`, `com.microsoft::Attention`).
    #[serde(default)]
    pub ops: BTreeMap<String, OpTotals>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convention: Option<ConventionTotal>,
}

/// A model's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelSnapshot {
    /// The path under DIR, `/`-separated.
    pub model: String,
    /// Why the model could not be loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub points: Vec<PointSnapshot>,
}

/// One model's run: its snapshot, timings and reports.
struct ModelRun {
    snapshot: ModelSnapshot,
    /// Profile time per point.
    times: Vec<Duration>,
    reports: Vec<(String, Report)>,
}

/// What a run found.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The summary table.
    pub table: String,
    /// The summary (and with `--check`, the diff) as Markdown.
    pub markdown: String,
    /// With `--check`: the models whose snapshot differs, is new or is stale.
    pub changed: Vec<String>,
    pub models: usize,
}

/// Every `.onnx` under `dir`, sorted by path.
pub(crate) fn find_models(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `a/b.onnx` relative to `dir`, `/`-separated.
pub(crate) fn label(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A grid point: its label and the options that make it.
struct Point {
    label: String,
    options: ProfileOptions,
}

/// The points of `model`: `--size` applies to its rank-4 inputs (binding their named spatial
/// dims, or replacing fixed ones), each `--dim` to the models that have that dim.
fn points(model: &Model, opts: &Options) -> Vec<Point> {
    let mut symbols: BTreeSet<String> = BTreeSet::new();
    let mut spatial_named: BTreeSet<String> = BTreeSet::new();
    let mut spatial_fixed: Vec<(String, Vec<Dim>)> = Vec::new();
    for &id in &model.graph.inputs {
        let v = model.graph.value(id);
        let Some(DeclaredType::Tensor {
            shape: Some(shape), ..
        }) = &v.declared
        else {
            continue;
        };
        for d in shape.iter().flatten() {
            symbols.extend(d.symbols().iter().map(|s| s.to_string()));
        }
        if shape.len() != 4 {
            continue;
        }
        let spatial: Vec<&Dim> = shape[2..].iter().flatten().collect();
        let names: Vec<String> = spatial
            .iter()
            .filter_map(|d| match d.symbols().as_slice() {
                [s] if **d == Dim::sym(s) => Some(s.to_string()),
                _ => None,
            })
            .collect();
        if spatial.len() == 2 && names.len() == 2 {
            spatial_named.extend(names);
        } else if spatial.len() == 2
            && spatial.iter().all(|d| d.as_i64().is_some())
            && let Some(full) = shape.iter().cloned().collect::<Option<Vec<Dim>>>()
        {
            spatial_fixed.push((v.name.clone(), full));
        }
    }
    let sized = !opts.sizes.is_empty() && (!spatial_named.is_empty() || !spatial_fixed.is_empty());
    // Axes: (label name, values).
    let mut axes: Vec<(String, Vec<i64>)> = Vec::new();
    if sized {
        axes.push(("size".into(), opts.sizes.clone()));
    }
    for (name, values) in &opts.dims {
        if symbols.contains(name) && !spatial_named.contains(name) {
            axes.push((name.clone(), values.clone()));
        }
    }
    let mut grid: Vec<Vec<(String, i64)>> = vec![Vec::new()];
    for (name, values) in &axes {
        grid = grid
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((name.clone(), *v));
                    q
                })
            })
            .collect();
    }
    grid.into_iter()
        .map(|point| {
            let mut options = ProfileOptions {
                replace_declared_shapes: true,
                declared_ops: opts.declared_ops.clone(),
                ..ProfileOptions::default()
            };
            for (name, v) in &point {
                if name == "size" {
                    for s in &spatial_named {
                        options.dims.insert(s.clone(), Dim::from_i64(*v));
                    }
                    for (input, shape) in &spatial_fixed {
                        let mut shape = shape.clone();
                        shape[2] = Dim::from_i64(*v);
                        shape[3] = Dim::from_i64(*v);
                        options.inputs.insert(input.clone(), shape);
                    }
                } else {
                    options.dims.insert(name.clone(), Dim::from_i64(*v));
                }
            }
            let label = if point.is_empty() {
                "as declared".to_owned()
            } else {
                point
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            Point { label, options }
        })
        .collect()
}

fn point_snapshot(label: &str, report: &Report) -> PointSnapshot {
    let t = &report.totals;
    let mut ops: BTreeMap<String, OpTotals> = BTreeMap::new();
    for n in &report.nodes {
        let o = ops
            .entry(op_label(&n.domain, &n.op_type))
            .or_insert_with(|| OpTotals {
                count: 0,
                macs: Dim::zero(),
                flops: Dim::zero(),
                params: Dim::zero(),
            });
        o.count += 1;
        o.macs += &n.macs;
        o.flops += &n.flops;
        o.params += &n.params;
    }
    PointSnapshot {
        point: label.to_owned(),
        inputs: report
            .model
            .inputs
            .iter()
            .map(|i| {
                let ty = match (&i.dtype, &i.shape) {
                    (Some(d), Some(s)) => format!("{d}{}", ShapeDisplay(s)),
                    (Some(d), None) => d.clone(),
                    _ => "?".into(),
                };
                (i.name.clone(), ty)
            })
            .collect(),
        error: None,
        totals: Some(Totals::of(t)),
        uncounted: report
            .uncounted
            .iter()
            .map(|u| format!("{}::{} ×{}", u.domain, u.op_type, u.nodes.len()))
            .collect(),
        ops,
        convention: report.convention.as_ref().map(|c| ConventionTotal {
            convention: c.convention.clone(),
            unit: c.unit.clone(),
            total: c.total.clone(),
        }),
    }
}

/// Profiles one model at every point. Errors become part of the snapshot, with the path as
/// given replaced by the model's label (snapshots are the same on every machine).
fn run_model(dir: &Path, path: &Path, opts: &Options) -> ModelRun {
    let name = label(dir, path);
    let shown = path.display().to_string();
    let clean = |e: &dyn std::fmt::Display| e.to_string().replace(&shown, &name);
    let model = match flopscope_onnx::load(path) {
        Ok(m) => m,
        Err(e) => {
            let error = clean(&e);
            return ModelRun {
                snapshot: ModelSnapshot {
                    model: name,
                    error: Some(error),
                    points: Vec::new(),
                },
                times: Vec::new(),
                reports: Vec::new(),
            };
        }
    };
    let mut snapshot = ModelSnapshot {
        model: name.clone(),
        error: None,
        points: Vec::new(),
    };
    let mut times = Vec::new();
    let mut reports = Vec::new();
    // The points of one model run in parallel too: a big model's sizes do not queue.
    let results: Vec<(Point, Duration, Result<Report, flopscope::Error>)> = points(&model, opts)
        .into_par_iter()
        .with_max_len(1)
        .map(|point| {
            let start = Instant::now();
            let result = flopscope::profile_model(path, &model, &point.options)
                .map(|p| Report::new(&name, &model, &p));
            let result = match (result, opts.convention) {
                (Ok(r), Some(c)) => Ok(r.with_convention(c)),
                (r, _) => r,
            };
            (point, start.elapsed(), result)
        })
        .collect();
    for (point, time, result) in results {
        times.push(time);
        match result {
            Ok(report) => {
                snapshot.points.push(point_snapshot(&point.label, &report));
                reports.push((point.label, report));
            }
            Err(e) => snapshot.points.push(PointSnapshot {
                point: point.label,
                inputs: point
                    .options
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), ShapeDisplay(v).to_string()))
                    .collect(),
                error: Some(clean(&e)),
                totals: None,
                uncounted: Vec::new(),
                ops: BTreeMap::new(),
                convention: None,
            }),
        }
    }
    ModelRun {
        snapshot,
        times,
        reports,
    }
}

// ---- snapshot files ----------------------------------------------------------------------------

/// The snapshot file of a model label.
fn snapshot_file(dir: &Path, model: &str) -> PathBuf {
    dir.join(format!("{}.snap", model.replace('/', "__")))
}

const HEADER_SOURCE: &str = "xtask/src/profile_zoo.rs";

/// A snapshot in insta's file format.
fn render_snapshot(s: &ModelSnapshot) -> Result<String> {
    let body = serde_json::to_string_pretty(s)?;
    Ok(format!(
        "---\nsource: {HEADER_SOURCE}\nexpression: \"cargo xtask profile-zoo: {}\"\n---\n{body}\n",
        s.model.replace('"', "'")
    ))
}

/// The body of a snapshot file.
fn parse_snapshot(text: &str) -> Option<ModelSnapshot> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    serde_json::from_str(&rest[end + 5..]).ok()
}

// ---- the diff ----------------------------------------------------------------------------------

fn signed(d: &Dim) -> String {
    match d.as_i64() {
        Some(v) if v > 0 => format!("+{}", exact(d)),
        _ => exact(d),
    }
}

/// The totals of a point by label, in [`TotalKind`] order, then the convention's.
fn named_totals(p: &PointSnapshot) -> Vec<(&'static str, Dim)> {
    let Some(t) = &p.totals else {
        return Vec::new();
    };
    let mut v: Vec<_> = TotalKind::ALL
        .iter()
        .map(|k| (k.label(), t.get(*k)))
        .collect();
    if let Some(c) = &p.convention {
        v.push(("convention total", c.total.clone()));
    }
    v
}

/// The Markdown section of one model whose snapshot changed.
fn model_diff(old: Option<&ModelSnapshot>, new: Option<&ModelSnapshot>) -> String {
    let mut out = String::new();
    let name = new.or(old).map_or("?", |s| s.model.as_str());
    let _ = writeln!(out, "### `{name}`\n");
    let (old, new) = match (old, new) {
        (None, Some(n)) => {
            let _ = writeln!(
                out,
                "New model (no snapshot yet): {} point(s).\n",
                n.points.len()
            );
            return out;
        }
        (Some(_), None) => {
            let _ = writeln!(out, "Snapshot without a model: the model was removed.\n");
            return out;
        }
        (Some(o), Some(n)) => (o, n),
        (None, None) => return out,
    };
    if old.error != new.error {
        let _ = writeln!(
            out,
            "Loading: {} → {}\n",
            old.error.as_deref().unwrap_or("ok"),
            new.error.as_deref().unwrap_or("ok")
        );
    }
    let old_points: BTreeMap<&str, &PointSnapshot> =
        old.points.iter().map(|p| (p.point.as_str(), p)).collect();
    let new_points: BTreeMap<&str, &PointSnapshot> =
        new.points.iter().map(|p| (p.point.as_str(), p)).collect();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for p in &new.points {
        let Some(o) = old_points.get(p.point.as_str()) else {
            notes.push(format!("- `{}`: new point", p.point));
            continue;
        };
        if *o == p {
            continue;
        }
        if o.error != p.error {
            notes.push(format!(
                "- `{}`: {} → {}",
                p.point,
                o.error.as_deref().unwrap_or("profiled"),
                p.error.as_deref().unwrap_or("profiled")
            ));
        }
        if o.inputs != p.inputs {
            notes.push(format!(
                "- `{}`: inputs {:?} → {:?}",
                p.point, o.inputs, p.inputs
            ));
        }
        let old_totals: BTreeMap<&str, Dim> = named_totals(o).into_iter().collect();
        for (key, value) in named_totals(p) {
            let before = old_totals.get(key).cloned().unwrap_or_default();
            if before != value {
                let delta = &value - &before;
                rows.push(format!(
                    "| {} | {key} | {} | {} | {} | {} |",
                    p.point,
                    exact(&before),
                    exact(&value),
                    signed(&delta),
                    percent_change_text(&before, &delta)
                ));
            }
        }
        let added: Vec<&String> = p
            .uncounted
            .iter()
            .filter(|u| !o.uncounted.contains(u))
            .collect();
        let gone: Vec<&String> = o
            .uncounted
            .iter()
            .filter(|u| !p.uncounted.contains(u))
            .collect();
        if !added.is_empty() {
            notes.push(format!(
                "- `{}`: **newly uncounted**: {}",
                p.point,
                added
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !gone.is_empty() {
            notes.push(format!(
                "- `{}`: now counted: {}",
                p.point,
                gone.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let ops: BTreeSet<&String> = o.ops.keys().chain(p.ops.keys()).collect();
        let mut op_rows = Vec::new();
        for op in ops {
            let (a, b) = (o.ops.get(op), p.ops.get(op));
            if a == b {
                continue;
            }
            let get = |x: Option<&OpTotals>, f: fn(&OpTotals) -> &Dim| {
                x.map_or_else(Dim::zero, |t| f(t).clone())
            };
            let count = |x: Option<&OpTotals>| x.map_or(0, |t| t.count);
            op_rows.push(format!(
                "{op} ({} → {} nodes: MACs {}, FLOPs {}, params {})",
                count(a),
                count(b),
                signed(&(get(b, |t| &t.macs) - get(a, |t| &t.macs))),
                signed(&(get(b, |t| &t.flops) - get(a, |t| &t.flops))),
                signed(&(get(b, |t| &t.params) - get(a, |t| &t.params))),
            ));
        }
        if !op_rows.is_empty() {
            notes.push(format!(
                "- `{}`: op types changed: {}",
                p.point,
                op_rows.join("; ")
            ));
        }
    }
    for p in &old.points {
        if !new_points.contains_key(p.point.as_str()) {
            notes.push(format!("- `{}`: point removed", p.point));
        }
    }
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "| point | total | old | new | Δ | Δ% |\n|---|---|---:|---:|---:|---:|"
        );
        for r in rows {
            let _ = writeln!(out, "{r}");
        }
        out.push('\n');
    }
    for n in &notes {
        let _ = writeln!(out, "{n}");
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    out
}

// ---- the run -----------------------------------------------------------------------------------

/// The summary rows, and the errors they refer to (`error [n]`).
fn summary_rows(runs: &[ModelRun]) -> (Vec<Vec<String>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut error_row = |model: &str, point: &str, e: &str, time: String| {
        let e = e.strip_prefix(&format!("{model}: ")).unwrap_or(e);
        errors.push(format!("[{}] {model} {point}: {e}", errors.len() + 1));
        vec![
            model.to_owned(),
            point.to_owned(),
            format!("error [{}]", errors.len()),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            time,
        ]
    };
    for run in runs {
        let s = &run.snapshot;
        if let Some(e) = &s.error {
            rows.push(error_row(&s.model, "-", e, String::new()));
            continue;
        }
        for (p, time) in s.points.iter().zip(&run.times) {
            let ms = format!("{:.1} ms", time.as_secs_f64() * 1000.0);
            match (&p.error, &p.totals) {
                (None, Some(t)) => rows.push(vec![
                    s.model.clone(),
                    p.point.clone(),
                    human(&t.get(TotalKind::Params), ""),
                    human(&t.get(TotalKind::Macs), "MACs"),
                    human(&t.get(TotalKind::Flops), "FLOPs"),
                    human(&t.get(TotalKind::WeightBytes), "B"),
                    if p.uncounted.is_empty() {
                        "-".into()
                    } else {
                        p.uncounted.join(", ")
                    },
                    ms,
                ]),
                (e, _) => rows.push(error_row(
                    &s.model,
                    &p.point,
                    e.as_deref().unwrap_or("no totals"),
                    ms,
                )),
            }
        }
    }
    (rows, errors)
}

const HEADER: [&str; 8] = [
    "Model",
    "Point",
    "Params",
    "MACs",
    "FLOPs",
    "Weights",
    "Uncounted",
    "Time",
];

fn table(rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(HEADER.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    for c in [2, 3, 4, 5, 7] {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

fn markdown_table(rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|---|---|---:|---:|---:|---:|---|---:|\n",
        HEADER.join(" | ")
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// Runs the task.
pub(crate) fn run(opts: &Options) -> Result<Outcome> {
    let start = Instant::now();
    let models = find_models(&opts.dir)?;
    if models.is_empty() {
        bail!("no .onnx file under {}", opts.dir.display());
    }
    if opts.mode != Mode::Report && opts.snapshots.is_none() {
        bail!("--check and --update need --snapshots DIR");
    }
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .context("cannot start the worker threads")?;
    let bar = if opts.progress {
        let bar = ProgressBar::new(models.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} models  {elapsed}  {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    // The largest files first: the slowest models start early and the others fill in.
    let mut order: Vec<(u64, &PathBuf)> = models
        .iter()
        .map(|p| (std::fs::metadata(p).map_or(0, |m| m.len()), p))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut runs: Vec<ModelRun> = pool.install(|| {
        order
            .par_iter()
            .with_max_len(1)
            .map(|(_, path)| {
                let run = run_model(&opts.dir, path, opts);
                bar.set_message(run.snapshot.model.clone());
                bar.inc(1);
                run
            })
            .collect()
    });
    bar.finish_and_clear();
    runs.sort_by(|a, b| a.snapshot.model.cmp(&b.snapshot.model));

    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let written: Result<Vec<()>> = pool.install(|| {
            runs.par_iter()
                .flat_map(|run| {
                    run.reports
                        .iter()
                        .map(move |(point, report)| (&run.snapshot.model, point, report))
                        .collect::<Vec<_>>()
                })
                .map(|(model, point, report)| {
                    let file = out.join(format!(
                        "{}@{}.json",
                        model.replace('/', "__").trim_end_matches(".onnx"),
                        point.replace(' ', "_")
                    ));
                    std::fs::write(&file, report.to_json()? + "\n")
                        .with_context(|| format!("cannot write {}", file.display()))
                })
                .collect()
        });
        written?;
    }

    let (rows, errors) = summary_rows(&runs);
    let points: usize = runs.iter().map(|r| r.snapshot.points.len()).sum();
    let mut markdown = format!(
        "## flopscope profile-zoo: {} models, {points} points\n\n{}",
        runs.len(),
        markdown_table(&rows)
    );
    if !errors.is_empty() {
        markdown.push('\n');
        for e in &errors {
            let _ = writeln!(markdown, "- {}", e.replace('|', "\\|"));
        }
    }

    let mut changed = Vec::new();
    if let Some(dir) = &opts.snapshots {
        let fresh: BTreeMap<String, &ModelSnapshot> = runs
            .iter()
            .map(|r| (r.snapshot.model.replace('/', "__"), &r.snapshot))
            .collect();
        let mut stored: BTreeMap<String, (PathBuf, Option<ModelSnapshot>)> = BTreeMap::new();
        if dir.is_dir() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                if let Some(stem) = name.as_deref().and_then(|n| n.strip_suffix(".snap")) {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    stored.insert(stem.to_owned(), (path.clone(), parse_snapshot(&text)));
                }
            }
        }
        match opts.mode {
            Mode::Update => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                for s in fresh.values() {
                    let file = snapshot_file(dir, &s.model);
                    let text = render_snapshot(s)?;
                    if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                        std::fs::write(&file, text)
                            .with_context(|| format!("cannot write {}", file.display()))?;
                        changed.push(s.model.clone());
                    }
                    let _ = std::fs::remove_file(file.with_extension("snap.new"));
                }
                for (stem, (path, _)) in &stored {
                    if !fresh.contains_key(stem) {
                        std::fs::remove_file(path)
                            .with_context(|| format!("cannot remove {}", path.display()))?;
                        changed.push(stem.replace("__", "/"));
                    }
                }
            }
            Mode::Check => {
                let mut sections = String::new();
                for (stem, s) in &fresh {
                    let old = stored.get(stem).and_then(|(_, o)| o.as_ref());
                    if old == Some(*s) {
                        continue;
                    }
                    changed.push(s.model.clone());
                    sections.push_str(&model_diff(old, Some(s)));
                    if opts.review {
                        let file = snapshot_file(dir, &s.model).with_extension("snap.new");
                        std::fs::write(&file, render_snapshot(s)?)
                            .with_context(|| format!("cannot write {}", file.display()))?;
                    }
                }
                for (stem, (_, old)) in &stored {
                    if !fresh.contains_key(stem) {
                        changed.push(stem.replace("__", "/"));
                        match old {
                            Some(o) => sections.push_str(&model_diff(Some(o), None)),
                            None => {
                                let _ =
                                    writeln!(sections, "### `{stem}`\n\nUnreadable snapshot.\n");
                            }
                        }
                    }
                }
                markdown.push_str("\n## Snapshot diff\n\n");
                if changed.is_empty() {
                    markdown.push_str("Every model matches its snapshot.\n");
                } else {
                    let _ = writeln!(
                        markdown,
                        "**{} of {} models changed.** If the change is intended, rerun with \
                         `--update` in place of `--check` and commit the snapshots (or add \
                         `--review` and accept them with `cargo insta review`).\n",
                        changed.len(),
                        fresh.len().max(stored.len()),
                    );
                    markdown.push_str(&sections);
                }
            }
            Mode::Report => {}
        }
    }

    let wall = start.elapsed();
    let table = format!(
        "{}\n{}{} models, {points} points, {} errors; {:.2} s with {jobs} job{}\n",
        table(&rows),
        errors.iter().map(|e| format!("{e}\n")).collect::<String>(),
        runs.len(),
        errors.len(),
        wall.as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    if let Some(file) = &opts.markdown {
        std::fs::write(file, &markdown)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(Outcome {
        table,
        markdown,
        changed,
        models: runs.len(),
    })
}

/// The arguments of `cargo xtask profile-zoo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The folder to search (recursively).
    pub(crate) dir: std::path::PathBuf,
    /// Image sizes: each sets axes 2 and 3 of every rank-4 input (named or fixed).
    #[arg(long, value_name = "S1,S2,...", value_delimiter = ',')]
    pub(crate) size: Vec<i64>,
    /// A named dim and its values, for the models that have it: batch=1,32.
    #[arg(long = "dim", value_name = "NAME=V1,V2,...", value_parser = flopscope::sweep::parse_dim_values)]
    pub(crate) dims: Vec<(String, Vec<i64>)>,
    /// Worker threads [default: the number of cores].
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// The folder of snapshot files (one `.snap` per model).
    #[arg(long, value_name = "DIR")]
    pub(crate) snapshots: Option<std::path::PathBuf>,
    /// Compare with the snapshots; print a Markdown diff and fail if anything changed.
    #[arg(long, conflicts_with = "update")]
    pub(crate) check: bool,
    /// Rewrite the snapshots.
    #[arg(long)]
    pub(crate) update: bool,
    /// With --check: write `.snap.new` files beside changed snapshots for `cargo insta
    /// review`.
    #[arg(long, requires = "check")]
    pub(crate) review: bool,
    /// Also write the summary (and the diff) as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<std::path::PathBuf>,
    /// Where to write the JSON reports [default: target/profile-zoo].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// Write no JSON reports.
    #[arg(long, conflicts_with = "out")]
    pub(crate) no_reports: bool,
    /// Also count as another tool does (thop, ptflops, fvcore, torch, onnx-tool, ...).
    #[arg(long, value_name = "TOOL")]
    pub(crate) convention: Option<String>,
    /// Custom ops declared in a TOML file (docs/op-costs.md); may be given more than once.
    #[arg(long = "op-costs", value_name = "FILE.toml")]
    pub(crate) op_costs: Vec<std::path::PathBuf>,
}

/// `cargo xtask profile-zoo`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        dir,
        size,
        dims,
        jobs,
        snapshots,
        check,
        update,
        review,
        markdown,
        out,
        no_reports,
        convention,
        op_costs,
    } = args;
    use std::io::IsTerminal;
    let convention = convention
        .map(|c| c.parse::<flopscope_report::Convention>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = crate::profile_zoo::Options {
        dir,
        sizes: size,
        dims,
        jobs,
        snapshots,
        mode: if check {
            crate::profile_zoo::Mode::Check
        } else if update {
            crate::profile_zoo::Mode::Update
        } else {
            crate::profile_zoo::Mode::Report
        },
        review,
        markdown,
        out: if no_reports {
            None
        } else {
            Some(out.unwrap_or_else(|| crate::workspace_root().join("target/profile-zoo")))
        },
        convention,
        declared_ops: flopscope::op_costs::declared(&flopscope::op_costs::load_all(&op_costs)?),
        progress: std::io::stderr().is_terminal(),
    };
    let outcome = crate::profile_zoo::run(&options)?;
    print!("{}", outcome.table);
    match options.mode {
        crate::profile_zoo::Mode::Check if !outcome.changed.is_empty() => {
            let diff = outcome
                .markdown
                .split_once("\n## Snapshot diff\n")
                .map_or("", |(_, d)| d);
            println!("\n## Snapshot diff\n{diff}");
            anyhow::bail!(
                "{} of {} models differ from their snapshots",
                outcome.changed.len(),
                outcome.models
            )
        }
        crate::profile_zoo::Mode::Check => {
            println!("every model matches its snapshot");
            Ok(())
        }
        crate::profile_zoo::Mode::Update => {
            println!("snapshots: {} written or removed", outcome.changed.len());
            Ok(())
        }
        crate::profile_zoo::Mode::Report => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        crate::workspace_root().join("fixtures/models").join(name)
    }

    /// A fresh folder for one test.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "flopscope-profile-zoo-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn options(zoo: &Path, snapshots: &Path, mode: Mode) -> Options {
        Options {
            dir: zoo.to_path_buf(),
            sizes: vec![224],
            dims: vec![("batch".into(), vec![1])],
            jobs: Some(2),
            snapshots: Some(snapshots.to_path_buf()),
            mode,
            review: false,
            markdown: None,
            out: None,
            convention: None,
            declared_ops: Vec::new(),
            progress: false,
        }
    }

    #[test]
    fn grid_points_follow_each_models_inputs() {
        let opts = Options {
            sizes: vec![224, 320],
            dims: vec![("batch".into(), vec![1, 32]), ("seq".into(), vec![128])],
            ..options(Path::new("."), Path::new("."), Mode::Report)
        };
        let labels = |name: &str| {
            let model = flopscope_onnx::load(fixture(name)).unwrap();
            points(&model, &opts)
                .into_iter()
                .map(|p| p.label)
                .collect::<Vec<_>>()
        };
        // Named height and width: --size binds them; batch is a named dim too.
        assert_eq!(
            labels("mobilenet_v2.onnx"),
            [
                "size=224 batch=1",
                "size=224 batch=32",
                "size=320 batch=1",
                "size=320 batch=32"
            ]
        );
        // Fixed 1x3x224x224: --size replaces axes 2 and 3; there is no batch dim to set.
        let model = flopscope_onnx::load(fixture("light_squeezenet.onnx")).unwrap();
        let p = points(&model, &opts);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[1].options.inputs["data_0"],
            [1, 3, 320, 320].map(Dim::from_i64).to_vec()
        );
        // No image input: --size does not apply.
        assert_eq!(
            labels("tiny_gpt2.onnx"),
            ["batch=1 seq=128", "batch=32 seq=128"]
        );
        // Nothing applies: the model as declared.
        assert_eq!(labels("matmul_float.onnx"), ["batch=1", "batch=32"]);
        assert_eq!(labels("lstm_2layer.onnx"), ["as declared"]);
    }

    #[test]
    fn check_finds_a_changed_model_and_update_makes_it_pass() {
        let root = scratch("check");
        let (zoo, snaps) = (root.join("zoo"), root.join("snapshots"));
        std::fs::create_dir_all(zoo.join("sub")).unwrap();
        for name in ["light_squeezenet.onnx", "matmul_float.onnx"] {
            std::fs::copy(fixture(name), zoo.join(name)).unwrap();
        }
        std::fs::copy(
            fixture("light_zfnet512.onnx"),
            zoo.join("sub/light_zfnet512.onnx"),
        )
        .unwrap();
        std::fs::write(zoo.join("broken.onnx"), b"not a model").unwrap();

        // Nothing stored yet: every model is new.
        let first = run(&options(&zoo, &snaps, Mode::Check)).unwrap();
        assert_eq!(first.changed.len(), 4);
        assert!(first.markdown.contains("New model (no snapshot yet)"));

        let update = run(&options(&zoo, &snaps, Mode::Update)).unwrap();
        assert_eq!(update.models, 4);
        assert!(snaps.join("sub__light_zfnet512.onnx.snap").is_file());
        let broken = std::fs::read_to_string(snaps.join("broken.onnx.snap")).unwrap();
        let broken = parse_snapshot(&broken).unwrap();
        let error = broken.error.expect("a load error in the snapshot");
        assert!(error.starts_with("broken.onnx"), "{error}");
        assert!(
            !error.contains(&*root.to_string_lossy()),
            "machine path: {error}"
        );

        let clean = run(&options(&zoo, &snaps, Mode::Check)).unwrap();
        assert!(clean.changed.is_empty(), "{:?}", clean.changed);
        assert!(clean.markdown.contains("Every model matches its snapshot"));

        // Replace one model by another: only it differs, with its MACs delta.
        std::fs::copy(
            fixture("light_bvlc_alexnet.onnx"),
            zoo.join("light_squeezenet.onnx"),
        )
        .unwrap();
        let review = Options {
            review: true,
            ..options(&zoo, &snaps, Mode::Check)
        };
        let changed = run(&review).unwrap();
        assert_eq!(changed.changed, ["light_squeezenet.onnx"]);
        let shape = flopscope_counters::ProfileOptions {
            inputs: [(
                "data_0".to_owned(),
                [1, 3, 224, 224].map(Dim::from_i64).to_vec(),
            )]
            .into(),
            ..Default::default()
        };
        let macs = |name: &str| {
            flopscope::report_file(&fixture(name), &shape)
                .unwrap()
                .totals
                .macs
        };
        let (old, new) = (
            macs("light_squeezenet.onnx"),
            macs("light_bvlc_alexnet.onnx"),
        );
        let delta = &new - &old;
        let row = format!(
            "| size=224 | MACs | {} | {} | {} | {} |",
            exact(&old),
            exact(&new),
            signed(&delta),
            percent_change_text(&old, &delta)
        );
        assert!(changed.markdown.contains("### `light_squeezenet.onnx`"));
        assert!(
            changed.markdown.contains(&row),
            "{row}\n{}",
            changed.markdown
        );
        assert!(changed.markdown.contains("**1 of 4 models changed.**"));
        // `--review` leaves a pending snapshot for `cargo insta review`.
        let pending = snaps.join("light_squeezenet.onnx.snap.new");
        let text = std::fs::read_to_string(&pending).unwrap();
        assert!(text.starts_with("---\nsource: xtask/src/profile_zoo.rs\n"));
        assert!(parse_snapshot(&text).is_some());

        let update = run(&options(&zoo, &snaps, Mode::Update)).unwrap();
        assert_eq!(update.changed, ["light_squeezenet.onnx"]);
        assert!(!pending.exists(), "update removes pending snapshots");
        assert!(
            run(&options(&zoo, &snaps, Mode::Check))
                .unwrap()
                .changed
                .is_empty()
        );

        // A model removed from the zoo leaves a stale snapshot: a change too.
        std::fs::remove_file(zoo.join("matmul_float.onnx")).unwrap();
        let stale = run(&options(&zoo, &snaps, Mode::Check)).unwrap();
        assert_eq!(stale.changed, ["matmul_float.onnx"]);
        assert!(stale.markdown.contains("Snapshot without a model"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn snapshots_round_trip() {
        let model = flopscope_onnx::load(fixture("mobilenet_v2.onnx")).unwrap();
        let opts = options(Path::new("."), Path::new("."), Mode::Report);
        let run = run_model(
            &crate::workspace_root().join("fixtures/models"),
            &fixture("mobilenet_v2.onnx"),
            &opts,
        );
        assert_eq!(run.snapshot.points.len(), points(&model, &opts).len());
        let text = render_snapshot(&run.snapshot).unwrap();
        assert_eq!(parse_snapshot(&text).as_ref(), Some(&run.snapshot));
    }
}
