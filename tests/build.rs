//! Decides which tests run: those that need `../shared`, ONNX Runtime or Chromium are marked
//! `#[cfg_attr(not(has_shared), ignore = "…")]` (and `has_ort`, `has_chromium`), so that on a
//! clone without them `cargo test` lists them as ignored, with the reason, instead of passing
//! them. With `FLOPSCOPE_REQUIRE_SHARED=1` (or `_ORT`, `_CHROMIUM`), as `.ci/run` sets, a
//! missing one fails the build instead.

#[path = "prereq.rs"]
#[allow(dead_code, unreachable_pub)]
mod prereq;

#[path = "../crates/flopscope-ort/src/find.rs"]
#[allow(dead_code, unreachable_pub)]
mod ort_find;

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_shared, has_ort, has_chromium)");
    for var in [
        "FLOPSCOPE_SHARED",
        "ORT_DYLIB_PATH",
        "CHROMIUM",
        "PATH",
        "FLOPSCOPE_REQUIRE_SHARED",
        "FLOPSCOPE_REQUIRE_ORT",
        "FLOPSCOPE_REQUIRE_CHROMIUM",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=prereq.rs");
    println!("cargo::rerun-if-changed=../crates/flopscope-ort/src/find.rs");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf();
    // Appearing later (a zoo copied in, onnxruntime installed) builds the tests again.
    println!(
        "cargo::rerun-if-changed={}",
        root.join("../shared/zoo/ANCHORS.json").display()
    );
    check(
        "shared",
        "has_shared",
        prereq::shared_dir_in(&root).map(|_| ()),
    );
    check("ort", "has_ort", ort_find::find_library().map(|_| ()));
    check("chromium", "has_chromium", prereq::chromium().map(|_| ()));
}

fn check(what: &str, cfg: &str, found: Result<(), String>) {
    let require = format!("FLOPSCOPE_REQUIRE_{}", what.to_uppercase());
    match found {
        Ok(()) => println!("cargo::rustc-cfg={cfg}"),
        Err(why) if std::env::var(&require).is_ok_and(|v| v == "1") => {
            panic!("{require}=1, but {why}")
        }
        Err(why) => println!("cargo::warning=tests that need {what} are ignored: {why}"),
    }
}
