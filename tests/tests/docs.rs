//! Generated and copied docs are current: `docs/ops.md` is what the registry says, and code
//! in the docs is code that compiles.

#[test]
fn ops_doc_is_current() {
    let path = tests::workspace_root().join("docs/ops.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = flopscope::ops_markdown();
    assert!(
        committed == fresh,
        "{} is stale: run `cargo xtask ops-doc` and commit it",
        path.display()
    );
}

/// The plugin example in `docs/plugins.md` is the code that
/// `crates/flopscope-plugin-example/tests/docs_snippet.rs` compiles and registers.
#[test]
fn plugin_doc_snippet_is_compiled_code() {
    let root = tests::workspace_root();
    let doc = std::fs::read_to_string(root.join("docs/plugins.md")).unwrap();
    let start = doc
        .find("```rust\nuse flopscope_counters")
        .expect("the plugin snippet in docs/plugins.md")
        + "```rust\n".len();
    let end = start + doc[start..].find("```").expect("the snippet's end");
    let snippet = doc[start..end].trim();
    let test =
        std::fs::read_to_string(root.join("crates/flopscope-plugin-example/tests/docs_snippet.rs"))
            .unwrap();
    assert!(
        test.contains(snippet),
        "docs/plugins.md's snippet differs from the compiled copy in docs_snippet.rs"
    );
}
