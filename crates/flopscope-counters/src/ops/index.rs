//! Indexing, selection and scan ops: GatherElements, GatherND, ScatterND, ScatterElements,
//! Scatter, OneHot, NonZero, Compress, Unique, TopK, NonMaxSuppression, CumSum, CumProd.
//!
//! Gathers and scatters move data: 0 FLOPs, except scatters with a `reduction`, which count one
//! operation per update element. Data-dependent sizes (NonZero, Compress, Unique,
//! NonMaxSuppression, TopK with an unknown k) are computed when the deciding inputs are known,
//! and are fresh symbols otherwise.

use std::cmp::Ordering;

use flopscope_ir::{DType, Dim, TensorType, TensorValue};

use super::fold::{concrete, scatter, set_maybe_value, strides, take};
use super::no_flops;
use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid, normalize_axis,
    product,
};

/// `⌈log₂ n⌉` for n ≥ 1 (0 for n ≤ 1).
fn ceil_log2(n: i64) -> i64 {
    if n <= 1 {
        0
    } else {
        i64::from(64 - (n - 1).leading_zeros())
    }
}

/// The elements of input `i` as numbers (ints and floats alike), when all are known constants.
fn numbers(cx: &InferCtx<'_>, i: usize) -> Result<Option<Vec<f64>>, OpError> {
    Ok(cx.value(i)?.and_then(TensorValue::as_f64s))
}

fn err(e: flopscope_ir::DimError) -> OpError {
    OpError::Invalid(e.to_string())
}

// ---- GatherElements, GatherND ----------------------------------------------------------------

fn infer_gather_elements(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let data = cx.tensor(0)?;
    let indices = cx.tensor(1)?;
    if data.rank() != indices.rank() || data.rank() == 0 {
        return invalid!("data {data} and indices {indices} must have the same rank ≥ 1");
    }
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, data.rank())?;
    let ty = TensorType::new(data.dtype, indices.shape.clone());
    // out[i] = data[i with axis `axis` replaced by indices[i]], when data's elements are known
    // (so that its dims are small).
    let data = match (
        concrete(&data.shape),
        concrete(&indices.shape),
        numbers(cx, 1)?,
        cx.value(0)?,
    ) {
        (Some(dims), Some(idx_dims), Some(idx), Some(values)) => {
            let st = strides(&dims);
            let ist = strides(&idx_dims);
            let at: Option<Vec<Option<usize>>> = idx
                .iter()
                .enumerate()
                .map(|(flat, &j)| {
                    let j = wrap_index(j, dims[axis])?;
                    let mut src = 0;
                    for (a, (&s, &is)) in st.iter().zip(&ist).enumerate() {
                        let coord = if a == axis {
                            j
                        } else {
                            flat / is % idx_dims[a]
                        };
                        src += coord * s;
                    }
                    Some(Some(src))
                })
                .collect();
            at.and_then(|at| take(&values.data, &at, None))
        }
        _ => None,
    };
    set_maybe_value(cx, ty, data);
    Ok(())
}

/// A possibly negative index into an axis of `len` elements, `None` when out of range.
fn wrap_index(j: f64, len: usize) -> Option<usize> {
    let k = if j < 0.0 { j + len as f64 } else { j };
    (k >= 0.0 && k < len as f64 && k.fract() == 0.0).then_some(k as usize)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GatherElements",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config],
        infer: infer_gather_elements,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

/// `GatherND`: indices [..., m] address the first m dims after the `batch_dims` leading ones;
/// the output is indices.shape[:-1] + data.shape[batch_dims + m:].
fn infer_gather_nd(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let data = cx.tensor(0)?;
    let indices = cx.tensor(1)?;
    let b = cx.attr_or("batch_dims", 0i64)?;
    let Some(last) = indices.shape.last() else {
        return invalid!("indices {indices} must have rank ≥ 1");
    };
    let m = last.as_i64().ok_or_else(|| {
        OpError::Unsupported(format!(
            "the last dim of indices {indices} must be a constant to know the output rank"
        ))
    })?;
    let (Ok(b), Ok(m)) = (usize::try_from(b), usize::try_from(m)) else {
        return invalid!("batch_dims = {b} and the last dim of indices {indices} must be ≥ 0");
    };
    if b + m > data.rank() || b >= indices.rank() {
        return invalid!("indices {indices} with batch_dims = {b} do not fit data {data}");
    }
    let mut shape = indices.shape[..indices.rank() - 1].to_vec();
    shape.extend_from_slice(&data.shape[b + m..]);
    let ty = TensorType::new(data.dtype, shape);
    let folded = fold_gather_nd(cx, data, indices, b, m)?;
    set_maybe_value(cx, ty, folded);
    Ok(())
}

/// Each index tuple (with its batch position) selects a slice of data; the output is the
/// slices in order.
fn fold_gather_nd(
    cx: &InferCtx<'_>,
    data: &TensorType,
    indices: &TensorType,
    b: usize,
    m: usize,
) -> Result<Option<flopscope_ir::Elements>, OpError> {
    let (Some(dims), Some(idx_dims), Some(idx), Some(values)) = (
        concrete(&data.shape),
        concrete(&indices.shape),
        numbers(cx, 1)?,
        cx.value(0)?,
    ) else {
        return Ok(None);
    };
    let st = strides(&dims);
    let slice: usize = dims[b + m..].iter().product();
    let batch: usize = dims[..b].iter().product();
    // One index tuple per position of indices before its last dim.
    let tuples: usize = idx_dims[..idx_dims.len() - 1].iter().product();
    let per_batch = tuples / batch.max(1);
    let mut at = Vec::new();
    for t in 0..tuples {
        // The batch position of tuple t, as a flat index over data's first b dims.
        let bpos = t / per_batch.max(1);
        let mut base = 0;
        let mut rem = bpos;
        for a in (0..b).rev() {
            base += rem % dims[a] * st[a];
            rem /= dims[a];
        }
        for (a, &j) in idx[t * m..t * m + m].iter().enumerate() {
            let Some(j) = wrap_index(j, dims[b + a]) else {
                return Ok(None);
            };
            base += j * st[b + a];
        }
        at.extend((base..base + slice).map(Some));
    }
    Ok(take(&values.data, &at, None))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GatherND",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config],
        infer: infer_gather_nd,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- ScatterND, ScatterElements, Scatter -----------------------------------------------------

/// Output 0 is `data`; the updates must be shaped like the indices (element scatters) or fit
/// them (ScatterND).
fn infer_scatter(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let data = cx.tensor(0)?.clone();
    let indices = cx.tensor(1)?;
    let updates = cx.tensor(2)?;
    if cx.node().op_type == "ScatterND" {
        let m = indices.shape.last().and_then(Dim::as_i64);
        if let Some(m) = m {
            let expected = indices.rank() - 1 + data.rank().saturating_sub(m as usize);
            if m as usize > data.rank() || updates.rank() != expected {
                return invalid!("updates {updates} do not fit indices {indices} into data {data}");
            }
        }
    } else {
        if indices.rank() != data.rank() {
            return invalid!("indices {indices} and data {data} must have the same rank");
        }
        normalize_axis(cx.attr_or("axis", 0i64)?, data.rank())?;
    }
    let folded = fold_scatter(cx, &data)?;
    set_maybe_value(cx, data, folded);
    Ok(())
}

/// The data with the updates written at the indices (ScatterND: whole slices at index tuples;
/// ScatterElements and Scatter: single elements along `axis`), combined by `reduction`.
fn fold_scatter(
    cx: &InferCtx<'_>,
    data: &TensorType,
) -> Result<Option<flopscope_ir::Elements>, OpError> {
    let indices = cx.tensor(1)?;
    let (Some(dims), Some(idx_dims), Some(idx), Some(values), Some(updates)) = (
        concrete(&data.shape),
        concrete(&indices.shape),
        numbers(cx, 1)?,
        cx.value(0)?,
        cx.value(2)?,
    ) else {
        return Ok(None);
    };
    let st = strides(&dims);
    // For each update element, the flat index of data it lands on.
    let mut targets = Vec::with_capacity(updates.data.len());
    if cx.node().op_type == "ScatterND" {
        let Some(&m) = idx_dims.last() else {
            return Ok(None);
        };
        let slice: usize = dims[m..].iter().product();
        for t in 0..idx.len() / m.max(1) {
            let mut base = 0;
            for (a, &j) in idx[t * m..t * m + m].iter().enumerate() {
                let Some(j) = wrap_index(j, dims[a]) else {
                    return Ok(None);
                };
                base += j * st[a];
            }
            targets.extend(base..base + slice);
        }
    } else {
        let axis = normalize_axis(cx.attr_or("axis", 0i64)?, dims.len())?;
        let ist = strides(&idx_dims);
        for (flat, &j) in idx.iter().enumerate() {
            let Some(j) = wrap_index(j, dims[axis]) else {
                return Ok(None);
            };
            let mut dst = 0;
            for a in 0..dims.len() {
                let coord = if a == axis {
                    j
                } else {
                    flat / ist[a] % idx_dims[a]
                };
                dst += coord * st[a];
            }
            targets.push(dst);
        }
    }
    Ok(scatter(
        &values.data,
        &targets,
        &updates.data,
        cx.attr_or("reduction", "none")?,
        data.dtype,
    ))
}

/// One operation per update element for `reduction` = add / mul / max / min.
fn cost_scatter(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let n = cx.tensor(2)?.numel();
    Ok(match cx.attr_or("reduction", "none")? {
        "add" => Cost::zero().with_add(n),
        "mul" => Cost::zero().with_mul(n),
        "max" | "min" => Cost::zero().with_cmp(n),
        _ => Cost::zero(),
    })
}

const SCATTER_FORMULA: &str = "0 (reduction none); add, mul or cmp (max/min) = numel(updates)";

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ScatterND",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config, Role::Data],
        infer: infer_scatter,
        cost: cost_scatter,
        formula: SCATTER_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ScatterElements",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config, Role::Data],
        infer: infer_scatter,
        cost: cost_scatter,
        formula: SCATTER_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Scatter",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data, Role::Config, Role::Data],
        infer: infer_scatter,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- OneHot ----------------------------------------------------------------------------------

fn infer_one_hot(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let indices = cx.tensor(0)?;
    let values = cx.tensor(2)?;
    let depth = match cx.ints(1)? {
        Some([d]) => d.clone(),
        _ => match numbers(cx, 1)?.as_deref() {
            Some(&[d]) => Dim::from_i64(d as i64),
            _ => {
                cx.req_ints(1, "depth")?;
                return invalid!("depth must be a scalar");
            }
        },
    };
    if depth.as_i64().is_some_and(|d| d < 1) {
        return invalid!("depth = {depth} must be positive");
    }
    // The new axis counts in the output's rank: -1 is the last one.
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, indices.rank() + 1)?;
    let mut shape = indices.shape.clone();
    shape.insert(axis, depth);
    let ty = TensorType::new(values.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "OneHot",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: infer_one_hot,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- NonZero, Compress -----------------------------------------------------------------------

fn infer_non_zero(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let count = match numbers(cx, 0)? {
        Some(v) => Dim::from_i64(v.iter().filter(|&&e| e != 0.0).count() as i64),
        None => cx.fresh_symbol("nonzero"),
    };
    let ty = TensorType::new(DType::Int64, vec![Dim::from_i64(x.rank() as i64), count]);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "NonZero",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data],
        infer: infer_non_zero,
        cost: |cx| Ok(Cost::zero().with_cmp(cx.tensor(0)?.numel())),
        formula: "cmp = numel(X) (≠ 0 tests)",
    }
}

fn infer_compress(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let cond = cx.tensor(1)?;
    if cond.rank() != 1 {
        return invalid!("condition {cond} must be 1-D");
    }
    let axis = cx.attr::<i64>("axis")?;
    let axis = axis.map(|a| normalize_axis(a, x.rank())).transpose()?;
    // Only the first min(len(condition), dim) entries select.
    let limit = match axis {
        Some(a) => x.shape[a].as_i64(),
        None => x.numel().as_i64(),
    };
    let count = match numbers(cx, 1)? {
        Some(v) => {
            let n = limit.map_or(v.len(), |l| v.len().min(l.max(0) as usize));
            Dim::from_i64(v[..n].iter().filter(|&&e| e != 0.0).count() as i64)
        }
        None => cx.fresh_symbol("compress"),
    };
    let shape = match axis {
        Some(a) => {
            let mut s = x.shape.clone();
            s[a] = count;
            s
        }
        None => vec![count],
    };
    let ty = TensorType::new(x.dtype, shape);
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Compress",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data, Role::Config],
        infer: infer_compress,
        cost: no_flops,
        formula: "0 (data movement)",
    }
}

// ---- Unique ----------------------------------------------------------------------------------

/// Number of distinct items in `values` laid out as [outer, m, inner] (items are the slices
/// along the middle axis), ordered by `cmp` and told apart by `==`.
fn distinct_slices<T: Clone + PartialEq>(
    values: &[T],
    outer: usize,
    m: usize,
    inner: usize,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> usize {
    let item = |k: usize| -> Vec<T> {
        (0..outer)
            .flat_map(|o| {
                let base = (o * m + k) * inner;
                values[base..base + inner].iter().cloned()
            })
            .collect()
    };
    let mut items: Vec<Vec<T>> = (0..m).map(item).collect();
    items.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| cmp(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    items.dedup();
    items.len()
}

fn infer_unique(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let axis = cx
        .attr::<i64>("axis")?
        .map(|a| normalize_axis(a, x.rank()))
        .transpose()?;
    // Items: the elements, or the slices along `axis`.
    let (m, outer, inner) = match axis {
        Some(a) => (
            x.shape[a].clone(),
            product(&x.shape[..a]),
            product(&x.shape[a + 1..]),
        ),
        None => (x.numel(), Dim::one(), Dim::one()),
    };
    // Numbers, or strings (compared byte-wise), when known.
    let strs = cx.value(0)?.and_then(TensorValue::as_strs);
    let known = match (
        numbers(cx, 0)?,
        strs,
        m.as_i64(),
        outer.as_i64(),
        inner.as_i64(),
    ) {
        (Some(v), _, Some(m), Some(o), Some(i)) if (m * o * i) as usize == v.len() => {
            Some(distinct_slices(&v, o as usize, m as usize, i as usize, f64::total_cmp) as i64)
        }
        (None, Some(v), Some(m), Some(o), Some(i)) if (m * o * i) as usize == v.len() => {
            Some(distinct_slices(v, o as usize, m as usize, i as usize, Ord::cmp) as i64)
        }
        _ => None,
    };
    let u = match known {
        Some(u) => Dim::from_i64(u),
        None => cx.fresh_symbol("unique"),
    };
    let y_shape = match axis {
        Some(a) => {
            let mut s = x.shape.clone();
            s[a] = u.clone();
            s
        }
        None => vec![u.clone()],
    };
    let y = TensorType::new(x.dtype, y_shape);
    cx.set(0, y);
    cx.set(1, TensorType::new(DType::Int64, vec![u.clone()]));
    cx.set(2, TensorType::new(DType::Int64, vec![m]));
    cx.set(3, TensorType::new(DType::Int64, vec![u]));
    Ok(())
}

/// Sorting m items of `s` elements each: (numel − s)·⌈log₂ m⌉ element comparisons (m − 1 when
/// m is symbolic: a lower bound).
fn cost_unique(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let (m, slice) = match cx.attr::<i64>("axis")? {
        Some(a) => {
            let a = normalize_axis(a, x.rank())?;
            let m = x.shape[a].clone();
            let slice = product(
                x.shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != a)
                    .map(|(_, d)| d),
            );
            (m, slice)
        }
        None => (x.numel(), Dim::one()),
    };
    let passes = m.as_i64().map_or(1, |m| ceil_log2(m).max(1));
    Ok(Cost::zero().with_cmp((&m - 1).max(&Dim::zero()) * slice * passes))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Unique",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data],
        infer: infer_unique,
        cost: cost_unique,
        formula: "cmp = (m − 1)·slice·⌈log₂ m⌉ (sort of m items of `slice` elements)",
    }
}

// ---- TopK ------------------------------------------------------------------------------------

fn finish_top_k(cx: &mut InferCtx<'_>, k: Dim) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    if let (Some(kv), Some(n)) = (k.as_i64(), x.shape[axis].as_i64())
        && (kv < 0 || kv > n)
    {
        return invalid!("k = {kv} is outside [0, {n}] for axis {axis} of X {x}");
    }
    let mut shape = x.shape.clone();
    shape[axis] = k;
    cx.set(0, TensorType::new(x.dtype, shape.clone()));
    cx.set(1, TensorType::new(DType::Int64, shape));
    Ok(())
}

/// Selection with a k-heap: each of the n − 1 later elements of a row costs up to ⌈log₂ k⌉
/// comparisons (at least 1).
fn cost_top_k(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let y = cx.req_output(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    let n = &x.shape[axis];
    let rows = product(
        x.shape
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, d)| d),
    );
    let k = y
        .shape
        .get(axis)
        .and_then(Dim::as_i64)
        .or_else(|| n.as_i64());
    let passes = k.map_or(1, |k| ceil_log2(k).max(1));
    Ok(Cost::zero().with_cmp(rows * (n - 1).max(&Dim::zero()) * passes))
}

const TOP_K_FORMULA: &str = "cmp = rows·(n − 1)·max(⌈log₂ k⌉, 1) (k-heap selection along the axis)";

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "TopK",
        class: OpClass::Other,
        opsets: Opsets::range(1, 9),
        roles: &[Role::Data],
        infer: |cx| {
            let k = cx.req_attr::<i64>("k")?;
            finish_top_k(cx, Dim::from_i64(k))
        },
        cost: cost_top_k,
        formula: TOP_K_FORMULA,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "TopK",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Config],
        infer: |cx| {
            let k = match cx.ints(1)? {
                Some([k]) => k.clone(),
                Some(k) => return invalid!("K must hold one value, it has {}", k.len()),
                None => cx.fresh_symbol("k"),
            };
            finish_top_k(cx, k)
        },
        cost: cost_top_k,
        formula: TOP_K_FORMULA,
    }
}

// ---- NonMaxSuppression -----------------------------------------------------------------------

/// Corners (y1, x1, y2, x2) with y1 ≤ y2 and x1 ≤ x2.
fn corners(b: &[f64], center: bool) -> [f64; 4] {
    if center {
        let (xc, yc, w, h) = (b[0], b[1], b[2], b[3]);
        [yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0]
    } else {
        [
            b[0].min(b[2]),
            b[1].min(b[3]),
            b[0].max(b[2]),
            b[1].max(b[3]),
        ]
    }
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let h = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let w = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = h * w;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// The number of boxes NonMaxSuppression selects, when every input is known.
fn nms_count(
    cx: &InferCtx<'_>,
    batches: usize,
    classes: usize,
    n: usize,
) -> Result<Option<i64>, OpError> {
    let (Some(boxes), Some(scores)) = (numbers(cx, 0)?, numbers(cx, 1)?) else {
        return Ok(None);
    };
    let max_out = if cx.has_input(2) {
        match numbers(cx, 2)?.as_deref() {
            Some(&[v]) => v,
            _ => return Ok(None),
        }
    } else {
        0.0
    };
    let scalar = |i: usize, default: f64| -> Result<Option<f64>, OpError> {
        if !cx.has_input(i) {
            return Ok(Some(default));
        }
        Ok(match numbers(cx, i)?.as_deref() {
            Some(&[v]) => Some(v),
            _ => None,
        })
    };
    let (Some(iou_threshold), Some(score_threshold)) =
        (scalar(3, 0.0)?, scalar(4, f64::NEG_INFINITY)?)
    else {
        return Ok(None);
    };
    if boxes.len() != batches * n * 4 || scores.len() != batches * classes * n {
        return Ok(None);
    }
    let center = cx.attr_or("center_point_box", 0i64)? == 1;
    let mut total = 0i64;
    for b in 0..batches {
        let bx: Vec<[f64; 4]> = (0..n)
            .map(|i| corners(&boxes[(b * n + i) * 4..(b * n + i) * 4 + 4], center))
            .collect();
        for c in 0..classes {
            let s = &scores[(b * classes + c) * n..(b * classes + c + 1) * n];
            let mut order: Vec<usize> = (0..n).filter(|&i| s[i] > score_threshold).collect();
            order.sort_by(|&i, &j| s[j].total_cmp(&s[i]).then(i.cmp(&j)));
            let mut kept: Vec<usize> = Vec::new();
            for i in order {
                if kept.len() as f64 >= max_out {
                    break;
                }
                if kept.iter().all(|&k| iou(&bx[k], &bx[i]) <= iou_threshold) {
                    kept.push(i);
                }
            }
            total += kept.len() as i64;
        }
    }
    Ok(Some(total))
}

fn infer_nms(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let boxes = cx.tensor(0)?;
    let scores = cx.tensor(1)?;
    if boxes.rank() != 3 || scores.rank() != 3 {
        return invalid!(
            "boxes {boxes} must be [batches, n, 4] and scores {scores} [batches, classes, n]"
        );
    }
    let dims = (
        scores.shape[0].as_i64(),
        scores.shape[1].as_i64(),
        scores.shape[2].as_i64(),
    );
    let count = match dims {
        (Some(b), Some(c), Some(n)) if b >= 0 && c >= 0 && n >= 0 => {
            nms_count(cx, b as usize, c as usize, n as usize)?
        }
        _ => None,
    };
    let count = count.map_or_else(|| cx.fresh_symbol("selected"), Dim::from_i64);
    cx.set(
        0,
        TensorType::new(DType::Int64, vec![count, Dim::from_i64(3)]),
    );
    Ok(())
}

/// Worst case, every pair of boxes compared: per class and batch, n score tests and n(n−1)/2
/// IoUs (4 cmp for the intersection corners, 2 cmp clamping it at 0, 1 cmp against the
/// threshold; 2 sub for its sides and 2 add/sub for the union; 1 mul; 1 div), plus the n box
/// areas (2 sub, 1 mul each).
fn cost_nms(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let scores = cx.tensor(1)?;
    let [b, c, n] = scores.shape.as_slice() else {
        return invalid!("scores {scores} must be 3-D");
    };
    let groups = b * c;
    let pairs = (n * (n - 1)).floor_div(2).map_err(err)?;
    let ious = &groups * &pairs;
    let areas = &groups * n;
    Ok(Cost::zero()
        .with_cmp(&ious * 7 + &areas)
        .with_add(&ious * 4 + &areas * 2)
        .with_mul(&ious + &areas)
        .with_div(ious))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "NonMaxSuppression",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Data, Role::Config],
        infer: infer_nms,
        cost: cost_nms,
        formula: "per batch·class, p = n(n−1)/2 IoUs: cmp = 7p + n, add = 4p + 2n, mul = p + n, div = p (worst case)",
    }
}

// ---- CumSum, CumProd -------------------------------------------------------------------------

fn infer_cumulative(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let axis = cx.tensor(1)?;
    if axis.numel().as_i64().is_some_and(|n| n != 1) {
        return invalid!("axis {axis} must be a scalar");
    }
    let mut folded = None;
    if let Some(&[a]) = cx
        .ints(1)?
        .map(|v| v.iter().filter_map(Dim::as_i64).collect::<Vec<_>>())
        .as_deref()
    {
        let axis = normalize_axis(a, x.rank())?;
        folded = fold_cumulative(cx, &x, axis)?;
    }
    set_maybe_value(cx, x, folded);
    Ok(())
}

/// Running sums (CumSum) or products (CumProd) along `axis`, `exclusive` (each element leaves
/// itself out) and `reverse` (from the end) as the attributes say.
fn fold_cumulative(
    cx: &InferCtx<'_>,
    x: &TensorType,
    axis: usize,
) -> Result<Option<flopscope_ir::Elements>, OpError> {
    use flopscope_ir::Elements;
    let (Some(dims), Some(v)) = (concrete(&x.shape), cx.value(0)?) else {
        return Ok(None);
    };
    let exclusive = cx.attr_or("exclusive", 0i64)? != 0;
    let reverse = cx.attr_or("reverse", 0i64)? != 0;
    let product = cx.node().op_type == "CumProd";
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    // The flat indices of each line along the axis, in the order it accumulates.
    let lines = (0..outer).flat_map(|o| {
        (0..inner).map(move |i| {
            let mut line: Vec<usize> = (0..len).map(|k| (o * len + k) * inner + i).collect();
            if reverse {
                line.reverse();
            }
            line
        })
    });
    Ok(match &v.data {
        Elements::Int(data) => {
            let mut out = data.clone();
            for line in lines {
                let mut acc = Dim::from_i64(i64::from(product));
                for &at in &line {
                    let next = if product {
                        &acc * &data[at]
                    } else {
                        &acc + &data[at]
                    };
                    out[at] = if exclusive { acc } else { next.clone() };
                    acc = next;
                }
            }
            out.iter()
                .all(|d| !d.is_overflow())
                .then_some(Elements::Int(out))
        }
        Elements::Float(data) => {
            let mut out = data.clone();
            for line in lines {
                let mut acc = if product { 1.0 } else { 0.0 };
                for &at in &line {
                    let sum = if product {
                        acc * data[at]
                    } else {
                        acc + data[at]
                    };
                    let Some(next) = super::fold::round_to(x.dtype, sum) else {
                        return Ok(None);
                    };
                    out[at] = if exclusive { acc } else { next };
                    acc = next;
                }
            }
            Some(Elements::Float(out))
        }
        Elements::Str(_) => None,
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "CumSum",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config],
        infer: infer_cumulative,
        cost: |cx| Ok(Cost::zero().with_add(cx.req_output(0)?.numel())),
        formula: "add = numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "CumProd",
        class: OpClass::Other,
        opsets: Opsets::since(26),
        roles: &[Role::Data, Role::Config],
        infer: infer_cumulative,
        cost: |cx| Ok(Cost::zero().with_mul(cx.req_output(0)?.numel())),
        formula: "mul = numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    #[test]
    fn gathers() {
        let r = Case::new("GatherElements")
            .input(t("float32", &[3, 3]))
            .input(t("int64", &[2, 3]))
            .int("axis", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        // data [2, 2, 2], indices [2, 1] with batch_dims 1: [2] + data[2:] = [2, 2].
        let r = Case::new("GatherND")
            .input(t("float32", &[2, 2, 2]))
            .input(t("int64", &[2, 1]))
            .int("batch_dims", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 2]");
        let r = Case::new("GatherND")
            .input(t("float32", &[2, 2]))
            .input(t("int64", &[2, 2]))
            .run();
        assert_eq!(r.shape(0), "[2]");
        // Gather with a negative index folds.
        let r = Case::new("Gather")
            .const_i64s(&[3], &[4, 5, 6])
            .const_i64s(&[1], &[-1])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[6]"));
    }

    #[test]
    fn scatter_reductions_count_one_op_per_update() {
        let r = Case::new("ScatterND")
            .input(t("float32", &[4, 4, 4]))
            .input(t("int64", &[2, 1]))
            .input(t("float32", &[2, 4, 4]))
            .str("reduction", "add")
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[4, 4, 4]".into(), 32));
        let r = Case::new("ScatterElements")
            .input(t("float32", &[3, 3]))
            .input(t("int64", &[2, 3]))
            .input(t("float32", &[2, 3]))
            .str("reduction", "max")
            .run();
        assert_eq!((r.flops_cmp(), r.flops_add()), (6, 0));
        let r = Case::new("ScatterElements")
            .input(t("float32", &[3, 3]))
            .input(t("int64", &[2, 3]))
            .input(t("float32", &[2, 3]))
            .run();
        assert_eq!((r.flops_cmp(), r.flops_mul()), (0, 0));
        let r = Case::new("Scatter")
            .opset(10)
            .input(t("float32", &[3, 3]))
            .input(t("int64", &[2, 3]))
            .input(t("float32", &[2, 3]))
            .int("axis", 1)
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[3, 3]".into(), 0));
        let r = Case::new("ScatterND")
            .input(t("float32", &[8]))
            .input(t("int64", &[4, 1]))
            .input(t("float32", &[4]))
            .str("reduction", "mul")
            .run();
        assert_eq!(r.flops_mul(), 4);
    }

    #[test]
    fn one_hot_and_data_dependent_sizes() {
        let r = Case::new("OneHot")
            .input(t("int64", &[2, 3]))
            .const_f32s(&[], &[10.0])
            .const_f32s(&[2], &[0.0, 1.0])
            .int("axis", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 10, 3]");
        let r = Case::new("OneHot")
            .input(t("int64", &[2, 3]))
            .const_f32s(&[], &[10.0])
            .const_f32s(&[2], &[0.0, 1.0])
            .int("axis", -2)
            .run();
        assert_eq!(r.shape(0), "[2, 10, 3]");
        let r = Case::new("NonZero")
            .const_i64s(&[2, 2], &[1, 0, 3, 0])
            .run();
        assert_eq!((r.shape(0), r.flops_cmp()), ("[2, 2]".into(), 4));
        let r = Case::new("NonZero").input(t("float32", &[5])).run();
        assert!(r.shape(0).starts_with("[1, "), "{}", r.shape(0));
        let r = Case::new("Compress")
            .input(t("float32", &[3, 2]))
            .const_i64s(&[3], &[0, 1, 1])
            .int("axis", 0)
            .run();
        assert_eq!(r.shape(0), "[2, 2]");
        let r = Case::new("Compress")
            .input(t("float32", &[3, 2]))
            .input(t("bool", &[3]))
            .run();
        assert!(r.shape(0).contains("compress"), "{}", r.shape(0));
    }

    #[test]
    fn unique_counts_and_cost() {
        // 6 elements, 4 distinct: sort cost (6 − 1)·⌈log₂ 6⌉ = 15.
        let r = Case::new("Unique")
            .const_i64s(&[6], &[2, 1, 1, 3, 4, 3])
            .outputs(4)
            .run();
        assert_eq!(
            (r.shape(0), r.shape(1), r.shape(2), r.shape(3)),
            ("[4]".into(), "[4]".into(), "[6]".into(), "[4]".into())
        );
        assert_eq!(r.flops_cmp(), 15);
        // Rows of [[1, 0], [1, 0], [2, 3]] along axis 0: 2 distinct; cost (3 − 1)·2·2 = 8.
        let r = Case::new("Unique")
            .const_i64s(&[3, 2], &[1, 0, 1, 0, 2, 3])
            .int("axis", 0)
            .outputs(4)
            .run();
        assert_eq!((r.shape(0), r.shape(2)), ("[2, 2]".into(), "[3]".into()));
        assert_eq!(r.flops_cmp(), 8);
    }

    #[test]
    fn top_k_shapes_and_cost() {
        // rows 3, n 4, k 3: 3·3·⌈log₂ 3⌉ = 18.
        let r = Case::new("TopK")
            .input(t("float32", &[3, 4]))
            .const_i64s(&[1], &[3])
            .outputs(2)
            .run();
        assert_eq!((r.shape(0), r.shape(1)), ("[3, 3]".into(), "[3, 3]".into()));
        assert_eq!(r.dtype(1), DType::Int64);
        assert_eq!(r.flops_cmp(), 18);
        let r = Case::new("TopK")
            .opset(9)
            .input(t("float32", &[5, 4]))
            .int("k", 1)
            .int("axis", 0)
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[1, 4]");
        // k = 1 is an argmax: 4 rows · (5 − 1).
        assert_eq!(r.flops_cmp(), 16);
        let r = Case::new("TopK")
            .input(t("float32", &[3, 4]))
            .input(t("int64", &[1]))
            .outputs(2)
            .run();
        assert!(r.shape(0).contains("_k"), "{}", r.shape(0));
    }

    #[test]
    fn nms_selects_and_costs() {
        // One batch, one class, 3 boxes: two overlapping (IoU 0.81 > 0.5), one apart.
        let r = Case::new("NonMaxSuppression")
            .const_f32s(
                &[1, 3, 4],
                &[0.0, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 1.1, 0.0, 10.0, 1.0, 11.0],
            )
            .const_f32s(&[1, 1, 3], &[0.9, 0.75, 0.6])
            .const_i64s(&[1], &[3])
            .const_f32s(&[1], &[0.5])
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        // p = 3 pairs, n = 3 boxes.
        assert_eq!(
            (r.flops_cmp(), r.flops_add(), r.flops_mul(), r.flops_div()),
            (7 * 3 + 3, 4 * 3 + 2 * 3, 3 + 3, 3)
        );
        let r = Case::new("NonMaxSuppression")
            .input(t("float32", &[1, 3, 4]))
            .input(t("float32", &[1, 1, 3]))
            .run();
        assert!(r.shape(0).contains("selected"), "{}", r.shape(0));
    }

    #[test]
    fn cumulative_ops() {
        let r = Case::new("CumSum")
            .input(t("float32", &[2, 3]))
            .const_i64s(&[], &[1])
            .run();
        assert_eq!((r.shape(0), r.flops_add()), ("[2, 3]".into(), 6));
        let r = Case::new("CumProd")
            .opset(26)
            .input(t("float32", &[2, 3]))
            .const_i64s(&[], &[-1])
            .run();
        assert_eq!((r.flops_mul(), r.flops_add()), (6, 0));
    }

    #[test]
    fn unique_counts_known_strings() {
        // Distinct of a, b, a, c, b: a, b, c.
        let r = Case::new("Unique")
            .const_strs(&[5], &["a", "b", "a", "c", "b"])
            .outputs(4)
            .opset(11)
            .run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!(r.dtype(0), DType::String);
        assert_eq!(r.shape(2), "[5]");
        // Rows of [[a, b], [a, b], [a, c]] along axis 0: two distinct rows; columns along
        // axis 1: (a, a, a) and (b, b, c), two distinct.
        let rows = ["a", "b", "a", "b", "a", "c"];
        let r = Case::new("Unique")
            .const_strs(&[3, 2], &rows)
            .int("axis", 0)
            .outputs(4)
            .opset(11)
            .run();
        assert_eq!(r.shape(0), "[2, 2]");
        let r = Case::new("Unique")
            .const_strs(&[3, 2], &rows)
            .int("axis", -1)
            .outputs(4)
            .opset(11)
            .run();
        assert_eq!(r.shape(0), "[3, 2]");
        // Byte-wise: case matters.
        let r = Case::new("Unique")
            .const_strs(&[2], &["A", "a"])
            .outputs(4)
            .opset(11)
            .run();
        assert_eq!(r.shape(0), "[2]");
    }
}
