//! Time to profile each model of the shared zoo (`../shared/zoo`, or `fixtures/models` where it
//! is absent), next to a baseline in the same run: decoding the file alone (map, protobuf
//! decode, lowering to the IR). `cargo bench -p flopscope --bench zoo`.

use std::path::PathBuf;

use flopscope::counters::ProfileOptions;

fn main() {
    divan::main();
}

fn model_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/zoo");
    if shared.is_dir() {
        shared
    } else {
        root.join("fixtures/models")
    }
}

/// Model file names, sorted.
fn models() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(model_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".onnx"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Baseline: map, decode and lower the file.
#[divan::bench(args = models())]
fn decode(name: &str) -> flopscope::ir::Model {
    flopscope::onnx::load(model_dir().join(name)).expect("model loads")
}

/// The whole profile: decode, infer every shape, cost every node, total.
#[divan::bench(args = models())]
fn profile(name: &str) -> flopscope::counters::Profile {
    let path = model_dir().join(name);
    flopscope::profile_file(&path, &ProfileOptions::default())
        .expect("model profiles")
        .1
}
