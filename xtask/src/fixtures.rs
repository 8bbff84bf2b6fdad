//! `cargo xtask fixtures`: regenerate the committed fixtures under `fixtures/`.
//!
//! A fresh clone has no shared zoo, so the repository carries small stand-ins: ONNX's "light"
//! models as they are, weight-stripped copies of bigger models (see `strip`), and hand-built
//! hostile inputs. Everything is built in memory first, so `--check` can compare it with the
//! files on disk. The output is deterministic.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::{
    AttributeProto, FunctionProto, GraphProto, ModelProto, OperatorSetIdProto, TensorProto,
    attribute_proto, type_proto,
};
use protobuf::Message;

use crate::strip;

/// ONNX's "light" test models, copied byte for byte: file name and network.
const LIGHT: [(&str, &str); 9] = [
    ("light_bvlc_alexnet.onnx", "AlexNet"),
    ("light_densenet121.onnx", "DenseNet-121"),
    ("light_inception_v1.onnx", "Inception v1"),
    ("light_inception_v2.onnx", "Inception v2"),
    ("light_resnet50.onnx", "ResNet-50"),
    ("light_shufflenet.onnx", "ShuffleNet"),
    ("light_squeezenet.onnx", "SqueezeNet"),
    ("light_vgg19.onnx", "VGG-19"),
    ("light_zfnet512.onnx", "ZFNet-512"),
];

/// Language models of `../shared/llm` shipped weight-stripped, under the same file name.
const LLM: [(&str, &str); 1] = [(
    "tiny_llama_kv.onnx",
    "transformers Llama (2 layers, hidden 256, 8 heads, 2 KV heads, head_dim 32, MLP 688, \
     vocab 2000) with a key/value cache: inputs input_ids [batch, seq] and \
     past_key_values.{0,1}.{key,value} [batch, 2, past_seq, 32]",
)];

/// Zoo models shipped weight-stripped, under the same file name: file name and network.
const STRIPPED: [(&str, &str); 4] = [
    (
        "mobilenet_v2.onnx",
        "torchvision MobileNetV2, BatchNorm folded into Conv",
    ),
    (
        "mobilenet_v2_bn.onnx",
        "torchvision MobileNetV2, BatchNormalization kept",
    ),
    ("squeezenet1_0.onnx", "torchvision SqueezeNet 1.0"),
    (
        "tiny_gpt2.onnx",
        "2-layer GPT-2 (n_embd 128, 4 heads), dynamo exporter",
    ),
];

/// Real exports none of us wrote by hand, each one that flopscope once failed on, shipped
/// weight-stripped under `exports/` (made by `xtask/corpus/export_corpus.py` and `cargo xtask
/// strip-weights`; they are kept as committed, since CI has no PyTorch): file name and what it
/// is.
const EXPORTS: [(&str, &str); 9] = [
    (
        "llama_mha3_dynamo_kv.onnx",
        "a Llama-shaped decoder with a key/value cache (3 layers, hidden 192, 6 heads and 6 KV \
         heads of 32, MLP 512, vocab 1500), float32, made by `xtask/llm/export_decoder.py \
         --hidden 192 --layers 3 --heads 6 --kv-heads 6 --intermediate 512 --vocab 1500 \
         --weights absent`: for `generate` without grouped-query attention",
    ),
    (
        "llama_mqa_fp16_dynamo_kv.onnx",
        "a Llama-shaped decoder with a key/value cache (2 layers, hidden 256, 4 heads and 1 KV \
         head of 64, MLP 640, vocab 1000), float16 weights and cache, made by \
         `xtask/llm/export_decoder.py --hidden 256 --layers 2 --heads 4 --kv-heads 1 \
         --intermediate 640 --vocab 1000 --dtype float16 --weights absent`",
    ),
    (
        "detr_legacy.onnx",
        "transformers DETR (d_model 64, 2 encoder and 2 decoder layers, 20 queries, a small \
         ResNet backbone) with random weights, legacy exporter, input pixel_values [batch, 3, \
         height, width]: the first decoder layer attends over the learned queries alone (zeros \
         plus the query table, no input), so its projection weights are only ever combined \
         with constants and positions",
    ),
    (
        "swin_t_legacy.onnx",
        "torchvision Swin-T, legacy exporter, opset 17, input [batch, 3, height, width]: the \
         shifted-window Pad whose pads are computed from the input size (Mod, ConstantOfShape, \
         a Slice with step -1, Transpose, Cast)",
    ),
    (
        "fasterrcnn_mobilenet_v3_large_320_fpn_legacy.onnx",
        "torchvision Faster R-CNN (MobileNetV3-Large 320 FPN), legacy exporter, opset 17, input \
         `image` [3, height, width]: the transform's Resize to floor(h · scale) with the scale \
         computed in float, the batch padding to multiples of 32, NonZero-sized detections",
    ),
    (
        "maskrcnn_resnet50_fpn_legacy.onnx",
        "torchvision Mask R-CNN (ResNet-50 FPN), legacy exporter, opset 17, input `image` [3, \
         height, width]: the masks pasted in a Loop onto an accumulator that starts as \
         ConstantOfShape([0, height, width])",
    ),
    (
        "tiny_llama_dynamo.onnx",
        "a 2-layer Llama (hidden 128, 4 heads, 2 KV heads, head_dim 32, vocab 1000) from \
         transformers with random weights, dynamo exporter: RoPE's inv_freq buffer [16]",
    ),
    (
        "groupnorm_cnn_legacy.onnx",
        "Conv2d(3, 16, 3) then GroupNorm(4, 16), legacy exporter: GroupNorm lowered to Reshape, \
         InstanceNormalization with ones and zeros, Reshape, Mul, Add",
    ),
    (
        "tiny_wav2vec2_dynamo.onnx",
        "a 2-layer Wav2Vec2 (hidden 64, 7 conv layers of 32 channels) from transformers with \
         random weights, dynamo exporter, input `input_values` [batch, samples]",
    ),
];

/// Tensors with a larger payload lose it in the stripped models.
const MIN_BYTES: u64 = 1024;

pub(crate) use flopscope_testkit::{FLOAT, graph, node, value};

/// One file under `fixtures/`.
#[derive(Debug)]
pub(crate) struct Fixture {
    /// Relative to `fixtures/`, with `/` separators.
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
    /// Where it comes from, for the README.
    pub(crate) about: String,
}

/// Regenerates (or, with `check`, verifies) `fixtures/` from `shared/zoo`.
pub(crate) fn run(shared: Option<PathBuf>, check: bool) -> Result<()> {
    let root = crate::workspace_root();
    let shared = shared.unwrap_or_else(|| root.join("../shared"));
    let zoo = shared.join("zoo");
    if !zoo.is_dir() {
        bail!(
            "{} not found: the shared model zoo is needed to regenerate the model fixtures \
             (pass --shared DIR)",
            zoo.display()
        );
    }
    let mut fixtures = models(&zoo)?;
    fixtures.extend(bad(&fixtures)?);
    fixtures.extend(crate::hostile::corpus(&fixtures)?);
    fixtures.push(readme(&fixtures));
    let dir = root.join("fixtures");
    if check {
        check_on_disk(&dir, &fixtures)
    } else {
        write(&dir, &fixtures)
    }
}

fn write(dir: &Path, fixtures: &[Fixture]) -> Result<()> {
    let mut unchanged = 0;
    for fixture in fixtures {
        let path = dir.join(&fixture.path);
        let verb = match fs::read(&path) {
            Ok(old) if old == fixture.bytes => {
                unchanged += 1;
                continue;
            }
            Ok(_) => "updated",
            Err(_) => "created",
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create the directory", parent.display()))?;
        }
        fs::write(&path, &fixture.bytes)
            .with_context(|| format!("{}: cannot write the file", path.display()))?;
        println!(
            "{verb} fixtures/{} ({} bytes)",
            fixture.path,
            fixture.bytes.len()
        );
    }
    println!(
        "fixtures: {} written, {unchanged} unchanged",
        fixtures.len() - unchanged
    );
    Ok(())
}

fn check_on_disk(dir: &Path, fixtures: &[Fixture]) -> Result<()> {
    let mut stale = 0;
    for fixture in fixtures {
        let problem = match fs::read(dir.join(&fixture.path)) {
            Ok(old) if old == fixture.bytes => continue,
            Ok(_) => "differs",
            Err(_) => "missing",
        };
        eprintln!("{problem}: fixtures/{}", fixture.path);
        stale += 1;
    }
    if stale > 0 {
        bail!("{stale} fixture files are out of date: run `cargo xtask fixtures`");
    }
    println!("fixtures: all {} files up to date", fixtures.len());
    Ok(())
}

/// `models/`: the light models as they are, the bigger ones stripped.
fn models(zoo: &Path) -> Result<Vec<Fixture>> {
    let read = |name: &str| {
        let path = zoo.join(name);
        fs::read(&path).with_context(|| format!("{}: cannot read the file", path.display()))
    };
    let mut fixtures = Vec::new();
    for (name, network) in LIGHT {
        fixtures.push(Fixture {
            path: format!("models/{name}"),
            bytes: read(name)?,
            about: format!("{network}: copy of `zoo/{name}`"),
        });
    }
    for (name, network) in STRIPPED {
        let weights = strip::weights_file_name(Path::new(name))?;
        let stripped = strip::strip_model(&read(name)?, &weights, MIN_BYTES)
            .with_context(|| format!("{}: cannot strip the model", zoo.join(name).display()))?;
        fixtures.push(Fixture {
            path: format!("models/{name}"),
            bytes: stripped.bytes,
            about: format!(
                "{network}: `zoo/{name}` with the payload of its {} tensors larger than \
                 {MIN_BYTES} bytes stripped (they point at `{weights}`, which does not exist)",
                stripped.tensors
            ),
        });
    }
    let llm = zoo.join("../llm");
    for (name, network) in LLM {
        let path = llm.join(name);
        let bytes =
            fs::read(&path).with_context(|| format!("{}: cannot read the file", path.display()))?;
        let weights = strip::weights_file_name(Path::new(name))?;
        let stripped = strip::strip_model(&bytes, &weights, MIN_BYTES)
            .with_context(|| format!("{}: cannot strip the model", path.display()))?;
        fixtures.push(Fixture {
            path: format!("models/{name}"),
            bytes: stripped.bytes,
            about: format!(
                "{network}: `llm/{name}` with the payload of its {} tensors larger than \
                 {MIN_BYTES} bytes stripped (they point at `{weights}`, which does not exist)",
                stripped.tensors
            ),
        });
    }
    // The light models fix every dim; one DenseNet-121 with its batch and image size named
    // gives the live HTML page a model with a thousand nodes to move (its size and speed
    // budget is measured on it).
    fixtures.push(Fixture {
        path: "models/light_densenet121_dyn.onnx".to_owned(),
        bytes: named_dims(
            &read("light_densenet121.onnx")?,
            "data_0",
            &[Some("batch"), None, Some("height"), Some("width")],
        )?,
        about: "DenseNet-121: `zoo/light_densenet121.onnx` with input `data_0` [batch, 3, height, \
                width], the output's first dim `batch` and no value_info (built by the xtask)"
            .to_owned(),
    });
    let exports = crate::workspace_root().join("fixtures/exports");
    for (name, about) in EXPORTS {
        let path = exports.join(name);
        fixtures.push(Fixture {
            path: format!("exports/{name}"),
            bytes: fs::read(&path)
                .with_context(|| format!("{}: cannot read the file", path.display()))?,
            about: format!("{about}; weights stripped"),
        });
    }
    for (cell, gates) in [("LSTM", 4), ("GRU", 3)] {
        let name = format!("{}_2layer.onnx", cell.to_ascii_lowercase());
        let weights = strip::weights_file_name(Path::new(&name))?;
        let full = recurrent(cell, gates)?;
        let stripped = strip::strip_model(&full, &weights, MIN_BYTES)?;
        fixtures.push(Fixture {
            path: format!("models/{name}"),
            bytes: stripped.bytes,
            about: format!(
                "built by the xtask: two stacked {cell} layers (hidden {RNN_HIDDEN}), input \
                 [seq {RNN_SEQ}, batch {RNN_BATCH}, {RNN_INPUT}], weights stripped"
            ),
        });
    }
    for (name, about) in [
        (
            "matmul_float.onnx",
            "X [batch, 64] · W [64, 32], float: the reference",
        ),
        (
            "matmul_qdq.onnx",
            "the same product in QDQ form: X quantized to uint8 and back, W stored as int8 and \
             dequantized, then MatMul",
        ),
        (
            "matmul_dynamic_quant.onnx",
            "the same product dynamically quantized: DynamicQuantizeLinear, MatMulInteger (uint8 × \
             int8 → int32), then rescaled to float",
        ),
    ] {
        let weights = strip::weights_file_name(Path::new(name))?;
        let stripped = strip::strip_model(&quantized(name)?, &weights, MIN_BYTES)?;
        fixtures.push(Fixture {
            path: format!("models/{name}"),
            bytes: stripped.bytes,
            about: format!("built by the xtask: {about}"),
        });
    }
    let stripped = strip::strip_model(
        &fused_mlp()?,
        &strip::weights_file_name(Path::new("fused_mlp.onnx"))?,
        MIN_BYTES,
    )?;
    fixtures.push(Fixture {
        path: "models/fused_mlp.onnx".to_owned(),
        bytes: stripped.bytes,
        about: format!(
            "built by the xtask: `X` float[batch, {MLP_TOKENS}, {MLP_IN}] → \
             `com.example::FusedMLP` (W1 [{MLP_IN}, {MLP_HIDDEN}], B1, W2 [{MLP_HIDDEN}, \
             {MLP_OUT}], B2) → Relu → `Y`: a custom op, counted only with the example plugin \
             (`crates/flopscope-plugin-example`) or `--op-costs fixtures/op-costs/fused_mlp.toml`; \
             weights stripped"
        ),
    });
    fixtures.push(Fixture {
        path: "models/local_function.onnx".to_owned(),
        bytes: local_function(&[("", 17), ("local", 1)])?,
        about: "built by the xtask: `x` float[batch, 8] → `local::ScaledRelu(alpha = 2)` → `y`, \
                a model-local function whose body is `Relu(Mul(x, Constant(value_float = \
                @alpha)))`"
            .to_owned(),
    });
    Ok(fixtures)
}

/// `model` with the dims of input `input` named where `names` has a name, the first dim of
/// every output named like the input's first, and its value_info dropped (the shapes it records
/// were inferred at the fixed sizes).
fn named_dims(model: &[u8], input: &str, names: &[Option<&str>]) -> Result<Vec<u8>> {
    let mut m = ModelProto::parse_from_bytes(model).context("not a valid ONNX model")?;
    let graph = m.graph.as_mut().context("the model has no graph")?;
    let rename = |v: &mut onnx_protobuf::ValueInfoProto, names: &[Option<&str>]| -> Result<()> {
        let Some(type_proto::Value::TensorType(tensor)) =
            v.type_.as_mut().and_then(|t| t.value.as_mut())
        else {
            bail!("`{}` is not a tensor", v.name);
        };
        let shape = tensor.shape.as_mut().context("no shape")?;
        for (d, name) in shape.dim.iter_mut().zip(names) {
            if let Some(name) = name {
                let mut named = Dimension::new();
                named.set_dim_param((*name).to_owned());
                *d = named;
            }
        }
        Ok(())
    };
    let v = graph
        .input
        .iter_mut()
        .find(|v| v.name == input)
        .with_context(|| format!("no input `{input}`"))?;
    rename(v, names)?;
    for v in &mut graph.output {
        rename(v, &names[..1])?;
    }
    graph.value_info.clear();
    Ok(m.write_to_bytes()?)
}

/// `bad/`: hostile inputs. `models` must hold `models/light_bvlc_alexnet.onnx`.
fn bad(models: &[Fixture]) -> Result<Vec<Fixture>> {
    let fixture = |name: &str, bytes: Vec<u8>, about: &str| Fixture {
        path: format!("bad/{name}"),
        bytes,
        about: about.to_owned(),
    };
    let alexnet = models
        .iter()
        .find(|f| f.path == "models/light_bvlc_alexnet.onnx")
        .context("the AlexNet fixture is missing")?;
    let x4 = || value("x", Some(&[1, 4]));
    let x8 = || value("x", Some(&[1, 8]));
    let y8 = || value("y", Some(&[1, 8]));

    let cycle = graph(
        "cycle",
        vec![
            node("A", "Add", "", &["x", "b_out"], &["a_out"]),
            node("B", "Relu", "", &["a_out"], &["b_out"]),
        ],
        vec![x4()],
        vec![value("b_out", Some(&[1, 4]))],
        vec![],
    );
    let unknown_nodes = || {
        vec![
            node("relu_in", "Relu", "", &["x"], &["r"]),
            node("mystery", "Mystery", "com.example", &["r"], &["m"]),
            node("relu_out", "Relu", "", &["m"], &["y"]),
        ]
    };
    let unknown_op = graph(
        "unknown_op",
        unknown_nodes(),
        vec![x8()],
        vec![y8()],
        vec![value("m", Some(&[1, 8]))],
    );
    let unknown_op_undeclared = graph(
        "unknown_op_undeclared",
        unknown_nodes(),
        vec![x8()],
        vec![value("y", None)],
        vec![],
    );
    let missing_opset = graph(
        "missing_opset",
        vec![node("relu", "Relu", "", &["x"], &["y"])],
        vec![x4()],
        vec![value("y", Some(&[1, 4]))],
        vec![],
    );
    let standard = [("", 17)];
    let with_example = [("", 17), ("com.example", 1)];

    Ok(vec![
        fixture(
            "cycle.onnx",
            model(&standard, cycle)?,
            "`A = Add(x, b_out) -> a_out`, `B = Relu(a_out) -> b_out`: a cycle through A and B",
        ),
        fixture(
            "unknown_op.onnx",
            model(&with_example, unknown_op)?,
            "`Relu -> com.example::Mystery -> Relu`; `value_info` declares the unknown op's \
             output `m` as float[1,8], so the rest of the graph can be inferred",
        ),
        fixture(
            "unknown_op_undeclared.onnx",
            model(&with_example, unknown_op_undeclared)?,
            "the same without the `value_info` for `m` and without a shape on the output `y`, \
             so the downstream Relu cannot be inferred",
        ),
        fixture(
            "missing_opset.onnx",
            model(&[("com.example", 1)], missing_opset)?,
            "one Relu, but no `opset_import` for the default domain (only `com.example` 1)",
        ),
        fixture(
            "truncated.onnx",
            alexnet.bytes[..alexnet.bytes.len() / 2].to_vec(),
            "the first half of `models/light_bvlc_alexnet.onnx`",
        ),
        fixture(
            "not_onnx.txt",
            "this is not an ONNX model\n".repeat(3).into_bytes(),
            "plain text, not protobuf",
        ),
        fixture("empty.onnx", Vec::new(), "a zero-byte file"),
    ])
}

/// One matrix product, float or quantized (QDQ, dynamic), all with X [batch, 64] and W [64, 32].
fn quantized(name: &str) -> Result<Vec<u8>> {
    let tensor = |name: &str, data_type: i32, dims: &[i64], bytes_per: usize| {
        let count: i64 = dims.iter().product();
        TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type,
            raw_data: vec![0u8; count as usize * bytes_per],
            ..Default::default()
        }
    };
    const UINT8: i32 = 2;
    const INT8: i32 = 3;
    let mut init = Vec::new();
    let mut nodes = Vec::new();
    match name {
        "matmul_float.onnx" => {
            init.push(tensor("W", FLOAT, &[64, 32], 4));
            nodes.push(node("matmul", "MatMul", "", &["X", "W"], &["Y"]));
        }
        "matmul_qdq.onnx" => {
            init.push(tensor("x_scale", FLOAT, &[], 4));
            init.push(tensor("x_zero_point", UINT8, &[], 1));
            init.push(tensor("W_q", INT8, &[64, 32], 1));
            init.push(tensor("w_scale", FLOAT, &[32], 4));
            init.push(tensor("w_zero_point", INT8, &[32], 1));
            nodes.push(node(
                "quant_x",
                "QuantizeLinear",
                "",
                &["X", "x_scale", "x_zero_point"],
                &["X_q"],
            ));
            nodes.push(node(
                "dequant_x",
                "DequantizeLinear",
                "",
                &["X_q", "x_scale", "x_zero_point"],
                &["X_dq"],
            ));
            let mut dq_w = node(
                "dequant_w",
                "DequantizeLinear",
                "",
                &["W_q", "w_scale", "w_zero_point"],
                &["W_dq"],
            );
            dq_w.attribute.push(AttributeProto {
                name: "axis".to_owned(),
                i: 1,
                type_: protobuf::EnumOrUnknown::new(attribute_proto::AttributeType::INT),
                ..Default::default()
            });
            nodes.push(dq_w);
            nodes.push(node("matmul", "MatMul", "", &["X_dq", "W_dq"], &["Y"]));
        }
        _ => {
            init.push(tensor("W_q", INT8, &[64, 32], 1));
            init.push(tensor("w_zero_point", INT8, &[], 1));
            init.push(tensor("w_scale", FLOAT, &[], 4));
            nodes.push(node(
                "quant_x",
                "DynamicQuantizeLinear",
                "",
                &["X"],
                &["X_q", "x_scale", "x_zero_point"],
            ));
            nodes.push(node(
                "matmul",
                "MatMulInteger",
                "",
                &["X_q", "W_q", "x_zero_point", "w_zero_point"],
                &["Y_int"],
            ));
            let mut cast = node("cast", "Cast", "", &["Y_int"], &["Y_float"]);
            cast.attribute.push(AttributeProto {
                name: "to".to_owned(),
                i: i64::from(FLOAT),
                type_: protobuf::EnumOrUnknown::new(attribute_proto::AttributeType::INT),
                ..Default::default()
            });
            nodes.push(cast);
            nodes.push(node("scale", "Mul", "", &["x_scale", "w_scale"], &["s"]));
            nodes.push(node("rescale", "Mul", "", &["Y_float", "s"], &["Y"]));
        }
    }
    let batch_by = |name: &str, cols: i64| {
        let mut v = value(name, Some(&[1, cols]));
        if let Some(t) = v.type_.as_mut() {
            let mut batch = Dimension::new();
            batch.set_dim_param("batch".to_owned());
            if let Some(type_proto::Value::TensorType(tensor)) = t.value.as_mut()
                && let Some(shape) = tensor.shape.as_mut()
            {
                shape.dim[0] = batch;
            }
        }
        v
    };
    let mut g = graph(
        name.trim_end_matches(".onnx"),
        nodes,
        vec![batch_by("X", 64)],
        vec![batch_by("Y", 32)],
        vec![],
    );
    g.initializer = init;
    model(&[("", 21)], g)
}

const RNN_SEQ: i64 = 16;
const RNN_BATCH: i64 = 2;
const RNN_INPUT: i64 = 64;
const RNN_HIDDEN: i64 = 128;

/// Two stacked recurrent layers (`LSTM` or `GRU`, `gates` gates): X [seq, batch, input] →
/// layer 1 → Y [seq, 1, batch, hidden] → Squeeze(axis 1) → layer 2 → Y. Weights are zeros
/// (they are stripped before the fixture is written).
fn recurrent(cell: &str, gates: i64) -> Result<Vec<u8>> {
    let zeros = |name: &str, dims: &[i64]| {
        let count: i64 = dims.iter().product();
        TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type: FLOAT,
            raw_data: vec![0u8; (count * 4) as usize],
            ..Default::default()
        }
    };
    let ints = |name: &str, values: &[i64]| TensorProto {
        name: name.to_owned(),
        dims: vec![values.len() as i64],
        data_type: 7,
        int64_data: values.to_vec(),
        ..Default::default()
    };
    let h = RNN_HIDDEN;
    let mut initializer = Vec::new();
    let mut nodes = Vec::new();
    for (layer, input_size) in [(1, RNN_INPUT), (2, RNN_HIDDEN)] {
        let (w, r, b) = (
            format!("W{layer}"),
            format!("R{layer}"),
            format!("B{layer}"),
        );
        initializer.push(zeros(&w, &[1, gates * h, input_size]));
        initializer.push(zeros(&r, &[1, gates * h, h]));
        initializer.push(zeros(&b, &[1, 2 * gates * h]));
        let x = if layer == 1 {
            "X".to_owned()
        } else {
            "Y1_squeezed".to_owned()
        };
        let mut n = node(
            &format!("{cell}{layer}"),
            cell,
            "",
            &[&x, &w, &r, &b],
            &[&format!("Y{layer}")],
        );
        n.attribute.push(AttributeProto {
            name: "hidden_size".to_owned(),
            i: h,
            type_: protobuf::EnumOrUnknown::new(attribute_proto::AttributeType::INT),
            ..Default::default()
        });
        nodes.push(n);
        if layer == 1 {
            nodes.push(node(
                "squeeze",
                "Squeeze",
                "",
                &["Y1", "axes"],
                &["Y1_squeezed"],
            ));
        }
    }
    initializer.push(ints("axes", &[1]));
    let mut g = graph(
        &format!("{}_2layer", cell.to_ascii_lowercase()),
        nodes,
        vec![value("X", Some(&[RNN_SEQ, RNN_BATCH, RNN_INPUT]))],
        vec![value("Y2", Some(&[RNN_SEQ, 1, RNN_BATCH, h]))],
        vec![],
    );
    g.initializer = initializer;
    model(&[("", 17)], g)
}

const MLP_TOKENS: i64 = 16;
const MLP_IN: i64 = 64;
const MLP_HIDDEN: i64 = 256;
const MLP_OUT: i64 = 64;

/// X [batch, tokens, in] → com.example::FusedMLP → H → Relu → Y. H's type is declared, so that
/// without a counter for FusedMLP only that node is uncounted.
fn fused_mlp() -> Result<Vec<u8>> {
    let zeros = |name: &str, dims: &[i64]| {
        let count: i64 = dims.iter().product();
        TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type: FLOAT,
            raw_data: vec![0u8; (count * 4) as usize],
            ..Default::default()
        }
    };
    let batched = |name: &str, last: i64| {
        let mut v = value(name, Some(&[1, MLP_TOKENS, last]));
        if let Some(t) = v.type_.as_mut()
            && let Some(type_proto::Value::TensorType(tensor)) = t.value.as_mut()
            && let Some(shape) = tensor.shape.as_mut()
        {
            let mut batch = Dimension::new();
            batch.set_dim_param("batch".to_owned());
            shape.dim[0] = batch;
        }
        v
    };
    let mut g = graph(
        "fused_mlp",
        vec![
            node(
                "mlp",
                "FusedMLP",
                "com.example",
                &["X", "W1", "B1", "W2", "B2"],
                &["H"],
            ),
            node("relu", "Relu", "", &["H"], &["Y"]),
        ],
        vec![batched("X", MLP_IN)],
        vec![batched("Y", MLP_OUT)],
        vec![batched("H", MLP_OUT)],
    );
    g.initializer = vec![
        zeros("W1", &[MLP_IN, MLP_HIDDEN]),
        zeros("B1", &[MLP_HIDDEN]),
        zeros("W2", &[MLP_HIDDEN, MLP_OUT]),
        zeros("B2", &[MLP_OUT]),
    ];
    model(&[("", 17), ("com.example", 1)], g)
}

/// A model calling a model-local function that reads one of the caller's attributes.
fn local_function(opsets: &[(&str, i64)]) -> Result<Vec<u8>> {
    let float_attr = |name: &str, reference: Option<&str>, value: f32| AttributeProto {
        name: name.to_owned(),
        ref_attr_name: reference.unwrap_or_default().to_owned(),
        f: if reference.is_some() { 0.0 } else { value },
        type_: protobuf::EnumOrUnknown::new(attribute_proto::AttributeType::FLOAT),
        ..Default::default()
    };
    let mut scale = node("scale", "Constant", "", &[], &["scale"]);
    scale
        .attribute
        .push(float_attr("value_float", Some("alpha"), 0.0));
    let function = FunctionProto {
        name: "ScaledRelu".to_owned(),
        domain: "local".to_owned(),
        input: vec!["x".to_owned()],
        output: vec!["y".to_owned()],
        attribute: vec!["alpha".to_owned()],
        node: vec![
            scale,
            node("mul", "Mul", "", &["x", "scale"], &["s"]),
            node("relu", "Relu", "", &["s"], &["y"]),
        ],
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut call = node("call", "ScaledRelu", "local", &["x"], &["y"]);
    call.attribute.push(float_attr("alpha", None, 2.0));
    let batch_by_8 = |name: &str| {
        let mut v = value(name, Some(&[1, 8]));
        if let Some(t) = v.type_.as_mut() {
            let mut batch = Dimension::new();
            batch.set_dim_param("batch".to_owned());
            if let Some(type_proto::Value::TensorType(tensor)) = t.value.as_mut()
                && let Some(shape) = tensor.shape.as_mut()
            {
                shape.dim[0] = batch;
            }
        }
        v
    };
    let g = graph(
        "local_function",
        vec![call],
        vec![batch_by_8("x")],
        vec![batch_by_8("y")],
        vec![],
    );
    let mut bytes = model(opsets, g)?;
    let mut m = ModelProto::parse_from_bytes(&bytes)?;
    m.functions.push(function);
    bytes = m.write_to_bytes()?;
    Ok(bytes)
}

fn readme(fixtures: &[Fixture]) -> Fixture {
    let mut text = String::from(
        "# Fixtures\n\
         \n\
         Small ONNX inputs that ship with the repository, so that tests run on a fresh clone.\n\
         Generated by `cargo xtask fixtures` (from `../shared/zoo`, or `--shared DIR`); do not\n\
         edit them, or this file, by hand. `cargo xtask fixtures --check` verifies them.\n\
         \n\
         - `models/light_*.onnx` are ONNX's \"light\" test models, from the test data of the\n  \
         ONNX repository (ONNX is Apache-2.0 licensed).\n\
         - The other `models/` were exported from torchvision by the project's shared zoo.\n  \
         They are weight-stripped: large tensors keep their dims and dtypes, but their data\n  \
         points at an external file that is never written (flopscope never reads weights).\n\
         - `bad/` holds hostile inputs built by the xtask.\n\
         - `hostile/` is the hostile-input corpus (`xtask/src/hostile.rs`): damaged copies of\n  \
         the light models, hand-encoded protobuf that lies about lengths or nests too deep,\n  \
         and models wrong in one way each. `hostile/EXPECTED.txt` says what `flopscope\n  \
         profile` must do with each; `tests/tests/hostile.rs` checks it.\n\
         \n\
         | file | bytes | what |\n\
         |---|---|---|\n",
    );
    for fixture in fixtures {
        let _ = writeln!(
            text,
            "| `{}` | {} | {} |",
            fixture.path,
            fixture.bytes.len(),
            fixture.about
        );
    }
    Fixture {
        path: "README.md".to_owned(),
        bytes: text.into_bytes(),
        about: String::new(),
    }
}

/// A serialized IR 8 model importing `opsets` (domain, version).
pub(crate) fn model(opsets: &[(&str, i64)], graph: GraphProto) -> Result<Vec<u8>> {
    Ok(flopscope_testkit::model(opsets, graph)?)
}

/// The arguments of `cargo xtask fixtures`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shared directory holding `zoo/` [default: ../shared, from the workspace root].
    #[arg(long, value_name = "DIR")]
    pub(crate) shared: Option<std::path::PathBuf>,
    /// Write nothing; fail if a fixture on disk is missing or differs.
    #[arg(long)]
    pub(crate) check: bool,
}

/// `cargo xtask fixtures`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args { shared, check } = args;
    crate::fixtures::run(shared, check)
}
