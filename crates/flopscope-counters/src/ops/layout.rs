//! Layout ops that cut, repeat, pad and rearrange tensors: Slice, Split, Expand, Tile, Pad,
//! CenterCropPad, DepthToSpace, SpaceToDepth, Trilu, ReverseSequence, TensorScatter.
//!
//! All are data movement: 0 FLOPs (their bytes still count). Where their inputs' integer elements
//! are known (shape vectors), Slice, Expand, Tile and constant Pad fold them.

use flopscope_ir::{Dim, Elements, TensorType, TensorValue};

use super::fold::{concrete, fold_map, set_maybe_value, strides};
use super::no_flops;

/// The known elements of input `i`.
fn elements_of<'a>(cx: &InferCtx<'a>, i: usize) -> Result<Option<&'a Elements>, OpError> {
    Ok(cx.value(i)?.map(|v| &v.data))
}
use crate::ctx::derived_axis_name;
use crate::{
    InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid, normalize_axis,
    shape_string,
};

/// Ends at least this large (INT_MAX, INT64_MAX) mean "to the end" of a symbolic dim; starts or
/// ends at most its negation mean "before the start".
const END_SENTINEL: i64 = i32::MAX as i64;

// ---- Slice -----------------------------------------------------------------------------------

/// Whether a start or end is negative (counts from the end). A symbolic value whose sign is
/// unknown is taken as non-negative: such values are computed from sizes.
fn is_negative(v: &Dim) -> bool {
    v.compare(&Dim::zero()) == Some(std::cmp::Ordering::Less)
}

/// The (start, size) of a slice of a dim of size `d` from `start` to `end` by `step` (≠ 0), with
/// the spec's clamping: positive steps clamp into `[0, d]`, negative ones start in `[0, d−1]`
/// and end in `[−1, d−1]`.
///
/// When `d` is a symbol and a start or end a constant, the symbol is assumed to be at least as
/// large as the constant offsets (`x[-1:]` has 1 element, `x[1:]` has `d − 1`): a valid model
/// relies on that, and the clamped forms (`d + 1 − max(d, 1)`) would hide it. An end past `d`
/// still clamps (`x[:10]` has `min(d, 10)` elements), and INT_MAX / INT_MIN sentinels mean "to
/// the end".
fn slice_dim(d: &Dim, start: &Dim, end: &Dim, step: i64) -> Result<(Dim, Dim), OpError> {
    let zero = Dim::zero();
    let minus_one = Dim::from_i64(-1);
    let last = d - 1;
    let huge = |v: &Dim| v.as_i64().is_some_and(|x| x >= END_SENTINEL);
    let tiny = |v: &Dim| v.as_i64().is_some_and(|x| x <= -END_SENTINEL);
    let resolve = |v: &Dim| {
        if is_negative(v) { v + d } else { v.clone() }
    };
    // Assume the symbolic dim accommodates constant offsets.
    let assume = !d.is_const();
    let (s, e) = if step > 0 {
        let s = if huge(start) {
            d.clone()
        } else if tiny(start) {
            zero.clone()
        } else if assume && start.is_const() {
            resolve(start)
        } else if is_negative(start) {
            resolve(start).max(&zero)
        } else {
            start.min(d)
        };
        let e = if huge(end) {
            d.clone()
        } else if tiny(end) {
            zero.clone()
        } else if is_negative(end) {
            if assume {
                resolve(end)
            } else {
                resolve(end).max(&zero)
            }
        } else {
            end.min(d)
        };
        (s, e)
    } else {
        let s = if huge(start) {
            last.clone()
        } else if tiny(start) {
            minus_one.clone()
        } else if assume && start.is_const() && is_negative(start) {
            resolve(start)
        } else {
            resolve(start).max(&zero).min(&last)
        };
        let e = if huge(end) {
            last.clone()
        } else if tiny(end) {
            minus_one.clone()
        } else if assume && end.is_const() {
            resolve(end)
        } else {
            resolve(end).max(&minus_one).min(&last)
        };
        (s, e)
    };
    let size = if step > 0 {
        (&e - &s).ceil_div(step)
    } else {
        (&s - &e).ceil_div(step.saturating_neg())
    }
    .map_err(|e| OpError::Invalid(e.to_string()))?;
    let size = if size.is_const() || !assume {
        size.max(&zero)
    } else {
        size
    };
    Ok((s, size))
}

fn finish_slice(
    cx: &mut InferCtx<'_>,
    starts: &[Dim],
    ends: &[Dim],
    axes: Option<Vec<i64>>,
    steps: Option<Vec<i64>>,
) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let n = starts.len();
    if ends.len() != n {
        return invalid!(
            "starts {} and ends {} differ in length",
            shape_string(starts),
            shape_string(ends)
        );
    }
    let axes = axes.unwrap_or_else(|| (0..n as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; n]);
    if axes.len() != n || steps.len() != n {
        return invalid!(
            "starts has {n} elements, axes {axes:?} and steps {steps:?} must have as many"
        );
    }
    let mut shape = x.shape.clone();
    let mut begin = vec![Dim::zero(); x.rank()];
    let mut stride = vec![1i64; x.rank()];
    let mut seen = vec![false; x.rank()];
    for i in 0..n {
        let a = normalize_axis(axes[i], x.rank())?;
        if std::mem::replace(&mut seen[a], true) {
            return invalid!("axes {axes:?} repeat axis {a}");
        }
        if steps[i] == 0 {
            return invalid!("steps {steps:?} has a 0");
        }
        let (s, size) = slice_dim(&x.shape[a], &starts[i], &ends[i], steps[i])?;
        shape[a] = size;
        begin[a] = s;
        stride[a] = steps[i];
    }
    let ty = TensorType::new(x.dtype, shape);
    let begin: Option<Vec<i64>> = begin.iter().map(Dim::as_i64).collect();
    let data = match (begin, concrete(&x.shape)) {
        (Some(begin), Some(in_dims)) => {
            let st = strides(&in_dims);
            fold_map(elements_of(cx, 0)?, &ty.shape, None, |idx| {
                let mut flat = 0i64;
                for (a, &o) in idx.iter().enumerate() {
                    flat += (begin[a] + o as i64 * stride[a]) * st[a] as i64;
                }
                usize::try_from(flat).ok()
            })
        }
        _ => None,
    };
    set_maybe_value(cx, ty, data);
    Ok(())
}

/// Sets output 0 to X's type with the sizes of `axes` (all axes when `None`) derived: for ops
/// whose amounts (pads, slice bounds) are computed at run time.
fn derive_axes(cx: &mut InferCtx<'_>, axes: Option<&[i64]>, reason: &str) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut shape = x.shape.clone();
    match axes {
        Some(axes) => {
            for &a in axes {
                let a = normalize_axis(a, x.rank())?;
                shape[a] = cx.derived_dim(&derived_axis_name(0, a), reason);
            }
        }
        None => shape = cx.derived_shape(0, x.rank(), reason),
    }
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

fn dims_of(v: &[i64]) -> Vec<Dim> {
    v.iter().map(|&x| Dim::from_i64(x)).collect()
}

fn infer_slice_1(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let starts = dims_of(cx.req_attr::<&[i64]>("starts")?);
    let ends = dims_of(cx.req_attr::<&[i64]>("ends")?);
    let axes = cx.attr::<&[i64]>("axes")?.map(<[i64]>::to_vec);
    finish_slice(cx, &starts, &ends, axes, None)
}

fn infer_slice_10(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let axes = if cx.has_input(3) {
        Some(cx.req_i64s(3, "axes")?)
    } else {
        None
    };
    let (starts, ends) = match (cx.ints(1)?, cx.ints(2)?) {
        (Some(s), Some(e)) => (s.to_vec(), e.to_vec()),
        // Bounds computed at run time: the sliced axes' sizes are derived.
        (s, _) => {
            let (i, what) = if s.is_none() {
                (1, "starts")
            } else {
                (2, "ends")
            };
            if !cx.has_input(i) {
                return Err(OpError::MissingInput(i));
            }
            let reason = cx.unknown_value_reason(i, what);
            return derive_axes(cx, axes.as_deref(), &reason);
        }
    };
    let steps = if cx.has_input(4) {
        Some(cx.req_i64s(4, "steps")?)
    } else {
        None
    };
    finish_slice(cx, &starts, &ends, axes, steps)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Slice",
        class: OpClass::Other,
        opsets: Opsets::range(1, 9),
        roles: &[Role::Data],
        infer: infer_slice_1,
        cost: no_flops,
        formula: "0 (data movement; starts/ends/axes attributes)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Slice",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Config],
        infer: infer_slice_10,
        cost: no_flops,
        formula: "0 (data movement; starts/ends/axes/steps inputs)",
    }
}

// ---- Split -----------------------------------------------------------------------------------

/// The sizes the `split` input gives; when they are computed at run time, one derived dim per
/// output (the size of its part).
fn split_input(cx: &InferCtx<'_>) -> Result<Option<Vec<Dim>>, OpError> {
    if let Some(sizes) = cx.ints(1)? {
        return Ok(Some(sizes.to_vec()));
    }
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, cx.tensor(0)?.rank())?;
    let reason = cx.unknown_value_reason(1, "split");
    Ok(Some(
        (0..cx.output_count())
            .map(|j| cx.derived_dim(&derived_axis_name(j, axis), &reason))
            .collect(),
    ))
}

/// Sets the outputs of a split of X along `axis` into `sizes` (or, without sizes, into as many
/// equal parts as there are outputs; with `uneven`, the last part may be smaller).
fn finish_split(
    cx: &mut InferCtx<'_>,
    sizes: Option<Vec<Dim>>,
    parts: usize,
    uneven: bool,
) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, x.rank())?;
    let d = &x.shape[axis];
    let sizes = match sizes {
        Some(sizes) => {
            if sizes.len() != cx.output_count() {
                return invalid!(
                    "split {} has {} sizes for {} outputs",
                    shape_string(&sizes),
                    sizes.len(),
                    cx.output_count()
                );
            }
            let total: Dim = sizes.iter().sum();
            if total.is_overflow() {
                return invalid!("split {} adds up past 2^63", shape_string(&sizes));
            }
            if let (Some(a), Some(b)) = (total.as_i64(), d.as_i64())
                && a != b
            {
                return invalid!(
                    "split {} adds up to {a}, but axis {axis} of X {x} has {b}",
                    shape_string(&sizes)
                );
            }
            sizes
        }
        None => {
            if parts == 0 {
                return invalid!("Split has no outputs");
            }
            let p = parts as i64;
            match d.as_i64() {
                Some(v) if v % p == 0 => vec![Dim::from_i64(v / p); parts],
                Some(v) if uneven => {
                    // Chunks of ceil(v/p), the last one what is left.
                    let chunk = (v + p - 1) / p;
                    let mut left = v;
                    (0..parts)
                        .map(|_| {
                            let c = chunk.min(left).max(0);
                            left -= c;
                            Dim::from_i64(c)
                        })
                        .collect()
                }
                Some(v) => {
                    return invalid!(
                        "axis {axis} of X {x} ({v}) does not split into {parts} equal parts"
                    );
                }
                None => {
                    let err = |e: flopscope_ir::DimError| OpError::Invalid(e.to_string());
                    if uneven {
                        let chunk = d.ceil_div(p).map_err(err)?;
                        let mut sizes = vec![chunk.clone(); parts];
                        if let Some(last) = sizes.last_mut() {
                            *last = d - &(chunk * (p - 1));
                        }
                        sizes
                    } else {
                        vec![d.floor_div(p).map_err(err)?; parts]
                    }
                }
            }
        }
    };
    // Known elements split into known parts: each part reads X from its offset along the axis.
    // Sizes past X's extent (or past `usize`) leave the parts unfolded.
    let in_dims = concrete(&x.shape);
    let data = cx.value(0)?.map(|v| v.data.clone());
    let mut offset = 0usize;
    for (i, s) in sizes.into_iter().enumerate() {
        let n = s
            .as_i64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut shape = x.shape.clone();
        shape[axis] = s;
        let ty = TensorType::new(x.dtype, shape);
        let fits = offset
            .checked_add(n)
            .zip(in_dims.as_ref())
            .is_some_and(|(end, dims)| end <= dims[axis]);
        let part = match (&in_dims, fits) {
            (Some(dims), true) => {
                let st = strides(dims);
                fold_map(data.as_ref(), &ty.shape, None, |idx| {
                    Some(
                        idx.iter()
                            .enumerate()
                            .map(|(a, &k)| if a == axis { k + offset } else { k } * st[a])
                            .sum(),
                    )
                })
            }
            _ => None,
        };
        offset = offset.saturating_add(n);
        match (part, concrete(&ty.shape)) {
            (Some(data), Some(shape)) => cx.set_value(
                i,
                TensorValue {
                    dtype: x.dtype,
                    shape,
                    data,
                },
            ),
            _ => cx.set(i, ty),
        }
    }
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Split",
        class: OpClass::Other,
        opsets: Opsets::range(1, 1),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let sizes = match cx.attr::<&[i64]>("split")? {
                Some(s) => Some(dims_of(s)),
                None if cx.has_input(1) => split_input(cx)?,
                None => None,
            };
            let parts = cx.output_count();
            finish_split(cx, sizes, parts, false)
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Split",
        class: OpClass::Other,
        opsets: Opsets::range(2, 12),
        roles: &[Role::Data],
        infer: |cx| {
            let sizes = cx.attr::<&[i64]>("split")?.map(dims_of);
            let parts = cx.output_count();
            finish_split(cx, sizes, parts, false)
        },
        cost: no_flops,
        formula: "0 (data movement; split attribute)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Split",
        class: OpClass::Other,
        opsets: Opsets::range(13, 17),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let sizes = if cx.has_input(1) { split_input(cx)? } else { None };
            let parts = cx.output_count();
            finish_split(cx, sizes, parts, false)
        },
        cost: no_flops,
        formula: "0 (data movement; split input)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Split",
        class: OpClass::Other,
        opsets: Opsets::since(18),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let sizes = if cx.has_input(1) { split_input(cx)? } else { None };
            let num = cx.attr::<i64>("num_outputs")?;
            if sizes.is_some() && num.is_some() {
                return invalid!("Split has both the split input and `num_outputs`");
            }
            let parts = match num {
                Some(n) if n < 1 => return invalid!("num_outputs = {n} must be positive"),
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => cx.output_count(),
            };
            if sizes.is_none() && parts != cx.output_count() {
                return invalid!(
                    "num_outputs = {parts}, but the node has {} outputs",
                    cx.output_count()
                );
            }
            finish_split(cx, sizes, parts, true)
        },
        cost: no_flops,
        formula: "0 (data movement; split input or num_outputs)",
    }
}

// ---- Expand, Tile ----------------------------------------------------------------------------

/// Flat index into concrete `in_dims` of the element that output index `idx` reads when the
/// input is broadcast to the output (right-aligned, size-1 dims repeat).
fn broadcast_source(in_dims: &[usize], st: &[usize], idx: &[usize]) -> usize {
    let offset = idx.len() - in_dims.len();
    in_dims
        .iter()
        .zip(st)
        .enumerate()
        .map(|(a, (&d, &s))| if d == 1 { 0 } else { idx[offset + a] * s })
        .sum()
}

fn infer_expand(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let shape = match (cx.ints(1)?, cx.static_len(1)?) {
        (Some(target), _) => broadcast(&[&x.shape, target])?,
        // A target computed at run time: X's dims that are numbers other than 1 stay (a valid
        // target has 1 or the same number there), the others are derived.
        (None, Some(n)) if cx.has_input(1) => {
            let reason = cx.unknown_value_reason(1, "the target shape");
            let rank = n.max(x.rank());
            let offset = rank - x.rank();
            (0..rank)
                .map(|a| match a.checked_sub(offset).map(|i| &x.shape[i]) {
                    Some(d) if d.as_i64().is_some_and(|v| v != 1) => d.clone(),
                    _ => cx.derived_dim(&derived_axis_name(0, a), &reason),
                })
                .collect()
        }
        (None, _) => broadcast(&[&x.shape, cx.req_ints(1, "the target shape")?])?,
    };
    let ty = TensorType::new(x.dtype, shape);
    let data = match concrete(&x.shape) {
        Some(in_dims) => {
            let st = strides(&in_dims);
            fold_map(elements_of(cx, 0)?, &ty.shape, None, |idx| {
                Some(broadcast_source(&in_dims, &st, idx))
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
        op_type: "Expand",
        class: OpClass::Other,
        opsets: Opsets::since(8),
        roles: &[Role::Data, Role::Config],
        infer: infer_expand,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

fn finish_tile(cx: &mut InferCtx<'_>, repeats: &[Dim]) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if repeats.len() != x.rank() {
        return invalid!(
            "repeats {} must have one element per axis of X {x}",
            shape_string(repeats)
        );
    }
    if let Some(r) = repeats.iter().find(|r| is_negative(r)) {
        return invalid!("repeats {} has the negative {r}", shape_string(repeats));
    }
    let shape = x.shape.iter().zip(repeats).map(|(d, r)| d * r).collect();
    let ty = TensorType::new(x.dtype, shape);
    let data = match concrete(&x.shape) {
        Some(in_dims) => {
            let st = strides(&in_dims);
            fold_map(elements_of(cx, 0)?, &ty.shape, None, |idx| {
                Some(
                    idx.iter()
                        .zip(&in_dims)
                        .zip(&st)
                        .map(|((&i, &d), &s)| (i % d.max(1)) * s)
                        .sum(),
                )
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
        op_type: "Tile",
        class: OpClass::Other,
        opsets: Opsets::range(1, 5),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            // Tile-1: `tiles` copies along the single axis `axis`, both scalar inputs.
            let rank = cx.tensor(0)?.rank();
            let tiles = cx.req_ints(1, "tiles")?.first().cloned()
                .ok_or_else(|| OpError::Invalid("tiles is empty".into()))?;
            let axis = cx.req_i64s(2, "axis")?.first().copied()
                .ok_or_else(|| OpError::Invalid("axis is empty".into()))?;
            let axis = normalize_axis(axis, rank)?;
            let mut repeats = vec![Dim::one(); rank];
            repeats[axis] = tiles;
            finish_tile(cx, &repeats)
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Tile",
        class: OpClass::Other,
        opsets: Opsets::since(6),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            match cx.ints(1)? {
                Some(repeats) => finish_tile(cx, repeats),
                None if cx.has_input(1) => {
                    let x = cx.tensor(0)?;
                    let reason = cx.unknown_value_reason(1, "repeats");
                    let shape = cx.derived_shape(0, x.rank(), &reason);
                    cx.set(0, TensorType::new(x.dtype, shape));
                    Ok(())
                }
                None => Err(OpError::MissingInput(1)),
            }
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Pad, CenterCropPad ----------------------------------------------------------------------

/// Pads (or, with negative pads, crops) X by `pads` = [begin of each axis..., end of each
/// axis...] over `axes` (all axes when `None`).
fn finish_pad(
    cx: &mut InferCtx<'_>,
    pads: &[Dim],
    axes: Option<Vec<i64>>,
    fill: Option<Elements>,
) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let rank = x.rank();
    let axes = match axes {
        Some(a) => a
            .iter()
            .map(|&a| normalize_axis(a, rank))
            .collect::<Result<Vec<_>, _>>()?,
        None => (0..rank).collect(),
    };
    let n = axes.len();
    if pads.len() != 2 * n {
        return invalid!(
            "pads {} must have 2 × {n} elements for X {x}",
            shape_string(pads)
        );
    }
    let mut shape = x.shape.clone();
    let mut begin = vec![Dim::zero(); rank];
    for (i, &a) in axes.iter().enumerate() {
        shape[a] = &(&shape[a] + &pads[i]) + &pads[i + n];
        begin[a] = &begin[a] + &pads[i];
        if let Some(v) = shape[a].as_i64()
            && v < 0
        {
            return invalid!(
                "pads {} make axis {a} of X {x} negative",
                shape_string(pads)
            );
        }
    }
    let ty = TensorType::new(x.dtype, shape);
    let begin: Option<Vec<i64>> = begin.iter().map(Dim::as_i64).collect();
    let mode = cx.attr_or("mode", "constant")?;
    let data = match (begin, concrete(&x.shape), mode) {
        (Some(begin), Some(in_dims), "constant") => {
            let st = strides(&in_dims);
            fold_map(elements_of(cx, 0)?, &ty.shape, fill.as_ref(), |idx| {
                let mut flat = 0usize;
                for (a, &o) in idx.iter().enumerate() {
                    let i = usize::try_from(o as i64 - begin[a]).ok()?;
                    if i >= in_dims[a] {
                        return None;
                    }
                    flat += i * st[a];
                }
                Some(flat)
            })
        }
        _ => None,
    };
    set_maybe_value(cx, ty, data);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Pad",
        class: OpClass::Other,
        opsets: Opsets::range(1, 10),
        roles: &[Role::Data],
        infer: |cx| {
            // `paddings` in Pad-1, `pads` from Pad-2.
            let pads = match cx.attr::<&[i64]>("pads")? {
                Some(p) => dims_of(p),
                None => dims_of(cx.req_attr::<&[i64]>("paddings")?),
            };
            // Pad-2's `value` (float tensors only), 0 by default.
            let fill = match cx.attr::<f32>("value")? {
                Some(v) if v != 0.0 => Elements::Float(vec![f64::from(v)]),
                _ => Elements::Int(vec![Dim::zero()]),
            };
            finish_pad(cx, &pads, None, Some(fill))
        },
        cost: no_flops,
        formula: "0 (data movement; pads attribute)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Pad",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config, Role::Config, Role::Config],
        infer: |cx| {
            let axes = if cx.has_input(3) { Some(cx.req_i64s(3, "axes")?) } else { None };
            let Some(pads) = cx.ints(1)?.map(<[Dim]>::to_vec) else {
                // Pads computed at run time: the padded axes' sizes are derived.
                if !cx.has_input(1) {
                    return Err(OpError::MissingInput(1));
                }
                let reason = cx.unknown_value_reason(1, "pads");
                return derive_axes(cx, axes.as_deref(), &reason);
            };
            // An unknown constant value only stops the folding of padded elements.
            let fill = if cx.has_input(2) {
                cx.value(2)?.map(|v| v.data.clone())
            } else {
                Some(Elements::Int(vec![Dim::zero()]))
            };
            finish_pad(cx, &pads, axes, fill)
        },
        cost: no_flops,
        formula: "0 (data movement; pads, constant_value, axes inputs)",
    }
}

fn infer_center_crop_pad(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let target = cx.req_ints(1, "the target shape")?.to_vec();
    let rank = x.rank();
    let axes = match cx.attr::<&[i64]>("axes")? {
        Some(a) => a
            .iter()
            .map(|&a| normalize_axis(a, rank))
            .collect::<Result<Vec<_>, _>>()?,
        None => (0..rank).collect(),
    };
    if axes.len() != target.len() {
        return invalid!(
            "shape {} must have one element per axis in {axes:?}",
            shape_string(&target)
        );
    }
    let mut shape = x.shape.clone();
    for (&a, t) in axes.iter().zip(target) {
        shape[a] = t;
    }
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "CenterCropPad",
        class: OpClass::Other,
        opsets: Opsets::since(18),
        roles: &[Role::Data, Role::Config],
        infer: infer_center_crop_pad,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- DepthToSpace, SpaceToDepth --------------------------------------------------------------

fn block_size<'a>(cx: &InferCtx<'a>) -> Result<(&'a TensorType, i64), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() != 4 {
        return invalid!("X {x} must be 4-D [N, C, H, W]");
    }
    let b = cx.req_attr::<i64>("blocksize")?;
    if b < 1 {
        return invalid!("blocksize = {b} must be positive");
    }
    Ok((x, b))
}

fn infer_depth_to_space(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (x, b) = block_size(cx)?;
    let c = x.shape[1].div_exact(&Dim::from_i64(b * b)).ok_or_else(|| {
        OpError::Invalid(format!(
            "channels of X {x} are not a multiple of blocksize² = {}",
            b * b
        ))
    })?;
    let shape = vec![x.shape[0].clone(), c, &x.shape[2] * b, &x.shape[3] * b];
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

fn infer_space_to_depth(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (x, b) = block_size(cx)?;
    let bd = Dim::from_i64(b);
    let (h, w) = match (x.shape[2].div_exact(&bd), x.shape[3].div_exact(&bd)) {
        (Some(h), Some(w)) => (h, w),
        _ => return invalid!("height and width of X {x} must be multiples of blocksize {b}"),
    };
    let shape = vec![x.shape[0].clone(), &x.shape[1] * (b * b), h, w];
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DepthToSpace",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_depth_to_space,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "SpaceToDepth",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_space_to_depth,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Trilu, ReverseSequence, TensorScatter ---------------------------------------------------

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Trilu",
        class: OpClass::Other,
        opsets: Opsets::since(14),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let x = cx.tensor(0)?;
            if x.rank() < 2 {
                return invalid!("X {x} must have rank ≥ 2");
            }
            let x = x.clone();
            cx.set(0, x);
            Ok(())
        },
        cost: no_flops,
        formula: "0 (masking copy)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ReverseSequence",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let x = cx.tensor(0)?;
            if x.rank() < 2 {
                return invalid!("X {x} must have rank ≥ 2");
            }
            let x = x.clone();
            cx.set(0, x);
            Ok(())
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "TensorScatter",
        class: OpClass::Other,
        opsets: Opsets::since(24),
        roles: &[Role::Data, Role::Data, Role::Config],
        infer: |cx| {
            let past = cx.tensor(0)?.clone();
            let update = cx.tensor(1)?;
            if update.rank() != past.rank() {
                return invalid!("update {update} and past_cache {past} differ in rank");
            }
            cx.set(0, past);
            Ok(())
        },
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn slice_inputs_negative_steps_and_clamping() {
        // x[1:1000, ::-2] on [20, 10]: 19 rows, 5 columns (9, 7, 5, 3, 1).
        let r = Case::new("Slice")
            .input(t("float32", &[20, 10]))
            .const_i64s(&[2], &[1, -1])
            .const_i64s(&[2], &[1000, i64::MIN])
            .const_i64s(&[2], &[0, 1])
            .const_i64s(&[2], &[1, -2])
            .run();
        assert_eq!(r.shape(0), "[19, 5]");
        assert_eq!((r.macs(), r.flops_add()), (0, 0));
        // Negative start, end past the start: empty.
        let r = Case::new("Slice")
            .input(t("float32", &[20, 10]))
            .const_i64s(&[1], &[-3])
            .const_i64s(&[1], &[2])
            .const_i64s(&[1], &[1])
            .run();
        assert_eq!(r.shape(0), "[20, 0]");
        // Negative step from the end to INT_MIN: the whole axis reversed.
        let r = Case::new("Slice")
            .input(t("float32", &[5]))
            .const_i64s(&[1], &[-1])
            .const_i64s(&[1], &[i64::MIN])
            .const_i64s(&[1], &[0])
            .const_i64s(&[1], &[-1])
            .run();
        assert_eq!(r.shape(0), "[5]");
    }

    #[test]
    fn slice_attributes_and_symbolic_dims() {
        let r = Case::new("Slice")
            .opset(9)
            .input(t("float32", &[20, 10, 5]))
            .ints("starts", &[0, 10])
            .ints("ends", &[3, 1000])
            .ints("axes", &[0, 1])
            .run();
        assert_eq!(r.shape(0), "[3, 0, 5]");
        let r = Case::new("Slice")
            .input_sym("float32", &["batch", "seq", "64"])
            .const_i64s(&[2], &[0, 1])
            .const_i64s(&[2], &[i64::MAX, 9223372036854775807])
            .const_i64s(&[2], &[0, 1])
            .run();
        // The symbol is assumed to hold the constant offset: seq − 1, not max(seq − 1, 0).
        assert_eq!(r.shape(0), "[batch, seq - 1, 64]");
        // x[:, -1:] and x[::-1] on a symbolic axis.
        let r = Case::new("Slice")
            .input_sym("float32", &["batch", "seq"])
            .const_i64s(&[1], &[-1])
            .const_i64s(&[1], &[i64::MAX])
            .const_i64s(&[1], &[1])
            .run();
        assert_eq!(r.shape(0), "[batch, 1]");
        let r = Case::new("Slice")
            .input_sym("float32", &["seq"])
            .const_i64s(&[1], &[-1])
            .const_i64s(&[1], &[i64::MIN])
            .const_i64s(&[1], &[0])
            .const_i64s(&[1], &[-1])
            .run();
        assert_eq!(r.shape(0), "[seq]");
        // x[:, 0:3] on a symbolic axis: min(3, seq).
        let r = Case::new("Slice")
            .input_sym("float32", &["batch", "seq"])
            .const_i64s(&[1], &[0])
            .const_i64s(&[1], &[3])
            .const_i64s(&[1], &[1])
            .run();
        assert_eq!(r.shape(0), "[batch, min(seq, 3)]");
    }

    #[test]
    fn slice_folds_shape_vectors() {
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .then("Slice")
            .const_i64s(&[1], &[-2])
            .const_i64s(&[1], &[i64::MAX])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[h, w]"));
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3", "h", "w"])
            .then("Slice")
            .const_i64s(&[1], &[-1])
            .const_i64s(&[1], &[i64::MIN])
            .const_i64s(&[1], &[0])
            .const_i64s(&[1], &[-2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[w, 3]"));
    }

    #[test]
    fn split_forms_and_uneven_last_chunk() {
        let r = Case::new("Split")
            .input(t("float32", &[2, 6]))
            .int("axis", 1)
            .outputs(3)
            .run();
        assert_eq!((r.shape(0), r.shape(2)), ("[2, 2]".into(), "[2, 2]".into()));
        let r = Case::new("Split")
            .opset(11)
            .input(t("float32", &[6]))
            .ints("split", &[2, 4])
            .outputs(2)
            .run();
        assert_eq!((r.shape(0), r.shape(1)), ("[2]".into(), "[4]".into()));
        let r = Case::new("Split")
            .opset(13)
            .input(t("float32", &[6]))
            .const_i64s(&[2], &[1, 5])
            .outputs(2)
            .run();
        assert_eq!((r.shape(0), r.shape(1)), ("[1]".into(), "[5]".into()));
        // 7 into 4: chunks of ceil(7/4) = 2, the last one 1.
        let r = Case::new("Split")
            .opset(18)
            .input(t("float32", &[7, 3]))
            .int("num_outputs", 4)
            .outputs(4)
            .run();
        assert_eq!((r.shape(0), r.shape(3)), ("[2, 3]".into(), "[1, 3]".into()));
        let r = Case::new("Split")
            .opset(18)
            .input_sym("float32", &["n"])
            .int("num_outputs", 2)
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[ceil(n/2)]");
        let err = Case::new("Split")
            .opset(13)
            .input(t("float32", &[7]))
            .outputs(2)
            .run_err();
        assert!(err.contains("equal parts"), "{err}");
    }

    #[test]
    fn expand_and_tile() {
        let r = Case::new("Expand")
            .input(t("float32", &[3, 1]))
            .const_i64s(&[3], &[2, 1, 6])
            .run();
        assert_eq!(r.shape(0), "[2, 3, 6]");
        let r = Case::new("Expand")
            .const_i64s(&[1], &[7])
            .const_i64s(&[1], &[3])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[7, 7, 7]"));
        let r = Case::new("Tile")
            .input_sym("float32", &["b", "3"])
            .const_i64s(&[2], &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[2*b, 6]");
        let r = Case::new("Tile")
            .const_i64s(&[2], &[1, 2])
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 2, 1, 2]"));
    }

    #[test]
    fn pad_forms() {
        let r = Case::new("Pad")
            .opset(2)
            .input(t("float32", &[1, 3, 4, 5]))
            .ints("pads", &[0, 0, 1, 2, 0, 0, 3, 4])
            .str("mode", "reflect")
            .run();
        assert_eq!(r.shape(0), "[1, 3, 8, 11]");
        let r = Case::new("Pad")
            .opset(18)
            .input(t("float32", &[1, 3, 4, 5]))
            .const_i64s(&[4], &[1, -1, 1, 1])
            .absent()
            .const_i64s(&[2], &[1, 3])
            .run();
        assert_eq!(r.shape(0), "[1, 5, 4, 5]");
        assert_eq!((r.macs(), r.flops_add()), (0, 0));
        let r = Case::new("Pad")
            .opset(13)
            .const_i64s(&[2], &[4, 5])
            .const_i64s(&[2], &[1, 0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0, 4, 5]"));
    }

    #[test]
    fn depth_space_trilu() {
        let r = Case::new("DepthToSpace")
            .input(t("float32", &[1, 8, 2, 3]))
            .int("blocksize", 2)
            .run();
        assert_eq!(r.shape(0), "[1, 2, 4, 6]");
        let r = Case::new("SpaceToDepth")
            .input(t("float32", &[1, 2, 4, 6]))
            .int("blocksize", 2)
            .run();
        assert_eq!(r.shape(0), "[1, 8, 2, 3]");
        let r = Case::new("Trilu").input(t("float32", &[3, 4])).run();
        assert_eq!((r.shape(0), r.flops_cmp()), ("[3, 4]".into(), 0));
    }

    #[test]
    fn crop_reverse_and_cache_updates_move_data() {
        let r = Case::new("CenterCropPad")
            .opset(18)
            .input(t("float32", &[20, 10, 3]))
            .const_i64s(&[2], &[10, 7])
            .ints("axes", &[0, -2])
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[10, 7, 3]".into(), 0));
        let r = Case::new("ReverseSequence")
            .input(t("float32", &[4, 4]))
            .input(t("int64", &[4]))
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[4, 4]".into(), 0));
        let r = Case::new("TensorScatter")
            .opset(24)
            .input_sym("float32", &["b", "8", "max_seq", "64"])
            .input_sym("float32", &["b", "8", "seq", "64"])
            .run();
        assert_eq!(
            (r.shape(0), r.flops_add()),
            ("[b, 8, max_seq, 64]".into(), 0)
        );
    }
}
