//! `--hardware NAME|FILE.toml`: the machine roofline estimates are made for.

use std::path::{Path, PathBuf};

use flopscope_report::hardware::THIS_MACHINE;
use flopscope_report::{Hardware, HardwareError};

/// Why `--hardware` could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum HardwareSpecError {
    #[error(transparent)]
    Hardware(#[from] HardwareError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no [[hardware]] entry named `{name}` (it has: {known})", path.display())]
    NotInFile {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error(
        "{}: several [[hardware]] entries ({known}); choose one with {}#NAME",
        path.display(),
        path.display()
    )]
    Several { path: PathBuf, known: String },
    #[error(
        "this-machine is not calibrated: run `flopscope bench --calibrate` first (it measures \
         this machine's GEMM rate and memory bandwidth)"
    )]
    NotCalibrated,
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
}

/// Total memory from `/proc/meminfo` (0 where it cannot be read).
fn memory_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb * 1024.0)
}

/// A preset's name, `this-machine`, or a TOML file (`FILE.toml`, or `FILE.toml#NAME` for one
/// of several entries).
pub fn resolve(spec: &str) -> Result<Hardware, HardwareSpecError> {
    if spec == THIS_MACHINE {
        let peaks = crate::bench::this_machine_peaks()?.ok_or(HardwareSpecError::NotCalibrated)?;
        return Ok(Hardware::this_machine(
            peaks.gflops,
            peaks.gbps,
            memory_bytes(),
            &peaks.method,
        ));
    }
    let (file, name) = match spec.split_once('#') {
        Some((f, n)) => (f, Some(n)),
        None => (spec, None),
    };
    if !file.ends_with(".toml") && !Path::new(file).is_file() {
        return Ok(Hardware::preset(spec)?);
    }
    let path = PathBuf::from(file);
    let text = std::fs::read_to_string(&path).map_err(|source| HardwareSpecError::Read {
        path: path.clone(),
        source,
    })?;
    let all = Hardware::from_toml(&text, &path.display().to_string())?;
    let known = all
        .iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match name {
        Some(n) => {
            all.into_iter()
                .find(|h| h.name == n)
                .ok_or_else(|| HardwareSpecError::NotInFile {
                    path,
                    name: n.to_owned(),
                    known,
                })
        }
        None if all.len() == 1 => Ok(all.into_iter().next().expect("one entry")),
        None => Err(HardwareSpecError::Several { path, known }),
    }
}
