//! Comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual), logic (And, Or, Xor,
//! Not), bitwise ops (BitwiseAnd, BitwiseOr, BitwiseXor, BitwiseNot, BitShift), IsNaN, IsInf
//! and Where.
//!
//! Every one costs `cmp` = one per output element (comparisons, logic, bitwise and select are
//! all `cmp`). Comparisons and logic output bool tensors. Known elements fold (as
//! 0/1 for bools), symbolically where they are dims: a comparison of a symbol with a constant
//! folds only when `Dim::compare` proves its outcome (`batch` ≠ −1 since symbols are ≥ 0),
//! which is what the shape sub-graphs of exported transformers need
//! (`Where(Equal(shape, −1), ones, shape)`).

use std::cmp::Ordering;

use flopscope_ir::{DType, Dim};

use super::elementwise::{broadcast_type, infer_broadcasting, infer_unary, per_element};
use super::fold::{Elem, Val, order, set_folded};
use crate::{InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// One `cmp` per output element.
const CMP: [i64; 5] = [0, 0, 0, 1, 0];

// ---- comparisons -----------------------------------------------------------------------------

/// Folds a comparison: `holds` says which orderings make it true; unordered (NaN) is false.
fn fold_compare(e: &[Elem<'_>], holds: fn(Ordering) -> bool) -> Option<Val> {
    let [a, b] = e else { return None };
    Some(Val::bool(order(*a, *b)?.is_some_and(holds)))
}

/// A comparison from opset `since` on: bool output over the broadcast shape. The operands are
/// `Role::Config`: a constant compared against is a threshold (like Clip's bounds), not a
/// learned weight, and a comparison's output does not carry a weight on.
macro_rules! comparison {
    ($class:ident, $op:literal, $since:literal, $holds:expr) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since($since),
                roles: &[Role::Config],
                infer: |cx| {
                    infer_broadcasting(cx, Some(DType::Bool), &|e: &[Elem<'_>]| {
                        fold_compare(e, $holds)
                    })
                },
                cost: |cx| per_element(cx, CMP),
                formula: "cmp = numel(C)",
            }
        }
    };
}

comparison!(Other, "Equal", 1, |o| o == Ordering::Equal);
comparison!(Other, "Less", 1, |o| o == Ordering::Less);
comparison!(Other, "Greater", 1, |o| o == Ordering::Greater);
comparison!(Other, "LessOrEqual", 12, |o| o != Ordering::Greater);
comparison!(Other, "GreaterOrEqual", 12, |o| o != Ordering::Less);

// ---- logic -----------------------------------------------------------------------------------

/// `And`: false as soon as one side is known false, even if the other is not known.
fn fold_and(e: &[Elem<'_>]) -> Option<Val> {
    let [a, b] = e else { return None };
    match (a.truth(), b.truth()) {
        (Some(false), _) | (_, Some(false)) => Some(Val::bool(false)),
        (Some(true), Some(true)) => Some(Val::bool(true)),
        _ => None,
    }
}

/// `Or`: true as soon as one side is known true.
fn fold_or(e: &[Elem<'_>]) -> Option<Val> {
    let [a, b] = e else { return None };
    match (a.truth(), b.truth()) {
        (Some(true), _) | (_, Some(true)) => Some(Val::bool(true)),
        (Some(false), Some(false)) => Some(Val::bool(false)),
        _ => None,
    }
}

fn fold_xor(e: &[Elem<'_>]) -> Option<Val> {
    let [a, b] = e else { return None };
    Some(Val::bool(a.truth()? != b.truth()?))
}

fn fold_not(e: &[Elem<'_>]) -> Option<Val> {
    Some(Val::bool(!e.first()?.truth()?))
}

macro_rules! logical {
    ($class:ident, $op:literal, $fold:expr) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since(1),
                roles: &[Role::Data],
                infer: |cx| infer_broadcasting(cx, Some(DType::Bool), &$fold),
                cost: |cx| per_element(cx, CMP),
                formula: "cmp = numel(C)",
            }
        }
    };
}

logical!(Other, "And", fold_and);
logical!(Other, "Or", fold_or);
logical!(Other, "Xor", fold_xor);

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Not",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| infer_unary(cx, Some(DType::Bool), Some(&fold_not)),
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(Y)",
    }
}

// ---- bitwise ---------------------------------------------------------------------------------

/// `v` stored in an integer type of `dtype`: wrapped to its width (two's complement for the
/// signed types); `None` when the result does not fit the i64 that elements are held in.
pub(super) fn wrap(v: i128, dtype: DType) -> Option<i64> {
    let bits = dtype.bits()?;
    if !dtype.is_integer() || bits > 64 {
        return None;
    }
    let signed = matches!(
        dtype,
        DType::Int2 | DType::Int4 | DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64
    );
    let low = v & ((1i128 << bits) - 1);
    let value = if signed && low >= 1i128 << (bits - 1) {
        low - (1i128 << bits)
    } else {
        low
    };
    i64::try_from(value).ok()
}

/// Constant integer elements combined with `f`, wrapped to the elements' type.
fn fold_bits(e: &[Elem<'_>], dtype: DType, f: fn(i128, i128) -> Option<i128>) -> Option<Val> {
    let [a, b] = e else { return None };
    let (a, b) = (a.int()?.as_i64()?, b.int()?.as_i64()?);
    let v = wrap(f(i128::from(a), i128::from(b))?, dtype)?;
    Some(Val::Int(Dim::from_i64(v)))
}

fn infer_bitwise(cx: &mut InferCtx<'_>, f: fn(i128, i128) -> Option<i128>) -> Result<(), OpError> {
    let dtype = cx.tensor(0)?.dtype;
    infer_broadcasting(cx, None, &move |e: &[Elem<'_>]| fold_bits(e, dtype, f))
}

macro_rules! bitwise {
    ($class:ident, $op:literal, $f:expr) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since(18),
                roles: &[Role::Data],
                infer: |cx| infer_bitwise(cx, $f),
                cost: |cx| per_element(cx, CMP),
                formula: "cmp = numel(C) (bitwise)",
            }
        }
    };
}

bitwise!(Other, "BitwiseAnd", |a, b| Some(a & b));
bitwise!(Other, "BitwiseOr", |a, b| Some(a | b));
bitwise!(Other, "BitwiseXor", |a, b| Some(a ^ b));

fn infer_bitwise_not(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let dtype = cx.tensor(0)?.dtype;
    let fold = move |e: &[Elem<'_>]| {
        let v = wrap(!i128::from(e.first()?.int()?.as_i64()?), dtype)?;
        Some(Val::Int(Dim::from_i64(v)))
    };
    infer_unary(cx, None, Some(&fold))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "BitwiseNot",
        class: OpClass::Other,
        opsets: Opsets::since(18),
        roles: &[Role::Data],
        infer: infer_bitwise_not,
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(Y) (bitwise)",
    }
}

fn infer_bitshift(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let left = match cx.req_attr::<&str>("direction")? {
        "LEFT" => true,
        "RIGHT" => false,
        other => return invalid!("`direction` = \"{other}\", expected \"LEFT\" or \"RIGHT\""),
    };
    let dtype = cx.tensor(0)?.dtype;
    let bits = i128::from(dtype.bits().unwrap_or(64));
    // A shift that is negative or not below the width shifts every bit out: 0, or the sign
    // for a right shift of a negative (signed) element.
    let shift = move |x: i128, s: i128| -> i128 {
        let s = if (0..bits).contains(&s) {
            s as u32
        } else {
            127
        };
        if left {
            if s >= 127 { 0 } else { x << s }
        } else {
            x >> s
        }
    };
    let fold = move |e: &[Elem<'_>]| {
        let [a, b] = e else { return None };
        let (a, b) = (a.int()?.as_i64()?, b.int()?.as_i64()?);
        let v = wrap(shift(i128::from(a), i128::from(b)), dtype)?;
        Some(Val::Int(Dim::from_i64(v)))
    };
    infer_broadcasting(cx, None, &fold)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "BitShift",
        class: OpClass::Other,
        opsets: Opsets::since(11),
        roles: &[Role::Data],
        infer: infer_bitshift,
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(Z) (bitwise)",
    }
}

// ---- IsNaN, IsInf ----------------------------------------------------------------------------

fn fold_is_nan(e: &[Elem<'_>]) -> Option<Val> {
    match e.first()? {
        Elem::Float(f) => Some(Val::bool(f.is_nan())),
        Elem::Int(_) => Some(Val::bool(false)),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "IsNaN",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Data],
        infer: |cx| infer_unary(cx, Some(DType::Bool), Some(&fold_is_nan)),
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(Y)",
    }
}

fn infer_is_inf(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let negative = cx.attr_or("detect_negative", 1i64)? != 0;
    let positive = cx.attr_or("detect_positive", 1i64)? != 0;
    let fold = move |e: &[Elem<'_>]| match e.first()? {
        Elem::Float(f) => Some(Val::bool(
            f.is_infinite() && if *f > 0.0 { positive } else { negative },
        )),
        Elem::Int(_) => Some(Val::bool(false)),
        Elem::Str(_) | Elem::Unknown => None,
    };
    infer_unary(cx, Some(DType::Bool), Some(&fold))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "IsInf",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data],
        infer: infer_is_inf,
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(Y)",
    }
}

// ---- Where -----------------------------------------------------------------------------------

/// `condition ? x : y`, when the condition is known and the chosen side is.
fn fold_where(e: &[Elem<'_>]) -> Option<Val> {
    let [c, x, y] = e else { return None };
    match if c.truth()? { x } else { y } {
        Elem::Int(d) => Some(Val::Int((*d).clone())),
        Elem::Float(f) => Some(Val::Float(*f)),
        Elem::Str(_) | Elem::Unknown => None,
    }
}

/// Where: the three inputs broadcast together; the output has X's element type. The condition
/// is `Role::Config` (a mask); X and Y are data.
fn infer_where(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let mut ty = broadcast_type(cx)?;
    ty.dtype = cx.tensor(1)?.dtype;
    set_folded(cx, ty, &[0, 1, 2], Some(&fold_where))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Where",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Config, Role::Data],
        infer: infer_where,
        cost: |cx| per_element(cx, CMP),
        formula: "cmp = numel(output) (select)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{DType, Dim};

    use super::{fold_and, fold_or, fold_where, wrap};
    use crate::ops::fold::{Elem, Val};
    use crate::ops::testing::{Case, t};

    #[test]
    fn comparisons_and_logic_give_bools_and_count_one_cmp() {
        for (op, opset) in [
            ("Equal", 19),
            ("Less", 13),
            ("LessOrEqual", 16),
            ("Greater", 13),
            ("GreaterOrEqual", 16),
        ] {
            let r = Case::new(op)
                .opset(opset)
                .input(t("float32", &[3, 1, 5]))
                .input(t("float32", &[4, 1]))
                .run();
            assert_eq!(r.shape(0), "[3, 4, 5]", "{op}");
            assert_eq!(r.dtype(0), DType::Bool, "{op}");
            // One comparison per output element: 3·4·5.
            assert_eq!(r.flops_cmp(), 60, "{op}");
        }
        for op in ["And", "Or", "Xor"] {
            let r = Case::new(op)
                .input(t("bool", &[2, 3]))
                .input(t("bool", &[3]))
                .run();
            assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3]".into(), DType::Bool));
            assert_eq!(r.flops_cmp(), 6, "{op}");
        }
        let r = Case::new("Not").input(t("bool", &[7])).run();
        assert_eq!((r.dtype(0), r.flops_cmp()), (DType::Bool, 7));
        // Opset 1: B broadcasts onto A; the output has A's shape.
        let r = Case::new("Equal")
            .opset(1)
            .input(t("int32", &[2, 3]))
            .input(t("int32", &[3]))
            .int("broadcast", 1)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3]".into(), DType::Bool));
    }

    #[test]
    fn comparisons_fold_where_provable() {
        let r = Case::new("Equal")
            .const_i64s(&[4], &[-1, 3, -1, 2])
            .const_i64s(&[], &[-1])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 0, 1, 0]"));
        let r = Case::new("Less")
            .const_i64s(&[3], &[1, 2, 3])
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 0, 0]"));
        let r = Case::new("GreaterOrEqual")
            .const_i64s(&[3], &[1, 2, 3])
            .const_i64s(&[1], &[2])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0, 1, 1]"));
        // Float constants compare too.
        let r = Case::new("Greater")
            .const_f32s(&[2], &[0.5, f32::NAN])
            .const_f32s(&[], &[0.0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 0]"));

        // Shape(x[batch, 3]) = [batch, 3]; batch >= 0 cannot be −1, and 3 is 3.
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3"])
            .then("Equal")
            .const_i64s(&[], &[-1])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0, 0]"));
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3"])
            .then("Equal")
            .const_i64s(&[2], &[-1, 3])
            .then("Not")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1, 0]"));
        // batch may equal 1: not decided, so nothing folds.
        let r = Case::new("Shape")
            .input_sym("float32", &["batch", "3"])
            .then("Equal")
            .const_i64s(&[], &[1])
            .run();
        assert_eq!((r.shape(0), r.value(0)), ("[2]".into(), None));
    }

    #[test]
    fn where_broadcasts_three_ways_and_selects_known_elements() {
        let r = Case::new("Where")
            .input(t("bool", &[4, 1, 1]))
            .input(t("float16", &[3, 1]))
            .input(t("float16", &[5]))
            .run();
        assert_eq!(r.shape(0), "[4, 3, 5]");
        assert_eq!(r.dtype(0), DType::Float16);
        // One select per output element.
        assert_eq!(r.flops_cmp(), 60);

        // Where(Equal(v, −1), 1, v): the dynamo exporter's Expand/Reshape shape fix-up.
        let r = Case::new("Equal")
            .const_i64s(&[3], &[2, -1, 5])
            .const_i64s(&[], &[-1])
            .then("Where")
            .const_i64s(&[], &[1])
            .const_i64s(&[3], &[2, -1, 5])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2, 1, 5]"));

        // The same on symbolic elements, element by element.
        let (batch, m1, one) = (Dim::sym("batch"), Dim::from_i64(-1), Dim::one());
        let eq = super::fold_compare(&[Elem::Int(&batch), Elem::Int(&m1)], |o| {
            o == std::cmp::Ordering::Equal
        });
        assert_eq!(eq, Some(Val::bool(false)));
        let f = Dim::zero();
        assert_eq!(
            fold_where(&[Elem::Int(&f), Elem::Int(&one), Elem::Int(&batch)]),
            Some(Val::Int(batch.clone()))
        );
        // The unused side need not be known; the used one must be.
        let t1 = Dim::one();
        assert_eq!(
            fold_where(&[Elem::Int(&t1), Elem::Int(&one), Elem::Unknown]),
            Some(Val::Int(one.clone()))
        );
        assert_eq!(
            fold_where(&[Elem::Int(&t1), Elem::Unknown, Elem::Int(&one)]),
            None
        );
        // A condition that is a symbol (which may be 0) is not decided.
        assert_eq!(
            fold_where(&[Elem::Int(&batch), Elem::Int(&one), Elem::Int(&one)]),
            None
        );
    }

    #[test]
    fn logic_folds_with_one_side_unknown() {
        let (f, t1) = (Dim::zero(), Dim::one());
        assert_eq!(
            fold_and(&[Elem::Int(&f), Elem::Unknown]),
            Some(Val::bool(false))
        );
        assert_eq!(fold_and(&[Elem::Int(&t1), Elem::Unknown]), None);
        assert_eq!(
            fold_or(&[Elem::Unknown, Elem::Int(&t1)]),
            Some(Val::bool(true))
        );
        assert_eq!(fold_or(&[Elem::Unknown, Elem::Int(&f)]), None);
        // Through the engine: And with an activation operand does not fold unless decided.
        let r = Case::new("Equal")
            .const_i64s(&[2], &[1, 2])
            .const_i64s(&[], &[3])
            .then("And")
            .input(t("bool", &[2]))
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0, 0]"));
        let r = Case::new("Equal")
            .const_i64s(&[2], &[1, 2])
            .const_i64s(&[], &[2])
            .then("Xor")
            .input(t("bool", &[2]))
            .run();
        assert_eq!(r.value(0), None);
    }

    #[test]
    fn bitwise_ops_wrap_to_their_type() {
        assert_eq!(wrap(255, DType::Int8), Some(-1));
        assert_eq!(wrap(-1, DType::Uint8), Some(255));
        assert_eq!(wrap(256, DType::Uint8), Some(0));
        assert_eq!(wrap(-1, DType::Uint64), None);
        assert_eq!(wrap(-1, DType::Int64), Some(-1));
        assert_eq!(wrap(1, DType::Float32), None);

        let r = Case::new("BitwiseAnd")
            .opset(18)
            .const_i64s(&[2], &[12, -1])
            .const_i64s(&[], &[10])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[8, 10]"));
        assert_eq!(r.flops_cmp(), 2);
        let r = Case::new("BitwiseNot")
            .opset(18)
            .const_i64s(&[2], &[0, 5])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[-1, -6]"));
        let r = Case::new("BitShift")
            .input(t("uint8", &[3, 1]))
            .input(t("uint8", &[2]))
            .str("direction", "LEFT")
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[3, 2]".into(), DType::Uint8));
        assert_eq!(r.flops_cmp(), 6);
        let r = Case::new("BitShift")
            .const_i64s(&[2], &[16, 3])
            .const_i64s(&[2], &[2, 1])
            .str("direction", "RIGHT")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[4, 1]"));
        // Shifts by the width or more, or by a negative amount, shift every bit out.
        let r = Case::new("BitShift")
            .const_i64s(&[3], &[-8, 4, -1])
            .const_i64s(&[3], &[64, -1, 70])
            .str("direction", "RIGHT")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[-1, 0, -1]"));
        let r = Case::new("BitShift")
            .const_i64s(&[3], &[-8, 4, 1])
            .const_i64s(&[3], &[64, -1, 62])
            .str("direction", "LEFT")
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0, 0, 4611686018427387904]"));
        let err = Case::new("BitShift")
            .input(t("uint8", &[3]))
            .input(t("uint8", &[3]))
            .str("direction", "UP")
            .run_err();
        assert!(err.contains("direction"), "{err}");
    }

    #[test]
    fn isnan_isinf_give_bools() {
        let r = Case::new("IsNaN").input(t("float32", &[2, 3])).run();
        assert_eq!((r.dtype(0), r.flops_cmp()), (DType::Bool, 6));
        let r = Case::new("IsInf")
            .const_f32s(&[3], &[f32::INFINITY, f32::NEG_INFINITY, 1.0])
            .int("detect_negative", 0)
            .run();
        assert_eq!(r.dtype(0), DType::Bool);
        assert_eq!(r.value(0).as_deref(), Some("[1, 0, 0]"));
    }
}
