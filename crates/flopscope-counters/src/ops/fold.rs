//! The evaluator: what every family uses to fold the elements of small tensors known before
//! run time (shape computations, constants), with the semantics ONNX Runtime has. Elementwise
//! ops combine broadcast elements ([`fold_elementwise`]); data movement copies them by index
//! ([`fold_map`]); each op's record says which elements its outputs take. Floating-point
//! results are rounded to their element type after every operation ([`round_to`]), as a
//! runtime computing in that type does. Nothing larger than [`MAX_FOLDED_ELEMENTS`] is folded.

use std::cmp::Ordering;

use flopscope_ir::{DType, Dim, Elements, TensorType, TensorValue};

use crate::{InferCtx, MAX_FOLDED_ELEMENTS, OpError};

/// Concrete dims of a shape, if every dim is a constant that fits in memory.
pub(crate) fn concrete(shape: &[Dim]) -> Option<Vec<usize>> {
    shape
        .iter()
        .map(|d| d.as_i64().and_then(|v| usize::try_from(v).ok()))
        .collect()
}

/// Sets output 0 to `ty`, with elements when they are known and few.
pub(crate) fn set_maybe_value(cx: &mut InferCtx<'_>, ty: TensorType, data: Option<Elements>) {
    match (data, concrete(&ty.shape)) {
        (Some(data), Some(shape)) if data.len() as u64 <= MAX_FOLDED_ELEMENTS => {
            cx.set_value(
                0,
                TensorValue {
                    dtype: ty.dtype,
                    shape,
                    data,
                },
            );
        }
        _ => cx.set(0, ty),
    }
}

/// The elements of input `i` when known (a copy).
pub(crate) fn elements(cx: &InferCtx<'_>, i: usize) -> Result<Option<Elements>, OpError> {
    Ok(cx.value(i)?.map(|v| v.data.clone()))
}

/// One input element as a fold sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Elem<'v> {
    /// An integer or bool element, possibly symbolic.
    Int(&'v Dim),
    Float(f64),
    /// A string element (compared only).
    Str(&'v bytes::Bytes),
    /// The input's elements are not known.
    Unknown,
}

impl<'v> Elem<'v> {
    pub(crate) fn int(self) -> Option<&'v Dim> {
        match self {
            Elem::Int(d) => Some(d),
            _ => None,
        }
    }

    /// The value as a float: a float element or a constant integer.
    pub(crate) fn as_f64(self) -> Option<f64> {
        match self {
            Elem::Float(f) => Some(f),
            Elem::Int(d) => d.as_i64().map(|v| v as f64),
            Elem::Str(_) | Elem::Unknown => None,
        }
    }

    /// Whether the element is non-zero (true), when that can be decided.
    pub(crate) fn truth(self) -> Option<bool> {
        match self {
            Elem::Int(d) => match d.compare(&Dim::zero())? {
                Ordering::Equal => Some(false),
                _ => Some(true),
            },
            Elem::Float(f) => Some(f != 0.0),
            Elem::Str(_) | Elem::Unknown => None,
        }
    }
}

/// The order of two elements: `None` when it cannot be decided, `Some(None)` when they are
/// unordered (a NaN), which makes every comparison false.
pub(crate) fn order(a: Elem<'_>, b: Elem<'_>) -> Option<Option<Ordering>> {
    match (a, b) {
        (Elem::Int(x), Elem::Int(y)) => x.compare(y).map(Some),
        (Elem::Str(x), Elem::Str(y)) => Some(Some(x.cmp(y))),
        (Elem::Unknown | Elem::Str(_), _) | (_, Elem::Unknown | Elem::Str(_)) => None,
        _ => Some(a.as_f64()?.partial_cmp(&b.as_f64()?)),
    }
}

/// A folded output element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Int(Dim),
    Float(f64),
}

impl Val {
    /// A bool element.
    pub(crate) fn bool(b: bool) -> Val {
        Val::Int(Dim::from_i64(i64::from(b)))
    }
}

/// Computes one output element from the inputs' elements at its (broadcast) position; `None`
/// when it cannot be decided, which leaves the output unfolded.
pub(crate) type Fold<'f> = &'f dyn Fn(&[Elem<'_>]) -> Option<Val>;

/// Folds an elementwise op whose output type is `out`: the inputs `inputs` are broadcast
/// (NumPy rules) to the output shape and `fold` combines their elements. `None` when the output
/// shape is symbolic or too large, no input is known, or `fold` cannot decide an element.
pub(crate) fn fold_elementwise(
    cx: &InferCtx<'_>,
    inputs: &[usize],
    out: &TensorType,
    fold: Fold<'_>,
) -> Result<Option<TensorValue>, OpError> {
    let Some(shape) = concrete(&out.shape) else {
        return Ok(None);
    };
    let len = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n as u64 <= MAX_FOLDED_ELEMENTS);
    let Some(len) = len else { return Ok(None) };
    let rank = shape.len();

    // For each input: its elements (if known) and, per output axis, the stride to step it by.
    let mut sources = Vec::with_capacity(inputs.len());
    let mut any_known = false;
    for &i in inputs {
        let Some(ty) = cx.opt_tensor(i)? else {
            return Ok(None);
        };
        let Some(in_shape) = concrete(&ty.shape) else {
            return Ok(None);
        };
        let Some(offset) = rank.checked_sub(in_shape.len()) else {
            return Ok(None);
        };
        let mut strides = vec![0usize; rank];
        let mut step = 1usize;
        for (j, &d) in in_shape.iter().enumerate().rev() {
            if d != 1 {
                if d != shape[offset + j] {
                    return Ok(None);
                }
                strides[offset + j] = step;
            }
            step = step.saturating_mul(d);
        }
        let value = cx.value(i)?;
        any_known |= value.is_some();
        sources.push((value.map(|v| &v.data), strides));
    }
    if !any_known {
        return Ok(None);
    }

    let mut out_strides = vec![1usize; rank];
    for k in (0..rank.saturating_sub(1)).rev() {
        out_strides[k] = out_strides[k + 1].saturating_mul(shape[k + 1]);
    }
    let mut vals = Vec::with_capacity(len);
    let mut elems = Vec::with_capacity(sources.len());
    for flat in 0..len {
        elems.clear();
        for (data, strides) in &sources {
            let at: usize = (0..rank)
                .map(|k| (flat / out_strides[k]) % shape[k] * strides[k])
                .sum();
            elems.push(match data {
                None => Elem::Unknown,
                Some(Elements::Int(v)) => match v.get(at) {
                    Some(d) => Elem::Int(d),
                    None => return Ok(None),
                },
                Some(Elements::Float(v)) => match v.get(at) {
                    Some(&f) => Elem::Float(f),
                    None => return Ok(None),
                },
                Some(Elements::Str(v)) => match v.get(at) {
                    Some(b) => Elem::Str(b),
                    None => return Ok(None),
                },
            });
        }
        match fold(&elems) {
            // An overflowing integer is not a value.
            Some(Val::Int(d)) if d.is_overflow() => return Ok(None),
            Some(v) => vals.push(v),
            None => return Ok(None),
        }
    }

    let data = if out.dtype.is_integer() {
        let ints = vals.into_iter().map(|v| match v {
            Val::Int(d) => Some(d),
            Val::Float(_) => None,
        });
        Elements::Int(ints.collect::<Option<Vec<_>>>().unwrap_or_default())
    } else if out.dtype.is_float() {
        let floats = vals.into_iter().map(|v| match v {
            Val::Float(f) => round_to(out.dtype, f),
            Val::Int(_) => None,
        });
        Elements::Float(floats.collect::<Option<Vec<_>>>().unwrap_or_default())
    } else {
        return Ok(None);
    };
    if data.len() != len {
        // An element of the wrong kind for the output type.
        return Ok(None);
    }
    Ok(Some(TensorValue {
        dtype: out.dtype,
        shape,
        data,
    }))
}

/// Sets output 0 to `ty`, with its elements when `fold` (if any) decides them all.
pub(crate) fn set_folded(
    cx: &mut InferCtx<'_>,
    ty: TensorType,
    inputs: &[usize],
    fold: Option<Fold<'_>>,
) -> Result<(), OpError> {
    let value = match fold {
        Some(fold) => fold_elementwise(cx, inputs, &ty, fold)?,
        None => None,
    };
    match value {
        Some(v) => cx.set_value(0, v),
        None => cx.set(0, ty),
    }
    Ok(())
}

/// Row-major strides of concrete dims. They index folded values only, which are small; for
/// dims whose product does not fit they saturate (found by `cargo fuzz run ops`).
pub(crate) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(dims[i + 1]);
    }
    s
}

/// Folds the elements of an output of shape `out` (concrete) from those of an input: `source`
/// maps an output multi-index to the flat index of the input element it copies (`None`: the
/// element is `fill`'s first). Elements of any kind (integers, possibly symbolic; floats;
/// strings). `None` when the input's elements are not known, a shape is not concrete, an index
/// falls outside the input, or the result would be large.
pub(crate) fn fold_map(
    data: Option<&Elements>,
    out: &[Dim],
    fill: Option<&Elements>,
    source: impl Fn(&[usize]) -> Option<usize>,
) -> Option<Elements> {
    let data = data?;
    let out = concrete(out)?;
    let n = out.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    if n as u64 > MAX_FOLDED_ELEMENTS {
        return None;
    }
    let mut idx = vec![0usize; out.len()];
    let mut at = Vec::with_capacity(n);
    for _ in 0..n {
        at.push(source(&idx));
        for a in (0..out.len()).rev() {
            idx[a] += 1;
            if idx[a] < out[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    take(data, &at, fill)
}

/// The elements of `data` at the flat indices `at`, `fill`'s first element where an index is
/// `None`; `None` when an index is out of range, or a fill is needed and there is none of the
/// same kind.
pub(crate) fn take(
    data: &Elements,
    at: &[Option<usize>],
    fill: Option<&Elements>,
) -> Option<Elements> {
    fn pick<T: Clone>(v: &[T], at: &[Option<usize>], fill: Option<&[T]>) -> Option<Vec<T>> {
        at.iter()
            .map(|&i| match i {
                Some(i) => v.get(i).cloned(),
                None => fill?.first().cloned(),
            })
            .collect()
    }
    Some(match (data, fill) {
        (Elements::Int(v), Some(Elements::Int(f))) => Elements::Int(pick(v, at, Some(f))?),
        (Elements::Int(v), None) => Elements::Int(pick(v, at, None)?),
        (Elements::Float(v), Some(Elements::Float(f))) => Elements::Float(pick(v, at, Some(f))?),
        // An integer fill of a float tensor (Pad's default zero).
        (Elements::Float(v), Some(Elements::Int(f))) => {
            let f: Vec<f64> = f.iter().map(dim_as_f64).collect::<Option<_>>()?;
            Elements::Float(pick(v, at, Some(&f))?)
        }
        (Elements::Float(v), None) => Elements::Float(pick(v, at, None)?),
        (Elements::Str(v), Some(Elements::Str(f))) => Elements::Str(pick(v, at, Some(f))?),
        (Elements::Str(v), None) => Elements::Str(pick(v, at, None)?),
        _ => return None,
    })
}

/// The elements of `parts` one after another, when they are all of one kind.
pub(crate) fn join(parts: &[&Elements]) -> Option<Elements> {
    let mut out = match parts.first()? {
        Elements::Int(_) => Elements::Int(Vec::new()),
        Elements::Float(_) => Elements::Float(Vec::new()),
        Elements::Str(_) => Elements::Str(Vec::new()),
    };
    for part in parts {
        match (&mut out, part) {
            (Elements::Int(o), Elements::Int(p)) => o.extend_from_slice(p),
            (Elements::Float(o), Elements::Float(p)) => o.extend_from_slice(p),
            (Elements::Str(o), Elements::Str(p)) => o.extend_from_slice(p),
            _ => return None,
        }
    }
    Some(out)
}

/// `data` with `updates[k]` written at flat index `targets[k]`, in order, combined with what is
/// there by `reduction` (`none` replaces; `add`, `mul`, `max`, `min`). `None` when the kinds
/// differ, a target is out of range, or a reduction is unknown.
pub(crate) fn scatter(
    data: &Elements,
    targets: &[usize],
    updates: &Elements,
    reduction: &str,
    dtype: DType,
) -> Option<Elements> {
    if targets.len() != updates.len() {
        return None;
    }
    match (data, updates) {
        (Elements::Int(d), Elements::Int(u)) => {
            let mut out = d.clone();
            for (&t, x) in targets.iter().zip(u) {
                let slot = out.get_mut(t)?;
                *slot = match reduction {
                    "none" => x.clone(),
                    "add" => &*slot + x,
                    "mul" => &*slot * x,
                    "max" => slot.max(x),
                    "min" => slot.min(x),
                    _ => return None,
                };
            }
            out.iter()
                .all(|d| !d.is_overflow())
                .then_some(Elements::Int(out))
        }
        (Elements::Float(d), Elements::Float(u)) => {
            let mut out = d.clone();
            for (&t, &x) in targets.iter().zip(u) {
                let slot = out.get_mut(t)?;
                *slot = round_to(
                    dtype,
                    match reduction {
                        "none" => x,
                        "add" => *slot + x,
                        "mul" => *slot * x,
                        "max" => slot.max(x),
                        "min" => slot.min(x),
                        _ => return None,
                    },
                )?;
            }
            Some(Elements::Float(out))
        }
        (Elements::Str(d), Elements::Str(u)) if reduction == "none" => {
            let mut out = d.clone();
            for (&t, x) in targets.iter().zip(u) {
                *out.get_mut(t)? = x.clone();
            }
            Some(Elements::Str(out))
        }
        _ => None,
    }
}

/// A constant integer as a float.
pub(crate) fn dim_as_f64(d: &Dim) -> Option<f64> {
    d.as_i64().map(|v| v as f64)
}

/// `x` rounded to the nearest value of the float type `dtype` (ties to even), as a runtime that
/// computes in that type stores it; `None` for the float types not folded (8- and 4-bit). Computing
/// in `f64` and then rounding once gives the correctly rounded `f32` result of `+ − × ÷` and
/// `sqrt` (`f64` has more than twice the precision); float64 values are returned as they are.
pub(crate) fn round_to(dtype: DType, x: f64) -> Option<f64> {
    match dtype {
        DType::Float64 => Some(x),
        DType::Float32 => Some(f64::from(x as f32)),
        DType::Float16 => Some(half::f16::from_f64(x).to_f64()),
        DType::Bfloat16 => Some(half::bf16::from_f64(x).to_f64()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{DType, Dim, Elements};

    use super::{join, round_to, scatter, take};
    use crate::ops::testing::Case;

    fn ints(v: &[i64]) -> Elements {
        Elements::Int(v.iter().map(|&x| Dim::from_i64(x)).collect())
    }

    #[test]
    fn floats_round_to_their_type() {
        // 0.1 is not a float32: the nearest one is 0.100000001490116...
        assert_eq!(round_to(DType::Float32, 0.1), Some(f64::from(0.1f32)));
        // 1 + 2^-11 lies halfway between two float16s (1 and 1 + 2^-10): ties to even, 1.
        assert_eq!(round_to(DType::Float16, 1.0 + 2f64.powi(-11)), Some(1.0));
        // 1 + 3·2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties to the even, 1 + 2^-9.
        assert_eq!(
            round_to(DType::Float16, 1.0 + 3.0 * 2f64.powi(-11)),
            Some(1.0 + 2f64.powi(-9))
        );
        // bfloat16 keeps 8 bits of mantissa: 1 + 2^-9 rounds to 1.
        assert_eq!(round_to(DType::Bfloat16, 1.0 + 2f64.powi(-9)), Some(1.0));
        assert_eq!(round_to(DType::Float64, 0.1), Some(0.1));
        assert_eq!(round_to(DType::Float8e4m3fn, 0.1), None);
    }

    #[test]
    fn take_join_and_scatter_by_hand() {
        let data = ints(&[10, 20, 30]);
        assert_eq!(
            take(&data, &[Some(2), None, Some(0)], Some(&ints(&[-1]))),
            Some(ints(&[30, -1, 10]))
        );
        assert_eq!(take(&data, &[Some(3)], None), None);
        assert_eq!(join(&[&ints(&[1]), &ints(&[2, 3])]), Some(ints(&[1, 2, 3])));
        assert_eq!(join(&[&ints(&[1]), &Elements::Float(vec![2.0])]), None);
        // Updates at [2, 0, 2] added: 10 + 2, 20, 30 + 1 + 3.
        assert_eq!(
            scatter(&data, &[2, 0, 2], &ints(&[1, 2, 3]), "add", DType::Int64),
            Some(ints(&[12, 20, 34]))
        );
        assert_eq!(
            scatter(&data, &[1], &ints(&[5]), "none", DType::Int64),
            Some(ints(&[10, 5, 30]))
        );
    }

    #[test]
    fn data_movement_folds_floats() {
        // [[1, 2, 3], [4, 5, 6]] transposed.
        let r = Case::new("Transpose")
            .const_f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .run();
        assert_eq!(
            r.value(0).as_deref(),
            Some("[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]")
        );
        // Concatenated on axis 1: rows [1, 2, 5] and [3, 4, 6].
        let r = Case::new("Concat")
            .const_f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
            .const_f32s(&[2, 1], &[5.0, 6.0])
            .int("axis", 1)
            .run();
        assert_eq!(
            r.value(0).as_deref(),
            Some("[1.0, 2.0, 5.0, 3.0, 4.0, 6.0]")
        );
        // A 2-D split on axis 1 into [1, 2]: the second part is [[2, 3], [5, 6]].
        let r = Case::new("Split")
            .opset(13)
            .const_f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .const_i64s(&[2], &[1, 2])
            .int("axis", 1)
            .outputs(2)
            .run();
        assert_eq!(r.value(1).as_deref(), Some("[2.0, 3.0, 5.0, 6.0]"));
    }

    #[test]
    fn arithmetic_folds_round_like_float32() {
        // 0.1 + 0.2 in float32 is 0.3 rounded to float32 (0.300000011920929), not the float64
        // 0.30000000000000004.
        let r = Case::new("Add")
            .const_f32s(&[1], &[0.1])
            .const_f32s(&[1], &[0.2])
            .run();
        assert_eq!(
            r.value(0),
            Some(format!("{:?}", [f64::from(0.1f32 + 0.2f32)]))
        );
        // Clip to [0, 1] with min > x and x > max.
        let r = Case::new("Clip")
            .const_f32s(&[3], &[-2.0, 0.5, 3.0])
            .const_f32s(&[], &[0.0])
            .const_f32s(&[], &[1.0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[0.0, 0.5, 1.0]"));
    }

    #[test]
    fn scans_reductions_and_indexing_by_hand() {
        // Exclusive, reversed running sums of [1, 2, 3]: [2 + 3, 3, 0].
        let r = Case::new("CumSum")
            .const_i64s(&[3], &[1, 2, 3])
            .const_i64s(&[], &[0])
            .int("exclusive", 1)
            .int("reverse", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[5, 3, 0]"));
        // The last of the two maxima of [3, 1, 3] is at index 2.
        let r = Case::new("ArgMax")
            .const_f32s(&[3], &[3.0, 1.0, 3.0])
            .int("select_last_index", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2]"));
        // Row sums and the row maxima of [[1, 2], [3, 4]].
        let r = Case::new("ReduceSum")
            .const_f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
            .const_i64s(&[1], &[1])
            .int("keepdims", 0)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[3.0, 7.0]"));
        let r = Case::new("ReduceMax")
            .opset(13)
            .const_f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
            .ints("axes", &[1])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2.0, 4.0]"));
        // GatherElements on axis 1 with [[1, 0], [0, 0]] over [[1, 2], [3, 4]]: [[2, 1], [3, 3]].
        let r = Case::new("GatherElements")
            .const_f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
            .const_i64s(&[2, 2], &[1, 0, 0, 0])
            .int("axis", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2.0, 1.0, 3.0, 3.0]"));
        // ScatterND of row [9, 9] into row 1 of [[1, 2], [3, 4]].
        let r = Case::new("ScatterND")
            .const_f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
            .const_i64s(&[1, 1], &[1])
            .const_f32s(&[1, 2], &[9.0, 9.0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[1.0, 2.0, 9.0, 9.0]"));
        // Float mod with the divisor's sign (fmod = 0) and the dividend's (fmod = 1).
        let r = Case::new("Mod")
            .const_f32s(&[2], &[-7.0, 7.0])
            .const_f32s(&[2], &[3.0, -3.0])
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[2.0, -2.0]"));
        let r = Case::new("Mod")
            .const_f32s(&[2], &[-7.0, 7.0])
            .const_f32s(&[2], &[3.0, -3.0])
            .int("fmod", 1)
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[-1.0, 1.0]"));
    }
}
