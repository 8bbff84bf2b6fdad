//! A one-node model builder for unit tests: the op families' own, and (with the `testing`
//! feature) those of crates that declare ops, such as `flopscope-op-costs`.

use std::collections::BTreeMap;

use flopscope_ir::{
    Attr, ConstTensor, DType, DeclaredType, Dim, Graph, Model, Node, NodeId, Storage, TensorType,
    Value, ValueDef, ValueId,
};

use crate::{Profile, ProfileOptions, profile};

/// A tensor type from a dtype name and constant dims.
pub fn t(dtype: &str, dims: &[i64]) -> TensorType {
    TensorType::new(
        dtype_named(dtype),
        dims.iter().map(|&d| Dim::from_i64(d)).collect(),
    )
}

fn dtype_named(name: &str) -> DType {
    use DType::*;
    [Float32, Float16, Float64, Int64, Int32, Int8, Uint8, Bool]
        .into_iter()
        .find(|d| d.name() == name)
        .unwrap_or_else(|| panic!("test dtype {name}"))
}

#[derive(Debug)]
enum Input {
    /// Output 0 of the previous node.
    Previous,
    Activation(TensorType),
    Weight(TensorType),
    Ints(DType, Vec<u64>, Vec<i64>),
    Floats(Vec<u64>, Vec<f32>),
    Strs(Vec<u64>, Vec<String>),
    Absent,
}

#[derive(Debug)]
struct NodeSpec {
    op_type: String,
    inputs: Vec<Input>,
    attrs: Vec<(String, Attr)>,
    outputs: usize,
}

/// A chain of nodes as a whole model: each node after the first reads the previous node's
/// output 0 as its input 0. Inputs and attributes go to the last node added. Totals and
/// outputs are those of the last node.
#[derive(Debug)]
pub struct Case {
    domain: String,
    opset: i64,
    nodes: Vec<NodeSpec>,
}

impl Case {
    /// A node of ONNX Runtime's `com.microsoft` domain (version 1).
    pub fn ms(op_type: &str) -> Case {
        Case::new(op_type).domain("com.microsoft").opset(1)
    }

    pub fn new(op_type: &str) -> Case {
        Case {
            domain: String::new(),
            opset: 17,
            nodes: vec![NodeSpec {
                op_type: op_type.into(),
                inputs: Vec::new(),
                attrs: Vec::new(),
                outputs: 1,
            }],
        }
    }

    /// Appends a node reading the previous node's output 0 as its input 0.
    pub fn then(mut self, op_type: &str) -> Case {
        self.nodes.push(NodeSpec {
            op_type: op_type.into(),
            inputs: vec![Input::Previous],
            attrs: Vec::new(),
            outputs: 1,
        });
        self
    }

    fn last(&mut self) -> &mut NodeSpec {
        self.nodes.last_mut().expect("a case has a node")
    }

    /// The domain of every node (and of the model's one opset import).
    pub fn domain(mut self, domain: &str) -> Case {
        self.domain = domain.into();
        self
    }

    pub fn opset(mut self, opset: i64) -> Case {
        self.opset = opset;
        self
    }

    /// A graph input (an activation) of this type.
    pub fn input(mut self, ty: TensorType) -> Case {
        self.last().inputs.push(Input::Activation(ty));
        self
    }

    /// A graph input whose dims are integers or symbol names.
    pub fn input_sym(self, dtype: &str, dims: &[&str]) -> Case {
        let shape = dims
            .iter()
            .map(|d| Dim::parse(d).expect("test dim"))
            .collect();
        self.input(TensorType::new(dtype_named(dtype), shape))
    }

    /// An initializer of this type (no data: weights are never read).
    pub fn weight(mut self, ty: TensorType) -> Case {
        self.last().inputs.push(Input::Weight(ty));
        self
    }

    /// A small int64 initializer with values (shapes, axes).
    pub fn const_i64s(mut self, dims: &[u64], values: &[i64]) -> Case {
        self.last()
            .inputs
            .push(Input::Ints(DType::Int64, dims.to_vec(), values.to_vec()));
        self
    }

    /// A small float32 initializer with values (bounds, scalars).
    pub fn const_f32s(mut self, dims: &[u64], values: &[f32]) -> Case {
        self.last()
            .inputs
            .push(Input::Floats(dims.to_vec(), values.to_vec()));
        self
    }

    /// A small string initializer with values (UTF-8 text).
    pub fn const_strs(mut self, dims: &[u64], values: &[&str]) -> Case {
        self.last().inputs.push(Input::Strs(
            dims.to_vec(),
            values.iter().map(|&v| v.to_owned()).collect(),
        ));
        self
    }

    /// An omitted optional input.
    pub fn absent(mut self) -> Case {
        self.last().inputs.push(Input::Absent);
        self
    }

    pub fn outputs(mut self, n: usize) -> Case {
        self.last().outputs = n;
        self
    }

    pub fn int(mut self, name: &str, v: i64) -> Case {
        self.last().attrs.push((name.into(), Attr::Int(v)));
        self
    }

    pub fn ints(mut self, name: &str, v: &[i64]) -> Case {
        self.last()
            .attrs
            .push((name.into(), Attr::Ints(v.to_vec())));
        self
    }

    pub fn float(mut self, name: &str, v: f32) -> Case {
        self.last().attrs.push((name.into(), Attr::Float(v)));
        self
    }

    pub fn str(mut self, name: &str, v: &str) -> Case {
        self.last()
            .attrs
            .push((name.into(), Attr::String(v.into())));
        self
    }

    pub fn attr(mut self, name: &str, v: Attr) -> Case {
        self.last().attrs.push((name.into(), v));
        self
    }

    /// The model, without profiling it.
    pub fn model(self) -> Model {
        let mut g = Graph {
            name: "test".into(),
            ..Graph::default()
        };
        let mut previous: Option<ValueId> = None;
        let count = self.nodes.len();
        for (n, spec) in self.nodes.into_iter().enumerate() {
            let mut node_inputs = Vec::new();
            for (i, input) in spec.inputs.into_iter().enumerate() {
                let id = ValueId(g.values.len() as u32);
                let name = format!("n{n}_in{i}");
                let (def, declared) = match input {
                    Input::Absent => {
                        node_inputs.push(None);
                        continue;
                    }
                    Input::Previous => {
                        node_inputs.push(previous);
                        continue;
                    }
                    Input::Activation(ty) => {
                        g.inputs.push(id);
                        let declared = DeclaredType::Tensor {
                            dtype: Some(ty.dtype),
                            shape: Some(ty.shape.into_iter().map(Some).collect()),
                        };
                        (ValueDef::Input, Some(declared))
                    }
                    Input::Weight(ty) => (
                        ValueDef::Initializer(ConstTensor {
                            dtype: ty.dtype,
                            dims: ty
                                .shape
                                .iter()
                                .map(|d| d.as_i64().expect("weight dims are constants") as u64)
                                .collect(),
                            storage: Storage::External {
                                location: "absent.bin".into(),
                                offset: 0,
                                length: None,
                            },
                        }),
                        None,
                    ),
                    Input::Ints(dtype, dims, values) => (
                        ValueDef::Initializer(ConstTensor {
                            dtype,
                            dims,
                            storage: Storage::LittleEndian(
                                values
                                    .iter()
                                    .flat_map(|v| v.to_le_bytes())
                                    .collect::<Vec<_>>()
                                    .into(),
                            ),
                        }),
                        None,
                    ),
                    Input::Floats(dims, values) => (
                        ValueDef::Initializer(ConstTensor {
                            dtype: DType::Float32,
                            dims,
                            storage: Storage::LittleEndian(
                                values
                                    .iter()
                                    .flat_map(|v| v.to_le_bytes())
                                    .collect::<Vec<_>>()
                                    .into(),
                            ),
                        }),
                        None,
                    ),
                    Input::Strs(dims, values) => (
                        ValueDef::Initializer(ConstTensor {
                            dtype: DType::String,
                            dims,
                            storage: Storage::Strings(
                                values.into_iter().map(|v| v.into_bytes().into()).collect(),
                            ),
                        }),
                        None,
                    ),
                };
                g.values.push(Value {
                    name,
                    declared,
                    def,
                });
                node_inputs.push(Some(id));
            }
            let mut node_outputs = Vec::new();
            for j in 0..spec.outputs {
                let id = ValueId(g.values.len() as u32);
                g.values.push(Value {
                    name: format!("n{n}_out{j}"),
                    declared: None,
                    def: ValueDef::Node {
                        node: NodeId(n as u32),
                        output: j,
                    },
                });
                if n + 1 == count {
                    g.outputs.push(id);
                }
                node_outputs.push(Some(id));
            }
            previous = node_outputs.first().copied().flatten();
            let mut attrs = spec.attrs;
            attrs.sort_by(|a, b| a.0.cmp(&b.0));
            g.nodes.push(Node {
                name: format!("node{n}"),
                op_type: spec.op_type,
                domain: self.domain.clone(),
                inputs: node_inputs,
                outputs: node_outputs,
                attrs,
                scope: Vec::new(),
            });
        }
        g.assign_node_names();
        Model {
            ir_version: 8,
            opsets: BTreeMap::from([(self.domain, self.opset)]),
            graph: g,
            ..Model::default()
        }
    }

    pub fn run(self) -> Outcome {
        let model = self.model();
        match profile(&model, &ProfileOptions::default()) {
            Ok(profile) => Outcome { model, profile },
            Err(e) => panic!("profile failed: {e}"),
        }
    }

    pub fn run_err(self) -> String {
        let model = self.model();
        match profile(&model, &ProfileOptions::default()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

/// The profile of a [`Case`].
#[derive(Debug)]
pub struct Outcome {
    model: Model,
    profile: Profile,
}

fn int(d: &Dim) -> i64 {
    d.as_i64()
        .unwrap_or_else(|| panic!("expected an integer, got {d}"))
}

impl Outcome {
    fn output_id(&self, i: usize) -> ValueId {
        let last = self.model.graph.nodes.last().expect("a node");
        last.outputs[i].expect("output")
    }

    fn output_type(&self, i: usize) -> &TensorType {
        let id = self.output_id(i);
        self.profile.value_types[id.index()]
            .as_ref()
            .and_then(|t| t.as_tensor())
            .expect("tensor output")
    }

    /// Output `i`'s shape, as `[1, 32, 112, 112]`.
    pub fn shape(&self, i: usize) -> String {
        crate::shape_string(&self.output_type(i).shape)
    }

    pub fn dtype(&self, i: usize) -> DType {
        self.output_type(i).dtype
    }

    /// The derived dims of the last node: `symbol: reason` lines.
    pub fn derived(&self) -> Vec<String> {
        let last = self.profile.nodes.last().expect("a node");
        last.derived_dims
            .iter()
            .map(|(s, r)| format!("{s}: {r}"))
            .collect()
    }

    /// Known elements of output `i`, as integers.
    pub fn value(&self, i: usize) -> Option<String> {
        let v = self.profile.known_values[self.output_id(i).index()].as_ref()?;
        Some(match v.as_ints() {
            Some(ints) => crate::shape_string(ints),
            None => format!("{:?}", v.as_f64s()?),
        })
    }

    /// Known string elements of output `i` (lossy UTF-8), and the shape they were folded with.
    pub fn strs(&self, i: usize) -> Option<(Vec<usize>, Vec<String>)> {
        let v = self.profile.known_values[self.output_id(i).index()].as_ref()?;
        let strs = v.as_strs()?;
        Some((
            v.shape.clone(),
            strs.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect(),
        ))
    }

    pub fn macs(&self) -> i64 {
        int(&self.profile.totals.macs)
    }

    pub fn macs_expr(&self) -> String {
        self.profile.totals.macs.to_string()
    }

    pub fn flops_mul_expr(&self) -> String {
        self.profile.totals.flops.mul.to_string()
    }

    pub fn flops_add(&self) -> i64 {
        int(&self.profile.totals.flops.add)
    }

    pub fn flops_mul(&self) -> i64 {
        int(&self.profile.totals.flops.mul)
    }

    pub fn flops_div(&self) -> i64 {
        int(&self.profile.totals.flops.div)
    }

    pub fn flops_cmp(&self) -> i64 {
        int(&self.profile.totals.flops.cmp)
    }

    pub fn flops_special(&self) -> i64 {
        int(&self.profile.totals.flops.special)
    }

    /// The model totals.
    pub fn totals(&self) -> &crate::Totals {
        &self.profile.totals
    }

    /// FLOPs by kind: (add, mul, div, cmp, special).
    pub fn kinds(&self) -> (i64, i64, i64, i64, i64) {
        (
            self.flops_add(),
            self.flops_mul(),
            self.flops_div(),
            self.flops_cmp(),
            self.flops_special(),
        )
    }

    pub fn params(&self) -> i64 {
        int(&self.profile.totals.params)
    }

    pub fn buffers(&self) -> i64 {
        int(&self.profile.totals.buffers)
    }
}
