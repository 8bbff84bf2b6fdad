//! Normalizations: BatchNormalization, LRN, Softmax.

use flopscope_ir::{Dim, TensorType};

use super::same_as_input;
use crate::{
    Cost, CostCtx, InferCtx, OpDef, OpError, Opsets, Role, invalid, normalize_axis, product,
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
/// channel add 1 and sqrt 1. Training adds the batch statistics (mean: add N, div C; variance:
/// add 2N, mul N, div C) and the running updates (mul 4C, add 2C).
fn cost_batchnorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let c = x.shape[1].clone();
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
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias, Role::Buffer, Role::Buffer],
        infer: infer_batchnorm,
        cost: cost_batchnorm,
        formula: "add = 2·numel(X) + C, mul = numel(X), div = numel(X), special = C (sqrt); \
                  training adds the batch statistics",
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
    if x.rank() == 0 {
        return Ok(Dim::one());
    }
    if cx.opset() < 13 {
        let axis = normalize_axis(cx.attr_or("axis", 1i64)?, x.rank().max(1))?;
        Ok(product(&x.shape[..axis]))
    } else {
        let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
        Ok(product(&x.shape[..axis]) * product(&x.shape[axis + 1..]))
    }
}

/// `y = exp(x) / Σ exp(x)` per row: exp per element (special), a row sum (add, row length − 1
/// per row) and a division per element.
fn cost_softmax(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let rows = softmax_rows(cx, x)?;
    Ok(Cost::zero()
        .with_special(n.clone())
        .with_add(&n - rows)
        .with_div(n))
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
        opsets: Opsets::since(13),
        roles: &[Role::Data],
        infer: infer_softmax,
        cost: cost_softmax,
        formula: "special = numel(X) (exp), add = numel(X) − rows, div = numel(X); rows = numel(X)/X[axis]",
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
}
