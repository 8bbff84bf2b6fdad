//! Constant generators: `Constant` and `ConstantOfShape`. Their outputs are constants; one that
//! feeds a weight input is a param (the ONNX "light" models make every weight this way).

use flopscope_ir::{Attr, ConstTensor, DType, Dim, Elements, TensorType, TensorValue};

use super::fold::concrete;
use super::no_flops;
use crate::{InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, invalid};

/// The elements of a small stored tensor (`None` when it is large or of a type not decoded).
fn elements_of(t: &ConstTensor, name: &str) -> Result<Option<Elements>, OpError> {
    t.decode(MAX_FOLDED_ELEMENTS)
        .map(|v| v.map(|v| v.data))
        .map_err(|source| OpError::Decode {
            name: name.to_owned(),
            source,
        })
}

/// `Constant`: the value comes from exactly one of the attributes `value` (a tensor),
/// `value_float(s)`, `value_int(s)`, `value_string(s)` or `sparse_value`.
fn infer_constant(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let node = cx.node();
    let mut forms = node.attrs.iter().filter(|(name, _)| {
        matches!(
            name.as_str(),
            "value"
                | "sparse_value"
                | "value_float"
                | "value_floats"
                | "value_int"
                | "value_ints"
                | "value_string"
                | "value_strings"
        )
    });
    let (name, attr) = match (forms.next(), forms.next()) {
        (Some(one), None) => one,
        (None, _) => return invalid!("Constant has none of the value attributes"),
        (Some(a), Some(b)) => return invalid!("Constant has both `{}` and `{}`", a.0, b.0),
    };
    let scalar = |dtype: DType, data: Elements| TensorValue {
        dtype,
        shape: vec![],
        data,
    };
    let vector = |dtype: DType, data: Elements| TensorValue {
        dtype,
        shape: vec![data.len()],
        data,
    };
    match (name.as_str(), attr) {
        ("value" | "sparse_value", Attr::Tensor(t)) => match elements_of(t, name)? {
            Some(data) => {
                let shape = t.dims.iter().map(|&d| d as usize).collect();
                cx.set_value(
                    0,
                    TensorValue {
                        dtype: t.dtype,
                        shape,
                        data,
                    },
                );
            }
            None => cx.set(0, t.tensor_type()),
        },
        ("value_float", Attr::Float(v)) => {
            cx.set_value(
                0,
                scalar(DType::Float32, Elements::Float(vec![f64::from(*v)])),
            );
        }
        ("value_floats", Attr::Floats(v)) => {
            let data = Elements::Float(v.iter().map(|&x| f64::from(x)).collect());
            cx.set_value(0, vector(DType::Float32, data));
        }
        ("value_int", Attr::Int(v)) => {
            cx.set_value(
                0,
                scalar(DType::Int64, Elements::Int(vec![Dim::from_i64(*v)])),
            );
        }
        ("value_ints", Attr::Ints(v)) => {
            let data = Elements::Int(v.iter().map(|&x| Dim::from_i64(x)).collect());
            cx.set_value(0, vector(DType::Int64, data));
        }
        ("value_string", Attr::String(v)) => {
            cx.set_value(0, TensorValue::strings(vec![], [v.clone()]));
        }
        ("value_strings", Attr::Strings(v)) if v.len() as u64 <= MAX_FOLDED_ELEMENTS => {
            cx.set_value(0, TensorValue::strings(vec![v.len()], v.iter().cloned()));
        }
        ("value_strings", Attr::Strings(v)) => cx.set(
            0,
            TensorType::new(DType::String, vec![Dim::from_i64(v.len() as i64)]),
        ),
        (name, attr) => {
            return invalid!(
                "attribute `{name}` is {}, which does not fit a Constant",
                attr.kind()
            );
        }
    }
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Constant",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[],
        infer: infer_constant,
        cost: no_flops,
        formula: "0 (constant)",
    }
}

/// `ConstantOfShape`: a tensor of the shape given by input 0, filled with the one element of
/// the `value` attribute (float32 0 by default). Its elements are folded when it is small.
fn infer_constant_of_shape(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let shape = match (cx.ints(0)?, cx.static_len(0)?) {
        (Some(shape), _) => shape.to_vec(),
        // A shape computed at run time, of a known length: its dims derived.
        (None, Some(rank)) if cx.has_input(0) => {
            cx.derived_shape(0, rank, &cx.unknown_value_reason(0, "the shape"))
        }
        (None, _) => cx.req_ints(0, "the shape")?.to_vec(),
    };
    if let Some(d) = shape.iter().find(|d| d.as_i64().is_some_and(|v| v < 0)) {
        return invalid!("the shape has a negative dim {d}");
    }
    let fill = match cx.attr::<&ConstTensor>("value")? {
        None => None,
        Some(t) => {
            if t.numel() != Some(1) {
                return invalid!("`value` must hold one element, it has dims {:?}", t.dims);
            }
            Some((t.dtype, elements_of(t, "value")?))
        }
    };
    let dtype = fill.as_ref().map_or(DType::Float32, |(d, _)| *d);
    let ty = TensorType::new(dtype, shape);
    // The default fill is a float32 zero. Folded only when every dim is a number (an empty
    // tensor with a symbolic dim, [0, height, width], keeps its rank).
    let fill = fill.unwrap_or((DType::Float32, Some(Elements::Float(vec![0.0]))));
    let count =
        concrete(&ty.shape).and_then(|dims| dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)));
    match (fill, count) {
        // A filled float tensor larger than a shape computation needs is a weight made in the
        // graph (ONNX's light models make theirs so): its elements are not folded.
        ((_, Some(v)), Some(n))
            if !v.is_empty()
                && (n as u64) <= MAX_FOLDED_ELEMENTS
                && (matches!(v, Elements::Int(_)) || n <= MAX_FOLDED_FILL) =>
        {
            let shape = concrete(&ty.shape).unwrap_or_default();
            cx.set_value(
                0,
                TensorValue {
                    dtype,
                    shape,
                    data: repeat_first(&v, n),
                },
            );
        }
        _ => cx.set(0, ty),
    }
    Ok(())
}

/// The most elements a float or string ConstantOfShape is folded to.
const MAX_FOLDED_FILL: usize = 1 << 10;

/// `n` copies of the first element.
fn repeat_first(v: &Elements, n: usize) -> Elements {
    match v {
        Elements::Int(v) => Elements::Int(vec![v[0].clone(); n]),
        Elements::Float(v) => Elements::Float(vec![v[0]; n]),
        Elements::Str(v) => Elements::Str(vec![v[0].clone(); n]),
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ConstantOfShape",
        class: OpClass::Other,
        opsets: Opsets::since(9),
        roles: &[Role::Config],
        infer: infer_constant_of_shape,
        cost: no_flops,
        formula: "0 (constant fill)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{Attr, ConstTensor, DType, Storage};

    use crate::ops::testing::Case;

    fn int64_tensor(dims: Vec<u64>, values: &[i64]) -> ConstTensor {
        ConstTensor {
            dtype: DType::Int64,
            dims,
            storage: Storage::LittleEndian(
                values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>()
                    .into(),
            ),
        }
    }

    #[test]
    fn an_empty_constant_of_shape_keeps_its_symbolic_dims() {
        // Mask R-CNN's first pasted-masks accumulator: ConstantOfShape([0, height, width]).
        let r = Case::new("Shape")
            .input_sym("float32", &["0", "height", "width"])
            .then("ConstantOfShape")
            .run();
        assert_eq!(r.shape(0), "[0, height, width]");
        let r = Case::new("Shape")
            .input_sym("float32", &["0", "2"])
            .then("ConstantOfShape")
            .run();
        assert_eq!(
            (r.shape(0), r.value(0)),
            ("[0, 2]".into(), Some("[]".into()))
        );
    }

    #[test]
    fn constant_attribute_forms() {
        let r = Case::new("Constant")
            .attr("value", Attr::Tensor(int64_tensor(vec![2], &[7, 9])))
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[7, 9]"));
        let r = Case::new("Constant").int("value_int", 3).run();
        assert_eq!((r.shape(0), r.value(0)), ("[]".into(), Some("[3]".into())));
        let r = Case::new("Constant").ints("value_ints", &[1, 2, 3]).run();
        assert_eq!(r.shape(0), "[3]");
        let r = Case::new("Constant").float("value_float", 6.0).run();
        assert_eq!(r.dtype(0), DType::Float32);
        assert_eq!(r.value(0).as_deref(), Some("[6.0]"));
        let r = Case::new("Constant")
            .attr("value_strings", Attr::Strings(vec!["a".into(), "b".into()]))
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[2]".into(), DType::String));
        assert_eq!(r.strs(0), Some((vec![2], vec!["a".into(), "b".into()])));
        let r = Case::new("Constant")
            .attr("value_string", Attr::String("x y".into()))
            .run();
        assert_eq!(r.strs(0), Some((vec![], vec!["x y".into()])));
        let err = Case::new("Constant")
            .int("value_int", 3)
            .ints("value_ints", &[1])
            .run_err();
        assert!(err.contains("both"), "{err}");
    }

    #[test]
    fn constant_of_shape_makes_weights() {
        // The light models: ConstantOfShape(shape initializer) → Conv weight.
        let r = Case::new("ConstantOfShape")
            .const_i64s(&[4], &[96, 3, 11, 11])
            .then("Relu")
            .run();
        assert_eq!(r.shape(0), "[96, 3, 11, 11]");
        let r = Case::new("ConstantOfShape")
            .const_i64s(&[1], &[3])
            .attr("value", Attr::Tensor(int64_tensor(vec![1], &[5])))
            .run();
        assert_eq!(r.value(0).as_deref(), Some("[5, 5, 5]"));
    }
}
