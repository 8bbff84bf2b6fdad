//! `cargo xtask strip-weights`: a copy of a model without its weight bytes.
//!
//! Every tensor whose payload is larger than a threshold loses its data and instead points at
//! an external data file that is never written. flopscope never opens external data, so the
//! stripped copy reports exactly what the original does, at a fraction of the size.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::{ModelProto, StringStringEntryProto, TensorProto};
use protobuf::{EnumOrUnknown, Message};

/// `TensorProto.DataType.STRING`: no fixed-size raw form, so it cannot be stored externally.
const STRING: i32 = 8;

/// Strips `input` into `output` and prints one line about it.
pub(crate) fn run(input: &Path, output: &Path, min_bytes: u64) -> Result<()> {
    let before =
        fs::read(input).with_context(|| format!("{}: cannot read the file", input.display()))?;
    let stripped = strip_model(&before, &weights_file_name(output)?, min_bytes)
        .with_context(|| input.display().to_string())?;
    fs::write(output, &stripped.bytes)
        .with_context(|| format!("{}: cannot write the file", output.display()))?;
    println!(
        "{}: stripped {} tensors, {} -> {} bytes",
        output.display(),
        stripped.tensors,
        before.len(),
        stripped.bytes.len()
    );
    Ok(())
}

/// The external data file a stripped model at `output` refers to: `<stem>.weights`.
pub(crate) fn weights_file_name(output: &Path) -> Result<String> {
    let stem = output
        .file_stem()
        .and_then(|stem| stem.to_str())
        .with_context(|| format!("{}: not a usable file name", output.display()))?;
    Ok(format!("{stem}.weights"))
}

/// A serialized stripped model.
#[derive(Debug)]
pub(crate) struct Stripped {
    pub(crate) bytes: Vec<u8>,
    /// How many tensors lost their payload.
    pub(crate) tensors: usize,
}

/// Strips every tensor of the serialized model `model` whose payload is larger than
/// `min_bytes`, pointing it at the external file `weights`.
///
/// Only the stripped tensors are re-encoded: every other byte is copied as it is, so
/// encoding details of the exporter (field order, packing, explicit defaults) survive.
pub(crate) fn strip_model(model: &[u8], weights: &str, min_bytes: u64) -> Result<Stripped> {
    // rust-protobuf accepts a model truncated inside its graph (a nested message ends at
    // EOF without checking its length), but the walk below notices.
    ModelProto::parse_from_bytes(model).context("not a valid ONNX model")?;
    let mut stripper = Stripper {
        weights,
        min_bytes,
        tensors: 0,
    };
    let bytes = stripper
        .message(Kind::Model, model)
        .context("not a valid ONNX model")?;
    Ok(Stripped {
        bytes: bytes.unwrap_or_else(|| model.to_vec()),
        tensors: stripper.tensors,
    })
}

/// The messages on the way from a model to its tensors.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Model,
    TrainingInfo,
    Function,
    Graph,
    Node,
    Attribute,
    Tensor,
}

impl Kind {
    /// What field `number` of this message holds, if it can lead to tensors (field numbers
    /// from onnx.proto).
    fn child(self, number: u64) -> Option<Kind> {
        use Kind::*;
        match (self, number) {
            // ModelProto.graph, TrainingInfoProto.{initialization, algorithm},
            // AttributeProto.{g, graphs}
            (Model, 7) | (TrainingInfo, 1 | 2) | (Attribute, 6 | 11) => Some(Graph),
            (Model, 20) => Some(TrainingInfo),
            (Model, 25) => Some(Function),
            // GraphProto.node, FunctionProto.node
            (Graph, 1) | (Function, 7) => Some(Node),
            (Node, 5) => Some(Attribute),
            // GraphProto.initializer, AttributeProto.{t, tensors}
            (Graph, 5) | (Attribute, 5 | 10) => Some(Tensor),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Stripper<'a> {
    weights: &'a str,
    min_bytes: u64,
    tensors: usize,
}

impl Stripper<'_> {
    /// Rewrites an encoded message of kind `kind`: `None` when nothing in it changed.
    fn message(&mut self, kind: Kind, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Kind::Tensor = kind {
            return self.tensor(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut changed = false;
        let mut rest = bytes;
        while !rest.is_empty() {
            let field = rest;
            let key = varint(&mut rest)?;
            let key_len = field.len() - rest.len();
            let (number, wire_type) = (key >> 3, key & 7);
            match kind.child(number) {
                Some(child) if wire_type == 2 => {
                    let len = varint(&mut rest)?;
                    let payload = take(&mut rest, len)?;
                    if let Some(payload) = self.message(child, payload)? {
                        out.extend_from_slice(&field[..key_len]);
                        put_varint(&mut out, payload.len() as u64);
                        out.extend_from_slice(&payload);
                        changed = true;
                        continue;
                    }
                }
                _ => skip_value(&mut rest, wire_type)?,
            }
            out.extend_from_slice(&field[..field.len() - rest.len()]);
        }
        Ok(changed.then_some(out))
    }

    fn tensor(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut tensor = TensorProto::parse_from_bytes(bytes)?;
        let external = tensor.data_location == EnumOrUnknown::new(DataLocation::EXTERNAL);
        if external || tensor.data_type == STRING || payload_bytes(&tensor) <= self.min_bytes {
            return Ok(None);
        }
        let length = byte_size(&tensor).with_context(|| format!("tensor `{}`", tensor.name))?;
        tensor.raw_data.clear();
        tensor.float_data.clear();
        tensor.int32_data.clear();
        tensor.int64_data.clear();
        tensor.double_data.clear();
        tensor.uint64_data.clear();
        tensor.string_data.clear();
        tensor.data_location = EnumOrUnknown::new(DataLocation::EXTERNAL);
        tensor.external_data = vec![
            entry("location", self.weights),
            entry("offset", "0"),
            entry("length", &length.to_string()),
        ];
        self.tensors += 1;
        Ok(Some(tensor.write_to_bytes()?))
    }
}

/// Reads a base-128 varint off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Result<u64> {
    let mut value = 0;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = bytes.split_first() else {
            bail!("truncated protobuf varint");
        };
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("protobuf varint longer than 10 bytes")
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Takes `len` bytes off the front of `bytes`.
fn take<'a>(bytes: &mut &'a [u8], len: u64) -> Result<&'a [u8]> {
    let len = usize::try_from(len).ok().filter(|&len| len <= bytes.len());
    let Some(len) = len else {
        bail!("truncated protobuf field");
    };
    let (taken, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(taken)
}

/// Skips the value of a field of wire type `wire_type`.
fn skip_value(bytes: &mut &[u8], wire_type: u64) -> Result<()> {
    match wire_type {
        0 => varint(bytes).map(drop),
        1 => take(bytes, 8).map(drop),
        2 => {
            let len = varint(bytes)?;
            take(bytes, len).map(drop)
        }
        5 => take(bytes, 4).map(drop),
        _ => bail!("unsupported protobuf wire type {wire_type}"),
    }
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.to_owned(),
        value: value.to_owned(),
        ..Default::default()
    }
}

/// The bytes of data a tensor carries, whichever field holds them.
fn payload_bytes(tensor: &TensorProto) -> u64 {
    let len = |n: usize, size: u64| n as u64 * size;
    len(tensor.raw_data.len(), 1)
        + len(tensor.float_data.len(), 4)
        + len(tensor.int32_data.len(), 4)
        + len(tensor.int64_data.len(), 8)
        + len(tensor.double_data.len(), 8)
        + len(tensor.uint64_data.len(), 8)
        + tensor
            .string_data
            .iter()
            .map(|s| s.len() as u64)
            .sum::<u64>()
}

/// The size of the tensor's data in raw (external) form.
fn byte_size(tensor: &TensorProto) -> Result<u64> {
    let Some(bits) = bits_per_element(tensor.data_type) else {
        bail!("unsupported data type {}", tensor.data_type);
    };
    let mut elements: u64 = 1;
    for &dim in &tensor.dims {
        let Ok(dim) = u64::try_from(dim) else {
            bail!("negative dimension {dim}");
        };
        elements = elements.checked_mul(dim).context("too many elements")?;
    }
    Ok(elements
        .checked_mul(bits)
        .context("too many elements")?
        .div_ceil(8))
}

/// Bits per element of a fixed-size `TensorProto.DataType`; sub-byte types are packed.
fn bits_per_element(data_type: i32) -> Option<u64> {
    Some(match data_type {
        // UINT2, INT2
        25 | 26 => 2,
        // UINT4, INT4, FLOAT4E2M1
        21..=23 => 4,
        // FLOAT6E2M3, FLOAT6E3M2
        27 | 28 => 6,
        // UINT8, INT8, BOOL, the FLOAT8 variants
        2 | 3 | 9 | 17..=20 | 24 => 8,
        // UINT16, INT16, FLOAT16, BFLOAT16
        4 | 5 | 10 | 16 => 16,
        // FLOAT, INT32, UINT32
        1 | 6 | 12 => 32,
        // INT64, DOUBLE, UINT64, COMPLEX64
        7 | 11 | 13 | 14 => 64,
        // COMPLEX128
        15 => 128,
        _ => return None,
    })
}

/// The arguments of `cargo xtask strip-weights`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model to read.
    pub(crate) input: std::path::PathBuf,
    /// Where to write the stripped model.
    pub(crate) output: std::path::PathBuf,
    /// Strip only tensors whose payload is larger than this many bytes.
    #[arg(long, default_value_t = 1024)]
    pub(crate) min_bytes: u64,
}

/// `cargo xtask strip-weights`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        input,
        output,
        min_bytes,
    } = args;
    crate::strip::run(&input, &output, min_bytes)
}

#[cfg(test)]
mod tests {
    use onnx_protobuf::attribute_proto::AttributeType;
    use onnx_protobuf::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
    use protobuf::{EnumOrUnknown, Message};

    use super::*;

    fn float_tensor(name: &str, dims: &[i64]) -> TensorProto {
        let n: i64 = dims.iter().product();
        TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type: 1,
            float_data: vec![0.5; n as usize],
            ..Default::default()
        }
    }

    fn tensor_attr(tensor: TensorProto) -> AttributeProto {
        AttributeProto {
            name: "value".to_owned(),
            type_: EnumOrUnknown::new(AttributeType::TENSOR),
            t: Some(tensor).into(),
            ..Default::default()
        }
    }

    #[test]
    fn strips_large_tensors_everywhere_and_keeps_small_ones() {
        let constant = |name: &str, dims: &[i64]| NodeProto {
            op_type: "Constant".to_owned(),
            output: vec![name.to_owned()],
            attribute: vec![tensor_attr(float_tensor(name, dims))],
            ..Default::default()
        };
        let branch = GraphProto {
            name: "then".to_owned(),
            initializer: vec![float_tensor("sub_w", &[16, 17])],
            node: vec![constant("sub_c", &[300])],
            ..Default::default()
        };
        let graph = GraphProto {
            name: "main".to_owned(),
            initializer: vec![float_tensor("w", &[8, 64]), float_tensor("b", &[8])],
            node: vec![
                constant("c", &[2, 3, 100]),
                NodeProto {
                    op_type: "If".to_owned(),
                    attribute: vec![AttributeProto {
                        name: "then_branch".to_owned(),
                        type_: EnumOrUnknown::new(AttributeType::GRAPH),
                        g: Some(branch).into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: 8,
            graph: Some(graph).into(),
            ..Default::default()
        };

        let stripped = strip_model(&model.write_to_bytes().unwrap(), "m.weights", 1024).unwrap();
        assert_eq!(stripped.tensors, 4);
        let out = ModelProto::parse_from_bytes(&stripped.bytes).unwrap();
        let graph = out.graph.as_ref().unwrap();
        let w = &graph.initializer[0];
        assert_eq!((w.dims.as_slice(), w.data_type), (&[8, 64][..], 1));
        assert!(w.float_data.is_empty());
        assert_eq!(w.data_location, EnumOrUnknown::new(DataLocation::EXTERNAL));
        let entries: Vec<_> = w
            .external_data
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            entries,
            [
                ("location", "m.weights"),
                ("offset", "0"),
                ("length", "2048")
            ]
        );
        // 32 bytes: kept.
        assert_eq!(graph.initializer[1].float_data.len(), 8);
        let constant = graph.node[0].attribute[0].t.as_ref().unwrap();
        assert_eq!(constant.external_data[2].value, "2400");
        let branch = graph.node[1].attribute[0].g.as_ref().unwrap();
        assert!(branch.initializer[0].float_data.is_empty());
        assert!(branch.node[0].attribute[0].t.float_data.is_empty());
    }

    #[test]
    fn keeps_every_other_byte() {
        let model = ModelProto {
            ir_version: 8,
            doc_string: "doc".to_owned(),
            graph: Some(GraphProto {
                initializer: vec![float_tensor("w", &[1000]), float_tensor("b", &[4])],
                ..Default::default()
            })
            .into(),
            ..Default::default()
        };
        let bytes = model.write_to_bytes().unwrap();
        let same = strip_model(&bytes, "m.weights", u64::MAX).unwrap();
        assert_eq!((same.tensors, same.bytes), (0, bytes.clone()));

        let stripped = strip_model(&bytes, "m.weights", 1024).unwrap();
        let mut expected = model;
        let w = &mut expected.graph.as_mut().unwrap().initializer[0];
        w.float_data.clear();
        w.data_location = EnumOrUnknown::new(DataLocation::EXTERNAL);
        w.external_data = vec![
            entry("location", "m.weights"),
            entry("offset", "0"),
            entry("length", "4000"),
        ];
        assert_eq!(stripped.tensors, 1);
        assert_eq!(stripped.bytes, expected.write_to_bytes().unwrap());
    }

    #[test]
    fn rejects_garbage_and_truncated_models() {
        assert!(strip_model(b"this is not an ONNX model", "m.weights", 0).is_err());
        let model = ModelProto {
            graph: Some(GraphProto {
                initializer: vec![float_tensor("w", &[1000])],
                ..Default::default()
            })
            .into(),
            ..Default::default()
        };
        let bytes = model.write_to_bytes().unwrap();
        assert!(strip_model(&bytes[..bytes.len() / 2], "m.weights", 0).is_err());
    }

    #[test]
    fn byte_sizes() {
        let tensor = |data_type, dims: &[i64]| TensorProto {
            data_type,
            dims: dims.to_vec(),
            ..Default::default()
        };
        assert_eq!(byte_size(&tensor(1, &[3, 4])).unwrap(), 48);
        assert_eq!(byte_size(&tensor(22, &[3, 3])).unwrap(), 5);
        assert_eq!(byte_size(&tensor(7, &[])).unwrap(), 8);
        assert!(byte_size(&tensor(0, &[2])).is_err());
        assert!(byte_size(&tensor(1, &[-1])).is_err());
    }
}
