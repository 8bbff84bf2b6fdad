//! Where ONNX Runtime's shared library is. Plain `std`, so that the tests' build script
//! (`tests/build.rs`) includes this very file to decide whether the tests that need ONNX
//! Runtime run or are ignored.

use std::path::{Path, PathBuf};

/// The shared library: `ORT_DYLIB_PATH`, else the one inside an installed `onnxruntime` Python
/// package.
pub(crate) fn find_library() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("ORT_DYLIB_PATH={} is not a file", path.display()))
        };
    }
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .map_err(|e| format!("ORT_DYLIB_PATH is not set and python3 could not be run ({e})"))?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || dir.is_empty() {
        return Err("ORT_DYLIB_PATH is not set and no onnxruntime Python package was found".into());
    }
    let capi = Path::new(&dir).join("capi");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&capi)
        .map_err(|e| format!("{}: {e}", capi.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so")
                    || n.starts_with("libonnxruntime.") && n.ends_with(".dylib")
            })
        })
        .collect();
    libs.sort();
    libs.pop()
        .ok_or_else(|| format!("no libonnxruntime in {}", capi.display()))
}
