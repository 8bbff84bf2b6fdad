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

/// A serialized IR 8 model of the default domain at `opset`.
pub fn model_bytes(
    name: &str,
    opset: i64,
    inputs: &[ValueSpec],
    outputs: &[ValueSpec],
    nodes: &[NodeSpec],
) -> Vec<u8> {
    let model = proto::ModelProto {
        ir_version: Some(8),
        opset_import: vec![proto::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        producer_name: Some("flopscope".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(proto::GraphProto {
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
            ..Default::default()
        }),
        functions: Vec::new(),
    };
    model.encode_to_vec()
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
    }
}
