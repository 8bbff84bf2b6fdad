//! What an op's shape and cost functions see: the node, its inputs' types and known values,
//! and (for cost) its outputs' types.

use std::cell::OnceCell;
use std::sync::Arc;

use crate::engine::{Env, Scope};
use flopscope_ir::{
    AttrError, ConstTensor, DecodeError, Dim, FromAttr, Graph, Node, ShapeDisplay, TensorType,
    TensorValue, ValueId, ValueType,
};

/// Constants with more elements than this are never decoded: shape computations only need
/// small tensors, and weights must not be read.
pub const MAX_FOLDED_ELEMENTS: u64 = 1 << 16;

/// The most dims a shape computed at run time may have (each becomes a derived dim).
pub(crate) const MAX_DERIVED_RANK: usize = 1 << 10;

/// Why an op could not infer or cost a node. The engine adds the node, op and file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("input {0} is required but missing")]
    MissingInput(usize),
    #[error("input {index} (`{name}`) is {found}, expected a tensor")]
    NotATensor {
        index: usize,
        name: String,
        found: &'static str,
    },
    #[error(transparent)]
    Attr(#[from] AttrError),
    /// The model is inconsistent: shapes that cannot hold, ranks that do not fit, ...
    #[error("{0}")]
    Invalid(String),
    /// A shape-deciding input is not known before run time.
    #[error(
        "{what} (input {input}, `{name}`) must be known to infer the output shape, but it is computed at run time"
    )]
    NeedsValue {
        input: usize,
        name: String,
        what: &'static str,
    },
    /// A valid use of the op that flopscope does not handle yet.
    #[error("{0}")]
    Unsupported(String),
    #[error("constant `{name}` {source}")]
    Decode {
        name: String,
        #[source]
        source: DecodeError,
    },
}

/// `Err(OpError::Invalid(format!(...)))`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => {
        Err($crate::OpError::Invalid(format!($($arg)*)))
    };
}

/// The engine's knowledge of one value.
#[derive(Debug)]
pub(crate) struct ValueState<'g> {
    /// `None` until inferred; stays `None` after an uncounted producer without a declared type.
    pub(crate) ty: Option<ValueType>,
    /// The elements, when known: decoded from a small initializer on first use, or folded.
    pub(crate) known: OnceCell<Result<Option<Arc<TensorValue>>, DecodeError>>,
    /// The stored tensor of an initializer, decoded lazily into `known`.
    pub(crate) init: Option<&'g ConstTensor>,
    /// Computed from constants only (initializers, Constant nodes, and ops over them).
    pub(crate) constant: bool,
}

impl<'g> ValueState<'g> {
    pub(crate) fn unknown() -> Self {
        ValueState {
            ty: None,
            known: OnceCell::new(),
            init: None,
            constant: false,
        }
    }

    pub(crate) fn known(&self) -> Result<Option<&TensorValue>, DecodeError> {
        let cell = self.known.get_or_init(|| match self.init {
            Some(t) => t.decode(MAX_FOLDED_ELEMENTS).map(|v| v.map(Arc::new)),
            None => Ok(None),
        });
        match cell {
            Ok(v) => Ok(v.as_deref()),
            Err(e) => Err(e.clone()),
        }
    }

    pub(crate) fn tensor(&self) -> Option<&TensorType> {
        self.ty.as_ref().and_then(ValueType::as_tensor)
    }
}

/// Read access to a node's inputs, shared by [`InferCtx`] and [`CostCtx`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    graph: &'a Graph,
    node: &'a Node,
    states: &'a [ValueState<'a>],
}

impl<'a> Inputs<'a> {
    fn state(&self, i: usize) -> Option<(ValueId, &'a ValueState<'a>)> {
        let id = (*self.node.inputs.get(i)?)?;
        Some((id, &self.states[id.index()]))
    }

    fn name(&self, i: usize) -> String {
        self.node
            .inputs
            .get(i)
            .copied()
            .flatten()
            .map(|id| self.graph.value(id).name.clone())
            .unwrap_or_default()
    }
}

macro_rules! input_access {
    () => {
        /// The node being inferred or costed.
        pub fn node(&self) -> &'a Node {
            self.inputs.node
        }

        /// The opset version the model imports for the node's domain.
        pub fn opset(&self) -> i64 {
            self.opset
        }

        /// Number of input slots the node lists (omitted optional inputs included).
        pub fn input_count(&self) -> usize {
            self.inputs.node.inputs.len()
        }

        /// Whether input `i` is given.
        pub fn has_input(&self, i: usize) -> bool {
            matches!(self.inputs.node.inputs.get(i), Some(Some(_)))
        }

        /// The type of a required tensor input.
        pub fn tensor(&self, i: usize) -> Result<&'a TensorType, OpError> {
            self.opt_tensor(i)?.ok_or(OpError::MissingInput(i))
        }

        /// The type of an optional tensor input.
        pub fn opt_tensor(&self, i: usize) -> Result<Option<&'a TensorType>, OpError> {
            let Some((_, state)) = self.inputs.state(i) else {
                return Ok(None);
            };
            match &state.ty {
                Some(ValueType::Tensor(t)) => Ok(Some(t)),
                Some(other) => Err(OpError::NotATensor {
                    index: i,
                    name: self.inputs.name(i),
                    found: other.kind(),
                }),
                // The engine only calls ops whose given inputs all have types.
                None => Err(OpError::Invalid(format!(
                    "input {i} (`{}`) has no known type",
                    self.inputs.name(i)
                ))),
            }
        }

        /// The type of input `i` of any kind (tensor, sequence, optional); `None` if omitted.
        pub fn input_type(&self, i: usize) -> Result<Option<&'a ValueType>, OpError> {
            let Some((_, state)) = self.inputs.state(i) else {
                return Ok(None);
            };
            match &state.ty {
                Some(t) => Ok(Some(t)),
                None => Err(OpError::Invalid(format!(
                    "input {i} (`{}`) has no known type",
                    self.inputs.name(i)
                ))),
            }
        }

        /// The elements of input `i` when they are known before run time.
        pub fn value(&self, i: usize) -> Result<Option<&'a TensorValue>, OpError> {
            let Some((_, state)) = self.inputs.state(i) else {
                return Ok(None);
            };
            state.known().map_err(|source| OpError::Decode {
                name: self.inputs.name(i),
                source,
            })
        }

        /// The integer elements of input `i`, when known.
        pub fn ints(&self, i: usize) -> Result<Option<&'a [Dim]>, OpError> {
            Ok(self.value(i)?.and_then(TensorValue::as_ints))
        }

        /// The integer elements of input `i`, required (shape, axes, pads given as inputs):
        /// an error naming `what` when they are not known.
        pub fn req_ints(&self, i: usize, what: &'static str) -> Result<&'a [Dim], OpError> {
            if !self.has_input(i) {
                return Err(OpError::MissingInput(i));
            }
            self.ints(i)?.ok_or_else(|| OpError::NeedsValue {
                input: i,
                name: self.inputs.name(i),
                what,
            })
        }

        /// Like [`Self::req_ints`], and every element must be a plain integer.
        pub fn req_i64s(&self, i: usize, what: &'static str) -> Result<Vec<i64>, OpError> {
            let ints = self.req_ints(i, what)?;
            ints.iter()
                .map(Dim::as_i64)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| OpError::NeedsValue {
                    input: i,
                    name: self.inputs.name(i),
                    what,
                })
        }

        /// Whether input `i` is computed from constants only.
        pub fn is_constant(&self, i: usize) -> bool {
            self.inputs.state(i).is_some_and(|(_, s)| s.constant)
        }

        /// The name of input `i` (empty if omitted).
        pub fn input_name(&self, i: usize) -> String {
            self.inputs.name(i)
        }

        /// An optional attribute.
        pub fn attr<T: FromAttr<'a>>(&self, name: &str) -> Result<Option<T>, OpError> {
            Ok(self.inputs.node.attr(name)?)
        }

        /// An attribute with a default.
        pub fn attr_or<T: FromAttr<'a>>(&self, name: &str, default: T) -> Result<T, OpError> {
            Ok(self.inputs.node.attr_or(name, default)?)
        }

        /// A required attribute.
        pub fn req_attr<T: FromAttr<'a>>(&self, name: &str) -> Result<T, OpError> {
            Ok(self.inputs.node.req_attr(name)?)
        }
    };
}

/// The context of a shape-inference function: read the inputs, set the outputs.
#[derive(Debug)]
pub struct InferCtx<'a> {
    inputs: Inputs<'a>,
    opset: i64,
    pub(crate) node_label: &'a str,
    pub(crate) env: &'a Env<'a>,
    pub(crate) scope: &'a Scope<'a>,
    pub(crate) outputs: Vec<Option<ValueType>>,
    pub(crate) values: Vec<Option<TensorValue>>,
    /// Cost of the node's subgraphs, added to what its cost function returns.
    pub(crate) extra_cost: crate::Cost,
    /// Uncounted nodes found in the node's subgraphs.
    pub(crate) inner_uncounted: Vec<(String, String, crate::UncountedReason, String)>,
    /// Symbols made by [`InferCtx::fresh_symbol`] for this node.
    pub(crate) fresh: std::cell::RefCell<Vec<String>>,
    /// Symbols made by [`InferCtx::derived_dim`] for this node, with why.
    pub(crate) derived: std::cell::RefCell<Vec<(String, String)>>,
}

impl<'a> InferCtx<'a> {
    pub(crate) fn new(
        env: &'a Env<'a>,
        scope: &'a Scope<'a>,
        node: &'a Node,
        node_label: &'a str,
        opset: i64,
    ) -> Self {
        InferCtx {
            inputs: Inputs {
                graph: scope.graph,
                node,
                states: scope.states,
            },
            opset,
            node_label,
            env,
            scope,
            outputs: vec![None; node.outputs.len()],
            values: vec![None; node.outputs.len()],
            extra_cost: crate::Cost::zero(),
            inner_uncounted: Vec::new(),
            fresh: std::cell::RefCell::new(Vec::new()),
            derived: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The opset version the model imports for another domain (for ops that call into
    /// subgraphs or other domains).
    pub fn domain_opset(&self, domain: &str) -> Option<i64> {
        self.env.opsets.get(domain).copied()
    }

    input_access!();

    /// Number of output slots.
    pub fn output_count(&self) -> usize {
        self.inputs.node.outputs.len()
    }

    /// Whether output `i` is used (listed with a name).
    pub fn has_output(&self, i: usize) -> bool {
        matches!(self.inputs.node.outputs.get(i), Some(Some(_)))
    }

    /// Sets the type of output `i` (ignored when the node omits that output).
    pub fn set(&mut self, i: usize, ty: TensorType) {
        if let Some(slot) = self.outputs.get_mut(i) {
            *slot = Some(ValueType::Tensor(ty));
        }
    }

    /// Sets the type of output `i` to any kind of value (sequences, optionals).
    pub fn set_type(&mut self, i: usize, ty: ValueType) {
        if let Some(slot) = self.outputs.get_mut(i) {
            *slot = Some(ty);
        }
    }

    /// Sets output `i` to a value known before run time (its type follows from it).
    pub fn set_value(&mut self, i: usize, value: TensorValue) {
        self.set(i, value.tensor_type());
        if let Some(slot) = self.values.get_mut(i) {
            *slot = Some(value);
        }
    }

    /// A fresh symbol for a size only known at run time, named after the node and `what`. The
    /// profile lists it among the model's data-dependent dims; a `--dim` of that name binds it.
    pub fn fresh_symbol(&self, what: &str) -> Dim {
        let name = self.symbol_name(what);
        let mut fresh = self.fresh.borrow_mut();
        if !fresh.contains(&name) {
            fresh.push(name.clone());
        }
        self.bound_or_symbol(&name)
    }

    /// A size that follows from values known before run time but that flopscope cannot
    /// express (a float computation over a symbolic dim, a `-1` that does not divide out
    /// symbolically, a shape input computed at run time): a fresh symbol named after the node
    /// and `what`, listed in the report with `reason` (its "derived dims"), so that the
    /// profile goes on with costs in it. A `--dim` of that name binds it; `--strict` refuses it.
    pub fn derived_dim(&self, what: &str, reason: &str) -> Dim {
        let name = self.symbol_name(what);
        let mut derived = self.derived.borrow_mut();
        if !derived.iter().any(|(s, _)| *s == name) {
            derived.push((name.clone(), reason.to_owned()));
        }
        self.bound_or_symbol(&name)
    }

    /// [`Self::derived_dim`] for each axis of an output shape of rank `rank` (`d0`, `d1`, ...;
    /// `o{output}_d{axis}` for outputs after the first).
    pub fn derived_shape(&self, output: usize, rank: usize, reason: &str) -> Vec<Dim> {
        (0..rank)
            .map(|a| self.derived_dim(&derived_axis_name(output, a), reason))
            .collect()
    }

    /// Why input `i` cannot decide a shape: its elements are computed at run time.
    pub fn unknown_value_reason(&self, i: usize, what: &str) -> String {
        format!(
            "{what} (input {i}, `{}`) is computed at run time",
            self.input_name(i)
        )
    }

    /// The length of a 1-D input (a shape, pads, sizes) when its type fixes it; an error past
    /// [`MAX_DERIVED_RANK`], since derived dims are made for each element.
    pub fn static_len(&self, i: usize) -> Result<Option<usize>, OpError> {
        let len = self.opt_tensor(i)?.and_then(|t| match t.shape.as_slice() {
            [n] => n.as_i64().and_then(|n| usize::try_from(n).ok()),
            [] => Some(1),
            _ => None,
        });
        match len {
            Some(n) if n > MAX_DERIVED_RANK => invalid!(
                "input {i} (`{}`) is a shape of {n} dims, more than {MAX_DERIVED_RANK}",
                self.input_name(i)
            ),
            _ => Ok(len),
        }
    }

    fn symbol_name(&self, what: &str) -> String {
        Dim::symbol_name(&format!("{}_{what}", self.node_label))
    }

    fn bound_or_symbol(&self, name: &str) -> Dim {
        self.env
            .bindings
            .get(name)
            .cloned()
            .unwrap_or_else(|| Dim::sym(name))
    }
}

/// The `what` of the derived dim of `output`'s axis `axis`.
pub(crate) fn derived_axis_name(output: usize, axis: usize) -> String {
    if output == 0 {
        format!("d{axis}")
    } else {
        format!("o{output}_d{axis}")
    }
}

/// The context of a cost function: inputs and outputs, all typed.
#[derive(Debug)]
pub struct CostCtx<'a> {
    inputs: Inputs<'a>,
    opset: i64,
}

impl<'a> CostCtx<'a> {
    pub(crate) fn new(
        graph: &'a Graph,
        node: &'a Node,
        states: &'a [ValueState<'a>],
        opset: i64,
    ) -> Self {
        CostCtx {
            inputs: Inputs {
                graph,
                node,
                states,
            },
            opset,
        }
    }

    input_access!();

    /// The inferred type of output `i`, if the node produces it.
    pub fn output(&self, i: usize) -> Option<&'a TensorType> {
        let id = (*self.inputs.node.outputs.get(i)?)?;
        self.inputs.states[id.index()].tensor()
    }

    /// The type of output `i` of any kind, if the node produces it.
    pub fn output_type(&self, i: usize) -> Option<&'a ValueType> {
        let id = (*self.inputs.node.outputs.get(i)?)?;
        self.inputs.states[id.index()].ty.as_ref()
    }

    /// The type of output `i`, required.
    pub fn req_output(&self, i: usize) -> Result<&'a TensorType, OpError> {
        self.output(i)
            .ok_or_else(|| OpError::Invalid(format!("output {i} has no inferred type")))
    }
}

// ---- helpers shared by the op families -------------------------------------------------------

/// Resolves a possibly negative axis against a rank (`-1` is the last axis).
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        invalid!("axis {axis} is out of range for rank {rank}")
    }
}

/// Resolves an axis that may also be `rank` itself (Flatten's split point): `-rank..=rank`,
/// negative values counting from the end.
pub fn normalize_axis_inclusive(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..=r).contains(&a) {
        Ok(a as usize)
    } else {
        invalid!("axis {axis} is out of range for rank {rank}")
    }
}

/// Multidirectional (NumPy) broadcasting of several shapes. Where one side is symbolic and the
/// other a constant other than 1, a valid model needs them equal, so the constant is taken;
/// two different symbolic dims give their max (right whenever the broadcast is valid).
pub fn broadcast(shapes: &[&[Dim]]) -> Result<Vec<Dim>, OpError> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Dim::one(); rank];
    for shape in shapes {
        let offset = rank - shape.len();
        for (i, d) in shape.iter().enumerate() {
            let slot = &mut out[offset + i];
            *slot = broadcast_dim(slot, d).ok_or_else(|| {
                OpError::Invalid(format!(
                    "shapes {} cannot be broadcast together (dim {} vs {})",
                    shapes
                        .iter()
                        .map(|s| ShapeDisplay(s).to_string())
                        .collect::<Vec<_>>()
                        .join(" and "),
                    slot,
                    d
                ))
            })?;
        }
    }
    Ok(out)
}

fn broadcast_dim(a: &Dim, b: &Dim) -> Option<Dim> {
    if a == b {
        return Some(a.clone());
    }
    match (a.as_i64(), b.as_i64()) {
        (Some(1), _) => Some(b.clone()),
        (_, Some(1)) => Some(a.clone()),
        (Some(_), Some(_)) => None,
        (Some(_), None) => Some(a.clone()),
        (None, Some(_)) => Some(b.clone()),
        (None, None) => Some(a.max(b)),
    }
}

/// Product of dims.
pub fn product<'d>(dims: impl IntoIterator<Item = &'d Dim>) -> Dim {
    dims.into_iter().product()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Dim {
        Dim::from_i64(v)
    }

    #[test]
    fn broadcasting() {
        let a = [d(8), d(1), d(6), d(1)];
        let b = [d(7), d(1), d(5)];
        assert_eq!(broadcast(&[&a, &b]).unwrap(), vec![d(8), d(7), d(6), d(5)]);
        let n = Dim::sym("n");
        assert_eq!(
            broadcast(&[&[n.clone(), d(3)], &[d(3)]]).unwrap(),
            vec![n.clone(), d(3)]
        );
        assert_eq!(
            broadcast(&[std::slice::from_ref(&n), &[d(4)]]).unwrap(),
            vec![d(4)]
        );
        assert_eq!(
            broadcast(&[&[d(1)], std::slice::from_ref(&n)]).unwrap(),
            vec![n.clone()]
        );
        let err = broadcast(&[&[d(2), d(3)], &[d(4)]]).unwrap_err();
        assert!(err.to_string().contains("[2, 3] and [4]"), "{err}");
    }

    #[test]
    fn axes() {
        assert_eq!(normalize_axis(-1, 4).unwrap(), 3);
        assert_eq!(normalize_axis(0, 1).unwrap(), 0);
        assert!(normalize_axis(4, 4).is_err());
        assert!(normalize_axis(-5, 4).is_err());
        assert_eq!(normalize_axis_inclusive(-1, 2).unwrap(), 1);
        assert_eq!(normalize_axis_inclusive(2, 2).unwrap(), 2);
        assert!(normalize_axis_inclusive(-3, 2).is_err());
    }
}
