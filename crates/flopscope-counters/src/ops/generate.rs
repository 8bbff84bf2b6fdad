//! Generators: Range, EyeLike, the random ops (RandomNormal, RandomUniform, their `Like` forms,
//! Multinomial, Bernoulli). They compute no arithmetic on data that the profile counts: 0 FLOPs.
//! Range folds its elements when start, limit and delta are known.

use flopscope_ir::{DType, Dim, Elements, TensorType, TensorValue};

use super::fold::round_to;
use super::no_flops;
use crate::{InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// The element type named by the `dtype` attribute, or `default`.
fn dtype_attr(cx: &InferCtx<'_>, default: DType) -> Result<DType, OpError> {
    match cx.attr::<i64>("dtype")? {
        None => Ok(default),
        Some(code) => i32::try_from(code)
            .ok()
            .and_then(DType::from_code)
            .ok_or_else(|| OpError::Invalid(format!("`dtype` = {code} is not an element type"))),
    }
}

// ---- Range -----------------------------------------------------------------------------------

/// The single element of a scalar (or one-element) input, when known.
fn scalar_int(cx: &InferCtx<'_>, i: usize) -> Result<Option<Dim>, OpError> {
    Ok(cx.ints(i)?.and_then(|v| match v {
        [x] => Some(x.clone()),
        _ => None,
    }))
}

fn scalar_f64(cx: &InferCtx<'_>, i: usize) -> Result<Option<f64>, OpError> {
    Ok(cx
        .value(i)?
        .and_then(|v| v.as_f64s())
        .and_then(|v| match v[..] {
            [x] => Some(x),
            _ => None,
        }))
}

/// `Range`: `max(ceil((limit − start)/delta), 0)` elements `start + i·delta`; a fresh symbol
/// for the count when the bounds are not known.
fn infer_range(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let dtype = cx.tensor(0)?.dtype;
    for i in 0..3 {
        let t = cx.tensor(i)?;
        if t.rank() > 1 || t.numel().as_i64().is_some_and(|n| n != 1) {
            return invalid!("input {i} of Range must be a scalar, it is {t}");
        }
    }
    let ints = (scalar_int(cx, 0)?, scalar_int(cx, 1)?, scalar_int(cx, 2)?);
    if let (Some(start), Some(limit), Some(delta)) = ints
        && let Some(step) = delta.as_i64()
    {
        if step == 0 {
            return invalid!("Range delta is 0");
        }
        let span = if step > 0 {
            (&limit - &start).ceil_div(step)
        } else {
            (&start - &limit).ceil_div(step.saturating_neg())
        }
        .map_err(|e| OpError::Invalid(e.to_string()))?;
        let n = span.max(&Dim::zero());
        match n.as_i64() {
            Some(count) if (count as u64) <= MAX_FOLDED_ELEMENTS => {
                let values = (0..count).map(|i| &start + &(&delta * i)).collect();
                cx.set_value(0, TensorValue::ints(dtype, vec![count as usize], values));
            }
            _ => cx.set(0, TensorType::new(dtype, vec![n])),
        }
        return Ok(());
    }
    if dtype.is_float()
        && let (Some(start), Some(limit), Some(delta)) =
            (scalar_f64(cx, 0)?, scalar_f64(cx, 1)?, scalar_f64(cx, 2)?)
    {
        if delta == 0.0 {
            return invalid!("Range delta is 0");
        }
        // In the element type, as a runtime computes it.
        let round = |x: f64| round_to(dtype, x).unwrap_or(x);
        let n = round(round(limit - start) / delta).ceil().max(0.0);
        if !n.is_finite() || n > i64::MAX as f64 {
            return invalid!("Range({start}, {limit}, {delta}) has no finite length");
        }
        let count = n as i64;
        if (count as u64) <= MAX_FOLDED_ELEMENTS {
            let values = (0..count)
                .map(|i| round(start + round(i as f64 * delta)))
                .collect();
            cx.set_value(
                0,
                TensorValue {
                    dtype,
                    shape: vec![count as usize],
                    data: Elements::Float(values),
                },
            );
        } else {
            cx.set(0, TensorType::new(dtype, vec![Dim::from_i64(count)]));
        }
        return Ok(());
    }
    let n = cx.fresh_symbol("range");
    cx.set(0, TensorType::new(dtype, vec![n]));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Range",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Config],
        infer: infer_range,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

// ---- EyeLike ---------------------------------------------------------------------------------

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "EyeLike",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::ShapeOf],
        infer: |cx| {
            let x = cx.tensor(0)?;
            if x.rank() != 2 {
                return invalid!("EyeLike needs a 2-D input, X is {x}");
            }
            let ty = TensorType::new(dtype_attr(cx, x.dtype)?, x.shape.clone());
            cx.set(0, ty);
            Ok(())
        },
        cost: no_flops,
        formula: "0 (generator)",
    }
}

// ---- random ----------------------------------------------------------------------------------

/// RandomNormal, RandomUniform: shape from the `shape` attribute, float32 by default.
fn infer_random(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let shape = cx.req_attr::<&[i64]>("shape")?;
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return invalid!("shape {shape:?} has the negative dim {d}");
    }
    let shape = shape.iter().map(|&d| Dim::from_i64(d)).collect();
    let ty = TensorType::new(dtype_attr(cx, DType::Float32)?, shape);
    cx.set(0, ty);
    Ok(())
}

/// The `Like` forms and Bernoulli: input 0's shape, its type unless `dtype` says otherwise.
fn infer_random_like(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let ty = TensorType::new(dtype_attr(cx, x.dtype)?, x.shape.clone());
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RandomNormal",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[],
        infer: infer_random,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RandomUniform",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[],
        infer: infer_random,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RandomNormalLike",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::ShapeOf],
        infer: infer_random_like,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RandomUniformLike",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::ShapeOf],
        infer: infer_random_like,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Bernoulli",
        class: OpClass::Other,
        opsets: Opsets::since(15),
        roles: &[Role::Data],
        infer: infer_random_like,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

/// `Multinomial`: [batch, sample_size] samples of the class distributions in [batch, classes].
fn infer_multinomial(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    if x.rank() != 2 {
        return invalid!("Multinomial needs a 2-D input [batch, classes], X is {x}");
    }
    let samples = cx.attr_or("sample_size", 1i64)?;
    if samples < 1 {
        return invalid!("sample_size = {samples} must be positive");
    }
    let ty = TensorType::new(
        dtype_attr(cx, DType::Int32)?,
        vec![x.shape[0].clone(), Dim::from_i64(samples)],
    );
    cx.set(0, ty);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Multinomial",
        class: OpClass::Other,
        opsets: Opsets::since(7),
        roles: &[Role::Data],
        infer: infer_multinomial,
        cost: no_flops,
        formula: "0 (generator)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::DType;

    use crate::ops::testing::{Case, t};

    #[test]
    fn range_folds_known_bounds() {
        let r = Case::new("Range")
            .const_i64s(&[], &[10])
            .const_i64s(&[], &[4])
            .const_i64s(&[], &[-2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[10, 8, 6]"));
        let r = Case::new("Range")
            .const_i64s(&[], &[3])
            .const_i64s(&[], &[9])
            .const_i64s(&[], &[3])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[3, 6]"));
        let r = Case::new("Range")
            .const_i64s(&[], &[5])
            .const_i64s(&[], &[1])
            .const_i64s(&[], &[1])
            .run();
        assert_eq!(r.shape(0), "[0]");
        let r = Case::new("Range")
            .const_f32s(&[], &[1.0])
            .const_f32s(&[], &[2.0])
            .const_f32s(&[], &[0.25])
            .run();
        assert_eq!(r.shape(0), "[4]");
        assert_eq!(r.flops_add(), 0);
    }

    #[test]
    fn range_symbolic_and_unknown() {
        // Range(seq, 0, -1): start from a shape, seq elements.
        let r = Case::new("Shape")
            .input_sym("float32", &["seq"])
            .then("Squeeze")
            .const_i64s(&[1], &[0])
            .then("Range")
            .const_i64s(&[], &[0])
            .const_i64s(&[], &[-1])
            .run();
        assert_eq!(r.shape(0), "[seq]");
        // Range(seq, 0, -2): ceil(seq/2) elements.
        let r = Case::new("Shape")
            .input_sym("float32", &["seq"])
            .then("Squeeze")
            .const_i64s(&[1], &[0])
            .then("Range")
            .const_i64s(&[], &[0])
            .const_i64s(&[], &[-2])
            .run();
        assert_eq!(r.shape(0), "[ceil(seq/2)]");
        let r = Case::new("Range")
            .const_i64s(&[], &[0])
            .input(t("int64", &[]))
            .const_i64s(&[], &[1])
            .run();
        assert!(r.shape(0).contains("range"), "{}", r.shape(0));
    }

    #[test]
    fn random_and_eye() {
        let r = Case::new("RandomNormal")
            .ints("shape", &[2, 3])
            .int("dtype", 11)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3]".into(), DType::Float64));
        let r = Case::new("RandomUniformLike")
            .input(t("float16", &[4]))
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[4]".into(), DType::Float16));
        let r = Case::new("Multinomial")
            .input(t("float32", &[3, 10]))
            .int("sample_size", 5)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[3, 5]".into(), DType::Int32));
        let r = Case::new("EyeLike")
            .input(t("int32", &[3, 4]))
            .int("dtype", 1)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[3, 4]".into(), DType::Float32));
        let r = Case::new("Bernoulli").input(t("float32", &[2, 2])).run();
        assert_eq!((r.shape(0), r.flops_cmp()), ("[2, 2]".into(), 0));
    }
}
