//! The ONNX frontend: maps a model file, decodes it zero-copy with lean prost messages, and
//! lowers it into the IR of `flopscope-ir`.
//!
//! Weight bytes are never copied or read: initializers keep `Bytes` slices of the mapped file
//! and only their dims and dtype are looked at; small integer tensors are decoded later, when
//! shape inference asks for them. External data files are never opened.
//!
//! This is the only crate that sees protobuf; [`write`] encodes the small one-op models of
//! `flopscope bench --calibrate`.

mod lower;
mod proto;
pub mod write;

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use flopscope_ir::{ConstValue, Model};
use prost::Message;

/// Why a model could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the file is empty, not an ONNX model", path.display())]
    Empty { path: PathBuf },
    #[error(
        "{}: not a valid ONNX model (protobuf decoding failed: {})",
        path.display(),
        decode_message(error)
    )]
    Decode {
        path: PathBuf,
        /// Not a `source`: the message already gives it, in a form that names the field path.
        error: prost::DecodeError,
    },
    #[error("{}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: ModelError,
    },
}

/// prost's message for a decoding error, made readable: its field path (innermost first, up to
/// 100 entries when messages nest too deep) is printed outermost first and cut to its ends.
fn decode_message(e: &prost::DecodeError) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    // Path entries are `Message.field`; what follows them is the description.
    let is_entry = |s: &str| {
        s.split_once('.').is_some_and(|(m, f)| {
            !m.is_empty()
                && !f.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'#'))
        })
    };
    let parts: Vec<&str> = text.split(": ").collect();
    let n = parts
        .iter()
        .take_while(|p| is_entry(p))
        .count()
        .min(parts.len() - 1);
    let mut path: Vec<&str> = parts[..n].to_vec();
    path.reverse();
    let mut description = parts[n..].join(": ");
    if description == "recursion limit reached" {
        description =
            "messages are nested too deep (more than 100 levels, the decoder's recursion limit)"
                .into();
    }
    match path.len() {
        0 => description,
        1..=6 => format!("{description}, at {}", path.join(" > ")),
        len => format!(
            "{description}, at {} > ({} more) > {}",
            path[..3].join(" > "),
            len - 5,
            path[len - 2..].join(" > ")
        ),
    }
}

/// A structural problem in a decoded model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the model has no graph (is this an ONNX model?)")]
    NoGraph,
    #[error("the model's ir_version {0} is not a valid ONNX IR version")]
    BadIrVersion(i64),
    #[error("opset import for domain `{domain}` has version {version}, which is not valid")]
    BadOpsetVersion { domain: String, version: i64 },
    #[error("opset import for domain `{0}` appears twice")]
    DuplicateOpset(String),
    #[error("graph `{graph}`: value `{value}` is defined more than once")]
    DuplicateValue { graph: String, value: String },
    #[error("graph `{graph}`: node `{node}` ({op_type}) reads `{value}`, which nothing defines")]
    UndefinedValue {
        graph: String,
        node: String,
        op_type: String,
        value: String,
    },
    #[error("graph `{graph}`: output `{value}` is not defined by any input, initializer or node")]
    UndefinedOutput { graph: String, value: String },
    #[error("graph `{graph}`: node #{index} has no op_type")]
    MissingOpType { graph: String, index: usize },
    #[error("tensor `{name}`: external data `{key}` is `{value}`, not a byte count")]
    BadExternalData {
        name: String,
        key: String,
        value: String,
    },
    #[error("tensor `{name}` has element type {code}, which ONNX does not define")]
    UnknownDtype { name: String, code: i32 },
    #[error(
        "value `{value}`: dim_param `{param}` is too large an expression (its expansion \
         overflows)"
    )]
    DimParamOverflow { value: String, param: String },
    #[error("tensor `{name}` has a negative dim {dim}")]
    NegativeDim { name: String, dim: i64 },
    #[error("node `{node}`: attribute #{index} has no name")]
    UnnamedAttribute { node: String, index: usize },
    #[error("node `{node}`: attribute `{attr}` has type {code}, which ONNX does not define")]
    BadAttributeType {
        node: String,
        attr: String,
        code: i32,
    },
    #[error("node `{node}`: attribute `{attr}` appears twice")]
    DuplicateAttribute { node: String, attr: String },
    #[error(
        "subgraphs are nested more than {limit} deep (at graph `{graph}`); flopscope refuses \
         deeper nesting"
    )]
    TooDeep { graph: String, limit: usize },
}

/// Loads a model from a file, memory-mapping it.
pub fn load(path: impl AsRef<Path>) -> Result<Model, LoadError> {
    let path = path.as_ref();
    load_bytes(map_file(path)?, path)
}

/// What kind of value a serialized `.pb` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A `TensorProto`.
    Tensor,
    /// A `SequenceProto`.
    Sequence,
    /// An `OptionalProto`.
    Optional,
}

/// Loads one serialized value (a test input such as `input_0.pb`, or `--input-value`): its
/// name (possibly empty) and the value, whose large payloads stay slices of the mapped file.
pub fn load_value(
    path: impl AsRef<Path>,
    kind: ValueKind,
) -> Result<(String, ConstValue), LoadError> {
    let path = path.as_ref();
    let bytes = map_file(path)?;
    let decode_err = |error| LoadError::Decode {
        path: path.to_owned(),
        error,
    };
    let invalid = |source| LoadError::Invalid {
        path: path.to_owned(),
        source,
    };
    match kind {
        ValueKind::Tensor => {
            let t = proto::TensorProto::decode(bytes).map_err(decode_err)?;
            let (name, t) = lower::lower_tensor(t).map_err(invalid)?;
            Ok((name, ConstValue::Tensor(t)))
        }
        ValueKind::Sequence => {
            let s = proto::SequenceProto::decode(bytes).map_err(decode_err)?;
            let name = s.name.clone().unwrap_or_default();
            Ok((name, lower::lower_sequence(s).map_err(invalid)?))
        }
        ValueKind::Optional => {
            let o = proto::OptionalProto::decode(bytes).map_err(decode_err)?;
            let name = o.name.clone().unwrap_or_default();
            Ok((name, lower::lower_optional(o).map_err(invalid)?))
        }
    }
}

/// Maps a file into memory as `Bytes` (an empty file is returned as empty bytes).
fn map_file(path: &Path) -> Result<Bytes, LoadError> {
    let open_err = |source| LoadError::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(open_err(std::io::Error::other("it is a directory")));
    }
    if meta.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the map is read-only. If another process truncates the file while we read it,
    // reading past the new end raises SIGBUS; that is the documented limitation of every
    // mmap-based reader, accepted here for zero-copy access to multi-gigabyte models.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(open_err)?;
    Ok(Bytes::from_owner(map))
}

/// Loads a model from bytes already in memory; `path` is used in error messages only.
pub fn load_bytes(bytes: Bytes, path: &Path) -> Result<Model, LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_owned(),
        });
    }
    let proto = proto::ModelProto::decode(bytes).map_err(|error| LoadError::Decode {
        path: path.to_owned(),
        error,
    })?;
    lower::lower_model(proto).map_err(|source| LoadError::Invalid {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod decode_error_tests {
    use super::*;

    #[test]
    fn a_truncated_model_names_where_decoding_stopped() {
        // A ModelProto whose field 7 (graph) claims 50 bytes but has 2.
        let bytes = Bytes::from_static(&[0x3a, 50, 0x0a, 0x00]);
        let err = load_bytes(bytes, Path::new("t.onnx")).expect_err("truncated");
        let text = err.to_string();
        assert!(text.starts_with("t.onnx: not a valid ONNX model"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn long_field_paths_keep_both_ends() {
        // Nest a graph attribute's subgraph 40 times (3 messages a level): deeper than prost's recursion limit.
        let mut inner: Vec<u8> = Vec::new();
        for _ in 0..40 {
            // AttributeProto { g (6): GraphProto { node (1): NodeProto { attribute (5): inner } } }
            let node = wrap(5, &inner);
            let graph = wrap(1, &node);
            inner = wrap(6, &graph);
        }
        let node = wrap(5, &inner);
        let graph = wrap(1, &node);
        let model = wrap(7, &graph);
        let err = load_bytes(Bytes::from(model), Path::new("deep.onnx")).expect_err("too deep");
        let text = err.to_string();
        assert!(text.contains("nested too deep"), "{text}");
        assert!(text.contains("more) >"), "{text}");
        assert!(text.len() < 400, "{text}");
    }

    fn wrap(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2];
        let mut len = payload.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(payload);
        out
    }
}
