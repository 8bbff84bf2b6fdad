//! The graph walk: orders a graph's nodes topologically, then infers and costs each node in
//! turn through its op's record or declaration, or the body of the model-local function it
//! calls; a node none of these covers is uncounted and keeps the types the model declares.

use std::cell::OnceCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;

use flopscope_ir::{
    DeclaredType, Dim, Function, Graph, NodeId, SequenceType, TensorType, ValueDef, ValueId,
    ValueType, display_domain, same_domain,
};

use super::binding::substitute_type;
use super::subgraph::{Scope, call_function};
use super::{Env, NodeProfile, ProfileError, UncountedReason};
use crate::ctx::ValueState;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpError, OpImpl, Role, registry};

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

/// The states of a graph's values before any node runs: initializers typed and decodable.
pub(super) fn initial_states(graph: &Graph) -> Vec<ValueState<'_>> {
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

/// How a node is inferred and costed, decided once per node.
#[derive(Clone, Copy)]
enum NodeImpl<'e> {
    /// A linked record, else a declared op.
    Op(OpImpl<'e>),
    /// No op covers the node, but it calls a model-local function: the function's body runs.
    Function(&'e Function),
    /// Neither can run: the outputs keep the types the model declares.
    Uncounted(UncountedReason),
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
        let how = match (def, function) {
            (None, None) => NodeImpl::Uncounted(UncountedReason::NoCounter),
            _ if !inputs_typed => NodeImpl::Uncounted(UncountedReason::UnknownInputs),
            (Some(def), _) => NodeImpl::Op(def),
            (None, Some(f)) => NodeImpl::Function(f),
        };
        let uncounted = match how {
            NodeImpl::Uncounted(reason) => Some(reason),
            NodeImpl::Op(_) | NodeImpl::Function(_) => None,
        };
        // Inputs whose elements the node reads: not those of which only the shape or the
        // element type is read (Shape, Size, the `*Like` ops).
        let reads_data: Vec<bool> = (0..node.inputs.len())
            .map(|i| !matches!(how, NodeImpl::Op(def) if def.role(i) == Role::ShapeOf))
            .collect();
        let mut cost = Cost::zero();
        let mut inner_uncounted = Vec::new();
        let mut fresh_symbols = Vec::new();
        let mut derived_dims = Vec::new();
        match how {
            NodeImpl::Op(def) => {
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
            NodeImpl::Function(f) => {
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
            NodeImpl::Uncounted(_) => {
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
            .zip(&reads_data)
            .filter_map(|(id, read)| id.filter(|_| *read))
            .chain(node.outputs.iter().flatten().copied())
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
