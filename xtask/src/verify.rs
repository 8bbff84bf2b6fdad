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
pub(crate) struct Verdict {
    pub(crate) values: usize,
    pub(crate) mismatches: Vec<String>,
    /// MACs of the dense ops (Conv, ConvTranspose, MatMul, Gemm) computed by hand from ONNX
    /// Runtime's shapes, and flopscope's MACs of the same nodes.
    pub(crate) dense_macs: (i64, i64),
}

pub(crate) fn run(
    model: Option<&Path>,
    inputs: &[String],
    zoo: Option<&Path>,
    exports: bool,
) -> Result<()> {
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
    if exports {
        cases.extend(export_cases());
    }
    if cases.is_empty() {
        bail!("give a MODEL, --zoo DIR or --exports");
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
                    println!(
                        "ok    {label}: all {} values agree; dense MACs {} (by hand from ONNX Runtime's shapes: {})",
                        v.values, v.dense_macs.1, v.dense_macs.0
                    );
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

/// The real exports under `fixtures/exports/` (weight-stripped: their weights are made up) at
/// two input sizes each, one not square; the decoders with a key/value cache (and
/// `models/tiny_llama_kv.onnx`) at a prefill over a cache and at a decode step. (The Faster R-CNN export is not here: on made-up
/// weights it detects nothing, and ONNX Runtime's own Reshape of [0, 364] to [0, -1] fails;
/// `cargo xtask corpus` checks it with random weights.)
fn export_cases() -> Vec<Case> {
    let dir = crate::workspace_root().join("fixtures/exports");
    let case = |file: &str, input: &str, dims: &[i64]| {
        (
            dir.join(file),
            BTreeMap::from([(input.to_owned(), dims.to_vec())]),
        )
    };
    // A decoder with its cache: input_ids [batch, seq] and every layer's key and value
    // [batch, kv_heads, past, head_dim].
    let kv_case = |path: std::path::PathBuf,
                   (layers, kv_heads, head_dim): (usize, i64, i64),
                   (batch, seq, past): (i64, i64, i64)| {
        let mut shapes = BTreeMap::from([("input_ids".to_owned(), vec![batch, seq])]);
        for i in 0..layers {
            for kv in ["key", "value"] {
                shapes.insert(
                    format!("past_key_values.{i}.{kv}"),
                    vec![batch, kv_heads, past, head_dim],
                );
            }
        }
        (path, shapes)
    };
    let models = crate::workspace_root().join("fixtures/models");
    vec![
        kv_case(models.join("tiny_llama_kv.onnx"), (2, 2, 32), (2, 5, 9)),
        kv_case(models.join("tiny_llama_kv.onnx"), (2, 2, 32), (1, 1, 30)),
        kv_case(dir.join("llama_mha3_dynamo_kv.onnx"), (3, 6, 32), (2, 7, 4)),
        kv_case(
            dir.join("llama_mha3_dynamo_kv.onnx"),
            (3, 6, 32),
            (3, 1, 17),
        ),
        kv_case(
            dir.join("llama_mqa_fp16_dynamo_kv.onnx"),
            (2, 1, 64),
            (1, 6, 3),
        ),
        kv_case(
            dir.join("llama_mqa_fp16_dynamo_kv.onnx"),
            (2, 1, 64),
            (2, 1, 12),
        ),
        case("swin_t_legacy.onnx", "input", &[1, 3, 224, 224]),
        case("swin_t_legacy.onnx", "input", &[2, 3, 200, 300]),
        case("tiny_llama_dynamo.onnx", "input_ids", &[1, 16]),
        case("tiny_llama_dynamo.onnx", "input_ids", &[1, 40]),
        case("groupnorm_cnn_legacy.onnx", "input", &[1, 3, 32, 32]),
        case("groupnorm_cnn_legacy.onnx", "input", &[2, 3, 24, 40]),
        case("tiny_wav2vec2_dynamo.onnx", "input_values", &[1, 16000]),
        case("tiny_wav2vec2_dynamo.onnx", "input_values", &[2, 12000]),
    ]
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

pub(crate) fn verify(
    runtime: &Runtime,
    path: &Path,
    shapes: &BTreeMap<String, Vec<i64>>,
) -> Result<Verdict> {
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
    let external = flopscope_ort::bench::made_up_external_data(path, &model)?;
    let outputs = runtime.run(&rewritten, &inputs, &external)?;
    // Sizes known only at run time (NonZero's count) and derived sizes are symbols: each takes
    // the runtime's size where it first stands alone as a dim, in execution order, and every
    // shape is then compared with the symbols so bound.
    let free: BTreeSet<&str> = profile.nodes.iter().flat_map(|n| n.symbols()).collect();
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
    for (name, runtime_value) in outputs.iter().cloned() {
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
    // Every shape as ONNX Runtime has it: computed values, inputs, stored constants.
    let mut known: BTreeMap<&str, Vec<i64>> = runtime_shapes
        .iter()
        .map(|(name, shape)| (*name, (*shape).clone()))
        .collect();
    for (name, dims) in shapes {
        known.insert(name.as_str(), dims.clone());
    }
    for v in &graph.values {
        if let flopscope::ir::ValueDef::Initializer(t) = &v.def {
            known.insert(v.name.as_str(), t.dims.iter().map(|&d| d as i64).collect());
        }
    }
    let mut dense_runtime = 0i64;
    let mut dense_ours = 0i64;
    for (node, np) in profile
        .nodes
        .iter()
        .map(|np| (graph.node(np.id), np))
        .filter(|(n, _)| {
            DENSE.contains(&n.op_type.as_str()) && flopscope::ir::is_default_domain(&n.domain)
        })
    {
        let shape = |i: Option<&Option<flopscope::ir::ValueId>>| {
            i.copied()
                .flatten()
                .and_then(|id| known.get(graph.value(id).name.as_str()))
        };
        match dense_macs(
            &node.op_type,
            shape(node.inputs.first()),
            shape(node.inputs.get(1)),
            shape(node.outputs.first()),
        ) {
            Some(m) => dense_runtime += m,
            None => mismatches.push(format!(
                "{}: no runtime shapes to count its MACs by hand",
                np.name
            )),
        }
        dense_ours += np.cost.macs.eval(&lookup).unwrap_or(-1);
    }
    if dense_ours != dense_runtime {
        mismatches.push(format!(
            "dense MACs: flopscope {dense_ours}, from ONNX Runtime's shapes {dense_runtime}"
        ));
    }
    Ok(Verdict {
        values,
        mismatches,
        dense_macs: (dense_runtime, dense_ours),
    })
}

/// The ops whose MACs are counted by hand from runtime shapes.
const DENSE: [&str; 4] = ["Conv", "ConvTranspose", "MatMul", "Gemm"];

/// Multiply-accumulates of a dense op from its runtime shapes (`x` and `w` its first two
/// inputs, `y` its output): each output element of a Conv sums C/group × kernel products; a
/// ConvTranspose spreads each input element over M/group × kernel outputs; a MatMul or Gemm
/// output element sums K products.
fn dense_macs(
    op: &str,
    x: Option<&Vec<i64>>,
    w: Option<&Vec<i64>>,
    y: Option<&Vec<i64>>,
) -> Option<i64> {
    let prod = |v: &[i64]| v.iter().product::<i64>();
    Some(match op {
        "Conv" => {
            let (w, y) = (w?, y?);
            prod(y) * prod(&w[1..])
        }
        "ConvTranspose" => {
            let (x, w) = (x?, w?);
            prod(x) * prod(&w[1..])
        }
        "MatMul" => {
            let (x, y) = (x?, y?);
            prod(y) * x.last().copied()?
        }
        "Gemm" => {
            let (x, y) = (x?, y?);
            // A is [M, K] or, transposed, [K, M]; Y is [M, N].
            let m = *y.first()?;
            prod(y) * (prod(x) / m.max(1))
        }
        _ => return None,
    })
}

/// The arguments of `cargo xtask verify-shapes`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model to check.
    pub(crate) model: Option<std::path::PathBuf>,
    /// An input's shape: NAME=1x3x224x224.
    #[arg(long = "input", value_name = "NAME=SHAPE")]
    pub(crate) inputs: Vec<String>,
    /// Check every model of a zoo folder at the input sizes its ANCHORS.json lists.
    #[arg(long, value_name = "DIR")]
    pub(crate) zoo: Option<std::path::PathBuf>,
    /// Check the real exports under fixtures/exports at two sizes each.
    #[arg(long)]
    pub(crate) exports: bool,
}

/// `cargo xtask verify-shapes`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        model,
        inputs,
        zoo,
        exports,
    } = args;
    crate::verify::run(model.as_deref(), &inputs, zoo.as_deref(), exports)
}
