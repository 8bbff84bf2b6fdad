//! The ONNX frontend on real files: weights are sliced from the file's bytes, never copied;
//! initializers that old models also list as inputs are constants.

use bytes::Bytes;
use flopscope::ir::{Storage, ValueDef};
use tests::fixture;

#[test]
fn inline_tensors_are_slices_of_the_file_not_copies() {
    let path = fixture("models/mobilenet_v2_bn.onnx");
    let file = Bytes::from(std::fs::read(&path).unwrap());
    let range = file.as_ptr() as usize..file.as_ptr() as usize + file.len();
    let model = flopscope::onnx::load_bytes(file.clone(), &path).unwrap();
    let mut inline = 0;
    let mut external = 0;
    for value in &model.graph.values {
        let ValueDef::Initializer(t) = &value.def else {
            continue;
        };
        match &t.storage {
            Storage::LittleEndian(b) | Storage::Varint(b) if !b.is_empty() => {
                let start = b.as_ptr() as usize;
                assert!(
                    range.contains(&start) && range.contains(&(start + b.len() - 1)),
                    "{} was copied out of the file",
                    value.name
                );
                inline += 1;
            }
            Storage::External { location, .. } => {
                assert_eq!(location, "mobilenet_v2_bn.weights");
                external += 1;
            }
            _ => {}
        }
    }
    // The stripped fixture keeps its small tensors inline and points the large ones at a file
    // that does not exist (and is never opened).
    assert!(
        inline > 100 && external > 100,
        "inline {inline}, external {external}"
    );
    assert!(!path.with_file_name("mobilenet_v2_bn.weights").exists());
}

#[test]
fn initializers_listed_as_inputs_are_constants() {
    // IR version 3: every initializer is also a graph input; only `data_0` is a real input.
    let model = flopscope::onnx::load(fixture("models/light_bvlc_alexnet.onnx")).unwrap();
    assert_eq!(model.ir_version, 3);
    let inputs: Vec<&str> = model
        .graph
        .inputs
        .iter()
        .map(|id| model.graph.value(*id).name.as_str())
        .collect();
    assert_eq!(inputs, ["data_0"]);
    assert_eq!(model.opset(""), Some(9));
}
