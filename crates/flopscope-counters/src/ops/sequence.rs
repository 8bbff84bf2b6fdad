//! Sequences and optionals. A sequence's type is the type its elements agree on (fresh symbols
//! where they differ); its length is not tracked. No arithmetic: 0 FLOPs.

use flopscope_ir::{DType, DeclaredType, Dim, TensorType, ValueType};

use super::no_flops;
use crate::{
    InferCtx, OpDef, OpError, Opsets, Role, invalid, normalize_axis, normalize_axis_inclusive,
};

/// The element type of sequence input `i`.
fn element(cx: &InferCtx<'_>, i: usize) -> Result<Option<ValueType>, OpError> {
    match cx.input_type(i)? {
        Some(ValueType::Sequence(elem)) => Ok(elem.as_deref().cloned()),
        Some(other) => invalid!("input {i} is {other}, expected a sequence"),
        None => Err(OpError::MissingInput(i)),
    }
}

/// The type two elements of one sequence agree on.
fn join(cx: &InferCtx<'_>, a: Option<ValueType>, b: ValueType) -> Result<ValueType, OpError> {
    let Some(a) = a else { return Ok(b) };
    match (&a, &b) {
        (ValueType::Tensor(x), ValueType::Tensor(y))
            if x.dtype == y.dtype && x.rank() == y.rank() =>
        {
            let shape = x
                .shape
                .iter()
                .zip(&y.shape)
                .enumerate()
                .map(|(axis, (p, q))| {
                    if p == q {
                        p.clone()
                    } else {
                        cx.fresh_symbol(&format!("elem_d{axis}"))
                    }
                })
                .collect();
            Ok(ValueType::Tensor(TensorType::new(x.dtype, shape)))
        }
        _ if a == b => Ok(a),
        _ => Err(OpError::Unsupported(format!(
            "sequence elements of types {a} and {b}: flopscope needs one dtype and rank per sequence"
        ))),
    }
}

fn sequence_of(elem: Option<ValueType>) -> ValueType {
    ValueType::Sequence(elem.map(Box::new))
}

/// `SequenceConstruct`: a sequence of its inputs.
fn infer_construct(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let mut elem = None;
    for i in 0..cx.input_count() {
        let t = cx.tensor(i)?.clone();
        elem = Some(join(cx, elem, ValueType::Tensor(t))?);
    }
    cx.set_type(0, sequence_of(elem));
    Ok(())
}

/// `SequenceInsert`: the sequence with one more tensor.
fn infer_insert(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let elem = element(cx, 0)?;
    let t = cx.tensor(1)?.clone();
    let joined = join(cx, elem, ValueType::Tensor(t))?;
    cx.set_type(0, sequence_of(Some(joined)));
    Ok(())
}

/// `SequenceAt`: one element.
fn infer_at(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let elem = element(cx, 0)?.ok_or_else(|| {
        OpError::Unsupported("the sequence's element type is not known (an empty sequence)".into())
    })?;
    cx.set_type(0, elem);
    Ok(())
}

/// `SplitToSequence`: `input` split along `axis` into equal chunks of `split` (a scalar), into
/// the given sizes (a 1-D `split`), or into single slices (no `split`; `keepdims` decides
/// whether the axis stays).
fn infer_split_to_sequence(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, x.rank())?;
    let mut shape = x.shape.clone();
    match cx.opt_tensor(1)? {
        None => {
            if cx.attr_or("keepdims", 1i64)? == 0 {
                shape.remove(axis);
            } else {
                shape[axis] = Dim::one();
            }
        }
        Some(split) if split.rank() == 0 => {
            let chunk = cx
                .req_ints(1, "the split size")?
                .first()
                .cloned()
                .unwrap_or_else(Dim::one);
            // Every chunk has `chunk` elements except perhaps the last.
            shape[axis] = match shape[axis].div_exact(&chunk) {
                Some(_) => chunk,
                None => cx.fresh_symbol("chunk"),
            };
        }
        Some(_) => {
            let sizes = cx.req_ints(1, "the split sizes")?;
            shape[axis] = match sizes.split_first() {
                Some((first, rest)) if rest.iter().all(|s| s == first) => first.clone(),
                _ => cx.fresh_symbol("chunk"),
            };
        }
    }
    cx.set_type(
        0,
        sequence_of(Some(ValueType::Tensor(TensorType::new(x.dtype, shape)))),
    );
    Ok(())
}

/// `ConcatFromSequence`: the elements joined along `axis` (or stacked on a new one); the
/// sequence length is not tracked, so that dim is a fresh symbol.
fn infer_concat_from_sequence(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let ValueType::Tensor(t) = element(cx, 0)?.ok_or_else(|| {
        OpError::Unsupported("the sequence's element type is not known (an empty sequence)".into())
    })?
    else {
        return invalid!("the sequence's elements are not tensors");
    };
    let axis = cx.req_attr::<i64>("axis")?;
    let mut shape = t.shape.clone();
    if cx.attr_or("new_axis", 0i64)? != 0 {
        let at = normalize_axis_inclusive(axis, shape.len())?;
        shape.insert(at, cx.fresh_symbol("length"));
    } else {
        let at = normalize_axis(axis, shape.len())?;
        shape[at] = cx.fresh_symbol("concat");
    }
    cx.set(0, TensorType::new(t.dtype, shape));
    Ok(())
}

macro_rules! sequence_op {
    ($op:literal, $since:expr, $infer:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
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
    "SequenceConstruct",
    11,
    infer_construct,
    "0 (data movement)"
);
sequence_op!("SequenceInsert", 11, infer_insert, "0 (data movement)");
sequence_op!("SequenceAt", 11, infer_at, "0 (data movement)");
sequence_op!(
    "SplitToSequence",
    11,
    infer_split_to_sequence,
    "0 (data movement)"
);
sequence_op!(
    "ConcatFromSequence",
    11,
    infer_concat_from_sequence,
    "0 (data movement)"
);
sequence_op!(
    "SequenceErase",
    11,
    |cx| {
        let ty = cx.input_type(0)?.cloned().ok_or(OpError::MissingInput(0))?;
        cx.set_type(0, ty);
        Ok(())
    },
    "0 (data movement)"
);
sequence_op!(
    "SequenceLength",
    11,
    |cx| {
        element(cx, 0)?;
        cx.set(0, TensorType::scalar(DType::Int64));
        Ok(())
    },
    "0 (metadata)"
);
sequence_op!(
    "SequenceEmpty",
    11,
    |cx| {
        // The element dtype (attribute `dtype`, default float) is known, the shape is not
        // until something is inserted.
        cx.set_type(0, ValueType::Sequence(None));
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
        DeclaredType::Sequence(elem) => Ok(ValueType::Sequence(Some(Box::new(declared_to_type(
            cx, elem, what,
        )?)))),
        DeclaredType::Optional(elem) => Ok(ValueType::Optional(Box::new(declared_to_type(
            cx, elem, what,
        )?))),
        other => Err(OpError::Unsupported(format!(
            "the type {other:?} has no known dtype and rank"
        ))),
    }
}

sequence_op!("Optional", 15, infer_optional, "0 (data movement)");
sequence_op!(
    "OptionalHasElement",
    15,
    |cx| {
        cx.set(0, TensorType::scalar(DType::Bool));
        Ok(())
    },
    "0 (metadata)"
);
sequence_op!(
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
