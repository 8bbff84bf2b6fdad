//! Lowering of decoded protobuf messages into the IR.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use bytes::Bytes;
use flopscope_ir::{
    Attr, ConstTensor, ConstValue, DType, DeclaredType, Dim, Function, Graph, Model, Node, NodeId,
    Storage, Value, ValueDef, ValueId,
};

use crate::ModelError;
use crate::proto::{self, attribute_type as at, type_proto};

/// How deep subgraphs (If/Loop/Scan bodies) may nest. prost itself refuses messages nested
/// more than 100 levels, which bounds this well before; the check keeps the limit explicit.
const MAX_GRAPH_DEPTH: usize = 64;

pub(crate) fn lower_model(p: proto::ModelProto) -> Result<Model, ModelError> {
    let ir_version = p.ir_version.unwrap_or(0);
    if ir_version < 1 {
        return Err(ModelError::BadIrVersion(ir_version));
    }
    let mut opsets = std::collections::BTreeMap::new();
    for import in p.opset_import {
        let domain = normalize_domain(import.domain.unwrap_or_default());
        let version = import.version.unwrap_or(0);
        if version < 1 {
            return Err(ModelError::BadOpsetVersion { domain, version });
        }
        if opsets.insert(domain.clone(), version).is_some() {
            return Err(ModelError::DuplicateOpset(domain));
        }
    }
    // IR versions before 3 had no opset imports: their operators are the first operator set.
    if ir_version < 3 && opsets.is_empty() {
        opsets.insert(String::new(), 1);
    }
    let graph = p.graph.ok_or(ModelError::NoGraph)?;
    let graph = lower_graph(graph, 0)?;
    let functions = p
        .functions
        .into_iter()
        .map(lower_function)
        .collect::<Result<_, _>>()?;
    Ok(Model {
        ir_version,
        producer_name: p.producer_name.unwrap_or_default(),
        producer_version: p.producer_version.unwrap_or_default(),
        opsets,
        graph,
        functions,
    })
}

/// A model-local function: its body becomes a graph whose inputs and outputs are the formal
/// parameters.
fn lower_function(f: proto::FunctionProto) -> Result<Function, ModelError> {
    let name = f.name.unwrap_or_default();
    let named = |n: &String| proto::ValueInfoProto {
        name: Some(n.clone()),
        r#type: None,
    };
    let body = proto::GraphProto {
        node: f.node,
        name: Some(name.clone()),
        input: f.input.iter().map(named).collect(),
        output: f.output.iter().map(named).collect(),
        value_info: f.value_info,
        ..Default::default()
    };
    let body = lower_graph(body, 1)?;
    let mut attributes: Vec<(String, Option<Attr>)> =
        f.attribute.into_iter().map(|a| (a, None)).collect();
    for (i, a) in f.attribute_proto.into_iter().enumerate() {
        let (attr_name, value) = lower_attr(a, &name, i, 1)?;
        attributes.push((attr_name, Some(value)));
    }
    let mut opsets = std::collections::BTreeMap::new();
    for import in f.opset_import {
        opsets.insert(
            normalize_domain(import.domain.unwrap_or_default()),
            import.version.unwrap_or(1),
        );
    }
    Ok(Function {
        domain: normalize_domain(f.domain.unwrap_or_default()),
        name,
        body,
        attributes,
        opsets,
    })
}

/// The IR keys the default domain as `""` (see [`flopscope_ir::domain_key`]).
fn normalize_domain(domain: String) -> String {
    flopscope_ir::domain_key(&domain).to_owned()
}

struct GraphBuilder {
    name: String,
    depth: usize,
    values: Vec<Value>,
    by_name: HashMap<String, ValueId>,
}

impl GraphBuilder {
    fn define(&mut self, name: String, def: ValueDef) -> Result<ValueId, ModelError> {
        let id = ValueId(self.values.len() as u32);
        match self.by_name.entry(name.clone()) {
            Entry::Occupied(_) => {
                return Err(ModelError::DuplicateValue {
                    graph: self.name.clone(),
                    value: name,
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(id);
            }
        }
        self.values.push(Value {
            name,
            declared: None,
            def,
        });
        Ok(id)
    }

    /// Resolves a name read by a node or listed as an output. In a subgraph, a name defined
    /// nowhere in it refers to an enclosing scope.
    fn resolve(&mut self, name: &str) -> Option<ValueId> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        if self.depth == 0 {
            return None;
        }
        let id = ValueId(self.values.len() as u32);
        self.by_name.insert(name.to_owned(), id);
        self.values.push(Value {
            name: name.to_owned(),
            declared: None,
            def: ValueDef::Outer,
        });
        Some(id)
    }
}

fn lower_graph(g: proto::GraphProto, depth: usize) -> Result<Graph, ModelError> {
    let name = g.name.unwrap_or_default();
    if depth > MAX_GRAPH_DEPTH {
        return Err(ModelError::TooDeep {
            graph: name,
            limit: MAX_GRAPH_DEPTH,
        });
    }
    let mut b = GraphBuilder {
        name,
        depth,
        values: Vec::new(),
        by_name: HashMap::new(),
    };

    for t in g.initializer {
        let (tname, tensor) = lower_tensor(t)?;
        b.define(tname, ValueDef::Initializer(tensor))?;
    }
    for s in g.sparse_initializer {
        let (tname, tensor) = lower_sparse(s)?;
        b.define(tname, ValueDef::Initializer(tensor))?;
    }

    // Before IR version 4 initializers were also listed as inputs; such an input is a constant
    // (its stored value is the one the model runs with), so it is not a caller-provided input.
    let mut inputs = Vec::new();
    let mut declared = Vec::new();
    let mut listed = std::collections::HashSet::new();
    for vi in g.input {
        let vname = vi.name.unwrap_or_default();
        if !listed.insert(vname.clone()) {
            return Err(ModelError::DuplicateValue {
                graph: b.name.clone(),
                value: vname,
            });
        }
        let id = match b.by_name.get(&vname) {
            Some(&id) => id,
            None => {
                let id = b.define(vname.clone(), ValueDef::Input)?;
                inputs.push(id);
                id
            }
        };
        if let Some(t) = vi.r#type {
            declared.push((id, lower_type(t, &vname)?));
        }
    }

    // Node outputs are defined before any input is resolved: the file order of nodes need not
    // be topological.
    for (index, n) in g.node.iter().enumerate() {
        for (output, oname) in n.output.iter().enumerate() {
            if !oname.is_empty() {
                let node = NodeId(index as u32);
                b.define(oname.clone(), ValueDef::Node { node, output })?;
            }
        }
    }

    let mut nodes = Vec::with_capacity(g.node.len());
    for (index, n) in g.node.into_iter().enumerate() {
        nodes.push(lower_node(&mut b, n, index)?);
    }

    let mut outputs = Vec::new();
    for vi in g.output {
        let vname = vi.name.unwrap_or_default();
        let id = b
            .resolve(&vname)
            .ok_or_else(|| ModelError::UndefinedOutput {
                graph: b.name.clone(),
                value: vname.clone(),
            })?;
        outputs.push(id);
        if let Some(t) = vi.r#type {
            declared.push((id, lower_type(t, &vname)?));
        }
    }

    for vi in g.value_info {
        let vname = vi.name.unwrap_or_default();
        if let (Some(&id), Some(t)) = (b.by_name.get(&vname), vi.r#type) {
            declared.push((id, lower_type(t, &vname)?));
        }
    }
    for (id, ty) in declared {
        // The first declaration wins: graph inputs and outputs come before value_info.
        let slot = &mut b.values[id.index()].declared;
        if slot.is_none() {
            *slot = Some(ty);
        }
    }

    let mut graph = Graph {
        name: b.name,
        values: b.values,
        nodes,
        inputs,
        outputs,
        node_names: Vec::new(),
    };
    graph.assign_node_names();
    Ok(graph)
}

fn lower_node(b: &mut GraphBuilder, n: proto::NodeProto, index: usize) -> Result<Node, ModelError> {
    let op_type = n.op_type.unwrap_or_default();
    if op_type.is_empty() {
        return Err(ModelError::MissingOpType {
            graph: b.name.clone(),
            index,
        });
    }
    let name = n.name.unwrap_or_default();
    let shown = if name.is_empty() {
        format!("{op_type}_{index}")
    } else {
        name.clone()
    };
    let mut inputs = Vec::with_capacity(n.input.len());
    for input in &n.input {
        if input.is_empty() {
            inputs.push(None);
            continue;
        }
        let id = b.resolve(input).ok_or_else(|| ModelError::UndefinedValue {
            graph: b.name.clone(),
            node: shown.clone(),
            op_type: op_type.clone(),
            value: input.clone(),
        })?;
        inputs.push(Some(id));
    }
    let outputs = n
        .output
        .iter()
        .map(|o| {
            if o.is_empty() {
                None
            } else {
                b.by_name.get(o).copied()
            }
        })
        .collect();
    let mut attrs = Vec::with_capacity(n.attribute.len());
    for (i, a) in n.attribute.into_iter().enumerate() {
        attrs.push(lower_attr(a, &shown, i, b.depth)?);
    }
    attrs.sort_by(|x: &(String, Attr), y| x.0.cmp(&y.0));
    if let Some(w) = attrs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ModelError::DuplicateAttribute {
            node: shown,
            attr: w[0].0.clone(),
        });
    }
    let scope = n
        .metadata_props
        .iter()
        .find(|m| m.key.as_deref() == Some("pkg.torch.onnx.name_scopes"))
        .and_then(|m| m.value.as_ref())
        .map(|v| module_scopes(&String::from_utf8_lossy(v)))
        .unwrap_or_default();
    Ok(Node {
        name,
        op_type,
        domain: normalize_domain(n.domain.unwrap_or_default()),
        inputs,
        outputs,
        attrs,
        scope,
    })
}

/// The module scopes of PyTorch's dynamo exporter metadata, a Python list of strings such as
/// `['', 'm', 'm.encoder', 'view_2']`: the non-empty entries except the last (the op itself).
/// torch's placeholder for a node outside every module (`_empty_nn_module_stack_from_…`) is
/// no module either.
fn module_scopes(list: &str) -> Vec<String> {
    let mut items: Vec<String> = list
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .collect();
    items.pop();
    items.retain(|s| !s.is_empty() && !s.starts_with("_empty_nn_module_stack"));
    items
}

fn lower_attr(
    a: proto::AttributeProto,
    node: &str,
    index: usize,
    depth: usize,
) -> Result<(String, Attr), ModelError> {
    let name = a.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(ModelError::UnnamedAttribute {
            node: node.to_owned(),
            index,
        });
    }
    if let Some(reference) = a.ref_attr_name.clone().filter(|r| !r.is_empty()) {
        return Ok((name, Attr::Ref(reference)));
    }
    // Models before IR version 2 may omit the type; it is then the one field that is set.
    let code = match a.r#type.unwrap_or(0) {
        0 => infer_attr_type(&a),
        c => c,
    };
    let attr = match code {
        at::FLOAT => Attr::Float(a.f.unwrap_or(0.0)),
        at::INT => Attr::Int(a.i.unwrap_or(0)),
        at::STRING => Attr::String(utf8(a.s.as_ref())),
        at::TENSOR => match a.t {
            Some(t) => Attr::Tensor(lower_tensor(t)?.1),
            None => Attr::Other("an empty tensor attribute"),
        },
        at::GRAPH => match a.g {
            Some(g) => Attr::Graph(Arc::new(lower_graph(g, depth + 1)?)),
            None => Attr::Other("an empty graph attribute"),
        },
        at::SPARSE_TENSOR => match a.sparse_tensor {
            Some(s) => Attr::Tensor(lower_sparse(s)?.1),
            None => Attr::Other("an empty sparse tensor attribute"),
        },
        at::FLOATS => Attr::Floats(a.floats),
        at::INTS => Attr::Ints(a.ints),
        at::STRINGS => Attr::Strings(a.strings.iter().map(|s| utf8(Some(s))).collect()),
        at::TENSORS => Attr::Tensors(
            a.tensors
                .into_iter()
                .map(|t| lower_tensor(t).map(|x| x.1))
                .collect::<Result<_, _>>()?,
        ),
        at::SPARSE_TENSORS => Attr::Tensors(
            a.sparse_tensors
                .into_iter()
                .map(|t| lower_sparse(t).map(|x| x.1))
                .collect::<Result<_, _>>()?,
        ),
        at::GRAPHS => Attr::Graphs(
            a.graphs
                .into_iter()
                .map(|g| lower_graph(g, depth + 1).map(Arc::new))
                .collect::<Result<_, _>>()?,
        ),
        at::TYPE_PROTO => match a.tp {
            Some(tp) => Attr::Type(lower_type(tp, &name)?),
            None => Attr::Other("an empty type attribute"),
        },
        at::TYPE_PROTOS => Attr::Other("a list of types"),
        other => {
            return Err(ModelError::BadAttributeType {
                node: node.to_owned(),
                attr: name,
                code: other,
            });
        }
    };
    Ok((name, attr))
}

fn infer_attr_type(a: &proto::AttributeProto) -> i32 {
    if a.f.is_some() {
        at::FLOAT
    } else if a.i.is_some() {
        at::INT
    } else if a.s.is_some() {
        at::STRING
    } else if a.t.is_some() {
        at::TENSOR
    } else if a.g.is_some() {
        at::GRAPH
    } else if !a.floats.is_empty() {
        at::FLOATS
    } else if !a.ints.is_empty() {
        at::INTS
    } else if !a.strings.is_empty() {
        at::STRINGS
    } else if !a.tensors.is_empty() {
        at::TENSORS
    } else if !a.graphs.is_empty() {
        at::GRAPHS
    } else {
        // An attribute with nothing set: an empty list is the only reading that fits.
        at::INTS
    }
}

fn utf8(s: Option<&Bytes>) -> String {
    s.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn lower_dims(dims: &[i64], name: &str) -> Result<Vec<u64>, ModelError> {
    dims.iter()
        .map(|&d| {
            u64::try_from(d).map_err(|_| ModelError::NegativeDim {
                name: name.to_owned(),
                dim: d,
            })
        })
        .collect()
}

pub(crate) fn lower_sequence(s: proto::SequenceProto) -> Result<ConstValue, ModelError> {
    let mut items = Vec::new();
    for t in s.tensor_values {
        items.push(ConstValue::Tensor(lower_tensor(t)?.1));
    }
    for q in s.sequence_values {
        items.push(lower_sequence(q)?);
    }
    for o in s.optional_values {
        items.push(lower_optional(o)?);
    }
    Ok(ConstValue::Sequence(items))
}

pub(crate) fn lower_optional(o: proto::OptionalProto) -> Result<ConstValue, ModelError> {
    let inner = if let Some(t) = o.tensor_value {
        Some(ConstValue::Tensor(lower_tensor(t)?.1))
    } else if let Some(s) = o.sequence_value {
        Some(lower_sequence(*s)?)
    } else if let Some(inner) = o.optional_value {
        Some(lower_optional(*inner)?)
    } else {
        None
    };
    Ok(ConstValue::Optional(inner.map(Box::new)))
}

pub(crate) fn lower_tensor(t: proto::TensorProto) -> Result<(String, ConstTensor), ModelError> {
    let name = t.name.unwrap_or_default();
    let code = t.data_type.unwrap_or(0);
    let dtype = DType::from_code(code).ok_or_else(|| ModelError::UnknownDtype {
        name: name.clone(),
        code,
    })?;
    let dims = lower_dims(&t.dims, &name)?;
    let storage = if t.data_location == Some(proto::DATA_LOCATION_EXTERNAL) {
        let entry = |key: &str| {
            t.external_data
                .iter()
                .find(|e| e.key.as_deref() == Some(key))
                .and_then(|e| e.value.clone())
        };
        let number = |key: &str| -> Result<Option<u64>, ModelError> {
            entry(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| ModelError::BadExternalData {
                            name: name.clone(),
                            key: key.to_owned(),
                            value: v.clone(),
                        })
                })
                .transpose()
        };
        Storage::External {
            location: entry("location").unwrap_or_default(),
            offset: number("offset")?.unwrap_or(0),
            length: number("length")?,
        }
    } else if let Some(raw) = t.raw_data.filter(|r| !r.is_empty()) {
        Storage::LittleEndian(raw)
    } else {
        typed_storage(
            dtype,
            t.float_data,
            t.int32_data,
            t.int64_data,
            t.double_data,
            t.uint64_data,
            t.string_data,
        )
    };
    Ok((
        name,
        ConstTensor {
            dtype,
            dims,
            storage,
        },
    ))
}

/// The storage of a tensor without `raw_data`: the typed field its dtype uses (see the
/// comments on `TensorProto` in onnx.proto).
fn typed_storage(
    dtype: DType,
    float_data: Option<Bytes>,
    int32_data: Option<Bytes>,
    int64_data: Option<Bytes>,
    double_data: Option<Bytes>,
    uint64_data: Option<Bytes>,
    string_data: Vec<Bytes>,
) -> Storage {
    use DType::*;
    let bytes = match dtype {
        Float32 | Complex64 => return Storage::LittleEndian(float_data.unwrap_or_default()),
        Float64 | Complex128 => return Storage::LittleEndian(double_data.unwrap_or_default()),
        String => return Storage::Strings(string_data),
        Int64 => int64_data,
        Uint32 | Uint64 => uint64_data,
        _ => int32_data,
    };
    Storage::Varint(bytes.unwrap_or_default())
}

fn lower_sparse(s: proto::SparseTensorProto) -> Result<(String, ConstTensor), ModelError> {
    let values = s.values.unwrap_or_default();
    let name = values.name.clone().unwrap_or_default();
    let code = values.data_type.unwrap_or(0);
    let dtype = DType::from_code(code).ok_or_else(|| ModelError::UnknownDtype {
        name: name.clone(),
        code,
    })?;
    let dims = lower_dims(&s.dims, &name)?;
    Ok((
        name,
        ConstTensor {
            dtype,
            dims,
            storage: Storage::Sparse,
        },
    ))
}

fn lower_type(t: proto::TypeProto, value: &str) -> Result<DeclaredType, ModelError> {
    Ok(match t.value {
        Some(type_proto::Value::TensorType(tt)) => lower_tensor_type(tt, value)?,
        Some(type_proto::Value::SparseTensorType(_)) => DeclaredType::Other("sparse tensor".into()),
        Some(type_proto::Value::SequenceType(s)) => {
            DeclaredType::Sequence(Box::new(match s.elem_type {
                Some(e) => lower_type(*e, value)?,
                None => DeclaredType::Other("unknown".into()),
            }))
        }
        Some(type_proto::Value::OptionalType(s)) => {
            DeclaredType::Optional(Box::new(match s.elem_type {
                Some(e) => lower_type(*e, value)?,
                None => DeclaredType::Other("unknown".into()),
            }))
        }
        Some(type_proto::Value::MapType(_)) => DeclaredType::Other("map".into()),
        Some(type_proto::Value::OpaqueType(_)) => DeclaredType::Other("opaque".into()),
        None => DeclaredType::Other("unknown".into()),
    })
}

fn lower_tensor_type(tt: type_proto::Tensor, value: &str) -> Result<DeclaredType, ModelError> {
    let dtype = match tt.elem_type.unwrap_or(0) {
        0 => None,
        code => Some(
            DType::from_code(code).ok_or_else(|| ModelError::UnknownDtype {
                name: value.to_owned(),
                code,
            })?,
        ),
    };
    let shape = tt
        .shape
        .map(|s| {
            s.dim
                .into_iter()
                .map(|d| match d.value {
                    Some(proto::dimension::Value::DimValue(v)) if v >= 0 => {
                        Ok(Some(Dim::from_i64(v)))
                    }
                    Some(proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                        dim_param(&p, value).map(Some)
                    }
                    _ => Ok(None),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(DeclaredType::Tensor { dtype, shape })
}

/// A named dimension: an identifier is a symbol; an expression (`2*seq`, or `Min(512, seq)` as
/// exporters that use sympy write it) is parsed; anything else becomes a symbol with the
/// characters the expression syntax cannot hold replaced. An expression whose value overflows
/// (or too large to expand, such as a product of many sums) is an error naming `value`.
fn dim_param(p: &str, value: &str) -> Result<Dim, ModelError> {
    let name = Dim::symbol_name(p);
    if name == p {
        return Ok(Dim::sym(p));
    }
    let lowered = p.replace("Min(", "min(").replace("Max(", "max(");
    match Dim::parse(&lowered) {
        Ok(d) if d.is_overflow() => {
            let mut shown: String = p.chars().take(60).collect();
            if shown.len() < p.len() {
                shown.push_str("...");
            }
            Err(ModelError::DimParamOverflow {
                value: value.to_owned(),
                param: shown,
            })
        }
        Ok(d) => Ok(d),
        Err(_) => Ok(Dim::sym(&name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamo_name_scopes_become_module_paths() {
        assert_eq!(
            module_scopes("['', 'm', 'm.encoder', 'm.encoder.layer.0', 'view_2']"),
            ["m", "m.encoder", "m.encoder.layer.0"]
        );
        assert!(module_scopes("['', 'add']").is_empty());
        assert!(
            module_scopes("['', '_empty_nn_module_stack_from_metadata_hook', 'sym_size_int_3']")
                .is_empty()
        );
        assert!(module_scopes("").is_empty());
    }

    #[test]
    fn dim_params_become_symbols_or_expressions() {
        let param = |p: &str| dim_param(p, "x").unwrap();
        assert_eq!(param("batch"), Dim::sym("batch"));
        assert_eq!(param("2*seq"), Dim::sym("seq") * 2);
        assert_eq!(
            param("Min(512, seq)"),
            Dim::sym("seq").min(&Dim::from_i64(512))
        );
        assert_eq!(param("input/0"), Dim::sym("input_0"));
        assert_eq!(param("0abc"), Dim::sym("_0abc"));
        // Too deep to parse: a name. Too large to expand, or overflowing: an error.
        assert_eq!(
            param(&format!("{}n{}", "(".repeat(500), ")".repeat(500))),
            Dim::sym(&format!("{}n{}", "_".repeat(500), "_".repeat(500)))
        );
        let product: Vec<String> = (0..40).map(|i| format!("(a{i}+b{i})")).collect();
        let err = dim_param(&product.join("*"), "x").unwrap_err().to_string();
        assert!(err.contains("`x`") && err.contains("dim_param"), "{err}");
        assert!(dim_param("9223372036854775807*2*n", "x").is_err());
    }

    fn value_info(name: &str, elem_type: i32, dims: &[Option<i64>]) -> proto::ValueInfoProto {
        let dim = dims
            .iter()
            .map(|d| proto::Dimension {
                value: d.map(proto::dimension::Value::DimValue),
            })
            .collect();
        proto::ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(proto::TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(elem_type),
                    shape: Some(proto::TensorShapeProto { dim }),
                })),
            }),
        }
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> proto::NodeProto {
        proto::NodeProto {
            input: inputs.iter().map(|s| (*s).into()).collect(),
            output: outputs.iter().map(|s| (*s).into()).collect(),
            name: Some(format!("{op}_node")),
            op_type: Some(op.into()),
            ..Default::default()
        }
    }

    fn model(graph: proto::GraphProto, opsets: &[(&str, i64)]) -> proto::ModelProto {
        proto::ModelProto {
            ir_version: Some(8),
            opset_import: opsets
                .iter()
                .map(|(d, v)| proto::OperatorSetIdProto {
                    domain: Some((*d).into()),
                    version: Some(*v),
                })
                .collect(),
            graph: Some(graph),
            ..Default::default()
        }
    }

    fn relu_graph() -> proto::GraphProto {
        proto::GraphProto {
            node: vec![node("Relu", &["x"], &["y"])],
            input: vec![value_info("x", 1, &[Some(1), None])],
            output: vec![value_info("y", 1, &[Some(1), Some(4)])],
            ..Default::default()
        }
    }

    #[test]
    fn opset_domains_are_normalized() {
        let m = lower_model(model(
            relu_graph(),
            &[("ai.onnx", 13), ("com.microsoft", 1)],
        ))
        .unwrap();
        assert_eq!(m.opset(""), Some(13));
        assert_eq!(m.opset("com.microsoft"), Some(1));
        let err = lower_model(model(relu_graph(), &[("", 13), ("ai.onnx", 14)])).unwrap_err();
        assert_eq!(err, ModelError::DuplicateOpset(String::new()));
        let mut old = model(relu_graph(), &[]);
        old.ir_version = Some(2);
        assert_eq!(lower_model(old).unwrap().opset(""), Some(1));
    }

    #[test]
    fn declared_types_keep_known_and_unknown_dims() {
        let m = lower_model(model(relu_graph(), &[("", 13)])).unwrap();
        let x = &m.graph.values[m.graph.inputs[0].index()];
        assert_eq!(
            x.declared,
            Some(DeclaredType::Tensor {
                dtype: Some(DType::Float32),
                shape: Some(vec![Some(Dim::from_i64(1)), None]),
            })
        );
    }

    #[test]
    fn structural_errors_name_what_is_wrong() {
        let mut g = relu_graph();
        g.node.push(node("Relu", &["x"], &["y"]));
        assert_eq!(
            lower_model(model(g, &[("", 13)])).unwrap_err(),
            ModelError::DuplicateValue {
                graph: String::new(),
                value: "y".into()
            }
        );
        let mut g = relu_graph();
        g.node[0].input = vec!["nowhere".into()];
        let err = lower_model(model(g, &[("", 13)])).unwrap_err().to_string();
        assert!(
            err.contains("Relu_node") && err.contains("nowhere"),
            "{err}"
        );
        let mut g = relu_graph();
        g.output[0].name = Some("missing".into());
        assert!(matches!(
            lower_model(model(g, &[("", 13)])),
            Err(ModelError::UndefinedOutput { .. })
        ));
        let mut m = model(relu_graph(), &[("", 13)]);
        m.graph = None;
        assert_eq!(lower_model(m).unwrap_err(), ModelError::NoGraph);
    }

    #[test]
    fn tensor_storage_follows_the_field_used() {
        let floats = proto::TensorProto {
            dims: vec![2],
            data_type: Some(1),
            float_data: Some(Bytes::from_static(&[0, 0, 128, 63, 0, 0, 0, 64])),
            name: Some("f".into()),
            ..Default::default()
        };
        let (_, t) = lower_tensor(floats).unwrap();
        assert_eq!(
            t.decode(8).unwrap().unwrap().as_f64s(),
            Some(vec![1.0, 2.0])
        );
        let ints = proto::TensorProto {
            dims: vec![2],
            data_type: Some(7),
            int64_data: Some(Bytes::from_static(&[3, 4])),
            ..Default::default()
        };
        let (_, t) = lower_tensor(ints).unwrap();
        assert!(matches!(t.storage, Storage::Varint(_)));
        assert_eq!(t.decode(8).unwrap().unwrap().as_i64s(), Some(vec![3, 4]));
        let external = proto::TensorProto {
            dims: vec![1000, 1000],
            data_type: Some(1),
            data_location: Some(proto::DATA_LOCATION_EXTERNAL),
            external_data: vec![proto::StringStringEntryProto {
                key: Some("location".into()),
                value: Some("weights.bin".into()),
            }],
            ..Default::default()
        };
        let (_, t) = lower_tensor(external).unwrap();
        assert!(matches!(
            &t.storage,
            Storage::External { location, offset: 0, length: None } if location == "weights.bin"
        ));
        let placed = proto::TensorProto {
            dims: vec![4],
            data_type: Some(1),
            data_location: Some(proto::DATA_LOCATION_EXTERNAL),
            external_data: [("location", "w.bin"), ("offset", "4096"), ("length", "16")]
                .map(|(k, v)| proto::StringStringEntryProto {
                    key: Some(k.into()),
                    value: Some(v.into()),
                })
                .to_vec(),
            ..Default::default()
        };
        let (_, t) = lower_tensor(placed).unwrap();
        assert!(matches!(
            &t.storage,
            Storage::External {
                offset: 4096,
                length: Some(16),
                ..
            }
        ));
        let bad_offset = proto::TensorProto {
            name: Some("w".into()),
            dims: vec![4],
            data_type: Some(1),
            data_location: Some(proto::DATA_LOCATION_EXTERNAL),
            external_data: [("location", "w.bin"), ("offset", "-3")]
                .map(|(k, v)| proto::StringStringEntryProto {
                    key: Some(k.into()),
                    value: Some(v.into()),
                })
                .to_vec(),
            ..Default::default()
        };
        let err = lower_tensor(bad_offset).unwrap_err().to_string();
        assert!(err.contains("`w`") && err.contains("offset"), "{err}");
        let bad = proto::TensorProto {
            dims: vec![-1],
            data_type: Some(1),
            name: Some("w".into()),
            ..Default::default()
        };
        assert_eq!(
            lower_tensor(bad).unwrap_err(),
            ModelError::NegativeDim {
                name: "w".into(),
                dim: -1
            }
        );
    }

    #[test]
    fn attributes_without_a_type_and_subgraph_captures() {
        let mut g = relu_graph();
        g.node[0].attribute = vec![
            proto::AttributeProto {
                name: Some("alpha".into()),
                f: Some(0.5),
                ..Default::default()
            },
            proto::AttributeProto {
                name: Some("body".into()),
                r#type: Some(at::GRAPH),
                g: Some(proto::GraphProto {
                    node: vec![node("Neg", &["x"], &["z"])],
                    output: vec![value_info("z", 1, &[])],
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        let m = lower_model(model(g, &[("", 13)])).unwrap();
        let n = &m.graph.nodes[0];
        assert_eq!(n.attr::<f32>("alpha"), Ok(Some(0.5)));
        let body = n.req_attr::<&Graph>("body").unwrap();
        let x = body.find_value("x").unwrap();
        assert!(
            matches!(body.value(x).def, ValueDef::Outer),
            "x comes from the outer scope"
        );
    }
}
