//! insta snapshots of the reports, one file per case
//! (`report@<model>@<input>@<view>@<format>.snap`), reviewed with `cargo insta review`. A
//! snapshot file that no case writes fails the suite.

use std::collections::BTreeSet;
use std::path::Path;

use tests::flopscope;

/// (model under `fixtures/models`, input name, shape, views, formats).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const CASES: &[Case] = &[
    (
        "mobilenet_v2",
        "input",
        "1x3x320x320",
        &["layers"],
        &["table", "json"],
    ),
    (
        "mobilenet_v2",
        "input",
        "1x3x224x224",
        &["layers", "tree", "ops", "memory"],
        &["table", "markdown", "csv"],
    ),
    (
        "mobilenet_v2",
        "input",
        "1x3x224x224",
        &["layers"],
        &["json", "html", "svg"],
    ),
    (
        "tiny_gpt2",
        "input_ids",
        "1x128",
        &["layers", "tree", "ops", "memory"],
        &["table", "markdown", "csv"],
    ),
    (
        "tiny_gpt2",
        "input_ids",
        "1x128",
        &["layers"],
        &["json", "html", "svg"],
    ),
];

/// (old model, new model, input name, shape, formats) for `flopscope diff`.
type DiffCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const DIFF_CASES: &[DiffCase] = &[(
    "mobilenet_v2",
    "mobilenet_v2_bn",
    "input",
    "1x3x224x224",
    &["table", "markdown"],
)];

fn diff_snapshot_name(old: &str, new: &str, shape: &str, format: &str) -> String {
    format!("diff@{old}@{new}@{shape}@{format}")
}

fn snapshot_name(model: &str, shape: &str, view: &str, format: &str) -> String {
    if matches!(format, "json" | "html" | "svg") {
        // These hold the whole report (or its chart), whatever the view.
        format!("report@{model}@{shape}@{format}")
    } else {
        format!("report@{model}@{shape}@{view}@{format}")
    }
}

fn expected_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for &(model, _, shape, views, formats) in CASES {
        for view in views {
            for format in formats {
                names.insert(snapshot_name(model, shape, view, format));
            }
        }
    }
    for &(old, new, _, shape, formats) in DIFF_CASES {
        for format in formats {
            names.insert(diff_snapshot_name(old, new, shape, format));
        }
    }
    names
}

#[test]
fn reports() {
    for &(model, input, shape, views, formats) in CASES {
        // A relative path keeps the report the same on every machine (tests run in `tests/`).
        let path = format!("../fixtures/models/{model}.onnx");
        for &view in views {
            for &format in formats {
                let run = flopscope(&[
                    "profile",
                    &path,
                    "--input",
                    &format!("{input}={shape}"),
                    "--view",
                    view,
                    "--format",
                    format,
                ]);
                assert!(run.success(), "{}", run.stderr);
                insta::with_settings!({
                    snapshot_path => "snapshots",
                    prepend_module_to_snapshot => false,
                    omit_expression => true,
                }, {
                    insta::assert_snapshot!(snapshot_name(model, shape, view, format), run.stdout);
                });
            }
        }
    }
}

#[test]
fn diffs() {
    for &(old, new, input, shape, formats) in DIFF_CASES {
        for &format in formats {
            let run = flopscope(&[
                "diff",
                &format!("../fixtures/models/{old}.onnx"),
                &format!("../fixtures/models/{new}.onnx"),
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
                insta::assert_snapshot!(diff_snapshot_name(old, new, shape, format), run.stdout);
            });
        }
    }
}

#[test]
fn no_unreferenced_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let expected: BTreeSet<String> = expected_names()
        .into_iter()
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
