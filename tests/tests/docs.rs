//! Generated files are current: `docs/ops.md` is what the registry says.

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
