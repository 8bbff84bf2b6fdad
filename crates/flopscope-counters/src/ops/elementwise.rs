//! Elementwise ops: broadcasting arithmetic (Add, Sub, Mul, Div, Pow, Mod, Sum, Max, Min,
//! Mean), unary math (Abs, Neg, Exp, Log, Sqrt, Reciprocal, rounding, trigonometry, Erf), Relu
//! and Clip; and the folding machinery that the elementwise families (`activation`, `logic`,
//! `convert`) share.
//!
//! One FLOP per output element per elementary operation, in its bucket (README.md, "What is
//! counted"). Known elements (shape computations) are folded with `fold`, symbolically where
//! they are dims; an element that cannot be decided (a symbol compared with a constant that `Dim` cannot
//! order) leaves the whole output unfolded.

use std::cmp::Ordering;

use flopscope_ir::{DType, Dim, TensorType};

use super::fold::{Elem, Fold, Val, order, set_folded};
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast};

// ---- shared machinery ------------------------------------------------------------------------

/// Elements of output 0.
pub(super) fn out_numel(cx: &CostCtx<'_>) -> Result<Dim, OpError> {
    Ok(cx.req_output(0)?.numel())
}

/// `counts[k]` elementary operations per element of output 0, for the kinds in the order
/// add, mul, div, cmp, special.
pub(super) fn per_element(cx: &CostCtx<'_>, counts: [i64; 5]) -> Result<Cost, OpError> {
    let n = out_numel(cx)?;
    let [add, mul, div, cmp, special] = counts;
    Ok(Cost::zero()
        .with_add(&n * add)
        .with_mul(&n * mul)
        .with_div(&n * div)
        .with_cmp(&n * cmp)
        .with_special(&n * special))
}

/// Ops that, before opset 7, broadcast only B onto A (the `broadcast` / `axis` attributes), so
/// that the output has A's shape.
const LEGACY_BROADCAST: &[&str] = &[
    "Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater",
];

fn legacy_broadcast(cx: &InferCtx<'_>) -> bool {
    cx.opset() < 7 && LEGACY_BROADCAST.contains(&cx.node().op_type.as_str())
}

/// The output type of a broadcasting op over all its inputs, in input 0's element type.
pub(super) fn broadcast_type(cx: &InferCtx<'_>) -> Result<TensorType, OpError> {
    let first = cx.tensor(0)?;
    if legacy_broadcast(cx) {
        return Ok(first.clone());
    }
    let mut shapes = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        shapes.push(cx.tensor(i)?.shape.as_slice());
    }
    Ok(TensorType::new(first.dtype, broadcast(&shapes)?))
}

/// Infers a broadcasting op (output type: `dtype`, or input 0's), folding with `fold`.
pub(super) fn infer_broadcasting(
    cx: &mut InferCtx<'_>,
    dtype: Option<DType>,
    fold: Fold<'_>,
) -> Result<(), OpError> {
    let mut ty = broadcast_type(cx)?;
    if let Some(d) = dtype {
        ty.dtype = d;
    }
    // A legacy `axis` aligns B elsewhere than NumPy does: not folded.
    let foldable = !(legacy_broadcast(cx) && cx.attr::<i64>("axis")?.is_some());
    let inputs: Vec<usize> = (0..cx.input_count()).collect();
    set_folded(cx, ty, &inputs, foldable.then_some(fold))
}

/// Infers a unary op (output: input 0's shape, in `dtype` or input 0's type), folding with
/// `fold`.
pub(super) fn infer_unary(
    cx: &mut InferCtx<'_>,
    dtype: Option<DType>,
    fold: Option<Fold<'_>>,
) -> Result<(), OpError> {
    let mut ty = cx.tensor(0)?.clone();
    if let Some(d) = dtype {
        ty.dtype = d;
    }
    set_folded(cx, ty, &[0], fold)
}

// ---- unary math ------------------------------------------------------------------------------

fn fold_neg(e: &[Elem<'_>]) -> Option<Val> {
    match e.first()? {
        Elem::Int(d) => Some(Val::Int(-*d)),
        Elem::Float(f) => Some(Val::Float(-f)),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

fn fold_abs(e: &[Elem<'_>]) -> Option<Val> {
    match e.first()? {
        Elem::Int(d) => match d.compare(&Dim::zero())? {
            Ordering::Less => Some(Val::Int(-*d)),
            _ => Some(Val::Int((*d).clone())),
        },
        Elem::Float(f) => Some(Val::Float(f.abs())),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

fn fold_sign(e: &[Elem<'_>]) -> Option<Val> {
    match e.first()? {
        Elem::Int(d) => {
            let s = match d.compare(&Dim::zero())? {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            Some(Val::Int(Dim::from_i64(s)))
        }
        Elem::Float(f) if f.is_nan() => Some(Val::Float(f64::NAN)),
        Elem::Float(f) if *f == 0.0 => Some(Val::Float(0.0)),
        Elem::Float(f) => Some(Val::Float(f.signum())),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

fn fold_relu(e: &[Elem<'_>]) -> Option<Val> {
    match e.first()? {
        Elem::Int(d) => Some(Val::Int(d.max(&Dim::zero()))),
        Elem::Float(f) => Some(Val::Float(f.max(0.0))),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

/// Rounding of a known element: floats round, integers are already whole.
fn fold_rounding(e: &[Elem<'_>], round: fn(f64) -> f64) -> Option<Val> {
    match e.first()? {
        Elem::Int(d) => Some(Val::Int((*d).clone())),
        Elem::Float(f) => Some(Val::Float(round(*f))),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

fn fold_floor(e: &[Elem<'_>]) -> Option<Val> {
    fold_rounding(e, f64::floor)
}

fn fold_ceil(e: &[Elem<'_>]) -> Option<Val> {
    fold_rounding(e, f64::ceil)
}

/// ONNX `Round` rounds halves to even.
fn fold_round(e: &[Elem<'_>]) -> Option<Val> {
    fold_rounding(e, f64::round_ties_even)
}

/// A float function of a known element (integers are converted when constant).
fn fold_float(e: &[Elem<'_>], f: fn(f64) -> f64) -> Option<Val> {
    Some(Val::Float(f(e.first()?.as_f64()?)))
}

fn fold_reciprocal(e: &[Elem<'_>]) -> Option<Val> {
    fold_float(e, |x| 1.0 / x)
}

fn fold_sqrt(e: &[Elem<'_>]) -> Option<Val> {
    fold_float(e, f64::sqrt)
}

/// A unary op from opset `since` on: same shape and type as X, `counts` operations per element
/// (add, mul, div, cmp, special), elements folded by `fold` where it decides them.
macro_rules! unary {
    ($class:ident, $op:literal, $since:literal, $fold:expr, $counts:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since($since),
                roles: &[Role::Data],
                infer: |cx| infer_unary(cx, None, $fold),
                cost: |cx| per_element(cx, $counts),
                formula: $formula,
            }
        }
    };
}

unary!(
    Activation,
    "Relu",
    1,
    Some(&fold_relu),
    [0, 0, 0, 1, 0],
    "cmp = numel(Y) (max(x, 0))"
);
unary!(
    Other,
    "Abs",
    1,
    Some(&fold_abs),
    [0, 0, 0, 1, 0],
    "cmp = numel(Y)"
);
unary!(
    Other,
    "Neg",
    1,
    Some(&fold_neg),
    [0, 1, 0, 0, 0],
    "mul = numel(Y) (−x)"
);
unary!(
    Other,
    "Sign",
    9,
    Some(&fold_sign),
    [0, 0, 0, 1, 0],
    "cmp = numel(Y)"
);
unary!(
    Other,
    "Reciprocal",
    1,
    Some(&fold_reciprocal),
    [0, 0, 1, 0, 0],
    "div = numel(Y) (1/x)"
);
unary!(
    Other,
    "Exp",
    1,
    Some(&|e| fold_float(e, f64::exp)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Log",
    1,
    Some(&|e| fold_float(e, f64::ln)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Sqrt",
    1,
    Some(&fold_sqrt),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Floor",
    1,
    Some(&fold_floor),
    [0, 0, 0, 0, 1],
    "special = numel(Y) (rounding)"
);
unary!(
    Other,
    "Ceil",
    1,
    Some(&fold_ceil),
    [0, 0, 0, 0, 1],
    "special = numel(Y) (rounding)"
);
unary!(
    Other,
    "Round",
    11,
    Some(&fold_round),
    [0, 0, 0, 0, 1],
    "special = numel(Y) (rounding)"
);
unary!(
    Activation,
    "Erf",
    9,
    None,
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Sin",
    7,
    Some(&|e| fold_float(e, f64::sin)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Cos",
    7,
    Some(&|e| fold_float(e, f64::cos)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Tan",
    7,
    Some(&|e| fold_float(e, f64::tan)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Asin",
    7,
    Some(&|e| fold_float(e, f64::asin)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Acos",
    7,
    Some(&|e| fold_float(e, f64::acos)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Atan",
    7,
    Some(&|e| fold_float(e, f64::atan)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Sinh",
    9,
    Some(&|e| fold_float(e, f64::sinh)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Cosh",
    9,
    Some(&|e| fold_float(e, f64::cosh)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Asinh",
    9,
    Some(&|e| fold_float(e, f64::asinh)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Acosh",
    9,
    Some(&|e| fold_float(e, f64::acosh)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);
unary!(
    Other,
    "Atanh",
    9,
    Some(&|e| fold_float(e, f64::atanh)),
    [0, 0, 0, 0, 1],
    "special = numel(Y)"
);

// ---- Clip ------------------------------------------------------------------------------------

/// Clip before opset 11: bounds are the `min` / `max` attributes.
fn cost_clip_attrs(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let bounds = [cx.attr::<f32>("min")?, cx.attr::<f32>("max")?];
    let given = bounds.iter().filter(|b| b.is_some()).count() as i64;
    Ok(Cost::zero().with_cmp(out_numel(cx)? * given))
}

/// Clip from opset 11: bounds are optional inputs 1 and 2.
fn cost_clip_inputs(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let given = (1..=2).filter(|&i| cx.has_input(i)).count() as i64;
    Ok(Cost::zero().with_cmp(out_numel(cx)? * given))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Clip",
        class: OpClass::Activation,
        opsets: Opsets::range(1, 10),
        roles: &[Role::Data],
        infer: |cx| {
            let lo = cx.attr::<f32>("min")?.map(f64::from);
            let hi = cx.attr::<f32>("max")?.map(f64::from);
            infer_unary(cx, None, Some(&|e| fold_clip(e.first().copied()?, lo.map(Elem::Float), hi.map(Elem::Float))))
        },
        cost: cost_clip_attrs,
        formula: "cmp = numel(Y) per bound given (min, max attributes)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Clip",
        class: OpClass::Activation,
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: |cx| {
            let ty = cx.tensor(0)?.clone();
            let (has_lo, has_hi) = (cx.has_input(1), cx.has_input(2));
            let inputs: Vec<usize> = [Some(0), has_lo.then_some(1), has_hi.then_some(2)]
                .into_iter()
                .flatten()
                .collect();
            let fold = move |e: &[Elem<'_>]| {
                let mut it = e.iter().copied();
                let x = it.next()?;
                let lo = if has_lo { Some(it.next()?) } else { None };
                let hi = if has_hi { Some(it.next()?) } else { None };
                fold_clip(x, lo, hi)
            };
            set_folded(cx, ty, &inputs, Some(&fold))
        },
        cost: cost_clip_inputs,
        formula: "cmp = numel(Y) per bound given (min, max inputs)",
    }
}

/// `min(max(x, lo), hi)`, as ONNX Runtime computes Clip (so `hi` wins when `lo > hi`).
fn fold_clip(x: Elem<'_>, lo: Option<Elem<'_>>, hi: Option<Elem<'_>>) -> Option<Val> {
    let mut v = x;
    if let Some(lo) = lo
        && order(v, lo)?? == Ordering::Less
    {
        v = lo;
    }
    if let Some(hi) = hi
        && order(v, hi)?? == Ordering::Greater
    {
        v = hi;
    }
    Some(match v {
        Elem::Int(d) => Val::Int(d.clone()),
        Elem::Float(f) => Val::Float(f),
        Elem::Str(_) | Elem::Unknown => return None,
    })
}

// ---- binary and variadic arithmetic ----------------------------------------------------------

/// A left-to-right fold of integer elements with `f` (variadic arithmetic).
/// A left-to-right fold of the elements: with `int` when every element is an integer
/// (symbolic ones included), else with `float` when every element is a known number.
fn ints_with(
    int: fn(&Dim, &Dim) -> Option<Dim>,
    float: fn(f64, f64) -> f64,
) -> impl Fn(&[Elem<'_>]) -> Option<Val> {
    move |es| {
        let (first, rest) = es.split_first()?;
        if let Some(first) = first.int() {
            let mut acc = first.clone();
            let mut all_ints = true;
            for e in rest {
                match e.int() {
                    Some(x) => acc = int(&acc, x)?,
                    None => {
                        all_ints = false;
                        break;
                    }
                }
            }
            if all_ints {
                return Some(Val::Int(acc));
            }
        }
        let mut acc = first.as_f64()?;
        for e in rest {
            acc = float(acc, e.as_f64()?);
        }
        Some(Val::Float(acc))
    }
}

/// Integer division as ONNX defines it for integer tensors (truncation toward zero), folded
/// only where the result is exact or both sides are non-negative constants.
fn fold_div(a: &Dim, b: &Dim) -> Option<Dim> {
    if let Some(q) = a.div_exact(b) {
        return Some(q);
    }
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) if y != 0 => x.checked_div(y).map(Dim::from_i64),
        (None, Some(y)) if y > 0 => a.floor_div(y).ok(),
        _ => None,
    }
}

/// Each output element combines `inputs − 1` pairs.
fn pairwise(cx: &CostCtx<'_>) -> Result<Dim, OpError> {
    let inputs = (0..cx.input_count()).filter(|&i| cx.has_input(i)).count() as i64;
    Ok(out_numel(cx)? * (inputs - 1).max(0))
}

/// A broadcasting op from opset 1 on whose integer elements fold with `$fold`.
macro_rules! arithmetic {
    ($class:ident, $op:literal, $fold:expr, $float:expr, $cost:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since(1),
                roles: &[Role::Data],
                infer: |cx| infer_broadcasting(cx, None, &ints_with($fold, $float)),
                cost: $cost,
                formula: $formula,
            }
        }
    };
}

arithmetic!(
    Add,
    "Add",
    |a, b| Some(a + b),
    |a, b| a + b,
    |cx| Ok(Cost::zero().with_add(out_numel(cx)?)),
    "add = numel(Y)"
);
arithmetic!(
    Other,
    "Sub",
    |a, b| Some(a - b),
    |a, b| a - b,
    |cx| Ok(Cost::zero().with_add(out_numel(cx)?)),
    "add = numel(Y)"
);
arithmetic!(
    Other,
    "Mul",
    |a, b| Some(a * b),
    |a, b| a * b,
    |cx| Ok(Cost::zero().with_mul(out_numel(cx)?)),
    "mul = numel(Y)"
);
arithmetic!(
    Other,
    "Div",
    fold_div,
    |a, b| a / b,
    |cx| Ok(Cost::zero().with_div(out_numel(cx)?)),
    "div = numel(Y)"
);
arithmetic!(
    Add,
    "Sum",
    |a, b| Some(a + b),
    |a, b| a + b,
    |cx| Ok(Cost::zero().with_add(pairwise(cx)?)),
    "add = (inputs − 1)·numel(Y)"
);
arithmetic!(
    Other,
    "Max",
    |a, b| Some(a.max(b)),
    f64::max,
    |cx| Ok(Cost::zero().with_cmp(pairwise(cx)?)),
    "cmp = (inputs − 1)·numel(Y)"
);
arithmetic!(
    Other,
    "Min",
    |a, b| Some(a.min(b)),
    f64::min,
    |cx| Ok(Cost::zero().with_cmp(pairwise(cx)?)),
    "cmp = (inputs − 1)·numel(Y)"
);

fn cost_mean(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(Cost::zero()
        .with_add(pairwise(cx)?)
        .with_div(out_numel(cx)?))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Mean",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| infer_broadcasting(cx, None, &fold_mean),
        cost: cost_mean,
        formula: "add = (inputs − 1)·numel(Y); div = numel(Y)",
    }
}

/// The mean of float elements (integer means are not folded).
fn fold_mean(e: &[Elem<'_>]) -> Option<Val> {
    let mut sum = 0.0;
    for x in e {
        let Elem::Float(f) = x else { return None };
        sum += f;
    }
    Some(Val::Float(sum / e.len() as f64))
}

/// `x^y`: on floats as `powf` (rounded to the type by the fold); on integers for a
/// non-negative constant integral exponent.
fn fold_pow(e: &[Elem<'_>]) -> Option<Val> {
    let [base, exp] = e else { return None };
    if let Elem::Float(b) = base {
        return Some(Val::Float(b.powf(exp.as_f64()?)));
    }
    let base = base.int()?;
    let exp = exp.as_f64()?;
    if !(0.0..=64.0).contains(&exp) || exp.fract() != 0.0 {
        return None;
    }
    let pow = base.checked_pow(exp as u32);
    (!pow.is_overflow()).then_some(Val::Int(pow))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Pow",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config],
        infer: |cx| infer_broadcasting(cx, None, &fold_pow),
        cost: |cx| per_element(cx, [0, 0, 0, 0, 1]),
        formula: "special = numel(Z)",
    }
}

/// `a mod b` for integers: the sign of the divisor (Python's `%`), or of the dividend with
/// `fmod` (C's `fmod`). A symbolic dividend folds for a positive constant divisor, as
/// `a − b·floor(a/b)` (with `fmod`, only when `a ≥ 0` is provable).
fn fold_mod(a: &Dim, b: &Dim, fmod: bool) -> Option<Dim> {
    let c = b.as_i64().filter(|&c| c != 0)?;
    if let Some(x) = a.as_i64() {
        let r = x.checked_rem(c)?;
        let python = r != 0 && (r < 0) != (c < 0);
        return Some(Dim::from_i64(if python && !fmod { r + c } else { r }));
    }
    if c < 0 {
        return None;
    }
    if fmod
        && !matches!(
            a.compare(&Dim::zero()),
            Some(Ordering::Greater | Ordering::Equal)
        )
    {
        return None;
    }
    let q = a.floor_div(c).ok()?;
    Some(a - &(q * c))
}

fn infer_mod(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let fmod = match cx.attr_or("fmod", 0i64)? {
        0 => false,
        1 => true,
        other => {
            return Err(OpError::Invalid(format!(
                "`fmod` = {other}, expected 0 or 1"
            )));
        }
    };
    let fold = move |e: &[Elem<'_>]| match e {
        [Elem::Int(a), Elem::Int(b)] => fold_mod(a, b, fmod).map(Val::Int),
        [a, b] => fold_mod_float(a.as_f64()?, b.as_f64()?, fmod).map(Val::Float),
        _ => None,
    };
    infer_broadcasting(cx, None, &fold)
}

/// `a mod b` for floats: C's `fmod` (the sign of the dividend), or with `fmod = 0` NumPy's
/// `mod` (the sign of the divisor).
fn fold_mod_float(a: f64, b: f64, fmod: bool) -> Option<f64> {
    let r = a % b;
    if fmod || r == 0.0 || r.is_nan() || (r < 0.0) == (b < 0.0) {
        return Some(r);
    }
    Some(r + b)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Mod",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data],
        infer: infer_mod,
        cost: |cx| per_element(cx, [0, 0, 1, 0, 0]),
        formula: "div = numel(C)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{DType, Dim};

    use super::{Elem, Val, fold_mod, fold_pow, order};
    use crate::ops::testing::{Case, t};

    /// Flops by kind: (add, mul, div, cmp, special).
    type Kinds = (i64, i64, i64, i64, i64);

    #[test]
    fn relu_and_clip_count_comparisons() {
        let r = Case::new("Relu").input(t("float32", &[2, 3, 4])).run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        assert_eq!(r.flops_cmp(), 24);

        // Opset 11+: ReLU6 as Clip(x, 0, 6) with both bounds.
        let r = Case::new("Clip")
            .input(t("float32", &[1, 32, 112, 112]))
            .const_f32s(&[], &[0.0])
            .const_f32s(&[], &[6.0])
            .run();
        assert_eq!(r.flops_cmp(), 2 * 32 * 112 * 112);
        assert_eq!(r.params(), 0, "scalar bounds are constants");

        let r = Case::new("Clip")
            .input(t("float32", &[10]))
            .absent()
            .const_f32s(&[], &[6.0])
            .run();
        assert_eq!(r.flops_cmp(), 10);

        let r = Case::new("Clip")
            .opset(6)
            .input(t("float32", &[10]))
            .float("min", 0.0)
            .run();
        assert_eq!(r.flops_cmp(), 10);
    }

    #[test]
    fn broadcasting_arithmetic() {
        let r = Case::new("Add")
            .input(t("float32", &[1, 64, 56, 56]))
            .input(t("float32", &[64, 1, 1]))
            .run();
        assert_eq!(r.shape(0), "[1, 64, 56, 56]");
        assert_eq!(r.flops_add(), 64 * 56 * 56);

        let r = Case::new("Div")
            .input(t("float32", &[4, 5]))
            .input(t("float32", &[5]))
            .run();
        assert_eq!(r.flops_div(), 20);

        let r = Case::new("Sum")
            .input(t("float32", &[2, 8]))
            .input(t("float32", &[2, 8]))
            .input(t("float32", &[8]))
            .run();
        assert_eq!(r.flops_add(), 2 * 16);

        let r = Case::new("Sub")
            .input(t("float32", &[3, 1]))
            .input(t("float32", &[1, 5]))
            .run();
        assert_eq!(r.shape(0), "[3, 5]");
        assert_eq!(r.flops_add(), 15);

        // Variadic max/min: (inputs - 1) comparisons per output element.
        for op in ["Max", "Min"] {
            let r = Case::new(op)
                .input(t("float32", &[4, 6]))
                .input(t("float32", &[6]))
                .input(t("float32", &[4, 1]))
                .run();
            assert_eq!(r.shape(0), "[4, 6]");
            assert_eq!(r.flops_cmp(), 2 * 24, "{op}");
        }

        let r = Case::new("Mean")
            .input(t("float32", &[6]))
            .input(t("float32", &[6]))
            .run();
        assert_eq!((r.flops_add(), r.flops_div()), (6, 6));

        let err = Case::new("Mul")
            .input(t("float32", &[2, 3]))
            .input(t("float32", &[4]))
            .run_err();
        assert!(err.contains("cannot be broadcast"), "{err}");
    }

    #[test]
    fn legacy_broadcast_keeps_a_shape() {
        let r = Case::new("Mul")
            .opset(6)
            .input(t("float32", &[1, 64, 8, 8]))
            .weight(t("float32", &[64]))
            .int("broadcast", 1)
            .int("axis", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 64, 8, 8]");
        assert_eq!(r.flops_mul(), 64 * 64);
        assert_eq!(r.params(), 64);
    }

    #[test]
    fn integer_arithmetic_on_known_values_folds() {
        let r = Case::new("Mul")
            .const_i64s(&[2], &[3, 4])
            .const_i64s(&[], &[5])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[15, 20]"));
        let r = Case::new("Div")
            .const_i64s(&[2], &[224, 7])
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[112, 3]"));
    }

    #[test]
    fn unary_math_costs_one_op_per_element() {
        // x: [2, 3, 4] = 24 elements; each op is one elementary operation per element.
        let cases: &[(&str, Kinds)] = &[
            ("Abs", (0, 0, 0, 24, 0)),
            ("Sign", (0, 0, 0, 24, 0)),
            ("Relu", (0, 0, 0, 24, 0)),
            ("Neg", (0, 24, 0, 0, 0)),
            ("Reciprocal", (0, 0, 24, 0, 0)),
            ("Exp", (0, 0, 0, 0, 24)),
            ("Log", (0, 0, 0, 0, 24)),
            ("Sqrt", (0, 0, 0, 0, 24)),
            ("Floor", (0, 0, 0, 0, 24)),
            ("Ceil", (0, 0, 0, 0, 24)),
            ("Round", (0, 0, 0, 0, 24)),
            ("Erf", (0, 0, 0, 0, 24)),
            ("Sin", (0, 0, 0, 0, 24)),
            ("Cos", (0, 0, 0, 0, 24)),
            ("Tan", (0, 0, 0, 0, 24)),
            ("Asin", (0, 0, 0, 0, 24)),
            ("Acos", (0, 0, 0, 0, 24)),
            ("Atan", (0, 0, 0, 0, 24)),
            ("Sinh", (0, 0, 0, 0, 24)),
            ("Cosh", (0, 0, 0, 0, 24)),
            ("Asinh", (0, 0, 0, 0, 24)),
            ("Acosh", (0, 0, 0, 0, 24)),
            ("Atanh", (0, 0, 0, 0, 24)),
        ];
        for &(op, want) in cases {
            let r = Case::new(op).input(t("float32", &[2, 3, 4])).run();
            assert_eq!(r.shape(0), "[2, 3, 4]", "{op}");
            assert_eq!(r.dtype(0), DType::Float32, "{op}");
            assert_eq!(r.kinds(), want, "{op}");
        }
        // Symbolic shapes give symbolic costs.
        let r = Case::new("Exp").input_sym("float32", &["n", "8"]).run();
        assert_eq!(r.shape(0), "[n, 8]");
    }

    #[test]
    fn unary_folds_signs_symbolically() {
        let r = Case::new("Neg").const_i64s(&[3], &[1, -2, 0]).run();
        assert_eq!(r.value(0).as_deref(), Some("[-1, 2, 0]"));
        let r = Case::new("Abs").const_i64s(&[3], &[1, -2, 0]).run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 2, 0]"));
        let r = Case::new("Sign").const_i64s(&[3], &[7, -2, 0]).run();
        assert_eq!(r.value(0).as_deref(), Some("[1, -1, 0]"));
        let r = Case::new("Relu").const_i64s(&[2], &[7, -2]).run();
        assert_eq!(r.value(0).as_deref(), Some("[7, 0]"));

        // Shape of x[n + 1, 3] is [n + 1, 3]: n + 1 > 0 is provable, so its sign folds.
        let r = Case::new("Shape")
            .input_sym("float32", &["n + 1", "3"])
            .then("Neg")
            .then("Abs")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[n + 1, 3]"));
        let r = Case::new("Shape")
            .input_sym("float32", &["n + 1", "3"])
            .then("Sign")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 1]"));
        // n itself may be 0: its sign is not known, and nothing folds.
        let r = Case::new("Shape")
            .input_sym("float32", &["n", "3"])
            .then("Sign")
            .run();
        assert_eq!((r.shape(0), r.value(0)), ("[2]".into(), None));
    }

    #[test]
    fn pow_and_mod_costs_and_folds() {
        let r = Case::new("Pow")
            .input(t("float32", &[4, 5]))
            .const_f32s(&[], &[2.0])
            .run();
        assert_eq!(r.shape(0), "[4, 5]");
        assert_eq!(r.kinds(), (0, 0, 0, 0, 20));
        assert_eq!(r.params(), 0, "a scalar exponent is a constant");
        let r = Case::new("Pow")
            .const_i64s(&[3], &[2, 3, -4])
            .const_i64s(&[], &[3])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[8, 27, -64]"));
        // Pow-1: B broadcasts onto A only; the output has A's shape.
        let r = Case::new("Pow")
            .opset(6)
            .input(t("float32", &[2, 3]))
            .input(t("float32", &[3]))
            .int("broadcast", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");

        let r = Case::new("Mod")
            .input(t("int64", &[3, 1]))
            .input(t("int64", &[1, 4]))
            .run();
        assert_eq!(r.shape(0), "[3, 4]");
        assert_eq!(r.kinds(), (0, 0, 12, 0, 0));
        // Python semantics: the sign of the divisor.
        let r = Case::new("Mod")
            .const_i64s(&[4], &[7, -7, 7, -7])
            .const_i64s(&[4], &[3, 3, -3, -3])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 2, -2, -1]"));
        // fmod: the sign of the dividend.
        let r = Case::new("Mod")
            .const_i64s(&[4], &[7, -7, 7, -7])
            .const_i64s(&[4], &[3, 3, -3, -3])
            .int("fmod", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, -1, 1, -1]"));
        let err = Case::new("Mod")
            .input(t("int64", &[2]))
            .input(t("int64", &[2]))
            .int("fmod", 2)
            .run_err();
        assert!(err.contains("fmod"), "{err}");
    }

    #[test]
    fn fold_functions_on_symbols() {
        let n = Dim::sym("n");
        let two_n = &n * 2;
        assert_eq!(
            fold_mod(&two_n, &Dim::from_i64(2), false),
            Some(Dim::zero())
        );
        assert_eq!(
            fold_mod(&n, &Dim::from_i64(4), false).map(|d| d.to_string()),
            Some("-4*floor(n/4) + n".into())
        );
        assert_eq!(fold_mod(&n, &Dim::from_i64(0), false), None);
        assert_eq!(fold_mod(&n, &Dim::from_i64(-4), false), None);
        assert_eq!(fold_mod(&-&n, &Dim::from_i64(4), true), None);

        let three = Dim::from_i64(3);
        assert_eq!(
            fold_pow(&[Elem::Int(&n), Elem::Float(2.0)]),
            Some(Val::Int(&n * &n))
        );
        assert_eq!(fold_pow(&[Elem::Int(&three), Elem::Float(0.5)]), None);
        assert_eq!(fold_pow(&[Elem::Int(&three), Elem::Unknown]), None);

        // Orders: symbols are >= 0, so n + 1 > 0 but n vs 1 is unknown.
        let one = Dim::one();
        let m1 = Dim::from_i64(-1);
        assert_eq!(
            order(Elem::Int(&n), Elem::Int(&m1)),
            Some(Some(std::cmp::Ordering::Greater))
        );
        assert_eq!(order(Elem::Int(&n), Elem::Int(&one)), None);
        assert_eq!(order(Elem::Float(f64::NAN), Elem::Float(1.0)), Some(None));
    }

    #[test]
    fn folds_broadcast_both_ways() {
        // [2, 1] + [1, 3] → [2, 3], element (i, j) = a[i] + b[j].
        let r = Case::new("Add")
            .const_i64s(&[2, 1], &[10, 20])
            .const_i64s(&[1, 3], &[1, 2, 3])
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        assert_eq!(r.value(0).as_deref(), Some("[11, 12, 13, 21, 22, 23]"));
        // Sum over three inputs, one of them a scalar.
        let r = Case::new("Sum")
            .const_i64s(&[2], &[1, 2])
            .const_i64s(&[], &[10])
            .const_i64s(&[1], &[100])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[111, 112]"));
        // Overflow is not folded; empty tensors fold to no elements.
        let r = Case::new("Mul")
            .const_i64s(&[1], &[i64::MAX])
            .const_i64s(&[], &[2])
            .run();
        assert_eq!((r.shape(0), r.value(0)), ("[1]".into(), None));
        let r = Case::new("Add")
            .const_i64s(&[0, 1], &[])
            .input(t("int64", &[1, 1 << 40]))
            .run();
        assert_eq!(r.shape(0), "[0, 1099511627776]");
        // One unknown operand: no fold, but the type is inferred.
        let r = Case::new("Add")
            .const_i64s(&[2], &[1, 2])
            .input(t("int64", &[2]))
            .run();
        assert_eq!((r.shape(0), r.value(0)), ("[2]".into(), None));
    }
}
