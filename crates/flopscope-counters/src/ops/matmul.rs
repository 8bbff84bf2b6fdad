//! Matrix products.

use flopscope_ir::{Dim, TensorType};

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid};

/// Whether two dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// The (M, K) and (K, N) of Gemm's operands after the `transA`/`transB` attributes.
pub(super) fn gemm_dims<'a>(
    a: &'a TensorType,
    b: &'a TensorType,
    trans_a: bool,
    trans_b: bool,
) -> Result<(&'a Dim, &'a Dim, &'a Dim), OpError> {
    if a.rank() != 2 || b.rank() != 2 {
        return invalid!("Gemm needs 2-D operands, got A {} and B {}", a, b);
    }
    let (m, k) = if trans_a {
        (&a.shape[1], &a.shape[0])
    } else {
        (&a.shape[0], &a.shape[1])
    };
    let (kb, n) = if trans_b {
        (&b.shape[1], &b.shape[0])
    } else {
        (&b.shape[0], &b.shape[1])
    };
    if differ(k, kb) {
        return invalid!(
            "inner dims differ: A {} (transA={}) has K = {k}, B {} (transB={}) has K = {kb}",
            a,
            trans_a as u8,
            b,
            trans_b as u8
        );
    }
    Ok((m, k, n))
}

/// `Gemm`: Y = alpha·op(A)·op(B) + beta·C, Y [M, N].
pub(super) fn infer_gemm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    let trans_a = cx.attr_or("transA", 0i64)? != 0;
    let trans_b = cx.attr_or("transB", 0i64)? != 0;
    let (m, _, n) = gemm_dims(a, b, trans_a, trans_b)?;
    let y = TensorType::new(a.dtype, vec![m.clone(), n.clone()]);
    if let Some(c) = cx.opt_tensor(2)? {
        // C must broadcast to Y (unidirectionally).
        broadcast(&[&y.shape, &c.shape])?;
    }
    cx.set(0, y);
    Ok(())
}

/// `macs = M·N·K`; with C, `add = M·N`; `mul = M·N` for alpha ≠ 1 and again for beta ≠ 1.
pub(super) fn cost_gemm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    let trans_a = cx.attr_or("transA", 0i64)? != 0;
    let trans_b = cx.attr_or("transB", 0i64)? != 0;
    let (m, k, n) = gemm_dims(a, b, trans_a, trans_b)?;
    let outputs = m * n;
    let mut cost = Cost::macs(&outputs * k);
    if cx.attr_or("alpha", 1.0f32)? != 1.0 {
        cost = cost.with_mul(outputs.clone());
    }
    if cx.has_input(2) {
        cost = cost.with_add(outputs.clone());
        if cx.attr_or("beta", 1.0f32)? != 1.0 {
            cost = cost.with_mul(outputs);
        }
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Gemm",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_gemm,
        cost: cost_gemm,
        formula: "macs = M·N·K; add = M·N with C; mul = M·N per alpha≠1, beta≠1",
    }
}

/// NumPy `matmul` shapes: (batch..., M, K) × (batch..., K, N) → (broadcast batch..., M, N);
/// a 1-D operand is a vector whose axis is dropped from the result. Returns (Y shape, K).
pub(super) fn matmul_shape(a: &TensorType, b: &TensorType) -> Result<(Vec<Dim>, Dim), OpError> {
    let scalar = || invalid!("MatMul operands must have rank ≥ 1, got {} and {}", a, b);
    let (a_batch, m, k) = match a.shape.as_slice() {
        [] => return scalar(),
        [k] => (&[][..], None, k),
        [batch @ .., m, k] => (batch, Some(m), k),
    };
    let (b_batch, kb, n) = match b.shape.as_slice() {
        [] => return scalar(),
        [k] => (&[][..], k, None),
        [batch @ .., k, n] => (batch, k, Some(n)),
    };
    if differ(k, kb) {
        return invalid!(
            "inner dims differ: A {} has K = {k}, B {} has K = {kb}",
            a,
            b
        );
    }
    let mut shape = broadcast(&[a_batch, b_batch])?;
    shape.extend(m.cloned());
    shape.extend(n.cloned());
    Ok((shape, k.clone()))
}

fn infer_matmul(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    let (shape, _) = matmul_shape(a, b)?;
    let dtype = a.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Each output element is a dot product of length K: `macs = numel(Y)·K`.
fn cost_matmul(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (shape, k) = matmul_shape(cx.tensor(0)?, cx.tensor(1)?)?;
    let outputs: Dim = shape.iter().product();
    Ok(Cost::macs(outputs * k))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MatMul",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Data],
        infer: infer_matmul,
        cost: cost_matmul,
        formula: "macs = numel(Y)·K (batch dims broadcast)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn gemm_classifier_by_hand() {
        // MobileNetV2's classifier: [1, 1280] x [1000, 1280]^T + [1000].
        let r = Case::new("Gemm")
            .input(t("float32", &[1, 1280]))
            .weight(t("float32", &[1000, 1280]))
            .weight(t("float32", &[1000]))
            .int("transB", 1)
            .float("alpha", 1.0)
            .float("beta", 1.0)
            .run();
        assert_eq!(r.shape(0), "[1, 1000]");
        assert_eq!(r.macs(), 1000 * 1280);
        assert_eq!(r.flops_add(), 1000);
        assert_eq!(r.flops_mul(), 0);
        assert_eq!(r.params(), 1000 * 1280 + 1000);
    }

    #[test]
    fn gemm_scaling_and_transposed_a() {
        let r = Case::new("Gemm")
            .input(t("float32", &[64, 8]))
            .weight(t("float32", &[64, 16]))
            .weight(t("float32", &[1, 16]))
            .int("transA", 1)
            .float("alpha", 0.5)
            .float("beta", 2.0)
            .run();
        assert_eq!(r.shape(0), "[8, 16]");
        assert_eq!(r.macs(), 8 * 16 * 64);
        assert_eq!(r.flops_mul(), 2 * 8 * 16);
        assert_eq!(r.flops_add(), 8 * 16);
    }

    #[test]
    fn gemm_mismatch_names_shapes() {
        let err = Case::new("Gemm")
            .input(t("float32", &[2, 3]))
            .weight(t("float32", &[4, 5]))
            .run_err();
        assert!(err.contains("K = 3") && err.contains("K = 4"), "{err}");
    }

    #[test]
    fn matmul_batched_and_vectors() {
        let r = Case::new("MatMul")
            .input(t("float32", &[2, 4, 128, 32]))
            .input(t("float32", &[2, 4, 32, 128]))
            .run();
        assert_eq!(r.shape(0), "[2, 4, 128, 128]");
        assert_eq!(r.macs(), 2 * 4 * 128 * 128 * 32);
        assert_eq!(r.params(), 0, "activations are not params");

        let r = Case::new("MatMul")
            .input(t("float32", &[3, 16, 8]))
            .weight(t("float32", &[8, 4]))
            .run();
        assert_eq!(r.shape(0), "[3, 16, 4]");
        assert_eq!(r.macs(), 3 * 16 * 4 * 8);
        assert_eq!(r.params(), 8 * 4, "a constant float operand is a weight");

        let r = Case::new("MatMul")
            .input(t("float32", &[8]))
            .input(t("float32", &[5, 8, 3]))
            .run();
        assert_eq!(r.shape(0), "[5, 3]");
        assert_eq!(r.macs(), 5 * 3 * 8);

        let r = Case::new("MatMul")
            .input(t("float32", &[8]))
            .input(t("float32", &[8]))
            .run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.macs(), 8);
    }
}
