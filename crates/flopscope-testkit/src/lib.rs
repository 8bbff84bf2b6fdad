//! Building ONNX models for flopscope's tests, fixtures, hostile corpus and benchmarks: one set
//! of helpers over `onnx-protobuf` (which, unlike the frontend's decoder, writes any message,
//! wrong ones included). Not shipped: the xtask and the tests depend on it.

pub use onnx_protobuf as proto;
pub use protobuf;

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};
use protobuf::{EnumOrUnknown, Message};

/// `TensorProto.DataType` codes.
pub const FLOAT: i32 = 1;
pub const INT64: i32 = 7;
pub const BOOL: i32 = 9;

/// A tensor value of element type `elem_type`; each dim a number, or a name (`"batch"`);
/// `dims: None` leaves the shape undeclared.
pub fn tensor_value(name: &str, elem_type: i32, dims: Option<&[&str]>) -> ValueInfoProto {
    let mut tensor = type_proto::Tensor {
        elem_type,
        ..Default::default()
    };
    if let Some(dims) = dims {
        let dim = dims
            .iter()
            .map(|d| {
                let mut dim = Dimension::new();
                match d.parse::<i64>() {
                    Ok(n) => dim.set_dim_value(n),
                    Err(_) => dim.set_dim_param((*d).to_owned()),
                }
                dim
            })
            .collect();
        tensor.shape = Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into();
    }
    let mut ty = TypeProto::new();
    ty.set_tensor_type(tensor);
    ValueInfoProto {
        name: name.to_owned(),
        type_: Some(ty).into(),
        ..Default::default()
    }
}

/// A tensor value with numeric dims (`None`: the shape undeclared).
pub fn typed(name: &str, elem_type: i32, dims: Option<&[i64]>) -> ValueInfoProto {
    let text: Option<Vec<String>> = dims.map(|d| d.iter().map(i64::to_string).collect());
    let refs: Option<Vec<&str>> = text
        .as_ref()
        .map(|t| t.iter().map(String::as_str).collect());
    tensor_value(name, elem_type, refs.as_deref())
}

/// A float tensor value with numeric dims (`None`: the shape undeclared).
pub fn value(name: &str, dims: Option<&[i64]>) -> ValueInfoProto {
    typed(name, FLOAT, dims)
}

/// A node.
pub fn node(
    name: &str,
    op_type: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
) -> NodeProto {
    let strings = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect();
    NodeProto {
        name: name.to_owned(),
        op_type: op_type.to_owned(),
        domain: domain.to_owned(),
        input: strings(inputs),
        output: strings(outputs),
        ..Default::default()
    }
}

/// `n` with these attributes.
pub fn with_attrs(mut n: NodeProto, attrs: Vec<AttributeProto>) -> NodeProto {
    n.attribute = attrs;
    n
}

/// An attribute of `ty` with no value set yet.
pub fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        type_: EnumOrUnknown::new(ty),
        ..Default::default()
    }
}

pub fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        i,
        ..attr(name, AttributeType::INT)
    }
}

pub fn ints_attr(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: ints.to_vec(),
        ..attr(name, AttributeType::INTS)
    }
}

pub fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        f,
        ..attr(name, AttributeType::FLOAT)
    }
}

pub fn string_attr(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        s: s.as_bytes().to_vec(),
        ..attr(name, AttributeType::STRING)
    }
}

pub fn graph_attr(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        g: Some(g).into(),
        ..attr(name, AttributeType::GRAPH)
    }
}

pub fn tensor_attr(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        t: Some(t).into(),
        ..attr(name, AttributeType::TENSOR)
    }
}

/// An int64 tensor with its values.
pub fn ints(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: INT64,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A float tensor with dims and no data (flopscope reads only the dims).
pub fn weights(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: FLOAT,
        ..Default::default()
    }
}

/// `t` with its data in an external file: `location`, and the byte range when given.
pub fn external(mut t: TensorProto, entries: &[(&str, &str)]) -> TensorProto {
    t.data_location = EnumOrUnknown::new(DataLocation::EXTERNAL);
    t.external_data = entries
        .iter()
        .map(|&(key, value)| StringStringEntryProto {
            key: key.to_owned(),
            value: value.to_owned(),
            ..Default::default()
        })
        .collect();
    t
}

/// A graph.
pub fn graph(
    name: &str,
    node: Vec<NodeProto>,
    input: Vec<ValueInfoProto>,
    output: Vec<ValueInfoProto>,
    value_info: Vec<ValueInfoProto>,
) -> GraphProto {
    GraphProto {
        name: name.to_owned(),
        node,
        input,
        output,
        value_info,
        ..Default::default()
    }
}

/// `g` with these initializers.
pub fn with_init(mut g: GraphProto, init: Vec<TensorProto>) -> GraphProto {
    g.initializer = init;
    g
}

/// The opset imports of a model: (domain, version).
pub fn opsets(opsets: &[(&str, i64)]) -> Vec<OperatorSetIdProto> {
    opsets
        .iter()
        .map(|&(domain, version)| OperatorSetIdProto {
            domain: domain.to_owned(),
            version,
            ..Default::default()
        })
        .collect()
}

/// A serialized IR 8 model importing `opsets` (domain, version).
pub fn model(opset_imports: &[(&str, i64)], graph: GraphProto) -> protobuf::Result<Vec<u8>> {
    ModelProto {
        ir_version: 8,
        opset_import: opsets(opset_imports),
        producer_name: "flopscope xtask".to_owned(),
        graph: Some(graph).into(),
        ..Default::default()
    }
    .write_to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_round_trips_through_the_protobuf() {
        let n = with_attrs(
            node("r", "Relu", "", &["x"], &["y"]),
            vec![int_attr("k", 3)],
        );
        let g = with_init(
            graph(
                "g",
                vec![n],
                vec![tensor_value("x", FLOAT, Some(&["batch", "8"]))],
                vec![value("y", None)],
                vec![],
            ),
            vec![weights("w", &[8, 8])],
        );
        let bytes = model(&[("", 17)], g).expect("bytes");
        let back = ModelProto::parse_from_bytes(&bytes).expect("a model");
        assert_eq!(back.ir_version, 8);
        let g = back.graph.as_ref().expect("a graph");
        assert_eq!(g.node[0].attribute[0].i, 3);
        let shape = g.input[0].type_.tensor_type().shape.dim.clone();
        assert_eq!(shape[0].dim_param(), "batch");
        assert_eq!(shape[1].dim_value(), 8);
        assert_eq!(g.initializer[0].dims, [8, 8]);
    }
}
