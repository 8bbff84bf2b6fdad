//! flopscope's report: the data model written as versioned JSON, and its renderers.
//!
//! A [`Report`] is built once from a profile and rendered in one of its [`views`] (layers,
//! module tree, op types, memory) as a terminal table, Markdown or CSV; whole as JSON or as one
//! self-contained HTML page, or as an SVG chart of its heaviest modules ([`html`]). The JSON is
//! the contract (schema version [`SCHEMA_VERSION`], `docs/report-schema.json`): later versions
//! add fields, never remove or retype them. A [`ReportDiff`] says what changed between two
//! reports. [`Convention`]s re-weight a report's per-node facts into what other tools
//! (thop, ptflops, fvcore, torch's FlopCounterMode, onnx-tool) count; [`Comparison`] puts them
//! side by side.

pub mod bench;
mod compare;
pub mod conventions;
mod diff;
pub mod generation;
pub mod hardware;
pub mod html;
mod json;
mod layout;
mod live;
mod model;
mod sweep;
mod totals;
pub mod units;
pub mod views;

pub use bench::{
    BenchInput, BenchReport, KernelInput, LayerTime, PeaksReport, RuntimeInfo, render_roofline_svg,
};
pub use compare::{Comparison, render_comparison};
pub use conventions::{Convention, ConventionReport, OpClass, UnknownConvention};
pub use diff::{
    Change, Costs, DiffSide, ModuleChange, ModuleSide, NodeChange, NodeSide, ReportDiff, TotalDelta,
};
pub use generation::{
    DecodeStep, GenerationError, GenerationMode, GenerationReport, GenerationSpec, Pass,
};
pub use hardware::{Bound, Estimate, Hardware, HardwareError, HardwareReport};
pub use html::{render_diff_html, render_html, render_svg};
pub use model::{
    AttrReport, DataDependentDim, DerivedDim, FlopsByKindReport, MAX_REPORTED_ELEMENTS, ModelInfo,
    NodeReport, Report, SCHEMA_VERSION, TensorReport, ToolInfo, TotalsReport, UncountedReport,
    describe_reason, module_of,
};
pub use sweep::{Law, LawTerm, SweepAxis, SweepReport, SweepRow};
pub use totals::{TotalKind, percent_change, percent_change_text};
pub use views::{
    Module, OpSummary, Section, TableStyle, Units, View, ViewOptions, module_tree, op_summary,
    render_sections_markdown, render_sections_table, render_view_csv, render_view_markdown,
    render_view_table,
};

/// The default view (layers) as terminal tables.
pub fn render_table(report: &Report) -> String {
    render_view_table(report, &ViewOptions::default())
}
