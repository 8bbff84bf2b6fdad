//! `ai.onnx.preview.training` optimizers: `Adagrad`, `Adam`, `Momentum`.
//!
//! Inputs are `R` (learning rate), `T` (update count), then `k` optimized tensors `X_i`
//! followed by their gradients and each kind of optimizer state (Adagrad: `H`; Momentum: `V`;
//! Adam: `V`, `H`); outputs are the new `X_i` and the new states, each the type of the tensor
//! it replaces. Costs are per element of the optimized tensors (`E = Σ numel(X_i)`), following
//! each spec's update formula; the scalar learning-rate adjustments are not counted.

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Role, invalid};

const TRAINING: &str = "ai.onnx.preview.training";

/// Number of optimized tensors, for `groups` inputs per tensor (X, G and the states).
fn tensors(input_count: usize, groups: usize) -> Result<usize, OpError> {
    let rest = input_count.saturating_sub(2);
    if rest == 0 || !rest.is_multiple_of(groups) {
        return invalid!(
            "{input_count} inputs: expected R, T and {groups} inputs per optimized tensor"
        );
    }
    Ok(rest / groups)
}

/// Output `j` has the type of the input it updates: `X_j` for the first `k`, then the states
/// (skipping the gradients).
fn infer_optimizer(cx: &mut InferCtx<'_>, groups: usize) -> Result<(), OpError> {
    let k = tensors(cx.input_count(), groups)?;
    for j in 0..cx.output_count() {
        let input = if j < k { 2 + j } else { 2 + k + j };
        if input >= cx.input_count() {
            return invalid!(
                "output {j} has no matching input among {}",
                cx.input_count()
            );
        }
        let ty = cx.tensor(input)?.clone();
        cx.set(j, ty);
    }
    Ok(())
}

/// `E = Σ numel(X_i)`.
fn optimized_elements(cx: &CostCtx<'_>, groups: usize) -> Result<flopscope_ir::Dim, OpError> {
    let k = tensors(cx.input_count(), groups)?;
    let mut e = flopscope_ir::Dim::zero();
    for i in 0..k {
        e += cx.tensor(2 + i)?.numel();
    }
    Ok(e)
}

/// `norm_coefficient·X + G`: one `mul` and one `add` per element when the coefficient is set.
fn regularized(cx: &CostCtx<'_>, e: &flopscope_ir::Dim) -> Result<Cost, OpError> {
    Ok(if cx.attr_or("norm_coefficient", 0f32)? != 0.0 {
        Cost::zero().with_mul(e.clone()).with_add(e.clone())
    } else {
        Cost::zero()
    })
}

/// Adagrad: `H += G²` (mul, add), `sqrt(H) + ε` (special, add), `X −= r·G/H'` (mul, div, add).
fn cost_adagrad(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let e = optimized_elements(cx, 3)?;
    let mut cost = Cost::zero()
        .with_mul(&e * 2)
        .with_add(&e * 3)
        .with_div(e.clone())
        .with_special(e.clone());
    cost += &regularized(cx, &e)?;
    Ok(cost)
}

/// Adam: `V = αV + (1 − α)G` (2 mul, add), `H = βH + (1 − β)G²` (3 mul, add),
/// `sqrt(H) + ε` (special, add), `X −= r·V/H'` (mul, div, add), post-regularization (mul).
fn cost_adam(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let e = optimized_elements(cx, 4)?;
    let mut cost = Cost::zero()
        .with_mul(&e * 6)
        .with_add(&e * 4)
        .with_div(e.clone())
        .with_special(e.clone());
    if cx.attr_or("norm_coefficient_post", 0f32)? != 0.0 {
        cost = cost.with_mul(e.clone());
    }
    cost += &regularized(cx, &e)?;
    Ok(cost)
}

/// Momentum: `V = αV + βG` (2 mul, add), `X −= R·V` (mul, add); Nesterov
/// `X −= R·(G + αV)` (2 mul, 2 add).
fn cost_momentum(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let e = optimized_elements(cx, 3)?;
    let (mul, add) = match cx.attr_or::<&str>("mode", "standard")? {
        "standard" => (3, 2),
        "nesterov" => (4, 3),
        other => return invalid!("mode `{other}` is not one of standard, nesterov"),
    };
    let mut cost = Cost::zero().with_mul(&e * mul).with_add(&e * add);
    cost += &regularized(cx, &e)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: TRAINING,
        op_type: "Adagrad",
        class: OpClass::Other,
        opsets: crate::Opsets::since(1),
        roles: &[Role::Config, Role::Config, Role::Data],
        infer: |cx| infer_optimizer(cx, 3),
        cost: cost_adagrad,
        formula: "E = Σ numel(X): mul = 2·E, add = 3·E, div = special = E; + mul = add = E with \
                  norm_coefficient",
    }
}

inventory::submit! {
    OpDef {
        domain: TRAINING,
        op_type: "Adam",
        class: OpClass::Other,
        opsets: crate::Opsets::since(1),
        roles: &[Role::Config, Role::Config, Role::Data],
        infer: |cx| infer_optimizer(cx, 4),
        cost: cost_adam,
        formula: "E = Σ numel(X): mul = 6·E, add = 4·E, div = special = E; + mul = add = E with \
                  norm_coefficient, + mul = E with norm_coefficient_post",
    }
}

inventory::submit! {
    OpDef {
        domain: TRAINING,
        op_type: "Momentum",
        class: OpClass::Other,
        opsets: crate::Opsets::since(1),
        roles: &[Role::Config, Role::Config, Role::Data],
        infer: |cx| infer_optimizer(cx, 3),
        cost: cost_momentum,
        formula: "E = Σ numel(X): standard mul = 3·E, add = 2·E; nesterov mul = 4·E, add = 3·E; \
                  + mul = add = E with norm_coefficient",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    fn training(op: &str) -> Case {
        Case::new(op)
            .domain("ai.onnx.preview.training")
            .opset(1)
            .input(t("float32", &[]))
            .input(t("int64", &[]))
    }

    #[test]
    fn adam_two_tensors_by_hand() {
        let r = training("Adam")
            .input(t("float32", &[3]))
            .input(t("float32", &[2, 2]))
            .input(t("float32", &[3]))
            .input(t("float32", &[2, 2]))
            .input(t("float32", &[3]))
            .input(t("float32", &[2, 2]))
            .input(t("float32", &[3]))
            .input(t("float32", &[2, 2]))
            .float("norm_coefficient", 0.001)
            .outputs(6)
            .run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!(r.shape(1), "[2, 2]");
        assert_eq!(r.shape(4), "[3]");
        assert_eq!(r.shape(5), "[2, 2]");
        let e = 3 + 4;
        assert_eq!(r.flops_mul(), 6 * e + e);
        assert_eq!(r.flops_add(), 4 * e + e);
        assert_eq!((r.flops_div(), r.flops_special()), (e, e));
    }

    #[test]
    fn adagrad_and_momentum_by_hand() {
        let r = training("Adagrad")
            .input(t("float32", &[5]))
            .input(t("float32", &[5]))
            .input(t("float32", &[5]))
            .outputs(2)
            .run();
        assert_eq!(r.shape(1), "[5]");
        assert_eq!((r.flops_mul(), r.flops_add()), (10, 15));
        let r = training("Momentum")
            .input(t("float32", &[2]))
            .input(t("float32", &[2]))
            .input(t("float32", &[2]))
            .str("mode", "nesterov")
            .float("alpha", 0.9)
            .float("beta", 1.0)
            .float("norm_coefficient", 0.0)
            .outputs(2)
            .run();
        assert_eq!((r.flops_mul(), r.flops_add()), (8, 6));
        let err = training("Momentum")
            .input(t("float32", &[2]))
            .input(t("float32", &[2]))
            .str("mode", "standard")
            .run_err();
        assert!(err.contains("3 inputs per optimized tensor"), "{err}");
    }
}
