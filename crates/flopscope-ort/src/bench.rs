//! Timing a model in ONNX Runtime: latency over timed runs, the time of every kernel from ONNX
//! Runtime's profiler, and the machine's compute and memory peaks (`flopscope bench`).
//!
//! A weight-stripped model (its large tensors point at an external file that does not exist)
//! still runs: the missing file is made up in memory, each tensor's range filled with a small
//! constant of its element type, so the timings are those of the real model's shapes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flopscope_ir::{Attr, ConstTensor, DType, Graph, Model, NodeId, Storage, ValueDef};
use flopscope_onnx::write::{ConstantSpec, NodeSpec, ValueSpec, model_bytes, model_with_constants};
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{Session, SessionInputValue};

use crate::{InputSpec, OrtError, Runtime, random_tensor, runtime};

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    #[default]
    Cpu,
    Cuda,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
        }
    }
}

/// ONNX Runtime's graph optimization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    #[default]
    All,
}

impl OptLevel {
    fn ort(self) -> GraphOptimizationLevel {
        match self {
            OptLevel::Disable => GraphOptimizationLevel::Disable,
            OptLevel::Basic => GraphOptimizationLevel::Level1,
            OptLevel::Extended => GraphOptimizationLevel::Level2,
            OptLevel::All => GraphOptimizationLevel::Level3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OptLevel::Disable => "disable",
            OptLevel::Basic => "basic",
            OptLevel::Extended => "extended",
            OptLevel::All => "all",
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchConfig {
    /// Untimed runs before the timed ones.
    pub warmup: usize,
    /// Timed runs.
    pub runs: usize,
    /// Runs under the profiler (in a second session, after one warm-up run).
    pub profiled_runs: usize,
    /// Intra-op threads (`None`: ONNX Runtime's default, one per core).
    pub threads: Option<usize>,
    pub provider: Provider,
    pub opt_level: OptLevel,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            warmup: 5,
            runs: 50,
            profiled_runs: 10,
            threads: None,
            provider: Provider::Cpu,
            opt_level: OptLevel::All,
        }
    }
}

/// One kernel as ONNX Runtime's profiler saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The node name ONNX Runtime ran (after its graph optimizations).
    pub name: String,
    /// The op ONNX Runtime ran (`Conv`, `FusedMatMul`, ...).
    pub op: String,
    pub provider: String,
    /// Microseconds in each profiled run (summed when the kernel ran several times in one run).
    pub times_us: Vec<f64>,
}

/// What a benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRun {
    /// Wall time of each timed run, in milliseconds, in run order.
    pub latencies_ms: Vec<f64>,
    /// Every kernel, in the order of the first profiled run.
    pub kernels: Vec<KernelTime>,
    /// The profiler's duration of each profiled run, in microseconds.
    pub profiled_runs_us: Vec<f64>,
    /// External data files that were missing and made up in memory.
    pub synthesized: Vec<String>,
    /// `1.32.0`: see [`Runtime::version`].
    pub ort_version: String,
    /// What the profiler adds to each kernel's time, in microseconds: measured on a chain of
    /// no-op kernels (see [`Runtime::profiler_overhead_us`]) and already taken off
    /// `kernels[..].times_us`.
    pub profiler_overhead_us: f64,
}

/// A folder of its own for one profiler trace (several benches may run in one process).
fn scratch_dir(what: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "flopscope-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Sessions each calibration measurement is repeated in.
pub const CALIBRATION_SESSIONS: usize = 3;

/// Kernels in the chain that measures the profiler's overhead.
pub const OVERHEAD_CHAIN: usize = 100;

/// A machine's measured peaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peaks {
    /// Best GEMM throughput, in GFLOP/s.
    pub gflops: f64,
    /// Best streaming bandwidth (an element-wise Add over large tensors), in GB/s.
    pub gbps: f64,
    /// The GEMM's size (n × n by n × n).
    pub gemm_n: i64,
    /// Elements of each Add operand.
    pub stream_elements: i64,
}

/// Bytes of `count` elements of `dtype`, rounded up; `None` past `u64`.
fn byte_len(dtype: DType, count: u64) -> Option<u64> {
    Some(
        count
            .checked_mul(u64::from(dtype.bits().unwrap_or(8)))?
            .div_ceil(8),
    )
}

/// A small value of `dtype` as little-endian bytes: 0.01 for floats, 0 otherwise (always a
/// valid index, never a denormal or a NaN).
fn filler(dtype: DType) -> Vec<u8> {
    match dtype {
        DType::Float32 => 0.01f32.to_le_bytes().to_vec(),
        DType::Float64 => 0.01f64.to_le_bytes().to_vec(),
        // 0.01 in IEEE half and in bfloat16.
        DType::Float16 => 0x211fu16.to_le_bytes().to_vec(),
        DType::Bfloat16 => 0x3c24u16.to_le_bytes().to_vec(),
        _ => vec![0],
    }
}

/// A tensor whose data is in an external file.
#[derive(Debug)]
struct External<'m> {
    /// The initializer's name, or the node attribute that holds it.
    name: String,
    location: &'m str,
    offset: u64,
    length: Option<u64>,
    tensor: &'m ConstTensor,
}

impl External<'_> {
    /// The bytes its dims and element type need; `None` past `u64`.
    fn needed(&self) -> Option<u64> {
        let count = self
            .tensor
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
        byte_len(self.tensor.dtype, count)
    }

    /// The byte range it takes in its file (checked by [`check_external_data`] first).
    fn range(&self) -> (u64, u64) {
        let len = self.length.or_else(|| self.needed()).unwrap_or(0);
        (self.offset, self.offset.saturating_add(len))
    }
}

/// The external tensors of a graph and its subgraphs: initializers and tensor attributes
/// (a Constant's `value`), which ONNX Runtime loads alike.
fn external_tensors<'m>(graph: &'m Graph, out: &mut Vec<External<'m>>) {
    let mut push = |name: String, t: &'m ConstTensor| {
        if let Storage::External {
            location,
            offset,
            length,
        } = &t.storage
        {
            out.push(External {
                name,
                location,
                offset: *offset,
                length: *length,
                tensor: t,
            });
        }
    };
    for v in &graph.values {
        if let ValueDef::Initializer(t) = &v.def {
            push(v.name.clone(), t);
        }
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        for (attr, value) in &n.attrs {
            let label = || format!("{}.{attr}", graph.node_name(NodeId(i as u32)));
            match value {
                Attr::Tensor(t) => push(label(), t),
                Attr::Tensors(ts) => ts.iter().for_each(|t| push(label(), t)),
                _ => {}
            }
        }
    }
    for n in &graph.nodes {
        for (_, attr) in &n.attrs {
            match attr {
                Attr::Graph(g) => external_tensors(g.as_ref(), out),
                Attr::Graphs(gs) => gs.iter().for_each(|g| external_tensors(g.as_ref(), out)),
                _ => {}
            }
        }
    }
}

/// How far apart a made-up file's tensors may lie: room for alignment (ONNX's external-data
/// writer aligns to pages or allocation granules), not for gaps of gigabytes.
const MAX_GAP_PER_TENSOR: u64 = 1 << 16;

/// The folder external data is read from: the model's.
fn model_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Refuses external data that `bench` must not hand to ONNX Runtime, before it sees the model:
/// a location that is empty, absolute, has a `..` component, or resolves (through links) to
/// a path outside the model's folder; a byte range that overflows or whose length is not what
/// the tensor's dims and type need; and, for a file that does not exist (made up in memory),
/// tensors so far apart that making it up would take far more memory than their bytes.
/// `flopscope profile` needs none of this: it never opens external data.
pub fn check_external_data(path: &Path, model: &Model) -> Result<(), OrtError> {
    let dir = model_dir(path);
    let mut tensors = Vec::new();
    external_tensors(&model.graph, &mut tensors);
    if tensors.is_empty() {
        return Ok(());
    }
    let refuse = |t: &External<'_>, reason: String| OrtError::ExternalData {
        model: path.to_owned(),
        tensor: t.name.clone(),
        location: t.location.to_owned(),
        reason,
    };
    let root = dir.canonicalize().map_err(|e| OrtError::ExternalData {
        model: path.to_owned(),
        tensor: tensors[0].name.clone(),
        location: tensors[0].location.to_owned(),
        reason: format!(
            "cannot be placed: the model's folder {}: {e}",
            dir.display()
        ),
    })?;
    let mut missing: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for t in &tensors {
        let location = Path::new(t.location);
        if t.location.is_empty() {
            return Err(refuse(t, "is empty: the tensor has no location".into()));
        }
        if location.has_root() || location.is_absolute() {
            return Err(refuse(
                t,
                "is an absolute path; bench reads external data only inside the model's folder"
                    .into(),
            ));
        }
        if location
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(refuse(
                t,
                "has a `..` component; bench reads external data only inside the model's folder"
                    .into(),
            ));
        }
        let full = dir.join(location);
        match full.canonicalize() {
            Ok(real) if !real.starts_with(&root) => {
                return Err(refuse(
                    t,
                    format!(
                        "resolves to {}, outside the model's folder {}",
                        real.display(),
                        root.display()
                    ),
                ));
            }
            Ok(_) => {}
            // Missing (or a dangling link): the data is made up in memory, nothing is opened.
            Err(_) => {}
        }
        let needed = t.needed().ok_or_else(|| {
            refuse(
                t,
                format!("holds dims {:?}, more than 2^64 bytes", t.tensor.dims),
            )
        })?;
        let length = t.length.unwrap_or(needed);
        if length != needed {
            return Err(refuse(
                t,
                format!(
                    "is {length} bytes long, but the tensor's dims and type need {needed} bytes"
                ),
            ));
        }
        let Some(end) = t.offset.checked_add(length) else {
            return Err(refuse(
                t,
                format!(
                    "has offset {} and length {length}: the end is past 2^64",
                    t.offset
                ),
            ));
        };
        if !full.is_file() {
            let slot = missing.entry(t.location).or_insert((0, 0, 0));
            slot.0 = slot.0.max(end);
            slot.1 = slot.1.saturating_add(length);
            slot.2 += 1;
        }
    }
    for (location, (size, bytes, count)) in missing {
        let allowed = bytes.saturating_add(MAX_GAP_PER_TENSOR.saturating_mul(count));
        if size > allowed {
            let t = tensors
                .iter()
                .filter(|t| t.location == location)
                .max_by_key(|t| t.offset)
                .expect("a tensor of this file");
            return Err(refuse(
                t,
                format!(
                    "does not exist, and making it up would take {size} bytes for {bytes} bytes \
                     of tensors (offset {} leaves a gap)",
                    t.offset
                ),
            ));
        }
    }
    Ok(())
}

/// An external data file made up in memory: its `location` and its bytes.
/// An external data file made up in memory: its location and bytes.
pub type MadeUpFile = (String, Arc<[u8]>);

/// The external data files of the model at `path` (described by `model`) that are missing
/// beside it (a weight-stripped copy), made up in memory, after [`check_external_data`].
pub fn made_up_external_data(path: &Path, model: &Model) -> Result<Vec<MadeUpFile>, OrtError> {
    check_external_data(path, model)?;
    missing_external_files(path, model)
}

/// The external data files the model names that do not exist beside it, made up: each
/// tensor's range filled with [`filler`]. [`check_external_data`] has bounded their sizes.
fn missing_external_files(path: &Path, model: &Model) -> Result<Vec<MadeUpFile>, OrtError> {
    let dir = model_dir(path);
    let mut tensors = Vec::new();
    external_tensors(&model.graph, &mut tensors);
    let mut files: BTreeMap<String, Vec<(u64, u64, DType)>> = BTreeMap::new();
    for t in &tensors {
        if !dir.join(t.location).is_file() {
            let (start, end) = t.range();
            files
                .entry(t.location.to_owned())
                .or_default()
                .push((start, end, t.tensor.dtype));
        }
    }
    files
        .into_iter()
        .map(|(location, ranges)| {
            let size = ranges.iter().map(|&(_, end, _)| end).max().unwrap_or(0);
            let too_big = |what: String| {
                OrtError::Runtime(format!(
                    "{}: cannot make up the missing external data file `{location}` ({what})",
                    path.display()
                ))
            };
            let size = usize::try_from(size).map_err(|_| too_big(format!("{size} bytes")))?;
            let mut bytes = Vec::new();
            bytes
                .try_reserve_exact(size)
                .map_err(|e| too_big(format!("{size} bytes: {e}")))?;
            bytes.resize(size, 0u8);
            for (start, end, dtype) in ranges {
                let pattern = filler(dtype);
                // Both ends are at most `size`, which fits `usize`.
                for (i, b) in bytes[start as usize..end as usize].iter_mut().enumerate() {
                    *b = pattern[i % pattern.len()];
                }
            }
            Ok((location, Arc::from(bytes.into_boxed_slice())))
        })
        .collect()
}

impl Runtime {
    fn builder(&self, cfg: &BenchConfig) -> Result<SessionBuilder, OrtError> {
        let mut b = Session::builder(&self.env)
            .map_err(runtime)?
            .with_optimization_level(cfg.opt_level.ort())
            .map_err(runtime)?;
        if let Some(n) = cfg.threads {
            b = b.with_intra_threads(n).map_err(runtime)?;
        }
        if cfg.provider == Provider::Cuda {
            b = b
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| {
                    OrtError::Runtime(format!(
                        "the CUDA execution provider is not available ({e}); install \
                         onnxruntime-gpu and a matching CUDA, or use --provider cpu"
                    ))
                })?;
        }
        Ok(b)
    }

    fn session(
        &self,
        cfg: &BenchConfig,
        path: &Path,
        missing: &[(String, Arc<[u8]>)],
        profile: Option<&Path>,
    ) -> Result<Session, OrtError> {
        let mut b = self.builder(cfg)?;
        if let Some(prefix) = profile {
            b = b.with_profiling(prefix).map_err(runtime)?;
        }
        if missing.is_empty() {
            return b.commit_from_file(path).map_err(runtime);
        }
        for (location, bytes) in missing {
            b = b
                .with_external_initializer_file_in_memory(location, bytes.clone())
                .map_err(runtime)?;
        }
        let model = std::fs::read(path)
            .map_err(|e| OrtError::Runtime(format!("{}: {e}", path.display())))?;
        b.commit_from_memory(&model).map_err(runtime)
    }

    /// Times `model` (read from `path`, described by `ir`) in two sessions that take turns:
    /// one timed with a clock (`warmup` runs, then `runs` timed runs), one with the profiler on
    /// (`profiled_runs` runs after its warm-up, whose kernel times are read back from the
    /// profiler's trace, less the profiler's own cost per kernel).
    pub fn bench(
        &self,
        path: &Path,
        ir: &Model,
        inputs: &[InputSpec],
        cfg: &BenchConfig,
    ) -> Result<BenchRun, OrtError> {
        if cfg.runs == 0 {
            return Err(OrtError::Runtime("at least one timed run is needed".into()));
        }
        check_external_data(path, ir)?;
        let missing = missing_external_files(path, ir)?;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut values = Vec::with_capacity(inputs.len());
        for spec in inputs {
            values.push((spec.name.clone(), random_tensor(spec, &mut seed)?));
        }
        let feeds = || -> Vec<(Cow<'_, str>, SessionInputValue<'_>)> {
            values
                .iter()
                .map(|(name, v)| (Cow::Borrowed(name.as_str()), SessionInputValue::from(v)))
                .collect()
        };

        // Both sessions live side by side and take turns, so that the machine's drift (other
        // load, clocks) touches the timed and the profiled runs alike.
        let mut timed = self.session(cfg, path, &missing, None)?;
        let dir = scratch_dir("bench");
        let mut profiled = if cfg.profiled_runs > 0 {
            std::fs::create_dir_all(&dir)
                .map_err(|e| OrtError::Runtime(format!("{}: {e}", dir.display())))?;
            Some(self.session(cfg, path, &missing, Some(&dir.join("trace")))?)
        } else {
            None
        };
        for _ in 0..cfg.warmup.max(1) {
            timed.run(feeds()).map_err(runtime)?;
            if let Some(p) = profiled.as_mut() {
                p.run(feeds()).map_err(runtime)?;
            }
        }
        let mut latencies_ms = Vec::with_capacity(cfg.runs);
        for i in 0..cfg.runs.max(cfg.profiled_runs) {
            if i < cfg.runs {
                let start = Instant::now();
                let outputs = timed.run(feeds()).map_err(runtime)?;
                latencies_ms.push(start.elapsed().as_secs_f64() * 1000.0);
                drop(outputs);
            }
            if i < cfg.profiled_runs
                && let Some(p) = profiled.as_mut()
            {
                p.run(feeds()).map_err(runtime)?;
            }
        }
        drop(timed);
        let (kernels, profiled_runs_us) = match profiled {
            Some(mut p) => {
                let file = PathBuf::from(p.end_profiling().map_err(runtime)?);
                drop(p);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| OrtError::Runtime(format!("{}: {e}", file.display())));
                let _ = std::fs::remove_dir_all(&dir);
                parse_trace(&text?, cfg.profiled_runs)?
            }
            None => (Vec::new(), Vec::new()),
        };
        let profiler_overhead_us = if kernels.is_empty() {
            0.0
        } else {
            self.profiler_overhead_us(cfg)?
        };
        let kernels = kernels
            .into_iter()
            .map(|mut k| {
                for t in &mut k.times_us {
                    *t = (*t - profiler_overhead_us).max(0.0);
                }
                k
            })
            .collect();
        Ok(BenchRun {
            latencies_ms,
            kernels,
            profiled_runs_us,
            synthesized: missing.into_iter().map(|(l, _)| l).collect(),
            ort_version: self.version(),
            profiler_overhead_us,
        })
    }

    /// What ONNX Runtime's profiler adds to each kernel's recorded time: a chain of
    /// [`OVERHEAD_CHAIN`] two-input Add kernels over one element, timed without the profiler
    /// (about a microsecond each) and recorded with it; the difference per kernel (the median
    /// recorded kernel time less the unprofiled time per kernel). A few microseconds on a CPU.
    /// The profiler's true cost varies with the kernel (its inputs, the allocator's state), so
    /// for models of many tiny kernels the corrected times still run somewhat high.
    pub fn profiler_overhead_us(&self, cfg: &BenchConfig) -> Result<f64, OrtError> {
        let cfg = BenchConfig {
            opt_level: OptLevel::Disable,
            ..*cfg
        };
        let one = |name: &str| ValueSpec::new(name, DType::Float32, &[1]);
        let name = |i: usize| {
            if i + 1 == OVERHEAD_CHAIN {
                "y".to_owned()
            } else {
                format!("v{i}")
            }
        };
        let nodes: Vec<NodeSpec> = (0..OVERHEAD_CHAIN)
            .map(|i| NodeSpec {
                op_type: "Add".into(),
                inputs: vec![if i == 0 { "x".into() } else { name(i - 1) }, "x".into()],
                outputs: vec![name(i)],
            })
            .collect();
        let bytes = model_bytes("profiler_overhead", 17, &[one("x")], &[one("y")], &nodes);
        let spec = [InputSpec {
            name: "x".into(),
            dtype: DType::Float32,
            shape: vec![1],
        }];
        let mut seed = 1u64;
        let x = random_tensor(&spec[0], &mut seed)?;
        let feeds = || -> Vec<(Cow<'_, str>, SessionInputValue<'_>)> {
            vec![(Cow::Borrowed("x"), SessionInputValue::from(&x))]
        };
        const RUNS: usize = 20;
        let mut plain = self
            .builder(&cfg)?
            .commit_from_memory(&bytes)
            .map_err(runtime)?;
        let mut times = Vec::with_capacity(RUNS);
        for i in 0..RUNS + 3 {
            let start = Instant::now();
            plain.run(feeds()).map_err(runtime)?;
            if i >= 3 {
                times.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
        drop(plain);
        times.sort_by(f64::total_cmp);
        let per_kernel = times[RUNS / 2] / OVERHEAD_CHAIN as f64;

        let dir = scratch_dir("overhead");
        std::fs::create_dir_all(&dir)
            .map_err(|e| OrtError::Runtime(format!("{}: {e}", dir.display())))?;
        let mut profiled = self
            .builder(&cfg)?
            .with_profiling(dir.join("trace"))
            .map_err(runtime)?
            .commit_from_memory(&bytes)
            .map_err(runtime)?;
        for _ in 0..RUNS + 3 {
            profiled.run(feeds()).map_err(runtime)?;
        }
        let file = PathBuf::from(profiled.end_profiling().map_err(runtime)?);
        drop(profiled);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| OrtError::Runtime(format!("{}: {e}", file.display())));
        let _ = std::fs::remove_dir_all(&dir);
        let (kernels, _) = parse_trace(&text?, RUNS)?;
        let mut recorded: Vec<f64> = kernels.iter().flat_map(|k| k.times_us.clone()).collect();
        if recorded.is_empty() {
            return Ok(0.0);
        }
        recorded.sort_by(f64::total_cmp);
        Ok((recorded[recorded.len() / 2] - per_kernel).max(0.0))
    }

    /// Measures the machine's peaks through ONNX Runtime. Compute: the best of several runs of
    /// float GEMMs `n × n` by a constant `n × n` (2·n³ FLOPs; the constant is pre-packed, as a
    /// model's weights are) at a few sizes. Memory: the best run of an element-wise Add over
    /// two large vectors (three streams of 4-byte elements).
    pub fn calibrate(&self, cfg: &BenchConfig) -> Result<Peaks, OrtError> {
        const SIZES: [i64; 3] = [1024, 1536, 2048];
        const STREAM: i64 = 1 << 25;
        let cfg = BenchConfig {
            opt_level: OptLevel::All,
            ..*cfg
        };
        // The best run over a few sessions: thread placement differs between sessions, and a
        // shared machine has its bad moments.
        let best = |bytes: Vec<u8>, inputs: &[InputSpec], runs: usize| -> Result<f64, OrtError> {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut values = Vec::new();
            for spec in inputs {
                values.push((spec.name.clone(), random_tensor(spec, &mut seed)?));
            }
            let mut best = f64::INFINITY;
            for _ in 0..CALIBRATION_SESSIONS {
                let mut session = self
                    .builder(&cfg)?
                    .commit_from_memory(&bytes)
                    .map_err(runtime)?;
                for i in 0..runs + 2 {
                    let feeds: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = values
                        .iter()
                        .map(|(n, v)| (Cow::Borrowed(n.as_str()), SessionInputValue::from(v)))
                        .collect();
                    let start = Instant::now();
                    let out = session.run(feeds).map_err(runtime)?;
                    let t = start.elapsed().as_secs_f64();
                    drop(out);
                    if i >= 2 {
                        best = best.min(t);
                    }
                }
            }
            Ok(best)
        };
        let f = |name: &str, shape: &[i64]| ValueSpec::new(name, DType::Float32, shape);
        let spec = |name: &str, shape: &[i64]| InputSpec {
            name: name.to_owned(),
            dtype: DType::Float32,
            shape: shape.iter().map(|&d| d as usize).collect(),
        };
        let node = |op: &str| NodeSpec {
            op_type: op.to_owned(),
            inputs: vec!["a".into(), "b".into()],
            outputs: vec!["c".into()],
        };
        let (mut gflops, mut gemm_n) = (0.0f64, 0);
        for n in SIZES {
            let gemm = model_with_constants(
                "calibrate_gemm",
                17,
                &[f("a", &[n, n])],
                &[f("c", &[n, n])],
                &[node("MatMul")],
                &[ConstantSpec {
                    name: "b".into(),
                    shape: vec![n, n],
                    value: 0.01,
                }],
            );
            let t = best(gemm, &[spec("a", &[n, n])], 5)?;
            let g = 2.0 * (n as f64).powi(3) / t / 1e9;
            if g > gflops {
                (gflops, gemm_n) = (g, n);
            }
        }
        let stream = model_bytes(
            "calibrate_stream",
            17,
            &[f("a", &[STREAM]), f("b", &[STREAM])],
            &[f("c", &[STREAM])],
            &[node("Add")],
        );
        let t = best(stream, &[spec("a", &[STREAM]), spec("b", &[STREAM])], 5)?;
        let gbps = 3.0 * 4.0 * STREAM as f64 / t / 1e9;
        Ok(Peaks {
            gflops,
            gbps,
            gemm_n,
            stream_elements: STREAM,
        })
    }
}

/// Reads ONNX Runtime's profiler trace (a JSON array of Chrome trace events): the last `runs`
/// `model_run` events, and in each the `<node>_kernel_time` events of category `Node`.
pub fn parse_trace(text: &str, runs: usize) -> Result<(Vec<KernelTime>, Vec<f64>), OrtError> {
    let events: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| OrtError::Runtime(format!("the profiler's trace is not JSON: {e}")))?;
    let num = |e: &serde_json::Value, k: &str| e.get(k).and_then(serde_json::Value::as_f64);
    let text_of = |e: &serde_json::Value, k: &str| {
        e.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut model_runs: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| text_of(e, "cat") == "Session" && text_of(e, "name") == "model_run")
        .filter_map(|e| Some((num(e, "ts")?, num(e, "dur")?)))
        .collect();
    model_runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let keep = model_runs.len().saturating_sub(runs);
    let model_runs = &model_runs[keep..];
    let mut kernels: Vec<KernelTime> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut node_events: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| text_of(e, "cat") == "Node" && text_of(e, "name").ends_with("_kernel_time"))
        .collect();
    node_events.sort_by(|a, b| {
        num(a, "ts")
            .unwrap_or(0.0)
            .total_cmp(&num(b, "ts").unwrap_or(0.0))
    });
    for e in node_events {
        let (Some(ts), Some(dur)) = (num(e, "ts"), num(e, "dur")) else {
            continue;
        };
        let Some(run) = model_runs
            .iter()
            .position(|(start, d)| ts >= *start && ts <= start + d)
        else {
            continue;
        };
        let full = text_of(e, "name");
        let name = full.trim_end_matches("_kernel_time").to_owned();
        let args = e.get("args");
        let arg = |k: &str| {
            args.and_then(|a| a.get(k))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let i = *index.entry(name.clone()).or_insert_with(|| {
            kernels.push(KernelTime {
                name: name.clone(),
                op: arg("op_name"),
                provider: arg("provider"),
                times_us: vec![0.0; model_runs.len()],
            });
            kernels.len() - 1
        });
        kernels[i].times_us[run] += dur;
    }
    Ok((kernels, model_runs.iter().map(|(_, d)| *d).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_gives_each_kernel_per_run() {
        let trace = r#"[
          {"cat":"Session","name":"model_run","ts":0,"dur":100},
          {"cat":"Node","name":"a_kernel_time","ts":10,"dur":40,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","ts":200,"dur":90},
          {"cat":"Node","name":"a_fence_before","ts":205,"dur":1},
          {"cat":"Node","name":"a_kernel_time","ts":210,"dur":30,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"b_kernel_time","ts":250,"dur":20,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"b_kernel_time","ts":275,"dur":5,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","ts":400,"dur":80},
          {"cat":"Node","name":"a_kernel_time","ts":410,"dur":35,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}}
        ]"#;
        // The last two runs only (the first is a warm-up).
        let (kernels, runs) = parse_trace(trace, 2).unwrap();
        assert_eq!(runs, vec![90.0, 80.0]);
        assert_eq!(kernels.len(), 2);
        assert_eq!(kernels[0].name, "a");
        assert_eq!(kernels[0].op, "Conv");
        assert_eq!(kernels[0].times_us, vec![30.0, 35.0]);
        // A kernel that runs twice in a run adds up.
        assert_eq!(kernels[1].times_us, vec![25.0, 0.0]);
        assert!(parse_trace("not json", 1).is_err());
    }

    #[test]
    fn fillers_are_small_values_of_their_type() {
        assert_eq!(
            f32::from_le_bytes(filler(DType::Float32).try_into().unwrap()),
            0.01
        );
        assert_eq!(filler(DType::Int64), vec![0]);
        assert_eq!(byte_len(DType::Float32, 10), Some(40));
        assert_eq!(byte_len(DType::Int4, 3), Some(2));
        assert_eq!(byte_len(DType::Float32, 1 << 62), None);
    }

    fn fixture(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(relative)
    }

    #[test]
    fn missing_weights_of_a_stripped_fixture_are_made_up() {
        let path = fixture("models/mobilenet_v2.onnx");
        let model = flopscope_onnx::load(&path).unwrap();
        check_external_data(&path, &model).unwrap();
        let files = missing_external_files(&path, &model).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "mobilenet_v2.weights");
        // Every stripped tensor fits in the made-up file.
        let mut tensors = Vec::new();
        external_tensors(&model.graph, &mut tensors);
        let end = tensors.iter().map(|t| t.range().1).max().unwrap();
        assert_eq!(files[0].1.len() as u64, end);
    }

    /// The reason `check_external_data` gives for a model, or `None` when it accepts it.
    fn refusal(path: &Path, model: &Model) -> Option<String> {
        check_external_data(path, model).err().map(|e| {
            assert!(matches!(e, OrtError::ExternalData { .. }), "{e}");
            e.to_string()
        })
    }

    fn hostile(name: &str) -> (PathBuf, Model) {
        let path = fixture(&format!("hostile/{name}"));
        let model = flopscope_onnx::load(&path).unwrap();
        (path, model)
    }

    /// `W`'s storage in a hostile fixture whose one initializer is external.
    fn storage(model: &mut Model) -> &mut Storage {
        let id = model.graph.find_value("W").unwrap();
        match &mut model.graph.values[id.index()].def {
            ValueDef::Initializer(t) => &mut t.storage,
            _ => unreachable!("`W` is an initializer"),
        }
    }

    #[test]
    fn external_data_outside_the_model_folder_is_refused() {
        for (name, words) in [
            (
                "external_parent_dirs.onnx",
                &["`W`", "`../../etc/passwd`", "`..`"][..],
            ),
            ("external_absolute.onnx", &["`/etc/passwd`", "absolute"]),
            ("external_no_location.onnx", &["no location"]),
            (
                "external_absurd_offset.onnx",
                &["18446744073709551615", "2^64"],
            ),
            (
                "external_absurd_length.onnx",
                &["4611686018427387904", "48 bytes"],
            ),
        ] {
            let (path, model) = hostile(name);
            let why = refusal(&path, &model).unwrap_or_else(|| panic!("{name} accepted"));
            assert!(why.starts_with(&path.display().to_string()), "{why}");
            for w in words {
                assert!(why.contains(w), "{name}: {w:?} not in {why}");
            }
        }
        // A file that does not exist is made up in memory: nothing is opened.
        let (path, model) = hostile("external_missing.onnx");
        assert_eq!(refusal(&path, &model), None);
        assert_eq!(
            missing_external_files(&path, &model).unwrap()[0].1.len(),
            48
        );
    }

    #[test]
    fn a_made_up_file_is_no_larger_than_its_tensors_and_their_alignment() {
        let (path, mut model) = hostile("external_missing.onnx");
        let set = |model: &mut Model, at: u64| {
            if let Storage::External { offset, .. } = storage(model) {
                *offset = at;
            }
        };
        set(&mut model, 4096);
        assert_eq!(refusal(&path, &model), None);
        set(&mut model, 1 << 40);
        let why = refusal(&path, &model).expect("a gap of 2^40 bytes");
        assert!(why.contains("1099511627824 bytes for 48 bytes"), "{why}");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_to_where_they_lead() {
        let dir = std::env::temp_dir().join(format!("flopscope-ort-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("inside")).unwrap();
        let path = dir.join("model.onnx");
        let (_, mut model) = hostile("external_special.onnx");
        // special.bin -> /etc/passwd: out of the folder.
        std::os::unix::fs::symlink("/etc/passwd", dir.join("special.bin")).unwrap();
        let why = refusal(&path, &model).expect("a link out of the folder");
        assert!(why.contains("resolves to /etc/passwd, outside"), "{why}");
        // A link that stays inside the folder, to a file of the right size, is fine.
        std::fs::write(dir.join("inside/w.bin"), [0u8; 48]).unwrap();
        std::os::unix::fs::symlink("inside/w.bin", dir.join("ok.bin")).unwrap();
        if let Storage::External { location, .. } = storage(&mut model) {
            *location = "ok.bin".into();
        }
        assert_eq!(refusal(&path, &model), None);
        // A folder that links out is refused too.
        std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
        if let Storage::External { location, .. } = storage(&mut model) {
            *location = "etc/passwd".into();
        }
        let why = refusal(&path, &model).expect("a folder linked out");
        assert!(why.contains("outside"), "{why}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
