//! Sorting constants into params, buffers and constants, as PyTorch's `parameters()` and
//! `buffers()` would.
//!
//! A weight can reach the op that uses it through a chain of nodes that only move it (a
//! `ConstantOfShape` that makes it, a `Transpose` or `Cast` of it, an `Expand` or a `Gather`
//! by position ids). Each constant value is traced back to its *origins*: the stored tensors
//! or generating nodes it was computed from, following only inputs in the operand roles (an
//! int64 shape that sizes a `ConstantOfShape` is not where its weight came from). An origin is
//! classed where it *meets* something else: by the role of the input it arrives at, the
//! strongest winning (param over buffer over constant), and counted once however many nodes
//! read it (tied weights).
//!
//! Which values derive from the values of the model's inputs is tracked too (`Shape` and the
//! other [`Role::ShapeOf`] reads do not pass it on): a float constant that meets, as an
//! operand, only values that do not (position ids made by `Range` from a shape, other
//! constants) is a table computed from positions, not a learned weight: RoPE's `inv_freq`,
//! ALiBi slopes, the divisors of a sinusoidal encoding. A table *selected* by positions and
//! then added to activations (GPT-2's position embeddings) is moved, not combined, so it
//! stays a param. The all-ones scale and all-zeros bias that an exporter gives the
//! `InstanceNormalization` of a lowered GroupNorm (Reshape → InstanceNormalization → Reshape,
//! the learned affine applied after) are constants too.

use flopscope_ir::{Dim, Graph, NodeId, ValueDef, ValueId};

use crate::ctx::ValueState;
use crate::{OpImpl, Role};

/// How many stored constants a computation over constants and positions is followed through.
const MAX_TOUCHED: usize = 256;

/// The class of a constant origin, weakest first: what PyTorch would call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WeightClass {
    /// Computed from positions or shapes, or made by the exporter (not learned).
    Constant,
    /// A quantization scale or zero point.
    Quant,
    /// A running statistic (`buffers()`).
    Buffer,
    /// A learned weight (`parameters()`).
    Param,
}

/// Indexed by value or node (the graph's dense ids), so that classing is linear in the graph.
#[derive(Debug)]
pub(crate) struct Classes {
    /// Every origin (and every stored constant), with its class; `None` for other values.
    class: Vec<Option<WeightClass>>,
    /// Origins that are packed weights: the width in bits of one logical element.
    packed_bits: Vec<Option<u32>>,
    /// The origins each node owns (it is the first, in execution order, to read them), in
    /// value order.
    owned: Vec<Vec<ValueId>>,
}

impl Classes {
    /// Every constant origin with its class, in value order.
    pub(crate) fn roots(&self) -> impl Iterator<Item = (ValueId, WeightClass)> + '_ {
        self.class
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((value_id(i), (*c)?)))
    }

    /// Logical elements of an origin: its elements, or for a packed weight its stored bits
    /// over the width of one packed element.
    pub(crate) fn elements(&self, id: ValueId, ty: &flopscope_ir::TensorType) -> Dim {
        match (self.packed_bits[id.index()], ty.dtype.bits()) {
            (Some(bits), Some(stored)) if bits > 0 => (ty.numel() * i64::from(stored))
                .floor_div(i64::from(bits))
                .unwrap_or_else(|_| ty.numel()),
            _ => ty.numel(),
        }
    }

    /// Elements of the params a node owns: every param belongs to the first node (in execution
    /// order) that reads it, so that node params add up to the model's (a tied weight belongs
    /// to its first user; a weight reached through a Transpose to the Transpose).
    pub(crate) fn node_params(&self, node: NodeId, states: &[ValueState<'_>]) -> Dim {
        self.owned(node, states, WeightClass::Param)
    }

    /// Elements of the buffers a node owns (as for params).
    pub(crate) fn node_buffers(&self, node: NodeId, states: &[ValueState<'_>]) -> Dim {
        self.owned(node, states, WeightClass::Buffer)
    }

    fn owned(&self, node: NodeId, states: &[ValueState<'_>], class: WeightClass) -> Dim {
        self.owned[node.index()]
            .iter()
            .filter(|o| self.class[o.index()] == Some(class))
            .filter_map(|o| Some(self.elements(*o, states[o.index()].tensor()?)))
            .sum()
    }
}

pub(crate) fn classify(
    graph: &Graph,
    order: &[NodeId],
    states: &[ValueState<'_>],
    defs: &[Option<OpImpl<'_>>],
) -> Classes {
    let values = graph.values.len();
    let mut origins: Vec<Option<Vec<ValueId>>> = vec![None; values];
    let mut class: Vec<Option<WeightClass>> = vec![None; values];
    let mut packed_bits: Vec<Option<u32>> = vec![None; values];
    let mut owner: Vec<Option<NodeId>> = vec![None; values];
    // Whether a value derives from the values of the model's inputs.
    let mut from_inputs: Vec<bool> = vec![false; values];
    // Origins combined with positions or shapes at one node, each group once.
    let mut combined: Vec<Vec<ValueId>> = Vec::new();
    // The stored constants each value not derived from the inputs was computed from, through
    // any operand (up to MAX_TOUCHED: a longer list is a graph that computes weights, not a
    // table).
    let mut touched: Vec<Vec<ValueId>> = vec![Vec::new(); values];
    for (i, v) in graph.values.iter().enumerate() {
        match v.def {
            ValueDef::Initializer(_) => {
                origins[i] = Some(vec![value_id(i)]);
                class[i] = Some(WeightClass::Constant);
            }
            ValueDef::Input => from_inputs[i] = true,
            _ => {}
        }
    }
    let role =
        |node: NodeId, input: usize| defs[node.index()].map_or(Role::Data, |d| d.role(input));
    let operand = |r: Role| {
        matches!(
            r,
            Role::Data | Role::Weight | Role::Bias | Role::PackedWeight
        )
    };

    for &nid in order {
        let node = graph.node(nid);
        let inputs: Vec<(usize, ValueId, Role)> = node
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(i, id)| Some((i, (*id)?, role(nid, i))))
            .collect();
        // The node reads a value derived from the model inputs' values (an activation, token
        // ids): the constants it reads meet the model's inputs here.
        let derived = inputs
            .iter()
            .any(|(_, id, r)| *r != Role::ShapeOf && from_inputs[id.index()])
            // A node whose subgraphs may read the model's inputs.
            || crate::engine::has_subgraph(node);
        // Otherwise, when every operand carries origins, the node only moves or combines
        // constants (selected, expanded, transposed by values made from shapes): its outputs
        // carry the origins, classed where they are used.
        let carries = !derived
            && inputs
                .iter()
                .filter(|(_, _, r)| operand(*r))
                .all(|(_, id, _)| origins[id.index()].is_some())
            && inputs
                .iter()
                .any(|(_, id, r)| operand(*r) && origins[id.index()].is_some());
        let lowered_group_norm = is_lowered_group_norm(graph, nid, states);
        let mut deps: Vec<ValueId> = Vec::new();
        if !derived {
            for (_, id, _) in inputs.iter().filter(|(_, _, r)| operand(*r)) {
                deps.extend(origins[id.index()].iter().flatten().copied());
                deps.extend(touched[id.index()].iter().copied());
            }
            deps.retain(|o| matches!(graph.value(*o).def, ValueDef::Initializer(_)));
            deps.sort();
            deps.dedup();
            deps.truncate(MAX_TOUCHED);
            // Constants combined here with positions or shapes: classed together below if one
            // of them proves to be a learned weight.
            if !carries && deps.len() > 1 {
                combined.push(deps.clone());
            }
        }
        for &(i, id, role) in &inputs {
            let Some(from) = &origins[id.index()] else {
                continue;
            };
            for &o in from {
                let Some(ty) = states[o.index()].tensor() else {
                    continue;
                };
                owner[o.index()].get_or_insert(nid);
                let c = match role {
                    _ if carries && operand(role) => continue,
                    _ if lowered_group_norm && i > 0 => WeightClass::Constant,
                    Role::PackedWeight => {
                        let bits = node.attr_or("bits", 4i64).unwrap_or(4);
                        packed_bits[o.index()] = Some(u32::try_from(bits).unwrap_or(4));
                        WeightClass::Param
                    }
                    // One stored element broadcast to a whole weight or bias is a fill (the zero
                    // bias PyTorch's exporter makes for a convolution without one), not a
                    // learned tensor.
                    Role::Weight | Role::Bias
                        if ty.numel().as_i64() == Some(1)
                            && states[id.index()]
                                .tensor()
                                .is_some_and(|read| read.numel().as_i64() != Some(1)) =>
                    {
                        WeightClass::Constant
                    }
                    Role::Weight | Role::Bias => WeightClass::Param,
                    Role::Buffer => WeightClass::Buffer,
                    Role::Quant => WeightClass::Quant,
                    Role::Config | Role::ShapeOf => WeightClass::Constant,
                    // Combined only with positions and constants: a computed table.
                    Role::Data if !derived => WeightClass::Constant,
                    Role::Data => {
                        // The element type is the one the op reads (an int8 weight dequantized
                        // to float before a MatMul is a weight); the count is the origin's (a
                        // scalar expanded to a mask is still one constant).
                        let read = states[id.index()].tensor().unwrap_or(ty);
                        let many = ty.numel().as_i64().is_none_or(|n| n > 1);
                        if read.dtype.is_float() && many {
                            WeightClass::Param
                        } else {
                            WeightClass::Constant
                        }
                    }
                };
                let slot = class[o.index()].get_or_insert(c);
                *slot = (*slot).max(c);
            }
        }
        let outputs = node.outputs.iter().flatten().copied();
        if !deps.is_empty() {
            for out in node.outputs.iter().flatten() {
                touched[out.index()].clone_from(&deps);
            }
        }
        if derived {
            for out in outputs {
                from_inputs[out.index()] = true;
            }
            continue;
        }
        let mut from: Vec<ValueId> = inputs
            .iter()
            .filter(|(_, _, r)| operand(*r))
            .filter_map(|(_, id, _)| origins[id.index()].as_ref())
            .flatten()
            .copied()
            .collect();
        from.sort();
        from.dedup();
        for out in outputs {
            if states[out.index()].constant && from.is_empty() {
                // A node with no operands (Constant, ConstantOfShape) is itself the origin.
                class[out.index()].get_or_insert(WeightClass::Constant);
                origins[out.index()] = Some(vec![out]);
            } else if carries {
                origins[out.index()] = Some(from.clone());
            }
        }
    }
    // A computation over constants and positions that includes a learned weight (classed a
    // param by another use: DETR's learned queries, through its first decoder layer's
    // self-attention, which no input reaches) is learned: its stored float tensors of more
    // than one element are params too. A table computed from positions alone (RoPE's
    // inv_freq) shares no group with a param and stays a constant.
    let mut changed = true;
    while changed {
        changed = false;
        for group in &combined {
            if !group
                .iter()
                .any(|o| class[o.index()] == Some(WeightClass::Param))
            {
                continue;
            }
            for o in group {
                let stored = matches!(graph.value(*o).def, ValueDef::Initializer(_));
                let learned = states[o.index()].tensor().is_some_and(|t| {
                    t.dtype.is_float() && t.numel().as_i64().is_none_or(|n| n > 1)
                });
                if stored && learned && class[o.index()] == Some(WeightClass::Constant) {
                    class[o.index()] = Some(WeightClass::Param);
                    changed = true;
                }
            }
        }
    }
    let mut owned: Vec<Vec<ValueId>> = vec![Vec::new(); graph.nodes.len()];
    for (i, node) in owner.iter().enumerate() {
        if let Some(node) = node {
            owned[node.index()].push(value_id(i));
        }
    }
    Classes {
        class,
        packed_bits,
        owned,
    }
}

/// `InstanceNormalization` between two `Reshape`s with an all-ones scale and an all-zeros
/// bias: how exporters lower GroupNorm (the learned affine follows as `Mul`, `Add`).
fn is_lowered_group_norm(graph: &Graph, nid: NodeId, states: &[ValueState<'_>]) -> bool {
    let node = graph.node(nid);
    if node.op_type != "InstanceNormalization" || !flopscope_ir::is_default_domain(&node.domain) {
        return false;
    }
    let produced_by_reshape = |id: Option<&Option<ValueId>>| {
        id.copied()
            .flatten()
            .is_some_and(|id| match graph.value(id).def {
                ValueDef::Node { node, .. } => graph.node(node).op_type == "Reshape",
                _ => false,
            })
    };
    let all = |i: usize, x: f64| {
        node.inputs
            .get(i)
            .copied()
            .flatten()
            .and_then(|id| states[id.index()].known().ok().flatten())
            .and_then(flopscope_ir::TensorValue::as_f64s)
            .is_some_and(|v| v.iter().all(|&e| e == x))
    };
    let consumed_by_reshape = node.outputs.first().copied().flatten().is_some_and(|out| {
        graph
            .nodes
            .iter()
            .any(|n| n.op_type == "Reshape" && n.inputs.first().copied().flatten() == Some(out))
    });
    produced_by_reshape(node.inputs.first()) && consumed_by_reshape && all(1, 1.0) && all(2, 0.0)
}

/// The id of the value at index `i` of the graph's values: ids are dense indices, numbered
/// the same way by the frontend (`ValueId(values.len() as u32)`).
fn value_id(i: usize) -> ValueId {
    ValueId(i as u32)
}
