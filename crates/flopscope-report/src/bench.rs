//! FLOPs meet FLOPS: a report's counts joined with the times ONNX Runtime measured
//! (`flopscope bench`). The `bench` section of the JSON report.
//!
//! ONNX Runtime runs an optimized graph: it fuses nodes (Conv + Clip into one Conv kernel named
//! after the Clip's output), folds constants and adds layout nodes. Each kernel is joined with
//! the report's nodes by name: the node of that name, else the node producing the value of that
//! name (after ONNX Runtime's suffixes such as `_nchwc` are taken off). When the kernel's op is
//! not that node's op, the node's producers are followed up to the node of the kernel's op: the
//! nodes in between were fused into it. A kernel that matches no node is listed as fused by
//! ONNX Runtime; a counted node that no kernel covers is listed as unmatched (folded or fused).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use flopscope_ir::Dim;
use serde::{Deserialize, Serialize};

use crate::model::{NodeReport, Report, TensorReport};
use crate::units::human;
use crate::views::Section;

/// One kernel's measured time, as the runtime bridge hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelInput {
    pub name: String,
    pub op: String,
    pub provider: String,
    /// Microseconds in each profiled run.
    pub times_us: Vec<f64>,
}

/// What was measured, before joining.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchInput {
    pub runtime: RuntimeInfo,
    pub warmup: usize,
    pub latencies_ms: Vec<f64>,
    pub kernels: Vec<KernelInput>,
    pub profiled_runs_us: Vec<f64>,
    pub peaks: Option<PeaksReport>,
}

/// The runtime and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// `onnxruntime 1.32.0`.
    pub name: String,
    pub provider: String,
    /// Intra-op threads; `None` is the runtime's default (one per core).
    pub threads: Option<usize>,
    pub optimization: String,
    /// External data files that were missing (a weight-stripped model) and made up with
    /// constant values: the timings are the model's, the outputs meaningless.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synthesized_weights: Vec<String>,
    /// Microseconds the profiler adds to every kernel's recorded time, measured on a chain of
    /// no-op kernels and taken off every kernel time.
    pub profiler_overhead_us: f64,
}

/// A machine's measured peaks (`flopscope bench --calibrate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeaksReport {
    /// GFLOP/s of a large float GEMM.
    pub gflops: f64,
    /// GB/s of a large element-wise Add (three streams).
    pub gbps: f64,
    /// FLOPs per byte where the two roofs meet: below it a kernel is memory-bound.
    pub ridge: f64,
    /// How they were measured (`gemm 1536³, stream 2²⁵ floats, 2 threads, onnxruntime 1.32.0`).
    pub method: String,
}

impl PeaksReport {
    pub fn new(gflops: f64, gbps: f64, method: String) -> PeaksReport {
        PeaksReport {
            gflops,
            gbps,
            ridge: if gbps > 0.0 { gflops / gbps } else { 0.0 },
            method,
        }
    }
}

/// Latency statistics over the timed runs, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub mean: f64,
    pub max: f64,
}

/// Runs per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub inferences_per_s: f64,
    /// The batch: the model's `batch` dim, else the first input's first dim.
    pub batch: Option<i64>,
    pub samples_per_s: Option<f64>,
}

/// One kernel joined with the nodes it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTime {
    pub kernel: String,
    pub op: String,
    pub provider: String,
    /// The report's nodes this kernel ran, first to last; empty for a kernel ONNX Runtime made
    /// (a fusion without a matching name, a layout change).
    pub nodes: Vec<String>,
    /// Median over the profiled runs.
    pub time_us: f64,
    /// Share of the summed kernel time.
    pub share: f64,
    pub flops: i64,
    /// Bytes the group reads and writes (values passed inside it not counted).
    pub bytes: i64,
    /// FLOPs per byte.
    pub intensity: Option<f64>,
    pub gflops: Option<f64>,
    /// `compute` or `memory` against the machine's ridge point (with measured peaks).
    pub bound: Option<String>,
    /// Achieved GFLOPS over the roof at this intensity (with measured peaks).
    pub roof_fraction: Option<f64>,
}

/// A counted node no kernel covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmatchedNode {
    pub node: String,
    pub op_type: String,
    /// `constant` (folded before the runs) or `no kernel` (fused or removed).
    pub reason: String,
}

/// The `bench` section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub runtime: RuntimeInfo,
    pub warmup: usize,
    pub runs: usize,
    pub profiled_runs: usize,
    pub latency_ms: Latency,
    pub throughput: Throughput,
    /// The report's FLOPs over the median latency.
    pub achieved_gflops: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peaks: Option<PeaksReport>,
    /// Sum of the layers' median kernel times.
    pub kernel_time_us: f64,
    /// Median duration of a profiled run, as the profiler saw it.
    pub profiled_run_us: f64,
    /// Every kernel, in execution order.
    pub layers: Vec<LayerTime>,
    pub unmatched_nodes: Vec<UnmatchedNode>,
}

/// The median of a list (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile by the nearest-rank method.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

impl Latency {
    pub fn of(ms: &[f64]) -> Latency {
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        Latency {
            min: ms.iter().copied().fold(f64::INFINITY, f64::min),
            median: median(ms),
            p90: percentile(ms, 90.0),
            mean,
            max: ms.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Bytes of a tensor, when its type is known.
fn tensor_bytes(t: &TensorReport) -> Option<i64> {
    let shape = t.shape.as_ref()?;
    let numel: Dim = shape.iter().product();
    let bits = crate::views::dtype_bits(t.dtype.as_deref()?)?;
    (numel * i64::from(bits)).ceil_div(8).ok()?.as_i64()
}

/// The names ONNX Runtime may have given a kernel for a node or value called `name`.
fn candidates(kernel: &str) -> Vec<&str> {
    let mut out = vec![kernel];
    if let Some(s) = kernel.strip_suffix("_nchwc") {
        out.push(s);
    }
    // `node_matmul/MatMulScaleFusion/`: the original name before the fusion's tag.
    if let Some((head, _)) = kernel.split_once('/')
        && kernel.ends_with("Fusion/")
    {
        out.push(head);
    }
    if let Some((head, tail)) = kernel.rsplit_once("_token_")
        && tail.chars().all(|c| c.is_ascii_digit())
    {
        out.push(head);
    }
    out
}

/// The op type without a domain (`com.microsoft::FusedConv` → `FusedConv`).
fn bare(op: &str) -> &str {
    op.rsplit("::").next().unwrap_or(op)
}

/// Joins kernels with the report's nodes.
fn join(report: &Report, kernels: &[KernelInput]) -> (Vec<(usize, Vec<usize>)>, Vec<usize>) {
    let nodes = &report.nodes;
    let by_name: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let producer: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.name.as_str(), i)))
        .collect();
    // First pass: the node each kernel names.
    let direct: Vec<Option<usize>> = kernels
        .iter()
        .map(|k| {
            candidates(&k.name)
                .into_iter()
                .find_map(|c| by_name.get(c).or_else(|| producer.get(c)).copied())
        })
        .collect();
    let named: HashSet<usize> = direct.iter().flatten().copied().collect();
    let mut claimed: HashSet<usize> = HashSet::new();
    let mut groups = Vec::with_capacity(kernels.len());
    for (k, tail) in kernels.iter().zip(&direct) {
        let Some(&tail) = tail.as_ref() else {
            groups.push(Vec::new());
            continue;
        };
        if !claimed.insert(tail) {
            groups.push(Vec::new());
            continue;
        }
        let mut group = vec![tail];
        if nodes[tail].op_type != bare(&k.op) {
            // Follow the first computed input up to the node of the kernel's op.
            let mut chain = Vec::new();
            let mut at = tail;
            for _ in 0..4 {
                let Some(up) = nodes[at]
                    .inputs
                    .iter()
                    .find_map(|i| producer.get(i.name.as_str()).copied())
                    .filter(|u| !claimed.contains(u) && !named.contains(u))
                else {
                    break;
                };
                chain.push(up);
                if nodes[up].op_type == bare(&k.op) {
                    claimed.extend(chain.iter().copied());
                    chain.reverse();
                    group = chain.into_iter().chain([tail]).collect();
                    break;
                }
                at = up;
            }
        }
        groups.push(group);
    }
    let all: HashSet<usize> = groups.iter().flatten().copied().collect();
    let unmatched = (0..nodes.len())
        .filter(|i| nodes[*i].counted && !all.contains(i))
        .collect();
    (
        groups.into_iter().enumerate().collect::<Vec<_>>(),
        unmatched,
    )
}

/// FLOPs and bytes of a group of nodes: values passed inside the group are neither written nor
/// read from memory.
fn group_cost(nodes: &[NodeReport], group: &[usize]) -> (i64, i64) {
    let flops: i64 = group
        .iter()
        .map(|&i| nodes[i].flops.as_i64().unwrap_or(0))
        .sum();
    let mut bytes: i64 = group
        .iter()
        .map(|&i| nodes[i].bytes.as_i64().unwrap_or(0))
        .sum();
    for (pos, &i) in group.iter().enumerate() {
        for out in &nodes[i].outputs {
            let read_inside = group[pos + 1..]
                .iter()
                .any(|&j| nodes[j].inputs.iter().any(|x| x.name == out.name));
            let read_outside = nodes
                .iter()
                .enumerate()
                .any(|(j, n)| !group.contains(&j) && n.inputs.iter().any(|x| x.name == out.name));
            if read_inside && !read_outside {
                bytes -= 2 * tensor_bytes(out).unwrap_or(0);
            }
        }
    }
    (flops, bytes.max(0))
}

/// The batch of a run: the `batch` dim, else the first input's first dim.
fn batch_of(report: &Report) -> Option<i64> {
    if let Some(b) = report.bindings.get("batch").and_then(Dim::as_i64) {
        return Some(b);
    }
    report
        .model
        .inputs
        .first()?
        .shape
        .as_ref()?
        .first()?
        .as_i64()
}

impl BenchReport {
    /// Joins what was measured with a (concrete) report.
    pub fn new(report: &Report, input: BenchInput) -> BenchReport {
        let latency = Latency::of(&input.latencies_ms);
        let flops = report.totals.flops.as_i64().unwrap_or(0);
        let achieved_gflops = if latency.median > 0.0 {
            flops as f64 / (latency.median * 1e-3) / 1e9
        } else {
            0.0
        };
        let inferences_per_s = if latency.median > 0.0 {
            1000.0 / latency.median
        } else {
            0.0
        };
        let batch = batch_of(report);
        let samples_per_s = batch.map(|b| b as f64 * inferences_per_s);

        let (groups, unmatched) = join(report, &input.kernels);
        let times: Vec<f64> = input.kernels.iter().map(|k| median(&k.times_us)).collect();
        // Folded from +0.0: an empty float sum is -0.0, printed `-0.000`.
        let kernel_time_us: f64 = times.iter().fold(0.0, |a, b| a + b);
        let layers = groups
            .iter()
            .zip(&input.kernels)
            .zip(&times)
            .map(|(((_, group), k), &time_us)| {
                let (flops, bytes) = group_cost(&report.nodes, group);
                let intensity = (bytes > 0 && flops > 0).then(|| flops as f64 / bytes as f64);
                let gflops = (time_us > 0.0 && flops > 0).then(|| flops as f64 / time_us / 1e3);
                let (bound, roof_fraction) = match (&input.peaks, intensity, gflops) {
                    (Some(p), Some(i), Some(g)) => {
                        let roof = p.gflops.min(p.gbps * i);
                        (
                            Some(if i < p.ridge { "memory" } else { "compute" }.to_owned()),
                            (roof > 0.0).then(|| g / roof),
                        )
                    }
                    _ => (None, None),
                };
                LayerTime {
                    kernel: k.name.clone(),
                    op: k.op.clone(),
                    provider: k.provider.clone(),
                    nodes: group
                        .iter()
                        .map(|&i| report.nodes[i].name.clone())
                        .collect(),
                    time_us,
                    share: if kernel_time_us > 0.0 {
                        time_us / kernel_time_us
                    } else {
                        0.0
                    },
                    flops,
                    bytes,
                    intensity,
                    gflops,
                    bound,
                    roof_fraction,
                }
            })
            .collect();
        BenchReport {
            runtime: input.runtime,
            warmup: input.warmup,
            runs: input.latencies_ms.len(),
            profiled_runs: input.profiled_runs_us.len(),
            latency_ms: latency,
            throughput: Throughput {
                inferences_per_s,
                batch,
                samples_per_s,
            },
            achieved_gflops,
            peaks: input.peaks,
            kernel_time_us,
            profiled_run_us: median(&input.profiled_runs_us),
            layers,
            unmatched_nodes: unmatched
                .into_iter()
                .map(|i| {
                    let n = &report.nodes[i];
                    UnmatchedNode {
                        node: n.name.clone(),
                        op_type: n.op_type.clone(),
                        reason: if n.constant { "constant" } else { "no kernel" }.to_owned(),
                    }
                })
                .collect(),
        }
    }

    /// The summary and the slowest `top` layers (all with `None`) as sections.
    pub fn sections(&self, report: &Report, top: Option<usize>) -> Vec<Section> {
        let t = &report.totals;
        let mut rows = vec![
            vec![
                "Runtime".into(),
                format!(
                    "{}, {} provider, {} threads, optimization {}",
                    self.runtime.name,
                    self.runtime.provider,
                    self.runtime
                        .threads
                        .map_or_else(|| "default".to_owned(), |n| n.to_string()),
                    self.runtime.optimization
                ),
            ],
            vec![
                "Runs".into(),
                format!(
                    "{} timed after {} warm-up; {} profiled",
                    self.runs, self.warmup, self.profiled_runs
                ),
            ],
            vec![
                "Latency".into(),
                format!(
                    "min {:.3} ms, median {:.3} ms, p90 {:.3} ms",
                    self.latency_ms.min, self.latency_ms.median, self.latency_ms.p90
                ),
            ],
            vec![
                "Throughput".into(),
                match (self.throughput.batch, self.throughput.samples_per_s) {
                    (Some(b), Some(s)) if b != 1 => format!(
                        "{:.1} inferences/s, {:.1} samples/s (batch {b})",
                        self.throughput.inferences_per_s, s
                    ),
                    _ => format!("{:.1} inferences/s", self.throughput.inferences_per_s),
                },
            ],
            vec!["MACs".into(), human(&t.macs, "MACs")],
            vec!["FLOPs".into(), human(&t.flops, "FLOPs")],
            vec![
                "Achieved".into(),
                format!(
                    "{:.2} GFLOPS (FLOPs / median latency)",
                    self.achieved_gflops
                ),
            ],
        ];
        if let Some(p) = &self.peaks {
            rows.push(vec![
                "Machine peaks".into(),
                format!(
                    "{:.1} GFLOPS, {:.1} GB/s, ridge {:.1} FLOPs/byte",
                    p.gflops, p.gbps, p.ridge
                ),
            ]);
            rows.push(vec![
                "Share of peak".into(),
                format!(
                    "{:.1}% of the compute peak",
                    self.achieved_gflops / p.gflops * 100.0
                ),
            ]);
        }
        if let Some(h) = &report.hardware {
            let measured_s = self.latency_ms.median / 1000.0;
            rows.push(vec![
                "Roofline estimate".into(),
                format!(
                    "{} on {} (estimated, not measured): the median latency is {:.2}× it",
                    crate::hardware::seconds(h.time_s),
                    h.hardware.name,
                    if h.time_s > 0.0 {
                        measured_s / h.time_s
                    } else {
                        f64::NAN
                    }
                ),
            ]);
        }
        let mut notes = vec![if self.profiled_runs == 0 {
            "Kernel times were not measured (no profiled runs): no per-kernel table.".to_owned()
        } else {
            format!(
                "Kernel times add up to {:.3} ms, {:.1}% of the median latency ({} kernels; each \
                 kernel's time is the profiler's less its measured overhead of {:.1} µs).",
                self.kernel_time_us / 1000.0,
                self.kernel_time_us / 1000.0 / self.latency_ms.median.max(f64::MIN_POSITIVE)
                    * 100.0,
                self.layers.len(),
                self.runtime.profiler_overhead_us
            )
        }];
        if !self.runtime.synthesized_weights.is_empty() {
            notes.push(format!(
                "The model's weights are stripped: {} made up with constants (the timings are \
                 the model's; its outputs are not).",
                self.runtime.synthesized_weights.join(", ")
            ));
        }
        if let Some(p) = &self.peaks {
            notes.push(format!("Peaks: {}.", p.method));
        } else {
            notes.push(
                "No machine peaks: run `flopscope bench --calibrate` once to classify layers as \
                 compute- or memory-bound."
                    .into(),
            );
        }
        let summary = Section {
            title: "Benchmark".into(),
            header: vec!["Measure".into(), "Value".into()],
            rows,
            notes,
            ..Section::default()
        };
        if self.profiled_runs == 0 {
            return vec![summary];
        }

        let mut order: Vec<&LayerTime> = self.layers.iter().collect();
        order.sort_by(|a, b| b.time_us.total_cmp(&a.time_us));
        let shown = top.unwrap_or(order.len()).min(order.len());
        let layer_rows = order[..shown]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let op_of = |name: &str| {
                    report
                        .nodes
                        .iter()
                        .find(|n| n.name == name)
                        .map_or("?", |n| n.op_type.as_str())
                };
                let name = match l.nodes.as_slice() {
                    [] => format!("{} (made by ONNX Runtime)", l.kernel),
                    [one] => one.clone(),
                    [first, rest @ ..] => format!(
                        "{first} +{}",
                        rest.iter().map(|n| op_of(n)).collect::<Vec<_>>().join("+")
                    ),
                };
                vec![
                    (i + 1).to_string(),
                    name,
                    l.op.clone(),
                    format!("{:.1}", l.time_us),
                    format!("{:.1}%", l.share * 100.0),
                    human(&Dim::from_i64(l.flops), ""),
                    l.intensity.map_or("-".into(), |x| format!("{x:.2}")),
                    l.gflops.map_or("-".into(), |x| format!("{x:.2}")),
                    l.bound.clone().unwrap_or_else(|| "-".into()),
                    l.roof_fraction
                        .map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
                ]
            })
            .collect();
        let mut notes = Vec::new();
        if shown < order.len() {
            notes.push(format!(
                "{} more kernels (--all shows every one).",
                order.len() - shown
            ));
        }
        let fused = self.layers.iter().filter(|l| l.nodes.is_empty()).count();
        if fused > 0 {
            notes.push(format!(
                "{fused} kernel{} match{} no node by name (fusions and layout changes ONNX \
                 Runtime made); their FLOPs are not attributed.",
                if fused == 1 { "" } else { "s" },
                if fused == 1 { "es" } else { "" }
            ));
        }
        if !self.unmatched_nodes.is_empty() {
            let constant = self
                .unmatched_nodes
                .iter()
                .filter(|n| n.reason == "constant")
                .count();
            notes.push(format!(
                "{} counted nodes have no kernel of their own: {constant} constant (folded \
                 before the runs), {} fused or removed by ONNX Runtime.",
                self.unmatched_nodes.len(),
                self.unmatched_nodes.len() - constant
            ));
        }
        let layers = Section {
            title: format!("Slowest kernels ({shown} of {})", order.len()),
            header: [
                "#",
                "Layer",
                "Kernel op",
                "Time µs",
                "% time",
                "FLOPs",
                "FLOPs/byte",
                "GFLOPS",
                "Bound",
                "% of roof",
            ]
            .map(String::from)
            .to_vec(),
            rows: layer_rows,
            right: vec![0, 3, 4, 5, 6, 7, 9],
            notes,
            ..Section::default()
        };
        vec![summary, layers]
    }
}

/// The roofline: each kernel with FLOPs by intensity (x) and achieved GFLOPS (y), log scales,
/// with the machine's roofs when measured; the five slowest labelled.
pub fn render_roofline_svg(bench: &BenchReport) -> String {
    const W: f64 = 760.0;
    const H: f64 = 480.0;
    const L: f64 = 70.0;
    const R: f64 = 30.0;
    const T: f64 = 40.0;
    const B: f64 = 60.0;
    let points: Vec<&LayerTime> = bench
        .layers
        .iter()
        .filter(|l| l.intensity.is_some() && l.gflops.is_some())
        .collect();
    let xs = points.iter().filter_map(|l| l.intensity);
    let ys = points.iter().filter_map(|l| l.gflops);
    let (mut x_lo, mut x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (mut y_lo, mut y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if let Some(p) = &bench.peaks {
        x_lo = x_lo.min(p.ridge);
        x_hi = x_hi.max(p.ridge);
        y_hi = y_hi.max(p.gflops);
        y_lo = y_lo.min(p.gbps * x_lo);
    }
    if !x_lo.is_finite() {
        (x_lo, x_hi, y_lo, y_hi) = (0.1, 100.0, 0.1, 100.0);
    }
    // Whole decades around the data.
    let (x0, x1) = (
        x_lo.log10().floor(),
        x_hi.log10().ceil().max(x_lo.log10().floor() + 1.0),
    );
    let (y0, y1) = (
        y_lo.log10().floor(),
        y_hi.log10().ceil().max(y_lo.log10().floor() + 1.0),
    );
    let px = |x: f64| L + (x.log10() - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - (y.log10() - y0) / (y1 - y0) * (H - T - B);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" font-size=\"11\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>\n\
         <text x=\"{L}\" y=\"24\" font-size=\"14\" font-weight=\"600\" fill=\"#1f2937\">Roofline: achieved GFLOPS by arithmetic intensity, per kernel</text>"
    );
    // Grid and decade labels.
    for d in (x0 as i32)..=(x1 as i32) {
        let x = px(10f64.powi(d));
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{T}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>",
            H - B,
            H - B + 16.0,
            decade(d)
        );
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = py(10f64.powi(d));
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#4b5563\">{}</text>",
            W - R,
            L - 6.0,
            y + 4.0,
            decade(d)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#111827\">arithmetic intensity (FLOPs per byte)</text>\
         <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\" fill=\"#111827\">achieved GFLOPS</text>",
        (L + W - R) / 2.0,
        H - 18.0,
        (T + H - B) / 2.0,
        (T + H - B) / 2.0
    );
    if let Some(p) = &bench.peaks {
        let xa = 10f64.powf(x0);
        let xb = 10f64.powf(x1);
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"#dc2626\" stroke-width=\"2\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#dc2626\">roofs: {:.1} GFLOPS (GEMM), {:.1} GB/s (stream), ridge {:.1} FLOPs/byte</text>",
            px(xa),
            py((p.gbps * xa).max(10f64.powf(y0))),
            px(p.ridge),
            py(p.gflops),
            px(xb),
            py(p.gflops),
            L + 8.0,
            T + 14.0,
            p.gflops,
            p.gbps,
            p.ridge
        );
    }
    let mut slowest: Vec<&&LayerTime> = points.iter().collect();
    slowest.sort_by(|a, b| b.time_us.total_cmp(&a.time_us));
    let labelled: Vec<&str> = slowest.iter().take(5).map(|l| l.kernel.as_str()).collect();
    // (x, y, radius, text) of each labelled point, placed after every circle is drawn.
    let mut labels: Vec<(f64, f64, f64, String, f64)> = Vec::new();
    for l in &points {
        let (Some(i), Some(g)) = (l.intensity, l.gflops) else {
            continue;
        };
        let r = (2.0 + (l.share * 100.0).sqrt() * 2.0).min(14.0);
        let color = match l.bound.as_deref() {
            Some("memory") => "#2563eb",
            Some("compute") => "#d97706",
            _ => "#6b7280",
        };
        let name = l.nodes.first().unwrap_or(&l.kernel);
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\" fill=\"{color}\" fill-opacity=\"0.55\" stroke=\"{color}\">\
             <title>{}: {:.1} µs, {:.2} FLOPs/byte, {:.2} GFLOPS</title></circle>",
            px(i),
            py(g),
            esc(name),
            l.time_us,
            i,
            g
        );
        if labelled.contains(&l.kernel.as_str()) {
            labels.push((px(i), py(g), r, short(name), l.time_us));
        }
    }
    // Slowest first, each label beside its point or moved up or down until it overlaps no
    // label placed before it (then joined to its point by a line).
    labels.sort_by(|a, b| b.4.total_cmp(&a.4));
    let mut placed: Vec<[f64; 4]> = Vec::new();
    for (x, y, r, text, _) in &labels {
        let width = 7.0 * text.chars().count() as f64;
        let (left, base) = (x + r + 3.0, y + 4.0);
        let shifts = [0.0, 14.0, -14.0, 28.0, -28.0, 42.0, -42.0, 56.0, -56.0];
        let overlaps = |b: &[f64; 4]| {
            placed
                .iter()
                .any(|p| b[0] < p[2] && p[0] < b[2] && b[1] < p[3] && p[1] < b[3])
        };
        let boxed = |dy: f64| [left, base + dy - 11.0, left + width, base + dy + 3.0];
        let dy = shifts
            .iter()
            .copied()
            .find(|dy| !overlaps(&boxed(*dy)))
            .unwrap_or(0.0);
        placed.push(boxed(dy));
        if dy != 0.0 {
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9ca3af\" stroke-width=\"0.8\"/>",
                left - 1.0,
                base + dy - 4.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{left:.1}\" y=\"{:.1}\" fill=\"#111827\">{}</text>",
            base + dy,
            esc(text)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{L}\" y=\"{:.1}\" fill=\"#4b5563\">circle area ∝ share of time; blue memory-bound, amber compute-bound</text>",
        H - 4.0
    );
    s.push_str("</svg>\n");
    s
}

/// `10^d` as a short label.
fn decade(d: i32) -> String {
    match d {
        -3 => "0.001".into(),
        -2 => "0.01".into(),
        -1 => "0.1".into(),
        0 => "1".into(),
        1 => "10".into(),
        2 => "100".into(),
        3 => "1000".into(),
        _ => format!("1e{d}"),
    }
}

/// The last two segments of a `/`-separated name.
fn short(name: &str) -> String {
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [.., a, b] => format!("{a}/{b}"),
        _ => name.to_owned(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_statistics() {
        let l = Latency::of(&[5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!((l.min, l.max), (1.0, 10.0));
        assert_eq!(l.median, 5.5);
        assert_eq!(l.p90, 9.0);
        assert_eq!(l.mean, 5.5);
        assert!(l.min <= l.median && l.median <= l.p90);
    }

    #[test]
    fn kernel_names_onnx_runtime_makes() {
        assert_eq!(
            candidates("/a/Clip_output_0_nchwc"),
            ["/a/Clip_output_0_nchwc", "/a/Clip_output_0"]
        );
        assert_eq!(
            candidates("node_matmul/MatMulScaleFusion/"),
            ["node_matmul/MatMulScaleFusion/", "node_matmul"]
        );
        assert_eq!(
            candidates("GPT2Gelu_token_1"),
            ["GPT2Gelu_token_1", "GPT2Gelu"]
        );
        assert_eq!(bare("com.microsoft::FusedConv"), "FusedConv");
    }

    /// The boxes of the roofline's point labels: 7 px a character, 14 px high, at `<text>`.
    fn label_boxes(svg: &str) -> Vec<[f64; 4]> {
        svg.lines()
            .filter(|l| l.starts_with("<text x=") && l.contains("fill=\"#111827\">"))
            .filter(|l| !l.contains("text-anchor"))
            .map(|l| {
                let num = |key: &str| -> f64 {
                    let from = l.find(key).expect(key) + key.len();
                    l[from..].split('"').next().unwrap().parse().unwrap()
                };
                let text = l.split('>').nth(1).unwrap().split('<').next().unwrap();
                let (x, y) = (num("x=\""), num("y=\""));
                [x, y - 11.0, x + 7.0 * text.chars().count() as f64, y + 3.0]
            })
            .collect()
    }

    #[test]
    fn roofline_labels_do_not_overlap() {
        // Five slow kernels at almost the same intensity and speed: their labels once sat on
        // top of each other.
        let layer = |i: usize| {
            serde_json::json!({
                "kernel": format!("k{i}"), "op": "Conv", "provider": "CPUExecutionProvider",
                "nodes": [format!("/features/features.{i}/conv/Conv")],
                "time_us": 100.0 + i as f64, "share": 0.1, "flops": 1_000_000, "bytes": 100_000,
                "intensity": 10.0 + 0.01 * i as f64, "gflops": 50.0 + 0.01 * i as f64,
                "bound": null, "roof_fraction": null
            })
        };
        let bench: BenchReport = serde_json::from_value(serde_json::json!({
            "runtime": {"name": "onnxruntime", "provider": "cpu", "threads": null,
                        "optimization": "all", "synthesized_weights": [],
                        "profiler_overhead_us": 2.0},
            "warmup": 1, "runs": 2, "profiled_runs": 1,
            "latency_ms": {"min": 1.0, "median": 1.0, "p90": 1.0, "mean": 1.0, "max": 1.0},
            "throughput": {"inferences_per_s": 1000.0, "batch": 1, "samples_per_s": 1000.0},
            "achieved_gflops": 10.0, "kernel_time_us": 600.0, "profiled_run_us": 700.0,
            "layers": (0..6).map(layer).collect::<Vec<_>>(), "unmatched_nodes": []
        }))
        .expect("a bench report");
        let boxes = label_boxes(&render_roofline_svg(&bench));
        assert_eq!(boxes.len(), 5, "the five slowest are labelled");
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
                assert!(!overlap, "{a:?} and {b:?} overlap");
            }
        }
    }
}
