//! Elementwise ops: activations, clipping and broadcasting arithmetic.
//!
//! One FLOP per output element per elementary operation, in its bucket (DESIGN.md). Integer
//! arithmetic on small known tensors (shape computations) is folded.

use flopscope_ir::{Dim, Elements, TensorType, TensorValue};

use super::same_as_input;
use crate::{
    Cost, CostCtx, InferCtx, MAX_FOLDED_ELEMENTS, OpDef, OpError, Opsets, Role, broadcast,
};

/// Elements of output 0.
fn out_numel(cx: &CostCtx<'_>) -> Result<Dim, OpError> {
    Ok(cx.req_output(0)?.numel())
}

// ---- unary -----------------------------------------------------------------------------------

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Relu",
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: same_as_input,
        cost: |cx| Ok(Cost::zero().with_cmp(out_numel(cx)?)),
        formula: "cmp = numel(Y)",
    }
}

/// Clip before opset 11: bounds are the `min` / `max` attributes.
fn cost_clip_attrs(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let bounds = [cx.attr::<f32>("min")?, cx.attr::<f32>("max")?];
    let given = bounds.iter().filter(|b| b.is_some()).count() as i64;
    Ok(Cost::zero().with_cmp(out_numel(cx)? * given))
}

/// Clip from opset 11: bounds are optional inputs 1 and 2.
fn cost_clip_inputs(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let given = (1..=2).filter(|&i| cx.has_input(i)).count() as i64;
    Ok(Cost::zero().with_cmp(out_numel(cx)? * given))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Clip",
        opsets: Opsets::range(1, 10),
        roles: &[Role::Data],
        infer: same_as_input,
        cost: cost_clip_attrs,
        formula: "cmp = numel(Y) per bound given (min, max attributes)",
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Clip",
        opsets: Opsets::since(11),
        roles: &[Role::Data, Role::Config, Role::Config],
        infer: same_as_input,
        cost: cost_clip_inputs,
        formula: "cmp = numel(Y) per bound given (min, max inputs)",
    }
}

// ---- binary and variadic arithmetic ----------------------------------------------------------

/// The output shape of a broadcasting op over all its inputs. Before opset 7 the arithmetic
/// ops broadcast only B onto A (the `broadcast` / `axis` attributes), so Y has A's shape.
fn broadcast_shape(cx: &InferCtx<'_>) -> Result<TensorType, OpError> {
    let first = cx.tensor(0)?;
    let legacy =
        cx.opset() < 7 && matches!(cx.node().op_type.as_str(), "Add" | "Sub" | "Mul" | "Div");
    if legacy {
        return Ok(first.clone());
    }
    let mut shapes = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        shapes.push(cx.tensor(i)?.shape.as_slice());
    }
    Ok(TensorType::new(first.dtype, broadcast(&shapes)?))
}

/// Infers a broadcasting arithmetic op, folding integer elements when all inputs are known.
fn infer_arith(cx: &mut InferCtx<'_>, fold: fn(&Dim, &Dim) -> Option<Dim>) -> Result<(), OpError> {
    let ty = broadcast_shape(cx)?;
    if ty.dtype.is_integer()
        && let Some(value) = fold_ints(cx, &ty, fold)?
    {
        cx.set_value(0, value);
        return Ok(());
    }
    cx.set(0, ty);
    Ok(())
}

/// Folds a left-to-right reduction of the inputs' integer elements, when every input is
/// known and each has either one element or as many as the output.
fn fold_ints(
    cx: &InferCtx<'_>,
    ty: &TensorType,
    fold: fn(&Dim, &Dim) -> Option<Dim>,
) -> Result<Option<TensorValue>, OpError> {
    let Some(shape) = ty
        .shape
        .iter()
        .map(|d| d.as_i64().and_then(|v| usize::try_from(v).ok()))
        .collect::<Option<Vec<usize>>>()
    else {
        return Ok(None);
    };
    let len: usize = shape.iter().product();
    if len as u64 > MAX_FOLDED_ELEMENTS {
        return Ok(None);
    }
    let mut acc: Option<Vec<Dim>> = None;
    for i in 0..cx.input_count() {
        let Some(ints) = cx.ints(i)? else {
            return Ok(None);
        };
        let spread = match ints.len() {
            1 => vec![ints[0].clone(); len],
            n if n == len => ints.to_vec(),
            _ => return Ok(None),
        };
        acc = Some(match acc {
            None => spread,
            Some(prev) => {
                let mut out = Vec::with_capacity(len);
                for (a, b) in prev.iter().zip(&spread) {
                    match fold(a, b) {
                        Some(v) => out.push(v),
                        None => return Ok(None),
                    }
                }
                out
            }
        });
    }
    Ok(acc.map(|data| TensorValue {
        dtype: ty.dtype,
        shape,
        data: Elements::Int(data),
    }))
}

/// Integer division as ONNX defines it for integer tensors (truncation toward zero), folded
/// only where the result is exact or both sides are non-negative constants.
fn fold_div(a: &Dim, b: &Dim) -> Option<Dim> {
    if let Some(q) = a.div_exact(b) {
        return Some(q);
    }
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) if y != 0 => x.checked_div(y).map(Dim::from_i64),
        (None, Some(y)) if y > 0 => a.floor_div(y).ok(),
        _ => None,
    }
}

/// Each output element combines `inputs − 1` pairs.
fn pairwise(cx: &CostCtx<'_>) -> Result<Dim, OpError> {
    let inputs = (0..cx.input_count()).filter(|&i| cx.has_input(i)).count() as i64;
    Ok(out_numel(cx)? * (inputs - 1).max(0))
}

macro_rules! arithmetic {
    ($op:literal, $roles:expr, $fold:expr, $cost:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                opsets: Opsets::since(1),
                roles: $roles,
                infer: |cx| infer_arith(cx, $fold),
                cost: $cost,
                formula: $formula,
            }
        }
    };
}

arithmetic!(
    "Add",
    &[Role::Data],
    |a, b| Some(a + b),
    |cx| Ok(Cost::zero().with_add(out_numel(cx)?)),
    "add = numel(Y)"
);
arithmetic!(
    "Sub",
    &[Role::Data],
    |a, b| Some(a - b),
    |cx| Ok(Cost::zero().with_add(out_numel(cx)?)),
    "add = numel(Y)"
);
arithmetic!(
    "Mul",
    &[Role::Data],
    |a, b| Some(a * b),
    |cx| Ok(Cost::zero().with_mul(out_numel(cx)?)),
    "mul = numel(Y)"
);
arithmetic!(
    "Div",
    &[Role::Data],
    fold_div,
    |cx| Ok(Cost::zero().with_div(out_numel(cx)?)),
    "div = numel(Y)"
);
arithmetic!(
    "Sum",
    &[Role::Data],
    |a, b| Some(a + b),
    |cx| Ok(Cost::zero().with_add(pairwise(cx)?)),
    "add = (inputs − 1)·numel(Y)"
);
arithmetic!(
    "Max",
    &[Role::Data],
    |a, b| Some(a.max(b)),
    |cx| Ok(Cost::zero().with_cmp(pairwise(cx)?)),
    "cmp = (inputs − 1)·numel(Y)"
);
arithmetic!(
    "Min",
    &[Role::Data],
    |a, b| Some(a.min(b)),
    |cx| Ok(Cost::zero().with_cmp(pairwise(cx)?)),
    "cmp = (inputs − 1)·numel(Y)"
);

fn cost_mean(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    Ok(Cost::zero()
        .with_add(pairwise(cx)?)
        .with_div(out_numel(cx)?))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Mean",
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let ty = broadcast_shape(cx)?;
            cx.set(0, ty);
            Ok(())
        },
        cost: cost_mean,
        formula: "add = (inputs − 1)·numel(Y); div = numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    #[test]
    fn relu_and_clip_count_comparisons() {
        let r = Case::new("Relu").input(t("float32", &[2, 3, 4])).run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        assert_eq!(r.flops_cmp(), 24);

        // Opset 11+: ReLU6 as Clip(x, 0, 6) with both bounds.
        let r = Case::new("Clip")
            .input(t("float32", &[1, 32, 112, 112]))
            .const_f32s(&[], &[0.0])
            .const_f32s(&[], &[6.0])
            .run();
        assert_eq!(r.flops_cmp(), 2 * 32 * 112 * 112);
        assert_eq!(r.params(), 0, "scalar bounds are constants");

        let r = Case::new("Clip")
            .input(t("float32", &[10]))
            .absent()
            .const_f32s(&[], &[6.0])
            .run();
        assert_eq!(r.flops_cmp(), 10);

        let r = Case::new("Clip")
            .opset(6)
            .input(t("float32", &[10]))
            .float("min", 0.0)
            .run();
        assert_eq!(r.flops_cmp(), 10);
    }

    #[test]
    fn broadcasting_arithmetic() {
        let r = Case::new("Add")
            .input(t("float32", &[1, 64, 56, 56]))
            .input(t("float32", &[64, 1, 1]))
            .run();
        assert_eq!(r.shape(0), "[1, 64, 56, 56]");
        assert_eq!(r.flops_add(), 64 * 56 * 56);

        let r = Case::new("Div")
            .input(t("float32", &[4, 5]))
            .input(t("float32", &[5]))
            .run();
        assert_eq!(r.flops_div(), 20);

        let r = Case::new("Sum")
            .input(t("float32", &[2, 8]))
            .input(t("float32", &[2, 8]))
            .input(t("float32", &[8]))
            .run();
        assert_eq!(r.flops_add(), 2 * 16);

        let r = Case::new("Sub")
            .input(t("float32", &[3, 1]))
            .input(t("float32", &[1, 5]))
            .run();
        assert_eq!(r.shape(0), "[3, 5]");
        assert_eq!(r.flops_add(), 15);

        // Variadic max/min: (inputs - 1) comparisons per output element.
        for op in ["Max", "Min"] {
            let r = Case::new(op)
                .input(t("float32", &[4, 6]))
                .input(t("float32", &[6]))
                .input(t("float32", &[4, 1]))
                .run();
            assert_eq!(r.shape(0), "[4, 6]");
            assert_eq!(r.flops_cmp(), 2 * 24, "{op}");
        }

        let r = Case::new("Mean")
            .input(t("float32", &[6]))
            .input(t("float32", &[6]))
            .run();
        assert_eq!((r.flops_add(), r.flops_div()), (6, 6));

        let err = Case::new("Mul")
            .input(t("float32", &[2, 3]))
            .input(t("float32", &[4]))
            .run_err();
        assert!(err.contains("cannot be broadcast"), "{err}");
    }

    #[test]
    fn legacy_broadcast_keeps_a_shape() {
        let r = Case::new("Mul")
            .opset(6)
            .input(t("float32", &[1, 64, 8, 8]))
            .weight(t("float32", &[64]))
            .int("broadcast", 1)
            .int("axis", 1)
            .run();
        assert_eq!(r.shape(0), "[1, 64, 8, 8]");
        assert_eq!(r.flops_mul(), 64 * 64);
        assert_eq!(r.params(), 64);
    }

    #[test]
    fn integer_arithmetic_on_known_values_folds() {
        let r = Case::new("Mul")
            .const_i64s(&[2], &[3, 4])
            .const_i64s(&[], &[5])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[15, 20]"));
        let r = Case::new("Div")
            .const_i64s(&[2], &[224, 7])
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[112, 3]"));
    }
}
