//! Data movement and shape ops: no arithmetic (0 FLOPs, their bytes still count). Where their
//! inputs' elements are known (shape computations such as Shape → Gather → Concat → Reshape)
//! the outputs' elements are folded, symbolically where dims are symbols.

use flopscope_ir::{DType, Dim, Elements, TensorType, TensorValue, ValueType};

use super::convert::cast_elem;
use super::fold::{
    Elem, concrete, elements, fold_map, join, set_folded, set_maybe_value, strides, take,
};
use super::{no_flops, same_as_input};
use crate::{
    InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, invalid, normalize_axis,
    normalize_axis_inclusive, product, shape_string,
};

// ---- Shape, Size -----------------------------------------------------------------------------

/// `Shape`: the dims of X as a 1-D int64 tensor (from opset 15, the slice `start:end`).
fn infer_shape(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rank = x.rank() as i64;
    let clamp = |v: i64| if v < 0 { (v + rank).max(0) } else { v.min(rank) } as usize;
    let start = clamp(cx.attr_or("start", 0i64)?);
    let end = clamp(cx.attr_or("end", rank)?);
    let dims = x.shape[start..end.max(start)].to_vec();
    cx.set_value(0, TensorValue::int64_vector(dims));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Shape",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::ShapeOf],
        infer: infer_shape,
        cost: no_flops,
        formula: "0 (metadata)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Size",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::ShapeOf],
        infer: |cx| {
            let n = cx.tensor(0)?.numel();
            cx.set_value(0, TensorValue::ints(DType::Int64, vec![], vec![n]));
            Ok(())
        },
        cost: no_flops,
        formula: "0 (metadata)",
    }
}

// ---- Reshape, Flatten ------------------------------------------------------------------------

/// The output shape of a reshape of `x` to `target`: `0` copies the input dim (unless
/// `allowzero`), one `-1` takes what is left of the element count.
fn reshape_dims(
    cx: &InferCtx<'_>,
    x: &TensorType,
    target: &[Dim],
    allowzero: bool,
) -> Result<Vec<Dim>, OpError> {
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, t) in target.iter().enumerate() {
        match t.as_i64() {
            Some(0) if !allowzero => match x.shape.get(i) {
                Some(d) => out.push(d.clone()),
                None => {
                    return invalid!(
                        "target shape {} copies dim {i} of X {}, which has no such dim",
                        shape_string(target),
                        x
                    );
                }
            },
            Some(-1) => {
                if infer_at.replace(i).is_some() {
                    return invalid!("target shape {} has more than one -1", shape_string(target));
                }
                out.push(Dim::one());
            }
            Some(v) if v < -1 => {
                return invalid!("target shape {} has the dim {v}", shape_string(target));
            }
            _ => out.push(t.clone()),
        }
    }
    if let Some(i) = infer_at {
        let known = product(
            out.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, d)| d),
        );
        let total = x.numel();
        out[i] = match total.div_exact(&known) {
            Some(d) => d,
            // Symbolic counts whose quotient the algebra cannot prove (`max(n, 1)` over `n`):
            // a derived dim; concrete counts that do not divide are a contradiction.
            None if !(total.is_const() && known.is_const()) => cx.derived_dim(
                &format!("d{i}"),
                &format!(
                    "the -1 of the target shape {} is {total} / ({known}) elements, which does \
                     not divide out symbolically",
                    shape_string(target)
                ),
            ),
            None => {
                return invalid!(
                    "cannot reshape X {} ({} elements) to {}: {} is not a multiple of {}",
                    x,
                    total,
                    shape_string(target),
                    total,
                    known
                );
            }
        };
    } else if let (Some(a), Some(b)) = (x.numel().as_i64(), product(&out).as_i64())
        && a != b
    {
        return invalid!(
            "cannot reshape X {} ({a} elements) to {} ({b} elements)",
            x,
            shape_string(&out)
        );
    }
    Ok(out)
}

fn finish_reshape(cx: &mut InferCtx<'_>, target: Vec<Dim>, allowzero: bool) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let shape = reshape_dims(cx, x, &target, allowzero)?;
    let ty = TensorType::new(x.dtype, shape);
    let data = elements(cx, 0)?;
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Reshape",
        class: OpClass::Other,
        opsets: Opsets::range(1, 4),
        roles: &[Role::Data],
        infer: |cx| {
            let target = cx.req_attr::<&[i64]>("shape")?.iter().map(|&v| Dim::from_i64(v)).collect();
            finish_reshape(cx, target, false)
        },
        cost: no_flops,
        formula: "0 (data movement; shape from the `shape` attribute)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Reshape",
        class: OpClass::Other,
        opsets: Opsets::since(5),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let allowzero = cx.attr_or("allowzero", 0i64)? != 0;
            match (cx.ints(1)?, cx.static_len(1)?) {
                (Some(target), _) => finish_reshape(cx, target.to_vec(), allowzero),
                // A target computed at run time, of a known length: its dims derived.
                (None, Some(rank)) if cx.has_input(1) => {
                    let x = cx.tensor(0)?;
                    let reason = cx.unknown_value_reason(1, "the target shape");
                    let shape = cx.derived_shape(0, rank, &reason);
                    cx.set(0, TensorType::new(x.dtype, shape));
                    Ok(())
                }
                (None, _) => finish_reshape(cx, cx.req_ints(1, "the target shape")?.to_vec(), allowzero),
            }
        },
        cost: no_flops,
        formula: "0 (data movement; shape from input 1)",
    }
}

/// `Flatten`: [∏ dims before axis, ∏ dims from axis].
fn infer_flatten(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis_inclusive(cx.attr_or("axis", 1i64)?, x.rank())?;
    let ty = TensorType::new(
        x.dtype,
        vec![product(&x.shape[..axis]), product(&x.shape[axis..])],
    );
    let data = elements(cx, 0)?;
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Flatten",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_flatten,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Concat ----------------------------------------------------------------------------------

fn infer_concat(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let first = cx.tensor(0)?;
    // `axis` is required from opset 4; before, it defaulted to 1.
    let axis = match cx.attr::<i64>("axis")? {
        Some(a) => a,
        None if cx.opset() < 4 => 1,
        None => {
            return Err(flopscope_ir::AttrError::Missing {
                attr: "axis".into(),
            }
            .into());
        }
    };
    let axis = normalize_axis(axis, first.rank())?;
    let mut shape = first.shape.clone();
    shape[axis] = Dim::zero();
    let mut parts = Vec::new();
    for i in 0..cx.input_count() {
        let Some(t) = cx.opt_tensor(i)? else { continue };
        parts.push((i, t));
        if t.rank() != shape.len() {
            return invalid!(
                "input {i} has shape {}, but input 0 has rank {}",
                t,
                shape.len()
            );
        }
        for (d, (s, o)) in shape.iter_mut().zip(&t.shape).enumerate() {
            if d == axis {
                *s += o;
            } else if let (Some(a), Some(b)) = (s.as_i64(), o.as_i64())
                && a != b
            {
                return invalid!(
                    "input {i} has shape {}, which differs from input 0 {} on axis {d}",
                    t,
                    first
                );
            } else if !s.is_const() && o.is_const() {
                *s = o.clone();
            }
        }
    }
    let ty = TensorType::new(first.dtype, shape);
    let data = fold_concat(cx, &parts, axis, &ty)?;
    set_maybe_value(cx, ty, data);
    Ok(())
}

/// The elements of a concatenation along `axis` when every part's are known: for each index
/// before the axis, each part's block in turn.
fn fold_concat(
    cx: &InferCtx<'_>,
    parts: &[(usize, &TensorType)],
    axis: usize,
    out: &TensorType,
) -> Result<Option<Elements>, OpError> {
    let mut values = Vec::with_capacity(parts.len());
    let mut blocks = Vec::with_capacity(parts.len());
    for &(i, t) in parts {
        let (Some(v), Some(dims)) = (cx.value(i)?, concrete(&t.shape)) else {
            return Ok(None);
        };
        values.push(&v.data);
        blocks.push(dims[axis..].iter().product::<usize>());
    }
    let Some(out_dims) = concrete(&out.shape) else {
        return Ok(None);
    };
    let outer: usize = out_dims[..axis].iter().product();
    let Some(joined) = join(&values) else {
        return Ok(None);
    };
    let mut at = Vec::new();
    for o in 0..outer {
        let mut base = 0;
        for (&block, v) in blocks.iter().zip(&values) {
            at.extend((0..block).map(|k| Some(base + o * block + k)));
            base += v.len();
        }
    }
    Ok(take(&joined, &at, None))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Concat",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_concat,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Gather ----------------------------------------------------------------------------------

fn infer_gather(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let data = cx.tensor(0)?;
    let indices = cx.tensor(1)?;
    if data.rank() == 0 {
        return invalid!("data is a scalar; Gather needs rank ≥ 1");
    }
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, data.rank())?;
    let mut shape = data.shape[..axis].to_vec();
    shape.extend(indices.shape.iter().cloned());
    shape.extend(data.shape[axis + 1..].iter().cloned());
    let ty = TensorType::new(data.dtype, shape);
    let folded = fold_gather(cx, data, axis)?;
    set_maybe_value(cx, ty, folded);
    Ok(())
}

/// `out[o, j, i] = data[o, idx[j], i]` over outer, index and inner positions.
fn fold_gather(
    cx: &InferCtx<'_>,
    data: &TensorType,
    axis: usize,
) -> Result<Option<Elements>, OpError> {
    let (Some(values), Some(idx)) = (cx.value(0)?, cx.value(1)?) else {
        return Ok(None);
    };
    let (Some(dims), Some(idx)) = (concrete(&data.shape), idx.as_i64s()) else {
        return Ok(None);
    };
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let len = dims[axis] as i64;
    if (outer.saturating_mul(idx.len()).saturating_mul(inner)) as u64 > MAX_FOLDED_ELEMENTS {
        return Ok(None);
    }
    let mut at = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &j in &idx {
            let k = if j < 0 { j + len } else { j };
            if !(0..len).contains(&k) {
                return invalid!("index {j} is out of range for axis {axis} of size {len}");
            }
            let base = (o * dims[axis] + k as usize) * inner;
            at.extend((base..base + inner).map(Some));
        }
    }
    Ok(take(&values.data, &at, None))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Gather",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config],
        infer: infer_gather,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Unsqueeze, Squeeze ----------------------------------------------------------------------

fn finish_unsqueeze(cx: &mut InferCtx<'_>, axes: &[i64]) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rank = x.rank() + axes.len();
    let mut positions = axes
        .iter()
        .map(|&a| normalize_axis(a, rank))
        .collect::<Result<Vec<_>, _>>()?;
    positions.sort_unstable();
    if positions.windows(2).any(|w| w[0] == w[1]) {
        return invalid!("axes {axes:?} repeat an axis");
    }
    let mut rest = x.shape.iter();
    let shape = (0..rank)
        .map(|i| {
            if positions.binary_search(&i).is_ok() {
                Dim::one()
            } else {
                rest.next().cloned().unwrap_or_else(Dim::one)
            }
        })
        .collect();
    let ty = TensorType::new(x.dtype, shape);
    let data = elements(cx, 0)?;
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Unsqueeze",
        class: OpClass::Other,
        opsets: Opsets::range(1, 12),
        roles: &[Role::Data],
        infer: |cx| {
            let axes = cx.req_attr::<&[i64]>("axes")?.to_vec();
            finish_unsqueeze(cx, &axes)
        },
        cost: no_flops,
        formula: "0 (data movement; axes attribute)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Unsqueeze",
        class: OpClass::Other,
        opsets: Opsets::since(13),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let axes = cx.req_i64s(1, "axes")?;
            finish_unsqueeze(cx, &axes)
        },
        cost: no_flops,
        formula: "0 (data movement; axes input)",
    }
}

/// Removes `axes`, or every dim known to be 1 when no axes are given (a symbolic dim is
/// assumed not to be 1).
fn finish_squeeze(cx: &mut InferCtx<'_>, axes: Option<Vec<i64>>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let drop: Vec<usize> = match axes {
        Some(axes) => {
            let drop = axes
                .iter()
                .map(|&a| normalize_axis(a, x.rank()))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(&a) = drop
                .iter()
                .find(|&&a| x.shape[a].as_i64().is_some_and(|v| v != 1))
            {
                return invalid!("cannot squeeze axis {a} of X {}: its size is not 1", x);
            }
            drop
        }
        None => (0..x.rank())
            .filter(|&i| x.shape[i].as_i64() == Some(1))
            .collect(),
    };
    let shape = x
        .shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, d)| d.clone())
        .collect();
    let ty = TensorType::new(x.dtype, shape);
    let data = elements(cx, 0)?;
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Squeeze",
        class: OpClass::Other,
        opsets: Opsets::range(1, 12),
        roles: &[Role::Data],
        infer: |cx| {
            let axes = cx.attr::<&[i64]>("axes")?.map(<[i64]>::to_vec);
            finish_squeeze(cx, axes)
        },
        cost: no_flops,
        formula: "0 (data movement; axes attribute)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Squeeze",
        class: OpClass::Other,
        opsets: Opsets::since(13),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let axes = if cx.has_input(1) { Some(cx.req_i64s(1, "axes")?) } else { None };
            finish_squeeze(cx, axes)
        },
        cost: no_flops,
        formula: "0 (data movement; axes input)",
    }
}

// ---- Transpose, Identity, Dropout, Cast ------------------------------------------------------

fn infer_transpose(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rank = x.rank();
    let perm: Vec<usize> = match cx.attr::<&[i64]>("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => {
            let perm = p
                .iter()
                .map(|&a| normalize_axis(a, rank))
                .collect::<Result<Vec<_>, _>>()?;
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return invalid!(
                    "perm {p:?} is not a permutation of the {rank} axes of X {}",
                    x
                );
            }
            perm
        }
    };
    let shape: Vec<Dim> = perm.iter().map(|&p| x.shape[p].clone()).collect();
    let ty = TensorType::new(x.dtype, shape);
    // Output index i reads input index j with j[perm[k]] = i[k].
    let data = match concrete(&x.shape) {
        Some(in_dims) => {
            let st = strides(&in_dims);
            fold_map(cx.value(0)?.map(|v| &v.data), &ty.shape, None, |idx| {
                Some(idx.iter().zip(&perm).map(|(&i, &p)| i * st[p]).sum())
            })
        }
        None => None,
    };
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Transpose",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_transpose,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Identity",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| match cx.input_type(0)? {
            Some(ValueType::Tensor(x)) => {
                let x = x.clone();
                let data = elements(cx, 0)?;
                set_maybe_value(cx, x, data);
                Ok(())
            }
            // Sequences and optionals (opset 14 and 16) pass through.
            Some(other) => {
                let other = other.clone();
                cx.set_type(0, other);
                Ok(())
            }
            None => Err(OpError::MissingInput(0)),
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

/// At inference Dropout is the identity; the optional mask has X's shape (bool from opset 10).
fn infer_dropout(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let mask_dtype = if cx.opset() >= 10 {
        DType::Bool
    } else {
        x.dtype
    };
    cx.set(1, TensorType::new(mask_dtype, x.shape.clone()));
    same_as_input(cx)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Dropout",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_dropout,
        cost: no_flops,
        formula: "0 (identity at inference)",
    }
}

/// `Cast`: X's shape in the `to` type; known elements convert (`convert::cast_elem`).
fn infer_cast(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    // Opset 1-5 gave `to` as a type name; from 6 it is the element type code.
    let to = match cx.node().raw_attr("to") {
        Some(flopscope_ir::Attr::String(name)) => dtype_by_legacy_name(name)
            .ok_or_else(|| OpError::Invalid(format!("`to` names an unknown type `{name}`")))?,
        _ => {
            let code = cx.req_attr::<i64>("to")?;
            i32::try_from(code)
                .ok()
                .and_then(DType::from_code)
                .ok_or_else(|| OpError::Invalid(format!("`to` = {code} is not an element type")))?
        }
    };
    let ty = TensorType::new(to, x.shape.clone());
    // Known elements convert as Cast defines (to bool: non-zero; to integers: wrapped).
    let fold = move |e: &[Elem<'_>]| cast_elem(*e.first()?, to);
    set_folded(cx, ty, &[0], Some(&fold))
}

fn dtype_by_legacy_name(name: &str) -> Option<DType> {
    Some(match name.to_ascii_uppercase().as_str() {
        "FLOAT" => DType::Float32,
        "FLOAT16" => DType::Float16,
        "DOUBLE" => DType::Float64,
        "INT8" => DType::Int8,
        "INT16" => DType::Int16,
        "INT32" => DType::Int32,
        "INT64" => DType::Int64,
        "UINT8" => DType::Uint8,
        "UINT16" => DType::Uint16,
        "UINT32" => DType::Uint32,
        "UINT64" => DType::Uint64,
        "BOOL" => DType::Bool,
        "STRING" => DType::String,
        _ => return None,
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Cast",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_cast,
        cost: no_flops,
        formula: "0 (conversion, counted as data movement)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn shape_gather_unsqueeze_concat_reshape_fold_symbolically() {
        // x: [batch, 3, h, w]; Shape → Gather(0) gives `batch`.
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .then("Gather")
            .const_i64s(&[], &[0])
            .int("axis", 0)
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.value(0).as_deref(), Some("[batch]"));

        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .then("Gather")
            .const_i64s(&[1], &[0])
            .then("Concat")
            .const_i64s(&[1], &[-1])
            .int("axis", 0)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[batch, -1]"));

        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .then("Gather")
            .const_i64s(&[], &[0])
            .then("Unsqueeze")
            .const_i64s(&[1], &[0])
            .run();
        assert_eq!(r.shape(0), "[1]");
        assert_eq!(r.value(0).as_deref(), Some("[batch]"));

        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .int("start", -2)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[h, w]"));
    }

    #[test]
    fn reshape_infers_minus_one_and_copies_zero() {
        let r = Case::new("Reshape")
            .input_sym("float32", &["batch", "1280", "1", "1"])
            .const_i64s(&[2], &[0, -1])
            .run();
        assert_eq!(r.shape(0), "[batch, 1280]");
        let r = Case::new("Reshape")
            .input(t("float32", &[2, 3, 4]))
            .const_i64s(&[3], &[4, -1, 2])
            .run();
        assert_eq!(r.shape(0), "[4, 3, 2]");
        let r = Case::new("Reshape")
            .opset(4)
            .input(t("float32", &[1, 256, 6, 6]))
            .ints("shape", &[1, 9216])
            .run();
        assert_eq!(r.shape(0), "[1, 9216]");
        let err = Case::new("Reshape")
            .input(t("float32", &[2, 3, 5]))
            .const_i64s(&[2], &[4, -1])
            .run_err();
        assert!(err.contains("30 is not a multiple of 4"), "{err}");
        // A target computed at run time: one derived dim per element, named after the node.
        let r = Case::new("Reshape")
            .input(t("float32", &[2, 3]))
            .input(t("int64", &[2]))
            .run();
        assert_eq!(r.shape(0), "[node0_d0, node0_d1]");
        assert_eq!(
            r.derived(),
            [
                "node0_d0: the target shape (input 1, `n0_in1`) is computed at run time",
                "node0_d1: the target shape (input 1, `n0_in1`) is computed at run time"
            ]
        );
    }

    #[test]
    fn a_minus_one_that_does_not_divide_symbolically_is_derived() {
        // [b, n, 4] to [b, 3, -1]: 4n/3 elements per row, a whole number for some n only.
        let r = Case::new("Reshape")
            .input_sym("float32", &["b", "n", "4"])
            .const_i64s(&[3], &[0, 3, -1])
            .run();
        assert_eq!(r.shape(0), "[b, 3, node0_d2]");
        assert_eq!(r.derived().len(), 1);
        assert!(
            r.derived()[0].contains("does not divide out symbolically"),
            "{:?}",
            r.derived()
        );
        // With numbers it is exact, and a contradiction is an error.
        let r = Case::new("Reshape")
            .input(t("float32", &[2, 6, 4]))
            .const_i64s(&[3], &[0, 3, -1])
            .run();
        assert_eq!(r.shape(0), "[2, 3, 8]");
        let err = Case::new("Reshape")
            .input(t("float32", &[2, 5, 4]))
            .const_i64s(&[3], &[0, 3, -1])
            .run_err();
        assert!(err.contains("not a multiple"), "{err}");
    }

    #[test]
    fn flatten_concat_squeeze_transpose() {
        let r = Case::new("Flatten")
            .input_sym("float32", &["batch", "1280", "1", "1"])
            .run();
        assert_eq!(r.shape(0), "[batch, 1280]");
        let r = Case::new("Flatten")
            .input(t("float32", &[2, 3, 4]))
            .int("axis", 0)
            .run();
        assert_eq!(r.shape(0), "[1, 24]");

        let r = Case::new("Concat")
            .input(t("float32", &[1, 64, 55, 55]))
            .input(t("float32", &[1, 64, 55, 55]))
            .int("axis", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 128, 55, 55]");
        let err = Case::new("Concat")
            .input(t("float32", &[1, 64, 55, 55]))
            .input(t("float32", &[1, 64, 54, 55]))
            .int("axis", 1)
            .run_err();
        assert!(err.contains("axis 2"), "{err}");

        let r = Case::new("Squeeze")
            .input(t("float32", &[1, 3, 1, 5]))
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.shape(0), "[1, 3, 5]");
        let r = Case::new("Squeeze")
            .opset(11)
            .input(t("float32", &[1, 3, 1, 5]))
            .run();
        assert_eq!(r.shape(0), "[3, 5]");

        let r = Case::new("Transpose")
            .input(t("float32", &[1, 2, 3, 4]))
            .ints("perm", &[0, 2, 1, 3])
            .run();
        assert_eq!(r.shape(0), "[1, 3, 2, 4]");
        let r = Case::new("Transpose").input(t("float32", &[2, 3])).run();
        assert_eq!(r.shape(0), "[3, 2]");
    }

    #[test]
    fn size_is_the_element_count() {
        let r = Case::new("Size")
            .input_sym("float32", &["batch", "3", "7"])
            .run();
        assert_eq!(
            (r.shape(0), r.value(0)),
            ("[]".into(), Some("[21*batch]".into()))
        );
    }

    #[test]
    fn movement_ops_cost_nothing() {
        let r = Case::new("Dropout")
            .input(t("float32", &[4, 4]))
            .outputs(2)
            .run();
        assert_eq!(r.shape(1), "[4, 4]");
        assert_eq!(r.dtype(1), flopscope_ir::DType::Bool);
        assert_eq!((r.macs(), r.flops_add(), r.flops_cmp()), (0, 0, 0));
        let r = Case::new("Cast")
            .const_i64s(&[2], &[3, 4])
            .int("to", 6)
            .run();
        assert_eq!(r.dtype(0), flopscope_ir::DType::Int32);
        assert_eq!(r.value(0).as_deref(), Some("[3, 4]"));
        // int → float → int round trip (a window length through Range).
        let r = Case::new("Cast")
            .const_i64s(&[2], &[3, 0])
            .int("to", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[3.0, 0.0]"));
        let r = Case::new("Cast")
            .const_f32s(&[2], &[2.7, -1.5])
            .int("to", 7)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2, -1]"));
        let r = Case::new("Cast")
            .const_f32s(&[2], &[2.7, 0.0])
            .int("to", 9)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 0]"));
    }
}
