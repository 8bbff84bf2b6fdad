//! Attention and the transformer ops of the newest opsets: `Attention`, `ai.onnx.preview`
//! `FlexAttention`, `RotaryEmbedding`, `LinearAttention`, `SwiGLU` (`TensorScatter`, the KV
//! cache update, is data movement: `layout.rs`).
//!
//! Scaled dot-product attention costs, with `S = batch·q_heads·q_seq·total_seq` scores and
//! `rows = batch·q_heads·q_seq`: `macs = S·head_size` (QKᵀ) `+ S·v_head_size` (AV); the scale
//! one `mul` per score; the softmax as `Softmax` counts it (`special = S` exp,
//! `add = S − rows`, `div = S`); a float mask one `add` per score, a boolean mask, causal
//! masking, each sliding-window bound and `nonpad_kv_seqlen` one `cmp` per score; softcap
//! `c·tanh(x/c)` one `div`, `special` and `mul` per score.

use flopscope_ir::{DType, Dim, TensorType};

use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// `a / heads` for a packed hidden size, exactly.
pub(super) fn per_head(hidden: &Dim, heads: i64, what: &str) -> Result<Dim, OpError> {
    if heads < 1 {
        return invalid!("{what}: number of heads {heads} is not positive");
    }
    hidden.div_exact(&Dim::from_i64(heads)).ok_or_else(|| {
        OpError::Invalid(format!(
            "{what}: hidden size {hidden} is not a multiple of {heads} heads"
        ))
    })
}

/// The dims of an attention node, from Q, K, V and the optional past key.
#[derive(Debug, Clone)]
struct AttnDims {
    batch: Dim,
    q_heads: Dim,
    kv_heads: Dim,
    q_seq: Dim,
    /// Past plus new key/value positions.
    total: Dim,
    head: Dim,
    k_head: Dim,
    v_head: Dim,
    /// Q, K, V are [batch, seq, heads·size].
    packed: bool,
}

impl AttnDims {
    fn scores(&self) -> Dim {
        &self.batch * &self.q_heads * &self.q_seq * &self.total
    }

    fn rows(&self) -> Dim {
        &self.batch * &self.q_heads * &self.q_seq
    }
}

fn attention_dims(
    q: &TensorType,
    k: &TensorType,
    v: &TensorType,
    past_key: Option<&TensorType>,
    heads: (Option<i64>, Option<i64>),
) -> Result<AttnDims, OpError> {
    if q.rank() != k.rank() || q.rank() != v.rank() || !(3..=4).contains(&q.rank()) {
        return invalid!(
            "Q {}, K {} and V {} must all be 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, size]",
            q,
            k,
            v
        );
    }
    let mut d = if q.rank() == 4 {
        AttnDims {
            batch: q.shape[0].clone(),
            q_heads: q.shape[1].clone(),
            kv_heads: k.shape[1].clone(),
            q_seq: q.shape[2].clone(),
            total: k.shape[2].clone(),
            head: q.shape[3].clone(),
            k_head: k.shape[3].clone(),
            v_head: v.shape[3].clone(),
            packed: false,
        }
    } else {
        let (Some(qh), Some(kvh)) = heads else {
            return invalid!(
                "3-D Q {} needs the q_num_heads and kv_num_heads attributes",
                q
            );
        };
        AttnDims {
            batch: q.shape[0].clone(),
            q_heads: Dim::from_i64(qh),
            kv_heads: Dim::from_i64(kvh),
            q_seq: q.shape[1].clone(),
            total: k.shape[1].clone(),
            head: per_head(&q.shape[2], qh, "Q")?,
            k_head: per_head(&k.shape[2], kvh, "K")?,
            v_head: per_head(&v.shape[2], kvh, "V")?,
            packed: true,
        }
    };
    if let (Some(h), Some(kh)) = (d.head.as_i64(), d.k_head.as_i64())
        && h != kh
    {
        return invalid!("Q {} has head size {h} but K {} has {kh}", q, k);
    }
    if let (Some(qh), Some(kvh)) = (d.q_heads.as_i64(), d.kv_heads.as_i64())
        && (kvh < 1 || qh % kvh != 0)
    {
        return invalid!("{qh} query heads are not a multiple of {kvh} key/value heads");
    }
    if let Some(past) = past_key {
        if past.rank() != 4 {
            return invalid!("past_key has shape {}, expected 4-D", past);
        }
        d.total = &past.shape[2] + &d.total;
    }
    Ok(d)
}

fn heads_attrs<'a>(
    attr: impl Fn(&str) -> Result<Option<i64>, OpError> + 'a,
) -> Result<(Option<i64>, Option<i64>), OpError> {
    Ok((attr("q_num_heads")?, attr("kv_num_heads")?))
}

/// `Attention` (Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen) → Y, present_key,
/// present_value, qk_matmul_output.
fn infer_attention(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let d = attention_dims(q, k, v, cx.opt_tensor(4)?, heads_attrs(|n| cx.attr(n))?)?;
    let y = if d.packed {
        vec![d.batch.clone(), d.q_seq.clone(), &d.q_heads * &d.v_head]
    } else {
        vec![
            d.batch.clone(),
            d.q_heads.clone(),
            d.q_seq.clone(),
            d.v_head.clone(),
        ]
    };
    let cache = |size: &Dim| {
        vec![
            d.batch.clone(),
            d.kv_heads.clone(),
            d.total.clone(),
            size.clone(),
        ]
    };
    let (qt, kt, vt) = (q.dtype, k.dtype, v.dtype);
    cx.set(1, TensorType::new(kt, cache(&d.k_head)));
    cx.set(2, TensorType::new(vt, cache(&d.v_head)));
    cx.set(
        3,
        TensorType::new(
            qt,
            vec![
                d.batch.clone(),
                d.q_heads.clone(),
                d.q_seq.clone(),
                d.total.clone(),
            ],
        ),
    );
    cx.set(0, TensorType::new(qt, y));
    Ok(())
}

/// Scaled dot-product attention over `scores` = batch·q_heads·q_seq·total_seq scores in
/// `rows` = batch·q_heads·q_seq rows: QKᵀ and AV (`macs = scores·(head + v_head)`), the scale
/// (one `mul` per score) and the softmax as `Softmax` counts it. Masks, biases and softcap are the caller's.
pub(super) fn sdpa_cost(scores: &Dim, rows: &Dim, head: &Dim, v_head: &Dim) -> Cost {
    let mut cost = Cost::macs(scores * (head + v_head)).with_mul(scores.clone());
    cost += &super::norm::softmax_cost(scores, rows);
    cost
}

fn cost_attention(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let d = attention_dims(q, k, v, cx.opt_tensor(4)?, heads_attrs(|n| cx.attr(n))?)?;
    let s = d.scores();
    let mut cost = sdpa_cost(&s, &d.rows(), &d.head, &d.v_head);
    if cx.attr_or("softcap", 0f32)? != 0.0 {
        cost = cost
            .with_div(s.clone())
            .with_special(s.clone())
            .with_mul(s.clone());
    }
    if let Some(mask) = cx.opt_tensor(3)? {
        cost = if mask.dtype == DType::Bool {
            cost.with_cmp(s.clone())
        } else {
            cost.with_add(s.clone())
        };
    }
    let masks = i64::from(cx.attr_or("is_causal", 0i64)? != 0)
        + i64::from(cx.attr_or("left_window_size", -1i64)? >= 0)
        + i64::from(cx.attr_or("right_window_size", -1i64)? >= 0)
        + i64::from(cx.has_input(6));
    Ok(cost.with_cmp(s * masks))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Attention",
        class: OpClass::Matmul,
        opsets: Opsets::since(23),
        roles: &[Role::Data, Role::Data, Role::Data, Role::Data, Role::Data, Role::Data, Role::Config],
        infer: infer_attention,
        cost: cost_attention,
        formula: "S = batch·q_heads·q_seq·total_seq: macs = S·(head + v_head); mul = S (scale); \
                  softmax: special = S, add = S − rows, div = S; add = S (float mask) or cmp = S \
                  (bool mask); cmp = S per causal / window bound / nonpad_kv_seqlen; softcap: \
                  div = special = mul = S",
    }
}

/// `FlexAttention`: rank-4 Q, K, V → Y [batch, q_heads, q_seq, v_head].
fn infer_flex_attention(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    if q.rank() != 4 {
        return invalid!("Q has shape {}, expected rank 4", q);
    }
    let d = attention_dims(q, k, v, None, (None, None))?;
    let y = vec![d.batch, d.q_heads, d.q_seq, d.v_head];
    let dtype = q.dtype;
    cx.set(0, TensorType::new(dtype, y));
    Ok(())
}

fn cost_flex_attention(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let d = attention_dims(q, k, v, None, (None, None))?;
    Ok(sdpa_cost(&d.scores(), &d.rows(), &d.head, &d.v_head))
}

inventory::submit! {
    OpDef {
        domain: "ai.onnx.preview",
        op_type: "FlexAttention",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_flex_attention,
        cost: cost_flex_attention,
        formula: "S = batch·q_heads·q_seq·kv_seq: macs = S·(head + v_head); mul = S (scale); \
                  softmax: special = S, add = S − rows, div = S; the score_mod / prob_mod \
                  subgraphs are not counted",
    }
}

/// `RotaryEmbedding` (X, cos_cache, sin_cache, position_ids): Y has X's type.
pub(super) fn infer_rotary(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if !(3..=4).contains(&x.rank()) {
        return invalid!(
            "input has shape {}, expected [batch, heads, seq, head] or [batch, seq, hidden]",
            x
        );
    }
    let x = x.clone();
    cx.set(0, x);
    Ok(())
}

/// Each rotated pair `(x1, x2)` becomes `(cos·x1 − sin·x2, sin·x1 + cos·x2)`: per rotated
/// element 2 `mul` and 1 `add`. Rotated elements: `numel(X)·rotary_dim/head_size`.
pub(super) fn cost_rotary(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let rotary = cx.attr_or("rotary_embedding_dim", 0i64)?;
    let rotated = if rotary == 0 {
        x.numel()
    } else {
        let last = x.rank().saturating_sub(1);
        // Positions·heads = numel(X)/head_size.
        let tokens = x.shape[..last].iter().product::<Dim>();
        let heads = if x.rank() == 4 {
            Dim::one()
        } else {
            Dim::from_i64(cx.req_attr::<i64>("num_heads")?)
        };
        tokens * heads * rotary
    };
    Ok(Cost::zero().with_mul(&rotated * 2).with_add(rotated))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RotaryEmbedding",
        class: OpClass::Other,
        opsets: Opsets::since(23),
        roles: &[Role::Data, Role::Config, Role::Config, Role::Config],
        infer: infer_rotary,
        cost: cost_rotary,
        formula: "R = rotated elements (numel(X), or tokens·heads·rotary_embedding_dim): \
                  mul = 2·R, add = R",
    }
}

/// The dims of a `LinearAttention` node: (batch·seq, q_heads, kv_heads, d_k, d_v).
fn linear_attention_dims(
    q: &TensorType,
    k: &TensorType,
    v: &TensorType,
    q_heads: i64,
    kv_heads: i64,
) -> Result<(Dim, Dim, Dim), OpError> {
    if q.rank() != 3 || k.rank() != 3 || v.rank() != 3 {
        return invalid!(
            "query {}, key {} and value {} must be 3-D [batch, seq, heads·size]",
            q,
            k,
            v
        );
    }
    if q_heads < 1 || kv_heads < 1 || q_heads % kv_heads != 0 {
        return invalid!(
            "q_num_heads {q_heads} must be a positive multiple of kv_num_heads {kv_heads}"
        );
    }
    let tokens = &q.shape[0] * &q.shape[1];
    let dk = per_head(&k.shape[2], kv_heads, "key")?;
    let dv = per_head(&v.shape[2], kv_heads, "value")?;
    Ok((tokens, dk, dv))
}

/// `LinearAttention` (query, key, value, past_state, decay, beta) → output [B, T, Hq·d_v],
/// present_state [B, Hkv, d_k, d_v].
fn infer_linear_attention(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let qh = cx.req_attr::<i64>("q_num_heads")?;
    let kvh = cx.req_attr::<i64>("kv_num_heads")?;
    let (_, dk, dv) = linear_attention_dims(q, k, v, qh, kvh)?;
    let state_dtype = cx.opt_tensor(3)?.map_or(q.dtype, |p| p.dtype);
    let y = vec![q.shape[0].clone(), q.shape[1].clone(), &dv * qh];
    let state = vec![q.shape[0].clone(), Dim::from_i64(kvh), dk, dv];
    let dtype = q.dtype;
    cx.set(1, TensorType::new(state_dtype, state));
    cx.set(0, TensorType::new(dtype, y));
    Ok(())
}

/// Per token (`N = batch·seq`) and key/value head, on a `d_k × d_v` state `E`:
/// `S += k ⊗ v` (`macs = N·Hkv·E`), `o = scale·qᵀS` (`macs = N·Hq·E`, `mul = numel(output)`);
/// gated rules decay the state (`special = numel(decay)` exp, `mul = N·Hkv·E`); delta rules
/// also read `Sᵀk` (`macs = N·Hkv·E`) and form `β·(v − Sᵀk)` (`add = mul = N·Hkv·d_v`).
fn cost_linear_attention(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let qh = cx.req_attr::<i64>("q_num_heads")?;
    let kvh = cx.req_attr::<i64>("kv_num_heads")?;
    let (tokens, dk, dv) = linear_attention_dims(q, k, v, qh, kvh)?;
    let state = &dk * &dv;
    let kv_state = &tokens * kvh * &state;
    let y = cx.req_output(0)?.numel();
    let (gated, delta) = match cx.attr_or::<&str>("update_rule", "gated_delta")? {
        "linear" => (false, false),
        "gated" => (true, false),
        "delta" => (false, true),
        "gated_delta" => (true, true),
        other => {
            return invalid!(
                "update_rule `{other}` is not one of linear, gated, delta, gated_delta"
            );
        }
    };
    let mut cost = Cost::macs(&kv_state + &tokens * qh * &state).with_mul(y);
    if gated {
        let decay = cx.opt_tensor(4)?.map_or_else(Dim::zero, TensorType::numel);
        cost = cost.with_special(decay).with_mul(kv_state.clone());
    }
    if delta {
        let vec = &tokens * kvh * &dv;
        cost.macs += &kv_state;
        cost = cost.with_add(vec.clone()).with_mul(vec);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "LinearAttention",
        class: OpClass::Other,
        opsets: Opsets::since(27),
        roles: &[Role::Data],
        infer: infer_linear_attention,
        cost: cost_linear_attention,
        formula: "N = batch·seq, E = d_k·d_v: macs = N·(Hkv + Hq)·E (+ N·Hkv·E delta); \
                  mul = numel(output) (scale); gated: special = numel(decay), mul = N·Hkv·E; \
                  delta: add = mul = N·Hkv·d_v",
    }
}

/// `SwiGLU`: `Y = A·sigmoid(alpha·A)·B`, A and B of one shape.
fn infer_swiglu(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    if a.rank() != b.rank()
        || a.shape
            .iter()
            .zip(&b.shape)
            .any(|(x, y)| x.is_const() && y.is_const() && x != y)
    {
        return invalid!("gate A {} and value B {} must have the same shape", a, b);
    }
    let a = a.clone();
    cx.set(0, a);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "SwiGLU",
        class: OpClass::Other,
        opsets: Opsets::since(28),
        roles: &[Role::Data],
        infer: infer_swiglu,
        cost: |cx| {
            let n = cx.req_output(0)?.numel();
            let scaled = cx.attr_or("alpha", 1f32)? != 1.0;
            let muls = if scaled { 3 } else { 2 };
            Ok(Cost::zero()
                .with_special(n.clone())
                .with_add(n.clone())
                .with_div(n.clone())
                .with_mul(n * muls))
        },
        formula: "sigmoid: special (exp) = add = div = numel(Y); mul = 2·numel(Y) \
                  (+ numel(Y) with alpha ≠ 1)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn attention_4d_by_hand() {
        let r = Case::new("Attention")
            .input(t("float32", &[2, 3, 4, 8]))
            .input(t("float32", &[2, 3, 6, 8]))
            .input(t("float32", &[2, 3, 6, 10]))
            .opset(23)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4, 10]");
        let s = 2 * 3 * 4 * 6;
        let rows = 2 * 3 * 4;
        assert_eq!(r.macs(), s * 8 + s * 10);
        assert_eq!(r.flops_mul(), s);
        assert_eq!(r.flops_special(), s);
        assert_eq!(r.flops_add(), s - rows);
        assert_eq!(r.flops_div(), s);
        assert_eq!(r.flops_cmp(), 0);
    }

    #[test]
    fn attention_3d_gqa_with_cache_mask_and_outputs() {
        let r = Case::new("Attention")
            .input(t("float32", &[2, 4, 72]))
            .input(t("float32", &[2, 6, 24]))
            .input(t("float32", &[2, 6, 24]))
            .input(t("float32", &[4, 18]))
            .input(t("float32", &[2, 3, 12, 8]))
            .input(t("float32", &[2, 3, 12, 8]))
            .int("q_num_heads", 9)
            .int("kv_num_heads", 3)
            .int("is_causal", 1)
            .float("softcap", 2.0)
            .outputs(4)
            .opset(23)
            .run();
        assert_eq!(r.shape(0), "[2, 4, 72]");
        assert_eq!(r.shape(1), "[2, 3, 18, 8]");
        assert_eq!(r.shape(2), "[2, 3, 18, 8]");
        assert_eq!(r.shape(3), "[2, 9, 4, 18]");
        let s = 2 * 9 * 4 * 18;
        let rows = 2 * 9 * 4;
        assert_eq!(r.macs(), s * 8 * 2);
        // scale + softcap
        assert_eq!(r.flops_mul(), 2 * s);
        // softmax + float mask
        assert_eq!(r.flops_add(), s - rows + s);
        assert_eq!(r.flops_div(), 2 * s);
        assert_eq!(r.flops_special(), 2 * s);
        // causal
        assert_eq!(r.flops_cmp(), s);
    }

    #[test]
    fn attention_bool_mask_windows_and_symbols() {
        let r = Case::new("Attention")
            .input_sym("float16", &["b", "8", "s", "64"])
            .input_sym("float16", &["b", "8", "s", "64"])
            .input_sym("float16", &["b", "8", "s", "64"])
            .input_sym("bool", &["s", "s"])
            .int("left_window_size", 2)
            .opset(25)
            .run();
        assert_eq!(r.shape(0), "[b, 8, s, 64]");
        assert_eq!(r.macs_expr(), "1024*b*s*s");
        let err = Case::new("Attention")
            .input(t("float32", &[2, 4, 30]))
            .input(t("float32", &[2, 6, 24]))
            .input(t("float32", &[2, 6, 24]))
            .int("q_num_heads", 4)
            .int("kv_num_heads", 3)
            .opset(23)
            .run_err();
        assert!(err.contains("not a multiple"), "{err}");
    }

    #[test]
    fn rotary_embedding_by_hand() {
        let r = Case::new("RotaryEmbedding")
            .input(t("float32", &[2, 4, 3, 8]))
            .input(t("float32", &[50, 4]))
            .input(t("float32", &[50, 4]))
            .input(t("int64", &[2, 3]))
            .opset(23)
            .run();
        assert_eq!(r.shape(0), "[2, 4, 3, 8]");
        let n = 2 * 4 * 3 * 8;
        assert_eq!((r.flops_mul(), r.flops_add()), (2 * n, n));
        // 3-D input, 4 heads of 8, rotating 4 of each head's 8 dims.
        let r = Case::new("RotaryEmbedding")
            .input(t("float32", &[2, 3, 32]))
            .input(t("float32", &[50, 2]))
            .input(t("float32", &[50, 2]))
            .input(t("int64", &[2, 3]))
            .int("num_heads", 4)
            .int("rotary_embedding_dim", 4)
            .opset(23)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 32]");
        let rotated = 2 * 3 * 4 * 4;
        assert_eq!((r.flops_mul(), r.flops_add()), (2 * rotated, rotated));
        assert_eq!(r.params(), 0);
    }

    #[test]
    fn linear_attention_by_hand() {
        // gated_delta, GQA 8 query heads over 4 key/value heads of 8x8 state.
        let r = Case::new("LinearAttention")
            .input(t("float32", &[2, 4, 64]))
            .input(t("float32", &[2, 4, 32]))
            .input(t("float32", &[2, 4, 32]))
            .absent()
            .input(t("float32", &[2, 4, 32]))
            .input(t("float32", &[2, 4, 4]))
            .int("q_num_heads", 8)
            .int("kv_num_heads", 4)
            .outputs(2)
            .opset(27)
            .run();
        assert_eq!(r.shape(0), "[2, 4, 64]");
        assert_eq!(r.shape(1), "[2, 4, 8, 8]");
        let n = 2 * 4;
        let e = 8 * 8;
        assert_eq!(r.macs(), n * 4 * e + n * 8 * e + n * 4 * e);
        assert_eq!(r.flops_mul(), 2 * 4 * 64 + n * 4 * e + n * 4 * 8);
        assert_eq!(r.flops_add(), n * 4 * 8);
        assert_eq!(r.flops_special(), 2 * 4 * 32);
        let r = Case::new("LinearAttention")
            .input(t("float32", &[2, 1, 32]))
            .input(t("float32", &[2, 1, 32]))
            .input(t("float32", &[2, 1, 32]))
            .int("q_num_heads", 4)
            .int("kv_num_heads", 4)
            .str("update_rule", "linear")
            .outputs(2)
            .opset(27)
            .run();
        assert_eq!(r.macs(), 2 * 4 * 64 * 2);
        assert_eq!(r.flops_mul(), 2 * 32);
    }

    #[test]
    fn swiglu_tensor_scatter_and_flex_attention() {
        let r = Case::new("SwiGLU")
            .input(t("float32", &[2, 4]))
            .input(t("float32", &[2, 4]))
            .float("alpha", 0.5)
            .opset(28)
            .run();
        assert_eq!(r.shape(0), "[2, 4]");
        assert_eq!((r.flops_special(), r.flops_add(), r.flops_div()), (8, 8, 8));
        assert_eq!(r.flops_mul(), 24);

        let r = Case::new("TensorScatter")
            .input(t("float32", &[2, 1, 4, 5]))
            .input(t("float32", &[2, 1, 1, 5]))
            .input(t("int64", &[2]))
            .opset(24)
            .run();
        assert_eq!(r.shape(0), "[2, 1, 4, 5]");
        assert_eq!(r.macs() + r.flops_add(), 0);

        let r = Case::new("FlexAttention")
            .domain("ai.onnx.preview")
            .input(t("float32", &[2, 8, 4, 16]))
            .input(t("float32", &[2, 2, 6, 16]))
            .input(t("float32", &[2, 2, 6, 32]))
            .opset(1)
            .run();
        assert_eq!(r.shape(0), "[2, 8, 4, 32]");
        let s = 2 * 8 * 4 * 6;
        assert_eq!(r.macs(), s * (16 + 32));
        assert_eq!(r.flops_add(), s - 2 * 8 * 4);
    }
}
