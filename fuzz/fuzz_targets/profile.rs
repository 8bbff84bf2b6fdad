//! Any bytes through the whole pipeline: decode, profile with the dims left symbolic, build and
//! serialize the report, then profile again with every named input dim bound to a small size.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use flopscope_counters::ProfileOptions;
use flopscope_ir::Dim;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) =
        flopscope_onnx::load_bytes(bytes::Bytes::copy_from_slice(data), Path::new("fuzz.onnx"))
    else {
        return;
    };
    let Ok(profile) = flopscope_counters::profile(&model, &ProfileOptions::default()) else {
        return;
    };
    let report = flopscope_report::Report::new("fuzz.onnx", &model, &profile);
    let _ = report.to_json();
    let symbols: BTreeSet<String> = report
        .model
        .inputs
        .iter()
        .flat_map(|i| i.shape.iter().flatten())
        .flat_map(Dim::symbols)
        .map(|s| s.to_string())
        .collect();
    let mut options = ProfileOptions::default();
    for name in symbols {
        options.dims.insert(name, Dim::from_i64(3));
    }
    let _ = flopscope_counters::profile(&model, &options);
});
