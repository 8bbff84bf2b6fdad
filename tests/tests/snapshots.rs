//! insta snapshots of the reports, one file per case (`report@<model>@<input>@<format>.snap`),
//! reviewed with `cargo insta review`. A snapshot file that no case writes fails the suite.

use std::collections::BTreeSet;
use std::path::Path;

use tests::flopscope;

/// (model under `fixtures/models`, input name, shape).
const CASES: &[(&str, &str, &str)] = &[("mobilenet_v2", "input", "1x3x320x320")];
const FORMATS: &[&str] = &["table", "json"];

fn snapshot_name(model: &str, shape: &str, format: &str) -> String {
    format!("report@{model}@{shape}@{format}")
}

#[test]
fn reports() {
    for &(model, input, shape) in CASES {
        // A relative path keeps the report the same on every machine (tests run in `tests/`).
        let path = format!("../fixtures/models/{model}.onnx");
        for &format in FORMATS {
            let run = flopscope(&[
                "profile",
                &path,
                "--input",
                &format!("{input}={shape}"),
                "--format",
                format,
            ]);
            assert!(run.success(), "{}", run.stderr);
            insta::with_settings!({
                snapshot_path => "snapshots",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(snapshot_name(model, shape, format), run.stdout);
            });
        }
    }
}

#[test]
fn no_unreferenced_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let expected: BTreeSet<String> = CASES
        .iter()
        .flat_map(|&(model, _, shape)| FORMATS.iter().map(move |f| snapshot_name(model, shape, f)))
        .map(|n| format!("{n}.snap"))
        .collect();
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".snap"))
                .collect()
        })
        .unwrap_or_default();
    let stale: Vec<_> = found.difference(&expected).collect();
    assert!(
        stale.is_empty(),
        "snapshots no case writes (delete them): {stale:?}"
    );
}
