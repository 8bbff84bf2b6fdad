//! Normalizations: BatchNormalization, LayerNormalization, RMSNormalization,
//! GroupNormalization, InstanceNormalization, LpNormalization, MeanVarianceNormalization, LRN;
//! and the softmax family: Softmax, LogSoftmax, Hardmax.
//!
//! Costs follow each op's spec formula, one FLOP per element per elementary operation: with
//! n = numel(X) and r the number of independent groups the statistics are taken over (rows),
//! a mean is n − r adds and r divisions, a per-element step is n ops, a per-group step r.

use flopscope_ir::{DType, Dim, TensorType};

use super::same_as_input;
use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid,
    normalize_axis, product,
};

// ---- BatchNormalization ----------------------------------------------------------------------

/// Whether the node computes batch statistics (training mode) rather than using the running
/// ones: `training_mode = 1` from opset 14; before, the presence of the statistics outputs
/// (and `is_test = 0` before opset 7).
fn bn_training(
    opset: i64,
    node_outputs: usize,
    has_stats_output: bool,
    training_mode: i64,
) -> bool {
    if opset >= 14 {
        training_mode != 0
    } else {
        node_outputs > 1 && has_stats_output
    }
}

/// Y has X's shape; the statistics outputs have the shape of the running mean.
fn infer_batchnorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    if x.rank() < 2 {
        return invalid!("input X has shape {}, expected [N, C, ...]", x);
    }
    for (i, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        if let Some(p) = cx.opt_tensor(i)?
            && p.rank() == 1
            && let (Some(c), Some(pc)) = (x.shape[1].as_i64(), p.shape[0].as_i64())
            && c != pc
        {
            return invalid!("{what} has shape {} but X {} has {c} channels", p, x);
        }
    }
    let stats = match cx.opt_tensor(3)? {
        Some(mean) => mean.clone(),
        None => TensorType::new(x.dtype, vec![x.shape[1].clone()]),
    };
    for i in 1..cx.output_count() {
        cx.set(i, stats.clone());
    }
    cx.set(0, x);
    Ok(())
}

/// Inference: `Y = (X − mean)/sqrt(var + ε)·scale + B`: per element add 2, mul 1, div 1; per
/// statistic (C of them, or numel(mean) with the legacy `spatial = 0`) add 1 and sqrt 1. Training adds the batch statistics (mean: add N, div C; variance:
/// add 2N, mul N, div C) and the running updates (mul 4C, add 2C).
fn cost_batchnorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    // One statistic per channel; per element of C×D1×… with `spatial = 0` (opsets 1–8).
    let c = match cx.opt_tensor(3)? {
        Some(mean) => mean.numel(),
        None => x.shape[1].clone(),
    };
    let mut cost = Cost::zero()
        .with_add(&n * 2 + &c)
        .with_mul(n.clone())
        .with_div(n.clone())
        .with_special(c.clone());
    let training = bn_training(
        cx.opset(),
        cx.node().outputs.len(),
        cx.output(1).is_some(),
        cx.attr_or("training_mode", 0i64)?,
    );
    if training {
        cost = cost
            .with_add(&n * 3 + &c * 2)
            .with_mul(n + &c * 4)
            .with_div(c * 2);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "BatchNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias, Role::Buffer, Role::Buffer],
        infer: infer_batchnorm,
        cost: cost_batchnorm,
        formula: "add = 2·numel(X) + C, mul = numel(X), div = numel(X), special = C (sqrt), \
                  C = numel(mean); training adds the batch statistics",
    }
}

// ---- LRN ---------------------------------------------------------------------------------

/// `y = x / (bias + alpha/size · Σ x²)^beta` over `size` neighbouring channels: per element
/// one square (mul), `size − 1` adds for the window sum, one scale (mul), one add (bias), one
/// pow (special) and one div.
fn cost_lrn(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let n = cx.tensor(0)?.numel();
    let size = cx.req_attr::<i64>("size")?;
    if size < 1 {
        return invalid!("size {size} is not positive");
    }
    Ok(Cost::zero()
        .with_mul(&n * 2)
        .with_add(&n * size)
        .with_special(n.clone())
        .with_div(n))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LRN",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: same_as_input,
        cost: cost_lrn,
        formula: "mul = 2·numel(X), add = size·numel(X), special = numel(X) (pow), div = numel(X)",
    }
}

// ---- Softmax -------------------------------------------------------------------------------

/// Number of independent rows softmax normalizes. Before opset 13 the input is coerced to 2-D
/// at `axis` (default 1) and each row spans every axis from `axis` on; from 13 a row is one
/// axis (default −1).
fn softmax_rows(cx: &CostCtx<'_>, x: &TensorType) -> Result<Dim, OpError> {
    softmax_rows_of(x, cx.opset() < 13, cx.attr("axis")?)
}

/// [`softmax_rows`] for the semantics of opsets before 13 (`legacy`) or from 13, with an
/// optional `axis` attribute.
pub(super) fn softmax_rows_of(
    x: &TensorType,
    legacy: bool,
    axis: Option<i64>,
) -> Result<Dim, OpError> {
    if x.rank() == 0 {
        return Ok(Dim::one());
    }
    if legacy {
        let axis = normalize_axis(axis.unwrap_or(1), x.rank().max(1))?;
        Ok(product(&x.shape[..axis]))
    } else {
        let axis = normalize_axis(axis.unwrap_or(-1), x.rank())?;
        Ok(product(&x.shape[..axis]) * product(&x.shape[axis + 1..]))
    }
}

/// `y = exp(x) / Σ exp(x)` over `n` elements in `rows` rows: exp per element (special), a row
/// sum (add, row length − 1 per row) and a division per element.
pub(super) fn softmax_cost(n: &Dim, rows: &Dim) -> Cost {
    Cost::zero()
        .with_special(n.clone())
        .with_add(n - rows)
        .with_div(n.clone())
}

fn cost_softmax(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    Ok(softmax_cost(&x.numel(), &softmax_rows(cx, x)?))
}

fn infer_softmax(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let default_axis = if cx.opset() < 13 { 1 } else { -1 };
    let axis = cx.attr_or("axis", default_axis)?;
    if x.rank() > 0 {
        normalize_axis(axis, x.rank())?;
    }
    cx.set(0, x);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Softmax",
        class: OpClass::Activation,
        opsets: Opsets::range(1, 12),
        roles: &[Role::Data],
        infer: infer_softmax,
        cost: cost_softmax,
        formula: "special = numel(X) (exp), add = numel(X) − rows, div = numel(X); rows = ∏dims before axis",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Softmax",
        class: OpClass::Activation,
        opsets: Opsets::since(13),
        roles: &[Role::Data],
        infer: infer_softmax,
        cost: cost_softmax,
        formula: "special = numel(X) (exp), add = numel(X) − rows, div = numel(X); rows = numel(X)/X[axis]",
    }
}

// ---- LogSoftmax, Hardmax ---------------------------------------------------------------------

/// `y = x − log(Σ exp(x))` per row: exp per element, the row sum (row length − 1 adds per
/// row), one log per row and the subtraction per element.
fn cost_logsoftmax(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let rows = softmax_rows(cx, x)?;
    Ok(Cost::zero()
        .with_special(&n + &rows)
        .with_add(&n * 2 - rows))
}

/// One-hot of the row maximum: a comparison per element beyond the first of each row; writing
/// the one-hot output is data movement.
fn cost_hardmax(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let rows = softmax_rows(cx, x)?;
    Ok(Cost::zero().with_cmp(n - rows))
}

macro_rules! softmax_like {
    ($class:ident, $op:literal, $cost:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::range(1, 12),
                roles: &[Role::Data],
                infer: infer_softmax,
                cost: $cost,
                formula: concat!($formula, "; rows = ∏dims before axis (input coerced to 2-D)"),
            }
        }
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since(13),
                roles: &[Role::Data],
                infer: infer_softmax,
                cost: $cost,
                formula: concat!($formula, "; rows = numel(X)/X[axis]"),
            }
        }
    };
}

softmax_like!(
    Activation,
    "LogSoftmax",
    cost_logsoftmax,
    "special = numel(X) (exp) + rows (log), add = 2·numel(X) − rows"
);
softmax_like!(Activation, "Hardmax", cost_hardmax, "cmp = numel(X) − rows");

// ---- shared pieces of the normalizations -------------------------------------------------------

/// Checks that a scale or bias broadcasts unidirectionally onto X.
fn check_onto(x: &TensorType, p: Option<&TensorType>, what: &str) -> Result<(), OpError> {
    if let Some(p) = p {
        let b = broadcast(&[&x.shape, &p.shape])?;
        if b.len() != x.rank() {
            return invalid!("{what} {} does not broadcast onto X {}", p, x);
        }
    }
    Ok(())
}

/// `(x − mean)/sqrt(var + ε)·scale + bias` over r groups of a tensor of n elements, as the
/// InstanceNormalization and GroupNormalization specs write it: mean (add n − r, div r),
/// x − mean (add n), variance (mul n, add n − r, div r), + ε (add r), sqrt (special r), the
/// division (div n), scale (mul n), bias (add n).
fn standardize_div(n: &Dim, r: &Dim, bias: bool) -> Cost {
    let adds = n * 3 - r + if bias { n.clone() } else { Dim::zero() };
    Cost::zero()
        .with_add(adds)
        .with_mul(n * 2)
        .with_div(r * 2 + n)
        .with_special(r.clone())
}

/// Whether a dim is known not to be a multiple of `by`.
fn not_multiple(d: &Dim, by: i64) -> bool {
    by > 0 && d.as_i64().is_some_and(|v| v % by != 0)
}

// ---- LayerNormalization ----------------------------------------------------------------------

/// Y has X's shape; Mean and InvStdDev keep the dims before `axis` and are 1 from it on, in
/// the `stash_type` precision.
pub(super) fn infer_layernorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    check_onto(&x, Some(cx.tensor(1)?), "Scale")?;
    check_onto(&x, cx.opt_tensor(2)?, "B")?;
    let stash = cx.attr_or("stash_type", 1i64)?;
    let stash_dtype = i32::try_from(stash)
        .ok()
        .and_then(DType::from_code)
        .filter(|d| d.is_float());
    let Some(stash_dtype) = stash_dtype else {
        return invalid!("stash_type {stash} is not a floating-point type");
    };
    let mut stats = x.shape[..axis].to_vec();
    stats.resize(x.rank(), Dim::one());
    cx.set(1, TensorType::new(stash_dtype, stats.clone()));
    cx.set(2, TensorType::new(stash_dtype, stats));
    cx.set(0, x);
    Ok(())
}

/// The spec's stages over r = ∏dims before axis rows: Mean (add n − r, div r), D = X − Mean
/// (add n), D² (mul n), Var (add n − r, div r), + ε (add r), sqrt (special r), reciprocal
/// (div r), D·InvStdDev (mul n), ·Scale (mul n), + B (add n).
pub(super) fn cost_layernorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    Ok(layernorm_cost(
        &x.numel(),
        &product(&x.shape[..axis]),
        cx.has_input(2),
    ))
}

/// [`cost_layernorm`] over n elements in r rows, with or without the bias B.
pub(super) fn layernorm_cost(n: &Dim, r: &Dim, bias: bool) -> Cost {
    let b = if bias { n.clone() } else { Dim::zero() };
    Cost::zero()
        .with_add(n * 3 - r + b)
        .with_mul(n * 3)
        .with_div(r * 3)
        .with_special(r.clone())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LayerNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(17),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_layernorm,
        cost: cost_layernorm,
        formula: "add = 3n − r (+ n with B), mul = 3n, div = 3r, special = r (sqrt); \
                  n = numel(X), r = ∏dims before axis (mean, variance, ε, reciprocal, scale, bias)",
    }
}

// ---- RMSNormalization ------------------------------------------------------------------------

fn infer_rmsnorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    check_onto(&x, Some(cx.tensor(1)?), "scale")?;
    cx.set(0, x);
    Ok(())
}

/// X² (mul n), mean over each of r rows (add n − r, div r), + ε (add r), sqrt (special r),
/// X / RMS (div n), ·scale (mul n).
fn cost_rmsnorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    Ok(rmsnorm_cost(&x.numel(), &product(&x.shape[..axis])))
}

/// [`cost_rmsnorm`] over n elements in r rows.
pub(super) fn rmsnorm_cost(n: &Dim, r: &Dim) -> Cost {
    Cost::zero()
        .with_mul(n * 2)
        .with_add(n.clone())
        .with_div(r + n)
        .with_special(r.clone())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RMSNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(23),
        roles: &[Role::Data, Role::Weight],
        infer: infer_rmsnorm,
        cost: cost_rmsnorm,
        formula: "mul = 2n (square, scale), add = n, div = n + r, special = r (sqrt); \
                  n = numel(X), r = ∏dims before axis",
    }
}

// ---- InstanceNormalization, GroupNormalization ---------------------------------------------

/// Y has X's shape [N, C, ...]; scale and B are [C].
fn infer_instancenorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    if x.rank() < 2 {
        return invalid!("input has shape {}, expected [N, C, ...]", x);
    }
    for (i, what) in [(1, "scale"), (2, "B")] {
        let p = cx.tensor(i)?;
        if p.rank() != 1
            || matches!((x.shape[1].as_i64(), p.shape[0].as_i64()), (Some(c), Some(pc)) if c != pc)
        {
            return invalid!(
                "{what} has shape {} but X {} has {} channels",
                p,
                x,
                x.shape[1]
            );
        }
    }
    cx.set(0, x);
    Ok(())
}

/// Statistics per (instance, channel): r = N·C.
fn cost_instancenorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    if x.rank() < 2 {
        return invalid!("input has shape {}, expected [N, C, ...]", x);
    }
    let r = &x.shape[0] * &x.shape[1];
    Ok(standardize_div(&x.numel(), &r, true))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "InstanceNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_instancenorm,
        cost: cost_instancenorm,
        formula: "add = 4n − r, mul = 2n, div = n + 2r, special = r (sqrt); n = numel(X), r = N·C \
                  (mean, x − mean, variance, ε, division, scale, bias)",
    }
}

/// Y has X's shape [N, C, ...]; scale and bias are [num_groups] in opset 18, [C] from 21.
fn infer_groupnorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    if x.rank() < 2 {
        return invalid!("input has shape {}, expected [N, C, ...]", x);
    }
    let groups = cx.req_attr::<i64>("num_groups")?;
    if groups < 1 || not_multiple(&x.shape[1], groups) {
        return invalid!(
            "num_groups {groups} does not divide the {} channels of X {}",
            x.shape[1],
            x
        );
    }
    let expected = if cx.opset() < 21 {
        Dim::from_i64(groups)
    } else {
        x.shape[1].clone()
    };
    for (i, what) in [(1, "scale"), (2, "bias")] {
        let p = cx.tensor(i)?;
        if p.rank() != 1
            || matches!((expected.as_i64(), p.shape[0].as_i64()), (Some(e), Some(pc)) if e != pc)
        {
            return invalid!(
                "{what} has shape {}, expected [{expected}] (opset {}, X {}, num_groups {groups})",
                p,
                cx.opset(),
                x
            );
        }
    }
    cx.set(0, x);
    Ok(())
}

/// Statistics per (instance, group): r = N·num_groups.
fn cost_groupnorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let groups = cx.req_attr::<i64>("num_groups")?;
    let r = &x.shape[0] * groups;
    Ok(standardize_div(&x.numel(), &r, true))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "GroupNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(18),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_groupnorm,
        cost: cost_groupnorm,
        formula: "add = 4n − r, mul = 2n, div = n + 2r, special = r (sqrt); n = numel(X), \
                  r = N·num_groups (mean, x − mean, variance, ε, division, scale, bias)",
    }
}

// ---- LpNormalization -------------------------------------------------------------------------

fn infer_lpnorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    let p = cx.attr_or("p", 2i64)?;
    if p != 1 && p != 2 {
        return invalid!("p = {p}, only 1 and 2 are defined");
    }
    cx.set(0, x);
    Ok(())
}

/// `x / ‖x‖_p` along one axis, r = numel(X)/X[axis] norms: p = 1 is |x| (cmp n) and a sum;
/// p = 2 is x² (mul n), a sum and a sqrt (special r); then the division (div n).
fn cost_lpnorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    let n = x.numel();
    let r = product(&x.shape[..axis]) * product(&x.shape[axis + 1..]);
    let cost = Cost::zero().with_add(&n - &r).with_div(n.clone());
    Ok(if cx.attr_or("p", 2i64)? == 1 {
        cost.with_cmp(n)
    } else {
        cost.with_mul(n).with_special(r)
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LpNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_lpnorm,
        cost: cost_lpnorm,
        formula: "add = n − r, div = n; p = 1: cmp = n (abs); p = 2: mul = n, special = r (sqrt); \
                  n = numel(X), r = n/X[axis]",
    }
}

// ---- MeanVarianceNormalization ---------------------------------------------------------------

/// The axes the statistics are taken over (default [0, 2, 3]), normalized.
fn mvn_axes(x: &TensorType, axes: Option<&[i64]>) -> Result<Vec<usize>, OpError> {
    let axes = axes.unwrap_or(&[0, 2, 3]);
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        out.push(normalize_axis(a, x.rank())?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn infer_mvn(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    mvn_axes(&x, cx.attr("axes")?)?;
    cx.set(0, x);
    Ok(())
}

/// `(X − E[X]) / sqrt(E[(X − E[X])²])` with r statistics (the product of the dims not
/// reduced): mean (add n − r, div r), X − mean (add n), square (mul n), mean of squares (add
/// n − r, div r), sqrt (special r), division (div n).
fn cost_mvn(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let axes = mvn_axes(x, cx.attr("axes")?)?;
    let n = x.numel();
    let r = product(
        x.shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, d)| d),
    );
    Ok(Cost::zero()
        .with_add(&n * 3 - &r * 2)
        .with_mul(n.clone())
        .with_div(&r * 2 + &n)
        .with_special(r))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MeanVarianceNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(9),
        roles: &[Role::Data],
        infer: infer_mvn,
        cost: cost_mvn,
        formula: "add = 3n − 2r, mul = n, div = n + 2r, special = r (sqrt); n = numel(X), \
                  r = ∏dims not in axes",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    fn bn() -> Case {
        Case::new("BatchNormalization")
            .input(t("float32", &[2, 16, 8, 8]))
            .weight(t("float32", &[16]))
            .weight(t("float32", &[16]))
            .weight(t("float32", &[16]))
            .weight(t("float32", &[16]))
    }

    #[test]
    fn batchnorm_inference_by_hand() {
        let r = bn().run();
        let n = 2 * 16 * 8 * 8;
        assert_eq!(r.shape(0), "[2, 16, 8, 8]");
        assert_eq!(r.flops_add(), 2 * n + 16);
        assert_eq!(
            (r.flops_mul(), r.flops_div(), r.flops_special()),
            (n, n, 16)
        );
        assert_eq!(
            (r.params(), r.buffers()),
            (32, 32),
            "scale, B are params; mean, var buffers"
        );
    }

    #[test]
    fn batchnorm_training_adds_statistics() {
        let r = bn().opset(15).int("training_mode", 1).outputs(3).run();
        let n = 2 * 16 * 8 * 8;
        assert_eq!(r.shape(1), "[16]");
        assert_eq!(r.flops_add(), 2 * n + 16 + 3 * n + 2 * 16);
        assert_eq!(r.flops_mul(), n + n + 4 * 16);
        assert_eq!(r.flops_div(), n + 2 * 16);
    }

    #[test]
    fn batchnorm_legacy_non_spatial_statistics() {
        // Opset 7, spatial = 0: statistics per element of C×H×W.
        let r = Case::new("BatchNormalization")
            .opset(7)
            .input(t("float32", &[2, 3, 4, 4]))
            .weight(t("float32", &[3, 4, 4]))
            .weight(t("float32", &[3, 4, 4]))
            .weight(t("float32", &[3, 4, 4]))
            .weight(t("float32", &[3, 4, 4]))
            .int("spatial", 0)
            .run();
        let (n, c) = (96, 48);
        assert_eq!(r.shape(0), "[2, 3, 4, 4]");
        assert_eq!(r.flops_add(), 2 * n + c);
        assert_eq!(r.flops_special(), c);
    }

    #[test]
    fn batchnorm_legacy_training_outputs() {
        // Opset 9: Y, mean, var, saved_mean, saved_var.
        let r = bn().opset(9).outputs(5).run();
        for i in 1..5 {
            assert_eq!(r.shape(i), "[16]");
        }
        let n = 2 * 16 * 8 * 8;
        assert_eq!(
            r.flops_add(),
            2 * n + 16 + 3 * n + 2 * 16,
            "batch statistics"
        );
    }

    #[test]
    fn lrn_by_hand() {
        let r = Case::new("LRN")
            .input(t("float32", &[1, 96, 54, 54]))
            .int("size", 5)
            .float("alpha", 1e-4)
            .float("beta", 0.75)
            .run();
        let n = 96 * 54 * 54;
        assert_eq!(r.flops_mul(), 2 * n);
        assert_eq!(r.flops_add(), 5 * n);
        assert_eq!((r.flops_special(), r.flops_div()), (n, n));
    }

    #[test]
    fn softmax_rows_by_opset() {
        // Opset 13: rows along the last axis: 2·4·8 rows of 16.
        let r = Case::new("Softmax")
            .input(t("float32", &[2, 4, 8, 16]))
            .run();
        let n = 2 * 4 * 8 * 16;
        assert_eq!(r.flops_special(), n);
        assert_eq!(r.flops_add(), n - 2 * 4 * 8);
        assert_eq!(r.flops_div(), n);
        // Opset 11, axis 1: 2 rows of 4·8·16.
        let r = Case::new("Softmax")
            .opset(11)
            .input(t("float32", &[2, 4, 8, 16]))
            .run();
        assert_eq!(r.flops_add(), n - 2);
    }

    #[test]
    fn logsoftmax_and_hardmax_by_hand() {
        let n = 2 * 4 * 8 * 16;
        let rows = 2 * 4 * 8;
        let r = Case::new("LogSoftmax")
            .input(t("float32", &[2, 4, 8, 16]))
            .run();
        assert_eq!(r.shape(0), "[2, 4, 8, 16]");
        assert_eq!(r.flops_special(), n + rows, "exp per element, log per row");
        assert_eq!(r.flops_add(), (n - rows) + n, "row sums, then x − log-sum");
        // Opset 11, axis 2: rows = 2·4, each of 8·16.
        let r = Case::new("Hardmax")
            .opset(11)
            .input(t("float32", &[2, 4, 8, 16]))
            .int("axis", 2)
            .run();
        assert_eq!(r.flops_cmp(), n - 8);
        let r = Case::new("Hardmax")
            .opset(13)
            .input(t("float32", &[2, 4, 8, 16]))
            .int("axis", 1)
            .run();
        assert_eq!(r.flops_cmp(), n - 2 * 8 * 16);
    }

    #[test]
    fn layernorm_by_hand() {
        let r = Case::new("LayerNormalization")
            .input(t("float16", &[2, 3, 4, 5]))
            .weight(t("float16", &[4, 5]))
            .weight(t("float16", &[4, 5]))
            .int("axis", -2)
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4, 5]");
        assert_eq!(r.shape(1), "[2, 3, 1, 1]");
        assert_eq!(r.shape(2), "[2, 3, 1, 1]");
        assert_eq!(r.dtype(1), flopscope_ir::DType::Float32, "stash_type 1");
        let (n, rows) = (120, 6);
        // mean: n − r adds, r divs; X − mean: n adds; (X − mean)²: n muls; variance: n − r
        // adds, r divs; + ε: r adds; sqrt: r; reciprocal: r divs; normalize, scale: 2n muls;
        // bias: n adds.
        assert_eq!(r.flops_add(), (n - rows) + n + (n - rows) + rows + n);
        assert_eq!(r.flops_mul(), n + n + n);
        assert_eq!(r.flops_div(), rows + rows + rows);
        assert_eq!(r.flops_special(), rows);
        assert_eq!(r.params(), 40);
        // Without B, stash_type float64.
        let r = Case::new("LayerNormalization")
            .input(t("float32", &[6, 10]))
            .weight(t("float32", &[10]))
            .int("stash_type", 11)
            .outputs(2)
            .run();
        assert_eq!(r.dtype(1), flopscope_ir::DType::Float64);
        assert_eq!(r.shape(1), "[6, 1]");
        assert_eq!(r.flops_add(), (60 - 6) + 60 + (60 - 6) + 6);
    }

    #[test]
    fn rmsnorm_by_hand() {
        let r = Case::new("RMSNormalization")
            .opset(23)
            .input_sym("float32", &["b", "s", "64"])
            .weight(t("float32", &[64]))
            .run();
        assert_eq!(r.shape(0), "[b, s, 64]");
        let r = Case::new("RMSNormalization")
            .opset(23)
            .input(t("float32", &[2, 3, 64]))
            .weight(t("float32", &[64]))
            .run();
        let (n, rows) = (2 * 3 * 64, 6);
        // x²: n muls; mean: n − r adds, r divs; + ε: r adds; sqrt: r; x / rms: n divs; scale:
        // n muls.
        assert_eq!(r.flops_mul(), 2 * n);
        assert_eq!(r.flops_add(), n - rows + rows);
        assert_eq!(r.flops_div(), rows + n);
        assert_eq!(r.flops_special(), rows);
        assert_eq!(r.params(), 64);
    }

    #[test]
    fn instance_and_group_norm_by_hand() {
        let (n, c) = (2 * 8 * 5 * 5, 8);
        let r = Case::new("InstanceNormalization")
            .input(t("float32", &[2, 8, 5, 5]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .run();
        let rows = 2 * c;
        // mean (n − r adds, r divs), x − mean (n adds), square (n muls), variance (n − r adds,
        // r divs), + ε (r adds), sqrt (r), division (n divs), scale (n muls), bias (n adds).
        assert_eq!(r.flops_add(), (n - rows) + n + (n - rows) + rows + n);
        assert_eq!(r.flops_mul(), 2 * n);
        assert_eq!(r.flops_div(), 2 * rows + n);
        assert_eq!(r.flops_special(), rows);
        assert_eq!(r.params(), 16);

        // Opset 21: scale and bias per channel; 4 groups.
        let r = Case::new("GroupNormalization")
            .opset(21)
            .input(t("float32", &[2, 8, 5, 5]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .int("num_groups", 4)
            .run();
        let rows = 2 * 4;
        assert_eq!(r.shape(0), "[2, 8, 5, 5]");
        assert_eq!(r.flops_add(), (n - rows) + n + (n - rows) + rows + n);
        assert_eq!(r.flops_div(), 2 * rows + n);
        assert_eq!(r.flops_special(), rows);
        // Opset 18: scale and bias per group.
        let r = Case::new("GroupNormalization")
            .opset(18)
            .input(t("float32", &[2, 8, 5, 5]))
            .weight(t("float32", &[4]))
            .weight(t("float32", &[4]))
            .int("num_groups", 4)
            .run();
        assert_eq!(r.params(), 8);
        let err = Case::new("GroupNormalization")
            .opset(21)
            .input(t("float32", &[2, 8, 5, 5]))
            .weight(t("float32", &[4]))
            .weight(t("float32", &[4]))
            .int("num_groups", 4)
            .run_err();
        assert!(err.contains("expected [8]"), "{err}");
        let err = Case::new("GroupNormalization")
            .opset(21)
            .input(t("float32", &[2, 8, 5, 5]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .int("num_groups", 3)
            .run_err();
        assert!(err.contains("num_groups 3"), "{err}");
    }

    #[test]
    fn lp_and_mvn_by_hand() {
        let n = 3 * 4 * 5;
        let r = Case::new("LpNormalization")
            .input(t("float32", &[3, 4, 5]))
            .int("axis", 1)
            .run();
        let rows = 15;
        assert_eq!(r.flops_mul(), n, "x²");
        assert_eq!(r.flops_add(), n - rows);
        assert_eq!(r.flops_special(), rows, "sqrt");
        assert_eq!(r.flops_div(), n);
        let r = Case::new("LpNormalization")
            .input(t("float32", &[3, 4, 5]))
            .int("p", 1)
            .run();
        assert_eq!(r.flops_cmp(), n, "|x|");
        assert_eq!(r.flops_add(), n - 12);
        assert_eq!(r.flops_div(), n);

        let r = Case::new("MeanVarianceNormalization")
            .opset(13)
            .input(t("float32", &[2, 3, 4, 5]))
            .run();
        let (n, stats) = (120, 3);
        // mean (n − r adds, r divs), X − mean (n adds), square (n muls), mean of squares
        // (n − r adds, r divs), sqrt (r), division (n divs).
        assert_eq!(r.flops_add(), (n - stats) + n + (n - stats));
        assert_eq!(r.flops_mul(), n);
        assert_eq!(r.flops_div(), 2 * stats + n);
        assert_eq!(r.flops_special(), stats);
    }
}
