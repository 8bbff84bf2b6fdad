//! Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, and the integer
//! matrix products MatMulInteger and QLinearMatMul.
//!
//! Scales and zero points are quantization parameters ([`Role::Quant`]), a bucket of their
//! own. The operands of the integer matrix products are [`Role::Weight`]: a constant operand
//! there is a quantized learned weight, a param like a float one (a plain `Data` role would
//! class an integer constant as a constant).

use flopscope_ir::{DType, Dim, TensorType};

use super::matmul::matmul_shape;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid};

/// An element type from an `output_dtype` attribute (0 = not given).
fn output_dtype(cx: &InferCtx<'_>) -> Result<Option<DType>, OpError> {
    let code = cx.attr_or("output_dtype", 0i64)?;
    if code == 0 {
        return Ok(None);
    }
    match i32::try_from(code).ok().and_then(DType::from_code) {
        Some(d) => Ok(Some(d)),
        None => invalid!("output_dtype {code} is not an element type"),
    }
}

/// Whether two dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// Checks the scale's shape against X for the three granularities: per tensor (a scalar or
/// one element), per axis (1-D of X[axis]), blocked (`block_size` > 0: X's shape with
/// X[axis] replaced by ceil(X[axis] / block_size)). Zero points must have the scale's shape.
fn check_granularity(cx: &InferCtx<'_>, x: &TensorType) -> Result<(), OpError> {
    let scale = cx.tensor(1)?;
    let one = |t: &TensorType| t.rank() == 0 || (t.rank() == 1 && t.shape[0].as_i64() == Some(1));
    let per_tensor = one(scale);
    if let Some(zp) = cx.opt_tensor(2)?
        && !(per_tensor && one(zp))
        && (zp.rank() != scale.rank()
            || zp.shape.iter().zip(&scale.shape).any(|(a, b)| differ(a, b)))
    {
        return invalid!("zero point {} and scale {} differ in shape", zp, scale);
    }
    let block = cx.attr_or("block_size", 0i64)?;
    if per_tensor && block <= 0 {
        return Ok(());
    }
    if x.rank() == 0 {
        return invalid!("scale {} is not per-tensor but X is a scalar", scale);
    }
    // A 1-D input has one axis to quantize along, whatever the (default 1) attribute says.
    let axis = if x.rank() == 1 {
        0
    } else {
        crate::normalize_axis(cx.attr_or("axis", 1i64)?, x.rank())?
    };
    if block > 0 {
        let bad_rank = scale.rank() != x.rank();
        let bad_dim = |i: usize| {
            if i == axis {
                x.shape[i]
                    .ceil_div(block)
                    .map_or(true, |b| differ(&b, &scale.shape[i]))
            } else {
                differ(&x.shape[i], &scale.shape[i])
            }
        };
        if bad_rank || (0..x.rank()).any(bad_dim) {
            return invalid!(
                "blocked scale {} does not fit X {} with block_size {block} on axis {axis}",
                scale,
                x
            );
        }
        return Ok(());
    }
    if scale.rank() != 1 || differ(&scale.shape[0], &x.shape[axis]) {
        return invalid!(
            "per-axis scale {} does not fit X {} on axis {axis}",
            scale,
            x
        );
    }
    Ok(())
}

// ---- QuantizeLinear, DequantizeLinear --------------------------------------------------------

/// y has x's shape, in `output_dtype`, else the zero point's type, else uint8.
pub(super) fn infer_quantize(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    check_granularity(cx, &x)?;
    let dtype = match (output_dtype(cx)?, cx.opt_tensor(2)?) {
        (Some(d), Some(zp)) if d != zp.dtype => {
            return invalid!(
                "output_dtype {} differs from the zero point's {}",
                d.name(),
                zp.dtype.name()
            );
        }
        (Some(d), _) => d,
        (None, Some(zp)) => zp.dtype,
        (None, None) => DType::Uint8,
    };
    cx.set(0, TensorType::new(dtype, x.shape));
    Ok(())
}

/// `y = saturate(round(x / scale) + zero_point)`: div, round (special), the zero point's add
/// when one is given, and two comparisons to saturate, per element.
pub(super) fn cost_quantize(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(quantize_cost(&cx.tensor(0)?.numel(), cx.has_input(2)))
}

/// [`cost_quantize`] of `n` elements, with or without a zero point.
pub(super) fn quantize_cost(n: &Dim, zero_point: bool) -> Cost {
    let add = if zero_point { n.clone() } else { Dim::zero() };
    Cost::zero()
        .with_div(n.clone())
        .with_special(n.clone())
        .with_add(add)
        .with_cmp(n * 2)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "QuantizeLinear",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Quant, Role::Quant],
        infer: infer_quantize,
        cost: cost_quantize,
        formula: "div = n, special = n (round), cmp = 2n (saturate), add = n with a zero point; \
                  n = numel(x)",
    }
}

/// y has x's shape, in `output_dtype`, else the scale's type.
pub(super) fn infer_dequantize(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    check_granularity(cx, &x)?;
    let dtype = match output_dtype(cx)? {
        Some(d) => d,
        None => cx.tensor(1)?.dtype,
    };
    cx.set(0, TensorType::new(dtype, x.shape));
    Ok(())
}

/// `y = (x − zero_point)·scale`: the subtraction when a zero point is given, and the product.
pub(super) fn cost_dequantize(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(dequantize_cost(&cx.tensor(0)?.numel(), cx.has_input(2)))
}

/// [`cost_dequantize`] of `n` elements, with or without a zero point.
pub(super) fn dequantize_cost(n: &Dim, zero_point: bool) -> Cost {
    let add = if zero_point { n.clone() } else { Dim::zero() };
    Cost::zero().with_add(add).with_mul(n.clone())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DequantizeLinear",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data, Role::Quant, Role::Quant],
        infer: infer_dequantize,
        cost: cost_dequantize,
        formula: "mul = n, add = n with a zero point; n = numel(x)",
    }
}

// ---- DynamicQuantizeLinear -------------------------------------------------------------------

/// y: uint8 with x's shape; y_scale: float32 scalar; y_zero_point: uint8 scalar.
fn infer_dynamic_quantize(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    cx.set(0, TensorType::new(DType::Uint8, x.shape));
    cx.set(1, TensorType::scalar(DType::Float32));
    cx.set(2, TensorType::scalar(DType::Uint8));
    Ok(())
}

/// min and max of x (cmp 2(n − 1)), widened to include 0 (cmp 2); scale = range / 255 (add 1,
/// div 1); zero point = round(saturate(0 − min/scale)) (div 1, add 1, cmp 2, special 1); then
/// quantize every element (div n, special n, add n, cmp 2n).
fn cost_dynamic_quantize(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(dynamic_quantize_cost(&cx.tensor(0)?.numel()))
}

/// [`cost_dynamic_quantize`] of `n` elements.
pub(super) fn dynamic_quantize_cost(n: &Dim) -> Cost {
    Cost::zero()
        .with_cmp(n * 4 + 2)
        .with_add(n + 2)
        .with_div(n + 2)
        .with_special(n + 1)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "DynamicQuantizeLinear",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data],
        infer: infer_dynamic_quantize,
        cost: cost_dynamic_quantize,
        formula: "cmp = 4n + 2 (min, max, saturations), add = n + 2, div = n + 2, \
                  special = n + 1 (round); n = numel(x)",
    }
}

// ---- MatMulInteger, QLinearMatMul ------------------------------------------------------------

/// `(A − a_zero_point)·(B − b_zero_point)` in int32.
fn infer_matmul_integer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (shape, _) = matmul_shape(cx.tensor(0)?, cx.tensor(1)?)?;
    cx.set(0, TensorType::new(DType::Int32, shape));
    Ok(())
}

/// `macs = numel(Y)·K`; each zero point given subtracts from every element of its operand.
fn cost_matmul_integer(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(1)?);
    let (shape, k) = matmul_shape(a, b)?;
    let mut cost = Cost::macs(crate::product(&shape) * k);
    if cx.has_input(2) {
        cost = cost.with_add(a.numel());
    }
    if cx.has_input(3) {
        cost = cost.with_add(b.numel());
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "MatMulInteger",
        class: OpClass::Matmul,
        opsets: Opsets::since(10),
        roles: &[Role::Weight, Role::Weight, Role::Quant, Role::Quant],
        infer: infer_matmul_integer,
        cost: cost_matmul_integer,
        formula: "macs = numel(Y)·K (int32); add = numel(A) with a_zero_point, numel(B) with \
                  b_zero_point",
    }
}

/// Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point; Y has
/// the matmul shape in y_zero_point's type.
fn infer_qlinear_matmul(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (shape, _) = matmul_shape(cx.tensor(0)?, cx.tensor(3)?)?;
    let dtype = cx.tensor(7)?.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// The integer product (`macs = numel(Y)·K`) of the operands less their zero points (add
/// numel(A) + numel(B)), then requantization per output: the combined multiplier (mul), round
/// (special), + y_zero_point (add), saturate (cmp 2); the multiplier a_scale·b_scale/y_scale
/// itself is a mul and a div per element of the broadcast scales.
fn cost_qlinear_matmul(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (a, b) = (cx.tensor(0)?, cx.tensor(3)?);
    let (shape, k) = matmul_shape(a, b)?;
    let y = crate::product(&shape);
    let scales = broadcast(&[
        &cx.tensor(1)?.shape,
        &cx.tensor(4)?.shape,
        &cx.tensor(6)?.shape,
    ])?;
    let s = crate::product(&scales);
    Ok(Cost::macs(&y * k)
        .with_add(a.numel() + b.numel() + &y)
        .with_mul(&y + &s)
        .with_div(s)
        .with_special(y.clone())
        .with_cmp(y * 2))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "QLinearMatMul",
        class: OpClass::Matmul,
        opsets: Opsets::since(10),
        roles: &[
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Weight,
            Role::Quant,
            Role::Quant,
            Role::Quant,
            Role::Quant,
        ],
        infer: infer_qlinear_matmul,
        cost: cost_qlinear_matmul,
        formula: "macs = numel(Y)·K; add = numel(A) + numel(B) + numel(Y) (zero points), \
                  mul = numel(Y) + s, div = s (multiplier a_scale·b_scale/y_scale, s its elements), \
                  special = numel(Y) (round), cmp = 2·numel(Y) (saturate)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    #[test]
    fn quantize_types_and_cost() {
        // Per-axis int8 with a zero point.
        let r = Case::new("QuantizeLinear")
            .opset(13)
            .input(t("float32", &[2, 3, 4]))
            .weight(t("float32", &[3]))
            .weight(t("int8", &[3]))
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        assert_eq!(r.dtype(0), DType::Int8);
        let n = 24;
        assert_eq!(
            (
                r.flops_div(),
                r.flops_special(),
                r.flops_add(),
                r.flops_cmp()
            ),
            (n, n, n, 2 * n)
        );
        assert_eq!(r.params(), 0, "scales and zero points are settings");
        // No zero point: uint8, no add.
        let r = Case::new("QuantizeLinear")
            .input(t("float32", &[2, 3]))
            .weight(t("float32", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Uint8);
        assert_eq!(r.flops_add(), 0);
        // output_dtype (opset 21), blocked.
        let r = Case::new("QuantizeLinear")
            .opset(21)
            .input(t("float32", &[4, 6]))
            .weight(t("float32", &[4, 3]))
            .int("axis", 1)
            .int("block_size", 2)
            .int("output_dtype", 3)
            .run();
        assert_eq!(r.dtype(0), DType::Int8);
        let err = Case::new("QuantizeLinear")
            .opset(21)
            .input(t("float32", &[4, 6]))
            .weight(t("float32", &[4, 2]))
            .int("block_size", 2)
            .run_err();
        assert!(err.contains("block_size 2"), "{err}");
        let err = Case::new("QuantizeLinear")
            .input(t("float32", &[4, 6]))
            .weight(t("float32", &[4]))
            .run_err();
        assert!(err.contains("per-axis"), "{err}");
    }

    #[test]
    fn dequantize_types_and_cost() {
        let r = Case::new("DequantizeLinear")
            .input(t("int8", &[5, 7]))
            .weight(t("float16", &[]))
            .weight(t("int8", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Float16);
        assert_eq!((r.flops_add(), r.flops_mul()), (35, 35));
        let r = Case::new("DequantizeLinear")
            .input(t("int32", &[5, 7]))
            .weight(t("float32", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Float32);
        assert_eq!((r.flops_add(), r.flops_mul()), (0, 35));
    }

    #[test]
    fn per_channel_bias_of_rank_one() {
        // A QDQ model's int32 bias: 1-D, per-channel scale, default axis.
        let r = Case::new("DequantizeLinear")
            .opset(13)
            .input(t("int32", &[16]))
            .weight(t("float32", &[16]))
            .run();
        assert_eq!(r.shape(0), "[16]");
        assert_eq!(r.flops_mul(), 16);
    }

    #[test]
    fn dynamic_quantize_by_hand() {
        let r = Case::new("DynamicQuantizeLinear")
            .input(t("float32", &[3, 4]))
            .outputs(3)
            .run();
        assert_eq!(r.shape(0), "[3, 4]");
        assert_eq!(r.dtype(0), DType::Uint8);
        assert_eq!(r.shape(1), "[]");
        assert_eq!(r.dtype(1), DType::Float32);
        assert_eq!(r.dtype(2), DType::Uint8);
        let n = 12;
        // min, max: 2(n − 1); include 0: 2; saturate the zero point: 2; saturate y: 2n.
        assert_eq!(r.flops_cmp(), 2 * (n - 1) + 2 + 2 + 2 * n);
        // range, zero point, and the zero point added to every element.
        assert_eq!(r.flops_add(), 1 + 1 + n);
        // scale, min/scale, x/scale.
        assert_eq!(r.flops_div(), 1 + 1 + n);
        assert_eq!(r.flops_special(), 1 + n);
    }

    #[test]
    fn matmul_integer_by_hand() {
        let r = Case::new("MatMulInteger")
            .input(t("uint8", &[2, 8, 16]))
            .weight(t("int8", &[16, 4]))
            .weight(t("uint8", &[]))
            .run();
        assert_eq!(r.shape(0), "[2, 8, 4]");
        assert_eq!(r.dtype(0), DType::Int32);
        assert_eq!(r.macs(), 2 * 8 * 4 * 16);
        assert_eq!(r.flops_add(), 2 * 8 * 16, "a_zero_point only");
        assert_eq!(r.params(), 16 * 4, "the int8 weight is a param");
    }

    #[test]
    fn qlinear_matmul_by_hand() {
        let r = Case::new("QLinearMatMul")
            .input(t("uint8", &[3, 8]))
            .weight(t("float32", &[]))
            .weight(t("uint8", &[]))
            .weight(t("int8", &[8, 5]))
            .weight(t("float32", &[5]))
            .weight(t("int8", &[5]))
            .weight(t("float32", &[]))
            .weight(t("int8", &[]))
            .run();
        assert_eq!(r.shape(0), "[3, 5]");
        assert_eq!(r.dtype(0), DType::Int8);
        let y = 15;
        assert_eq!(r.macs(), y * 8);
        assert_eq!(r.flops_add(), 24 + 40 + y);
        assert_eq!(
            r.flops_mul(),
            y + 5,
            "rescale, and the per-column multiplier"
        );
        assert_eq!(r.flops_div(), 5);
        assert_eq!((r.flops_special(), r.flops_cmp()), (y, 2 * y));
        assert_eq!(r.params(), 40);
    }
}
