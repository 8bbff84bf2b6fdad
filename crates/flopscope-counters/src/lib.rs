//! The op registry and the engine of flopscope.
//!
//! Every op registers one [`OpDef`] per opset range with `inventory::submit!`, next to its
//! code: a shape-inference function, a cost function, the roles of its inputs and a one-line
//! formula. The built-in ops live in [`ops`], one module per family; a plugin crate registers
//! its own ops the same way. [`profile`] walks a model's graph in topological order, infers
//! every value's type (folding small shape computations), costs every node, and sorts the
//! constants into params, buffers and constants.

mod cost;
mod ctx;
mod engine;
pub mod ops;
mod params;
mod registry;

pub use cost::{Cost, FlopsByKind};
pub use ctx::{
    CostCtx, InferCtx, MAX_FOLDED_ELEMENTS, OpError, broadcast, normalize_axis,
    normalize_axis_inclusive, product,
};
pub use engine::{
    NodeProfile, Profile, ProfileError, ProfileOptions, SubgraphRun, Totals, Uncounted,
    UncountedReason, Weight, profile, shape_string, topological_order,
};
pub use params::WeightClass;
pub use registry::{
    Conflict, CostFn, DeclaredOp, InferFn, OpClass, OpDef, OpImpl, Opsets, Registry, Role,
    UnknownOpClass, registry,
};

/// Re-exported so that plugins can `flopscope_counters::inventory::submit!` without naming
/// the crate in their own dependencies.
pub use inventory;
