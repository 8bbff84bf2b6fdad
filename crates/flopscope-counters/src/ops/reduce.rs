//! Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
//! ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, and ArgMax / ArgMin.
//!
//! A reduction of n input elements into m outputs combines n − m pairs (one op of its kind
//! each); the composite reductions add their elementwise parts (square, abs, exp) per input
//! element and their final part (log, sqrt, the mean's division) per output element. Integer
//! sums, products, maxima and minima of small known tensors are folded (shape computations
//! such as `ReduceProd(Shape(x))`).

use flopscope_ir::{DType, Dim, Elements, TensorType, TensorValue};

use super::fold::{concrete, round_to, set_maybe_value};
use crate::{
    Cost, CostCtx, InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, invalid,
    normalize_axis,
};

/// Which axes a reduction node reduces: `None` is the no-op of `noop_with_empty_axes` with
/// empty axes (the output is the input); otherwise sorted, distinct axes.
fn plan(
    axes: Option<&[i64]>,
    noop_with_empty_axes: bool,
    rank: usize,
) -> Result<Option<Vec<usize>>, OpError> {
    let axes = axes.unwrap_or(&[]);
    if axes.is_empty() {
        if noop_with_empty_axes {
            return Ok(None);
        }
        return Ok(Some((0..rank).collect()));
    }
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        out.push(normalize_axis(a, rank)?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(Some(out))
}

/// The axes of a reduction node, from the `axes` attribute (`from_input = false`) or the
/// optional input 1, with `noop_with_empty_axes`. Reads through the accessors shared by the
/// inference and cost contexts.
macro_rules! node_plan {
    ($cx:expr, $from_input:expr, $rank:expr) => {{
        let noop = $cx.attr_or("noop_with_empty_axes", 0i64)? != 0;
        if $from_input {
            let axes = if $cx.has_input(1) {
                Some($cx.req_i64s(1, "axes")?)
            } else {
                None
            };
            plan(axes.as_deref(), noop, $rank)
        } else {
            let axes: Option<&[i64]> = $cx.attr("axes")?;
            plan(axes, noop, $rank)
        }
    }};
}

/// The reduced shape: reduced axes become 1 (`keepdims`) or are dropped.
fn reduced_shape(shape: &[Dim], axes: &[usize], keepdims: bool) -> Vec<Dim> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdims {
                out.push(Dim::one());
            }
        } else {
            out.push(d.clone());
        }
    }
    out
}

/// The kinds of reduction, for folding and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

impl Kind {
    fn of(op_type: &str) -> Result<Kind, OpError> {
        Ok(match op_type {
            "ReduceSum" => Kind::Sum,
            "ReduceMean" => Kind::Mean,
            "ReduceMax" => Kind::Max,
            "ReduceMin" => Kind::Min,
            "ReduceProd" => Kind::Prod,
            "ReduceL1" => Kind::L1,
            "ReduceL2" => Kind::L2,
            "ReduceLogSum" => Kind::LogSum,
            "ReduceLogSumExp" => Kind::LogSumExp,
            "ReduceSumSquare" => Kind::SumSquare,
            other => return invalid!("{other} is not a reduction"),
        })
    }

    /// The reduction of integer elements (symbolic where they are dims); `None` where it is
    /// not folded (means, norms and logs of integers).
    fn ints(self, xs: &[&Dim], dtype: DType) -> Option<Dim> {
        let Some((first, rest)) = xs.split_first() else {
            return match self {
                Kind::Sum | Kind::L1 | Kind::SumSquare => Some(Dim::zero()),
                Kind::Prod => Some(Dim::one()),
                // The empty maximum is the type's lowest value, the empty minimum its highest.
                Kind::Max => int_range(dtype).map(|(lo, _)| Dim::from_i64(lo)),
                Kind::Min => int_range(dtype).map(|(_, hi)| Dim::from_i64(hi)),
                _ => None,
            };
        };
        let mut acc = match self {
            Kind::Sum | Kind::Prod | Kind::Max | Kind::Min => (*first).clone(),
            Kind::L1 => first.as_i64()?.checked_abs().map(Dim::from_i64)?,
            Kind::SumSquare => *first * *first,
            _ => return None,
        };
        for x in rest {
            acc = match self {
                Kind::Sum => &acc + *x,
                Kind::Prod => &acc * *x,
                Kind::Max => acc.max(x),
                Kind::Min => acc.min(x),
                Kind::L1 => &acc + &Dim::from_i64(x.as_i64()?.checked_abs()?),
                _ => &acc + &(*x * *x),
            };
        }
        Some(acc)
    }

    /// The reduction of float elements, computed in `f64` and rounded once to the element
    /// type by the caller.
    fn floats(self, xs: &[f64]) -> f64 {
        let sum = |f: fn(f64) -> f64| xs.iter().map(|&x| f(x)).sum::<f64>();
        match self {
            Kind::Sum => sum(|x| x),
            Kind::Mean => sum(|x| x) / xs.len() as f64,
            Kind::Max => xs.iter().copied().fold(f64::NEG_INFINITY, nan_max),
            Kind::Min => xs.iter().copied().fold(f64::INFINITY, nan_min),
            Kind::Prod => xs.iter().product(),
            Kind::L1 => sum(f64::abs),
            Kind::L2 => sum(|x| x * x).sqrt(),
            Kind::LogSum => sum(|x| x).ln(),
            Kind::LogSumExp => {
                // As runtimes compute it: shifted by the maximum, so that exp cannot overflow.
                let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if m.is_infinite() {
                    return sum(f64::exp).ln();
                }
                m + xs.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
            }
            Kind::SumSquare => sum(|x| x * x),
        }
    }
}

/// `max` that propagates NaN (as ONNX Runtime's ReduceMax does).
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// `min` that propagates NaN.
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The lowest and highest values of an integer (or bool) type.
fn int_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::Bool => (0, 1),
        DType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DType::Uint8 => (0, u8::MAX.into()),
        DType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DType::Uint16 => (0, u16::MAX.into()),
        DType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DType::Uint32 => (0, u32::MAX.into()),
        DType::Int64 => (i64::MIN, i64::MAX),
        _ => return None,
    })
}

/// For each element of a tensor of concrete `shape`, the flat index of the output element a
/// reduction over `axes` sends it to; and the number of output elements.
fn reduction_slots(shape: &[usize], axes: &[usize]) -> (Vec<usize>, usize) {
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let n: usize = shape.iter().product();
    let slots = (0..n)
        .map(|flat| {
            let mut rem = flat;
            let mut out_index = 0;
            let mut out_stride = 1;
            for i in (0..shape.len()).rev() {
                let d = shape[i];
                let coord = rem.checked_rem(d).unwrap_or(0);
                rem = rem.checked_div(d).unwrap_or(0);
                if !axes.contains(&i) {
                    out_index += coord * out_stride;
                }
                out_stride *= kept[i];
            }
            out_index
        })
        .collect();
    (slots, kept.iter().product())
}

/// Folds a reduction of a known input, when it is small: integers (symbolic ones included)
/// for sums, products, maxima and minima, floats for every kind (rounded to their type).
fn fold_reduction(
    value: &TensorValue,
    axes: &[usize],
    keepdims: bool,
    kind: Kind,
) -> Option<TensorValue> {
    let shape = &value.shape;
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    if n as u64 > MAX_FOLDED_ELEMENTS || value.data.len() != n {
        return None;
    }
    let (slots, out_len) = reduction_slots(shape, axes);
    let out_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let data = match &value.data {
        Elements::Int(data) => {
            let mut groups: Vec<Vec<&Dim>> = vec![Vec::new(); out_len];
            for (x, &s) in data.iter().zip(&slots) {
                groups[s].push(x);
            }
            Elements::Int(
                groups
                    .iter()
                    .map(|g| kind.ints(g, value.dtype).filter(|d| !d.is_overflow()))
                    .collect::<Option<_>>()?,
            )
        }
        Elements::Float(data) => {
            let mut groups: Vec<Vec<f64>> = vec![Vec::new(); out_len];
            for (&x, &s) in data.iter().zip(&slots) {
                groups[s].push(x);
            }
            Elements::Float(
                groups
                    .iter()
                    .map(|g| round_to(value.dtype, kind.floats(g)))
                    .collect::<Option<_>>()?,
            )
        }
        Elements::Str(_) => return None,
    };
    Some(TensorValue {
        dtype: value.dtype,
        shape: out_shape,
        data,
    })
}

fn infer_reduce(cx: &mut InferCtx<'_>, from_input: bool) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let keepdims = cx.attr_or("keepdims", 1i64)? != 0;
    let Some(axes) = node_plan!(cx, from_input, x.rank())? else {
        // Reduction over no axes: the identity (with its elements when known).
        // (The composite reductions still apply their elementwise part: not folded.)
        let identity = matches!(
            Kind::of(&cx.node().op_type)?,
            Kind::Sum | Kind::Mean | Kind::Max | Kind::Min | Kind::Prod
        );
        match cx.value(0)? {
            Some(v) if identity => {
                let v = v.clone();
                cx.set_value(0, v);
            }
            _ => cx.set(0, x),
        }
        return Ok(());
    };
    if let Some(v) = cx.value(0)?
        && let Some(folded) = fold_reduction(v, &axes, keepdims, Kind::of(&cx.node().op_type)?)
    {
        cx.set_value(0, folded);
        return Ok(());
    }
    let shape = reduced_shape(&x.shape, &axes, keepdims);
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

/// `n − m` combining steps, 0 when the reduced extent is known to be empty.
fn pairs(n: &Dim, m: &Dim) -> Dim {
    match (n.as_i64(), m.as_i64()) {
        (Some(a), Some(b)) => Dim::from_i64((a - b).max(0)),
        _ => n - m,
    }
}

fn cost_reduce(cx: &CostCtx<'_>, from_input: bool) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let kind = Kind::of(&cx.node().op_type)?;
    let n = x.numel();
    let m = cx.req_output(0)?.numel();
    let reduces = node_plan!(cx, from_input, x.rank())?.is_some();
    let p = pairs(&n, &m);
    let cost = Cost::zero();
    Ok(match kind {
        Kind::Sum => cost.with_add(p),
        Kind::Mean => cost
            .with_add(p)
            .with_div(if reduces { m } else { Dim::zero() }),
        Kind::Max | Kind::Min => cost.with_cmp(p),
        Kind::Prod => cost.with_mul(p),
        Kind::L1 => cost.with_cmp(n).with_add(p),
        Kind::L2 => cost.with_mul(n).with_add(p).with_special(m),
        Kind::LogSum => cost.with_add(p).with_special(m),
        Kind::LogSumExp => cost.with_special(n + m).with_add(p),
        Kind::SumSquare => cost.with_mul(n).with_add(p),
    })
}

fn infer_reduce_attr(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    infer_reduce(cx, false)
}

fn infer_reduce_input(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    infer_reduce(cx, true)
}

fn cost_reduce_attr(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    cost_reduce(cx, false)
}

fn cost_reduce_input(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    cost_reduce(cx, true)
}

/// Registers a reduction with `axes` an attribute up to `$last_attr` and an input after.
macro_rules! reduction {
    ($class:ident, $op:literal, $last_attr:literal, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::range(1, $last_attr),
                roles: &[Role::Data],
                infer: infer_reduce_attr,
                cost: cost_reduce_attr,
                formula: concat!($formula, "; n = numel(X), m = numel(Y); axes attribute"),
            }
        }
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since($last_attr + 1),
                roles: &[Role::Data, Role::Config],
                infer: infer_reduce_input,
                cost: cost_reduce_input,
                formula: concat!($formula, "; n = numel(X), m = numel(Y); axes input"),
            }
        }
    };
}

reduction!(Other, "ReduceSum", 12, "add = n − m");
reduction!(
    Other,
    "ReduceMean",
    17,
    "add = n − m, div = m (none for the no-op of empty axes)"
);
reduction!(Other, "ReduceMax", 17, "cmp = n − m");
reduction!(Other, "ReduceMin", 17, "cmp = n − m");
reduction!(Other, "ReduceProd", 17, "mul = n − m");
reduction!(Other, "ReduceL1", 17, "cmp = n (abs), add = n − m");
reduction!(
    Other,
    "ReduceL2",
    17,
    "mul = n (square), add = n − m, special = m (sqrt)"
);
reduction!(Other, "ReduceLogSum", 17, "add = n − m, special = m (log)");
reduction!(
    Other,
    "ReduceLogSumExp",
    17,
    "special = n (exp) + m (log), add = n − m"
);
reduction!(
    Other,
    "ReduceSumSquare",
    17,
    "mul = n (square), add = n − m"
);

// ---- ArgMax, ArgMin --------------------------------------------------------------------------

/// The index of the extremum along `axis`: int64, the axis kept as 1 or dropped.
fn infer_arg(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", 0i64)?, x.rank())?;
    let keepdims = cx.attr_or("keepdims", 1i64)? != 0;
    let shape = reduced_shape(&x.shape, &[axis], keepdims);
    let ty = TensorType::new(DType::Int64, shape);
    let last = cx.attr_or("select_last_index", 0i64)? != 0;
    let max = cx.node().op_type == "ArgMax";
    let folded = match (cx.value(0)?, concrete(&x.shape)) {
        (Some(v), Some(dims)) => fold_arg(v, &dims, axis, max, last),
        _ => None,
    };
    set_maybe_value(cx, ty, folded);
    Ok(())
}

/// The index of the largest (`max`) or smallest element along `axis`: the first one, or the
/// last with `select_last_index`. NaNs and symbolic elements are not folded.
fn fold_arg(
    v: &TensorValue,
    dims: &[usize],
    axis: usize,
    max: bool,
    last: bool,
) -> Option<Elements> {
    let xs = v.as_f64s()?;
    if xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut best: Option<(usize, f64)> = None;
            for k in 0..len {
                let x = xs[(o * len + k) * inner + i];
                let better = match best {
                    None => true,
                    Some((_, b)) if max => x > b || (last && x == b),
                    Some((_, b)) => x < b || (last && x == b),
                };
                if better {
                    best = Some((k, x));
                }
            }
            out.push(Dim::from_i64(i64::try_from(best?.0).ok()?));
        }
    }
    Some(Elements::Int(out))
}

/// One comparison per element beyond the first of each row: `n − m`.
fn cost_arg(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let n = cx.tensor(0)?.numel();
    let m = cx.req_output(0)?.numel();
    Ok(Cost::zero().with_cmp(pairs(&n, &m)))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ArgMax",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_arg,
        cost: cost_arg,
        formula: "cmp = numel(X) − numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ArgMin",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_arg,
        cost: cost_arg,
        formula: "cmp = numel(X) − numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    const N: i64 = 2 * 3 * 4 * 5;

    /// A reduction of [2, 3, 4, 5] over axes 1 and 3 with axes as an input (opset 18).
    fn reduce18(op: &str) -> Case {
        Case::new(op)
            .opset(18)
            .input(t("float32", &[2, 3, 4, 5]))
            .const_i64s(&[2], &[1, -1])
    }

    #[test]
    fn reduce_sum_attr_and_input_forms() {
        // Opset 11: axes attribute.
        let r = Case::new("ReduceSum")
            .opset(11)
            .input(t("float32", &[2, 3, 4, 5]))
            .ints("axes", &[1, -1])
            .run();
        assert_eq!(r.shape(0), "[2, 1, 4, 1]");
        assert_eq!(r.flops_add(), N - 8);
        // Opset 13: axes input, keepdims 0.
        let r = Case::new("ReduceSum")
            .opset(13)
            .input(t("float32", &[2, 3, 4, 5]))
            .const_i64s(&[1], &[-2])
            .int("keepdims", 0)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 5]");
        assert_eq!(r.flops_add(), N - 30);
        // No axes: all of them.
        let r = Case::new("ReduceSum")
            .opset(13)
            .input(t("float32", &[2, 3, 4, 5]))
            .int("keepdims", 0)
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.flops_add(), N - 1);
    }

    #[test]
    fn noop_with_empty_axes_is_identity() {
        let r = Case::new("ReduceMean")
            .opset(18)
            .input(t("float32", &[2, 3]))
            .const_i64s(&[0], &[])
            .int("noop_with_empty_axes", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        assert_eq!((r.flops_add(), r.flops_div()), (0, 0));
        // The composite part still happens: log of every element.
        let r = Case::new("ReduceLogSum")
            .opset(18)
            .input(t("float32", &[2, 3]))
            .int("noop_with_empty_axes", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        assert_eq!((r.flops_add(), r.flops_special()), (0, 6));
    }

    #[test]
    fn reduction_costs_by_hand() {
        let m = 2 * 4;
        let r = reduce18("ReduceMean").run();
        assert_eq!(r.shape(0), "[2, 1, 4, 1]");
        assert_eq!((r.flops_add(), r.flops_div()), (N - m, m));
        let r = reduce18("ReduceMax").run();
        assert_eq!(r.flops_cmp(), N - m);
        let r = reduce18("ReduceMin").run();
        assert_eq!(r.flops_cmp(), N - m);
        let r = reduce18("ReduceProd").run();
        assert_eq!(r.flops_mul(), N - m);
        let r = reduce18("ReduceL1").run();
        assert_eq!((r.flops_cmp(), r.flops_add()), (N, N - m));
        let r = reduce18("ReduceL2").run();
        assert_eq!(
            (r.flops_mul(), r.flops_add(), r.flops_special()),
            (N, N - m, m)
        );
        let r = reduce18("ReduceLogSum").run();
        assert_eq!((r.flops_add(), r.flops_special()), (N - m, m));
        let r = reduce18("ReduceLogSumExp").run();
        assert_eq!((r.flops_add(), r.flops_special()), (N - m, N + m));
        let r = reduce18("ReduceSumSquare").run();
        assert_eq!((r.flops_mul(), r.flops_add()), (N, N - m));
    }

    #[test]
    fn opset_17_takes_the_attribute() {
        let r = Case::new("ReduceMax")
            .opset(17)
            .input(t("float32", &[2, 3, 4, 5]))
            .ints("axes", &[0])
            .int("keepdims", 0)
            .run();
        assert_eq!(r.shape(0), "[3, 4, 5]");
        assert_eq!(r.flops_cmp(), N - 60);
    }

    #[test]
    fn empty_reduction_costs_nothing() {
        let r = Case::new("ReduceSum")
            .opset(13)
            .input(t("float32", &[2, 0, 4]))
            .const_i64s(&[1], &[1])
            .run();
        assert_eq!(r.shape(0), "[2, 1, 4]");
        assert_eq!(r.flops_add(), 0);
    }

    #[test]
    fn symbolic_reduction() {
        let r = Case::new("ReduceMean")
            .opset(18)
            .input_sym("float32", &["batch", "seq", "768"])
            .const_i64s(&[1], &[-1])
            .run();
        assert_eq!(r.shape(0), "[batch, seq, 1]");
    }

    #[test]
    fn folds_integer_products_of_shapes() {
        // ReduceProd(Shape(x)) over axis 0, no keepdims: the element count.
        let r = Case::new("Shape")
            .input_sym("float32", &["b", "3", "h"])
            .then("ReduceProd")
            .opset(13)
            .ints("axes", &[0])
            .int("keepdims", 0)
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.value(0).as_deref(), Some("[3*b*h]"));
        let r = Case::new("Shape")
            .input_sym("float32", &["b", "3", "h"])
            .then("ReduceMax")
            .opset(13)
            .ints("axes", &[0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[max(b, h, 3)]"));
    }

    #[test]
    fn bad_axis_is_an_error() {
        let err = Case::new("ReduceSum")
            .opset(13)
            .input(t("float32", &[2, 3]))
            .const_i64s(&[1], &[2])
            .run_err();
        assert!(err.contains("axis 2"), "{err}");
    }

    #[test]
    fn argmax_shapes_and_cost() {
        let r = Case::new("ArgMax")
            .input(t("float32", &[2, 3, 4]))
            .int("axis", -1)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 1]");
        assert_eq!(r.dtype(0), DType::Int64);
        assert_eq!(r.flops_cmp(), 24 - 6);
        let r = Case::new("ArgMin")
            .input(t("float32", &[2, 3, 4]))
            .int("keepdims", 0)
            .int("select_last_index", 1)
            .run();
        assert_eq!(r.shape(0), "[3, 4]");
        assert_eq!(r.flops_cmp(), 24 - 12);
    }
}
