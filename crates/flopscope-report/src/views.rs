//! The views of a report, each a list of sections (a heading, a grid of cells, notes) that the
//! text formats render alike: a terminal table, Markdown, CSV.
//!
//! - `layers`: one row per node in execution order, like pytorch-model-summary (Layer (type),
//!   Output Shape, Param #, Tr. Param #), plus MACs, FLOPs and their share; a totals footer.
//! - `tree`: the module hierarchy rebuilt from the exporter's scopes, like ptflops: params and
//!   MACs per module with their share of the total, the heaviest child marked.
//! - `ops`: per op type: count, MACs, FLOPs, bytes, share.
//! - `memory`: weights by dtype, activations, the peak and where it is reached.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use flopscope_ir::{Dim, ShapeDisplay};
use serde::{Deserialize, Serialize};

use crate::model::{NodeReport, Report, TensorReport, describe_reason};
use crate::totals::TotalKind;
use crate::units::{exact, human, magnitude, percent};

/// Which view of a report to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    #[default]
    Layers,
    Tree,
    Ops,
    Memory,
}

/// How numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// `300.77 MMACs`, `13.95 MB`.
    #[default]
    Human,
    /// `300,774,272`, `13,951,264 B`.
    Raw,
    /// `300774272`: digits only, for CSV.
    Plain,
}

/// How to render a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewOptions {
    pub view: View,
    pub units: Units,
    /// Show data-movement nodes too (layers view).
    pub all_nodes: bool,
    /// Levels of the module tree to show.
    pub depth: usize,
    /// ANSI colour and bold (only on a terminal).
    pub color: bool,
    /// Fit tables to this many columns, wrapping long names and formulas (the terminal's
    /// width); `None`: as wide as their content (files, pipes; JSON and CSV are never cut).
    pub width: Option<u16>,
}

/// How terminal tables are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStyle {
    /// ANSI colour and bold.
    pub color: bool,
    /// Fit every table to this many columns.
    pub width: Option<u16>,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions {
            view: View::Layers,
            units: Units::Human,
            all_nodes: false,
            depth: 3,
            color: false,
            width: None,
        }
    }
}

/// One block of a view.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    pub right: Vec<usize>,
    /// Rows to emphasise (the heaviest child in the tree).
    pub emphasis: Vec<usize>,
    /// Lines after the grid.
    pub notes: Vec<String>,
    /// Markdown: fold the section into a `<details>` block.
    pub collapse: bool,
    /// Cells whose figure depends on free dims, by (row, column): what the HTML page
    /// re-evaluates when a dim moves.
    pub live: Vec<(usize, usize, LiveCell)>,
}

/// A cell's figure as a formula, for the live HTML page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCell {
    /// The formula (the figure, or the part of a percentage).
    pub formula: String,
    /// The whole of a percentage (`part / whole` shown as `12.34%`).
    pub whole: Option<String>,
    pub unit: String,
    /// With an SI prefix (`Units::Human`), else the exact integer.
    pub human: bool,
    /// A change: `+` before a positive value.
    pub signed: bool,
    /// Text before the value (`≥ ` for a lower bound).
    pub prefix: String,
    /// The figure is the peak live activation memory: the page shows the largest live step
    /// at the dims shown, exactly (the report's formula is exact at sample sizes).
    pub peak: bool,
}

impl Fmt {
    /// The live form of a figure shown with `num` or `bytes`, when it depends on free dims
    /// (and the units are human or raw).
    fn live(&self, value: &Dim, unit: &str) -> Option<LiveCell> {
        (value.as_i64().is_none() && self.units != Units::Plain).then(|| LiveCell {
            formula: value.to_string(),
            whole: None,
            unit: unit.to_owned(),
            human: self.units == Units::Human,
            signed: false,
            prefix: String::new(),
            peak: false,
        })
    }

    /// The live form of `percent(part, whole)` when either depends on free dims and the share
    /// is not the same at every size.
    fn live_share(&self, part: &Dim, whole: &Dim) -> Option<LiveCell> {
        let free = part.as_i64().is_none() || whole.as_i64().is_none();
        (free && crate::units::share(part, whole).is_none()).then(|| LiveCell {
            formula: part.to_string(),
            whole: Some(whole.to_string()),
            unit: String::new(),
            human: false,
            signed: false,
            prefix: String::new(),
            peak: false,
        })
    }
}

/// A number in the report's units.
struct Fmt {
    units: Units,
}

impl Fmt {
    fn num(&self, value: &Dim, unit: &str) -> String {
        match self.units {
            Units::Human => human(value, unit),
            Units::Raw => exact(value),
            Units::Plain => value.factored(),
        }
    }

    fn bytes(&self, value: &Dim) -> String {
        match (self.units, value.as_i64()) {
            (Units::Human, _) => human(value, "B"),
            (Units::Raw, Some(_)) => format!("{} B", exact(value)),
            (Units::Raw, None) => exact(value),
            (Units::Plain, _) => value.factored(),
        }
    }
}

fn shape_text(t: &TensorReport) -> String {
    match &t.shape {
        Some(s) => ShapeDisplay(s).to_string(),
        None => "?".into(),
    }
}

fn tensor_text(t: &TensorReport) -> String {
    match (&t.dtype, &t.shape) {
        (Some(dtype), Some(shape)) => format!("{dtype}{}", ShapeDisplay(shape)),
        (Some(dtype), None) => dtype.clone(),
        _ => "?".into(),
    }
}

fn op_label(n: &NodeReport) -> String {
    flopscope_ir::op_label(&n.domain, &n.op_type)
}

/// A node that only moves data: no arithmetic, no weights, not a generator of constants.
pub fn is_data_movement(n: &NodeReport) -> bool {
    n.counted && n.flops == Dim::zero() && n.params == Dim::zero() && n.buffers == Dim::zero()
}

/// A node the layer table (and the page's op graph) shows without `--all`: it runs, and it is
/// not only data movement.
pub(crate) fn shown_by_default(n: &NodeReport) -> bool {
    !n.constant && !is_data_movement(n)
}

/// The model, its inputs and the values given to its dims.
pub(crate) fn header_lines(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.model;
    let opsets = m
        .opsets
        .iter()
        .map(|(d, v)| format!("{d} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let producer = if m.producer.is_empty() {
        String::new()
    } else {
        format!(", from {}", m.producer)
    };
    let _ = writeln!(out, "Model   {}", m.path);
    let _ = writeln!(
        out,
        "        IR {}, opsets {opsets}{producer}",
        m.ir_version
    );
    for input in &m.inputs {
        let _ = writeln!(out, "Input   {}: {}", input.name, tensor_text(input));
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
    out
}

/// Notes every view ends with: lower bounds, uncounted ops, sizes known only at run time.
fn closing_notes(report: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(h) = &report.hardware {
        notes.push(format!(
            "Times on {} are {}. Its figures: {}.",
            h.hardware.label,
            crate::hardware::ESTIMATE_NOTE,
            h.hardware.source
        ));
    }
    if !report.data_dependent_dims.is_empty() {
        notes.push("Sizes known only at run time:".into());
        for d in &report.data_dependent_dims {
            notes.push(format!("  {} (from {}, {})", d.symbol, d.node, d.op_type));
        }
    }
    if !report.derived_dims.is_empty() {
        notes.push(
            "Derived sizes (from values flopscope cannot express; each can be bound like a named dim):"
                .into(),
        );
        for d in &report.derived_dims {
            notes.push(format!(
                "  {} (from {}, {}): {}",
                d.symbol, d.node, d.op_type, d.reason
            ));
        }
    }
    if !report.uncounted.is_empty() {
        notes.push("Uncounted ops (the totals marked ≥ are lower bounds):".into());
        for u in &report.uncounted {
            notes.push(format!(
                "  {}::{} × {}: {} ({})",
                u.domain,
                u.op_type,
                u.nodes.len(),
                describe_reason(&u.reason),
                u.nodes.join(", ")
            ));
        }
    }
    notes
}

// ---- layers ------------------------------------------------------------------------------------

fn layers(report: &Report, o: &ViewOptions) -> Vec<Section> {
    let f = Fmt { units: o.units };
    let t = &report.totals;
    let bound = if t.lower_bound { "≥ " } else { "" };
    let convention = report.convention.as_ref();
    let mut header: Vec<String> = [
        "#",
        "Layer (type)",
        "Output Shape",
        "Param #",
        "Tr. Param #",
        "MACs",
        "FLOPs",
        "% MACs",
    ]
    .map(String::from)
    .to_vec();
    if let Some(c) = convention {
        header.push(format!("{} {}", c.convention, c.unit));
    }
    let hardware = report.hardware.as_ref();
    if let Some(h) = hardware {
        header.push(format!("Est. time on {} (bound)", h.hardware.name));
    }
    let shown: Vec<&NodeReport> = report
        .nodes
        .iter()
        .filter(|n| o.all_nodes || shown_by_default(n))
        .collect();
    let mut rows = Vec::with_capacity(shown.len());
    let mut live = Vec::new();
    for (i, n) in shown.iter().enumerate() {
        if n.counted {
            for (col, cell) in [
                (5, f.live(&n.macs, "")),
                (6, f.live(&n.flops, "")),
                (7, f.live_share(&n.macs, &t.macs)),
            ] {
                if let Some(c) = cell {
                    live.push((i, col, c));
                }
            }
        }
        let shape = n
            .outputs
            .iter()
            .map(shape_text)
            .collect::<Vec<_>>()
            .join(", ");
        let (macs, flops, share) = if n.counted {
            (
                f.num(&n.macs, ""),
                f.num(&n.flops, ""),
                percent(&n.macs, &t.macs),
            )
        } else {
            ("uncounted".into(), "uncounted".into(), "-".into())
        };
        let mut row = vec![
            (i + 1).to_string(),
            format!("{} ({})", n.name, op_label(n)),
            shape,
            f.num(&(&n.params + &n.buffers), ""),
            f.num(&n.params, ""),
            macs,
            flops,
            share,
        ];
        if convention.is_some() {
            row.push(n.convention.as_ref().map_or("-".into(), |v| f.num(v, "")));
        }
        if hardware.is_some() {
            row.push(n.estimate.as_ref().map_or("-".into(), |e| {
                let bound = match e.bound {
                    crate::hardware::Bound::Compute => "compute",
                    crate::hardware::Bound::Memory => "memory",
                };
                format!("{} ({bound})", crate::hardware::seconds(e.time_s))
            }));
        }
        rows.push(row);
    }
    let hidden = report.nodes.len() - shown.len();
    let mut right = vec![0, 3, 4, 5, 6, 7];
    if convention.is_some() {
        right.push(8);
    }
    if hardware.is_some() {
        right.push(right.len() + 1);
    }
    let title = format!(
        "Layers in execution order: {} shown{}; {} of {} nodes counted",
        shown.len(),
        if hidden > 0 {
            format!(", {hidden} data-movement or constant nodes hidden (--all shows them)")
        } else {
            String::new()
        },
        t.counted_nodes,
        t.nodes,
    );
    let layer_section = Section {
        title,
        header,
        rows,
        right,
        live,
        ..Section::default()
    };

    let mut totals: Vec<(String, String, String)> = vec![
        (
            "Total params".into(),
            f.num(&(&t.params + &t.buffers), ""),
            exact(&(&t.params + &t.buffers)),
        ),
        (
            "Trainable params".into(),
            f.num(&t.params, ""),
            exact(&t.params),
        ),
        (
            "Non-trainable params (buffers)".into(),
            f.num(&t.buffers, ""),
            exact(&t.buffers),
        ),
    ];
    // A total with the prefix that says it is a lower bound where it is one.
    let figure = |kind: TotalKind| {
        let value = kind.of(t);
        let prefix = if kind.bounded_below_by_uncounted() {
            bound
        } else {
            ""
        };
        let shown = match kind.unit() {
            "B" => f.bytes(&value),
            unit => f.num(&value, unit),
        };
        (
            kind.label().to_owned(),
            format!("{prefix}{shown}"),
            format!("{prefix}{}", exact(&value)),
        )
    };
    if t.quant_params != Dim::zero() {
        totals.push(figure(TotalKind::QuantParams));
    }
    totals.push(figure(TotalKind::Macs));
    if t.macs_by_dtype.len() > 1 || t.macs_by_dtype.keys().any(|d| !d.starts_with("float")) {
        for (dtype, macs) in &t.macs_by_dtype {
            totals.push((
                format!("  in {dtype}"),
                format!("{bound}{}", f.num(macs, "MACs")),
                format!("{bound}{}", exact(macs)),
            ));
        }
    }
    totals.push(figure(TotalKind::Flops));
    let k = &t.flops_by_kind;
    for (name, value) in [
        ("  2 per MAC", &k.mac),
        ("  add", &k.add),
        ("  mul", &k.mul),
        ("  div", &k.div),
        ("  cmp", &k.cmp),
        ("  special", &k.special),
    ] {
        totals.push((
            name.into(),
            format!("{bound}{}", f.num(value, "FLOPs")),
            format!("{bound}{}", exact(value)),
        ));
    }
    if let Some(c) = convention {
        let prefix = if c.lower_bound { "≥ " } else { "" };
        totals.push((
            c.label.clone(),
            format!("{prefix}{}", f.num(&c.total, &c.unit)),
            format!("{prefix}{}", exact(&c.total)),
        ));
    }
    for kind in [
        TotalKind::WeightBytes,
        TotalKind::ActivationBytes,
        TotalKind::PeakActivationBytes,
        TotalKind::Bytes,
    ] {
        totals.push(figure(kind));
    }
    if let Some(h) = hardware {
        totals.push((
            format!("Estimated time on {} (roofline)", h.hardware.label),
            crate::hardware::seconds(h.time_s),
            format!(
                "{} compute-bound, {} memory-bound nodes",
                h.compute_bound_nodes, h.memory_bound_nodes
            ),
        ));
    }
    let total_section = Section {
        title: "Totals".into(),
        header: vec!["Total".into(), "value".into(), "exact".into()],
        rows: totals.into_iter().map(|(a, b, c)| vec![a, b, c]).collect(),
        right: vec![1, 2],
        notes: closing_notes(report),
        ..Section::default()
    };
    vec![layer_section, total_section]
}

// ---- tree --------------------------------------------------------------------------------------

/// A module of the rebuilt hierarchy, with the totals of every node inside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub params: Dim,
    pub buffers: Dim,
    pub macs: Dim,
    pub flops: Dim,
    /// Memory traffic: the bytes the module's nodes read and write.
    pub bytes: Dim,
    /// What the report's convention (`--convention`) counts for the module's nodes.
    pub convention: Dim,
    pub nodes: usize,
    pub children: Vec<Module>,
}

impl Module {
    fn add(&mut self, n: &NodeReport) {
        self.params += &n.params;
        self.buffers += &n.buffers;
        self.macs += &n.macs;
        self.flops += &n.flops;
        self.bytes += &n.bytes;
        if let Some(c) = &n.convention {
            self.convention += c;
        }
        self.nodes += 1;
    }

    /// The child with the most MACs (then params), when it has at least one.
    pub fn heaviest_child(&self) -> Option<usize> {
        let key = |m: &Module| (magnitude(&m.macs), magnitude(&m.params));
        let order = |a: &Module, b: &Module| {
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        };
        self.children
            .iter()
            .enumerate()
            .filter(|(_, c)| key(c) > (0.0, 0.0))
            .max_by(|(i, a), (j, b)| order(a, b).then(j.cmp(i)))
            .map(|(i, _)| i)
    }
}

/// The module tree of a report. Nodes a module holds directly, beside child modules, are
/// gathered in a child `(own ops)`, so that every level's children add up to their parent.
pub fn module_tree(report: &Report) -> Module {
    let mut root = Module {
        name: "model".into(),
        ..Module::default()
    };
    for n in &report.nodes {
        root.add(n);
        let mut at = &mut root;
        for segment in &n.module {
            let i = match at.children.iter().position(|c| &c.name == segment) {
                Some(i) => i,
                None => {
                    at.children.push(Module {
                        name: segment.clone(),
                        ..Module::default()
                    });
                    at.children.len() - 1
                }
            };
            at = &mut at.children[i];
            at.add(n);
        }
    }
    gather_own_ops(&mut root, &report.nodes, &[]);
    root
}

/// Adds an `(own ops)` child to every module that holds nodes of its own beside child modules.
fn gather_own_ops(m: &mut Module, nodes: &[NodeReport], path: &[String]) {
    if m.children.is_empty() {
        return;
    }
    let mut own = Module {
        name: "(own ops)".into(),
        ..Module::default()
    };
    for n in nodes.iter().filter(|n| n.module.as_slice() == path) {
        own.add(n);
    }
    for c in &mut m.children {
        let mut p = path.to_vec();
        p.push(c.name.clone());
        gather_own_ops(c, nodes, &p);
    }
    if own.nodes > 0 {
        m.children.push(own);
    }
}

fn tree(report: &Report, o: &ViewOptions) -> Vec<Section> {
    let f = Fmt { units: o.units };
    let root = module_tree(report);
    struct Walker<'a> {
        o: &'a ViewOptions,
        f: Fmt,
        total: &'a Module,
        rows: Vec<Vec<String>>,
        emphasis: Vec<usize>,
        live: Vec<(usize, usize, LiveCell)>,
        /// CSV: depth and path columns instead of drawn branches, the heaviest child a column.
        plain: bool,
        path: Vec<String>,
        /// A column for the report's convention.
        convention: bool,
    }
    impl Walker<'_> {
        fn walk(&mut self, m: &Module, prefix: &str, last: bool, level: usize, heaviest: bool) {
            let (branch, next) = match level {
                0 => (String::new(), String::new()),
                _ if last => (format!("{prefix}└─ "), format!("{prefix}   ")),
                _ => (format!("{prefix}├─ "), format!("{prefix}│  ")),
            };
            if heaviest {
                self.emphasis.push(self.rows.len());
            }
            if level > 0 {
                self.path.push(m.name.clone());
            }
            let f = &self.f;
            let mut row = if self.plain {
                vec![
                    level.to_string(),
                    self.path.join("/"),
                    m.name.clone(),
                    heaviest.to_string(),
                ]
            } else {
                vec![format!(
                    "{branch}{}{}",
                    m.name,
                    if heaviest { " ★" } else { "" }
                )]
            };
            let first = row.len();
            let r = self.rows.len();
            for (col, cell) in [
                (first, f.live(&m.params, "")),
                (first + 1, f.live_share(&m.params, &self.total.params)),
                (first + 2, f.live(&m.macs, "MACs")),
                (first + 3, f.live_share(&m.macs, &self.total.macs)),
                (first + 4, f.live(&m.flops, "FLOPs")),
            ] {
                if let Some(c) = cell {
                    self.live.push((r, col, c));
                }
            }
            row.extend([
                f.num(&m.params, ""),
                percent(&m.params, &self.total.params),
                f.num(&m.macs, "MACs"),
                percent(&m.macs, &self.total.macs),
                f.num(&m.flops, "FLOPs"),
                m.nodes.to_string(),
            ]);
            if self.convention {
                row.push(f.num(&m.convention, ""));
            }
            self.rows.push(row);
            if level < self.o.depth {
                let heavy = m.heaviest_child();
                let n = m.children.len();
                for (i, c) in m.children.iter().enumerate() {
                    self.walk(c, &next, i + 1 == n, level + 1, heavy == Some(i) && n > 1);
                }
            }
            if level > 0 {
                self.path.pop();
            }
        }
    }
    let plain = o.units == Units::Plain;
    let mut w = Walker {
        o,
        f,
        total: &root,
        rows: Vec::new(),
        emphasis: Vec::new(),
        live: Vec::new(),
        plain,
        path: Vec::new(),
        convention: report.convention.is_some(),
    };
    w.walk(&root, "", true, 0, false);
    let Walker {
        rows,
        emphasis,
        live,
        ..
    } = w;
    let flat = root.children.is_empty();
    let mut notes = vec!["★ the heaviest child of its module (most MACs)".to_owned()];
    if flat {
        notes = vec!["The node names carry no module scopes: the tree is flat.".to_owned()];
    }
    notes.extend(closing_notes(report));
    let mut header: Vec<String> = if plain {
        ["Depth", "Path", "Module", "Heaviest child"]
            .map(String::from)
            .to_vec()
    } else {
        vec!["Module".to_owned()]
    };
    header.extend(["Params", "% params", "MACs", "% MACs", "FLOPs", "Nodes"].map(String::from));
    let first = header.len() - 6;
    if let Some(c) = &report.convention {
        header.push(format!("{} {}", c.convention, c.unit));
    }
    let columns = header.len();
    vec![Section {
        title: format!("Modules (depth {})", o.depth),
        header,
        rows,
        right: (first..columns).collect(),
        emphasis,
        notes,
        live,
        ..Section::default()
    }]
}

// ---- ops ---------------------------------------------------------------------------------------

/// Totals per op type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpSummary {
    pub op: String,
    pub count: usize,
    pub macs: Dim,
    pub flops: Dim,
    pub bytes: Dim,
    pub params: Dim,
    /// What the report's convention (`--convention`) counts for these nodes.
    pub convention: Dim,
}

/// Per op type, heaviest (MACs, then FLOPs) first.
pub fn op_summary(report: &Report) -> Vec<OpSummary> {
    let mut by_op: BTreeMap<String, OpSummary> = BTreeMap::new();
    for n in &report.nodes {
        let label = op_label(n);
        let s = by_op.entry(label.clone()).or_insert_with(|| OpSummary {
            op: label,
            ..OpSummary::default()
        });
        s.count += 1;
        s.macs += &n.macs;
        s.flops += &n.flops;
        s.bytes += &n.bytes;
        s.params += &n.params;
        if let Some(c) = &n.convention {
            s.convention += c;
        }
    }
    let mut ops: Vec<OpSummary> = by_op.into_values().collect();
    // Heaviest first, at the sizes given (free dims at RANK_PROBE).
    let key = |s: &OpSummary| (magnitude(&s.macs), magnitude(&s.flops));
    ops.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.total_cmp(&ka.0)
            .then(kb.1.total_cmp(&ka.1))
            .then_with(|| a.op.cmp(&b.op))
    });
    ops
}

fn ops(report: &Report, o: &ViewOptions) -> Vec<Section> {
    let f = Fmt { units: o.units };
    let t = &report.totals;
    let convention = report.convention.as_ref();
    let summary = op_summary(report);
    let mut live = Vec::new();
    for (r, s) in summary.iter().enumerate() {
        for (col, cell) in [
            (2, f.live(&s.params, "")),
            (3, f.live(&s.macs, "MACs")),
            (4, f.live_share(&s.macs, &t.macs)),
            (5, f.live(&s.flops, "FLOPs")),
            (6, f.live_share(&s.flops, &t.flops)),
            (7, f.live(&s.bytes, "B")),
            (8, f.live_share(&s.bytes, &t.bytes)),
        ] {
            if let Some(c) = cell {
                live.push((r, col, c));
            }
        }
    }
    let rows = summary
        .iter()
        .map(|s| {
            let mut row = vec![
                s.op.clone(),
                s.count.to_string(),
                f.num(&s.params, ""),
                f.num(&s.macs, "MACs"),
                percent(&s.macs, &t.macs),
                f.num(&s.flops, "FLOPs"),
                percent(&s.flops, &t.flops),
                f.bytes(&s.bytes),
                percent(&s.bytes, &t.bytes),
            ];
            if convention.is_some() {
                row.push(f.num(&s.convention, ""));
            }
            row
        })
        .collect();
    let mut header: Vec<String> = [
        "Op", "Count", "Params", "MACs", "% MACs", "FLOPs", "% FLOPs", "Bytes", "% bytes",
    ]
    .map(String::from)
    .to_vec();
    if let Some(c) = convention {
        header.push(format!("{} {}", c.convention, c.unit));
    }
    let columns = header.len();
    vec![Section {
        title: "Op types".into(),
        header,
        rows,
        right: (1..columns).collect(),
        notes: closing_notes(report),
        live,
        ..Section::default()
    }]
}

// ---- memory ------------------------------------------------------------------------------------

fn memory(report: &Report, o: &ViewOptions) -> Vec<Section> {
    let f = Fmt { units: o.units };
    let t = &report.totals;
    let mut weights: Vec<Vec<String>> = t
        .weight_bytes_by_dtype
        .iter()
        .map(|(dtype, bytes)| {
            vec![
                dtype.clone(),
                f.bytes(bytes),
                percent(bytes, &t.weight_bytes),
            ]
        })
        .collect();
    weights.push(vec![
        "all".into(),
        f.bytes(&t.weight_bytes),
        percent(&t.weight_bytes, &t.weight_bytes),
    ]);
    let summary = vec![
        vec![
            "Weights (params and buffers)".into(),
            f.bytes(&t.weight_bytes),
        ],
        vec![
            "Activations, each value once".into(),
            f.bytes(&t.activation_bytes),
        ],
        vec![
            format!(
                "Peak live activations{}",
                t.peak_at
                    .as_deref()
                    .map_or(String::new(), |n| format!(" (at {n})"))
            ),
            f.bytes(&t.peak_activation_bytes),
        ],
        vec![
            "Memory traffic (inputs read, outputs written once)".into(),
            f.bytes(&t.bytes),
        ],
    ];
    // The largest activations: the values that drive the peak.
    let mut largest: Vec<(&NodeReport, &TensorReport, Dim)> = report
        .nodes
        .iter()
        .filter(|n| !n.constant)
        .flat_map(|n| {
            n.outputs.iter().filter_map(move |out| {
                let dtype = out.dtype.as_deref()?;
                let shape = out.shape.as_ref()?;
                let numel: Dim = shape.iter().product();
                let bits = dtype_bits(dtype)?;
                Some((n, out, (numel * i64::from(bits)).ceil_div(8).ok()?))
            })
        })
        .collect();
    largest.sort_by(|(_, _, a), (_, _, b)| magnitude(b).total_cmp(&magnitude(a)));
    largest.truncate(10);
    // On the live page, the figures that depend on free dims follow them.
    let live_of = |cells: &[(usize, usize, Option<LiveCell>)]| -> Vec<(usize, usize, LiveCell)> {
        cells
            .iter()
            .filter_map(|(r, c, cell)| Some((*r, *c, cell.clone()?)))
            .collect()
    };
    let summary_live = live_of(
        &[
            &t.weight_bytes,
            &t.activation_bytes,
            &t.peak_activation_bytes,
            &t.bytes,
        ]
        .iter()
        .enumerate()
        .map(|(r, d)| {
            let cell = f.live(d, "B").map(|c| LiveCell { peak: r == 2, ..c });
            (r, 1, cell)
        })
        .collect::<Vec<_>>(),
    );
    let largest_live = live_of(
        &largest
            .iter()
            .enumerate()
            .map(|(r, (_, _, bytes))| (r, 3, f.live(bytes, "B")))
            .collect::<Vec<_>>(),
    );
    let top = largest
        .iter()
        .map(|(n, out, bytes)| {
            vec![
                out.name.clone(),
                format!("{} ({})", n.name, op_label(n)),
                tensor_text(out),
                f.bytes(bytes),
            ]
        })
        .collect();
    vec![
        Section {
            title: "Memory".into(),
            header: vec!["".into(), "bytes".into()],
            rows: summary,
            right: vec![1],
            live: summary_live,
            ..Section::default()
        },
        Section {
            title: "Weights by element type".into(),
            header: vec!["dtype".into(), "bytes".into(), "share".into()],
            rows: weights,
            right: vec![1, 2],
            ..Section::default()
        },
        Section {
            title: "Largest activations".into(),
            header: vec![
                "value".into(),
                "made by".into(),
                "type".into(),
                "bytes".into(),
            ],
            rows: top,
            right: vec![3],
            live: largest_live,
            notes: {
                let mut notes = closing_notes(report);
                if let Some(c) = &report.convention {
                    notes.push(format!(
                        "The {} count (--convention) is arithmetic, not memory: this view does not show it; the layers, tree and ops views and the JSON do.",
                        c.convention
                    ));
                }
                notes
            },
            ..Section::default()
        },
    ]
}

/// Bits per element of a dtype by its report name (`float32` → 32), `None` for strings.
pub(crate) fn dtype_bits(name: &str) -> Option<u32> {
    (1..=26)
        .filter_map(flopscope_ir::DType::from_code)
        .find(|d| d.name() == name)
        .and_then(flopscope_ir::DType::bits)
}

// ---- rendering ---------------------------------------------------------------------------------

/// The sections of a view.
pub fn sections(report: &Report, o: &ViewOptions) -> Vec<Section> {
    match o.view {
        View::Layers => layers(report, o),
        View::Tree => tree(report, o),
        View::Ops => ops(report, o),
        View::Memory => memory(report, o),
    }
}

/// The view as terminal tables.
pub fn render_view_table(report: &Report, o: &ViewOptions) -> String {
    let style = TableStyle {
        color: o.color,
        width: o.width,
    };
    render_sections_table(&header_lines(report), &sections(report, o), style)
}

/// Sections as terminal tables after a preamble; colour marks headers and emphasised rows.
pub fn render_sections_table(preamble: &str, sections: &[Section], style: TableStyle) -> String {
    let color = style.color;
    let mut out = preamble.to_owned();
    for s in sections {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        fit(&mut t, style.width);
        if color {
            t.enforce_styling();
            t.set_header(
                s.header
                    .iter()
                    .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
            );
        } else {
            t.set_header(s.header.clone());
        }
        for (i, row) in s.rows.iter().enumerate() {
            if color && s.emphasis.contains(&i) {
                t.add_row(row.iter().map(|c| Cell::new(c).fg(Color::Yellow)));
            } else {
                t.add_row(row.clone());
            }
        }
        for &c in &s.right {
            if let Some(col) = t.column_mut(c) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        if s.rows.is_empty() {
            let _ = writeln!(out, "\n{}", s.title);
        } else {
            let _ = writeln!(out, "\n{}\n{t}", s.title);
        }
        for note in &s.notes {
            let _ = writeln!(out, "{note}");
        }
    }
    out
}

/// Lets a table wrap its cells to `width` columns, or keeps it as wide as its content.
pub fn fit(t: &mut Table, width: Option<u16>) {
    match width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
}

/// The view as Markdown, ready to paste in a PR.
pub fn render_view_markdown(report: &Report, o: &ViewOptions) -> String {
    let lines: Vec<String> = header_lines(report)
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    render_sections_markdown(
        &report.model.path,
        &markdown_preamble(&lines),
        &sections(report, o),
    )
}

/// The lines above a view: the model, its inputs and the values of its dims.
pub fn preamble(report: &Report) -> String {
    header_lines(report)
}

/// [`preamble`] as Markdown paragraphs (the model's path is the title).
pub fn markdown_preamble_of(report: &Report) -> Vec<String> {
    let lines: Vec<String> = header_lines(report)
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    markdown_preamble(&lines)
}

/// Terminal preamble lines (`Input   x: float32[1, 3]`) as Markdown (`**Input** x: float32[1, 3]`).
pub(crate) fn markdown_preamble(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| match line.split_once("  ") {
            Some((label, rest)) if !label.trim().is_empty() => {
                format!("**{}** {}", label.trim(), rest.trim())
            }
            _ => line.trim().to_owned(),
        })
        .collect()
}

/// Sections as Markdown after a bold title and preamble paragraphs. A [`Section::collapse`]d
/// section folds into a `<details>` block (long node lists in PR comments).
pub fn render_sections_markdown(title: &str, preamble: &[String], sections: &[Section]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**{title}**");
    for line in preamble {
        let _ = writeln!(out, "\n{line}");
    }
    let esc = |c: &str| c.replace('|', "\\|");
    for s in sections {
        if s.collapse {
            let _ = writeln!(out, "\n<details><summary>{}</summary>\n", s.title);
        } else {
            let _ = writeln!(out, "\n### {}\n", s.title);
        }
        if !s.rows.is_empty() {
            let _ = writeln!(
                out,
                "| {} |",
                s.header
                    .iter()
                    .map(|h| esc(h))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let align: Vec<&str> = (0..s.header.len())
                .map(|i| if s.right.contains(&i) { "---:" } else { "---" })
                .collect();
            let _ = writeln!(out, "|{}|", align.join("|"));
            for (i, row) in s.rows.iter().enumerate() {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| {
                        if s.emphasis.contains(&i) {
                            format!("**{}**", esc(c))
                        } else {
                            esc(c)
                        }
                    })
                    .collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        if !s.notes.is_empty() {
            let _ = writeln!(out, "\n```\n{}\n```", s.notes.join("\n"));
        }
        if s.collapse {
            let _ = writeln!(out, "\n</details>");
        }
    }
    out
}

/// The view's main grid as CSV (plain integers regardless of `--units`).
pub fn render_view_csv(report: &Report, o: &ViewOptions) -> String {
    let o = ViewOptions {
        units: Units::Plain,
        color: false,
        ..*o
    };
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let Some(main) = sections(report, &o).into_iter().next() else {
        return String::new();
    };
    let mut out = main
        .header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for row in &main.rows {
        out.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
