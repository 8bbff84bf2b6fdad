//! The engine: binds the caller's input shapes, orders the nodes, infers every value's type
//! (folding small constant and shape computations), costs every node, and sorts constants into
//! params, buffers and constants.

use std::cell::{Cell, OnceCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

use flopscope_ir::{
    ConstTensor, ConstValue, DeclaredType, Dim, Function, Graph, Model, NodeId, SequenceType,
    ShapeDisplay, TensorType, TensorValue, ValueDef, ValueId, ValueType, display_domain,
    same_domain,
};

use crate::ctx::ValueState;
use crate::params::{self, WeightClass};
use crate::{Cost, CostCtx, DeclaredOp, FlopsByKind, InferCtx, OpClass, OpError, OpImpl, registry};

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
    /// Every value's type by [`ValueId`] (`None` where unknown).
    pub value_types: Vec<Option<ValueType>>,
    /// Live activation bytes while each node runs, in execution order (aligned with `nodes`):
    /// the peak at any binding is their largest value there.
    pub live_activation_steps: Vec<Dim>,
    /// The elements of node outputs that were folded before run time, by [`ValueId`].
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
    let mut totals = totals(graph, &nodes, &states, &classes);
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

impl Env<'_> {
    /// Counts one more subgraph or function run; an error past [`MAX_SUBGRAPH_RUNS`].
    fn count_run(&self) -> Result<(), OpError> {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        if n > MAX_SUBGRAPH_RUNS {
            return Err(OpError::Unsupported(format!(
                "more than {MAX_SUBGRAPH_RUNS} runs of subgraphs and functions (loops and \
                 branches nested in one another); flopscope stops here"
            )));
        }
        Ok(())
    }
}

impl<'e> Env<'e> {
    /// The implementation of an op at `opset`: a linked record, else a declared op.
    fn op(&self, domain: &str, op_type: &str, opset: i64) -> Option<OpImpl<'e>> {
        if let Some(def) = registry().lookup(domain, op_type, opset) {
            return Some(OpImpl::Linked(def));
        }
        self.declared
            .iter()
            .find(|d| same_domain(d.domain(), domain) && d.op_type() == op_type)
            .map(|d| OpImpl::Declared(d.as_ref()))
    }
}

/// A graph being profiled, as its subgraphs see it: they read its values by name.
#[derive(Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) states: &'a [ValueState<'a>],
    pub(crate) parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    /// The state of a value visible from this graph: its own, or an enclosing graph's.
    fn lookup(&self, name: &str) -> Option<&'a ValueState<'a>> {
        match self.graph.find_value(name) {
            // Defined here (an outer reference of this graph itself continues upwards).
            Some(id) if !matches!(self.graph.value(id).def, ValueDef::Outer) => {
                Some(&self.states[id.index()])
            }
            _ => self.parent.and_then(|p| p.lookup(name)),
        }
    }
}

/// The states of a graph's values before any node runs: initializers typed and decodable.
fn initial_states(graph: &Graph) -> Vec<ValueState<'_>> {
    graph
        .values
        .iter()
        .map(|v| match &v.def {
            ValueDef::Initializer(t) => ValueState {
                ty: Some(ValueType::Tensor(t.tensor_type())),
                known: OnceCell::new(),
                init: Some(t),
                constant: true,
            },
            _ => ValueState::unknown(),
        })
        .collect()
}

/// The result of running the node loop over one graph.
pub(crate) struct GraphRun<'g, 'e> {
    pub(crate) order: Vec<NodeId>,
    pub(crate) states: Vec<ValueState<'g>>,
    pub(crate) defs: Vec<Option<OpImpl<'e>>>,
    pub(crate) nodes: Vec<NodeProfile>,
}

/// Infers and costs every node of `graph` in topological order, starting from `states` (inputs,
/// initializers and captured outer values already set).
pub(crate) fn run_graph<'g, 'e>(
    env: &Env<'e>,
    graph: &'g Graph,
    mut states: Vec<ValueState<'g>>,
    parent: Option<&Scope<'_>>,
) -> Result<GraphRun<'g, 'e>, ProfileError> {
    let order = topological_order(graph)?;
    let mut defs: Vec<Option<OpImpl<'e>>> = vec![None; graph.nodes.len()];
    let mut nodes = Vec::with_capacity(order.len());
    for &nid in &order {
        let node = graph.node(nid);
        let label = graph.node_name(nid);
        let node_err = |source: OpError| ProfileError::Node {
            node: label.to_owned(),
            op_type: node.op_type.clone(),
            domain: display_domain(&node.domain).to_owned(),
            source,
        };
        let overflow = |what| ProfileError::Overflow {
            node: label.to_owned(),
            op_type: node.op_type.clone(),
            domain: display_domain(&node.domain).to_owned(),
            what,
        };
        let opset =
            env.opsets
                .get(&node.domain)
                .copied()
                .ok_or_else(|| ProfileError::MissingOpset {
                    node: label.to_owned(),
                    op_type: node.op_type.clone(),
                    domain: display_domain(&node.domain).to_owned(),
                })?;
        let def = env.op(&node.domain, &node.op_type, opset);
        defs[nid.index()] = def;
        let class = def.map_or(OpClass::Other, |d| d.class());
        let inputs_typed = node
            .inputs
            .iter()
            .flatten()
            .all(|id| states[id.index()].ty.is_some());
        let constant = node
            .inputs
            .iter()
            .flatten()
            .all(|id| states[id.index()].constant)
            && !has_subgraph(node);

        // A node without a record may call a model-local function.
        let function = match def {
            None => env
                .functions
                .iter()
                .find(|f| f.domain == node.domain && f.name == node.op_type),
            Some(_) => None,
        };
        let uncounted = match (def, function) {
            (None, None) => Some(UncountedReason::NoCounter),
            _ if !inputs_typed => Some(UncountedReason::UnknownInputs),
            _ => None,
        };
        let mut cost = Cost::zero();
        let mut inner_uncounted = Vec::new();
        let mut fresh_symbols = Vec::new();
        let mut derived_dims = Vec::new();
        if let (Some(f), None) = (function, uncounted) {
            let call = call_function(env, f, node, label, &states).map_err(node_err)?;
            for (j, (ty, value)) in call.outputs.into_iter().zip(call.values).enumerate() {
                let Some(id) = node.outputs.get(j).copied().flatten() else {
                    continue;
                };
                let state = &mut states[id.index()];
                state.ty = ty;
                state.known = OnceCell::from(Ok(value));
                state.constant = false;
            }
            cost = call.cost;
            inner_uncounted = call.uncounted;
            if cost.is_overflow() {
                return Err(overflow("the cost"));
            }
        }
        match (def, uncounted) {
            (Some(def), None) => {
                let scope = Scope {
                    graph,
                    states: &states,
                    parent,
                };
                let mut cx = InferCtx::new(env, &scope, node, label, opset);
                if let Err(e) = def.infer(&mut cx) {
                    // A shape that needs a value known only at run time: the dims the model
                    // declares for the outputs, derived where they are not numbers.
                    let OpError::NeedsValue { input, name, what } = &e else {
                        return Err(node_err(e));
                    };
                    let reason =
                        format!("{what} (input {input}, `{name}`) is computed at run time");
                    cx = InferCtx::new(env, &scope, node, label, opset);
                    if !derive_declared_outputs(&mut cx, graph, &reason) {
                        return Err(node_err(e));
                    }
                }
                let InferCtx {
                    outputs,
                    values,
                    extra_cost,
                    inner_uncounted: inner,
                    fresh,
                    derived,
                    ..
                } = cx;
                fresh_symbols = fresh.into_inner();
                derived_dims = derived.into_inner();
                for (j, (ty, value)) in outputs.into_iter().zip(values).enumerate() {
                    let Some(id) = node.outputs[j] else { continue };
                    let ty = ty.ok_or_else(|| {
                        node_err(OpError::Invalid(format!(
                            "the counter inferred no type for output {j} (`{}`)",
                            graph.value(id).name
                        )))
                    })?;
                    if type_overflows(&ty) {
                        return Err(overflow("an output shape"));
                    }
                    let state = &mut states[id.index()];
                    state.ty = Some(ty);
                    state.known = OnceCell::from(Ok(value.map(Arc::new)));
                    state.constant = constant;
                }
                let cx = CostCtx::new(graph, node, &states, opset);
                cost = def.cost(&cx).map_err(node_err)?;
                cost += &extra_cost;
                inner_uncounted = inner;
                if cost.is_overflow() {
                    return Err(overflow("the cost"));
                }
            }
            (None, None) => {}
            _ => {
                // Without a counter the outputs keep the types the model declares, if any, so
                // that the rest of the graph can still be inferred.
                for id in node.outputs.iter().flatten() {
                    let declared = graph.value(*id).declared.as_ref();
                    let state = &mut states[id.index()];
                    state.ty = declared
                        .and_then(complete_tensor_type)
                        .map(|t| ValueType::Tensor(substitute_type(&t, env.bindings)));
                    state.constant = false;
                }
            }
        }
        let bytes: Dim = node
            .inputs
            .iter()
            .chain(node.outputs.iter())
            .flatten()
            .filter_map(|id| states[id.index()].tensor())
            .map(TensorType::bytes)
            .sum();
        if bytes.is_overflow() {
            return Err(overflow("the memory traffic"));
        }
        nodes.push(NodeProfile {
            id: nid,
            name: label.to_owned(),
            op_type: node.op_type.clone(),
            domain: node.domain.clone(),
            class,
            outputs: node
                .outputs
                .iter()
                .flatten()
                .map(|id| (graph.value(*id).name.clone(), states[id.index()].ty.clone()))
                .collect(),
            uncounted,
            inner_uncounted,
            fresh_symbols,
            derived_dims,
            macs_dtype: if cost.macs == Dim::zero() {
                None
            } else {
                Some(macs_dtype(graph, node, &states))
            },
            cost,
            bytes,
            params: Dim::zero(),
            buffers: Dim::zero(),
            constant,
        });
    }
    Ok(GraphRun {
        order,
        states,
        defs,
        nodes,
    })
}

/// Whether a node carries a subgraph (If, Loop, Scan, ...): its outputs then depend on more than
/// its inputs, so it is never folded as a constant.
pub(crate) fn has_subgraph(node: &flopscope_ir::Node) -> bool {
    node.attrs.iter().any(|(_, a)| {
        matches!(
            a,
            flopscope_ir::Attr::Graph(_) | flopscope_ir::Attr::Graphs(_)
        )
    })
}

/// The names a node's subgraphs read from enclosing scopes (recursively): implicit inputs that
/// order the node after their producers.
fn captured_names(node: &flopscope_ir::Node, out: &mut Vec<String>) {
    for (_, attr) in &node.attrs {
        let graphs: Vec<&Graph> = match attr {
            flopscope_ir::Attr::Graph(g) => vec![g.as_ref()],
            flopscope_ir::Attr::Graphs(gs) => gs.iter().map(|g| g.as_ref()).collect(),
            _ => continue,
        };
        for g in graphs {
            for v in &g.values {
                if matches!(v.def, ValueDef::Outer) {
                    out.push(v.name.clone());
                }
            }
            for inner in &g.nodes {
                captured_names(inner, out);
            }
        }
    }
}

/// Kahn's algorithm, taking ready nodes in file order, so a file that is already sorted keeps
/// its order and any order is deterministic. Iterative: deep graphs cannot overflow the stack.
pub fn topological_order(graph: &Graph) -> Result<Vec<NodeId>, ProfileError> {
    let n = graph.nodes.len();
    let mut pending = vec![0usize; n];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.nodes.iter().enumerate() {
        let mut captured = Vec::new();
        captured_names(node, &mut captured);
        let implicit = captured.iter().filter_map(|name| graph.find_value(name));
        let producers: BTreeSet<usize> = node
            .inputs
            .iter()
            .flatten()
            .copied()
            .chain(implicit)
            .filter_map(|id| match graph.value(id).def {
                ValueDef::Node { node, .. } => Some(node.index()),
                _ => None,
            })
            .filter(|&p| p != i)
            .collect();
        // A node that reads its own output is a cycle of one: it never becomes ready.
        let reads_itself = node.inputs.iter().flatten().any(
            |id| matches!(graph.value(*id).def, ValueDef::Node { node, .. } if node.index() == i),
        );
        pending[i] = producers.len() + usize::from(reads_itself);
        for p in producers {
            consumers[p].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| pending[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(NodeId(i as u32));
        for &c in &consumers[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    if order.len() < n {
        let mut nodes: Vec<String> = (0..n)
            .filter(|&i| pending[i] > 0)
            .map(|i| graph.node_names[i].clone())
            .collect();
        if nodes.len() > 6 {
            let more = nodes.len() - 5;
            nodes.truncate(5);
            nodes.push(format!("and {more} more"));
        }
        return Err(ProfileError::Cycle { nodes });
    }
    Ok(order)
}

/// An input's type, and its stored value when the caller gave one.
type BoundInput<'a> = (ValueId, ValueType, Option<&'a ConstTensor>);

/// Gives every graph input a type: from the value given for it (`--input-value`), else the
/// `--input` shape (binding the model's named dims to it), else the declared type with fresh
/// symbols for unnamed dims; then applies every binding.
fn bind_inputs<'a>(
    graph: &Graph,
    options: &'a ProfileOptions,
) -> Result<BoundInputs<'a>, ProfileError> {
    let negative = |d: &Dim| d.as_i64().filter(|v| *v < 0);
    for (name, shape) in &options.inputs {
        if let Some((axis, value)) = shape
            .iter()
            .enumerate()
            .find_map(|(a, d)| Some((a, negative(d)?)))
        {
            let what = format!("input `{name}` dim {axis}");
            return Err(ProfileError::NegativeSize { what, value });
        }
    }
    for (name, d) in &options.dims {
        if let Some(value) = negative(d) {
            let what = format!("dim `{name}`");
            return Err(ProfileError::NegativeSize { what, value });
        }
    }
    for name in options.inputs.keys().chain(options.input_values.keys()) {
        match graph.find_value(name).map(|id| &graph.value(id).def) {
            Some(ValueDef::Input) => {}
            Some(ValueDef::Initializer(_)) => {
                return Err(ProfileError::ConstantInput { name: name.clone() });
            }
            _ => {
                return Err(ProfileError::UnknownInput {
                    name: name.clone(),
                    known: graph
                        .inputs
                        .iter()
                        .map(|id| graph.value(*id).name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }

    let mut b = Binder::default();
    let mut inputs = Vec::new();
    for &id in &graph.inputs {
        let value = graph.value(id);
        let name = &value.name;
        let declared = value.declared.as_ref();
        let stored = options.input_values.get(name);
        let (ty, init) = match (stored, options.inputs.get(name)) {
            (Some(stored), given) => {
                let ty = b.type_of_value(name, stored, declared)?;
                if let (Some(given), ValueType::Tensor(t)) = (given, &ty)
                    && given != &t.shape
                {
                    return Err(ProfileError::DimMismatch {
                        name: name.clone(),
                        axis: 0,
                        model: Dim::from_i64(t.rank() as i64),
                        given: Dim::from_i64(given.len() as i64),
                    });
                }
                let init = match stored {
                    ConstValue::Tensor(t) => Some(t),
                    _ => None,
                };
                (ty, init)
            }
            (None, Some(given)) => {
                let dtype = match declared {
                    Some(DeclaredType::Tensor {
                        dtype: Some(dtype), ..
                    }) => *dtype,
                    _ => {
                        return Err(ProfileError::UndeclaredInput {
                            name: name.clone(),
                            what: "element type",
                        });
                    }
                };
                if let Some(DeclaredType::Tensor {
                    shape: Some(shape), ..
                }) = declared
                    && !options.replace_declared_shapes
                {
                    b.unify(name, shape, given)?;
                }
                (
                    ValueType::Tensor(TensorType::new(dtype, given.clone())),
                    None,
                )
            }
            (None, None) => {
                let declared = declared.ok_or_else(|| ProfileError::UndeclaredInput {
                    name: name.clone(),
                    what: "type",
                })?;
                (b.type_of_declared(name, declared)?, None)
            }
        };
        inputs.push((id, ty, init));
    }

    // A dim no input names may name a size the profile derives or finds data-dependent
    // (`--dim resize_0_d2=800`): bound now, checked once the graph has run.
    let mut late = Vec::new();
    for (symbol, value) in &options.dims {
        if !b.symbols_seen.contains(symbol) {
            late.push(symbol.clone());
        }
        b.bind(symbol, value)?;
    }
    for (name, axis, declared, given) in std::mem::take(&mut b.deferred) {
        let model = substitute(&declared, &b.bindings);
        if model.is_const() && model != given {
            return Err(ProfileError::DimMismatch {
                name,
                axis,
                model,
                given,
            });
        }
    }
    let inputs = inputs
        .into_iter()
        .map(|(id, ty, init)| (id, substitute_value_type(&ty, &b.bindings), init))
        .collect();
    Ok(BoundInputs {
        inputs,
        bindings: b.bindings,
        input_symbols: b.symbols_seen,
        late,
    })
}

/// The model's inputs as bound, and the bindings of its named dims.
struct BoundInputs<'a> {
    inputs: Vec<BoundInput<'a>>,
    bindings: BTreeMap<String, Dim>,
    /// The named dims of the inputs.
    input_symbols: BTreeSet<String>,
    /// `--dim` names that no input has: they must name a derived or data-dependent dim.
    late: Vec<String>,
}

/// An error for the first `--dim` in `late` that names no input dim and no symbol the profile
/// introduced.
fn check_late_bindings(
    late: &[String],
    input_symbols: &BTreeSet<String>,
    nodes: &[NodeProfile],
) -> Result<(), ProfileError> {
    let introduced: BTreeSet<&str> = nodes.iter().flat_map(NodeProfile::symbols).collect();
    match late.iter().find(|s| !introduced.contains(s.as_str())) {
        None => Ok(()),
        Some(symbol) => {
            let known: Vec<&str> = input_symbols
                .iter()
                .map(String::as_str)
                .chain(introduced.iter().copied())
                .collect();
            Err(ProfileError::UnknownSymbol {
                symbol: symbol.clone(),
                known: if known.is_empty() {
                    "none: every input dim is fixed".into()
                } else {
                    known.join(", ")
                },
            })
        }
    }
}

/// Collects the values given to the model's named dims while inputs are bound.
#[derive(Default)]
struct Binder {
    bindings: BTreeMap<String, Dim>,
    symbols_seen: BTreeSet<String>,
    /// Declared dims that are expressions, checked once every symbol is bound:
    /// (input, axis, declared, given).
    deferred: Vec<(String, usize, Dim, Dim)>,
}

impl Binder {
    fn bind(&mut self, symbol: &str, value: &Dim) -> Result<(), ProfileError> {
        match self.bindings.get(symbol) {
            Some(prev) if prev != value => Err(ProfileError::ConflictingBinding {
                symbol: symbol.to_owned(),
                first: prev.clone(),
                second: value.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                self.bindings.insert(symbol.to_owned(), value.clone());
                Ok(())
            }
        }
    }

    /// Matches a given shape against the declared one, binding the declared named dims.
    fn unify(
        &mut self,
        name: &str,
        declared: &[Option<Dim>],
        given: &[Dim],
    ) -> Result<(), ProfileError> {
        if given.len() != declared.len() {
            return Err(ProfileError::RankMismatch {
                name: name.to_owned(),
                model: declared.len(),
                given: given.len(),
            });
        }
        for (axis, (g, d)) in given.iter().zip(declared).enumerate() {
            let Some(d) = d else { continue };
            if let Some(symbol) = plain_symbol(d) {
                self.bind(&symbol, g)?;
                self.symbols_seen.insert(symbol);
            } else if d.is_const() {
                if d != g {
                    return Err(ProfileError::DimMismatch {
                        name: name.to_owned(),
                        axis,
                        model: d.clone(),
                        given: g.clone(),
                    });
                }
            } else {
                self.symbols_seen
                    .extend(d.symbols().iter().map(|s| s.to_string()));
                self.deferred
                    .push((name.to_owned(), axis, d.clone(), g.clone()));
            }
        }
        Ok(())
    }

    /// The type a declaration gives, with a fresh symbol for every unnamed dim.
    fn type_of_declared(
        &mut self,
        name: &str,
        declared: &DeclaredType,
    ) -> Result<ValueType, ProfileError> {
        match declared {
            DeclaredType::Tensor {
                dtype: Some(dtype),
                shape: Some(shape),
            } => {
                let shape = shape
                    .iter()
                    .enumerate()
                    .map(|(axis, d)| {
                        let d = d
                            .clone()
                            .unwrap_or_else(|| Dim::sym(&fresh_input_dim(name, axis)));
                        self.symbols_seen
                            .extend(d.symbols().iter().map(|s| s.to_string()));
                        d
                    })
                    .collect();
                Ok(ValueType::Tensor(TensorType::new(*dtype, shape)))
            }
            DeclaredType::Tensor { dtype: None, .. } => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: "element type",
            }),
            DeclaredType::Tensor { shape: None, .. } => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: "shape",
            }),
            DeclaredType::Sequence(elem) => Ok(ValueType::Sequence(SequenceType::of(
                self.type_of_declared(name, elem)?,
            ))),
            DeclaredType::Optional(elem) => Ok(ValueType::Optional(Box::new(
                self.type_of_declared(name, elem)?,
            ))),
            DeclaredType::Other(kind) => Err(ProfileError::UndeclaredInput {
                name: name.to_owned(),
                what: if kind == "map" {
                    "supported type (maps are not)"
                } else {
                    "supported type"
                },
            }),
        }
    }

    /// The type of a stored value; a tensor binds the declared named dims to its dims. A
    /// sequence's element type is what its elements agree on (fresh symbols where they
    /// differ); an empty sequence or optional takes the declared element type.
    fn type_of_value(
        &mut self,
        name: &str,
        value: &ConstValue,
        declared: Option<&DeclaredType>,
    ) -> Result<ValueType, ProfileError> {
        match value {
            ConstValue::Tensor(t) => {
                let ty = t.tensor_type();
                if let Some(DeclaredType::Tensor {
                    shape: Some(shape), ..
                }) = declared
                {
                    self.unify(name, shape, &ty.shape)?;
                }
                Ok(ValueType::Tensor(ty))
            }
            ConstValue::Sequence(items) => {
                // A stored sequence has a known length and known element types.
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.type_of_value(&format!("{name}_{i}"), item, None))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ValueType::Sequence(SequenceType::Items(items)))
            }
            ConstValue::Optional(inner) => {
                let elem_declared = match declared {
                    Some(DeclaredType::Optional(e)) => Some(e.as_ref()),
                    _ => None,
                };
                let elem = match (inner, elem_declared) {
                    (Some(v), d) => self.type_of_value(name, v, d)?,
                    (None, Some(d)) => self.type_of_declared(name, d)?,
                    (None, None) => {
                        return Err(ProfileError::UndeclaredInput {
                            name: name.to_owned(),
                            what: "optional element type",
                        });
                    }
                };
                Ok(ValueType::Optional(Box::new(elem)))
            }
        }
    }
}

/// The symbol's name if `d` is exactly one symbol.
fn plain_symbol(d: &Dim) -> Option<String> {
    match d.symbols().as_slice() {
        [s] if *d == Dim::sym(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The name of an input dim the model leaves unnamed: `<input>_d<axis>`, made a valid symbol.
fn fresh_input_dim(input: &str, axis: usize) -> String {
    Dim::symbol_name(&format!("{input}_d{axis}"))
}

fn substitute(d: &Dim, bindings: &BTreeMap<String, Dim>) -> Dim {
    if bindings.is_empty() || d.is_const() {
        return d.clone();
    }
    d.substitute(&|s: &str| bindings.get(s).cloned())
}

fn substitute_type(t: &TensorType, bindings: &BTreeMap<String, Dim>) -> TensorType {
    TensorType::new(
        t.dtype,
        t.shape.iter().map(|d| substitute(d, bindings)).collect(),
    )
}

fn substitute_value_type(t: &ValueType, bindings: &BTreeMap<String, Dim>) -> ValueType {
    match t {
        ValueType::Tensor(t) => ValueType::Tensor(substitute_type(t, bindings)),
        ValueType::Sequence(SequenceType::Elements(e)) => {
            ValueType::Sequence(SequenceType::Elements(
                e.as_ref()
                    .map(|e| Box::new(substitute_value_type(e, bindings))),
            ))
        }
        ValueType::Sequence(SequenceType::Items(items)) => {
            ValueType::Sequence(SequenceType::Items(
                items
                    .iter()
                    .map(|t| substitute_value_type(t, bindings))
                    .collect(),
            ))
        }
        ValueType::Optional(e) => ValueType::Optional(Box::new(substitute_value_type(e, bindings))),
    }
}

/// A declared tensor type with dtype and every dim known.
fn complete_tensor_type(declared: &DeclaredType) -> Option<TensorType> {
    match declared {
        DeclaredType::Tensor {
            dtype: Some(dtype),
            shape: Some(shape),
        } => Some(TensorType::new(
            *dtype,
            shape.iter().cloned().collect::<Option<Vec<_>>>()?,
        )),
        _ => None,
    }
}

/// Sets every output of the node in `cx` to the tensor type the model declares for it, each
/// dim that is not a number derived (named after the node, listed with `reason`). `false`
/// when some output the node produces has no declared element type and rank.
fn derive_declared_outputs(cx: &mut InferCtx<'_>, graph: &Graph, reason: &str) -> bool {
    let node = cx.node();
    for (j, id) in node.outputs.iter().enumerate() {
        let Some(id) = id else { continue };
        let Some(DeclaredType::Tensor {
            dtype: Some(dtype),
            shape: Some(shape),
        }) = graph.value(*id).declared.as_ref()
        else {
            return false;
        };
        let shape = shape
            .iter()
            .enumerate()
            .map(|(a, d)| match d.as_ref().filter(|d| d.is_const()) {
                Some(d) => d.clone(),
                None => cx.derived_dim(&crate::ctx::derived_axis_name(j, a), reason),
            })
            .collect();
        cx.set(j, TensorType::new(*dtype, shape));
    }
    true
}

fn type_overflows(ty: &ValueType) -> bool {
    match ty {
        ValueType::Tensor(t) => t.shape.iter().any(Dim::is_overflow) || t.bytes().is_overflow(),
        ValueType::Sequence(SequenceType::Elements(Some(t))) | ValueType::Optional(t) => {
            type_overflows(t)
        }
        ValueType::Sequence(SequenceType::Elements(None)) => false,
        ValueType::Sequence(SequenceType::Items(items)) => items.iter().any(type_overflows),
    }
}

fn totals(
    graph: &Graph,
    nodes: &[NodeProfile],
    states: &[ValueState<'_>],
    classes: &params::Classes,
) -> Totals {
    let mut t = Totals::default();
    for np in nodes {
        t.macs += &np.cost.macs;
        if let Some(dtype) = &np.macs_dtype {
            *t.macs_by_dtype.entry(dtype.clone()).or_default() += &np.cost.macs;
        }
        t.flops += &np.cost.flops;
        t.bytes += &np.bytes;
        t.lower_bound |= np.uncounted.is_some() || !np.inner_uncounted.is_empty();
    }
    for (id, class) in classes.roots() {
        let Some(ty) = states[id.index()].tensor() else {
            continue;
        };
        let numel = classes.elements(id, ty);
        match class {
            WeightClass::Param => t.params += &numel,
            WeightClass::Buffer => t.buffers += &numel,
            WeightClass::Quant => t.quant_params += &numel,
            WeightClass::Constant => t.constants += &numel,
        }
        if matches!(class, WeightClass::Param | WeightClass::Buffer) {
            let bytes = ty.bytes();
            t.weight_bytes += &bytes;
            *t.weight_bytes_by_dtype
                .entry(ty.dtype.name().to_owned())
                .or_default() += &bytes;
        }
    }
    let activations = graph.inputs.iter().copied().chain(
        nodes
            .iter()
            .flat_map(|np| graph.node(np.id).outputs.iter().flatten().copied()),
    );
    for id in activations {
        let state = &states[id.index()];
        if let (false, Some(ty)) = (state.constant, state.tensor()) {
            t.activation_bytes += ty.bytes();
        }
    }
    t
}

/// Live activation memory while each node runs, in execution order: a value is live from the
/// node that makes it (graph inputs from the start) to the last node that reads it (graph
/// outputs to the end); while a node runs, its inputs and outputs are all live. Constants and
/// weights are not activations.
fn live_steps(graph: &Graph, nodes: &[NodeProfile], states: &[ValueState<'_>]) -> Vec<Dim> {
    let bytes = |id: ValueId| -> Dim {
        let state = &states[id.index()];
        match (state.constant, state.tensor()) {
            (false, Some(ty)) => ty.bytes(),
            _ => Dim::zero(),
        }
    };
    // Step at which each value is last read; graph outputs are read after the last step.
    let mut last_use: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (step, np) in nodes.iter().enumerate() {
        for id in graph.node(np.id).inputs.iter().flatten() {
            last_use.insert(*id, step);
        }
    }
    for id in &graph.outputs {
        last_use.insert(*id, usize::MAX);
    }
    let mut live: Dim = graph.inputs.iter().map(|&id| bytes(id)).sum();
    let mut steps: Vec<Dim> = Vec::with_capacity(nodes.len());
    for (step, np) in nodes.iter().enumerate() {
        let node = graph.node(np.id);
        for id in node.outputs.iter().flatten() {
            live += bytes(*id);
        }
        steps.push(live.clone());
        // Values this node was the last to read are freed (and outputs nobody reads).
        for id in node
            .inputs
            .iter()
            .flatten()
            .chain(node.outputs.iter().flatten())
        {
            let freed = match last_use.get(id) {
                Some(&l) => l == step,
                None => node.outputs.iter().flatten().any(|o| o == id),
            };
            if freed && !matches!(graph.value(*id).def, ValueDef::Initializer(_)) {
                live -= bytes(*id);
                last_use.remove(id);
            }
        }
    }
    steps
}

/// The peak of the live steps and the node where it is first reached. Exact when every dim is
/// bound. With symbols, which step peaks can depend on the sizes, and the `max` of every step
/// would be exact but unreadable and slow to normalise: the peak is the `max` of the steps that
/// peak at sample sizes (every symbol 16, 256 and 4096), and the node the one peaking at the
/// largest. [`Profile::peak_at`] is exact at any binding.
fn peak_of(steps: &[Dim], nodes: &[NodeProfile]) -> (Dim, Option<String>) {
    if steps.is_empty() {
        return (Dim::zero(), None);
    }
    if let Some(values) = steps.iter().map(Dim::as_i64).collect::<Option<Vec<i64>>>() {
        let (at, peak) =
            values.iter().enumerate().fold(
                (0, i64::MIN),
                |best, (i, &v)| if v > best.1 { (i, v) } else { best },
            );
        return (Dim::from_i64(peak), Some(nodes[at].name.clone()));
    }
    let mut candidates: Vec<usize> = Vec::new();
    for sample in [16, 256, 4096] {
        if let Some((i, _)) = argmax_at(steps, &|_: &str| Some(sample)) {
            candidates.retain(|&c| c != i);
            candidates.push(i);
        }
    }
    let Some(&largest) = candidates.last() else {
        return (Dim::overflow(), None);
    };
    let peak = candidates
        .iter()
        .map(|&i| steps[i].clone())
        .reduce(|a, b| a.max(&b))
        .unwrap_or_else(Dim::zero);
    (peak, Some(nodes[largest].name.clone()))
}

/// The first step with the largest value at a binding.
fn argmax_at(steps: &[Dim], lookup: &dyn Fn(&str) -> Option<i64>) -> Option<(usize, i64)> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.eval(lookup).ok()?)))
        .fold(None, |best: Option<(usize, i64)>, (i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
}

impl Profile {
    /// The peak live activation memory at a binding of the named dims, exactly, and the node
    /// where it is first reached. `None` when a dim the steps need is not bound.
    pub fn peak_at(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Option<(i64, String)> {
        if self
            .live_activation_steps
            .iter()
            .any(|d| d.eval(lookup).is_err())
        {
            return None;
        }
        let (i, v) = argmax_at(&self.live_activation_steps, lookup)?;
        Some((v, self.nodes.get(i)?.name.clone()))
    }
}

fn totals_overflow(t: &Totals) -> bool {
    [
        &t.macs,
        &t.bytes,
        &t.params,
        &t.buffers,
        &t.quant_params,
        &t.constants,
        &t.weight_bytes,
        &t.activation_bytes,
        &t.peak_activation_bytes,
    ]
    .iter()
    .any(|d| d.is_overflow())
        || t.flops.named().iter().any(|(_, d)| d.is_overflow())
        || t.total_flops().is_overflow()
}

fn group_uncounted(nodes: &[NodeProfile]) -> Vec<Uncounted> {
    let mut groups: BTreeMap<(String, String, UncountedReason), Vec<String>> = BTreeMap::new();
    for np in nodes {
        if let Some(reason) = np.uncounted {
            groups
                .entry((np.domain.clone(), np.op_type.clone(), reason))
                .or_default()
                .push(np.name.clone());
        }
        for (domain, op_type, reason, path) in &np.inner_uncounted {
            groups
                .entry((domain.clone(), op_type.clone(), *reason))
                .or_default()
                .push(path.clone());
        }
    }
    groups
        .into_iter()
        .map(|((domain, op_type, reason), nodes)| Uncounted {
            domain,
            op_type,
            reason,
            nodes,
        })
        .collect()
}

/// Formats a shape for messages.
pub fn shape_string(shape: &[Dim]) -> String {
    ShapeDisplay(shape).to_string()
}

/// How deep subgraphs may nest while profiling (the frontend refuses deeper files already).
const MAX_SUBGRAPH_DEPTH: usize = 64;

/// How many times, in all, subgraphs (If branches, loop bodies, ...) and function bodies may be
/// inferred for one profile. Real models need a few hundred at most; without a bound, a loop
/// whose carried shape changes runs its body twice, so nesting such loops doubles the work
/// with every level.
const MAX_SUBGRAPH_RUNS: usize = 100_000;

/// How many levels of a nested error's chain are kept at each end when it is shortened.
const CHAIN_ENDS: usize = 2;

/// An error from inside a subgraph or a function body, `text` being `in ...: ...`. Seen from
/// the main graph (`depth` 0), a chain of more nested levels than a few keeps its outer and
/// inner ends only: a model nested 64 deep still gives a short line, not 64 repetitions.
fn nested_error(depth: usize, text: String) -> OpError {
    OpError::Invalid(if depth == 0 { elide_chain(&text) } else { text })
}

/// `in A: node x: in B: node y: ... : why` with its middle levels replaced by a count.
fn elide_chain(text: &str) -> String {
    let starts: Vec<usize> = text
        .match_indices(": in ")
        .map(|(i, _)| i + 2)
        .filter(|&i| {
            let rest = &text[i..];
            rest.starts_with("in subgraph `") || rest.starts_with("in function `")
        })
        .collect();
    if starts.len() <= 2 * CHAIN_ENDS {
        return text.to_owned();
    }
    let skipped = starts.len() + 1 - 2 * CHAIN_ENDS;
    format!(
        "{}... ({skipped} more levels) ... {}",
        &text[..starts[CHAIN_ENDS - 1]],
        &text[starts[starts.len() - CHAIN_ENDS]..]
    )
}

/// What inferring a subgraph (an If branch, a Loop or Scan body) gave.
#[derive(Debug, Clone)]
pub struct SubgraphRun {
    /// The subgraph's output types, in order (`None` where unknown).
    pub outputs: Vec<Option<ValueType>>,
    /// Output elements known before run time.
    pub values: Vec<Option<Arc<TensorValue>>>,
    /// The cost of one run of the subgraph.
    pub cost: Cost,
    /// Uncounted nodes inside it: (domain, op type, reason, path).
    pub uncounted: Vec<(String, String, UncountedReason, String)>,
}

impl<'a> InferCtx<'a> {
    /// Infers the subgraph held in attribute `attr` with its inputs of the given types (and
    /// optionally known elements). Values it reads from enclosing graphs are taken from the
    /// graphs being profiled.
    pub fn run_subgraph(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
    ) -> Result<SubgraphRun, OpError> {
        self.run_subgraph_in(attr, graph, inputs, self.env.unrolling)
    }

    /// [`Self::run_subgraph`] for one iteration of a loop being unrolled: loops inside it are
    /// not unrolled as well.
    pub fn run_unrolled_body(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
    ) -> Result<SubgraphRun, OpError> {
        self.run_subgraph_in(attr, graph, inputs, true)
    }

    /// Whether a loop here may be unrolled (it is not inside an unrolled loop's body).
    pub fn may_unroll(&self) -> bool {
        !self.env.unrolling
    }

    fn run_subgraph_in(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
        unrolling: bool,
    ) -> Result<SubgraphRun, OpError> {
        self.env.count_run()?;
        if self.env.depth >= MAX_SUBGRAPH_DEPTH {
            return Err(OpError::Unsupported(format!(
                "subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep"
            )));
        }
        if inputs.len() != graph.inputs.len() {
            return Err(OpError::Invalid(format!(
                "subgraph `{attr}` has {} inputs, the op gives it {}",
                graph.inputs.len(),
                inputs.len()
            )));
        }
        let mut states = initial_states(graph);
        for (&id, (ty, value)) in graph.inputs.iter().zip(inputs) {
            let state = &mut states[id.index()];
            state.ty = Some(ty.clone());
            state.known = OnceCell::from(Ok(value.clone().map(Arc::new)));
        }
        for (i, v) in graph.values.iter().enumerate() {
            if !matches!(v.def, ValueDef::Outer) {
                continue;
            }
            let outer = self.scope.lookup(&v.name).ok_or_else(|| {
                OpError::Invalid(format!(
                    "subgraph `{attr}` reads `{}`, which no enclosing graph defines",
                    v.name
                ))
            })?;
            let known = match outer.known() {
                Ok(Some(value)) => Some(Arc::new(value.clone())),
                _ => None,
            };
            states[i] = ValueState {
                ty: outer.ty.clone(),
                known: OnceCell::from(Ok(known)),
                init: None,
                constant: outer.constant,
            };
        }
        let env = Env {
            opsets: self.env.opsets,
            bindings: self.env.bindings,
            functions: self.env.functions,
            depth: self.env.depth + 1,
            declared: self.env.declared,
            runs: self.env.runs,
            unrolling,
        };
        let run = run_graph(&env, graph, states, Some(self.scope))
            .map_err(|e| nested_error(self.env.depth, format!("in subgraph `{attr}`: {e}")))?;
        let mut cost = Cost::zero();
        let mut uncounted = Vec::new();
        for np in &run.nodes {
            cost += &np.cost;
            let path = format!("{}/{attr}/{}", self.node_label, np.name);
            if let Some(reason) = np.uncounted {
                uncounted.push((np.domain.clone(), np.op_type.clone(), reason, path.clone()));
            }
            for (d, o, r, p) in &np.inner_uncounted {
                uncounted.push((
                    d.clone(),
                    o.clone(),
                    *r,
                    format!("{}/{attr}/{p}", self.node_label),
                ));
            }
        }
        let outputs = graph
            .outputs
            .iter()
            .map(|id| run.states[id.index()].ty.clone())
            .collect();
        let values = graph
            .outputs
            .iter()
            .map(|id| match run.states[id.index()].known.get() {
                Some(Ok(Some(v))) => Some(v.clone()),
                _ => None,
            })
            .collect();
        Ok(SubgraphRun {
            outputs,
            values,
            cost,
            uncounted,
        })
    }

    /// Adds `times` runs of a subgraph to this node's cost, and its uncounted nodes to the
    /// node's.
    pub fn add_subgraph(&mut self, run: &SubgraphRun, times: &Dim) {
        self.extra_cost += &run.cost.scaled(times);
        self.inner_uncounted.extend(run.uncounted.iter().cloned());
    }
}

/// Runs a model-local function's body for one calling node: its formal inputs take the node's
/// input types, attribute references take the node's attributes (or their defaults).
fn call_function(
    env: &Env<'_>,
    f: &Function,
    node: &flopscope_ir::Node,
    label: &str,
    states: &[ValueState<'_>],
) -> Result<SubgraphRun, OpError> {
    env.count_run()?;
    if env.depth >= MAX_SUBGRAPH_DEPTH {
        return Err(OpError::Unsupported(format!(
            "functions and subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep"
        )));
    }
    let mut body = f.body.clone();
    bind_attribute_refs(&mut body, node, f);
    let mut body_states = initial_states(&body);
    for (k, &id) in body.inputs.iter().enumerate() {
        if let Some(Some(caller)) = node.inputs.get(k) {
            let from = &states[caller.index()];
            let known = match from.known() {
                Ok(Some(v)) => Some(Arc::new(v.clone())),
                _ => None,
            };
            body_states[id.index()] = ValueState {
                ty: from.ty.clone(),
                known: OnceCell::from(Ok(known)),
                init: None,
                constant: from.constant,
            };
        }
    }
    let mut opsets = env.opsets.clone();
    opsets.extend(f.opsets.iter().map(|(d, v)| (d.clone(), *v)));
    let inner = Env {
        opsets: &opsets,
        bindings: env.bindings,
        functions: env.functions,
        depth: env.depth + 1,
        declared: env.declared,
        runs: env.runs,
        unrolling: env.unrolling,
    };
    let run = run_graph(&inner, &body, body_states, None)
        .map_err(|e| nested_error(env.depth, format!("in function `{}`: {e}", f.name)))?;
    let mut cost = Cost::zero();
    let mut uncounted = Vec::new();
    for np in &run.nodes {
        cost += &np.cost;
        if let Some(reason) = np.uncounted {
            uncounted.push((
                np.domain.clone(),
                np.op_type.clone(),
                reason,
                format!("{label}/{}", np.name),
            ));
        }
        for (d, o, r, p) in &np.inner_uncounted {
            uncounted.push((d.clone(), o.clone(), *r, format!("{label}/{p}")));
        }
    }
    Ok(SubgraphRun {
        outputs: body
            .outputs
            .iter()
            .map(|id| run.states[id.index()].ty.clone())
            .collect(),
        values: body
            .outputs
            .iter()
            .map(|id| match run.states[id.index()].known.get() {
                Some(Ok(Some(v))) => Some(v.clone()),
                _ => None,
            })
            .collect(),
        cost,
        uncounted,
    })
}

/// Replaces every `Attr::Ref` in a function body (and its subgraphs) by the calling node's
/// attribute of that name, or the function's default; a reference to neither is dropped (the
/// attribute is then absent, as ONNX specifies).
fn bind_attribute_refs(graph: &mut Graph, caller: &flopscope_ir::Node, f: &Function) {
    for node in &mut graph.nodes {
        let mut attrs = Vec::with_capacity(node.attrs.len());
        for (name, attr) in node.attrs.drain(..) {
            match attr {
                flopscope_ir::Attr::Ref(reference) => {
                    let value = caller.raw_attr(&reference).cloned().or_else(|| {
                        f.attributes
                            .iter()
                            .find(|(n, _)| *n == reference)
                            .and_then(|(_, d)| d.clone())
                    });
                    if let Some(value) = value {
                        attrs.push((name, value));
                    }
                }
                flopscope_ir::Attr::Graph(g) => {
                    let mut g = (*g).clone();
                    bind_attribute_refs(&mut g, caller, f);
                    attrs.push((name, flopscope_ir::Attr::Graph(Arc::new(g))));
                }
                other => attrs.push((name, other)),
            }
        }
        node.attrs = attrs;
    }
}

/// The element type a contraction's MACs run in. Integer operands (MatMulInteger, ConvInteger,
/// QLinear*, packed n-bit weights with a `bits` attribute) make it integer; so do float operands
/// that a DequantizeLinear made from integers (the QDQ form, which runtimes execute in integer
/// arithmetic). Otherwise the first operand's type.
fn macs_dtype(graph: &Graph, node: &flopscope_ir::Node, states: &[ValueState<'_>]) -> String {
    if let Ok(Some(bits)) = node.attr::<i64>("bits") {
        return format!("int{bits}");
    }
    let operand_dtype = |id: ValueId| -> Option<flopscope_ir::DType> {
        if let ValueDef::Node { node: producer, .. } = graph.value(id).def {
            let p = graph.node(producer);
            if p.op_type == "DequantizeLinear" {
                let source = p.inputs.first().copied().flatten()?;
                return states[source.index()].tensor().map(|t| t.dtype);
            }
        }
        states[id.index()].tensor().map(|t| t.dtype)
    };
    let dtypes: Vec<flopscope_ir::DType> = node
        .inputs
        .iter()
        .take(2)
        .flatten()
        .filter_map(|id| operand_dtype(*id))
        .collect();
    dtypes
        .iter()
        .find(|d| d.is_integer())
        .or(dtypes.first())
        .map_or_else(|| "unknown".to_owned(), |d| d.name().to_owned())
}

#[cfg(test)]
mod tests {
    use flopscope_ir::Dim;

    use crate::ops::testing::{Case, t};

    #[test]
    fn long_chains_of_nested_errors_keep_their_ends() {
        let chain = |levels: usize| {
            let mut text = "too deep".to_owned();
            for i in (0..levels).rev() {
                text = format!("in subgraph `body`: node `l{i}` (ai.onnx::Loop): {text}");
            }
            text
        };
        // Five levels are kept whole.
        assert_eq!(super::elide_chain(&chain(5)), chain(5));
        assert_eq!(
            super::elide_chain(&chain(9)),
            "in subgraph `body`: node `l0` (ai.onnx::Loop): in subgraph `body`: node `l1` \
             (ai.onnx::Loop): ... (5 more levels) ... in subgraph `body`: node `l7` \
             (ai.onnx::Loop): in subgraph `body`: node `l8` (ai.onnx::Loop): too deep"
        );
    }

    #[test]
    fn peak_activation_memory_along_a_chain() {
        // x (40 B) → Relu → y0 (40 B) → Relu → y1 (40 B): while each Relu runs its input and
        // output are live (80 B); x is freed after the first, y0 after the second.
        let r = Case::new("Relu")
            .input(t("float32", &[10]))
            .then("Relu")
            .run();
        let totals = r.totals();
        assert_eq!(totals.peak_activation_bytes, Dim::from_i64(80));
        assert_eq!(totals.peak_at.as_deref(), Some("node0"));
        assert_eq!(totals.activation_bytes, Dim::from_i64(120));
    }
}
