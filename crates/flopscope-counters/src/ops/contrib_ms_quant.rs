//! ONNX Runtime's quantized `com.microsoft` contrib ops: MatMulNBits, MatMulIntegerToFloat,
//! DynamicQuantizeMatMul, QGemm, the QLinear element-wise ops, pools, Concat and Softmax, and
//! the contrib QuantizeLinear / DequantizeLinear.
//!
//! Quantizing does not change the math: each op has the MACs of the float op it replaces,
//! plus the (de)quantization arithmetic, counted as `DequantizeLinear` (`mul` per element, and
//! an `add` for a zero point) and `QuantizeLinear` (`div`, `special` (round), `cmp` ×2
//! (saturate), and an `add` for a zero point) count it (`quant.rs`). The float op in the middle
//! of a QLinear op costs what the default-domain op costs. Scales and zero points are
//! [`Role::Quant`], as in the default domain's ops; a quantized operand that can be a stored weight is [`Role::Weight`].

use flopscope_ir::{DType, Dim, TensorType};

use super::activation::{LEAKY_RELU, SIGMOID};
use super::contrib_ms::MS;
use super::matmul::{gemm_dims, matmul_shape};
use super::norm::{softmax_cost, softmax_rows_of};
use super::pool::{cost_averagepool, mean_cost};
use super::quant::{
    cost_dequantize, cost_quantize, dequantize_cost, dynamic_quantize_cost, infer_dequantize,
    infer_quantize, quantize_cost,
};
use super::window::Window;
use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid,
    normalize_axis, product,
};

/// Whether two dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// `per_element` counts over n elements.
fn counts_over(n: &Dim, counts: [i64; 5]) -> Cost {
    let [add, mul, div, cmp, special] = counts;
    Cost::zero()
        .with_add(n * add)
        .with_mul(n * mul)
        .with_div(n * div)
        .with_cmp(n * cmp)
        .with_special(n * special)
}

// ---- MatMulNBits -----------------------------------------------------------------------------

/// The `K`, `N`, `bits` and `block_size` attributes.
fn nbits_attrs(
    attr: impl Fn(&str) -> Result<Option<i64>, OpError>,
) -> Result<(i64, i64, i64, i64), OpError> {
    let req = |name: &str| {
        attr(name)?.ok_or_else(|| OpError::Invalid(format!("attribute `{name}` is required")))
    };
    let (k, n, block) = (req("K")?, req("N")?, req("block_size")?);
    let bits = attr("bits")?.unwrap_or(4);
    if k < 1 || n < 1 || block < 1 || !(1..=8).contains(&bits) {
        return invalid!(
            "K {k}, N {n}, bits {bits}, block_size {block} must be positive (bits ≤ 8)"
        );
    }
    Ok((k, n, bits, block))
}

/// A [..., K] times the N×K weight packed in B [N, ceil(K/block_size), block_size·bits/8]
/// (any of B's dims may be 0 for an omitted projection) gives Y [..., N] in A's type.
fn infer_matmul_nbits(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (k, n, bits, block) = nbits_attrs(|name| cx.attr(name))?;
    let a = cx.tensor(0)?;
    let Some((last, rows)) = a.shape.split_last() else {
        return invalid!("A is a scalar, expected [..., {k}]");
    };
    if differ(last, &Dim::from_i64(k)) {
        return invalid!("A has shape {} but the attribute K is {k}", a);
    }
    let b = cx.tensor(1)?;
    let blocks = (k + block - 1) / block;
    let expected = [n, blocks, block * bits / 8];
    let fits = |i: usize, e: i64| {
        b.shape
            .get(i)
            .and_then(Dim::as_i64)
            .is_none_or(|d| d == e || d == 0)
    };
    if b.rank() == 3 && !(0..3).all(|i| fits(i, expected[i])) {
        return invalid!(
            "B has shape {}, expected {expected:?} for K {k}, N {n}, bits {bits}, block_size {block}",
            b
        );
    }
    let mut shape = rows.to_vec();
    shape.push(Dim::from_i64(n));
    cx.set(0, TensorType::new(a.dtype, shape));
    Ok(())
}

/// MatMul's `macs = M·N·K` (M = numel(A)/K, K and N the attributes), the dequantization of the
/// N×K weight once, `(q − zero_point)·scale` (the zero point defaults to 2^(bits−1), so the
/// subtraction is always there: `add = mul = K·N`), and the bias (`add = M·N`).
fn cost_matmul_nbits(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (k, n, _, _) = nbits_attrs(|name| cx.attr(name))?;
    let a = cx.tensor(0)?;
    let m = product(&a.shape[..a.rank().saturating_sub(1)]);
    let weights = Dim::from_i64(k) * n;
    let mut cost = Cost::macs(&m * &weights)
        .with_add(weights.clone())
        .with_mul(weights);
    if cx.has_input(5) {
        cost = cost.with_add(m * n);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "MatMulNBits",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Data,
            Role::PackedWeight,
            Role::Quant,
            Role::Quant,
            Role::Config,
            Role::Bias,
        ],
        infer: infer_matmul_nbits,
        cost: cost_matmul_nbits,
        formula: "macs = M·N·K (M = numel(A)/K; K, N attributes), as the MatMul it replaces; \
                  dequantize the weight: add = K·N (zero point), mul = K·N (scale); \
                  add = M·N with bias. Params: B counts its bits-wide elements, \
                  N·⌈K/block_size⌉·block_size (K·N), its weight bytes what it stores",
    }
}

// ---- MatMulIntegerToFloat, DynamicQuantizeMatMul ---------------------------------------------

/// `MatMulIntegerToFloat` (A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias): the
/// matmul shape in the scales' type.
fn infer_matmul_integer_to_float(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (shape, _) = matmul_shape(cx.tensor(0)?, cx.tensor(1)?)?;
    let dtype = cx.tensor(2)?.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// `MatMulInteger`'s cost (macs, zero points), then the float rescale: one `mul` per output by
/// a_scale·b_scale (that product one `mul` per element of the broadcast scales), the bias one
/// `add` per output.
fn cost_matmul_integer_to_float(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(1)?);
    let (shape, k) = matmul_shape(a, b)?;
    let y = product(&shape);
    let scales = broadcast(&[&cx.tensor(2)?.shape, &cx.tensor(3)?.shape])?;
    let mut cost = Cost::macs(&y * k).with_mul(&y + product(&scales));
    if cx.has_input(4) {
        cost = cost.with_add(a.numel());
    }
    if cx.has_input(5) {
        cost = cost.with_add(b.numel());
    }
    if cx.has_input(6) {
        cost = cost.with_add(y);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "MatMulIntegerToFloat",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Weight,
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Quant,
            Role::Quant,
            Role::Bias,
        ],
        infer: infer_matmul_integer_to_float,
        cost: cost_matmul_integer_to_float,
        formula: "macs = numel(Y)·K; add = numel(A) with a_zero_point, numel(B) with \
                  b_zero_point; mul = numel(Y) + s (rescale by a_scale·b_scale, s its elements); \
                  add = numel(Y) with bias",
    }
}

/// `DynamicQuantizeMatMul` (A, B, b_scale, b_zero_point, bias): the matmul shape in A's type.
fn infer_dynamic_quantize_matmul(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let a = cx.tensor(0)?;
    let (shape, _) = matmul_shape(a, cx.tensor(1)?)?;
    cx.set(0, TensorType::new(a.dtype, shape));
    Ok(())
}

/// A quantized as `DynamicQuantizeLinear` counts it, then `MatMulIntegerToFloat`'s cost with
/// A's zero point always there.
fn cost_dynamic_quantize_matmul(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(1)?);
    let (shape, k) = matmul_shape(a, b)?;
    let y = product(&shape);
    let mut cost = dynamic_quantize_cost(&a.numel());
    cost += &Cost::macs(&y * k)
        .with_add(a.numel())
        .with_mul(&y + cx.tensor(2)?.numel());
    if cx.has_input(3) {
        cost = cost.with_add(b.numel());
    }
    if cx.has_input(4) {
        cost = cost.with_add(y);
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "DynamicQuantizeMatMul",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Quant, Role::Quant, Role::Bias],
        infer: infer_dynamic_quantize_matmul,
        cost: cost_dynamic_quantize_matmul,
        formula: "DynamicQuantizeLinear of A (n = numel(A): cmp = 4n + 2, add = n + 2, \
                  div = n + 2, special = n + 1); macs = numel(Y)·K; add = numel(A) (zero point) \
                  + numel(B) with b_zero_point; mul = numel(Y) + numel(b_scale) (rescale); \
                  add = numel(Y) with bias",
    }
}

// ---- QGemm -----------------------------------------------------------------------------------

/// (A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point) → Y [M, N],
/// quantized in y_zero_point's type when given, else float32.
fn infer_qgemm(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(3)?);
    let trans_a = cx.attr_or("transA", 0i64)? != 0;
    let trans_b = cx.attr_or("transB", 0i64)? != 0;
    let (m, _, n) = gemm_dims(a, b, trans_a, trans_b)?;
    let shape = vec![m.clone(), n.clone()];
    if let Some(c) = cx.opt_tensor(6)? {
        broadcast(&[&shape, &c.shape])?;
    }
    let dtype = cx.opt_tensor(8)?.map_or(DType::Float32, |z| z.dtype);
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Gemm's `macs = M·N·K` on the operands less their zero points (`add = numel(A) + numel(B)`),
/// the int32 C (`add = M·N`), the rescale by alpha·a_scale·b_scale (`mul = M·N`, the
/// multiplier one `mul` per element of b_scale, and a `div` by y_scale), then with y_scale the
/// requantization: round (`special`), + y_zero_point (`add`), saturate (`cmp` ×2) per output.
fn cost_qgemm(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(3)?);
    let trans_a = cx.attr_or("transA", 0i64)? != 0;
    let trans_b = cx.attr_or("transB", 0i64)? != 0;
    let (m, k, n) = gemm_dims(a, b, trans_a, trans_b)?;
    let y = m * n;
    let s = cx.tensor(4)?.numel();
    let mut cost = Cost::macs(&y * k).with_mul(&y + &s);
    if cx.has_input(2) {
        cost = cost.with_add(a.numel());
    }
    if cx.has_input(5) {
        cost = cost.with_add(b.numel());
    }
    if cx.has_input(6) {
        cost = cost.with_add(y.clone());
    }
    if cx.has_input(7) {
        cost = cost.with_div(s).with_special(y.clone()).with_cmp(&y * 2);
        if cx.has_input(8) {
            cost = cost.with_add(y);
        }
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QGemm",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Bias,
            Role::Quant,
            Role::Quant,
        ],
        infer: infer_qgemm,
        cost: cost_qgemm,
        formula: "macs = M·N·K; add = numel(A), numel(B) with zero points, M·N with C; \
                  mul = M·N + s (rescale, s = numel(b_scale)); with y_scale: div = s, \
                  special = M·N (round), cmp = 2·M·N (saturate), add = M·N with y_zero_point",
    }
}

// ---- QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu --------------------------------

/// (A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point) → C: the
/// broadcast of A and B in A's type.
fn infer_qlinear_binary(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(3)?);
    let shape = broadcast(&[&a.shape, &b.shape])?;
    cx.set(0, TensorType::new(a.dtype, shape));
    Ok(())
}

/// Dequantize A and B, the float op (`counts` per output element), quantize C.
fn cost_qlinear_binary(cx: &CostCtx<'_>, counts: [i64; 5]) -> Result<Cost, OpError> {
    let c = cx.req_output(0)?.numel();
    let mut cost = dequantize_cost(&cx.tensor(0)?.numel(), cx.has_input(2));
    cost += &dequantize_cost(&cx.tensor(3)?.numel(), cx.has_input(5));
    cost += &counts_over(&c, counts);
    cost += &quantize_cost(&c, cx.has_input(7));
    Ok(cost)
}

const QLINEAR_BINARY_ROLES: &[Role] = &[
    Role::Weight,
    Role::Quant,
    Role::Quant,
    Role::Weight,
    Role::Quant,
    Role::Quant,
    Role::Quant,
    Role::Quant,
];

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearAdd",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: QLINEAR_BINARY_ROLES,
        infer: infer_qlinear_binary,
        cost: |cx| cost_qlinear_binary(cx, [1, 0, 0, 0, 0]),
        formula: "dequantize A, B: mul = numel(A) + numel(B), add the same with zero points; \
                  add = numel(C); quantize C: div = special (round) = numel(C), \
                  cmp = 2·numel(C), add = numel(C) with C_zero_point",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearMul",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: QLINEAR_BINARY_ROLES,
        infer: infer_qlinear_binary,
        cost: |cx| cost_qlinear_binary(cx, [0, 1, 0, 0, 0]),
        formula: "dequantize A, B: mul = numel(A) + numel(B), add the same with zero points; \
                  mul = numel(C); quantize C: div = special (round) = numel(C), \
                  cmp = 2·numel(C), add = numel(C) with C_zero_point",
    }
}

/// (X, X_scale, X_zero_point, Y_scale, Y_zero_point): dequantize X, the float activation,
/// quantize Y.
fn cost_qlinear_unary(cx: &CostCtx<'_>, counts: [i64; 5]) -> Result<Cost, OpError> {
    let n = cx.tensor(0)?.numel();
    let mut cost = dequantize_cost(&n, cx.has_input(2));
    cost += &counts_over(&n, counts);
    cost += &quantize_cost(&n, cx.has_input(4));
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearSigmoid",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant],
        infer: super::same_as_input,
        cost: |cx| cost_qlinear_unary(cx, SIGMOID),
        formula: "n = numel(X): dequantize (mul = n, add = n with X_zero_point), Sigmoid \
                  (special = add = div = n), quantize (div = special = n, cmp = 2n, add = n \
                  with Y_zero_point)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearLeakyRelu",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant],
        infer: super::same_as_input,
        cost: |cx| cost_qlinear_unary(cx, LEAKY_RELU),
        formula: "n = numel(X): dequantize (mul = n, add = n with X_zero_point), LeakyRelu \
                  (cmp = mul = n), quantize (div = special = n, cmp = 2n, add = n with \
                  Y_zero_point)",
    }
}

// ---- QLinearAveragePool, QLinearGlobalAveragePool --------------------------------------------

/// AveragePool's shape on [N, C, spatial...], or on [N, spatial..., C] with `channels_last`.
fn infer_qlinear_average_pool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let r = x.rank();
    if r < 3 {
        return invalid!("input X has shape {}, expected rank ≥ 3", x);
    }
    let kernel: Vec<Dim> = cx
        .req_attr::<&[i64]>("kernel_shape")?
        .iter()
        .map(|&k| Dim::from_i64(k))
        .collect();
    let window = Window::read(cx, kernel)?;
    let shape = if cx.attr_or("channels_last", 0i64)? != 0 {
        let mut s = vec![x.shape[0].clone()];
        s.extend(window.output(&x.shape[1..r - 1])?);
        s.push(x.shape[r - 1].clone());
        s
    } else {
        let mut s = x.shape[..2].to_vec();
        s.extend(window.output(&x.shape[2..])?);
        s
    };
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

fn cost_qlinear_average_pool(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let mut cost = dequantize_cost(&cx.tensor(0)?.numel(), cx.has_input(2));
    cost += &cost_averagepool(cx)?;
    cost += &quantize_cost(&cx.req_output(0)?.numel(), cx.has_input(4));
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearAveragePool",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant],
        infer: infer_qlinear_average_pool,
        cost: cost_qlinear_average_pool,
        formula: "dequantize X (mul = numel(X), add = numel(X) with x_zero_point); AveragePool's \
                  add = numel(Y)·(∏kernel − 1), div = numel(Y); quantize Y (div = special = \
                  numel(Y), cmp = 2·numel(Y), add = numel(Y) with y_zero_point)",
    }
}

/// (outputs N·C, window ∏spatial, output shape) of a global pool in either layout.
fn global_pool(x: &TensorType, channels_last: bool) -> Result<(Dim, Dim, Vec<Dim>), OpError> {
    let r = x.rank();
    if r < 3 {
        return invalid!("input X has shape {}, expected rank ≥ 3", x);
    }
    let mut shape = vec![Dim::one(); r];
    shape[0] = x.shape[0].clone();
    let (c, spatial) = if channels_last {
        shape[r - 1] = x.shape[r - 1].clone();
        (&x.shape[r - 1], &x.shape[1..r - 1])
    } else {
        shape[1] = x.shape[1].clone();
        (&x.shape[1], &x.shape[2..])
    };
    Ok((&x.shape[0] * c, product(spatial), shape))
}

fn infer_qlinear_global_average_pool(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let (_, _, shape) = global_pool(x, cx.attr_or("channels_last", 0i64)? != 0)?;
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

fn cost_qlinear_global_average_pool(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let (outputs, window, _) = global_pool(x, cx.attr_or("channels_last", 0i64)? != 0)?;
    let mut cost = dequantize_cost(&x.numel(), cx.has_input(2));
    cost += &mean_cost(&outputs, &window);
    cost += &quantize_cost(&outputs, cx.has_input(4));
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearGlobalAveragePool",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant],
        infer: infer_qlinear_global_average_pool,
        cost: cost_qlinear_global_average_pool,
        formula: "dequantize X (mul = numel(X), add = numel(X) with x_zero_point); \
                  GlobalAveragePool's add = N·C·(∏spatial − 1), div = N·C; quantize Y \
                  (div = special = N·C, cmp = 2·N·C, add = N·C with y_zero_point)",
    }
}

// ---- QLinearConcat ---------------------------------------------------------------------------

/// (Y_scale, Y_zero_point, then tensor, scale, zero point per input) → Y in Y_zero_point's
/// type, concatenated along `axis`.
fn infer_qlinear_concat(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let count = cx.input_count();
    if count < 5 || !(count - 2).is_multiple_of(3) {
        return invalid!(
            "{count} inputs: expected Y_scale, Y_zero_point and (tensor, scale, zero point) triples"
        );
    }
    let first = cx.tensor(2)?;
    let axis = normalize_axis(cx.req_attr::<i64>("axis")?, first.rank())?;
    let mut shape = first.shape.clone();
    for i in (5..count).step_by(3) {
        let t = cx.tensor(i)?;
        let fits = t.rank() == first.rank()
            && (0..t.rank()).all(|d| d == axis || !differ(&t.shape[d], &first.shape[d]));
        if !fits {
            return invalid!(
                "input {i} has shape {} but input 2 has {}; only axis {axis} may differ",
                t,
                first
            );
        }
        shape[axis] += &t.shape[axis];
    }
    let dtype = cx.tensor(1)?.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// Concatenation is data movement; every input is dequantized and the output quantized.
fn cost_qlinear_concat(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let mut cost = Cost::zero();
    for i in (2..cx.input_count()).step_by(3) {
        cost += &dequantize_cost(&cx.tensor(i)?.numel(), cx.has_input(i + 2));
    }
    cost += &quantize_cost(&cx.req_output(0)?.numel(), true);
    Ok(cost)
}

/// Y_scale, Y_zero_point, then (tensor, scale, zero point) for up to 64 inputs.
const fn qlinear_concat_roles() -> [Role; 2 + 3 * 64] {
    let mut roles = [Role::Quant; 2 + 3 * 64];
    let mut i = 2;
    while i < roles.len() {
        roles[i] = Role::Data;
        i += 3;
    }
    roles
}

static QLINEAR_CONCAT_ROLES: [Role; 2 + 3 * 64] = qlinear_concat_roles();

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearConcat",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &QLINEAR_CONCAT_ROLES,
        infer: infer_qlinear_concat,
        cost: cost_qlinear_concat,
        formula: "dequantize every input (mul = numel(X_i), add = numel(X_i) with its zero \
                  point); quantize Y (div = special = numel(Y), cmp = 2·numel(Y), \
                  add = numel(Y))",
    }
}

// ---- QLinearSoftmax --------------------------------------------------------------------------

/// The rows of the softmax, with the semantics of the Softmax opset given by the `opset`
/// attribute (before 13: the input coerced to 2-D at `axis`, default 1; from 13: one axis,
/// default −1).
fn qlinear_softmax_rows(x: &TensorType, opset: i64, axis: Option<i64>) -> Result<Dim, OpError> {
    softmax_rows_of(x, opset < 13, axis)
}

fn infer_qlinear_softmax(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    qlinear_softmax_rows(x, cx.req_attr("opset")?, cx.attr("axis")?)?;
    cx.set(0, x.clone());
    Ok(())
}

fn cost_qlinear_softmax(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let n = x.numel();
    let rows = qlinear_softmax_rows(x, cx.req_attr("opset")?, cx.attr("axis")?)?;
    let mut cost = dequantize_cost(&n, cx.has_input(2));
    cost += &softmax_cost(&n, &rows);
    cost += &quantize_cost(&n, cx.has_input(4));
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QLinearSoftmax",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant],
        infer: infer_qlinear_softmax,
        cost: cost_qlinear_softmax,
        formula: "n = numel(X): dequantize (mul = n, add = n with x_zero_point); Softmax's \
                  special = n, add = n − rows, div = n (rows by the `opset` attribute's \
                  semantics); quantize (div = special = n, cmp = 2n, add = n with y_zero_point)",
    }
}

// ---- QuantizeLinear, DequantizeLinear --------------------------------------------------------

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "QuantizeLinear",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant, Role::Quant],
        infer: infer_quantize,
        cost: cost_quantize,
        formula: "as ONNX's: div = n, special = n (round), cmp = 2n (saturate), add = n with a \
                  zero point; n = numel(x)",
    }
}

inventory::submit! {
    OpDef {
        domain: MS,
        op_type: "DequantizeLinear",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Quant, Role::Quant],
        infer: infer_dequantize,
        cost: cost_dequantize,
        formula: "as ONNX's: mul = n, add = n with a zero point; n = numel(x)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, Outcome, t};

    fn nbits(a: &[i64]) -> Case {
        Case::ms("MatMulNBits")
            .input(t("float32", a))
            .weight(t("uint8", &[16, 2, 16]))
            .weight(t("float32", &[16, 2]))
            .int("K", 64)
            .int("N", 16)
            .int("bits", 4)
            .int("block_size", 32)
    }

    #[test]
    fn matmul_nbits_counts_the_dense_matmul() {
        let r = nbits(&[2, 3, 64]).run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 16]".into(), DType::Float32)
        );
        // The MatMul it replaces: 6 rows × N 16 × K 64.
        assert_eq!(r.macs(), 6 * 16 * 64);
        // Dequantizing the 64×16 weight once: (q − zero_point)·scale.
        assert_eq!(r.kinds(), (1024, 1024, 0, 0, 0));
        // B holds K·N = 64·16 = 1024 4-bit weights in 16·2·16 = 512 bytes: params count the
        // weights; the scales are quantization parameters.
        assert_eq!(r.params(), 1024);
        let r = nbits(&[3, 64])
            .weight(t("uint8", &[16, 1]))
            .absent()
            .weight(t("float32", &[16]))
            .run();
        assert_eq!(r.shape(0), "[3, 16]");
        assert_eq!(r.kinds(), (1024 + 3 * 16, 1024, 0, 0, 0), "and the bias");
        assert_eq!(r.params(), 1024 + 16);
        let r = Case::ms("MatMulNBits")
            .input_sym("float32", &["b", "s", "64"])
            .weight(t("uint8", &[16, 2, 16]))
            .weight(t("float32", &[16, 2]))
            .int("K", 64)
            .int("N", 16)
            .int("block_size", 32)
            .run();
        assert_eq!(r.shape(0), "[b, s, 16]");
        assert_eq!(r.macs_expr(), "1024*b*s");
    }

    #[test]
    fn matmul_nbits_checks_k_and_the_packing() {
        let err = nbits(&[2, 60]).run_err();
        assert!(err.contains("K is 64"), "{err}");
        let err = Case::ms("MatMulNBits")
            .input(t("float32", &[2, 64]))
            .weight(t("uint8", &[16, 4, 16]))
            .weight(t("float32", &[16, 2]))
            .int("K", 64)
            .int("N", 16)
            .int("block_size", 32)
            .run_err();
        assert!(err.contains("[16, 2, 16]"), "{err}");
        // K not a multiple of block_size: one padded block.
        let r = Case::ms("MatMulNBits")
            .input(t("float32", &[3, 48]))
            .weight(t("uint8", &[16, 2, 16]))
            .weight(t("float32", &[16, 2]))
            .int("K", 48)
            .int("N", 16)
            .int("block_size", 32)
            .run();
        assert_eq!(r.macs(), 3 * 16 * 48);
        assert_eq!(r.flops_mul(), 48 * 16);
    }

    #[test]
    fn matmul_integer_to_float_by_hand() {
        let r = Case::ms("MatMulIntegerToFloat")
            .input(t("uint8", &[2, 3, 4]))
            .weight(t("int8", &[4, 5]))
            .weight(t("float32", &[]))
            .weight(t("float32", &[5]))
            .weight(t("uint8", &[]))
            .weight(t("int8", &[5]))
            .weight(t("float32", &[5]))
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 5]".into(), DType::Float32)
        );
        let y = 30;
        assert_eq!(r.macs(), y * 4);
        // Zero points (24 + 20 adds), bias (30 adds); rescale (30 mul) by a_scale·b_scale
        // (5 mul).
        assert_eq!(r.kinds(), (24 + 20 + y, y + 5, 0, 0, 0));
        assert_eq!(r.params(), 20 + 5);
    }

    #[test]
    fn dynamic_quantize_matmul_by_hand() {
        let r = Case::ms("DynamicQuantizeMatMul")
            .input(t("float32", &[2, 3, 4]))
            .weight(t("int8", &[4, 5]))
            .weight(t("float32", &[5]))
            .weight(t("int8", &[5]))
            .weight(t("float32", &[5]))
            .run();
        assert_eq!(
            (r.shape(0), r.dtype(0)),
            ("[2, 3, 5]".into(), DType::Float32)
        );
        let (n, y) = (24, 30);
        assert_eq!(r.macs(), y * 4);
        // Quantizing A: min, max (2(n − 1) cmp), include 0 (2), saturate the zero point (2)
        // and every element (2n); range and zero point (2 adds), + zero point (n); scale,
        // min/scale, x/scale (n + 2 div); round (n + 1). Then A's and B's zero points
        // (24 + 20 adds), the bias (30 adds), the rescale (30 + 5 mul).
        assert_eq!(
            r.kinds(),
            (n + 2 + 24 + 20 + y, y + 5, n + 2, 4 * n + 2, n + 1)
        );
    }

    #[test]
    fn qgemm_float_and_quantized_outputs() {
        let r = Case::ms("QGemm")
            .input(t("uint8", &[3, 4]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("int8", &[5, 4]))
            .weight(t("float32", &[]))
            .weight(t("int8", &[]))
            .weight(t("int32", &[5]))
            .int("transB", 1)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[3, 5]".into(), DType::Float32));
        let y = 15;
        assert_eq!(r.macs(), y * 4);
        // Zero points (12 + 20), C (15); rescale (15) and the scale product (1).
        assert_eq!(r.kinds(), (12 + 20 + y, y + 1, 0, 0, 0));
        let r = Case::ms("QGemm")
            .input(t("uint8", &[3, 4]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("uint8", &[4, 5]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .absent()
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Uint8);
        // Requantized: the multiplier's division by y_scale, round, + y_zero_point, saturate.
        assert_eq!(r.kinds(), (12 + 20 + y, y + 1, 1, 2 * y, y));
    }

    fn qlinear_binary(op: &str) -> Outcome {
        Case::ms(op)
            .input(t("uint8", &[2, 3, 4]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("uint8", &[4]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .run()
    }

    #[test]
    fn qlinear_add_and_mul_by_hand() {
        // Dequantize A (24) and B (4): subtract the zero point, scale. The op on 24 outputs.
        // Quantize C: divide, round, + zero point, saturate twice.
        let r = qlinear_binary("QLinearAdd");
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3, 4]".into(), DType::Uint8));
        assert_eq!(r.kinds(), (24 + 4 + 24 + 24, 24 + 4, 24, 48, 24));
        assert_eq!(r.params(), 4, "a quantized constant operand is a weight");
        let r = qlinear_binary("QLinearMul");
        assert_eq!(r.kinds(), (24 + 4 + 24, 24 + 4 + 24, 24, 48, 24));
    }

    fn qlinear_unary(op: &str, x: &[i64]) -> Case {
        Case::ms(op)
            .input(t("uint8", x))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
    }

    #[test]
    fn qlinear_activations_by_hand() {
        let n = 6;
        // Dequantize (add, mul), the float op, quantize (div, round, add, 2 cmp).
        let r = qlinear_unary("QLinearSigmoid", &[2, 3]).run();
        assert_eq!(r.shape(0), "[2, 3]");
        // Sigmoid 1/(1 + exp(−x)): exp, +1, 1/·.
        assert_eq!(r.kinds(), (n + n + n, n, n + n, 2 * n, n + n));
        let r = qlinear_unary("QLinearLeakyRelu", &[2, 3])
            .float("alpha", 0.1)
            .run();
        // LeakyRelu: test, α·x.
        assert_eq!(r.kinds(), (n + n, n + n, n, n + 2 * n, n));
    }

    #[test]
    fn qlinear_pools_by_hand() {
        let r = qlinear_unary("QLinearAveragePool", &[1, 3, 8, 8])
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .run();
        assert_eq!(r.shape(0), "[1, 3, 3, 3]");
        let (x, y) = (192, 27);
        // Dequantize 192 inputs; 27 means of 9 (8 adds, 1 div each); quantize 27 outputs.
        assert_eq!(r.kinds(), (x + 8 * y + y, x, y + y, 2 * y, y));
        let r = qlinear_unary("QLinearAveragePool", &[1, 8, 8, 3])
            .ints("kernel_shape", &[3, 3])
            .ints("strides", &[2, 2])
            .ints("pads", &[1, 1, 1, 1])
            .int("channels_last", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 4, 4, 3]");
        let r = qlinear_unary("QLinearGlobalAveragePool", &[1, 3, 8, 8]).run();
        assert_eq!(r.shape(0), "[1, 3, 1, 1]");
        // 3 means of 64 (63 adds, 1 div each).
        let c = 3;
        assert_eq!(r.kinds(), (x + 63 * c + c, x, c + c, 2 * c, c));
        let r = qlinear_unary("QLinearGlobalAveragePool", &[1, 8, 8, 3])
            .int("channels_last", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 1, 1, 3]");
        assert_eq!(r.kinds(), (x + 63 * c + c, x, c + c, 2 * c, c));
    }

    #[test]
    fn qlinear_concat_by_hand() {
        let r = Case::ms("QLinearConcat")
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .input(t("uint8", &[2, 3]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .input(t("uint8", &[2, 5]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .int("axis", -1)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 8]".into(), DType::Uint8));
        // Dequantize 6 + 10 inputs, quantize 16 outputs.
        assert_eq!(r.kinds(), (16 + 16, 16, 16, 32, 16));
        let err = Case::ms("QLinearConcat")
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .input(t("uint8", &[2, 3]))
            .weight(t("float32", &[]))
            .int("axis", 1)
            .run_err();
        assert!(err.contains("triples"), "{err}");
    }

    #[test]
    fn qlinear_softmax_by_hand() {
        let n = 24;
        // Opset-13 semantics: rows along the last axis (6 rows of 4).
        let r = qlinear_unary("QLinearSoftmax", &[2, 3, 4])
            .int("opset", 13)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        assert_eq!(r.kinds(), (n + (n - 6) + n, n, n + n, 2 * n, n + n));
        // Opset-12 semantics, axis 1: 2 rows of 12.
        let r = qlinear_unary("QLinearSoftmax", &[2, 3, 4])
            .int("opset", 12)
            .int("axis", 1)
            .run();
        assert_eq!(r.flops_add(), n + (n - 2) + n);
    }

    #[test]
    fn contrib_quantize_and_dequantize() {
        let r = Case::ms("QuantizeLinear")
            .input(t("float32", &[2, 3]))
            .weight(t("float32", &[3]))
            .weight(t("int8", &[3]))
            .int("axis", 1)
            .run();
        assert_eq!(r.dtype(0), DType::Int8);
        assert_eq!(r.kinds(), (6, 0, 6, 12, 6));
        let r = Case::ms("DequantizeLinear")
            .input(t("int8", &[2, 3]))
            .weight(t("float16", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Float16);
        assert_eq!(r.kinds(), (0, 6, 0, 0, 0));
    }
}
