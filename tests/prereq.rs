//! What some tests need beyond a Rust toolchain, found the same way by the build script
//! (`build.rs`, which marks those tests ignored with the reason when it is missing) and by the
//! tests themselves (`lib.rs`). Plain `std`: `build.rs` includes this file.

use std::path::{Path, PathBuf};

/// `../shared` beside the repository (`FLOPSCOPE_SHARED` names another), when it holds the
/// shared model zoo.
pub(crate) fn shared_dir_in(root: &Path) -> Result<PathBuf, String> {
    let dir = std::env::var_os("FLOPSCOPE_SHARED")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root.join("..").join("shared"), PathBuf::from);
    if dir.join("zoo").join("ANCHORS.json").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{} has no zoo/ANCHORS.json (the shared model zoo is beside the repository only in CI)",
            dir.display()
        ))
    }
}

/// A Chromium binary: `CHROMIUM`, else `chromium` or `chromium-browser` on `PATH` (Debian's
/// package).
pub(crate) fn chromium() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("CHROMIUM={} is not a file", p.display()))
        };
    }
    let path = std::env::var_os("PATH").ok_or("PATH is not set")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|b| dir.join(b)))
        .find(|p| p.is_file())
        .ok_or_else(|| "no chromium on PATH (Debian's package `chromium`)".to_owned())
}
