//! flopscope's report: the data model written as versioned JSON, and its renderers.
//!
//! A [`Report`] is built once from a profile and rendered as a terminal table or JSON. The JSON
//! is the contract (schema version [`SCHEMA_VERSION`]): later versions add fields, never remove
//! or retype them.

mod model;
mod table;
pub mod units;

pub use model::{
    DataDependentDim, FlopsByKindReport, ModelInfo, NodeReport, Report, SCHEMA_VERSION,
    TensorReport, ToolInfo, TotalsReport, UncountedReport, describe_reason,
};
pub use table::render_table;
