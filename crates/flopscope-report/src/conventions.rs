//! Other tools' counts of the same model, re-weighted from the report's per-node facts.
//!
//! thop, ptflops (pytorch and aten backends), fvcore, torch's `FlopCounterMode` and onnx-tool
//! each print a different "FLOPs" number for one network: they count different op classes with
//! different per-layer rules, and several of them count MACs. A [`Convention`] maps every node
//! of a [`Report`] (its op type, flopscope's MACs and FLOPs, its input and output shapes, its
//! attributes) to what that tool counts for the PyTorch layer or ONNX node it comes from, and
//! totals it by [`OpClass`]. `docs/conventions.md` gives every rule with its source.
//!
//! The PyTorch tools hook `nn.Module`s or ATen ops, not ONNX nodes. Two facts the ONNX graph
//! does not state are inferred:
//! - module call or functional call (thop and ptflops hook modules; ptflops also patches some
//!   `torch.nn.functional` calls): the legacy exporter names nodes by module scope
//!   (`/features/features.1/Relu`), so a node whose scope holds no other module's scope is a
//!   leaf module's own op, and a node at the root or in a scope that holds child scopes comes
//!   from a functional call in a parent's `forward`. The dynamo exporter records each node's
//!   module path instead (`name_scopes`), read the same way. Nodes without either use each
//!   op's usual origin ([`Scopes::call`]).
//! - `nn.AdaptiveAvgPool2d(1)` (and `F.adaptive_avg_pool2d(x, 1)`): a GlobalAveragePool, or, from
//!   the dynamo exporter, a ReduceMean over every spatial axis keeping them (`x.mean((2, 3))`
//!   drops them, and the tools count it apart).
//! - `nn.Linear`: a Gemm, or a MatMul that reads a weight (params > 0, or a Transpose of one);
//!   an Add of a 1-D constant to such a MatMul's output is its bias.
//!
//! Counts are [`Dim`]s, so a model with unbound dims gets each tool's count as a formula.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

pub use flopscope_counters::OpClass;
use flopscope_ir::Dim;
use serde::{Deserialize, Serialize};

use crate::model::{NodeReport, Report, TensorReport};

/// A tool whose counting rules flopscope can reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Convention {
    /// flopscope's own FLOPs: 2 per MAC plus every other arithmetic op.
    Flopscope,
    /// thop 0.1.1 (`thop.profile`, Lyken17/pytorch-OpCounter): module hooks.
    Thop,
    /// ptflops, pytorch backend: module hooks plus patched functionals.
    Ptflops,
    /// ptflops, aten backend: a dispatch mode over ATen ops.
    PtflopsAten,
    /// fvcore's `FlopCountAnalysis` (default op handles).
    Fvcore,
    /// `torch.utils.flop_counter.FlopCounterMode`.
    Torch,
    /// onnx-tool 1.0.1 (`onnx_tool.model_profile`), per ONNX node.
    OnnxTool,
}

/// An unknown `--convention` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown convention `{name}` (known: {})", Convention::NAMES.join(", "))]
pub struct UnknownConvention {
    pub name: String,
}

impl Convention {
    /// Every convention, in the order `flopscope compare` prints them.
    pub const ALL: [Convention; 7] = [
        Convention::Flopscope,
        Convention::Thop,
        Convention::Ptflops,
        Convention::PtflopsAten,
        Convention::Fvcore,
        Convention::Torch,
        Convention::OnnxTool,
    ];

    /// The names `--convention` takes, in the order of [`Convention::ALL`].
    pub const NAMES: [&'static str; 7] = [
        "flopscope",
        "thop",
        "ptflops",
        "ptflops-aten",
        "fvcore",
        "torch",
        "onnx-tool",
    ];

    /// The name `--convention` takes.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The tool and the entry point whose rules this reproduces.
    pub fn tool(self) -> &'static str {
        match self {
            Convention::Flopscope => "flopscope",
            Convention::Thop => "thop 0.1.1, thop.profile",
            Convention::Ptflops => "ptflops, get_model_complexity_info(backend='pytorch')",
            Convention::PtflopsAten => "ptflops, get_model_complexity_info(backend='aten')",
            Convention::Fvcore => "fvcore, FlopCountAnalysis(...).total()",
            Convention::Torch => "torch.utils.flop_counter.FlopCounterMode",
            Convention::OnnxTool => "onnx-tool 1.0.1, onnx_tool.model_profile",
        }
    }

    /// The unit the count really is.
    pub fn unit(self) -> &'static str {
        match self {
            Convention::Flopscope | Convention::Torch => "FLOPs",
            _ => "MACs",
        }
    }

    /// The count's label: the tool, the unit, and what the tool calls it.
    pub fn label(self) -> &'static str {
        match self {
            Convention::Flopscope => "flopscope FLOPs (2 per MAC + every other arithmetic op)",
            Convention::Thop => "thop MACs (thop.profile's total, often published as FLOPs)",
            Convention::Ptflops => "ptflops MACs (printed as GMac, often published as FLOPs)",
            Convention::PtflopsAten => "ptflops-aten MACs (printed as GMac)",
            Convention::Fvcore => "fvcore MACs (fvcore calls one multiply-add a flop)",
            Convention::Torch => "torch FLOPs (2 per MAC of conv and matmul only)",
            Convention::OnnxTool => "onnx-tool MACs (its per-instruction cost count)",
        }
    }

    /// What this convention counts for an op class, in a few words.
    pub fn describe(self, class: OpClass) -> &'static str {
        use Convention as C;
        use OpClass as K;
        match (self, class) {
            (C::Flopscope, K::Conv | K::Matmul) => "2/MAC + bias adds",
            (C::Flopscope, K::Norm) => "every sub, mul, div, add",
            (C::Flopscope, K::Activation) => "cmp or math per element",
            (C::Flopscope, K::Pooling) => "cmp or add per window element",
            (C::Flopscope, K::Add) => "1 per element",
            (C::Flopscope, K::Other) => "every arithmetic op",

            (C::Thop, K::Conv) => "MACs, no bias",
            (C::Thop, K::Matmul) => "nn.Linear MACs, no bias; matmul ignored",
            (C::Thop, K::Norm) => "BN, LN 4/elem; IN 2/elem",
            (C::Thop, K::Activation) => "ReLU(6) 0; PReLU 1; nn.Softmax 3/elem",
            (C::Thop, K::Pooling) => "max 0; avg 1/out; adaptive avg in+out",
            (C::Thop, K::Add) => "ignored",
            (C::Thop, K::Other) => "nn.Upsample, RNNs; rest ignored",

            (C::Ptflops, K::Conv) => "MACs + bias",
            (C::Ptflops, K::Matmul) => "Linear MACs + bias; torch.matmul",
            (C::Ptflops, K::Norm) => "BN, GN 2/elem; LN, IN 1/elem",
            (C::Ptflops, K::Activation) => "nn.ReLU 2/elem, ReLU6 1, Softmax 1",
            (C::Ptflops, K::Pooling) => "input elems, twice for modules",
            (C::Ptflops, K::Add) => "Linear bias only",
            (C::Ptflops, K::Other) => "Upsample, RNNs; rest ignored",

            (C::PtflopsAten, K::Conv | K::Matmul) => "MACs + bias",
            (C::PtflopsAten, K::Add) => "Linear bias only",
            (C::PtflopsAten, K::Other) => "RNN gates + bias; rest ignored",
            (C::PtflopsAten, _) => "ignored",

            (C::Fvcore, K::Conv | K::Matmul) => "MACs, no bias",
            (C::Fvcore, K::Norm) => "BN 2/elem; LN, GN 5; IN 4",
            (C::Fvcore, K::Pooling) => "adaptive avg 1/in elem; rest ignored",
            (C::Fvcore, K::Other) => "upsample 1 or 4/out; rest ignored",
            (C::Fvcore, _) => "ignored",

            (C::Torch, K::Conv | K::Matmul) => "2/MAC, no bias",
            (C::Torch, K::Other) => "RNN gates 2/MAC; rest ignored",
            (C::Torch, _) => "ignored",

            (C::OnnxTool, K::Conv | K::Matmul) => "MACs + bias",
            (C::OnnxTool, K::Norm) => "BN 31/elem; LN 7/elem + 29/row",
            (C::OnnxTool, K::Activation) => "Relu 1, Clip 2, Sigmoid 32, Softmax 36",
            (C::OnnxTool, K::Pooling) => "kernel/out; global avg in + 4/out",
            (C::OnnxTool, K::Add) => "1/elem",
            (C::OnnxTool, K::Other) => "per-op cost table (Div 4, Exp 32)",
        }
    }

    /// What this convention counts for one node, in [`Convention::unit`]s; zero for what it
    /// ignores or cannot see (unknown shapes).
    pub fn node_count(self, node: &NodeReport, graph: &GraphFacts<'_>) -> Dim {
        let n = Facts { node, graph };
        let count = match self {
            Convention::Flopscope => Some(node.flops.clone()),
            Convention::Thop => thop(&n),
            Convention::Ptflops => ptflops(&n),
            Convention::PtflopsAten => ptflops_aten(&n),
            Convention::Fvcore => fvcore(&n),
            Convention::Torch => torch(&n),
            Convention::OnnxTool => onnx_tool(&n),
        };
        count.unwrap_or_else(Dim::zero)
    }

    /// This convention's count of every node and their totals.
    pub fn apply(self, report: &Report) -> (Vec<Dim>, ConventionReport) {
        let graph = GraphFacts::new(&report.nodes);
        let counts: Vec<Dim> = report
            .nodes
            .iter()
            .map(|n| self.node_count(n, &graph))
            .collect();
        let mut by_class: BTreeMap<String, Dim> = OpClass::ALL
            .iter()
            .map(|c| (c.name().to_owned(), Dim::zero()))
            .collect();
        for (node, count) in report.nodes.iter().zip(&counts) {
            if let Some(sum) = by_class.get_mut(node.class.name()) {
                *sum += count;
            }
        }
        let summary = ConventionReport {
            convention: self.name().to_owned(),
            tool: self.tool().to_owned(),
            unit: self.unit().to_owned(),
            label: self.label().to_owned(),
            total: counts.iter().sum(),
            by_class,
            lower_bound: report.totals.lower_bound,
        };
        (counts, summary)
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Convention {
    type Err = UnknownConvention;

    fn from_str(s: &str) -> Result<Convention, UnknownConvention> {
        Convention::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownConvention { name: s.to_owned() })
    }
}

/// A convention's count of a model, as `--format json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConventionReport {
    /// The `--convention` name.
    pub convention: String,
    pub tool: String,
    /// `MACs` or `FLOPs`: what the count really is.
    pub unit: String,
    /// The tool, the unit and what the tool calls it.
    pub label: String,
    pub total: Dim,
    /// The total split by [`OpClass`] name.
    pub by_class: BTreeMap<String, Dim>,
    /// Some nodes are uncounted: the count is at least this.
    pub lower_bound: bool,
}

impl Report {
    /// The report with `convention`'s count of every node and its total.
    pub fn with_convention(mut self, convention: Convention) -> Report {
        let (counts, summary) = convention.apply(&self);
        for (node, count) in self.nodes.iter_mut().zip(counts) {
            node.convention = Some(count);
        }
        self.convention = Some(summary);
        self
    }
}

/// Where a node comes from in PyTorch, as far as the graph tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A leaf `nn.Module`'s own op (its hook sees it).
    Module,
    /// A functional call in some module's `forward`.
    Functional,
}

/// Module scopes from node names or module paths: the scopes that hold other scopes are not
/// leaves.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    parents: BTreeSet<String>,
    /// The graph's nodes carry module paths from the exporter's metadata (the dynamo
    /// exporter's `name_scopes`) instead of scoped names.
    modules: bool,
}

/// The scope of a legacy-exporter node name (`/a/b/Conv` → `/a/b`, `/Flatten` → ``), `None`
/// for a name without one.
fn scope(name: &str) -> Option<&str> {
    if !name.starts_with('/') {
        return None;
    }
    name.rsplit_once('/').map(|(s, _)| s)
}

/// A node's scope: its name's, else, when the graph's nodes carry module paths, the path as a
/// scope (`["features", "features.0"]` → `/features/features.0`, the root ``).
fn node_scope(node: &NodeReport, modules: bool) -> Option<Cow<'_, str>> {
    if let Some(s) = scope(&node.name) {
        return Some(Cow::Borrowed(s));
    }
    modules.then(|| Cow::Owned(node.module.iter().flat_map(|m| ["/", m.as_str()]).collect()))
}

impl Scopes {
    pub fn new(nodes: &[NodeReport]) -> Scopes {
        let modules = nodes
            .iter()
            .any(|n| !n.module.is_empty() && scope(&n.name).is_none());
        let mut parents = BTreeSet::new();
        for node in nodes {
            let Some(s) = node_scope(node, modules) else {
                continue;
            };
            let mut s: &str = &s;
            while let Some((parent, _)) = s.rsplit_once('/') {
                if !parents.insert(parent.to_owned()) {
                    break;
                }
                s = parent;
            }
        }
        Scopes { parents, modules }
    }

    /// Module or functional call. A node without a scope gets its op's usual origin: Softmax,
    /// MatMul without a weight and elementwise arithmetic are functional, the other layers
    /// modules.
    pub fn call(&self, node: &NodeReport) -> Call {
        match node_scope(node, self.modules) {
            Some(s) if self.parents.contains(s.as_ref()) => Call::Functional,
            Some(_) => Call::Module,
            None => match node.op_type.as_str() {
                "Softmax" | "LogSoftmax" | "Add" | "Sub" | "Mul" | "Div" | "Einsum" => {
                    Call::Functional
                }
                "MatMul" if node.params == Dim::zero() => Call::Functional,
                _ => Call::Module,
            },
        }
    }
}

/// What every node's rule may look up in the rest of the graph.
#[derive(Debug, Clone)]
pub struct GraphFacts<'r> {
    nodes: &'r [NodeReport],
    scopes: Scopes,
    /// Value name → the node that makes it.
    producer: BTreeMap<&'r str, usize>,
}

impl<'r> GraphFacts<'r> {
    pub fn new(nodes: &'r [NodeReport]) -> GraphFacts<'r> {
        let mut producer = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for o in &n.outputs {
                if !o.name.is_empty() {
                    producer.insert(o.name.as_str(), i);
                }
            }
        }
        GraphFacts {
            nodes,
            scopes: Scopes::new(nodes),
            producer,
        }
    }

    fn producer_of(&self, value: &str) -> Option<&'r NodeReport> {
        self.producer.get(value).map(|&i| &self.nodes[i])
    }

    /// `nn.Linear`: a Gemm, or a MatMul that reads a weight, itself (params > 0) or through a
    /// Transpose of it (the dynamo exporter's `x @ W.T`, the Transpose owning the weight).
    fn is_linear(&self, node: &NodeReport) -> bool {
        match node.op_type.as_str() {
            "Gemm" => true,
            "MatMul" => {
                node.params != Dim::zero()
                    || node.inputs.get(1).is_some_and(|w| {
                        self.producer_of(&w.name).is_some_and(|p| {
                            p.op_type == "Transpose" && p.constant && p.params != Dim::zero()
                        })
                    })
            }
            _ => false,
        }
    }

    /// The `nn.Linear` MatMul whose bias `node` adds: an Add of a 1-D constant to the output of
    /// a MatMul that reads a weight.
    fn linear_of_bias(&self, node: &NodeReport) -> Option<&'r NodeReport> {
        if node.op_type != "Add" || node.inputs.len() != 2 {
            return None;
        }
        let linear = |t: &TensorReport| {
            self.producer_of(&t.name)
                .filter(|p| p.op_type == "MatMul" && self.is_linear(p))
        };
        let is_bias = |t: &TensorReport| {
            t.shape.as_ref().is_some_and(|s| s.len() == 1)
                && self.producer_of(&t.name).is_none_or(|p| p.constant)
        };
        let (a, b) = (&node.inputs[0], &node.inputs[1]);
        match (linear(a), linear(b)) {
            (Some(m), _) if is_bias(b) => Some(m),
            (_, Some(m)) if is_bias(a) => Some(m),
            _ => None,
        }
    }
}

/// One node and its graph, with the lookups the rules share.
struct Facts<'a> {
    node: &'a NodeReport,
    graph: &'a GraphFacts<'a>,
}

fn numel(shape: &[Dim]) -> Dim {
    shape.iter().product()
}

impl Facts<'_> {
    fn op(&self) -> &str {
        &self.node.op_type
    }

    fn module(&self) -> bool {
        self.graph.scopes.call(self.node) == Call::Module
    }

    fn in_shape(&self, i: usize) -> Option<&[Dim]> {
        self.node.inputs.get(i)?.shape.as_deref()
    }

    fn out_shape(&self, i: usize) -> Option<&[Dim]> {
        self.node.outputs.get(i)?.shape.as_deref()
    }

    /// Elements of input 0.
    fn i(&self) -> Option<Dim> {
        self.in_shape(0).map(numel)
    }

    /// Elements of output 0.
    fn o(&self) -> Option<Dim> {
        self.out_shape(0).map(numel)
    }

    /// Input `i` is given (not omitted).
    fn has_input(&self, i: usize) -> bool {
        self.node.inputs.get(i).is_some_and(|t| !t.name.is_empty())
    }

    fn attr_int(&self, name: &str) -> Option<i64> {
        self.node.attributes.get(name)?.as_int()
    }

    fn attr_str(&self, name: &str) -> Option<&str> {
        self.node.attributes.get(name)?.as_str()
    }

    /// flopscope's MACs, when the node was counted.
    fn macs(&self) -> Option<Dim> {
        self.node.counted.then(|| self.node.macs.clone())
    }

    /// The bias input of a conv or Gemm is given.
    fn has_bias(&self) -> bool {
        match self.op() {
            "QLinearConv" => self.has_input(8),
            "Conv" | "ConvTranspose" | "Gemm" => self.has_input(2),
            _ => false,
        }
    }

    /// `o` when the bias is given, else 0.
    fn bias_adds(&self) -> Option<Dim> {
        if self.has_bias() {
            self.o()
        } else {
            Some(Dim::zero())
        }
    }

    /// `dim` of input `i`, negative counting from the end.
    fn in_dim(&self, i: usize, dim: i64) -> Option<Dim> {
        let s = self.in_shape(i)?;
        let k = if dim < 0 {
            s.len()
                .checked_sub(usize::try_from(dim.unsigned_abs()).ok()?)?
        } else {
            usize::try_from(dim).ok()?
        };
        s.get(k).cloned()
    }

    /// Clip's bounds (inputs from opset 11, attributes before); `None` where unknown or
    /// absent.
    fn clip_bounds(&self) -> (Option<f64>, Option<f64>) {
        let input = |i: usize| {
            let t = self.node.inputs.get(i)?;
            match t.value.as_deref() {
                Some([v]) => Some(*v),
                _ => None,
            }
        };
        let attr = |name: &str| self.node.attributes.get(name)?.as_float();
        (
            input(1).or_else(|| attr("min")),
            input(2).or_else(|| attr("max")),
        )
    }

    /// Clip(0, 6): `nn.ReLU6` (or `F.relu6`).
    fn is_relu6(&self) -> bool {
        self.clip_bounds() == (Some(0.0), Some(6.0))
    }

    /// Adaptive average pooling to one element per channel: GlobalAveragePool, or a ReduceMean
    /// over every spatial axis of a 4-D or 5-D input that keeps them (what the dynamo exporter
    /// makes of `adaptive_avg_pool2d(x, 1)`; `x.mean((2, 3))` does not keep them).
    fn is_global_avg_pool(&self) -> bool {
        match self.op() {
            "GlobalAveragePool" => true,
            "ReduceMean" => {
                let Some(rank) = self.in_shape(0).map(<[Dim]>::len) else {
                    return false;
                };
                let keep = self.attr_int("keepdims").unwrap_or(1) == 1;
                let axes: Option<Vec<i64>> = match self.node.attributes.get("axes") {
                    Some(a) => a.as_ints().map(<[i64]>::to_vec),
                    None => self
                        .node
                        .inputs
                        .get(1)
                        .and_then(|t| t.value.as_deref())
                        .map(|v| v.iter().map(|&x| x as i64).collect()),
                };
                let Some(mut axes) = axes else {
                    return false;
                };
                let rank = i64::try_from(rank).unwrap_or(0);
                for a in &mut axes {
                    if *a < 0 {
                        *a += rank;
                    }
                }
                axes.sort_unstable();
                // Rank 4 or 5 only: a mean over the last axis of [batch, seq, hidden] kept
                // is a decomposed LayerNorm, not a 1-D pooling.
                keep && rank >= 4 && axes == (2..rank).collect::<Vec<_>>()
            }
            _ => false,
        }
    }

    /// A MatMul (or Gemm) that reads a weight: `nn.Linear`.
    fn is_linear(&self) -> bool {
        self.graph.is_linear(self.node)
    }

    /// Resize / Upsample mode (`nearest` when absent) and the rank of the output.
    fn resize(&self) -> Option<(&str, usize)> {
        Some((
            self.attr_str("mode").unwrap_or("nearest"),
            self.out_shape(0)?.len(),
        ))
    }

    /// `prod(a.shape) · b.shape[-1]`: what fvcore and ptflops count for `torch.matmul`.
    fn matmul_prod(&self) -> Option<Dim> {
        let b = self.in_shape(1)?;
        if b.len() < 2 {
            return self.macs();
        }
        Some(self.i()? * b.last()?)
    }

    /// An RNN node's sizes: (kind, input size, hidden size, directions, steps·batch, has B).
    fn rnn(&self) -> Option<Rnn> {
        let x = self.in_shape(0)?;
        let w = self.in_shape(1)?;
        let gates = match self.op() {
            "LSTM" => 4,
            "GRU" => 3,
            "RNN" => 1,
            _ => return None,
        };
        let hidden = match self.attr_int("hidden_size") {
            Some(h) => Dim::from_i64(h),
            None => w.get(1)?.div_exact(&Dim::from_i64(gates))?,
        };
        Some(Rnn {
            gates,
            input: x.get(2)?.clone(),
            hidden,
            dirs: w.first()?.clone(),
            steps: x.first()? * x.get(1)?,
            bias: self.has_input(3),
        })
    }
}

/// The sizes of an ONNX RNN, LSTM or GRU node.
struct Rnn {
    /// 1 (RNN), 3 (GRU) or 4 (LSTM).
    gates: i64,
    input: Dim,
    hidden: Dim,
    dirs: Dim,
    /// seq · batch.
    steps: Dim,
    bias: bool,
}

impl Rnn {
    fn runs(&self) -> Dim {
        &self.steps * &self.dirs
    }
}

/// thop: only leaf modules with a registered hook count; functional calls count nothing.
fn thop(n: &Facts<'_>) -> Option<Dim> {
    if !n.module() {
        return Some(Dim::zero());
    }
    match n.op() {
        // output elements · in_channels/groups · kernel elements, for Conv and ConvTranspose
        // alike (for ConvTranspose that is not its MACs).
        "Conv" | "ConvTranspose" => {
            let w = n.in_shape(1)?;
            let cin = n.in_dim(0, 1)?;
            let group = n.attr_int("group").unwrap_or(1);
            let per_group = cin.div_exact(&Dim::from_i64(group))?;
            Some(n.o()? * per_group * numel(w.get(2..)?))
        }
        // in_features · output elements.
        _ if n.is_linear() => n.macs(),
        // 2 per element, twice with the affine weight (BatchNorm, LayerNorm default to it;
        // InstanceNorm does not).
        "BatchNormalization" | "LayerNormalization" => Some(n.i()? * 4),
        "InstanceNormalization" => Some(n.i()? * 2),
        "PRelu" => n.i(),
        // batch · (exp + add + div per feature, one add fewer): 3·elems − rows.
        "Softmax" => {
            let axis = n.attr_int("axis").unwrap_or(-1);
            let features = n.in_dim(0, axis)?;
            let i = n.i()?;
            let rows = i.div_exact(&features)?;
            Some(i * 3 - rows)
        }
        "AveragePool" => n.o(),
        // (kernel elements + 1) per output: input + output elements.
        _ if n.is_global_avg_pool() => Some(n.i()? + n.o()?),
        "Resize" | "Upsample" => {
            let (mode, rank) = n.resize()?;
            let per_output = match (mode, rank) {
                ("nearest", _) => 1,
                ("linear", 3) => 5,
                ("linear", 4) => 11,
                ("cubic", 4) => 259,
                _ => 0,
            };
            Some(n.o()? * per_output)
        }
        "RNN" | "GRU" | "LSTM" => {
            let r = n.rnn()?;
            let (h, x) = (&r.hidden, &r.input);
            let matmul = (x + h) * h;
            let bias = if r.bias { h * 2 } else { Dim::zero() };
            let cell = match r.gates {
                // h' = tanh(W x + U h + b): contractions, one add, two biases.
                1 => matmul + h + bias,
                // r, z: 2 gates; n: a third, then r ⊙ (·) and (1 − z) ⊙ n + z ⊙ h.
                3 => (matmul + h + &bias) * 3 + h + h * 3,
                // i, f, o, g gates; c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c').
                _ => (matmul + h + &bias) * 4 + h * 3 + h,
            };
            Some(cell * r.runs())
        }
        _ => Some(Dim::zero()),
    }
}

/// ptflops' pytorch backend: hooks on leaf modules, plus patched `torch.nn.functional` calls
/// that count again when a module's `forward` calls them (`nn.ReLU` → `F.relu`).
fn ptflops(n: &Facts<'_>) -> Option<Dim> {
    let module = n.module();
    let twice_for_modules = |count: Dim| Some(if module { count * 2 } else { count });
    match n.op() {
        // kernel elements · in · out/groups per position (its MACs) + bias per output.
        "Conv" | "ConvTranspose" if module => Some(n.macs()? + n.bias_adds()?),
        "Gemm" if module => Some(n.macs()? + n.bias_adds()?),
        // nn.Linear on a ≥3-D input; F.linear is not patched.
        "MatMul" if n.is_linear() => {
            if module {
                n.macs()
            } else {
                Some(Dim::zero())
            }
        }
        "MatMul" => n.matmul_prod(),
        // The Linear module's hook counts its bias.
        "Add" => match n.graph.linear_of_bias(n.node) {
            Some(linear) if n.graph.scopes.call(linear) == Call::Module => n.o(),
            _ => Some(Dim::zero()),
        },
        // input elements, twice with an `affine` weight (LayerNorm's is `elementwise_affine`).
        "BatchNormalization" | "GroupNormalization" => Some(n.i()? * 2),
        "LayerNormalization" | "InstanceNormalization" => n.i(),
        "Relu" | "PRelu" | "Elu" | "Gelu" | "Erf" => twice_for_modules(n.o()?),
        "Clip" if n.is_relu6() => n.o(),
        "LeakyRelu" if module => n.o(),
        "Softmax" => n.i(),
        "MaxPool" | "AveragePool" | "GlobalMaxPool" => twice_for_modules(n.i()?),
        _ if n.is_global_avg_pool() => twice_for_modules(n.i()?),
        "Resize" | "Upsample" => twice_for_modules(n.o()?),
        // Per step and batch row: both weight matrices, the gate arithmetic, both biases.
        "RNN" | "GRU" | "LSTM" if module => {
            let r = n.rnn()?;
            let h = &r.hidden;
            let weights = (&r.input + h) * h * r.gates;
            let gate_math = match r.gates {
                1 => h.clone(),
                3 => h * 7,
                _ => h * 10,
            };
            let bias = if r.bias {
                h * (2 * r.gates)
            } else {
                Dim::zero()
            };
            Some((weights + gate_math + bias) * r.runs())
        }
        _ => Some(Dim::zero()),
    }
}

/// Contractions as ATen runs them (convolution, mm, bmm, addmm, the RNN gates).
fn is_contraction(n: &Facts<'_>) -> bool {
    matches!(n.node.class, OpClass::Conv | OpClass::Matmul)
        || matches!(n.op(), "RNN" | "GRU" | "LSTM")
}

/// ptflops' aten backend: convolution, mm, bmm, addmm, matmul; biases count.
fn ptflops_aten(n: &Facts<'_>) -> Option<Dim> {
    match n.op() {
        "Add" if n.graph.linear_of_bias(n.node).is_some() => n.o(),
        // addmm with each gate bias, per step and batch row.
        "RNN" | "GRU" | "LSTM" => {
            let r = n.rnn()?;
            let bias = if r.bias {
                &r.hidden * (2 * r.gates) * r.runs()
            } else {
                Dim::zero()
            };
            Some(n.macs()? + bias)
        }
        _ if is_contraction(n) => Some(n.macs()? + n.bias_adds()?),
        _ => Some(Dim::zero()),
    }
}

/// fvcore: its default handles only (convolution, matmuls, einsum, norms, adaptive average
/// pooling, upsampling, grid sampling); one multiply-add is one flop; biases do not count.
fn fvcore(n: &Facts<'_>) -> Option<Dim> {
    match n.op() {
        // aten::lstm / gru / rnn have no handle.
        "RNN" | "GRU" | "LSTM" => Some(Dim::zero()),
        "MatMul" if !n.is_linear() => n.matmul_prod(),
        _ if is_contraction(n) => n.macs(),
        // Inference: 1 per element, 2 with the affine weight; training: 5.
        "BatchNormalization" => {
            let per = if n.attr_int("training_mode") == Some(1) {
                5
            } else {
                2
            };
            Some(n.i()? * per)
        }
        "LayerNormalization" | "GroupNormalization" => Some(n.i()? * 5),
        "InstanceNormalization" => Some(n.i()? * 4),
        _ if n.is_global_avg_pool() => n.i(),
        // upsample_nearest2d: 1 per output; upsample_bilinear2d: 4.
        "Resize" | "Upsample" => match n.resize()? {
            ("nearest", 4) => n.o(),
            ("linear", 4) => Some(n.o()? * 4),
            _ => Some(Dim::zero()),
        },
        "GridSample" => Some(n.o()? * 4),
        _ => Some(Dim::zero()),
    }
}

/// torch's FlopCounterMode: 2 per MAC of convolution, mm, bmm, addmm, baddbmm and attention;
/// biases and everything else do not count.
fn torch(n: &Facts<'_>) -> Option<Dim> {
    if is_contraction(n) {
        Some(n.macs()? * 2)
    } else {
        Some(Dim::zero())
    }
}

/// onnx-tool's instruction costs (`node.py`): MUL, ADD, CMP 1, DIV 4, EXP and POW 32, LOG 43,
/// SIN and COS 39, SQRT 24.
mod ot {
    pub(super) const EXP: i64 = 32;
    pub(super) const DIV: i64 = 4;
    pub(super) const LOG: i64 = 43;
    pub(super) const SIN: i64 = 39;
    pub(super) const SQRT: i64 = 24;
    /// `(e^2x − 1)/(e^2x + 1)`: exp, two adds, a division.
    pub(super) const TANH: i64 = EXP + 2 + DIV;
    pub(super) const ATAN: i64 = SQRT + 3 + 1 + DIV;
}

/// onnx-tool: every ONNX node by op type (any domain); unregistered ops count 0.
fn onnx_tool(n: &Facts<'_>) -> Option<Dim> {
    let inputs = n.node.inputs.len();
    // Its elementwise classes multiply by max(1, inputs − 1).
    let fan_in = inputs.saturating_sub(1).max(1) as i64;
    let per_output = |cost: i64| Some(n.o()? * cost);
    match n.op() {
        // output elements · weight elements past the first dim, + 1 per output with bias.
        "Conv" | "ConvTranspose" => {
            let w = n.in_shape(1)?;
            let mut macs = n.o()? * numel(w.get(1..)?);
            if inputs > 2 {
                macs += n.o()?;
            }
            Some(macs)
        }
        "ConvInteger" | "QLinearConv" => {
            let w = n.in_shape(if n.op() == "QLinearConv" { 3 } else { 1 })?;
            let mut macs = n.o()? * numel(w.get(1..w.len().min(4))?);
            if n.op() == "QLinearConv" && inputs == 9 {
                macs += n.o()?;
            }
            Some(macs)
        }
        "Gemm" => {
            let trans_b = n.attr_int("transB").unwrap_or(0) > 0;
            let k = n.in_dim(1, if trans_b { -1 } else { -2 })?;
            let mut macs = n.o()? * k;
            if inputs == 3 {
                macs += n.o()?;
            }
            Some(macs)
        }
        "MatMul" | "MatMulInteger" => {
            let w = n.in_shape(1)?;
            let mut macs = n.o()?;
            if w.len() > 1 {
                macs *= &w[w.len() - 2];
            }
            if inputs == 3 {
                macs += n.o()?;
            }
            Some(macs)
        }
        "QLinearMatMul" => Some(n.i()? * n.in_dim(3, -1)?),
        "Einsum" => onnx_tool_einsum(n),
        "Add" | "Sub" | "Mul" | "Max" | "Min" | "Mod" | "Neg" | "Abs" | "Ceil" => {
            per_output(fan_in)
        }
        "Div" => per_output(fan_in * ot::DIV),
        "Sum" => per_output(inputs.saturating_sub(1) as i64),
        "Relu" | "Sign" | "Hardmax" | "CumSum" | "Floor" | "Equal" | "Greater"
        | "GreaterOrEqual" | "Less" | "LessOrEqual" | "Round" | "Not" | "And" | "Or" | "Xor"
        | "NonZero" => per_output(1),
        "Clip" | "LeakyRelu" | "PRelu" | "ImageScaler" | "DequantizeLinear" | "QuantizeLinear" => {
            per_output(2)
        }
        "HardSigmoid" => per_output(4),
        "HardSwish" => per_output(5),
        "Reciprocal" => per_output(ot::DIV),
        "Sqrt" => per_output(ot::SQRT),
        "Exp" | "Sigmoid" | "Pow" => per_output(ot::EXP),
        "Silu" => per_output(ot::EXP + 1),
        "Gelu" => per_output(ot::EXP + 2),
        "Elu" => per_output(ot::EXP + 3),
        "LpNormalization" => per_output(ot::EXP + 1),
        "Softmax" => per_output(ot::EXP + ot::DIV),
        "Log" => per_output(ot::LOG),
        "Softplus" => per_output(ot::EXP + 1 + ot::LOG),
        "LogSoftmax" => per_output(ot::EXP + ot::DIV + 1 + ot::LOG),
        "Sin" | "Cos" => per_output(ot::SIN),
        // Tanh and Atan count twice per output.
        "Tanh" => per_output(2 * ot::TANH),
        "Atan" => per_output(2 * ot::ATAN),
        // (add + sqrt + div + add + mul) per element.
        "BatchNormalization" => per_output(1 + ot::SQRT + ot::DIV + 1 + 1),
        // (add + mul + add + div) per element, times max(1, inputs − 1) = 2.
        "InstanceNormalization" => per_output((3 + ot::DIV) * fan_in),
        // 3 mul + 4 add per element; add + sqrt + div per element with the axis dim set to 1.
        "LayerNormalization" => {
            let i = n.i()?;
            let axis = n.attr_int("axis").unwrap_or(-1);
            let rows = i.div_exact(&n.in_dim(0, axis)?)?;
            Some(i * 7 + rows * (1 + ot::SQRT + ot::DIV))
        }
        "LRN" => Some(n.o()? * (Dim::from_i64(n.attr_int("size")?) + (ot::DIV + ot::EXP + 1))),
        // 1 per output and kernel element of the first two kernel dims (only the first for a
        // 3-D kernel).
        "MaxPool" | "AveragePool" => {
            let k = n.node.attributes.get("kernel_shape")?.as_ints()?;
            let kernel = match k {
                [a, b] => Dim::from_i64(*a) * *b,
                [a, ..] => Dim::from_i64(*a),
                [] => Dim::one(),
            };
            Some(n.o()? * kernel)
        }
        "GlobalAveragePool" => Some(n.i()? + n.o()? * ot::DIV),
        "ReduceMean" | "ReduceSum" | "ReduceProd" | "ReduceMin" | "ReduceMax" => n.i(),
        "ReduceL2" => Some(n.i()? * (1 + ot::SQRT)),
        "Resize" | "Upsample" => match n.resize()?.0 {
            "linear" => per_output(4),
            "cubic" => per_output(8),
            _ => Some(Dim::zero()),
        },
        // Weight and bias contractions for every step, plus per-step gate arithmetic.
        "LSTM" | "GRU" => {
            let w = n.in_shape(1)?;
            let r = n.in_shape(2)?;
            let rnn = n.rnn()?;
            let gemm = (numel(w) + numel(r)) * &rnn.steps;
            let bias = match n.in_shape(3) {
                Some(b) if rnn.bias => numel(b) * &rnn.steps,
                _ => Dim::zero(),
            };
            let per_state = if rnn.gates == 4 {
                // 4 adds, 3 sigmoids, 2 tanh, blend add + 3 mul.
                4 + 3 * ot::EXP + 2 * ot::TANH + 4
            } else {
                // 3 adds, 2 sigmoids, 1 tanh, blend 2 add + 3 mul.
                3 + 2 * ot::EXP + ot::TANH + 5
            };
            Some(gemm + bias + rnn.steps * rnn.hidden * per_state)
        }
        _ => Some(Dim::zero()),
    }
}

/// onnx-tool's Einsum: the product of the sizes of every letter of the first two operands.
fn onnx_tool_einsum(n: &Facts<'_>) -> Option<Dim> {
    let equation = n.attr_str("equation")?.replace(' ', "");
    let (lhs, _) = equation.split_once("->")?;
    let mut operands = lhs.split(',');
    let (a, b) = (operands.next()?, operands.next()?);
    let mut sizes: BTreeMap<char, Dim> = BTreeMap::new();
    for (letters, i) in [(a, 0), (b, 1)] {
        let shape = n.in_shape(i)?;
        if letters.contains('.') || letters.chars().count() != shape.len() {
            return None;
        }
        for (c, d) in letters.chars().zip(shape) {
            sizes.insert(c, d.clone());
        }
    }
    Some(sizes.values().product())
}

/// Hints on why this model's published numbers may differ from the conventions' counts.
pub fn notes(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let has = |op: &str| report.nodes.iter().any(|n| n.op_type == op);
    if !has("BatchNormalization") && has("Conv") {
        let biased = report
            .nodes
            .iter()
            .filter(|n| n.op_type == "Conv")
            .all(|n| n.inputs.get(2).is_some_and(|t| !t.name.is_empty()));
        if biased {
            out.push(
                "No BatchNormalization and every Conv has a bias: if the PyTorch model had \
                 BatchNorm, the exporter folded it into the convolutions. thop (4/elem), \
                 ptflops (2) and fvcore (2) count BatchNorm in PyTorch, and ptflops counts the \
                 folded biases the PyTorch convs lack: published numbers differ from these. \
                 Export with BatchNorm kept (do_constant_folding=False) to reproduce them."
                    .into(),
            );
        }
    }
    if !report.nodes.iter().any(|n| n.name.starts_with('/')) {
        out.push(
            "Node names carry no PyTorch module scopes: thop and ptflops rules assume \
             activations, pooling and Linear layers are nn.Module calls, and Softmax, matmul \
             and arithmetic are functional calls."
                .into(),
        );
    }
    if report.totals.lower_bound {
        out.push("Some nodes are uncounted: every count is a lower bound.".into());
    }
    out
}

#[cfg(test)]
mod tests;
