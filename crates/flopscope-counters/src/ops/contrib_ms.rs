//! ONNX Runtime's `com.microsoft` contrib ops (the domain is at version 1): the fused
//! normalizations (SkipLayerNormalization, SkipSimplifiedLayerNormalization,
//! EmbedLayerNormalization), the fused activations (BiasGelu, FastGelu, Gelu, QuickGelu,
//! BiasAdd), the fused contractions (FusedConv, FusedGemm, FusedMatMul) and RotaryEmbedding;
//! and the two contrib normalizations ONNX Runtime registers in the default domain at version 1,
//! `SimplifiedLayerNormalization` and the pre-opset-17 `LayerNormalization`. The attention ops
//! are in `contrib_ms_attention.rs`, the quantized ones in `contrib_ms_quant.rs`.
//!
//! Fusing does not change the math: each op costs what its unfused subgraph costs, with the
//! formulas of the default-domain ops it replaces (`Add`, `LayerNormalization`,
//! `RMSNormalization`, `Gelu`, `Conv`, `Gemm`, `MatMul` and the activations).

use flopscope_ir::{DType, Dim, ShapeDisplay, TensorType};

use super::activation::{GELU_ERF, GELU_TANH, SWISH, activation_counts};
use super::attention::{cost_rotary, infer_rotary};
use super::conv::{cost_conv, infer_conv};
use super::elementwise::{infer_unary, out_numel, per_element};
use super::matmul::{cost_gemm, infer_gemm, matmul_shape};
use super::norm::{cost_layernorm, infer_layernorm, layernorm_cost, rmsnorm_cost};
use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid,
    normalize_axis, product,
};

/// The contrib domain.
pub(super) const MS: &str = "com.microsoft";

/// One `add` per element: a bias or residual add.
const ADD: [i64; 5] = [1, 0, 0, 0, 0];

/// Element-wise sum of per-element counts.
fn plus(a: [i64; 5], b: [i64; 5]) -> [i64; 5] {
    [
        a[0] + b[0],
        a[1] + b[1],
        a[2] + b[2],
        a[3] + b[3],
        a[4] + b[4],
    ]
}

/// Checks that `p` broadcasts onto `x` without growing it.
fn check_onto(x: &TensorType, p: &TensorType, what: &str) -> Result<(), OpError> {
    let b = broadcast(&[&x.shape, &p.shape])?;
    if b.len() != x.rank() {
        return invalid!("{what} {} does not broadcast onto the input {}", p, x);
    }
    Ok(())
}

/// Checks a 1-D per-channel parameter against the last dim of `x`.
fn check_hidden(x: &TensorType, p: Option<&TensorType>, what: &str) -> Result<(), OpError> {
    let Some(p) = p else { return Ok(()) };
    let hidden = x.shape.last();
    let fits = p.rank() == 1
        && !matches!((hidden.and_then(Dim::as_i64), p.shape[0].as_i64()), (Some(h), Some(c)) if h != c);
    if !fits {
        return invalid!(
            "{what} has shape {}, expected [hidden] for the input {}",
            p,
            x
        );
    }
    Ok(())
}

// ---- SkipLayerNormalization, SkipSimplifiedLayerNormalization --------------------------------

/// (input, skip, gamma, beta, bias) for SkipLayerNormalization, (input, skip, gamma, bias) for
/// the simplified form: `output` and `input_skip_bias_sum` have the input's type; `mean` and
/// `inv_std_var` are float32, the input's dims with the last one 1.
fn infer_skip_norm(cx: &mut InferCtx<'_>, bias_input: usize) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    if !(2..=3).contains(&x.rank()) {
        return invalid!(
            "input has shape {}, expected [batch, seq, hidden] or [tokens, hidden]",
            x
        );
    }
    check_onto(&x, cx.tensor(1)?, "skip")?;
    check_hidden(&x, Some(cx.tensor(2)?), "gamma")?;
    if bias_input == 4 {
        check_hidden(&x, cx.opt_tensor(3)?, "beta")?;
    }
    check_hidden(&x, cx.opt_tensor(bias_input)?, "bias")?;
    let mut stats = x.shape.clone();
    if let Some(last) = stats.last_mut() {
        *last = Dim::one();
    }
    cx.set(1, TensorType::new(DType::Float32, stats.clone()));
    cx.set(2, TensorType::new(DType::Float32, stats));
    cx.set(3, x.clone());
    cx.set(0, x);
    Ok(())
}

/// (n, rows, residual adds) of a skip normalization: `input + skip (+ bias)`.
fn skip_sum(cx: &CostCtx<'_>, bias_input: usize) -> Result<(Dim, Dim, Cost), OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let rows = product(&x.shape[..x.rank().saturating_sub(1)]);
    let adds = 1 + i64::from(cx.has_input(bias_input));
    Ok((n.clone(), rows, Cost::zero().with_add(n * adds)))
}

/// The residual add(s), then LayerNormalization over the last axis (`norm.rs`'s formula).
fn cost_skip_layernorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, rows, mut cost) = skip_sum(cx, 4)?;
    cost += &layernorm_cost(&n, &rows, cx.has_input(3));
    Ok(cost)
}

/// The residual add(s), then RMS normalization over the last axis (`norm.rs`'s formula).
fn cost_skip_simplified(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, rows, mut cost) = skip_sum(cx, 3)?;
    cost += &rmsnorm_cost(&n, &rows);
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "SkipLayerNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Data, Role::Weight, Role::Bias, Role::Bias],
        infer: |cx| infer_skip_norm(cx, 4),
        cost: cost_skip_layernorm,
        formula: "add = n (input + skip) + n with bias, then LayerNormalization's: \
                  add = 3n − r (+ n with beta), mul = 3n, div = 3r, special = r (sqrt); \
                  n = numel(input), r = n/hidden",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "SkipSimplifiedLayerNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Data, Role::Weight, Role::Bias],
        infer: |cx| infer_skip_norm(cx, 3),
        cost: cost_skip_simplified,
        formula: "add = n (input + skip) + n with bias, then RMSNormalization's: mul = 2n, \
                  add = n, div = n + r, special = r (sqrt); n = numel(input), r = n/hidden",
    }
}

// ---- SimplifiedLayerNormalization, LayerNormalization (default domain, version 1) -------------

/// The stash type of the statistics outputs (`stash_type`, default float32).
fn stash_dtype(cx: &InferCtx<'_>) -> Result<DType, OpError> {
    let stash = cx.attr_or("stash_type", 1i64)?;
    match i32::try_from(stash).ok().and_then(DType::from_code) {
        Some(d) if d.is_float() => Ok(d),
        _ => invalid!("stash_type {stash} is not a floating-point type"),
    }
}

/// (X, scale) → Y with X's shape in the scale's type; `inv_std_var` keeps the dims before
/// `axis` and is 1 from it on, in the stash type.
fn infer_simplified_layernorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let scale = cx.tensor(1)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    check_onto(x, scale, "scale")?;
    let mut stats = x.shape[..axis].to_vec();
    stats.resize(x.rank(), Dim::one());
    let stash = stash_dtype(cx)?;
    cx.set(1, TensorType::new(stash, stats));
    cx.set(0, TensorType::new(scale.dtype, x.shape.clone()));
    Ok(())
}

/// RMS normalization over the axes from `axis` on (`norm.rs`'s RMSNormalization formula).
fn cost_simplified_layernorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let axis = normalize_axis(cx.attr_or("axis", -1i64)?, x.rank())?;
    Ok(rmsnorm_cost(&x.numel(), &product(&x.shape[..axis])))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "SimplifiedLayerNormalization",
        class: OpClass::Norm,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight],
        infer: infer_simplified_layernorm,
        cost: cost_simplified_layernorm,
        formula: "RMSNormalization's: mul = 2n, add = n, div = n + r, special = r (sqrt); \
                  n = numel(X), r = ∏dims before axis",
    }
}

/// ONNX Runtime's LayerNormalization before ONNX's (opset 17): ONNX's shapes, with Y in the
/// scale's type.
fn infer_layernorm_v1(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    infer_layernorm(cx)?;
    let x = cx.tensor(0)?;
    let scale = cx.tensor(1)?;
    cx.set(0, TensorType::new(scale.dtype, x.shape.clone()));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LayerNormalization",
        class: OpClass::Norm,
        opsets: Opsets::range(1, 16),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_layernorm_v1,
        cost: cost_layernorm,
        formula: "(ONNX Runtime's contrib form) add = 3n − r (+ n with B), mul = 3n, div = 3r, \
                  special = r (sqrt); n = numel(X), r = ∏dims before axis",
    }
}

// ---- EmbedLayerNormalization -----------------------------------------------------------------

/// (input_ids, segment_ids, word_embedding, position_embedding, segment_embedding, gamma, beta,
/// mask, position_ids) → output [B, S, hidden] and embedding_sum [B, S, hidden] in the
/// embeddings' type, mask_index [B] int32.
fn infer_embed_layernorm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let ids = cx.tensor(0)?;
    if ids.rank() != 2 {
        return invalid!("input_ids has shape {}, expected [batch, seq]", ids);
    }
    let word = cx.tensor(2)?;
    if word.rank() != 2 {
        return invalid!(
            "word_embedding has shape {}, expected [vocab, hidden]",
            word
        );
    }
    let hidden = &word.shape[1];
    for (i, what) in [(3, "position_embedding"), (4, "segment_embedding")] {
        if let Some(e) = cx.opt_tensor(i)?
            && (e.rank() != 2
                || matches!((e.shape[1].as_i64(), hidden.as_i64()), (Some(a), Some(b)) if a != b))
        {
            return invalid!("{what} has shape {}, expected [n, {hidden}]", e);
        }
    }
    let y = TensorType::new(
        word.dtype,
        vec![ids.shape[0].clone(), ids.shape[1].clone(), hidden.clone()],
    );
    check_hidden(&y, Some(cx.tensor(5)?), "gamma")?;
    check_hidden(&y, Some(cx.tensor(6)?), "beta")?;
    cx.set(1, TensorType::new(DType::Int32, vec![ids.shape[0].clone()]));
    cx.set(2, y.clone());
    cx.set(0, y);
    Ok(())
}

/// The lookups are data movement; word + position (+ segment) embeddings are one `add` per
/// output element each; LayerNormalization with beta over B·S rows (`norm.rs`'s formula); the
/// mask index sums each mask row (`numel(mask) − B` adds).
fn cost_embed_layernorm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let ids = cx.tensor(0)?;
    let n = out_numel(cx)?;
    let rows = &ids.shape[0] * &ids.shape[1];
    let sums = 1 + i64::from(cx.has_input(4));
    let mut cost = Cost::zero().with_add(&n * sums);
    cost += &layernorm_cost(&n, &rows, true);
    if let Some(mask) = cx.opt_tensor(7)? {
        cost = cost.with_add(mask.numel() - &ids.shape[0]);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "EmbedLayerNormalization",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Data,
            Role::Weight,
            Role::Weight,
            Role::Weight,
            Role::Weight,
            Role::Bias,
            Role::Data,
            Role::Data,
        ],
        infer: infer_embed_layernorm,
        cost: cost_embed_layernorm,
        formula: "add = n (word + position) + n with segments, LayerNormalization's add = 4n − r, \
                  mul = 3n, div = 3r, special = r; add = numel(mask) − B with a mask; \
                  n = numel(output), r = B·S",
    }
}

// ---- BiasGelu, FastGelu, Gelu, QuickGelu, BiasAdd --------------------------------------------

/// Y: the broadcast of all inputs, in input 0's type.
fn infer_biased(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut shapes = vec![x.shape.as_slice()];
    for i in 1..cx.input_count() {
        if let Some(t) = cx.opt_tensor(i)? {
            shapes.push(t.shape.as_slice());
        }
    }
    let shape = broadcast(&shapes)?;
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "BiasGelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Bias],
        infer: infer_biased,
        cost: |cx| per_element(cx, plus(ADD, GELU_ERF)),
        formula: "add = numel(Y) (bias), then Gelu's (erf): special = numel(Y), \
                  mul = 3·numel(Y), add = numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "FastGelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Bias],
        infer: infer_biased,
        cost: |cx| {
            let bias = if cx.has_input(1) { ADD } else { [0; 5] };
            per_element(cx, plus(bias, GELU_TANH))
        },
        formula: "add = numel(Y) with bias, then Gelu's tanh form \
                  0.5·x·(1 + tanh(0.797885·x + 0.035677·x³)): special = numel(Y), \
                  mul = 6·numel(Y), add = 2·numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "Gelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| infer_unary(cx, None, None),
        cost: |cx| per_element(cx, GELU_ERF),
        formula: "0.5·x·(1 + erf(x/√2)): special = numel(Y), mul = 3·numel(Y), add = numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QuickGelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| infer_unary(cx, None, None),
        cost: |cx| per_element(cx, SWISH),
        formula: "x·sigmoid(α·x), as Swish: mul = 2·numel(Y), special = numel(Y) (exp), \
                  add = numel(Y), div = numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "BiasAdd",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Bias, Role::Data],
        infer: infer_biased,
        cost: |cx| per_element(cx, plus(ADD, ADD)),
        formula: "X + bias + skip: add = 2·numel(Y)",
    }
}

/// Y [B, S, D/2] from X [B, S, D] and bias [D]: (X + bias) split in two halves along D.
fn infer_bias_split_gelu(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (x, bias) = (cx.tensor(0)?, cx.tensor(1)?);
    let [b, s, d] = x.shape.as_slice() else {
        return invalid!("X must be [batch, seq, hidden], not rank {}", x.rank());
    };
    if bias.shape.as_slice() != [d.clone()] {
        return invalid!(
            "bias must be [{d}] (X's hidden size), not {}",
            ShapeDisplay(&bias.shape)
        );
    }
    if d.as_i64().is_some_and(|v| v % 2 != 0) {
        return invalid!("the hidden size {d} is odd: it cannot split into two halves");
    }
    let half = d
        .floor_div(2)
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    let y = TensorType::new(x.dtype, vec![b.clone(), s.clone(), half]);
    cx.set(0, y);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "BiasSplitGelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Bias],
        infer: infer_bias_split_gelu,
        // Per output element: two bias adds (one in each half), Gelu (erf) of the right half,
        // and the product with the left half.
        cost: |cx| per_element(cx, plus(plus(ADD, ADD), plus(GELU_ERF, [0, 1, 0, 0, 0]))),
        formula: "left · Gelu(right) of (X + bias) split in halves: add = 2·numel(Y) (bias), \
                  Gelu's (erf) special = numel(Y), mul = 3·numel(Y), add = numel(Y), \
                  then mul = numel(Y)",
    }
}

// ---- FusedConv, FusedGemm, FusedMatMul -------------------------------------------------------

/// Per-element counts of the `activation` attribute of a fused op: ONNX activations count as
/// their standalone op does (`activation.rs`); ONNX Runtime's legacy ones by their formulas
/// (ScaledTanh α·tanh(β·x), Affine α·x + β, ParametricSoftplus α·log(1 + exp(β·x))).
fn fused_activation(cx: &CostCtx<'_>) -> Result<[i64; 5], OpError> {
    let name = cx.attr_or::<&str>("activation", "")?;
    let counts = match name {
        "" | "Identity" => Some([0; 5]),
        "ScaledTanh" => Some([0, 2, 0, 0, 1]),
        "Affine" => Some([1, 1, 0, 0, 0]),
        "ParametricSoftplus" => Some([1, 2, 0, 0, 2]),
        other => activation_counts(other),
    };
    counts.ok_or_else(|| {
        OpError::Unsupported(format!(
            "fused activation `{name}` is not one flopscope counts"
        ))
    })
}

/// Conv's cost, plus the sum input Z (one `add` per output) and the activation.
fn cost_fused_conv(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let mut cost = cost_conv(cx)?;
    if cx.has_input(3) {
        cost = cost.with_add(out_numel(cx)?);
    }
    cost += &per_element(cx, fused_activation(cx)?)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "FusedConv",
        class: OpClass::Conv,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias, Role::Data],
        infer: infer_conv,
        cost: cost_fused_conv,
        formula: "Conv's macs = numel(Y)·(C/group)·∏kernel, add = numel(Y) with bias; \
                  add = numel(Y) with Z; the activation's flops per element of Y",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "FusedGemm",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias],
        infer: infer_gemm,
        cost: |cx| {
            let mut cost = cost_gemm(cx)?;
            cost += &per_element(cx, fused_activation(cx)?)?;
            Ok(cost)
        },
        formula: "Gemm's macs = M·N·K, add = M·N with C, mul = M·N per alpha≠1, beta≠1; \
                  the activation's flops per element of Y",
    }
}

/// A FusedMatMul operand after `transBatch*` (dim 0 moves behind the batch dims:
/// [d0, d1, …, dn−2, dn−1] → [d1, …, dn−2, d0, dn−1]) and `trans*` (the last two dims swap).
fn fused_operand(t: &TensorType, trans_batch: bool, trans: bool) -> TensorType {
    let mut shape = t.shape.clone();
    let r = shape.len();
    if trans_batch && r >= 3 {
        shape[..r - 1].rotate_left(1);
    }
    if trans && r >= 2 {
        shape.swap(r - 2, r - 1);
    }
    TensorType::new(t.dtype, shape)
}

/// The matmul of the transposed operands: (Y shape, K).
fn fused_matmul_shape(
    a: &TensorType,
    b: &TensorType,
    attr: impl Fn(&str) -> Result<bool, OpError>,
) -> Result<(Vec<Dim>, Dim), OpError> {
    let (tba, tbb) = (attr("transBatchA")?, attr("transBatchB")?);
    if (tba || tbb) && (a.rank() != b.rank() || a.rank() < 3) {
        return invalid!(
            "transBatchA/transBatchB need operands of one rank ≥ 3, got A {} and B {}",
            a,
            b
        );
    }
    let a = fused_operand(a, tba, attr("transA")?);
    let b = fused_operand(b, tbb, attr("transB")?);
    matmul_shape(&a, &b)
}

fn infer_fused_matmul(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(1)?);
    let (shape, _) = fused_matmul_shape(a, b, |n| Ok(cx.attr_or(n, 0i64)? != 0))?;
    cx.set(0, TensorType::new(a.dtype, shape));
    Ok(())
}

/// MatMul's `macs = numel(Y)·K`, and `mul = numel(Y)` for alpha ≠ 1.
fn cost_fused_matmul(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(1)?);
    let (shape, k) = fused_matmul_shape(a, b, |n| Ok(cx.attr_or(n, 0i64)? != 0))?;
    let y = product(&shape);
    let mut cost = Cost::macs(&y * k);
    if cx.attr_or("alpha", 1.0f32)? != 1.0 {
        cost = cost.with_mul(y);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "FusedMatMul",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Data],
        infer: infer_fused_matmul,
        cost: cost_fused_matmul,
        formula: "MatMul's macs = numel(Y)·K after the transposes; mul = numel(Y) for alpha≠1",
    }
}

// ---- RotaryEmbedding -------------------------------------------------------------------------

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "RotaryEmbedding",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config, Role::Config, Role::Config],
        infer: infer_rotary,
        cost: cost_rotary,
        formula: "as ONNX's RotaryEmbedding: R = rotated elements (numel(input), or \
                  tokens·num_heads·rotary_embedding_dim): mul = 2·R, add = R",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    #[test]
    fn skip_layernorm_is_the_residual_adds_plus_layernorm() {
        let r = Case::ms("SkipLayerNormalization")
            .input(t("float32", &[2, 3, 8]))
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .outputs(4)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 8]");
        assert_eq!(
            (r.shape(1), r.dtype(1)),
            ("[2, 3, 1]".into(), DType::Float32)
        );
        assert_eq!(r.shape(2), "[2, 3, 1]");
        assert_eq!(r.shape(3), "[2, 3, 8]", "input_skip_bias_sum");
        let (n, rows) = (48, 6);
        // input + skip, + bias: 2n adds. LayerNormalization over 6 rows of 8: mean (n − r
        // adds, r divs), x − mean (n adds), square (n muls), variance (n − r adds, r divs),
        // + ε (r adds), sqrt (r), reciprocal (r divs), normalize and scale (2n muls), beta
        // (n adds).
        let add = 2 * n + (n - rows) + n + (n - rows) + rows + n;
        assert_eq!(r.kinds(), (add, 3 * n, 3 * rows, 0, rows));
        assert_eq!(r.params(), 24, "gamma, beta, bias");
    }

    #[test]
    fn skip_layernorm_broadcast_skip_without_bias() {
        // A 2-D skip [seq, hidden], no beta, no bias; float16 input, float32 statistics.
        let r = Case::ms("SkipLayerNormalization")
            .input(t("float16", &[2, 3, 8]))
            .input(t("float16", &[3, 8]))
            .weight(t("float16", &[8]))
            .outputs(3)
            .run();
        assert_eq!((r.dtype(0), r.dtype(1)), (DType::Float16, DType::Float32));
        let (n, rows) = (48, 6);
        assert_eq!(r.flops_add(), n + (n - rows) + n + (n - rows) + rows);
        // Tokens as 2-D [tokens, hidden].
        let r = Case::ms("SkipLayerNormalization")
            .input(t("float32", &[6, 8]))
            .input(t("float32", &[6, 8]))
            .weight(t("float32", &[8]))
            .outputs(2)
            .run();
        assert_eq!(r.shape(1), "[6, 1]");
        let err = Case::ms("SkipLayerNormalization")
            .input(t("float32", &[2, 3, 8]))
            .input(t("float32", &[4, 8]))
            .weight(t("float32", &[8]))
            .run_err();
        assert!(err.contains("cannot be broadcast"), "{err}");
        let err = Case::ms("SkipLayerNormalization")
            .input(t("float32", &[2, 3, 8]))
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float32", &[7]))
            .run_err();
        assert!(err.contains("gamma"), "{err}");
    }

    #[test]
    fn skip_simplified_layernorm_is_the_residual_adds_plus_rmsnorm() {
        let r = Case::ms("SkipSimplifiedLayerNormalization")
            .input(t("float32", &[2, 3, 8]))
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float32", &[8]))
            .weight(t("float32", &[8]))
            .outputs(4)
            .run();
        assert_eq!(r.shape(3), "[2, 3, 8]");
        assert_eq!(r.shape(2), "[2, 3, 1]");
        let (n, rows) = (48, 6);
        // input + skip + bias (2n adds); x² (n muls), mean of squares (n − r adds, r divs),
        // + ε (r adds), sqrt (r), x / rms (n divs), scale (n muls).
        assert_eq!(
            r.kinds(),
            (2 * n + (n - rows) + rows, 2 * n, rows + n, 0, rows)
        );
    }

    #[test]
    fn simplified_layernorm_in_the_default_domain() {
        let r = Case::new("SimplifiedLayerNormalization")
            .opset(14)
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float16", &[3, 8]))
            .int("axis", 1)
            .outputs(2)
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 8]".into(), DType::Float16)
        );
        assert_eq!(
            (r.shape(1), r.dtype(1)),
            ("[2, 1, 1]".into(), DType::Float32)
        );
        // Two rows of 24: x² and scale (2n muls), sums (n − r adds) and ε (r adds), mean and
        // x / rms (r + n divs), sqrt (r).
        let (n, rows) = (48, 2);
        assert_eq!(r.kinds(), (n, 2 * n, rows + n, 0, rows));
        assert_eq!(r.params(), 24);
    }

    #[test]
    fn layernorm_before_opset_17_is_onnx_runtimes() {
        let r = Case::new("LayerNormalization")
            .opset(16)
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float16", &[8]))
            .weight(t("float16", &[8]))
            .outputs(3)
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 8]".into(), DType::Float16)
        );
        assert_eq!(
            (r.shape(2), r.dtype(2)),
            ("[2, 3, 1]".into(), DType::Float32)
        );
        let (n, rows) = (48, 6);
        assert_eq!(
            r.kinds(),
            (
                (n - rows) + n + (n - rows) + rows + n,
                3 * n,
                3 * rows,
                0,
                rows
            )
        );
    }

    #[test]
    fn embed_layernorm_by_hand() {
        let r = Case::ms("EmbedLayerNormalization")
            .input(t("int32", &[2, 5]))
            .input(t("int32", &[2, 5]))
            .weight(t("float32", &[30, 16]))
            .weight(t("float32", &[12, 16]))
            .weight(t("float32", &[2, 16]))
            .weight(t("float32", &[16]))
            .weight(t("float32", &[16]))
            .input(t("int32", &[2, 5]))
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        assert_eq!((r.shape(1), r.dtype(1)), ("[2]".into(), DType::Int32));
        assert_eq!(r.shape(2), "[2, 5, 16]");
        let (n, rows) = (160, 10);
        // word + position + segment (2n adds); LayerNormalization with beta; mask row sums
        // (2 rows of 5: 8 adds).
        let ln_add = (n - rows) + n + (n - rows) + rows + n;
        assert_eq!(r.kinds(), (2 * n + ln_add + 8, 3 * n, 3 * rows, 0, rows));
        assert_eq!(r.params(), 480 + 192 + 32 + 16 + 16);
        let err = Case::ms("EmbedLayerNormalization")
            .input(t("int32", &[2, 5]))
            .absent()
            .weight(t("float32", &[30, 16]))
            .weight(t("float32", &[12, 8]))
            .absent()
            .weight(t("float32", &[16]))
            .weight(t("float32", &[16]))
            .run_err();
        assert!(err.contains("position_embedding"), "{err}");
    }

    #[test]
    fn gelu_family_by_hand() {
        let n = 48;
        // BiasGelu: the bias add, then 0.5·x·(1 + erf(x/√2)) (3 mul, 1 add, 1 erf).
        let r = Case::ms("BiasGelu")
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float32", &[8]))
            .run();
        assert_eq!(r.shape(0), "[2, 3, 8]");
        assert_eq!(r.kinds(), (n + n, 3 * n, 0, 0, n));
        assert_eq!(r.params(), 8);
        // FastGelu: the bias add, then 0.5·x·(1 + tanh(0.797885·x + 0.035677·x³)): x³ (2 mul),
        // two coefficients, 0.5·x and the product (6 mul), 2 adds, tanh.
        let r = Case::ms("FastGelu")
            .input(t("float32", &[2, 3, 8]))
            .weight(t("float32", &[8]))
            .run();
        assert_eq!(r.kinds(), (n + 2 * n, 6 * n, 0, 0, n));
        let r = Case::ms("FastGelu").input(t("float32", &[2, 3, 8])).run();
        assert_eq!(r.kinds(), (2 * n, 6 * n, 0, 0, n));
        let r = Case::ms("Gelu").input(t("float32", &[2, 3, 8])).run();
        assert_eq!(r.kinds(), (n, 3 * n, 0, 0, n));
        // QuickGelu x·sigmoid(α·x): α·x, exp, +1, 1/·, x·.
        let r = Case::ms("QuickGelu")
            .input(t("float32", &[2, 3, 8]))
            .float("alpha", 1.702)
            .run();
        assert_eq!(r.kinds(), (n, 2 * n, n, 0, n));
        // BiasAdd: X + bias + skip.
        let r = Case::ms("BiasAdd")
            .input(t("float16", &[2, 3, 8]))
            .weight(t("float16", &[8]))
            .input(t("float16", &[2, 3, 8]))
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 8]".into(), DType::Float16)
        );
        assert_eq!(r.kinds(), (2 * n, 0, 0, 0, 0));
    }

    #[test]
    fn bias_split_gelu_by_hand() {
        // Stable Diffusion's UNet: X [2, 64, 640] + bias, halves of 320, left · Gelu(right).
        let r = Case::ms("BiasSplitGelu")
            .input(t("float16", &[2, 64, 640]))
            .weight(t("float16", &[640]))
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 64, 320]".into(), DType::Float16)
        );
        let y = 2 * 64 * 320;
        // Bias adds on all 2·y elements of X; Gelu (erf) 0.5·x·(1 + erf(x/√2)) on y: one
        // erf, three multiplies (x/√2, 0.5·x, the product) and one add; the left · gelu mul.
        assert_eq!(r.kinds(), (2 * y + y, 3 * y + y, 0, 0, y));
        assert_eq!(r.params(), 640);
        let odd = Case::ms("BiasSplitGelu")
            .input(t("float32", &[1, 4, 7]))
            .weight(t("float32", &[7]))
            .run_err();
        assert!(odd.contains("odd"), "{odd}");
        let wrong = Case::ms("BiasSplitGelu")
            .input(t("float32", &[1, 4, 8]))
            .weight(t("float32", &[4]))
            .run_err();
        assert!(wrong.contains("bias must be [8]"), "{wrong}");
    }

    #[test]
    fn fused_conv_is_conv_plus_sum_plus_activation() {
        let r = Case::ms("FusedConv")
            .input(t("float32", &[1, 3, 8, 8]))
            .weight(t("float32", &[4, 3, 3, 3]))
            .weight(t("float32", &[4]))
            .input(t("float32", &[1, 4, 6, 6]))
            .str("activation", "Relu")
            .run();
        assert_eq!(r.shape(0), "[1, 4, 6, 6]");
        let y = 4 * 6 * 6;
        assert_eq!(r.macs(), y * 3 * 3 * 3);
        assert_eq!(r.kinds(), (y + y, 0, 0, y, 0), "bias, Z, max(x, 0)");
        assert_eq!(r.params(), 108 + 4);
        let r = Case::ms("FusedConv")
            .input(t("float32", &[1, 3, 8, 8]))
            .weight(t("float32", &[4, 3, 3, 3]))
            .ints("pads", &[1, 1, 1, 1])
            .str("activation", "Clip")
            .attr(
                "activation_params",
                flopscope_ir::Attr::Floats(vec![0.0, 6.0]),
            )
            .run();
        let y = 4 * 8 * 8;
        assert_eq!((r.macs(), r.flops_cmp(), r.flops_add()), (y * 27, 2 * y, 0));
        let err = Case::ms("FusedConv")
            .input(t("float32", &[1, 3, 8, 8]))
            .weight(t("float32", &[4, 3, 3, 3]))
            .str("activation", "Frobnicate")
            .run_err();
        assert!(err.contains("Frobnicate"), "{err}");
    }

    #[test]
    fn fused_gemm_is_gemm_plus_activation() {
        let r = Case::ms("FusedGemm")
            .input(t("float32", &[3, 4]))
            .weight(t("float32", &[5, 4]))
            .weight(t("float32", &[5]))
            .int("transB", 1)
            .str("activation", "LeakyRelu")
            .float("activation_alpha", 0.1)
            .run();
        assert_eq!(r.shape(0), "[3, 5]");
        let y = 15;
        assert_eq!(r.macs(), y * 4);
        // C (add), then x < 0 ? α·x : x (cmp, mul).
        assert_eq!(r.kinds(), (y, y, 0, y, 0));
        assert_eq!(r.params(), 25);
        let r = Case::ms("FusedGemm")
            .input(t("float32", &[3, 4]))
            .weight(t("float32", &[4, 5]))
            .float("alpha", 2.0)
            .str("activation", "Sigmoid")
            .run();
        // alpha (mul), then 1/(1 + exp(−x)).
        assert_eq!(r.kinds(), (y, y, y, 0, y));
    }

    #[test]
    fn fused_matmul_transposes_batches_and_matrices() {
        // A [4, 2, 7, 3] → transBatchA [2, 7, 4, 3] → transA [2, 7, 3, 4].
        let r = Case::ms("FusedMatMul")
            .input(t("float32", &[4, 2, 7, 3]))
            .input(t("float32", &[2, 7, 4, 5]))
            .int("transBatchA", 1)
            .int("transA", 1)
            .float("alpha", 0.5)
            .run();
        assert_eq!(r.shape(0), "[2, 7, 3, 5]");
        let y = 2 * 7 * 3 * 5;
        assert_eq!((r.macs(), r.flops_mul()), (y * 4, y));
        // B [5, 2, 7, 4] → transBatchB [2, 7, 5, 4] → transB [2, 7, 4, 5].
        let r = Case::ms("FusedMatMul")
            .input(t("float32", &[2, 7, 3, 4]))
            .input(t("float32", &[5, 2, 7, 4]))
            .int("transBatchB", 1)
            .int("transB", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 7, 3, 5]");
        assert_eq!((r.macs(), r.flops_mul()), (y * 4, 0));
        let r = Case::ms("FusedMatMul")
            .input(t("float32", &[2, 4, 3]))
            .weight(t("float32", &[4, 5]))
            .int("transA", 1)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 5]");
        let err = Case::ms("FusedMatMul")
            .input(t("float32", &[3, 2, 4]))
            .input(t("float32", &[4, 5]))
            .int("transBatchA", 1)
            .run_err();
        assert!(err.contains("transBatchA"), "{err}");
    }

    #[test]
    fn rotary_embedding_counts_as_onnxs() {
        let r = Case::ms("RotaryEmbedding")
            .input(t("float32", &[2, 5, 16]))
            .input(t("int64", &[2, 5]))
            .weight(t("float32", &[10, 2]))
            .weight(t("float32", &[10, 2]))
            .int("num_heads", 4)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        // Every element is rotated: (cos·x1 − sin·x2, sin·x1 + cos·x2) is 2 mul, 1 add each.
        assert_eq!((r.flops_mul(), r.flops_add()), (320, 160));
        assert_eq!(r.params(), 0, "the caches are settings");
        // Partial rotation: 10 tokens · 4 heads · 2 rotated dims.
        let r = Case::ms("RotaryEmbedding")
            .input(t("float32", &[2, 5, 32]))
            .input(t("int64", &[2, 5]))
            .weight(t("float32", &[10, 1]))
            .weight(t("float32", &[10, 1]))
            .int("num_heads", 4)
            .int("rotary_embedding_dim", 2)
            .run();
        assert_eq!((r.flops_mul(), r.flops_add()), (160, 80));
    }
}
