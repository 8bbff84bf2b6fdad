//! Element type conversions: CastLike (to the element type of another tensor) and BitCast
//! (the same bits read as another type of the same width). Both are data movement: 0 FLOPs.
//! Known elements fold through them (integers exactly, wrapped to the target's width).

use flopscope_ir::{DType, Dim};

use super::elementwise::infer_unary;
use super::fold::{Elem, Val, round_to};
use super::logic::wrap;
use super::no_flops;
use crate::{InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// One element converted to `to` as Cast does: to bool, non-zero is true; to an integer type,
/// integers wrap to its width (a symbolic one is kept as is: it is a size that fits) and floats
/// truncate toward zero when they fit; to float32 / float64, constant values convert. `None`
/// where the result is not decided (or not representable here).
pub(super) fn cast_elem(e: Elem<'_>, to: DType) -> Option<Val> {
    if to == DType::Bool {
        return e.truth().map(Val::bool);
    }
    if to.is_integer() {
        return match e {
            Elem::Int(d) => match d.as_i64() {
                Some(v) => wrap(i128::from(v), to).map(|v| Val::Int(Dim::from_i64(v))),
                None => Some(Val::Int(d.clone())),
            },
            Elem::Float(f) => {
                // 2^63 as a float: the first value past i64's range.
                const LIMIT: f64 = 9_223_372_036_854_775_808.0;
                let t = f.trunc();
                if !t.is_finite() || t.abs() >= LIMIT {
                    return None;
                }
                let v = i128::from(t as i64);
                // Out of the target's range the conversion is undefined: not folded.
                let w = wrap(v, to)?;
                (i128::from(w) == v).then_some(Val::Int(Dim::from_i64(w)))
            }
            Elem::Str(_) | Elem::Unknown => None,
        };
    }
    // To a float type: rounded to it (float16, bfloat16, float32, float64).
    round_to(to, e.as_f64()?).map(Val::Float)
}

// ---- CastLike --------------------------------------------------------------------------------

/// CastLike: X's shape in the element type of `target_type` (input 1), whose elements are not
/// read.
fn infer_cast_like(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let to = cx.tensor(1)?.dtype;
    let fold = move |e: &[Elem<'_>]| cast_elem(*e.first()?, to);
    infer_unary(cx, Some(to), Some(&fold))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "CastLike",
        class: OpClass::Other,
        opsets: Opsets::since(15),
        roles: &[Role::Data, Role::ShapeOf],
        infer: infer_cast_like,
        cost: no_flops,
        formula: "0 (conversion, counted as data movement)",
    }
}

// ---- BitCast ---------------------------------------------------------------------------------

/// The bits of a known element of type `from`, zero-extended to 64.
fn bits_of(e: Elem<'_>, from: DType) -> Option<u64> {
    let width = from.bits()?;
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    match (e, from) {
        (Elem::Int(d), _) => Some(d.as_i64()? as u64 & mask),
        (Elem::Float(f), DType::Float32) => Some(u64::from((f as f32).to_bits())),
        (Elem::Float(f), DType::Float64) => Some(f.to_bits()),
        _ => None,
    }
}

/// A known element reinterpreted from `from` to `to` (same width).
fn bitcast_elem(e: Elem<'_>, from: DType, to: DType) -> Option<Val> {
    let bits = bits_of(e, from)?;
    if to.is_integer() {
        return wrap(i128::from(bits), to).map(|v| Val::Int(Dim::from_i64(v)));
    }
    match to {
        DType::Float32 => Some(Val::Float(f64::from(f32::from_bits(bits as u32)))),
        DType::Float64 => Some(Val::Float(f64::from_bits(bits))),
        _ => None,
    }
}

/// BitCast: X's shape in the `to` type, which must have X's bit width.
fn infer_bitcast(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let from = x.dtype;
    let code = cx.req_attr::<i64>("to")?;
    let Some(to) = i32::try_from(code).ok().and_then(DType::from_code) else {
        return invalid!("`to` = {code} is not an element type");
    };
    match (from.bits(), to.bits()) {
        (Some(a), Some(b)) if a == b => {}
        (None, _) | (_, None) => {
            return invalid!("BitCast from {from} to {to}: strings have no fixed width");
        }
        (Some(a), Some(b)) => {
            return invalid!(
                "BitCast from {from} ({a} bits) to {to} ({b} bits): the widths must be equal"
            );
        }
    }
    let fold = move |e: &[Elem<'_>]| bitcast_elem(*e.first()?, from, to);
    infer_unary(cx, Some(to), Some(&fold))
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "BitCast",
        class: OpClass::Other,
        opsets: Opsets::since(26),
        roles: &[Role::Data],
        infer: infer_bitcast,
        cost: no_flops,
        formula: "0 (reinterpretation, data movement)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{DType, Dim};

    use super::{bitcast_elem, cast_elem};
    use crate::ops::fold::{Elem, Val};
    use crate::ops::testing::{Case, t};

    #[test]
    fn castlike_takes_the_type_of_input_1_and_costs_nothing() {
        let r = Case::new("CastLike")
            .input(t("float32", &[2, 3]))
            .input(t("float16", &[1]))
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3]".into(), DType::Float16));
        assert_eq!((r.flops_add(), r.flops_cmp(), r.flops_special()), (0, 0, 0));
        let r = Case::new("CastLike")
            .const_i64s(&[3], &[0, 3, -1])
            .input(t("bool", &[]))
            .run();
        assert_eq!(r.dtype(0), DType::Bool);
        assert_eq!(r.value(0).as_deref(), Some("[0, 1, 1]"));
        let r = Case::new("CastLike")
            .const_f32s(&[3], &[2.9, -2.9, 7.0])
            .input(t("int64", &[]))
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2, -2, 7]"));
    }

    #[test]
    fn cast_elements() {
        let n = Dim::sym("n");
        assert_eq!(
            cast_elem(Elem::Int(&n), DType::Int32),
            Some(Val::Int(n.clone()))
        );
        // n may be 0: its truth is not known.
        assert_eq!(cast_elem(Elem::Int(&n), DType::Bool), None);
        let big = Dim::from_i64(300);
        assert_eq!(
            cast_elem(Elem::Int(&big), DType::Uint8),
            Some(Val::Int(Dim::from_i64(44)))
        );
        assert_eq!(cast_elem(Elem::Float(1e10), DType::Int32), None);
        assert_eq!(cast_elem(Elem::Float(f64::NAN), DType::Int64), None);
        assert_eq!(
            cast_elem(Elem::Int(&big), DType::Float64),
            Some(Val::Float(300.0))
        );
        // Cast itself uses the same conversion.
        let r = Case::new("Cast")
            .const_i64s(&[3], &[0, 3, -1])
            .int("to", 9)
            .run();
        assert_eq!(
            (r.dtype(0), r.value(0)),
            (DType::Bool, Some("[0, 1, 1]".into()))
        );
    }

    #[test]
    fn bitcast_keeps_the_shape_and_needs_equal_widths() {
        let r = Case::new("BitCast")
            .opset(26)
            .input(t("float32", &[2, 3]))
            .int("to", 6)
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2, 3]".into(), DType::Int32));
        assert_eq!((r.flops_add(), r.flops_cmp()), (0, 0));
        let err = Case::new("BitCast")
            .opset(26)
            .input(t("float32", &[2]))
            .int("to", 7)
            .run_err();
        assert!(err.contains("widths must be equal"), "{err}");
        let r = Case::new("BitCast")
            .opset(26)
            .const_i64s(&[2], &[-1, 0x3ff0_0000_0000_0000])
            .int("to", 11)
            .run();
        assert_eq!(r.dtype(0), DType::Float64);
        assert_eq!(r.value(0).as_deref(), Some("[NaN, 1.0]"));

        let m1 = Dim::from_i64(-1);
        assert_eq!(
            bitcast_elem(Elem::Int(&m1), DType::Int8, DType::Uint8),
            Some(Val::Int(Dim::from_i64(255)))
        );
        assert_eq!(
            bitcast_elem(Elem::Float(1.0), DType::Float32, DType::Int32),
            Some(Val::Int(Dim::from_i64(0x3f80_0000)))
        );
        assert_eq!(
            bitcast_elem(Elem::Int(&m1), DType::Int64, DType::Uint64),
            None
        );
    }
}
