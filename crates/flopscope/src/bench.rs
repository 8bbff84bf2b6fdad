//! `flopscope bench`: the model run in ONNX Runtime, its times joined with flopscope's counts,
//! and the machine's peaks, measured once and cached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flopscope_counters::ProfileOptions;
use flopscope_ir::{Model, ValueType};
use flopscope_ort::bench::{BenchConfig, Peaks};
use flopscope_ort::{InputSpec, OrtError, Runtime};
use flopscope_report::{BenchInput, BenchReport, KernelInput, PeaksReport, Report, RuntimeInfo};

use crate::Error;

/// Why a model could not be benchmarked.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Runtime(#[from] OrtError),
    #[error(
        "{}: bench needs every input's size; {input} is {shape}: bind its dims",
        path.display()
    )]
    Unsized {
        path: PathBuf,
        input: String,
        shape: String,
    },
    #[error("{}: input `{input}` is a {kind}; bench feeds tensors only", path.display())]
    NotATensor {
        path: PathBuf,
        input: String,
        kind: String,
    },
    #[error("the peaks cache {}: {reason}", path.display())]
    Cache { path: PathBuf, reason: String },
}

/// The folder of flopscope's cache: `FLOPSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/flopscope`,
/// else `~/.cache/flopscope`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FLOPSCOPE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("flopscope"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("flopscope"))
}

/// The CPU's model name (from `/proc/cpuinfo` on Linux), for the peaks' key.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// The key peaks are cached under: the machine, the provider, the threads and the runtime.
pub fn peaks_key(runtime: &Runtime, cfg: &BenchConfig) -> String {
    let threads = cfg.threads.map_or_else(
        || {
            format!(
                "{} threads",
                std::thread::available_parallelism().map_or(1, usize::from)
            )
        },
        |n| format!("{n} threads"),
    );
    format!(
        "{} | {} | {threads} | onnxruntime {}",
        cpu_model(),
        cfg.provider.name(),
        runtime.version()
    )
}

fn cache_file(dir: &Path) -> PathBuf {
    dir.join("peaks.json")
}

fn read_cache(dir: &Path) -> Result<BTreeMap<String, PeaksReport>, BenchError> {
    let path = cache_file(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| BenchError::Cache {
            path,
            reason: format!("not a peaks file ({e}); delete it and calibrate again"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(BenchError::Cache {
            path,
            reason: e.to_string(),
        }),
    }
}

/// The cached peaks for this machine and configuration, if calibrated.
pub fn cached_peaks(
    dir: &Path,
    runtime: &Runtime,
    cfg: &BenchConfig,
) -> Result<Option<PeaksReport>, BenchError> {
    Ok(read_cache(dir)?.remove(&peaks_key(runtime, cfg)))
}

/// The peaks calibrated on this machine's CPU provider, whatever the runtime version: the
/// entry for the default thread count if there is one, else the fastest. `None` if this
/// machine was never calibrated (or there is no cache folder).
pub fn this_machine_peaks() -> Result<Option<PeaksReport>, BenchError> {
    let Some(dir) = cache_dir() else {
        return Ok(None);
    };
    let prefix = format!("{} | cpu | ", cpu_model());
    let threads = format!(
        "{prefix}{} threads |",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let mine: Vec<(String, PeaksReport)> = read_cache(&dir)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    Ok(mine
        .iter()
        .find(|(k, _)| k.starts_with(&threads))
        .or_else(|| mine.iter().max_by(|a, b| a.1.gflops.total_cmp(&b.1.gflops)))
        .map(|(_, p)| p.clone()))
}

/// Measures the peaks and stores them in the cache under [`peaks_key`].
pub fn calibrate(
    dir: &Path,
    runtime: &Runtime,
    cfg: &BenchConfig,
) -> Result<PeaksReport, BenchError> {
    let Peaks {
        gflops,
        gbps,
        gemm_n,
        stream_elements,
    } = runtime.calibrate(cfg)?;
    let key = peaks_key(runtime, cfg);
    let peaks = PeaksReport::new(
        gflops,
        gbps,
        format!(
            "best of 3 sessions × 5 runs: float GEMMs n × n by a constant n × n (n = 1024, \
             1536, 2048; best at {gemm_n}), and an Add over 2 × {stream_elements} floats; {key}"
        ),
    );
    let mut all = read_cache(dir)?;
    all.insert(key, peaks.clone());
    let path = cache_file(dir);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")
    };
    write().map_err(|e| BenchError::Cache {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(peaks)
}

/// The tensors to feed: every graph input at its profiled (concrete) type.
fn input_specs(path: &Path, inputs: &[(String, ValueType)]) -> Result<Vec<InputSpec>, BenchError> {
    inputs
        .iter()
        .map(|(name, ty)| {
            let ValueType::Tensor(t) = ty else {
                return Err(BenchError::NotATensor {
                    path: path.to_owned(),
                    input: name.clone(),
                    kind: ty.to_string(),
                });
            };
            let shape: Option<Vec<usize>> = t
                .shape
                .iter()
                .map(|d| d.as_i64().and_then(|v| usize::try_from(v).ok()))
                .collect();
            let shape = shape.ok_or_else(|| BenchError::Unsized {
                path: path.to_owned(),
                input: name.clone(),
                shape: t.to_string(),
            })?;
            Ok(InputSpec {
                name: name.clone(),
                dtype: t.dtype,
                shape,
            })
        })
        .collect()
}

/// Profiles the model (read from `path`) at `options` and runs it in ONNX Runtime: the report with its `bench`
/// section. `peaks` classify the kernels (compute- or memory-bound) when given.
pub fn bench_file(
    path: &Path,
    model: &Model,
    options: &ProfileOptions,
    runtime: &Runtime,
    cfg: &BenchConfig,
    peaks: Option<PeaksReport>,
) -> Result<Report, Error> {
    let profile = crate::profile_model(path, model, options)?;
    let mut report = Report::new(&path.display().to_string(), model, &profile);
    let specs = input_specs(path, &profile.inputs)?;
    let run = runtime
        .bench(path, model, &specs, cfg)
        .map_err(BenchError::from)?;
    let input = BenchInput {
        runtime: RuntimeInfo {
            name: format!("onnxruntime {}", run.ort_version),
            provider: cfg.provider.name().to_owned(),
            threads: cfg.threads,
            optimization: cfg.opt_level.name().to_owned(),
            synthesized_weights: run.synthesized.clone(),
            profiler_overhead_us: run.profiler_overhead_us,
        },
        warmup: cfg.warmup,
        latencies_ms: run.latencies_ms,
        kernels: run
            .kernels
            .into_iter()
            .map(|k| KernelInput {
                name: k.name,
                op: k.op,
                provider: k.provider,
                times_us: k.times_us,
            })
            .collect(),
        profiled_runs_us: run.profiled_runs_us,
        peaks,
    };
    report.bench = Some(BenchReport::new(&report, input));
    Ok(report)
}
