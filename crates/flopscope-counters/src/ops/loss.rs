//! Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//!
//! With m = numel(target) picked log-probabilities: the negation (mul m), the class weights
//! (mul m when given), `ignore_index` (cmp m when set), and the reduction: `sum` adds m − 1;
//! `mean` adds m − 1 and divides once, and when the weights or `ignore_index` make the
//! denominator a sum of weights, that sum adds m − 1 more. SoftmaxCrossEntropyLoss first takes
//! the log-softmax of the scores over the class axis.

use flopscope_ir::{Dim, TensorType};

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// Whether the dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// Checks input [N, C, d1, ..., dk] against target [N, d1, ..., dk] and weight [C], and
/// returns the per-element loss shape (the target's).
fn loss_shape(
    input: &TensorType,
    target: &TensorType,
    weight: Option<&TensorType>,
) -> Result<Vec<Dim>, OpError> {
    let mismatch = || {
        invalid!(
            "input {} and target {} do not match: expected [N, C, d1, ...] and [N, d1, ...]",
            input,
            target
        )
    };
    if input.rank() < 2 || target.rank() + 1 != input.rank() {
        return mismatch();
    }
    if differ(&input.shape[0], &target.shape[0])
        || input.shape[2..]
            .iter()
            .zip(&target.shape[1..])
            .any(|(a, b)| differ(a, b))
    {
        return mismatch();
    }
    if let Some(w) = weight
        && (w.rank() != 1 || differ(&w.shape[0], &input.shape[1]))
    {
        return invalid!(
            "weight has shape {} but input {} has {} classes",
            w,
            input,
            input.shape[1]
        );
    }
    // The per-element shape: N from either side where one is symbolic.
    let mut shape = target.shape.clone();
    if shape[0].as_i64().is_none() {
        shape[0] = input.shape[0].clone();
    }
    Ok(shape)
}

/// The `reduction` attribute: `none`, `sum` or `mean` (the default).
fn reduction(node_reduction: &str) -> Result<&str, OpError> {
    match node_reduction {
        "none" | "sum" | "mean" => Ok(node_reduction),
        other => invalid!("reduction `{other}` is not none, sum or mean"),
    }
}

fn infer_loss(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let input = cx.tensor(0)?.clone();
    let shape = loss_shape(&input, cx.tensor(1)?, cx.opt_tensor(2)?)?;
    let out = match reduction(cx.attr_or("reduction", "mean")?)? {
        "none" => shape,
        _ => Vec::new(),
    };
    cx.set(0, TensorType::new(input.dtype, out));
    // SoftmaxCrossEntropyLoss's log_prob has the scores' shape.
    cx.set(1, input);
    Ok(())
}

/// The negative log-likelihood of the picked (log-)probabilities; see the module docs.
fn nll_cost(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let m = cx.tensor(1)?.numel();
    let weighted = cx.has_input(2);
    let ignore = cx.attr::<i64>("ignore_index")?.is_some();
    let one_less = &m - 1;
    let mut cost = Cost::zero().with_mul(m.clone());
    if weighted {
        cost = cost.with_mul(m.clone());
    }
    if ignore {
        cost = cost.with_cmp(m);
    }
    Ok(match reduction(cx.attr_or("reduction", "mean")?)? {
        "sum" => cost.with_add(one_less),
        "mean" if weighted || ignore => cost.with_add(one_less * 2).with_div(Dim::one()),
        "mean" => cost.with_add(one_less).with_div(Dim::one()),
        _ => cost,
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "NegativeLogLikelihoodLoss",
        class: OpClass::Other,
        opsets: Opsets::since(12),
        roles: &[Role::Data, Role::Data, Role::Config],
        infer: infer_loss,
        cost: nll_cost,
        formula: "mul = m (negate) + m with weight, cmp = m with ignore_index; sum: add = m − 1; \
                  mean: add = m − 1 (+ m − 1 for the weight sum with weight or ignore_index), \
                  div = 1; m = numel(target)",
    }
}

/// Log-softmax of the scores over the class axis (n = numel(scores), rows = n / C: exp n, row
/// sums n − rows, log rows, subtraction n), then the negative log-likelihood.
fn sce_cost(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let scores = cx.tensor(0)?;
    if scores.rank() < 2 {
        return invalid!("scores have shape {}, expected [N, C, ...]", scores);
    }
    let n = scores.numel();
    let rows = &scores.shape[0] * crate::product(&scores.shape[2..]);
    let mut cost = Cost::zero()
        .with_special(&n + &rows)
        .with_add(&n * 2 - rows);
    cost += &nll_cost(cx)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "SoftmaxCrossEntropyLoss",
        class: OpClass::Other,
        opsets: Opsets::since(12),
        roles: &[Role::Data, Role::Data, Role::Config],
        infer: infer_loss,
        cost: sce_cost,
        formula: "log-softmax over C: special = n + rows, add = 2n − rows (n = numel(scores), \
                  rows = n/C); then as NegativeLogLikelihoodLoss over m = numel(labels)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn nll_shapes_and_costs() {
        // reduction none: the target's shape; weight and ignore_index.
        let r = Case::new("NegativeLogLikelihoodLoss")
            .opset(13)
            .input(t("float32", &[3, 5, 2, 4]))
            .input(t("int64", &[3, 2, 4]))
            .weight(t("float32", &[5]))
            .str("reduction", "none")
            .int("ignore_index", 1)
            .run();
        let m = 3 * 2 * 4;
        assert_eq!(r.shape(0), "[3, 2, 4]");
        assert_eq!(r.flops_mul(), 2 * m, "negate, weight");
        assert_eq!(r.flops_cmp(), m, "ignore_index");
        assert_eq!(r.flops_add(), 0);
        assert_eq!(r.params(), 0, "class weights are a setting");
        // mean with weight: the weighted sum and the weight sum, one division.
        let r = Case::new("NegativeLogLikelihoodLoss")
            .input(t("float32", &[3, 5, 2]))
            .input(t("int64", &[3, 2]))
            .weight(t("float32", &[5]))
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.flops_add(), 2 * (6 - 1));
        assert_eq!(r.flops_div(), 1);
        // sum, no weight.
        let r = Case::new("NegativeLogLikelihoodLoss")
            .input(t("float32", &[3, 5]))
            .input(t("int64", &[3]))
            .str("reduction", "sum")
            .run();
        assert_eq!((r.flops_mul(), r.flops_add(), r.flops_div()), (3, 2, 0));
    }

    #[test]
    fn nll_mismatch_names_shapes() {
        let err = Case::new("NegativeLogLikelihoodLoss")
            .input(t("float32", &[3, 5, 2]))
            .input(t("int64", &[3, 4]))
            .run_err();
        assert!(err.contains("[3, 5, 2]") && err.contains("[3, 4]"), "{err}");
    }

    #[test]
    fn sce_log_prob_and_cost() {
        let r = Case::new("SoftmaxCrossEntropyLoss")
            .opset(13)
            .input(t("float32", &[3, 5, 2]))
            .input(t("int64", &[3, 2]))
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.shape(1), "[3, 5, 2]");
        let (n, rows, m) = (30, 6, 6);
        // log-softmax: exp n, log per row; sums n − rows and the subtraction n.
        assert_eq!(r.flops_special(), n + rows);
        // then the mean of the negated picks: m − 1 adds, one div.
        assert_eq!(r.flops_add(), (n - rows) + n + (m - 1));
        assert_eq!(r.flops_mul(), m);
        assert_eq!(r.flops_div(), 1);
    }
}
