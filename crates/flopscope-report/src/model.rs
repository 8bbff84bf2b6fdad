//! The report data model: what `--format json` writes (schema version 1).
//!
//! Numbers are [`Dim`]s: a JSON integer when every dim is bound, otherwise a string in the
//! expression syntax (`"3*batch*height*width"`). Later versions may add fields; they never
//! remove or retype one.

use std::collections::BTreeMap;

use std::sync::Arc;

use flopscope_counters::{NodeProfile, OpClass, Profile, Totals, UncountedReason};
use flopscope_ir::{Attr, Dim, Graph, Model, Node, ValueDef, ValueId, ValueType, display_domain};
use serde::{Deserialize, Serialize};

use crate::bench::BenchReport;
use crate::conventions::ConventionReport;

/// The JSON schema version this crate writes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub model: ModelInfo,
    /// Values given to the model's named dims.
    pub bindings: BTreeMap<String, Dim>,
    pub totals: TotalsReport,
    /// Every node in execution order, counted or not.
    pub nodes: Vec<NodeReport>,
    /// Nodes without a cost, grouped by op.
    pub uncounted: Vec<UncountedReport>,
    /// Sizes only known at run time (NonZero's count, a loop's trip count, ...): the symbol
    /// that stands for each in shapes and costs, and the node that made it.
    #[serde(default)]
    pub data_dependent_dims: Vec<DataDependentDim>,
    /// Sizes that follow from values known before run time but that flopscope could not
    /// express (a float computation over a symbolic dim, a shape input computed at run time):
    /// the symbol that stands for each, the node that made it, and why. Bind one with `--dim`.
    #[serde(default)]
    pub derived_dims: Vec<DerivedDim>,
    /// Another tool's count of the same model (`--convention`), when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convention: Option<ConventionReport>,
    /// Times measured in ONNX Runtime (`flopscope bench`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchReport>,
    /// What a generation costs (`flopscope generate`): prefill, decode steps, totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<crate::generation::GenerationReport>,
    /// The machine times are estimated for (`--hardware`), and the model's estimated time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<crate::hardware::HardwareReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDependentDim {
    pub symbol: String,
    pub node: String,
    pub op_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedDim {
    pub symbol: String,
    pub node: String,
    pub op_type: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The path as given.
    pub path: String,
    pub ir_version: i64,
    pub producer: String,
    /// Opset version per domain (`ai.onnx` for the default domain).
    pub opsets: BTreeMap<String, i64>,
    pub graph: String,
    /// Graph inputs at the shapes they were profiled with.
    pub inputs: Vec<TensorReport>,
    pub outputs: Vec<TensorReport>,
}

/// A named value with its type; `dtype` and `shape` are null when unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorReport {
    pub name: String,
    pub dtype: Option<String>,
    pub shape: Option<Vec<Dim>>,
    /// The elements of a small numeric value known before run time (a node input of at most
    /// [`MAX_REPORTED_ELEMENTS`] elements: Clip's bounds, a scale); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<f64>>,
}

/// Node inputs with at most this many known elements carry them in [`TensorReport::value`].
pub const MAX_REPORTED_ELEMENTS: usize = 8;

/// A node attribute that is a number, a string or a list of them (tensor and graph attributes
/// are not reported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrReport {
    Int(i64),
    Float(f64),
    String(String),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Strings(Vec<String>),
}

impl AttrReport {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            AttrReport::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            AttrReport::Float(v) => Some(*v),
            AttrReport::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrReport::String(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_ints(&self) -> Option<&[i64]> {
        match self {
            AttrReport::Ints(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlopsByKindReport {
    /// 2 per MAC.
    pub mac: Dim,
    pub add: Dim,
    pub mul: Dim,
    pub div: Dim,
    pub cmp: Dim,
    pub special: Dim,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TotalsReport {
    pub macs: Dim,
    /// MACs by the element type they run in (`int8` for quantized contractions).
    #[serde(default)]
    pub macs_by_dtype: BTreeMap<String, Dim>,
    /// All FLOPs: `2·macs` plus every other arithmetic op.
    pub flops: Dim,
    pub flops_by_kind: FlopsByKindReport,
    /// Minimum memory traffic: each node's inputs read once and outputs written once (an input
    /// of which only the shape is read, as by `Shape`, is not read).
    pub bytes: Dim,
    pub params: Dim,
    pub buffers: Dim,
    /// Elements of quantization scales and zero points.
    #[serde(default)]
    pub quant_params: Dim,
    pub constants: Dim,
    /// Bytes of params and buffers.
    pub weight_bytes: Dim,
    pub weight_bytes_by_dtype: BTreeMap<String, Dim>,
    /// Bytes of every activation (graph inputs and computed values), each once.
    pub activation_bytes: Dim,
    /// Peak live activation memory along the execution order.
    #[serde(default)]
    pub peak_activation_bytes: Dim,
    /// The node at which that peak is first reached.
    #[serde(default)]
    pub peak_at: Option<String>,
    pub nodes: usize,
    pub counted_nodes: usize,
    /// Some nodes are uncounted: the true cost is at least these totals.
    pub lower_bound: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    /// The op's family (`conv`, `matmul`, `norm`, `activation`, `pooling`, `add`, `other`),
    /// from its record or declaration: what `compare` and the conventions total by.
    #[serde(default = "other_class", with = "class_key")]
    pub class: OpClass,
    /// Every input in order; an omitted optional input has an empty name and no type.
    #[serde(default)]
    pub inputs: Vec<TensorReport>,
    pub outputs: Vec<TensorReport>,
    /// Number, string and list attributes, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttrReport>,
    pub macs: Dim,
    /// The element type the MACs run in, for nodes with MACs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macs_dtype: Option<String>,
    pub flops: Dim,
    pub flops_by_kind: FlopsByKindReport,
    pub bytes: Dim,
    pub params: Dim,
    /// Elements of the buffers (running statistics) the node reads: PyTorch's non-trainable
    /// parameters.
    #[serde(default)]
    pub buffers: Dim,
    /// Activation bytes live while the node runs, in execution order: its inputs and outputs and
    /// every earlier value still to be read (the curve whose maximum is the totals' peak).
    #[serde(default)]
    pub live_activation_bytes: Dim,
    /// The module the node belongs to, outermost scope first (empty: the model itself). From
    /// the exporter's scope metadata, else from a `/`-separated node name.
    #[serde(default)]
    pub module: Vec<String>,
    /// False for an uncounted node (its costs are then zero and unknown).
    pub counted: bool,
    /// Every input is a constant: runtimes fold this node before running the model.
    pub constant: bool,
    /// What the report's convention (`--convention`) counts for this node, in its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convention: Option<Dim>,
    /// The node's roofline time on the report's hardware (`--hardware`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::hardware::Estimate>,
}

impl NodeReport {
    /// A counted node of the default domain, with no inputs, outputs or cost: for tests to
    /// fill in what they need.
    #[cfg(test)]
    pub(crate) fn stub(name: &str, op_type: &str) -> NodeReport {
        NodeReport {
            name: name.to_owned(),
            op_type: op_type.to_owned(),
            domain: "ai.onnx".into(),
            class: OpClass::Other,
            inputs: Vec::new(),
            outputs: Vec::new(),
            attributes: BTreeMap::new(),
            macs: Dim::zero(),
            macs_dtype: None,
            flops: Dim::zero(),
            flops_by_kind: FlopsByKindReport::default(),
            bytes: Dim::zero(),
            params: Dim::zero(),
            buffers: Dim::zero(),
            live_activation_bytes: Dim::zero(),
            module: Vec::new(),
            counted: true,
            constant: false,
            convention: None,
            estimate: None,
        }
    }
}

fn other_class() -> OpClass {
    OpClass::Other
}

/// An [`OpClass`] in JSON: its key.
mod class_key {
    use flopscope_counters::OpClass;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(class: &OpClass, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(class.key())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OpClass, D::Error> {
        let key = <&str>::deserialize(d)?;
        key.parse().map_err(D::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UncountedReport {
    pub domain: String,
    pub op_type: String,
    pub reason: String,
    pub nodes: Vec<String>,
}

fn tensor_report(name: &str, ty: Option<&ValueType>) -> TensorReport {
    match ty {
        Some(ValueType::Tensor(t)) => TensorReport {
            name: name.to_owned(),
            dtype: Some(t.dtype.name().to_owned()),
            shape: Some(t.shape.clone()),
            value: None,
        },
        Some(other) => TensorReport {
            name: name.to_owned(),
            dtype: Some(other.to_string()),
            shape: None,
            value: None,
        },
        None => TensorReport {
            name: name.to_owned(),
            dtype: None,
            shape: None,
            value: None,
        },
    }
}

fn flops_by_kind(macs: &Dim, f: &flopscope_counters::FlopsByKind) -> FlopsByKindReport {
    FlopsByKindReport {
        mac: macs * 2,
        add: f.add.clone(),
        mul: f.mul.clone(),
        div: f.div.clone(),
        cmp: f.cmp.clone(),
        special: f.special.clone(),
    }
}

/// The elements of a small numeric value known before run time: folded by the profile, or a
/// stored constant.
fn known_elements(graph: &Graph, profile: &Profile, id: ValueId) -> Option<Vec<f64>> {
    let value = match &graph.value(id).def {
        ValueDef::Initializer(t) => Arc::new(t.decode(MAX_REPORTED_ELEMENTS as u64).ok()??),
        _ => profile.known_values.get(id.index())?.clone()?,
    };
    if value.data.len() > MAX_REPORTED_ELEMENTS {
        return None;
    }
    value.as_f64s()
}

fn input_reports(graph: &Graph, profile: &Profile, node: &Node) -> Vec<TensorReport> {
    node.inputs
        .iter()
        .map(|input| match input {
            Some(id) => TensorReport {
                value: known_elements(graph, profile, *id),
                ..tensor_report(
                    &graph.value(*id).name,
                    profile.value_types.get(id.index()).and_then(Option::as_ref),
                )
            },
            None => tensor_report("", None),
        })
        .collect()
}

/// An `f32` as the `f64` with the same shortest decimal form (`1e-5`, not `9.99999974e-6`).
fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

fn attribute_reports(node: &Node) -> BTreeMap<String, AttrReport> {
    node.attrs
        .iter()
        .filter_map(|(name, attr)| {
            let value = match attr {
                Attr::Int(v) => AttrReport::Int(*v),
                Attr::Float(v) => AttrReport::Float(widen(*v)),
                Attr::String(v) => AttrReport::String(v.clone()),
                Attr::Ints(v) => AttrReport::Ints(v.clone()),
                Attr::Floats(v) => AttrReport::Floats(v.iter().copied().map(widen).collect()),
                Attr::Strings(v) => AttrReport::Strings(v.clone()),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// A node's module path: the exporter's scopes when it recorded them (PyTorch's dynamo
/// exporter), else the scopes of a `/`-separated name (PyTorch's legacy exporter writes
/// `/features/features.18/conv/Conv`: module `features` › `features.18` › `conv`), else none.
pub fn module_of(scope: &[String], name: &str) -> Vec<String> {
    if !scope.is_empty() {
        return scope.to_vec();
    }
    if !name.contains('/') {
        return Vec::new();
    }
    let mut parts: Vec<String> = name
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    parts.pop();
    parts
}

fn node_report(graph: &Graph, profile: &Profile, np: &NodeProfile, live: &Dim) -> NodeReport {
    let node = graph.node(np.id);
    NodeReport {
        name: np.name.clone(),
        op_type: np.op_type.clone(),
        domain: display_domain(&np.domain).to_owned(),
        class: np.class,
        inputs: input_reports(graph, profile, node),
        attributes: attribute_reports(node),
        outputs: np
            .outputs
            .iter()
            .map(|(name, ty)| tensor_report(name, ty.as_ref()))
            .collect(),
        macs: np.cost.macs.clone(),
        macs_dtype: np.macs_dtype.clone(),
        flops: np.cost.total_flops(),
        flops_by_kind: flops_by_kind(&np.cost.macs, &np.cost.flops),
        bytes: np.bytes.clone(),
        params: np.params.clone(),
        buffers: np.buffers.clone(),
        live_activation_bytes: live.clone(),
        module: module_of(&node.scope, &node.name),
        counted: np.uncounted.is_none(),
        constant: np.constant,
        convention: None,
        estimate: None,
    }
}

impl TotalsReport {
    /// A profile's totals as the report states them.
    pub fn of(profile: &Profile) -> TotalsReport {
        totals_report(&profile.totals, &profile.nodes)
    }
}

fn totals_report(t: &Totals, nodes: &[NodeProfile]) -> TotalsReport {
    TotalsReport {
        macs: t.macs.clone(),
        macs_by_dtype: t.macs_by_dtype.clone(),
        flops: t.total_flops(),
        flops_by_kind: flops_by_kind(&t.macs, &t.flops),
        bytes: t.bytes.clone(),
        params: t.params.clone(),
        buffers: t.buffers.clone(),
        quant_params: t.quant_params.clone(),
        constants: t.constants.clone(),
        weight_bytes: t.weight_bytes.clone(),
        weight_bytes_by_dtype: t.weight_bytes_by_dtype.clone(),
        activation_bytes: t.activation_bytes.clone(),
        peak_activation_bytes: t.peak_activation_bytes.clone(),
        peak_at: t.peak_at.clone(),
        nodes: nodes.len(),
        counted_nodes: nodes.iter().filter(|n| n.uncounted.is_none()).count(),
        lower_bound: t.lower_bound,
    }
}

fn reason(r: UncountedReason) -> String {
    match r {
        UncountedReason::NoCounter => "no_counter".into(),
        UncountedReason::UnknownInputs => "unknown_inputs".into(),
    }
}

impl Report {
    /// Builds the report of a profiled model.
    pub fn new(path: &str, model: &Model, profile: &Profile) -> Report {
        let graph = &model.graph;
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "flopscope".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            model: ModelInfo {
                path: path.to_owned(),
                ir_version: model.ir_version,
                producer: [
                    model.producer_name.as_str(),
                    model.producer_version.as_str(),
                ]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
                opsets: model
                    .opsets
                    .iter()
                    .map(|(d, v)| (display_domain(d).to_owned(), *v))
                    .collect(),
                graph: graph.name.clone(),
                inputs: profile
                    .inputs
                    .iter()
                    .map(|(name, t)| tensor_report(name, Some(t)))
                    .collect(),
                outputs: graph
                    .outputs
                    .iter()
                    .map(|id| {
                        tensor_report(
                            &graph.value(*id).name,
                            profile.value_types[id.index()].as_ref(),
                        )
                    })
                    .collect(),
            },
            bindings: profile.bindings.clone(),
            totals: totals_report(&profile.totals, &profile.nodes),
            nodes: profile
                .nodes
                .iter()
                .enumerate()
                .map(|(i, np)| {
                    let live = profile.live_activation_steps.get(i);
                    node_report(graph, profile, np, live.unwrap_or(&Dim::zero()))
                })
                .collect(),
            data_dependent_dims: profile
                .nodes
                .iter()
                .flat_map(|np| {
                    np.fresh_symbols.iter().map(|s| DataDependentDim {
                        symbol: s.clone(),
                        node: np.name.clone(),
                        op_type: np.op_type.clone(),
                    })
                })
                .collect(),
            derived_dims: profile
                .nodes
                .iter()
                .flat_map(|np| {
                    np.derived_dims.iter().map(|(symbol, reason)| DerivedDim {
                        symbol: symbol.clone(),
                        node: np.name.clone(),
                        op_type: np.op_type.clone(),
                        reason: reason.clone(),
                    })
                })
                .collect(),
            uncounted: profile
                .uncounted
                .iter()
                .map(|u| UncountedReport {
                    domain: display_domain(&u.domain).to_owned(),
                    op_type: u.op_type.clone(),
                    reason: reason(u.reason),
                    nodes: u.nodes.clone(),
                })
                .collect(),
            convention: None,
            bench: None,
            generation: None,
            hardware: None,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        // About a kilobyte a node (its inputs, outputs, attributes and costs).
        crate::json::to_string_pretty(self, 16 * 1024 + 1024 * self.nodes.len())
    }

    /// Reads a report written by [`Report::to_json`].
    pub fn from_json(json: &str) -> serde_json::Result<Report> {
        serde_json::from_str(json)
    }
}

/// The description of an uncounted reason code.
pub fn describe_reason(code: &str) -> &'static str {
    match code {
        "no_counter" => UncountedReason::NoCounter.describe(),
        "unknown_inputs" => UncountedReason::UnknownInputs.describe(),
        _ => "",
    }
}
