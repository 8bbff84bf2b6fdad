//! Small well-formed models built from the fuzzer's bytes, aimed at the op counters: one to
//! three nodes of ops the registry knows, at an opset each record covers, with inputs of
//! random types and shapes (fixed, zero, symbolic, unknown, huge), small constant inputs
//! (shape-like int64 values, float scales), and attributes of common names with values of any
//! type. Byte-level mutation rarely gets a model this far; this target starts every run there.
//!
//! Every model must decode, then profile (symbolic and with its dims bound) to a result or a
//! typed error, and its report must serialize: never a panic (built with `-a`, so integer
//! overflow panics too), a hang or an unbounded allocation.
//!
//! Findings so far are in fixtures/hostile/ as `fuzzed_*.onnx` (xtask/src/hostile.rs).
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use flopscope_counters::{OpDef, ProfileOptions};
use flopscope_ir::Dim;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};
use protobuf::{EnumOrUnknown, Message};

/// Every registered op record, in a fixed order.
fn ops() -> &'static [&'static OpDef] {
    static OPS: OnceLock<Vec<&'static OpDef>> = OnceLock::new();
    OPS.get_or_init(|| {
        let mut all: Vec<&'static OpDef> = flopscope_counters::registry().iter().collect();
        all.sort_by_key(|d| (d.domain, d.op_type, d.opsets.since));
        all
    })
}

/// ONNX element types: float, uint8, int8, int32, int64, bool, float16, double.
const DTYPES: &[i32] = &[1, 2, 3, 6, 7, 9, 10, 11];

#[rustfmt::skip]
const ATTR_NAMES: &[&str] = &[
    "axis", "axes", "perm", "keepdims", "kernel_shape", "strides", "pads", "dilations", "group",
    "auto_pad", "transA", "transB", "alpha", "beta", "epsilon", "mode", "direction",
    "hidden_size", "num_heads", "equation", "to", "split", "starts", "ends", "size", "blocksize",
    "k", "largest", "sorted", "output_shape", "output_padding", "ceil_mode", "count_include_pad",
    "batch_dims", "reduction", "shape", "value", "exclusive", "reverse", "upper",
    "noop_with_empty_axes", "select_last_index", "layout", "activations", "linear_before_reset",
    "new_axis", "p", "stash_type", "block_size", "bits", "num_outputs",
    "coordinate_transformation_mode",
    "scales", "sizes", "storage_order", "spatial", "saturate", "output_dtype", "allowzero",
];

#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "nearest", "linear", "cubic", "forward",
    "reverse", "bidirectional", "ij,jk->ik", "bhid,bhjd->bhij", "...ii->...i", "i,i", "",
    "DCR", "CRD", "half_pixel", "asymmetric", "Tanh", "Sigmoid", "Relu", "mean", "sum", "none",
];

fn small_int(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0..=15)? {
        0 => i64::MAX,
        1 => i64::MIN,
        2 => 1 << 40,
        3 => -(1 << 31),
        _ => i64::from(u.int_in_range(-4i8..=9)?),
    })
}

fn dim(u: &mut Unstructured<'_>) -> Result<Dimension> {
    let mut d = Dimension::new();
    match u.int_in_range(0..=11)? {
        0 => d.set_dim_param("N".into()),
        1 => d.set_dim_param("M".into()),
        2 => d.set_dim_param("2*N+1".into()),
        3 => {}
        4 => d.set_dim_value(0),
        5 => d.set_dim_value(1 << 33),
        _ => d.set_dim_value(u.int_in_range(1..=7)?),
    }
    Ok(d)
}

fn value_info(name: &str, u: &mut Unstructured<'_>) -> Result<ValueInfoProto> {
    let mut tensor = type_proto::Tensor {
        elem_type: *u.choose(DTYPES)?,
        ..Default::default()
    };
    if !u.ratio(1, 8)? {
        let rank = u.int_in_range(0..=5)?;
        let dim = (0..rank).map(|_| dim(u)).collect::<Result<Vec<_>>>()?;
        tensor.shape = Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into();
    }
    let mut ty = TypeProto::new();
    ty.set_tensor_type(tensor);
    Ok(ValueInfoProto {
        name: name.to_owned(),
        type_: Some(ty).into(),
        ..Default::default()
    })
}

/// A small constant: int64 (shapes, axes, indices) or float (scales, bounds).
fn constant(name: &str, u: &mut Unstructured<'_>) -> Result<TensorProto> {
    let rank = u.int_in_range(0..=2)?;
    let dims: Vec<i64> = (0..rank)
        .map(|_| u.int_in_range(0..=4))
        .collect::<Result<_>>()?;
    let count = dims.iter().product::<i64>();
    let mut t = TensorProto {
        name: name.to_owned(),
        dims,
        ..Default::default()
    };
    if u.arbitrary()? {
        t.data_type = 7;
        t.int64_data = (0..count).map(|_| small_int(u)).collect::<Result<_>>()?;
    } else {
        t.data_type = 1;
        t.float_data = (0..count)
            .map(|_| Ok(f32::from(u.int_in_range(-8i8..=8)?) * 0.5))
            .collect::<Result<_>>()?;
    }
    Ok(t)
}

fn attribute(u: &mut Unstructured<'_>) -> Result<AttributeProto> {
    let mut a = AttributeProto {
        name: (*u.choose(ATTR_NAMES)?).to_owned(),
        ..Default::default()
    };
    let ty = match u.int_in_range(0..=5)? {
        0 | 1 => {
            a.i = small_int(u)?;
            AttributeType::INT
        }
        2 => {
            let n = u.int_in_range(0..=6)?;
            a.ints = (0..n).map(|_| small_int(u)).collect::<Result<_>>()?;
            AttributeType::INTS
        }
        3 => {
            a.f = f32::from(u.int_in_range(-4i8..=4)?) * 0.25;
            AttributeType::FLOAT
        }
        4 => {
            a.s = u.choose(STRINGS)?.as_bytes().to_vec();
            AttributeType::STRING
        }
        _ => {
            a.t = Some(constant("", u)?).into();
            AttributeType::TENSOR
        }
    };
    a.type_ = EnumOrUnknown::new(ty);
    Ok(a)
}

fn model(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut graph = GraphProto {
        name: "fuzz".into(),
        ..Default::default()
    };
    let mut opsets: BTreeMap<&'static str, i64> = BTreeMap::new();
    let mut available: Vec<String> = Vec::new();
    let nodes = u.int_in_range(1..=3)?;
    for n in 0..nodes {
        let def = *u.choose(ops())?;
        if !opsets.contains_key(def.domain) {
            // One import per domain: later nodes of the domain may fall outside it (an error
            // the frontend or engine must report, not a crash).
            let until = def.opsets.until.unwrap_or(def.opsets.since + 3);
            let version = u.int_in_range(def.opsets.since..=until.max(def.opsets.since))?;
            opsets.insert(def.domain, version);
        }
        let mut node = NodeProto {
            name: format!("n{n}"),
            op_type: def.op_type.to_owned(),
            domain: def.domain.to_owned(),
            ..Default::default()
        };
        for i in 0..u.int_in_range(0..=5)? {
            let name = format!("n{n}_in{i}");
            match u.int_in_range(0..=5)? {
                0 if !available.is_empty() => node.input.push(u.choose(&available)?.clone()),
                1 => node.input.push(String::new()),
                2 | 3 => {
                    graph.initializer.push(constant(&name, u)?);
                    node.input.push(name);
                }
                _ => {
                    graph.input.push(value_info(&name, u)?);
                    node.input.push(name);
                }
            }
        }
        for _ in 0..u.int_in_range(0..=4)? {
            node.attribute.push(attribute(u)?);
        }
        for o in 0..u.int_in_range(1..=3)? {
            let name = format!("n{n}_out{o}");
            available.push(name.clone());
            node.output.push(name);
        }
        graph.node.push(node);
    }
    for name in &available {
        graph.output.push(ValueInfoProto {
            name: name.clone(),
            ..Default::default()
        });
    }
    let model = ModelProto {
        ir_version: 8,
        opset_import: opsets
            .iter()
            .map(|(domain, version)| OperatorSetIdProto {
                domain: (*domain).to_owned(),
                version: *version,
                ..Default::default()
            })
            .collect(),
        graph: Some(graph).into(),
        ..Default::default()
    };
    Ok(model.write_to_bytes().unwrap_or_default())
}

fuzz_target!(|data: &[u8]| {
    let Ok(bytes) = model(&mut Unstructured::new(data)) else {
        return;
    };
    if bytes.is_empty() {
        return;
    }
    // `FLOPSCOPE_FUZZ_DUMP=model.onnx cargo fuzz run ops CRASH_FILE` writes the model a crash
    // input builds, to reproduce it with `flopscope profile` and add it to fixtures/hostile/.
    if let Some(path) = std::env::var_os("FLOPSCOPE_FUZZ_DUMP") {
        let _ = std::fs::write(path, &bytes);
    }
    let Ok(model) = flopscope_onnx::load_bytes(bytes::Bytes::from(bytes), Path::new("ops.onnx"))
    else {
        return;
    };
    for bound in [false, true] {
        let mut options = ProfileOptions::default();
        if bound {
            for name in ["N", "M"] {
                options.dims.insert(name.to_owned(), Dim::from_i64(3));
            }
        }
        if let Ok(profile) = flopscope_counters::profile(&model, &options) {
            let report = flopscope_report::Report::new("ops.onnx", &model, &profile);
            let _ = report.to_json();
        }
    }
});
