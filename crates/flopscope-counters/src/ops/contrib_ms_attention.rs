//! ONNX Runtime's `com.microsoft` attention ops: Attention, QAttention, MultiHeadAttention,
//! GroupQueryAttention.
//!
//! Scaled dot-product attention costs as the default-domain `Attention` counts it
//! (`attention.rs`): with `S = batch·heads·q_seq·total_seq` scores and
//! `rows = batch·heads·q_seq`, `macs = S·(head + v_head)` (QKᵀ and AV), one `mul` per score
//! for the scale and the softmax as `Softmax` counts it (`special = S`, `add = S − rows`,
//! `div = S`). An integer mask and each causal or window bound are one `cmp` per score, an
//! additive attention bias one `add` per score, softcap `c·tanh(x/c)` a `div`, `special` and
//! `mul` per score. `Attention` and `QAttention` also project the input to Q, K and V with
//! their weight input: `macs = numel(input)·(q_hidden + k_hidden + v_hidden)`, the bias one
//! `add` per projected element. Rotary embedding inside the op (`do_rotary`) costs what
//! `RotaryEmbedding` costs on Q and K.

use flopscope_ir::{Dim, TensorType};

use super::attention::{per_head, sdpa_cost};
use super::contrib_ms::MS;
use super::norm::rmsnorm_cost;
use super::quant::dequantize_cost;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// The dims of one attention: `total` key/value positions (past included).
#[derive(Debug, Clone)]
struct Sdpa {
    batch: Dim,
    heads: Dim,
    q_seq: Dim,
    total: Dim,
    head: Dim,
    v_head: Dim,
}

impl Sdpa {
    fn scores(&self) -> Dim {
        &self.batch * &self.heads * &self.q_seq * &self.total
    }

    fn rows(&self) -> Dim {
        &self.batch * &self.heads * &self.q_seq
    }

    fn cost(&self) -> Cost {
        sdpa_cost(&self.scores(), &self.rows(), &self.head, &self.v_head)
    }

    /// `mul = 2R, add = R` for R rotated elements, as `RotaryEmbedding` counts them.
    fn rotary(rotated: Dim) -> Cost {
        Cost::zero().with_mul(&rotated * 2).with_add(rotated)
    }
}

/// The number of heads from a required attribute.
fn heads_attr(attr: Result<i64, OpError>, what: &str) -> Result<i64, OpError> {
    let heads = attr?;
    if heads < 1 {
        return invalid!("{what} {heads} is not positive");
    }
    Ok(heads)
}

/// Whether two dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// The first element of a scalar-like integer input, when known.
fn scalar_value(v: Option<&[Dim]>) -> Option<Dim> {
    v.and_then(|v| v.first()).cloned()
}

// ---- Attention, QAttention -------------------------------------------------------------------

/// The packed-projection attention of `Attention` and `QAttention`.
#[derive(Debug, Clone)]
struct Packed {
    sdpa: Sdpa,
    /// Elements of the input (B·S·input_hidden) and the projection width (q + k + v hidden).
    input: Dim,
    width: Dim,
    v_hidden: Dim,
    /// The present state: [2, B, N, total, head], or the past's shape when they share a buffer.
    present: Vec<Dim>,
}

/// Reads input [B, S, D_in], weights [D_in, q + k + v], the hidden sizes (the
/// `qkv_hidden_sizes` attribute, else a third each) and the past state
/// [2, B, N, past, head] at `past_index`. With `past_present_share_buffer` the present is the
/// past buffer and the attended length `past_len + S` (the `past_sequence_length` input when
/// known, else the whole buffer).
fn packed_attention(
    x: &TensorType,
    w: &TensorType,
    heads: i64,
    sizes: Option<&[i64]>,
    past: Option<&TensorType>,
    share_buffer: bool,
    past_len: Option<Dim>,
) -> Result<Packed, OpError> {
    if x.rank() != 3 {
        return invalid!("input has shape {}, expected [batch, seq, hidden]", x);
    }
    if w.rank() != 2 || differ(&w.shape[0], &x.shape[2]) {
        return invalid!(
            "weights have shape {}, expected [{}, q_hidden + k_hidden + v_hidden]",
            w,
            x.shape[2]
        );
    }
    let width = w.shape[1].clone();
    let (q, v) = match sizes {
        Some(&[q, k, v]) => {
            if let Some(wv) = width.as_i64()
                && wv != q + k + v
            {
                return invalid!(
                    "qkv_hidden_sizes [{q}, {k}, {v}] do not add up to the {wv} columns of the weights {}",
                    w
                );
            }
            (Dim::from_i64(q), Dim::from_i64(v))
        }
        Some(other) => return invalid!("qkv_hidden_sizes {other:?} needs 3 values"),
        None => {
            let third = width.div_exact(&Dim::from_i64(3)).ok_or_else(|| {
                OpError::Invalid(format!(
                    "weights {} have {width} columns, not a multiple of 3 (give qkv_hidden_sizes)",
                    w
                ))
            })?;
            (third.clone(), third)
        }
    };
    let head = per_head(&q, heads, "Q hidden size")?;
    let v_head = per_head(&v, heads, "V hidden size")?;
    let (batch, seq) = (x.shape[0].clone(), x.shape[1].clone());
    let n = Dim::from_i64(heads);
    let (total, present) = match past {
        Some(p) if p.rank() != 5 => {
            return invalid!(
                "past has shape {}, expected [2, batch, heads, past_seq, head]",
                p
            );
        }
        Some(p) if share_buffer => {
            let total = past_len.map_or_else(|| p.shape[3].clone(), |l| l + &seq);
            (total, p.shape.clone())
        }
        past => {
            let total = past.map_or_else(|| seq.clone(), |p| &p.shape[3] + &seq);
            let present = vec![
                Dim::from_i64(2),
                batch.clone(),
                n.clone(),
                total.clone(),
                head.clone(),
            ];
            (total, present)
        }
    };
    Ok(Packed {
        sdpa: Sdpa {
            batch,
            heads: n,
            q_seq: seq,
            total,
            head,
            v_head,
        },
        input: x.numel(),
        width,
        v_hidden: v,
        present,
    })
}

/// The output [B, S, v_hidden] in `like`'s type.
fn attention_of(like: &TensorType, packed: &Packed) -> TensorType {
    TensorType::new(
        like.dtype,
        vec![
            packed.sdpa.batch.clone(),
            packed.sdpa.q_seq.clone(),
            packed.v_hidden.clone(),
        ],
    )
}

/// `Attention` (input, weights, bias, mask_index, past, attention_bias, past_sequence_length).
fn read_attention<'a>(
    cx_tensor: impl Fn(usize) -> Result<Option<&'a TensorType>, OpError>,
    attr_i: impl Fn(&str) -> Result<Option<i64>, OpError>,
    sizes: Option<&[i64]>,
    past_len: Option<Dim>,
) -> Result<Packed, OpError> {
    let x = cx_tensor(0)?.ok_or(OpError::MissingInput(0))?;
    let w = cx_tensor(1)?.ok_or(OpError::MissingInput(1))?;
    let heads = heads_attr(
        attr_i("num_heads")?.ok_or_else(|| OpError::Invalid("num_heads is required".into())),
        "num_heads",
    )?;
    let share = attr_i("past_present_share_buffer")?.unwrap_or(0) != 0;
    packed_attention(x, w, heads, sizes, cx_tensor(4)?, share, past_len)
}

fn infer_ms_attention(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let past_len = scalar_value(cx.ints(6)?);
    let p = read_attention(
        |i| cx.opt_tensor(i),
        |n| cx.attr(n),
        cx.attr("qkv_hidden_sizes")?,
        past_len,
    )?;
    let x = cx.tensor(0)?;
    cx.set(1, TensorType::new(x.dtype, p.present.clone()));
    cx.set(0, attention_of(x, &p));
    Ok(())
}

/// Costs common to `Attention` and `QAttention` after the projection: the attention itself,
/// the mask (`cmp`), the attention bias (`add`), causal masking (`cmp`), rotary on Q and K.
fn attention_tail(
    cx: &CostCtx<'_>,
    p: &Packed,
    mask: usize,
    bias: Option<usize>,
) -> Result<Cost, OpError> {
    let s = p.sdpa.scores();
    let mut cost = p.sdpa.cost();
    if cx.has_input(mask) {
        cost = cost.with_cmp(s.clone());
    }
    if bias.is_some_and(|b| cx.has_input(b)) {
        cost = cost.with_add(s.clone());
    }
    if cx.attr_or("unidirectional", 0i64)? != 0 {
        cost = cost.with_cmp(s);
    }
    if cx.attr_or("do_rotary", 0i64)? != 0 {
        let d = &p.sdpa;
        let dim = match cx.attr_or("rotary_embedding_dim", 0i64)? {
            0 => d.head.clone(),
            r => Dim::from_i64(r),
        };
        cost += &Sdpa::rotary(&d.batch * &d.q_seq * &d.heads * dim * 2);
    }
    Ok(cost)
}

fn cost_ms_attention(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let p = read_attention(
        |i| cx.opt_tensor(i),
        |n| cx.attr(n),
        cx.attr("qkv_hidden_sizes")?,
        scalar_value(cx.ints(6)?),
    )?;
    let tokens = &p.sdpa.batch * &p.sdpa.q_seq;
    let mut cost = Cost::macs(&p.input * &p.width);
    if cx.has_input(2) {
        cost = cost.with_add(&tokens * &p.width);
    }
    cost += &attention_tail(cx, &p, 3, Some(5))?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "Attention",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Weight,
            Role::Bias,
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Config,
        ],
        infer: infer_ms_attention,
        cost: cost_ms_attention,
        formula: "projection macs = numel(input)·(q + k + v hidden), add = B·S·(q + k + v) with \
                  bias; S = B·heads·seq·total_seq: macs = S·(head + v_head), mul = S (scale), \
                  softmax special = S, add = S − rows, div = S; cmp = S with mask_index, per \
                  unidirectional; add = S with attention_bias; do_rotary: mul = 2R, add = R",
    }
}

/// `QAttention` (input, weight, bias, input_scale, weight_scale, mask_index, input_zero_point,
/// weight_zero_point, past): the output is in the bias's type.
fn read_qattention<'a>(
    cx_tensor: impl Fn(usize) -> Result<Option<&'a TensorType>, OpError>,
    heads: Result<i64, OpError>,
    share: bool,
) -> Result<Packed, OpError> {
    let x = cx_tensor(0)?.ok_or(OpError::MissingInput(0))?;
    let w = cx_tensor(1)?.ok_or(OpError::MissingInput(1))?;
    packed_attention(
        x,
        w,
        heads_attr(heads, "num_heads")?,
        None,
        cx_tensor(8)?,
        share,
        None,
    )
}

fn infer_qattention(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let share = cx.attr_or("past_present_share_buffer", 0i64)? != 0;
    let p = read_qattention(|i| cx.opt_tensor(i), cx.req_attr("num_heads"), share)?;
    let dtype = cx.tensor(2)?.dtype;
    cx.set(1, TensorType::new(dtype, p.present.clone()));
    cx.set(0, attention_of(cx.tensor(2)?, &p));
    Ok(())
}

/// The integer projection (`macs`, zero points subtracted from the input and the weight as
/// `MatMulInteger` counts them), its dequantization (one `mul` per projected element by
/// input_scale·weight_scale, that product one `mul` per element of weight_scale), the bias,
/// then the attention.
fn cost_qattention(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let share = cx.attr_or("past_present_share_buffer", 0i64)? != 0;
    let p = read_qattention(|i| cx.opt_tensor(i), cx.req_attr("num_heads"), share)?;
    let projected = &p.sdpa.batch * &p.sdpa.q_seq * &p.width;
    let mut cost = Cost::macs(&p.input * &p.width)
        .with_mul(&projected + cx.tensor(4)?.numel())
        .with_add(projected);
    if cx.has_input(6) {
        cost = cost.with_add(p.input.clone());
    }
    if cx.has_input(7) {
        cost = cost.with_add(cx.tensor(1)?.numel());
    }
    cost += &attention_tail(cx, &p, 5, None)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QAttention",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Weight,
            Role::Bias,
            Role::Quant,
            Role::Quant,
            Role::Data,
            Role::Quant,
            Role::Quant,
            Role::Data,
        ],
        infer: infer_qattention,
        cost: cost_qattention,
        formula: "projection macs = numel(input)·3·hidden, add = numel(input) + numel(weight) \
                  with zero points, mul = P + numel(weight_scale) (dequantize), add = P (bias), \
                  P = B·S·3·hidden; then Attention's: macs = S·(head + v_head), mul = S, \
                  softmax; cmp = S with mask_index, per unidirectional",
    }
}

// ---- MultiHeadAttention ----------------------------------------------------------------------

/// The dims of a `MultiHeadAttention` node and its present key / value shapes.
#[derive(Debug, Clone)]
struct Mha {
    sdpa: Sdpa,
    present_k: Vec<Dim>,
    present_v: Vec<Dim>,
}

/// Query [B, S, D] with key [B, L, D] and value [B, L, D_v], or key / value already split into
/// heads [B, N, L, H], or packed key-value [B, L, N, 2, H]; or packed QKV [B, S, N, 3, H].
/// A past key / value [B, N, P, H] adds P positions; with `past_sequence_length` given the past
/// and present share one buffer of P positions.
fn mha_dims(
    q: &TensorType,
    k: Option<&TensorType>,
    v: Option<&TensorType>,
    past_k: Option<&TensorType>,
    heads: i64,
    share_buffer: bool,
) -> Result<Mha, OpError> {
    let n = Dim::from_i64(heads);
    let (batch, q_seq) = match q.shape.as_slice() {
        [b, s, _] | [b, s, _, _, _] => (b.clone(), s.clone()),
        _ => {
            return invalid!(
                "query has shape {}, expected [batch, seq, hidden] or [batch, seq, heads, 3, head]",
                q
            );
        }
    };
    let (kv_seq, head, v_head) = if q.rank() == 5 {
        (q_seq.clone(), q.shape[4].clone(), q.shape[4].clone())
    } else {
        let head = per_head(&q.shape[2], heads, "query")?;
        let Some(k) = k else {
            return invalid!("key is required with a 3-D query {}", q);
        };
        match k.rank() {
            5 => (k.shape[1].clone(), k.shape[4].clone(), k.shape[4].clone()),
            4 => {
                let v_head = match v {
                    Some(v) if v.rank() == 4 => v.shape[3].clone(),
                    _ => return invalid!("key {} is split into heads but value is not", k),
                };
                (k.shape[2].clone(), k.shape[3].clone(), v_head)
            }
            3 => {
                let Some(v) = v.filter(|v| v.rank() == 3) else {
                    return invalid!("key {} needs a 3-D value", k);
                };
                per_head(&k.shape[2], heads, "key")?;
                (
                    k.shape[1].clone(),
                    head.clone(),
                    per_head(&v.shape[2], heads, "value")?,
                )
            }
            _ => return invalid!("key has shape {}", k),
        }
    };
    // Packed forms carry the heads and the number of packed tensors as dims.
    let packed = |t: &TensorType, parts: i64| {
        t.rank() != 5 || !(differ(&t.shape[2], &n) || differ(&t.shape[3], &Dim::from_i64(parts)))
    };
    if !packed(q, 3) || k.is_some_and(|k| q.rank() == 3 && !packed(k, 2)) {
        return invalid!(
            "packed query {} or key {} does not hold {heads} heads",
            q,
            k.map(ToString::to_string).unwrap_or_default()
        );
    }
    let total = match past_k {
        Some(p) if p.rank() != 4 => {
            return invalid!(
                "past_key has shape {}, expected [batch, heads, past_seq, head]",
                p
            );
        }
        Some(p) if share_buffer => p.shape[2].clone(),
        Some(p) => &p.shape[2] + &kv_seq,
        None => kv_seq,
    };
    let cache = |size: &Dim| vec![batch.clone(), n.clone(), total.clone(), size.clone()];
    let present_k = cache(&head);
    let present_v = cache(&v_head);
    Ok(Mha {
        sdpa: Sdpa {
            batch,
            heads: n,
            q_seq,
            total,
            head,
            v_head,
        },
        present_k,
        present_v,
    })
}

fn infer_mha(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let q = cx.tensor(0)?;
    let m = mha_dims(
        q,
        cx.opt_tensor(1)?,
        cx.opt_tensor(2)?,
        cx.opt_tensor(6)?,
        heads_attr(cx.req_attr("num_heads"), "num_heads")?,
        cx.has_input(8),
    )?;
    let d = &m.sdpa;
    let dt = q.dtype;
    let y = vec![d.batch.clone(), d.q_seq.clone(), &d.heads * &d.v_head];
    let qk = vec![
        d.batch.clone(),
        d.heads.clone(),
        d.q_seq.clone(),
        d.total.clone(),
    ];
    cx.set(1, TensorType::new(dt, m.present_k.clone()));
    cx.set(2, TensorType::new(dt, m.present_v.clone()));
    cx.set(3, TensorType::new(dt, qk));
    cx.set(0, TensorType::new(dt, y));
    Ok(())
}

/// The attention; the projection bias one `add` per element of query, key and value; the key
/// padding mask and causal masking one `cmp` per score; the attention bias one `add` per
/// score.
fn cost_mha(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let m = mha_dims(
        cx.tensor(0)?,
        cx.opt_tensor(1)?,
        cx.opt_tensor(2)?,
        cx.opt_tensor(6)?,
        heads_attr(cx.req_attr("num_heads"), "num_heads")?,
        cx.has_input(8),
    )?;
    let s = m.sdpa.scores();
    let mut cost = m.sdpa.cost();
    if cx.has_input(3) {
        let mut biased = Dim::zero();
        for i in 0..3 {
            if let Some(t) = cx.opt_tensor(i)? {
                biased += t.numel();
            }
        }
        cost = cost.with_add(biased);
    }
    if cx.has_input(4) {
        cost = cost.with_cmp(s.clone());
    }
    if cx.has_input(5) {
        cost = cost.with_add(s.clone());
    }
    if cx.attr_or("unidirectional", 0i64)? != 0 {
        cost = cost.with_cmp(s);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "MultiHeadAttention",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Bias,
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Config,
            Role::Data,
        ],
        infer: infer_mha,
        cost: cost_mha,
        formula: "S = B·heads·seq·total_seq: macs = S·(head + v_head), mul = S (scale), softmax \
                  special = S, add = S − rows, div = S; add = numel(Q) + numel(K) + numel(V) \
                  with bias; cmp = S with key_padding_mask, with unidirectional; add = S with \
                  attention_bias",
    }
}

// ---- GroupQueryAttention ---------------------------------------------------------------------

/// The dims of a `GroupQueryAttention` node.
#[derive(Debug, Clone)]
struct Gqa {
    sdpa: Sdpa,
    kv_heads: Dim,
    /// Positions of the present key / value buffers.
    present: Dim,
    /// Head size of the present buffers (the past's last dim when given).
    cache_head: Dim,
}

/// Query [B, S, N·H] with key / value [B, S, Kv·H], or packed QKV [B, S, (N + 2·Kv)·H] (no key
/// or value); past key / value [B, Kv, P, H]. The attended length is `total_sequence_length`
/// when known, else P + S; the present buffers hold max(P, total) positions (P alone with
/// `sliding_window_cache`).
fn gqa_dims(
    q: &TensorType,
    k: Option<&TensorType>,
    past: Option<&TensorType>,
    heads: i64,
    kv_heads: i64,
    tsl: Option<Dim>,
    window_cache: bool,
) -> Result<Gqa, OpError> {
    if q.rank() != 3 {
        return invalid!("query has shape {}, expected [batch, seq, hidden]", q);
    }
    if heads % kv_heads != 0 {
        return invalid!("num_heads {heads} is not a multiple of kv_num_heads {kv_heads}");
    }
    let head = match k {
        None => per_head(&q.shape[2], heads + 2 * kv_heads, "packed query")?,
        Some(k) => {
            let head = per_head(&q.shape[2], heads, "query")?;
            if k.rank() != 3 || differ(&k.shape[2], &(&head * kv_heads)) {
                return invalid!(
                    "key has shape {}, expected [batch, seq, {}]",
                    k,
                    &head * kv_heads
                );
            }
            head
        }
    };
    let (batch, seq) = (q.shape[0].clone(), q.shape[1].clone());
    if let Some(p) = past
        && p.rank() != 4
    {
        return invalid!(
            "past_key has shape {}, expected [batch, kv_heads, past_seq, head]",
            p
        );
    }
    let past_seq = past.map(|p| p.shape[2].clone());
    let total = match (&tsl, &past_seq) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) => p + &seq,
        (None, None) => seq.clone(),
    };
    let present = match &past_seq {
        Some(p) if window_cache => p.clone(),
        Some(p) => p.max(&total),
        None => total.clone(),
    };
    let cache_head = past.map_or_else(|| head.clone(), |p| p.shape[3].clone());
    Ok(Gqa {
        sdpa: Sdpa {
            batch,
            heads: Dim::from_i64(heads),
            q_seq: seq,
            total,
            head: head.clone(),
            v_head: head,
        },
        kv_heads: Dim::from_i64(kv_heads),
        present,
        cache_head,
    })
}

fn read_gqa(
    q: &TensorType,
    k: Option<&TensorType>,
    past: Option<&TensorType>,
    heads: Result<i64, OpError>,
    kv_heads: Result<i64, OpError>,
    tsl: Option<Dim>,
    window_cache: bool,
) -> Result<Gqa, OpError> {
    gqa_dims(
        q,
        k,
        past,
        heads_attr(heads, "num_heads")?,
        heads_attr(kv_heads, "kv_num_heads")?,
        tsl,
        window_cache,
    )
}

fn infer_gqa(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let q = cx.tensor(0)?;
    let past = cx.opt_tensor(3)?;
    let g = read_gqa(
        q,
        cx.opt_tensor(1)?,
        past,
        cx.req_attr("num_heads"),
        cx.req_attr("kv_num_heads"),
        scalar_value(cx.ints(6)?),
        cx.attr_or("sliding_window_cache", 0i64)? != 0,
    )?;
    let d = &g.sdpa;
    let cache_dtype = past.map_or(q.dtype, |p| p.dtype);
    let cache = vec![
        d.batch.clone(),
        g.kv_heads.clone(),
        g.present.clone(),
        g.cache_head.clone(),
    ];
    let qk = vec![
        d.batch.clone(),
        d.heads.clone(),
        d.q_seq.clone(),
        d.total.clone(),
    ];
    let y = vec![d.batch.clone(), d.q_seq.clone(), &d.heads * &d.head];
    let dt = q.dtype;
    cx.set(1, TensorType::new(cache_dtype, cache.clone()));
    cx.set(2, TensorType::new(cache_dtype, cache));
    cx.set(3, TensorType::new(dt, qk));
    cx.set(0, TensorType::new(dt, y));
    Ok(())
}

/// The attention over the total length; causal masking (`causal`, default 1) and a local
/// window one `cmp` per score each; softcap; the attention bias one `add` per score; a head
/// sink or smooth softmax one more `add` per row; rotary (`do_rotary`) on the B·S·(N + Kv)
/// query and key vectors, `rotary_dim = 2·cos_cache[1]`; the per-head Q/K RMS norms
/// (q_norm_weight, k_norm_weight) as `RMSNormalization` counts them; a quantized KV cache
/// dequantized as `DequantizeLinear` counts it.
fn cost_gqa(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let g = read_gqa(
        cx.tensor(0)?,
        cx.opt_tensor(1)?,
        cx.opt_tensor(3)?,
        cx.req_attr("num_heads"),
        cx.req_attr("kv_num_heads"),
        scalar_value(cx.ints(6)?),
        cx.attr_or("sliding_window_cache", 0i64)? != 0,
    )?;
    let d = &g.sdpa;
    let s = d.scores();
    let mut cost = d.cost();
    let masks = i64::from(cx.attr_or("causal", 1i64)? != 0)
        + i64::from(cx.attr_or("local_window_size", -1i64)? >= 0);
    cost = cost.with_cmp(&s * masks);
    if cx.attr_or("softcap", 0f32)? != 0.0 {
        cost = cost
            .with_div(s.clone())
            .with_special(s.clone())
            .with_mul(s.clone());
    }
    if cx.has_input(10) {
        cost = cost.with_add(s.clone());
    }
    if cx.has_input(11) || cx.attr_or("smooth_softmax", 0i64)? != 0 {
        cost = cost.with_add(d.rows());
    }
    let vectors = &d.batch * &d.q_seq * (&d.heads + &g.kv_heads);
    if cx.attr_or("do_rotary", 0i64)? != 0 {
        let dim = match cx.opt_tensor(7)? {
            Some(c) if c.rank() == 2 => &c.shape[1] * 2,
            _ => d.head.clone(),
        };
        cost += &Sdpa::rotary(&vectors * dim);
    }
    if cx.has_input(14) && cx.has_input(15) {
        cost += &rmsnorm_cost(&(&vectors * &d.head), &vectors);
    }
    if let Some(past) = cx.opt_tensor(3)?
        && !past.dtype.is_float()
    {
        // Both caches, read back at full precision.
        let past_v = cx.opt_tensor(4)?.map_or_else(Dim::zero, TensorType::numel);
        cost += &dequantize_cost(&(past.numel() + past_v), false);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "GroupQueryAttention",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Data,
            Role::Config,
            Role::Config,
            Role::Config,
            Role::Config,
            Role::Data,
            Role::Data,
            Role::Weight,
            Role::Config,
            Role::Config,
            Role::Weight,
            Role::Weight,
            Role::Config,
        ],
        infer: infer_gqa,
        cost: cost_gqa,
        formula: "S = B·heads·seq·total_seq (total_sequence_length, else past + seq): \
                  macs = 2·S·head, mul = S (scale), softmax special = S, add = S − rows, \
                  div = S; cmp = S per causal / local window; softcap div = special = mul = S; \
                  add = S with attention_bias, add = rows with head_sink / smooth_softmax; \
                  do_rotary mul = 2R, add = R on Q and K; Q/K norms as RMSNormalization; \
                  mul = numel(past K, V) for an integer cache",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    fn attention() -> Case {
        Case::ms("Attention")
            .input(t("float32", &[2, 5, 16]))
            .weight(t("float32", &[16, 48]))
            .weight(t("float32", &[48]))
            .int("num_heads", 4)
    }

    #[test]
    fn attention_projection_plus_sdpa_by_hand() {
        let r = attention().outputs(2).run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        assert_eq!(r.shape(1), "[2, 2, 4, 5, 4]");
        // Projection: 10 tokens × 16 inputs × 48 outputs, bias 10 × 48 adds. Attention:
        // S = 2·4·5·5 = 200 scores in 40 rows, head size 4: QKᵀ and AV 200·(4 + 4) MACs,
        // the scale (200 mul), softmax (200 exp, 200 − 40 adds, 200 div).
        assert_eq!(r.macs(), 10 * 16 * 48 + 200 * 8);
        assert_eq!(r.kinds(), (480 + 160, 200, 200, 0, 200));
        assert_eq!(r.params(), 16 * 48 + 48);
    }

    #[test]
    fn attention_with_past_mask_and_causal() {
        let r = attention()
            .input(t("int32", &[2, 8]))
            .input(t("float32", &[2, 2, 4, 3, 4]))
            .int("unidirectional", 1)
            .outputs(2)
            .run();
        assert_eq!(r.shape(1), "[2, 2, 4, 8, 4]");
        // 3 past + 5 new positions: S = 2·4·5·8 = 320; the mask and causal masking are a
        // comparison per score each.
        assert_eq!(r.macs(), 10 * 16 * 48 + 320 * 8);
        assert_eq!(r.flops_cmp(), 2 * 320);
        assert_eq!(r.flops_add(), 480 + (320 - 40));
    }

    #[test]
    fn attention_qkv_hidden_sizes_and_rotary() {
        let r = Case::ms("Attention")
            .input(t("float32", &[2, 5, 16]))
            .weight(t("float32", &[16, 40]))
            .weight(t("float32", &[40]))
            .int("num_heads", 4)
            .ints("qkv_hidden_sizes", &[12, 12, 16])
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        // Head 3 for Q and K, 4 for V.
        assert_eq!(r.macs(), 10 * 16 * 40 + 200 * (3 + 4));
        let r = attention().int("do_rotary", 1).run();
        // Q and K: 10 tokens · 4 heads · 4 dims each, R = 320: 2R mul, R add.
        assert_eq!(r.flops_mul(), 200 + 640);
        assert_eq!(r.flops_add(), 480 + 160 + 320);
        let err = Case::ms("Attention")
            .input(t("float32", &[2, 5, 16]))
            .weight(t("float32", &[16, 47]))
            .int("num_heads", 4)
            .run_err();
        assert!(err.contains("multiple of 3"), "{err}");
    }

    #[test]
    fn qattention_by_hand() {
        let r = Case::ms("QAttention")
            .input(t("uint8", &[2, 5, 16]))
            .weight(t("uint8", &[16, 48]))
            .weight(t("float32", &[48]))
            .weight(t("float32", &[]))
            .weight(t("float32", &[]))
            .absent()
            .weight(t("uint8", &[]))
            .weight(t("uint8", &[]))
            .int("num_heads", 4)
            .outputs(2)
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 5, 16]".into(), DType::Float32)
        );
        assert_eq!(r.shape(1), "[2, 2, 4, 5, 4]");
        assert_eq!(r.macs(), 10 * 16 * 48 + 200 * 8);
        // Zero points (160 + 768 adds), dequantize 480 projected values (480 mul, and 1 for
        // the scale product), bias (480 adds), then the attention.
        let (p, s, rows) = (480, 200, 40);
        assert_eq!(r.kinds(), (160 + 768 + p + (s - rows), p + 1 + s, s, 0, s));
        assert_eq!(r.params(), 768 + 48, "the quantized weight and the bias");
    }

    #[test]
    fn multi_head_attention_separate_qkv() {
        let r = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 16]))
            .input(t("float32", &[2, 7, 16]))
            .input(t("float32", &[2, 7, 24]))
            .int("num_heads", 4)
            .outputs(4)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 24]");
        assert_eq!(r.shape(1), "[2, 4, 7, 4]");
        assert_eq!(r.shape(2), "[2, 4, 7, 6]");
        assert_eq!(r.shape(3), "[2, 4, 5, 7]");
        // S = 2·4·5·7 = 280 scores in 40 rows; head 4, v_head 6.
        assert_eq!(r.macs(), 280 * (4 + 6));
        assert_eq!(r.kinds(), (280 - 40, 280, 280, 0, 280));
    }

    #[test]
    fn multi_head_attention_bias_masks_and_past() {
        let r = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 16]))
            .input(t("float32", &[2, 7, 16]))
            .input(t("float32", &[2, 7, 16]))
            .weight(t("float32", &[48]))
            .input(t("int32", &[2, 10]))
            .input(t("float32", &[1, 4, 5, 10]))
            .input(t("float32", &[2, 4, 3, 4]))
            .input(t("float32", &[2, 4, 3, 4]))
            .int("num_heads", 4)
            .outputs(3)
            .run();
        assert_eq!(r.shape(1), "[2, 4, 10, 4]");
        // 3 past + 7 new positions: S = 2·4·5·10 = 400.
        let s = 400;
        assert_eq!(r.macs(), s * 8);
        // Bias onto Q, K, V (160 + 224 + 224 adds), softmax (s − 40), attention bias (s).
        assert_eq!(r.flops_add(), 608 + (s - 40) + s);
        assert_eq!(r.flops_cmp(), s, "key padding mask");
        assert_eq!(r.params(), 48);
    }

    #[test]
    fn multi_head_attention_split_and_packed_forms() {
        // Key and value already split into heads [B, N, L, H].
        let r = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 16]))
            .input(t("float32", &[2, 4, 7, 4]))
            .input(t("float32", &[2, 4, 7, 4]))
            .int("num_heads", 4)
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        assert_eq!(r.shape(2), "[2, 4, 7, 4]");
        assert_eq!(r.macs(), 2 * 4 * 5 * 7 * 8);
        // Packed QKV [B, S, N, 3, H].
        let r = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 4, 3, 4]))
            .int("num_heads", 4)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        assert_eq!(r.macs(), 2 * 4 * 5 * 5 * 8);
        // Packed KV [B, L, N, 2, H].
        let r = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 16]))
            .input(t("float32", &[2, 7, 4, 2, 4]))
            .int("num_heads", 4)
            .run();
        assert_eq!(r.shape(0), "[2, 5, 16]");
        assert_eq!(r.macs(), 2 * 4 * 5 * 7 * 8);
        let err = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 16]))
            .input(t("float32", &[2, 7, 16]))
            .input(t("float32", &[2, 7, 16]))
            .int("num_heads", 3)
            .run_err();
        assert!(err.contains("not a multiple of 3 heads"), "{err}");
        let err = Case::ms("MultiHeadAttention")
            .input(t("float32", &[2, 5, 4, 2, 4]))
            .int("num_heads", 4)
            .run_err();
        assert!(err.contains("does not hold 4 heads"), "{err}");
    }

    fn gqa(q: &[i64], past: &[i64], tsl: i64) -> Case {
        let kv = [q[0], q[1], 16];
        Case::ms("GroupQueryAttention")
            .input(t("float32", q))
            .input(t("float32", &kv))
            .input(t("float32", &kv))
            .input(t("float32", past))
            .input(t("float32", past))
            .const_i64s(&[q[0] as u64], &vec![tsl - 1; q[0] as usize])
            .const_i64s(&[], &[tsl])
            .int("num_heads", 4)
            .int("kv_num_heads", 2)
    }

    #[test]
    fn group_query_attention_prompt_by_hand() {
        let r = gqa(&[1, 5, 32], &[1, 2, 0, 8], 5)
            .int("qk_output", 1)
            .outputs(4)
            .run();
        assert_eq!(r.shape(0), "[1, 5, 32]");
        assert_eq!(r.shape(1), "[1, 2, 5, 8]");
        assert_eq!(r.shape(2), "[1, 2, 5, 8]");
        assert_eq!(r.shape(3), "[1, 4, 5, 5]");
        // S = 1·4·5·5 = 100 scores in 20 rows, head 8: 100·16 MACs; scale, softmax, and the
        // causal mask (on by default) one comparison per score.
        assert_eq!(r.macs(), 100 * 16);
        assert_eq!(r.kinds(), (80, 100, 100, 100, 100));
    }

    #[test]
    fn group_query_attention_cache_lengths() {
        // A shared buffer of 12 positions: the present is the buffer, 5 positions attended.
        let r = gqa(&[1, 5, 32], &[1, 2, 12, 8], 5).outputs(3).run();
        assert_eq!(r.shape(1), "[1, 2, 12, 8]");
        assert_eq!(r.macs(), 100 * 16);
        // A token step: 6 past positions, total 7.
        let r = gqa(&[2, 1, 32], &[2, 2, 6, 8], 7).outputs(4).run();
        assert_eq!(r.shape(1), "[2, 2, 7, 8]");
        assert_eq!(r.shape(3), "[2, 4, 1, 7]");
        assert_eq!(r.macs(), 2 * 4 * 7 * 16);
        // total_sequence_length computed at run time: past + new.
        let r = Case::ms("GroupQueryAttention")
            .input_sym("float32", &["b", "s", "32"])
            .input_sym("float32", &["b", "s", "16"])
            .input_sym("float32", &["b", "s", "16"])
            .input_sym("float32", &["b", "2", "p", "8"])
            .input_sym("float32", &["b", "2", "p", "8"])
            .input_sym("int32", &["b"])
            .input(t("int32", &[]))
            .int("num_heads", 4)
            .int("kv_num_heads", 2)
            .outputs(3)
            .run();
        assert_eq!(r.shape(1), "[b, 2, p + s, 8]");
        assert_eq!(r.macs_expr(), "64*b*p*s + 64*b*s*s");
    }

    #[test]
    fn group_query_attention_packed_rotary_window_softcap() {
        let r = Case::ms("GroupQueryAttention")
            .input(t("float32", &[1, 5, 64]))
            .absent()
            .absent()
            .input(t("float32", &[1, 2, 0, 8]))
            .input(t("float32", &[1, 2, 0, 8]))
            .const_i64s(&[1], &[4])
            .const_i64s(&[], &[5])
            .weight(t("float32", &[16, 4]))
            .weight(t("float32", &[16, 4]))
            .int("num_heads", 4)
            .int("kv_num_heads", 2)
            .int("do_rotary", 1)
            .int("local_window_size", 2)
            .float("softcap", 50.0)
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[1, 5, 32]");
        assert_eq!(r.shape(1), "[1, 2, 5, 8]");
        let s = 100;
        assert_eq!(r.macs(), s * 16);
        // Rotary on 5 tokens × (4 + 2) heads × 8 dims: R = 240 (2R mul, R add).
        let rot = 240;
        assert_eq!(r.flops_mul(), s + s + 2 * rot, "scale, softcap, rotary");
        assert_eq!(r.flops_add(), (s - 20) + rot);
        assert_eq!(r.flops_cmp(), 2 * s, "causal and window");
        assert_eq!((r.flops_div(), r.flops_special()), (2 * s, 2 * s));
        let err = Case::ms("GroupQueryAttention")
            .input(t("float32", &[1, 5, 32]))
            .input(t("float32", &[1, 5, 12]))
            .input(t("float32", &[1, 5, 12]))
            .int("num_heads", 4)
            .int("kv_num_heads", 2)
            .run_err();
        assert!(err.contains("key has shape"), "{err}");
    }
}
