//! The graph IR of flopscope: graphs, nodes, values, tensor types, small constant tensors, and
//! the symbolic integer algebra ([`Dim`]) that shapes and costs are written in.
//!
//! This crate knows nothing of ONNX or protobuf: the frontend (`flopscope-onnx`) lowers a file
//! into these types, and the engine (`flopscope-counters`) reads them.

mod dim;
mod domain;
mod dtype;
mod graph;
mod tensor;

pub use dim::{Dim, DimError, GrowthTerm, ParseDimError};
pub use domain::{
    DEFAULT_DOMAIN_NAME, display_domain, domain_key, is_default_domain, op_label, same_domain,
};
pub use dtype::DType;
pub use graph::{
    Attr, AttrError, DeclaredType, FromAttr, Function, Graph, Model, Node, NodeId, Value, ValueDef,
    ValueId,
};
pub use tensor::{
    ConstTensor, ConstValue, DecodeError, Elements, SequenceType, ShapeDisplay, Storage,
    TensorType, TensorValue, ValueType,
};
