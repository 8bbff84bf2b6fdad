//! Graphs, nodes, values and attributes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{ConstTensor, DType, Dim, display_domain};

/// Index of a value in its [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// Index of a node in its [`Graph`] (file order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A type as the model declares it; any part may be unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclaredType {
    Tensor {
        dtype: Option<DType>,
        /// `None`: rank unknown; a `None` dim: size unknown (neither a number nor a name).
        shape: Option<Vec<Option<Dim>>>,
    },
    Sequence(Box<DeclaredType>),
    Optional(Box<DeclaredType>),
    /// Maps, sparse tensors and types this IR does not model.
    Other(String),
}

/// Where a value comes from.
#[derive(Debug, Clone)]
pub enum ValueDef {
    /// A graph input the caller provides.
    Input,
    /// A constant stored in the model.
    Initializer(ConstTensor),
    /// Output `output` of node `node`.
    Node { node: NodeId, output: usize },
    /// Not defined in this graph: a subgraph's reference to a value of an enclosing scope.
    Outer,
}

/// A named value of a graph.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    /// The type the model declares (graph input/output or `value_info`), if any.
    pub declared: Option<DeclaredType>,
    pub def: ValueDef,
}

/// An attribute value.
#[derive(Debug, Clone)]
pub enum Attr {
    Float(f32),
    Int(i64),
    String(String),
    Tensor(ConstTensor),
    Graph(Arc<Graph>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    Tensors(Vec<ConstTensor>),
    Graphs(Vec<Arc<Graph>>),
    /// A type (`Optional`'s `type` attribute).
    Type(DeclaredType),
    /// Inside a function body: the value of the calling node's attribute of this name.
    Ref(String),
    /// Kinds this IR keeps only by name (sparse tensors, type protos).
    Other(&'static str),
}

impl Attr {
    /// The kind's name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Attr::Float(_) => "a float",
            Attr::Int(_) => "an int",
            Attr::String(_) => "a string",
            Attr::Tensor(_) => "a tensor",
            Attr::Graph(_) => "a graph",
            Attr::Floats(_) => "a list of floats",
            Attr::Ints(_) => "a list of ints",
            Attr::Strings(_) => "a list of strings",
            Attr::Tensors(_) => "a list of tensors",
            Attr::Graphs(_) => "a list of graphs",
            Attr::Type(_) => "a type",
            Attr::Ref(_) => "a reference to a function attribute",
            Attr::Other(kind) => kind,
        }
    }
}

/// An attribute that is missing or of the wrong kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    #[error("attribute `{attr}` is required")]
    Missing { attr: String },
    #[error("attribute `{attr}` is {found}, expected {expected}")]
    WrongKind {
        attr: String,
        expected: &'static str,
        found: &'static str,
    },
}

/// Types an attribute can be read as, with [`Node::attr`].
pub trait FromAttr<'a>: Sized {
    const EXPECTED: &'static str;
    fn from_attr(attr: &'a Attr) -> Option<Self>;
}

macro_rules! from_attr {
    ($ty:ty, $expected:literal, $pat:pat => $out:expr) => {
        impl<'a> FromAttr<'a> for $ty {
            const EXPECTED: &'static str = $expected;
            fn from_attr(attr: &'a Attr) -> Option<Self> {
                match attr {
                    $pat => Some($out),
                    _ => None,
                }
            }
        }
    };
}

from_attr!(i64, "an int", Attr::Int(v) => *v);
from_attr!(f32, "a float", Attr::Float(v) => *v);
from_attr!(&'a str, "a string", Attr::String(v) => v.as_str());
from_attr!(&'a [i64], "a list of ints", Attr::Ints(v) => v.as_slice());
from_attr!(&'a [f32], "a list of floats", Attr::Floats(v) => v.as_slice());
from_attr!(&'a [String], "a list of strings", Attr::Strings(v) => v.as_slice());
from_attr!(&'a ConstTensor, "a tensor", Attr::Tensor(v) => v);
from_attr!(&'a Graph, "a graph", Attr::Graph(v) => v.as_ref());
from_attr!(&'a DeclaredType, "a type", Attr::Type(v) => v);

/// One operation of a graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// The name in the file; may be empty (see [`Node::display_name`]).
    pub name: String,
    pub op_type: String,
    /// The operator set domain; the default domain (`ai.onnx`) is the empty string.
    pub domain: String,
    /// `None` for an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    /// `None` for an omitted optional output.
    pub outputs: Vec<Option<ValueId>>,
    /// Sorted by name, unique.
    pub attrs: Vec<(String, Attr)>,
    /// The module scopes the exporter recorded for the node, outermost first (PyTorch's dynamo
    /// exporter: `["m", "m.encoder", "m.encoder.layer.0"]`); empty when it recorded none.
    pub scope: Vec<String>,
}

impl Node {
    /// The raw attribute, if present.
    pub fn raw_attr(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.attrs[i].1)
    }

    /// An optional attribute of type `T`; an error if present with another kind.
    pub fn attr<'a, T: FromAttr<'a>>(&'a self, name: &str) -> Result<Option<T>, AttrError> {
        match self.raw_attr(name) {
            None => Ok(None),
            Some(a) => T::from_attr(a)
                .map(Some)
                .ok_or_else(|| AttrError::WrongKind {
                    attr: name.to_owned(),
                    expected: T::EXPECTED,
                    found: a.kind(),
                }),
        }
    }

    /// An attribute with a default for when it is absent.
    pub fn attr_or<'a, T: FromAttr<'a>>(&'a self, name: &str, default: T) -> Result<T, AttrError> {
        Ok(self.attr(name)?.unwrap_or(default))
    }

    /// A required attribute.
    pub fn req_attr<'a, T: FromAttr<'a>>(&'a self, name: &str) -> Result<T, AttrError> {
        self.attr(name)?.ok_or_else(|| AttrError::Missing {
            attr: name.to_owned(),
        })
    }

    /// Domain as users write it: `ai.onnx` for the default domain.
    pub fn domain_name(&self) -> &str {
        display_domain(&self.domain)
    }
}

/// A graph: values, nodes in file order, and the graph's interface.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    /// Inputs the caller provides (initializers that the file also lists as inputs are not
    /// among them: they are constants).
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// Display names of the nodes: the node's name, or `<op_type>_<index>` when it has none.
    /// Unique within the graph.
    pub node_names: Vec<String>,
}

impl Graph {
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The name to show for a node.
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.node_names[id.index()]
    }

    /// Finds a value by name (linear; for tools and tests, not hot paths).
    pub fn find_value(&self, name: &str) -> Option<ValueId> {
        self.values
            .iter()
            .position(|v| v.name == name)
            .map(|i| ValueId(i as u32))
    }

    /// Fills [`Graph::node_names`]: the node's own name, or `<op_type>_<index>` when it is empty,
    /// with a `#n` suffix if a name repeats.
    pub fn assign_node_names(&mut self) {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        self.node_names = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let base = if n.name.is_empty() {
                    format!("{}_{i}", n.op_type)
                } else {
                    n.name.clone()
                };
                let count = seen.entry(base.clone()).or_insert(0);
                *count += 1;
                if *count == 1 {
                    base
                } else {
                    format!("{base}#{count}")
                }
            })
            .collect();
    }
}

/// A model-local function: nodes of `domain::name` run its body.
#[derive(Debug, Clone, Default)]
pub struct Function {
    pub domain: String,
    pub name: String,
    /// The body: its inputs and outputs are the function's formal inputs and outputs, in order.
    pub body: Graph,
    /// Attributes the caller may set; those with a default carry it.
    pub attributes: Vec<(String, Option<Attr>)>,
    /// The function's own opset imports (they override the model's for its body).
    pub opsets: BTreeMap<String, i64>,
}

/// A whole model: the main graph and what it was built with.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub ir_version: i64,
    pub producer_name: String,
    pub producer_version: String,
    /// Operator set version per domain (the default domain is `""`).
    pub opsets: BTreeMap<String, i64>,
    pub graph: Graph,
    /// Model-local functions.
    pub functions: Vec<Function>,
}

impl Model {
    /// The opset version the model imports for a domain.
    pub fn opset(&self, domain: &str) -> Option<i64> {
        self.opsets.get(domain).copied()
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(attrs: Vec<(String, Attr)>) -> Node {
        Node {
            name: "conv1".into(),
            op_type: "Conv".into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attrs,
            scope: Vec::new(),
        }
    }

    #[test]
    fn typed_attribute_getters() {
        let n = node(vec![
            ("group".into(), Attr::Int(32)),
            ("pads".into(), Attr::Ints(vec![1, 1, 1, 1])),
        ]);
        assert_eq!(n.attr_or("group", 1i64), Ok(32));
        assert_eq!(n.attr_or("missing", 7i64), Ok(7));
        assert_eq!(n.req_attr::<&[i64]>("pads"), Ok(&[1i64, 1, 1, 1][..]));
        assert_eq!(
            n.req_attr::<i64>("pads"),
            Err(AttrError::WrongKind {
                attr: "pads".into(),
                expected: "an int",
                found: "a list of ints"
            })
        );
        assert_eq!(
            n.req_attr::<f32>("alpha"),
            Err(AttrError::Missing {
                attr: "alpha".into()
            })
        );
        assert_eq!(n.domain_name(), "ai.onnx");
    }

    #[test]
    fn node_names_are_unique_and_never_empty() {
        let mut g = Graph::default();
        for name in ["", "a", "a", ""] {
            let mut n = node(vec![]);
            n.name = name.into();
            g.nodes.push(n);
        }
        g.assign_node_names();
        assert_eq!(g.node_names, vec!["Conv_0", "a", "a#2", "Conv_3"]);
    }
}
