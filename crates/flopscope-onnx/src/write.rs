//! Writing small models: the one-op graphs `flopscope bench --calibrate` runs to measure a
//! machine's compute and memory peaks. Only what such a model needs: typed inputs and outputs
//! with fixed shapes, nodes without attributes, one opset.

use flopscope_ir::DType;
use prost::Message;

use crate::proto;

/// A named value with a fixed shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<i64>,
}

impl ValueSpec {
    pub fn new(name: &str, dtype: DType, shape: &[i64]) -> ValueSpec {
        ValueSpec {
            name: name.to_owned(),
            dtype,
            shape: shape.to_vec(),
        }
    }
}

/// A node of the default domain: op type, input names, output names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

fn value_info(v: &ValueSpec) -> proto::ValueInfoProto {
    proto::ValueInfoProto {
        name: Some(v.name.clone()),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::TensorType(
                proto::type_proto::Tensor {
                    elem_type: Some(v.dtype.code()),
                    shape: Some(proto::TensorShapeProto {
                        dim: v
                            .shape
                            .iter()
                            .map(|&d| proto::Dimension {
                                value: Some(proto::dimension::Value::DimValue(d)),
                            })
                            .collect(),
                    }),
                },
            )),
        }),
    }
}

/// A float32 constant of the graph: every element `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantSpec {
    pub name: String,
    pub shape: Vec<i64>,
    pub value: f32,
}

/// A serialized IR 8 model of the default domain at `opset`.
pub fn model_bytes(
    name: &str,
    opset: i64,
    inputs: &[ValueSpec],
    outputs: &[ValueSpec],
    nodes: &[NodeSpec],
) -> Vec<u8> {
    model_with_constants(name, opset, inputs, outputs, nodes, &[])
}

/// [`model_bytes`] with float32 constants (initializers).
pub fn model_with_constants(
    name: &str,
    opset: i64,
    inputs: &[ValueSpec],
    outputs: &[ValueSpec],
    nodes: &[NodeSpec],
    constants: &[ConstantSpec],
) -> Vec<u8> {
    let graph = proto::GraphProto {
        name: Some(name.to_owned()),
        node: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| proto::NodeProto {
                name: Some(format!("{}_{i}", n.op_type)),
                op_type: Some(n.op_type.clone()),
                input: n.inputs.clone(),
                output: n.outputs.clone(),
                ..Default::default()
            })
            .collect(),
        input: inputs.iter().map(value_info).collect(),
        output: outputs.iter().map(value_info).collect(),
        initializer: constants
            .iter()
            .map(|c| {
                let count: i64 = c.shape.iter().product();
                let raw: Vec<u8> = (0..count.max(0))
                    .flat_map(|_| c.value.to_le_bytes())
                    .collect();
                proto::TensorProto {
                    name: Some(c.name.clone()),
                    dims: c.shape.clone(),
                    data_type: Some(DType::Float32.code()),
                    raw_data: Some(bytes::Bytes::from(raw)),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    encode_model(opset, graph)
}

/// A serialized IR 8 model of the default domain at `opset` around `graph`.
fn encode_model(opset: i64, graph: proto::GraphProto) -> Vec<u8> {
    proto::ModelProto {
        ir_version: Some(8),
        opset_import: vec![proto::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        producer_name: Some("flopscope".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        functions: Vec::new(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_model_reads_back() {
        let f = |n: &str| ValueSpec::new(n, DType::Float32, &[4, 8]);
        let bytes = model_bytes(
            "add",
            17,
            &[f("a"), f("b")],
            &[f("c")],
            &[NodeSpec {
                op_type: "Add".into(),
                inputs: vec!["a".into(), "b".into()],
                outputs: vec!["c".into()],
            }],
        );
        let model =
            crate::load_bytes(bytes::Bytes::from(bytes), std::path::Path::new("add.onnx")).unwrap();
        assert_eq!(model.graph.nodes.len(), 1);
        assert_eq!(model.graph.inputs.len(), 2);
        assert_eq!(model.opsets.get(""), Some(&17));

        let bytes = model_with_constants(
            "matmul",
            17,
            &[f("a")],
            &[ValueSpec::new("c", DType::Float32, &[4, 2])],
            &[NodeSpec {
                op_type: "MatMul".into(),
                inputs: vec!["a".into(), "w".into()],
                outputs: vec!["c".into()],
            }],
            &[ConstantSpec {
                name: "w".into(),
                shape: vec![8, 2],
                value: 0.5,
            }],
        );
        let model =
            crate::load_bytes(bytes::Bytes::from(bytes), std::path::Path::new("mm.onnx")).unwrap();
        let w = model.graph.find_value("w").unwrap();
        let flopscope_ir::ValueDef::Initializer(t) = &model.graph.value(w).def else {
            panic!("w is a constant");
        };
        assert_eq!(t.dims, vec![8, 2]);
        let values = t.decode(16).unwrap().unwrap().as_f64s().unwrap();
        assert_eq!(values, vec![0.5; 16]);
    }
}
