//! flopscope's report: the data model written as versioned JSON, and its renderers.
//!
//! A [`Report`] is built once from a profile and rendered as a terminal table or JSON. The JSON
//! is the contract (schema version [`SCHEMA_VERSION`]): later versions add fields, never remove
//! or retype them. [`Convention`]s re-weight a report's per-node facts into what other tools
//! (thop, ptflops, fvcore, torch's FlopCounterMode, onnx-tool) count; [`Comparison`] puts them
//! side by side.

mod compare;
pub mod conventions;
mod model;
mod sweep;
mod table;
pub mod units;

pub use compare::{Comparison, render_comparison};
pub use conventions::{Convention, ConventionReport, OpClass, UnknownConvention};
pub use model::{
    AttrReport, DataDependentDim, FlopsByKindReport, MAX_REPORTED_ELEMENTS, ModelInfo, NodeReport,
    Report, SCHEMA_VERSION, TensorReport, ToolInfo, TotalsReport, UncountedReport, describe_reason,
};
pub use sweep::{Law, LawTerm, SweepAxis, SweepReport, SweepRow};
pub use table::render_table;
