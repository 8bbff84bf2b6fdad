//! The engine: binds the caller's input shapes, orders the nodes, infers every value's type
//! (folding small constant and shape computations), costs every node, and sorts constants into
//! params, buffers and constants. This module holds the public types and [`profile`], which
//! runs the steps its submodules implement.

mod binding;
mod liveness;
mod subgraph;
mod totals;
mod walk;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use flopscope_ir::{
    ConstValue, Dim, Function, Model, NodeId, ShapeDisplay, TensorValue, ValueType,
};

use crate::params::{self, WeightClass};
use crate::{Cost, DeclaredOp, FlopsByKind, OpClass, OpError};

use binding::{BoundInputs, bind_inputs, check_late_bindings};
use liveness::{live_steps, peak_of};
use totals::{group_uncounted, totals_overflow};
use walk::{GraphRun, initial_states, run_graph};

pub(crate) use subgraph::Scope;
pub use subgraph::SubgraphRun;
pub(crate) use walk::has_subgraph;
pub use walk::topological_order;

/// What the caller fixes before profiling.
#[derive(Debug, Clone, Default)]
pub struct ProfileOptions {
    /// Shapes of graph inputs, by input name (`--input NAME=1x3x224x224`).
    pub inputs: BTreeMap<String, Vec<Dim>>,
    /// Values of named dims, everywhere they appear (`--dim batch=1`).
    pub dims: BTreeMap<String, Dim>,
    /// Stored values for graph inputs, by input name (`--input-value NAME=FILE.pb`): the input
    /// takes the value's type, and a small tensor's elements are known to shape inference.
    pub input_values: BTreeMap<String, ConstValue>,
    /// A shape in `inputs` replaces the declared one even where the model fixes a dim to another
    /// number (sweeping a model with fixed dims); its named dims are then not bound from it.
    pub replace_declared_shapes: bool,
    /// Ops declared at run time (`--op-costs`), used for nodes no linked record covers.
    pub declared_ops: Vec<Arc<dyn DeclaredOp>>,
}

/// Why a model could not be profiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("node `{node}` ({domain}::{op_type}): {source}")]
    Node {
        node: String,
        op_type: String,
        domain: String,
        #[source]
        source: OpError,
    },
    #[error("node `{node}` ({domain}::{op_type}): integer overflow computing {what}")]
    Overflow {
        node: String,
        op_type: String,
        domain: String,
        what: &'static str,
    },
    #[error("the graph has a cycle: nodes {} depend on each other", nodes.join(", "))]
    Cycle { nodes: Vec<String> },
    #[error(
        "node `{node}` ({op_type}) is in domain `{domain}`, which the model does not import (no \
         opset_import entry)"
    )]
    MissingOpset {
        node: String,
        op_type: String,
        domain: String,
    },
    #[error("input `{name}`: the model has no input of that name (its inputs: {known})")]
    UnknownInput { name: String, known: String },
    /// A size given below zero (ONNX writes -1 for "dynamic"; here a dim left out, or named,
    /// stays symbolic).
    #[error(
        "{what} is {value}: a size is 0 or more (leave the dim out, or name it, to keep it symbolic)"
    )]
    NegativeSize { what: String, value: i64 },
    #[error("input `{name}`: that is a constant stored in the model, not an input")]
    ConstantInput { name: String },
    #[error("input `{name}` has {model} dims in the model, but {given} were given")]
    RankMismatch {
        name: String,
        model: usize,
        given: usize,
    },
    #[error("input `{name}`: dim {axis} is {model} in the model, but {given} was given")]
    DimMismatch {
        name: String,
        axis: usize,
        model: Dim,
        given: Dim,
    },
    #[error("dim `{symbol}` would be both {first} and {second}")]
    ConflictingBinding {
        symbol: String,
        first: Dim,
        second: Dim,
    },
    #[error("input `{name}` has no declared {what}: give the input's shape")]
    UndeclaredInput { name: String, what: &'static str },
    #[error(
        "dim `{symbol}`: the model has no dim of that name (its inputs' dims and the sizes it derives: {known})"
    )]
    UnknownSymbol { symbol: String, known: String },
}

/// Why a node has no cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UncountedReason {
    /// No record for the op at the model's opset version.
    NoCounter,
    /// The op has a counter, but an input's type could not be known, because an uncounted
    /// node upstream produced it.
    UnknownInputs,
}

impl UncountedReason {
    pub fn describe(self) -> &'static str {
        match self {
            UncountedReason::NoCounter => "no counter registered for this op and opset",
            UncountedReason::UnknownInputs => {
                "input shapes unknown (produced by an uncounted node)"
            }
        }
    }
}

/// One node's result.
#[derive(Debug, Clone)]
pub struct NodeProfile {
    pub id: NodeId,
    /// Display name (the node's name, or `<op_type>_<index>` when it has none).
    pub name: String,
    pub op_type: String,
    /// `""` for the default domain.
    pub domain: String,
    /// The op's family, from its record or declaration ([`OpClass::Other`] without one).
    pub class: OpClass,
    /// Output names and types (`None` where the type is unknown).
    pub outputs: Vec<(String, Option<ValueType>)>,
    /// `None` when the node is uncounted.
    pub uncounted: Option<UncountedReason>,
    /// Uncounted nodes inside this node's subgraphs: (domain, op type, reason, path).
    pub inner_uncounted: Vec<(String, String, UncountedReason, String)>,
    /// Symbols this node introduced for sizes only known at run time (NonZero's count, a loop's
    /// trip count, ...).
    pub fresh_symbols: Vec<String>,
    /// Symbols this node introduced for sizes flopscope could not express (a float
    /// computation over a symbolic dim, a shape input computed at run time, ...), each with
    /// why.
    pub derived_dims: Vec<(String, String)>,
    pub cost: Cost,
    /// Minimum memory traffic: every input read once, every output written once.
    pub bytes: Dim,
    /// Elements of the params this node is the first to read: node params add up to the
    /// model's, a tied weight counted at its first user.
    pub params: Dim,
    /// Elements of the buffers (running statistics) this node is the first to read.
    pub buffers: Dim,
    /// All inputs are constants: a runtime would fold this node before running the model.
    pub constant: bool,
    /// For a node with MACs, the element type they run in: an integer type for quantized
    /// contractions (integer operands, or float operands dequantized from integers: QDQ),
    /// else the operands' float type.
    pub macs_dtype: Option<String>,
}

impl NodeProfile {
    /// The symbols the node introduced: sizes known only at run time, then derived sizes.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.fresh_symbols
            .iter()
            .map(String::as_str)
            .chain(self.derived_dims.iter().map(|(s, _)| s.as_str()))
    }
}

/// Uncounted nodes of one op type, for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncounted {
    pub domain: String,
    pub op_type: String,
    pub reason: UncountedReason,
    pub nodes: Vec<String>,
}

/// Sums over the whole model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub macs: Dim,
    pub flops: FlopsByKind,
    /// Sum of every node's memory traffic.
    pub bytes: Dim,
    /// Elements of learnable weights, each unique tensor once.
    pub params: Dim,
    /// Elements of running statistics (BatchNormalization mean and variance).
    pub buffers: Dim,
    /// Elements of quantization scales and zero points.
    pub quant_params: Dim,
    /// Elements of other constants (shapes, axes, indices, scalars).
    pub constants: Dim,
    /// MACs by the element type they run in (see [`NodeProfile::macs_dtype`]).
    pub macs_by_dtype: BTreeMap<String, Dim>,
    /// Bytes of params and buffers, by dtype.
    pub weight_bytes: Dim,
    pub weight_bytes_by_dtype: BTreeMap<String, Dim>,
    /// Bytes of every activation value (graph inputs and node outputs not computed from
    /// constants), each once.
    pub activation_bytes: Dim,
    /// Peak live activation memory along the execution order.
    pub peak_activation_bytes: Dim,
    /// The node at which the peak is first reached, when one is.
    pub peak_at: Option<String>,
    /// Some nodes are uncounted: the true cost is at least these totals.
    pub lower_bound: bool,
}

impl Totals {
    /// All FLOPs: two per MAC plus every other kind.
    pub fn total_flops(&self) -> Dim {
        &self.macs * 2 + self.flops.total()
    }
}

/// The result of profiling a model.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Counted and uncounted nodes, in execution order.
    pub nodes: Vec<NodeProfile>,
    /// Every value's type by [`ValueId`](flopscope_ir::ValueId) (`None` where unknown).
    pub value_types: Vec<Option<ValueType>>,
    /// Live activation bytes while each node runs, in execution order (aligned with `nodes`):
    /// the peak at any binding is their largest value there.
    pub live_activation_steps: Vec<Dim>,
    /// The elements of node outputs that were folded before run time, by
    /// [`ValueId`](flopscope_ir::ValueId).
    pub known_values: Vec<Option<Arc<TensorValue>>>,
    /// The graph inputs with the types they were profiled at.
    pub inputs: Vec<(String, ValueType)>,
    /// The values given to named dims (from `--input` and `--dim`).
    pub bindings: BTreeMap<String, Dim>,
    pub totals: Totals,
    /// Uncounted nodes grouped by (domain, op type, reason), sorted.
    pub uncounted: Vec<Uncounted>,
    /// Every constant the model's ops read (a stored tensor, or the output of a node that
    /// makes one, such as `ConstantOfShape`), with its class, in value order: what the
    /// `params`, `buffers`, `quant_params` and `constants` totals add up.
    pub weights: Vec<Weight>,
}

/// One constant origin of the model and how it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The value's name in the graph.
    pub name: String,
    pub class: WeightClass,
    /// Logical elements (for a packed weight, its stored bits over one element's width).
    pub elements: Dim,
}

/// Profiles the main graph of a model.
pub fn profile<'a>(model: &'a Model, options: &'a ProfileOptions) -> Result<Profile, ProfileError> {
    let graph = &model.graph;
    let BoundInputs {
        inputs: input_types,
        bindings,
        input_symbols,
        late,
    } = bind_inputs(graph, options)?;
    let mut states = initial_states(graph);
    for (id, ty, init) in &input_types {
        let state = &mut states[id.index()];
        state.ty = Some(ty.clone());
        state.init = *init;
    }
    let runs = Cell::new(0);
    let env = Env {
        opsets: &model.opsets,
        bindings: &bindings,
        functions: &model.functions,
        depth: 0,
        declared: &options.declared_ops,
        runs: &runs,
        unrolling: false,
    };
    let GraphRun {
        order,
        states,
        defs,
        mut nodes,
    } = run_graph(&env, graph, states, None)?;
    check_late_bindings(&late, &input_symbols, &nodes)?;

    let classes = params::classify(graph, &order, &states, &defs);
    for np in &mut nodes {
        np.params = classes.node_params(np.id, &states);
        np.buffers = classes.node_buffers(np.id, &states);
    }
    let mut totals = totals::totals(graph, &nodes, &states, &classes);
    let weights = classes
        .roots()
        .filter_map(|(id, class)| {
            let ty = states[id.index()].tensor()?;
            Some(Weight {
                name: graph.value(id).name.clone(),
                class,
                elements: classes.elements(id, ty),
            })
        })
        .collect();
    let live_activation_steps = live_steps(graph, &nodes, &states);
    let (peak, at) = peak_of(&live_activation_steps, &nodes);
    totals.peak_activation_bytes = peak;
    totals.peak_at = at;
    if totals_overflow(&totals) {
        return Err(ProfileError::Overflow {
            node: "(totals)".into(),
            op_type: String::new(),
            domain: String::new(),
            what: "the model totals",
        });
    }
    let uncounted = group_uncounted(&nodes);
    let inputs = input_types
        .into_iter()
        .map(|(id, ty, _)| (graph.value(id).name.clone(), ty))
        .collect();
    let known_values = states
        .iter()
        .map(|s| match (s.init, s.known.get()) {
            (None, Some(Ok(Some(v)))) => Some(v.clone()),
            _ => None,
        })
        .collect();
    Ok(Profile {
        live_activation_steps,
        known_values,
        value_types: states.into_iter().map(|s| s.ty).collect(),
        nodes,
        inputs,
        bindings,
        totals,
        uncounted,
        weights,
    })
}

/// What every graph of a model shares while it is profiled (the main graph and subgraphs).
#[derive(Debug)]
pub(crate) struct Env<'e> {
    pub(crate) opsets: &'e BTreeMap<String, i64>,
    /// Values of the model's named dims.
    pub(crate) bindings: &'e BTreeMap<String, Dim>,
    /// Model-local functions, called like ops.
    pub(crate) functions: &'e [Function],
    /// How many subgraphs deep this graph is.
    pub(crate) depth: usize,
    /// Ops declared at run time.
    pub(crate) declared: &'e [Arc<dyn DeclaredOp>],
    /// Subgraph and function-body runs so far, shared by every graph of the model: it bounds
    /// the work that branches and loops nested in one another can ask for.
    pub(crate) runs: &'e Cell<usize>,
    /// This graph is (inside) the body of a loop being unrolled: loops here are not unrolled
    /// too, so nested loops cost one unrolled level, not 256 to the power of their depth.
    pub(crate) unrolling: bool,
}

/// Formats a shape for messages.
pub fn shape_string(shape: &[Dim]) -> String {
    ShapeDisplay(shape).to_string()
}
