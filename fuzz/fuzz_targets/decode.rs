//! Any bytes through the ONNX decoder: a model or an error, never a panic, an abort or an
//! unbounded allocation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = flopscope_onnx::load_bytes(bytes::Bytes::copy_from_slice(data), Path::new("fuzz.onnx"));
});
