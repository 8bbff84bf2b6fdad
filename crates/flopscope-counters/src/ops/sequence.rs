//! Sequences and optionals. A sequence's type lists each element's type while its length is
//! known (built by SequenceConstruct, SplitToSequence with known sizes, inserts and erases at
//! known positions, an unrolled loop); otherwise it holds the type its elements agree on (fresh
//! symbols where they differ). No arithmetic: 0 FLOPs.

use flopscope_ir::{DType, DeclaredType, Dim, SequenceType, TensorType, TensorValue, ValueType};

use super::no_flops;
use crate::{
    InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, invalid, normalize_axis,
    normalize_axis_inclusive,
};

/// The type two alternatives (two branches, two iterations, two elements) agree on: equal dims
/// stay, differing ones become fresh symbols named after the node, `what` and the axis.
pub(super) fn agree(
    cx: &InferCtx<'_>,
    what: &str,
    a: &ValueType,
    b: &ValueType,
) -> Result<ValueType, OpError> {
    if a == b {
        return Ok(a.clone());
    }
    Ok(match (a, b) {
        (ValueType::Tensor(x), ValueType::Tensor(y)) => {
            if x.dtype != y.dtype {
                return invalid!(
                    "{what}: the alternatives have types {} and {}",
                    x.dtype,
                    y.dtype
                );
            }
            if x.rank() != y.rank() {
                return Err(OpError::Unsupported(format!(
                    "{what}: the alternatives have ranks {} and {}; flopscope needs one rank",
                    x.rank(),
                    y.rank()
                )));
            }
            let shape = x
                .shape
                .iter()
                .zip(&y.shape)
                .enumerate()
                .map(|(axis, (p, q))| {
                    if p == q {
                        p.clone()
                    } else {
                        cx.fresh_symbol(&format!("{what}_d{axis}"))
                    }
                })
                .collect();
            ValueType::Tensor(TensorType::new(x.dtype, shape))
        }
        (
            ValueType::Sequence(SequenceType::Items(x)),
            ValueType::Sequence(SequenceType::Items(y)),
        ) if x.len() == y.len() => {
            let items = x
                .iter()
                .zip(y)
                .enumerate()
                .map(|(i, (p, q))| agree(cx, &format!("{what}_{i}"), p, q))
                .collect::<Result<_, _>>()?;
            ValueType::Sequence(SequenceType::Items(items))
        }
        (ValueType::Sequence(x), ValueType::Sequence(y)) => {
            let elem = match (element_type(cx, x, what)?, element_type(cx, y, what)?) {
                (Some(p), Some(q)) => Some(Box::new(agree(cx, what, &p, &q)?)),
                (p, q) => p.or(q).map(Box::new),
            };
            ValueType::Sequence(SequenceType::Elements(elem))
        }
        (ValueType::Optional(x), ValueType::Optional(y)) => {
            ValueType::Optional(Box::new(agree(cx, what, x, y)?))
        }
        _ => return invalid!("{what}: the alternatives are {a} and {b}"),
    })
}

/// The type every element of a sequence has (what known elements agree on).
pub(super) fn element_type(
    cx: &InferCtx<'_>,
    seq: &SequenceType,
    what: &str,
) -> Result<Option<ValueType>, OpError> {
    match seq {
        SequenceType::Elements(e) => Ok(e.as_deref().cloned()),
        SequenceType::Items(items) => {
            let mut merged: Option<ValueType> = None;
            for item in items {
                merged = Some(match merged {
                    None => item.clone(),
                    Some(m) => agree(cx, &format!("{what}_elem"), &m, item)?,
                });
            }
            Ok(merged)
        }
    }
}

/// Sequence input `i`.
fn sequence(cx: &InferCtx<'_>, i: usize) -> Result<SequenceType, OpError> {
    match cx.input_type(i)? {
        Some(ValueType::Sequence(s)) => Ok(s.clone()),
        Some(other) => invalid!("input {i} is {other}, expected a sequence"),
        None => Err(OpError::MissingInput(i)),
    }
}

/// A known position input (`position` of SequenceInsert/At/Erase) resolved against a length:
/// negative positions count from the end; `len` itself is allowed when `end_ok` (insert).
fn position(
    cx: &InferCtx<'_>,
    i: usize,
    len: usize,
    end_ok: bool,
) -> Result<Option<usize>, OpError> {
    let Some(p) = cx.ints(i)?.and_then(|v| v.first()).and_then(Dim::as_i64) else {
        return Ok(None);
    };
    let n = len as i64;
    let q = if p < 0 { p + n } else { p };
    let last = if end_ok { n } else { n - 1 };
    if !(0..=last).contains(&q) {
        return invalid!("position {p} is out of range for a sequence of {len} elements");
    }
    Ok(Some(q as usize))
}

/// `SequenceConstruct`: a sequence of its inputs.
fn infer_construct(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let mut items = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        items.push(ValueType::Tensor(cx.tensor(i)?.clone()));
    }
    cx.set_type(0, ValueType::Sequence(SequenceType::Items(items)));
    Ok(())
}

/// `SequenceInsert`: one more tensor, at `position` (default: the end).
fn infer_insert(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let seq = sequence(cx, 0)?;
    let t = ValueType::Tensor(cx.tensor(1)?.clone());
    let out = match seq {
        SequenceType::Items(mut items) => {
            let at = if cx.has_input(2) {
                position(cx, 2, items.len(), true)?
            } else {
                Some(items.len())
            };
            match at {
                Some(at) => {
                    items.insert(at, t);
                    SequenceType::Items(items)
                }
                None => {
                    let elem = element_type(cx, &SequenceType::Items(items), "seq")?;
                    join_elements(cx, elem, t)?
                }
            }
        }
        SequenceType::Elements(elem) => join_elements(cx, elem.map(|e| *e), t)?,
    };
    cx.set_type(0, ValueType::Sequence(out));
    Ok(())
}

fn join_elements(
    cx: &InferCtx<'_>,
    elem: Option<ValueType>,
    t: ValueType,
) -> Result<SequenceType, OpError> {
    let joined = match elem {
        Some(e) => agree(cx, "elem", &e, &t)?,
        None => t,
    };
    Ok(SequenceType::of(joined))
}

/// `SequenceErase`: one element fewer, at `position` (default: the last).
fn infer_erase(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let out = match sequence(cx, 0)? {
        SequenceType::Items(mut items) => {
            let at = if cx.has_input(1) {
                position(cx, 1, items.len(), false)?
            } else {
                items.len().checked_sub(1)
            };
            match at {
                Some(at) => {
                    items.remove(at);
                    SequenceType::Items(items)
                }
                None => SequenceType::Elements(
                    element_type(cx, &SequenceType::Items(items), "seq")?.map(Box::new),
                ),
            }
        }
        other => other,
    };
    cx.set_type(0, ValueType::Sequence(out));
    Ok(())
}

/// `SequenceAt`: one element.
fn infer_at(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let seq = sequence(cx, 0)?;
    let ty = match &seq {
        SequenceType::Items(items) => match position(cx, 1, items.len(), false)? {
            Some(at) => Some(items[at].clone()),
            None => element_type(cx, &seq, "seq")?,
        },
        SequenceType::Elements(e) => e.as_deref().cloned(),
    };
    let ty = ty.ok_or_else(|| {
        OpError::Unsupported("the sequence's element type is not known (an empty sequence)".into())
    })?;
    cx.set_type(0, ty);
    Ok(())
}

/// `SequenceLength`: an int64 scalar, known when the length is.
fn infer_length(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    match sequence(cx, 0)? {
        SequenceType::Items(items) => cx.set_value(
            0,
            TensorValue::ints(
                DType::Int64,
                vec![],
                vec![Dim::from_i64(items.len() as i64)],
            ),
        ),
        SequenceType::Elements(_) => cx.set(0, TensorType::scalar(DType::Int64)),
    }
    Ok(())
}

/// `SplitToSequence`: `input` split along `axis` into chunks of `split` (a scalar; the last may
/// be smaller), into the given sizes (1-D `split`), or into single slices (no `split`;
/// `keepdims` decides whether the axis stays).
fn infer_split_to_sequence(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, x.rank())?;
    let with_dim = |d: Option<Dim>| {
        let mut shape = x.shape.clone();
        match d {
            Some(d) => shape[axis] = d,
            None => {
                shape.remove(axis);
            }
        }
        ValueType::Tensor(TensorType::new(x.dtype, shape))
    };
    // A sequence longer than MAX_FOLDED_ELEMENTS keeps its element type, not one entry per
    // item: a dim of 2^33 must not become 2^33 entries.
    let len = x.shape[axis]
        .as_i64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n as u64 <= MAX_FOLDED_ELEMENTS);
    let seq = match cx.opt_tensor(1)? {
        None => {
            let keep = cx.attr_or("keepdims", 1i64)? != 0;
            let item = with_dim(keep.then(Dim::one));
            match len {
                Some(n) => SequenceType::Items(vec![item; n]),
                None => SequenceType::of(item),
            }
        }
        Some(split) if split.rank() == 0 => {
            let chunk = cx
                .req_ints(1, "the split size")?
                .first()
                .cloned()
                .unwrap_or_else(Dim::one);
            match (len, chunk.as_i64().and_then(|c| usize::try_from(c).ok())) {
                (Some(n), Some(c)) if c > 0 => {
                    let items = (0..n.div_ceil(c))
                        .map(|k| with_dim(Some(Dim::from_i64(c.min(n - k * c) as i64))))
                        .collect();
                    SequenceType::Items(items)
                }
                _ => SequenceType::of(with_dim(Some(cx.fresh_symbol("chunk")))),
            }
        }
        Some(_) => {
            let sizes = cx.req_ints(1, "the split sizes")?;
            SequenceType::Items(sizes.iter().map(|s| with_dim(Some(s.clone()))).collect())
        }
    };
    cx.set_type(0, ValueType::Sequence(seq));
    Ok(())
}

/// `ConcatFromSequence`: the elements joined along `axis` (or stacked on a new one). With known
/// elements the joined size is their sum (or their count); otherwise a fresh symbol.
fn infer_concat_from_sequence(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let seq = sequence(cx, 0)?;
    let ValueType::Tensor(t) = element_type(cx, &seq, "seq")?.ok_or_else(|| {
        OpError::Unsupported("the sequence's element type is not known (an empty sequence)".into())
    })?
    else {
        return invalid!("the sequence's elements are not tensors");
    };
    let axis = cx.req_attr::<i64>("axis")?;
    let new_axis = cx.attr_or("new_axis", 0i64)? != 0;
    let mut shape = t.shape.clone();
    if new_axis {
        let at = normalize_axis_inclusive(axis, shape.len())?;
        let count = match &seq {
            SequenceType::Items(items) => Dim::from_i64(items.len() as i64),
            SequenceType::Elements(_) => cx.fresh_symbol("length"),
        };
        shape.insert(at, count);
    } else {
        let at = normalize_axis(axis, shape.len())?;
        shape[at] = match &seq {
            SequenceType::Items(items) => items
                .iter()
                .map(|i| match i {
                    ValueType::Tensor(t) => t.shape.get(at).cloned().ok_or(()),
                    _ => Err(()),
                })
                .sum::<Result<Dim, ()>>()
                .map_err(|()| OpError::Invalid("the sequence's elements differ in rank".into()))?,
            SequenceType::Elements(_) => cx.fresh_symbol("concat"),
        };
    }
    cx.set(0, TensorType::new(t.dtype, shape));
    Ok(())
}

macro_rules! sequence_op {
    ($class:ident, $op:literal, $since:expr, $infer:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since($since),
                roles: &[Role::Data, Role::Config],
                infer: $infer,
                cost: no_flops,
                formula: $formula,
            }
        }
    };
}

sequence_op!(
    Other,
    "SequenceConstruct",
    11,
    infer_construct,
    "0 (data movement)"
);
sequence_op!(
    Other,
    "SequenceInsert",
    11,
    infer_insert,
    "0 (data movement)"
);
sequence_op!(Other, "SequenceAt", 11, infer_at, "0 (data movement)");
sequence_op!(Other, "SequenceErase", 11, infer_erase, "0 (data movement)");
sequence_op!(Other, "SequenceLength", 11, infer_length, "0 (metadata)");
sequence_op!(
    Other,
    "SplitToSequence",
    11,
    infer_split_to_sequence,
    "0 (data movement)"
);
sequence_op!(
    Other,
    "ConcatFromSequence",
    11,
    infer_concat_from_sequence,
    "0 (data movement)"
);
sequence_op!(
    Other,
    "SequenceEmpty",
    11,
    |cx| {
        cx.set_type(0, ValueType::Sequence(SequenceType::Items(Vec::new())));
        Ok(())
    },
    "0 (constant)"
);

// ---- Optional ----------------------------------------------------------------------------

/// `Optional`: wraps its input, or is empty with the type of its `type` attribute.
fn infer_optional(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    match cx.input_type(0)? {
        Some(t) => {
            let t = t.clone();
            cx.set_type(0, ValueType::Optional(Box::new(t)));
            Ok(())
        }
        None => {
            let declared = cx.req_attr::<&DeclaredType>("type")?;
            let ty = declared_to_type(cx, declared, "elem")?;
            cx.set_type(0, ValueType::Optional(Box::new(ty)));
            Ok(())
        }
    }
}

/// A declared type as a value type, with fresh symbols for unknown dims.
fn declared_to_type(
    cx: &InferCtx<'_>,
    declared: &DeclaredType,
    what: &str,
) -> Result<ValueType, OpError> {
    match declared {
        DeclaredType::Tensor {
            dtype: Some(dtype),
            shape: Some(shape),
        } => Ok(ValueType::Tensor(TensorType::new(
            *dtype,
            shape
                .iter()
                .enumerate()
                .map(|(axis, d)| {
                    d.clone()
                        .unwrap_or_else(|| cx.fresh_symbol(&format!("{what}_d{axis}")))
                })
                .collect(),
        ))),
        DeclaredType::Sequence(elem) => Ok(ValueType::Sequence(SequenceType::of(
            declared_to_type(cx, elem, what)?,
        ))),
        DeclaredType::Optional(elem) => Ok(ValueType::Optional(Box::new(declared_to_type(
            cx, elem, what,
        )?))),
        other => Err(OpError::Unsupported(format!(
            "the type {other:?} has no known dtype and rank"
        ))),
    }
}

sequence_op!(Other, "Optional", 15, infer_optional, "0 (data movement)");
sequence_op!(
    Other,
    "OptionalHasElement",
    15,
    |cx| {
        cx.set(0, TensorType::scalar(DType::Bool));
        Ok(())
    },
    "0 (metadata)"
);
sequence_op!(
    Other,
    "OptionalGetElement",
    15,
    |cx| {
        let ty = match cx.input_type(0)? {
            Some(ValueType::Optional(inner)) => (**inner).clone(),
            // From opset 18 a tensor or sequence passes through.
            Some(other) => other.clone(),
            None => return Err(OpError::MissingInput(0)),
        };
        cx.set_type(0, ty);
        Ok(())
    },
    "0 (data movement)"
);
