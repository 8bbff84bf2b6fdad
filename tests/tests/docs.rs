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

/// The README's commands work on a fresh clone: every `fixtures/` path it names exists, the
/// install step points at the binary's crate, and the zoo example profiles a folder the
/// repository has (not `../shared`, which only CI has).
#[test]
fn readme_commands_use_what_a_clone_has() {
    let root = tests::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut named = 0;
    for token in readme.split(|c: char| c.is_whitespace() || "`()[]\"',".contains(c)) {
        let Some(start) = token.find("fixtures/") else {
            continue;
        };
        let path = token[start..].trim_end_matches(['.', ',', ':', ';']);
        if path.contains('*') || path.ends_with('/') && path.len() == "fixtures/".len() {
            continue;
        }
        assert!(
            root.join(path).exists(),
            "README names {path}, which is not in the repository"
        );
        named += 1;
    }
    assert!(named > 5, "{named} fixture paths");
    assert!(readme.contains("cargo install --path crates/flopscope\n"));
    assert!(root.join("crates/flopscope/src/main.rs").is_file());
    let zoo = readme
        .lines()
        .find(|l| l.starts_with("cargo xtask profile-zoo "))
        .expect("a profile-zoo example");
    let folder = zoo.split_whitespace().nth(3).expect("its folder");
    assert!(
        !folder.starts_with("..") && root.join(folder).is_dir(),
        "{zoo}: {folder} is not in the repository"
    );
}
