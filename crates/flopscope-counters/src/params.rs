//! Sorting constants into params, buffers and constants (DESIGN.md, counting conventions).
//!
//! A weight can reach the op that uses it through a chain of constant nodes (a
//! `ConstantOfShape` that makes it, a `Transpose` or `Cast` of it). Each constant value is
//! traced back to its *origins*: the stored tensors or generating nodes it was computed from,
//! following only inputs in the data roles (an int64 shape that sizes a `ConstantOfShape` is
//! not where its weight came from). Each origin is then classed by the roles of the inputs it
//! reaches, the strongest winning (param over buffer over constant), and counted once however
//! many nodes read it (tied weights).

use flopscope_ir::{Dim, Graph, NodeId, ValueDef, ValueId};

use crate::ctx::ValueState;
use crate::{OpImpl, Role};

/// The class of a constant origin, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ConstClass {
    Constant,
    Quant,
    Buffer,
    Param,
}

/// Indexed by value or node (the graph's dense ids), so that classing is linear in the graph.
#[derive(Debug)]
pub(crate) struct Classes {
    /// Every origin (and every stored constant), with its class; `None` for other values.
    class: Vec<Option<ConstClass>>,
    /// Origins that are packed weights: the width in bits of one logical element.
    packed_bits: Vec<Option<u32>>,
    /// The origins each node owns (it is the first, in execution order, to read them), in
    /// value order.
    owned: Vec<Vec<ValueId>>,
}

impl Classes {
    /// Every constant origin with its class, in value order.
    pub(crate) fn roots(&self) -> impl Iterator<Item = (ValueId, ConstClass)> + '_ {
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
        self.owned(node, states, ConstClass::Param)
    }

    /// Elements of the buffers a node owns (as for params).
    pub(crate) fn node_buffers(&self, node: NodeId, states: &[ValueState<'_>]) -> Dim {
        self.owned(node, states, ConstClass::Buffer)
    }

    fn owned(&self, node: NodeId, states: &[ValueState<'_>], class: ConstClass) -> Dim {
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
    let mut class: Vec<Option<ConstClass>> = vec![None; values];
    let mut packed_bits: Vec<Option<u32>> = vec![None; values];
    let mut owner: Vec<Option<NodeId>> = vec![None; values];
    for (i, v) in graph.values.iter().enumerate() {
        if matches!(v.def, ValueDef::Initializer(_)) {
            let id = value_id(i);
            origins[i] = Some(vec![id]);
            class[i] = Some(ConstClass::Constant);
        }
    }
    let role =
        |node: NodeId, input: usize| defs[node.index()].map_or(Role::Data, |d| d.role(input));

    for &nid in order {
        let node = graph.node(nid);
        // Class every origin this node reads, by the role of the input it arrives at.
        for (i, input) in node.inputs.iter().enumerate() {
            let Some(id) = input else { continue };
            let Some(from) = &origins[id.index()] else {
                continue;
            };
            let role = role(nid, i);
            for &o in from {
                let Some(ty) = states[o.index()].tensor() else {
                    continue;
                };
                owner[o.index()].get_or_insert(nid);
                let c = match role {
                    Role::PackedWeight => {
                        let bits = node.attr_or("bits", 4i64).unwrap_or(4);
                        packed_bits[o.index()] = Some(u32::try_from(bits).unwrap_or(4));
                        ConstClass::Param
                    }
                    Role::Weight | Role::Bias => ConstClass::Param,
                    Role::Buffer => ConstClass::Buffer,
                    Role::Quant => ConstClass::Quant,
                    Role::Config => ConstClass::Constant,
                    Role::Data => {
                        // Judged by the value the op reads, not by its origin: an int8 weight
                        // dequantized to float before a MatMul is a weight.
                        let read = states[id.index()].tensor().unwrap_or(ty);
                        let many = read.numel().as_i64().is_none_or(|n| n > 1);
                        if read.dtype.is_float() && many {
                            ConstClass::Param
                        } else {
                            ConstClass::Constant
                        }
                    }
                };
                let slot = class[o.index()].get_or_insert(c);
                *slot = (*slot).max(c);
            }
        }
        // Trace the origins of the node's outputs if it is computed from constants only.
        let constant_outputs: Vec<ValueId> = node
            .outputs
            .iter()
            .flatten()
            .copied()
            .filter(|id| states[id.index()].constant)
            .collect();
        if constant_outputs.is_empty() {
            continue;
        }
        let mut from: Vec<ValueId> = node
            .inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                matches!(
                    role(nid, *i),
                    Role::Data | Role::Weight | Role::Bias | Role::PackedWeight
                )
            })
            .filter_map(|(_, id)| origins[id.as_ref()?.index()].as_ref())
            .flatten()
            .copied()
            .collect();
        from.sort();
        from.dedup();
        for out in constant_outputs {
            // A node with no data inputs (Constant, ConstantOfShape) is itself the origin.
            let own = if from.is_empty() {
                vec![out]
            } else {
                from.clone()
            };
            if from.is_empty() {
                class[out.index()].get_or_insert(ConstClass::Constant);
            }
            origins[out.index()] = Some(own);
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

/// The id of the value at index `i` of the graph's values: ids are dense indices, numbered
/// the same way by the frontend (`ValueId(values.len() as u32)`).
fn value_id(i: usize) -> ValueId {
    ValueId(i as u32)
}
