//! `cargo xtask verify-shapes`: every value's inferred shape against ONNX Runtime's.
//!
//! The model is rewritten (with onnx-protobuf) so that every value a node of the main graph
//! computes is also a graph output, run once in ONNX Runtime on made-up inputs of the given
//! shapes, and each output's runtime shape is compared with what flopscope inferred.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flopscope::counters::ProfileOptions;
use flopscope::ir::{Dim, ValueType};
use flopscope_ort::{InputSpec, Runtime, RuntimeValue};
use onnx_protobuf::{ModelProto, TypeProto, ValueInfoProto, type_proto};
use protobuf::Message;

/// A model file and the shapes of its inputs.
type Case = (PathBuf, BTreeMap<String, Vec<i64>>);

/// One comparison: a model at one set of input shapes.
#[derive(Debug)]
struct Verdict {
    values: usize,
    mismatches: Vec<String>,
}

pub(crate) fn run(model: Option<&Path>, inputs: &[String], zoo: Option<&Path>) -> Result<()> {
    let runtime = Runtime::load()?;
    let mut cases: Vec<Case> = Vec::new();
    if let Some(model) = model {
        let mut shapes = BTreeMap::new();
        for spec in inputs {
            let (name, dims) = spec
                .rsplit_once('=')
                .with_context(|| format!("`{spec}` is not NAME=1x3x224x224"))?;
            let dims = dims
                .split('x')
                .map(|d| {
                    d.parse::<i64>()
                        .with_context(|| format!("`{d}` in `{spec}`"))
                })
                .collect::<Result<Vec<_>>>()?;
            shapes.insert(name.to_owned(), dims);
        }
        cases.push((model.to_owned(), shapes));
    }
    if let Some(dir) = zoo {
        cases.extend(zoo_cases(dir)?);
    }
    if cases.is_empty() {
        bail!("give a MODEL or --zoo DIR");
    }
    let mut failed = 0;
    let mut total_values = 0;
    for (path, shapes) in &cases {
        let label = format!(
            "{} {}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            shapes
                .iter()
                .map(|(k, v)| format!(
                    "{k}={}",
                    v.iter().map(i64::to_string).collect::<Vec<_>>().join("x")
                ))
                .collect::<Vec<_>>()
                .join(" ")
        );
        match verify(runtime, path, shapes) {
            Ok(v) => {
                total_values += v.values;
                if v.mismatches.is_empty() {
                    println!("ok    {label}: all {} values agree", v.values);
                } else {
                    failed += 1;
                    println!(
                        "FAIL  {label}: {} of {} values differ",
                        v.mismatches.len(),
                        v.values
                    );
                    for m in v.mismatches.iter().take(10) {
                        println!("        {m}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {label}: {e:#}");
            }
        }
    }
    println!(
        "{} of {} model runs agree on every value ({total_values} values compared)",
        cases.len() - failed,
        cases.len()
    );
    if failed > 0 {
        bail!("{failed} model runs disagree with ONNX Runtime");
    }
    Ok(())
}

/// Every model of the zoo at every input size its `ANCHORS.json` lists.
fn zoo_cases(dir: &Path) -> Result<Vec<Case>> {
    let anchors_path = dir.join("ANCHORS.json");
    let text = std::fs::read_to_string(&anchors_path)
        .with_context(|| format!("cannot read {}", anchors_path.display()))?;
    let anchors: serde_json::Value = serde_json::from_str(&text)?;
    let mut cases = Vec::new();
    for (_, entry) in anchors
        .as_object()
        .context("ANCHORS.json is not an object")?
    {
        let file = dir.join(entry["file"].as_str().context("an entry without `file`")?);
        for case in entry["onnxruntime"].as_array().into_iter().flatten() {
            let mut shapes = BTreeMap::new();
            for (name, dims) in case["inputs"].as_object().into_iter().flatten() {
                let dims = dims
                    .as_array()
                    .context("input dims")?
                    .iter()
                    .map(|d| d.as_i64().context("a dim"))
                    .collect::<Result<Vec<_>>>()?;
                shapes.insert(name.clone(), dims);
            }
            cases.push((file.clone(), shapes));
        }
    }
    Ok(cases)
}

fn verify(runtime: &Runtime, path: &Path, shapes: &BTreeMap<String, Vec<i64>>) -> Result<Verdict> {
    let model = flopscope::onnx::load(path)?;
    let mut options = ProfileOptions::default();
    for (name, dims) in shapes {
        options.inputs.insert(
            name.clone(),
            dims.iter().map(|&d| Dim::from_i64(d)).collect(),
        );
    }
    let profile = flopscope::profile_model(path, &model, &options)?;
    let graph = &model.graph;
    let mut mismatches = Vec::new();
    // A value an uncounted node produced carries at best the model's declared type: it was not
    // inferred, so it cannot count as agreeing.
    for np in &profile.nodes {
        if let Some(reason) = np.uncounted {
            for (name, _) in &np.outputs {
                mismatches.push(format!(
                    "{name}: produced by uncounted {} ({})",
                    np.op_type,
                    reason.describe()
                ));
            }
        }
    }
    let mut inferred: BTreeMap<String, Option<ValueType>> = BTreeMap::new();
    for node in &graph.nodes {
        for id in node.outputs.iter().flatten() {
            inferred.insert(
                graph.value(*id).name.clone(),
                profile.value_types[id.index()].clone(),
            );
        }
    }

    // Expose every computed tensor as a graph output, typed with the inferred element type.
    let bytes = std::fs::read(path)?;
    let mut proto = ModelProto::parse_from_bytes(&bytes)?;
    let graph_proto = proto.graph.as_mut().context("the model has no graph")?;
    let existing: std::collections::BTreeSet<String> =
        graph_proto.output.iter().map(|o| o.name.clone()).collect();
    for (name, ty) in &inferred {
        if existing.contains(name) {
            continue;
        }
        match ty {
            Some(ValueType::Tensor(t)) => {
                let mut tensor = type_proto::Tensor::new();
                tensor.elem_type = t.dtype.code();
                let mut tp = TypeProto::new();
                tp.set_tensor_type(tensor);
                graph_proto.output.push(ValueInfoProto {
                    name: name.clone(),
                    type_: Some(tp).into(),
                    ..Default::default()
                });
            }
            Some(_) => {}
            None => mismatches.push(format!("{name}: flopscope inferred no type")),
        }
    }
    let rewritten = proto.write_to_bytes()?;

    let inputs = profile
        .inputs
        .iter()
        .map(|(name, ty)| {
            let ValueType::Tensor(t) = ty else {
                bail!("input `{name}` is not a tensor");
            };
            let shape = t
                .shape
                .iter()
                .map(|d| d.as_i64().and_then(|v| usize::try_from(v).ok()))
                .collect::<Option<Vec<_>>>()
                .with_context(|| {
                    format!("input `{name}` has a symbolic shape {t}: give --input")
                })?;
            Ok(InputSpec {
                name: name.clone(),
                dtype: t.dtype,
                shape,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = runtime.run(&rewritten, &inputs)?;
    // Sizes known only at run time (NonZero's count) and derived sizes are symbols: each takes
    // the runtime's size where it first stands alone as a dim, in execution order, and every
    // shape is then compared with the symbols so bound.
    let free: BTreeSet<&str> = profile
        .nodes
        .iter()
        .flat_map(|n| {
            n.fresh_symbols
                .iter()
                .map(String::as_str)
                .chain(n.derived_dims.iter().map(|(s, _)| s.as_str()))
        })
        .collect();
    let runtime_shapes: BTreeMap<&str, &Vec<i64>> = outputs
        .iter()
        .filter_map(|(name, v)| match v {
            RuntimeValue::Tensor { shape, .. } => Some((name.as_str(), shape)),
            RuntimeValue::Other(_) => None,
        })
        .collect();
    let mut bound: BTreeMap<String, i64> = BTreeMap::new();
    for np in &profile.nodes {
        for (name, ty) in &np.outputs {
            let (Some(ValueType::Tensor(t)), Some(shape)) = (ty, runtime_shapes.get(name.as_str()))
            else {
                continue;
            };
            for (d, &r) in t.shape.iter().zip(shape.iter()) {
                if let [s] = d.symbols().as_slice()
                    && free.contains(&**s)
                    && *d == Dim::sym(s)
                {
                    bound.entry(s.to_string()).or_insert(r);
                }
            }
        }
    }
    let lookup = |s: &str| bound.get(s).copied();
    let mut values = 0;
    for (name, runtime_value) in outputs {
        let Some(ours) = inferred.get(&name) else {
            continue;
        };
        values += 1;
        match (runtime_value, ours) {
            (RuntimeValue::Tensor { dtype, shape }, Some(ValueType::Tensor(t))) => {
                let same_shape = t.shape.len() == shape.len()
                    && t.shape
                        .iter()
                        .zip(&shape)
                        .all(|(d, r)| d.eval(&lookup).ok() == Some(*r));
                if !same_shape || dtype != Some(t.dtype) {
                    mismatches.push(format!(
                        "{name}: flopscope {t}, ONNX Runtime {}{:?}",
                        dtype.map(|d| d.name()).unwrap_or("?"),
                        shape
                    ));
                }
            }
            (RuntimeValue::Other(kind), ours) => {
                if !matches!(ours, Some(ValueType::Sequence(_) | ValueType::Optional(_))) {
                    mismatches.push(format!("{name}: ONNX Runtime gives {kind}"));
                }
            }
            (RuntimeValue::Tensor { .. }, other) => {
                mismatches.push(format!(
                    "{name}: flopscope {other:?}, ONNX Runtime a tensor"
                ));
            }
        }
    }
    Ok(Verdict { values, mismatches })
}
