//! Parameters count as PyTorch counts them, on graphs built here node by node.

use flopscope::counters::ProfileOptions;
use flopscope::ir::Dim;
use flopscope_testkit::proto::TensorProto;
use flopscope_testkit::{
    FLOAT, graph, int_attr, ints, model, node, tensor_attr, value, weights, with_attrs, with_init,
};

fn params_and_buffers(bytes: Vec<u8>) -> (i64, i64) {
    let model = flopscope::onnx::load_bytes(bytes.into(), std::path::Path::new("built.onnx"))
        .expect("the built model loads");
    let profile = flopscope::profile_model(
        std::path::Path::new("built.onnx"),
        &model,
        &ProfileOptions::default(),
    )
    .expect("the built model profiles");
    let n = |d: &Dim| d.as_i64().expect("concrete");
    (n(&profile.totals.params), n(&profile.totals.buffers))
}

/// PyTorch's dynamo exporter, unoptimized, gives a `Conv2d(bias=False)` a bias anyway: a
/// scalar 0 cast like the input and expanded to the output channels. That scalar is not a
/// parameter (the module has none there), though it reaches the op as its bias.
#[test]
fn a_zero_filled_bias_is_not_a_parameter() {
    let zero = TensorProto {
        dims: vec![],
        data_type: FLOAT,
        float_data: vec![0.0],
        ..Default::default()
    };
    let nodes = vec![
        with_attrs(
            node("zero", "Constant", "", &[], &["zero"]),
            vec![tensor_attr("value", zero)],
        ),
        node("cast", "CastLike", "", &["zero", "x"], &["zero_like_x"]),
        with_attrs(
            node("channels", "Shape", "", &["w"], &["channels"]),
            vec![int_attr("start", 0), int_attr("end", 1)],
        ),
        node(
            "bias_shape",
            "Expand",
            "",
            &["channels", "one"],
            &["bias_shape"],
        ),
        node(
            "bias",
            "Expand",
            "",
            &["zero_like_x", "bias_shape"],
            &["bias"],
        ),
        node("conv", "Conv", "", &["x", "w", "bias"], &["conv"]),
        node(
            "bn",
            "BatchNormalization",
            "",
            &["conv", "scale", "shift", "mean", "var"],
            &["y"],
        ),
    ];
    let g = with_init(
        graph(
            "conv_without_bias",
            nodes,
            vec![value("x", Some(&[1, 3, 8, 8]))],
            vec![value("y", None)],
            vec![],
        ),
        vec![
            weights("w", &[16, 3, 3, 3]),
            ints("one", &[1], &[1]),
            weights("scale", &[16]),
            weights("shift", &[16]),
            weights("mean", &[16]),
            weights("var", &[16]),
        ],
    );
    let bytes = model(&[("", 18)], g).expect("serializes");
    // Conv2d(3, 16, 3, bias=False): 16·3·3·3; BatchNorm2d(16): weight and bias, then its
    // running mean and variance as buffers.
    assert_eq!(params_and_buffers(bytes), (16 * 3 * 3 * 3 + 2 * 16, 2 * 16));
}
