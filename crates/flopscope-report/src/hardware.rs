//! Hardware presets and roofline time estimates.
//!
//! A [`Hardware`] is a machine's peak throughput per element type, memory bandwidth and
//! capacity: a shipped preset (`data/hardware.toml`, every figure with its public source), a
//! user's TOML file of the same format, or this machine as `flopscope bench --calibrate`
//! measured it. The estimate of a node is the roofline's:
//! `time = max(FLOPs / peak, bytes / bandwidth)`, with the peak of the element type its MACs run
//! in (a contraction) or the fp32 rate (any other arithmetic); it is *compute-bound* when the
//! first term is the larger. Totals sum the nodes. Every figure is an estimate from the
//! roofline, never a measurement: no kernel reaches its peak, and launches, caches and fusion
//! are not modelled.

use std::collections::BTreeMap;

use flopscope_ir::Dim;
use serde::{Deserialize, Serialize};

use crate::model::{NodeReport, Report};

/// The shipped presets.
const PRESETS: &str = include_str!("../data/hardware.toml");

/// The name of the preset made from `bench --calibrate`'s measurements.
pub const THIS_MACHINE: &str = "this-machine";

/// A machine for roofline estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    pub name: String,
    pub label: String,
    /// Peak operations per second by element type (`fp32`, `tf32`, `fp16`, `bf16`, `fp8`,
    /// `int8`).
    pub peak_flops_per_s: BTreeMap<String, f64>,
    pub bandwidth_bytes_per_s: f64,
    pub memory_bytes: f64,
    /// Where the figures come from.
    pub source: String,
}

/// One `[[hardware]]` entry as written in TOML (units people read: TFLOPS, GB/s, GB).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    label: String,
    peak_tflops: BTreeMap<String, f64>,
    bandwidth_gb_s: f64,
    memory_gb: f64,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    hardware: Vec<Entry>,
}

/// Element types a peak may be given for.
pub const DTYPES: [&str; 6] = ["fp32", "tf32", "fp16", "bf16", "fp8", "int8"];

/// Why a hardware description could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HardwareError {
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("unknown hardware `{name}` (known: {known}; or a TOML file of the same format)")]
    Unknown { name: String, known: String },
    #[error("the estimate needs every dim bound: `{0}` is free (give it with --input or --dim)")]
    Unbound(String),
}

impl Hardware {
    /// Every preset, in the file's order.
    pub fn presets() -> Vec<Hardware> {
        // The shipped file is checked by a test; a broken one is a build defect.
        Hardware::from_toml(PRESETS, "data/hardware.toml").unwrap_or_default()
    }

    /// The preset named `name`.
    pub fn preset(name: &str) -> Result<Hardware, HardwareError> {
        let all = Hardware::presets();
        all.iter()
            .find(|h| h.name == name)
            .cloned()
            .ok_or_else(|| HardwareError::Unknown {
                name: name.to_owned(),
                known: all
                    .iter()
                    .map(|h| h.name.as_str())
                    .chain([THIS_MACHINE])
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every `[[hardware]]` entry of a TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Vec<Hardware>, HardwareError> {
        let invalid = |reason: String| HardwareError::Invalid {
            origin: origin.to_owned(),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut out = Vec::new();
        for e in file.hardware {
            if let Some(k) = e.peak_tflops.keys().find(|k| !DTYPES.contains(&k.as_str())) {
                return Err(invalid(format!(
                    "{}: unknown element type `{k}` in peak_tflops (known: {})",
                    e.name,
                    DTYPES.join(", ")
                )));
            }
            if !e.peak_tflops.contains_key("fp32") {
                return Err(invalid(format!(
                    "{}: peak_tflops needs fp32 (the rate of every op without a faster unit)",
                    e.name
                )));
            }
            let positive = e.peak_tflops.values().all(|v| v.is_finite() && *v > 0.0)
                && e.bandwidth_gb_s.is_finite()
                && e.bandwidth_gb_s > 0.0
                && e.memory_gb.is_finite()
                && e.memory_gb > 0.0;
            if !positive {
                return Err(invalid(format!(
                    "{}: every peak, the bandwidth and the memory must be positive numbers",
                    e.name
                )));
            }
            out.push(Hardware {
                name: e.name,
                label: e.label,
                peak_flops_per_s: e
                    .peak_tflops
                    .into_iter()
                    .map(|(k, v)| (k, v * 1e12))
                    .collect(),
                bandwidth_bytes_per_s: e.bandwidth_gb_s * 1e9,
                memory_bytes: e.memory_gb * 1e9,
                source: e.source,
            });
        }
        if out.is_empty() {
            return Err(invalid("no [[hardware]] entry".into()));
        }
        Ok(out)
    }

    /// This machine from `bench --calibrate`'s peaks: the float GEMM's rate for every element
    /// type, the streaming Add's bandwidth.
    pub fn this_machine(gflops: f64, gbps: f64, memory_bytes: f64, method: &str) -> Hardware {
        Hardware {
            name: THIS_MACHINE.into(),
            label: "this machine (measured by flopscope bench --calibrate)".into(),
            peak_flops_per_s: BTreeMap::from([("fp32".to_owned(), gflops * 1e9)]),
            bandwidth_bytes_per_s: gbps * 1e9,
            memory_bytes,
            source: method.to_owned(),
        }
    }

    /// The peak for a node: its MACs' element type for a contraction (fp32 when the machine
    /// has no faster rate for it), fp32 for any other arithmetic.
    pub fn peak_for(&self, node: &NodeReport) -> (String, f64) {
        let fp32 = self.peak_flops_per_s.get("fp32").copied().unwrap_or(0.0);
        let key = match (node.macs != Dim::zero(), node.macs_dtype.as_deref()) {
            (true, Some("float16")) => "fp16",
            (true, Some("bfloat16")) => "bf16",
            (true, Some("int8" | "uint8")) => "int8",
            (true, Some(d)) if d.starts_with("float8") => "fp8",
            _ => "fp32",
        };
        match self.peak_flops_per_s.get(key) {
            Some(&p) => (key.to_owned(), p),
            None => ("fp32".to_owned(), fp32),
        }
    }

    /// The roofline estimate of one pass with FLOPs `flops` and memory traffic `bytes` at `peak`.
    pub fn roofline(&self, flops: f64, bytes: f64, peak: f64) -> Estimate {
        let compute_s = if peak > 0.0 { flops / peak } else { 0.0 };
        let memory_s = bytes / self.bandwidth_bytes_per_s;
        Estimate {
            time_s: compute_s.max(memory_s),
            bound: if compute_s >= memory_s {
                Bound::Compute
            } else {
                Bound::Memory
            },
        }
    }

    /// The estimate of a node with its FLOPs and bytes evaluated (by `value`).
    pub fn node_estimate(
        &self,
        node: &NodeReport,
        value: &dyn Fn(&Dim) -> Option<f64>,
    ) -> Option<Estimate> {
        let (_, peak) = self.peak_for(node);
        Some(self.roofline(value(&node.flops)?, value(&node.bytes)?, peak))
    }
}

/// The roofline time of one pass: the sum of the estimates of its counted nodes that run (a
/// constant node is folded before the model runs), their formulas evaluated by `lookup`.
/// `Err` names a dim `lookup` does not bind.
pub fn pass_time(
    nodes: &[NodeReport],
    hardware: &Hardware,
    lookup: &dyn Fn(&str) -> Option<i64>,
) -> Result<f64, String> {
    running(nodes).try_fold(0.0, |total, n| {
        Ok(total + estimate_at(n, hardware, lookup)?.time_s)
    })
}

/// The nodes that run: counted, and not folded before the model runs (constants).
fn running(nodes: &[NodeReport]) -> impl Iterator<Item = &NodeReport> {
    nodes.iter().filter(|n| n.counted && !n.constant)
}

/// A node's estimate with its formulas evaluated by `lookup`; `Err` names a dim it leaves
/// free.
fn estimate_at(
    n: &NodeReport,
    hardware: &Hardware,
    lookup: &dyn Fn(&str) -> Option<i64>,
) -> Result<Estimate, String> {
    let value = |d: &Dim| -> Option<f64> { d.eval(lookup).ok().map(|v| v as f64) };
    hardware.node_estimate(n, &value).ok_or_else(|| {
        n.flops
            .symbols()
            .into_iter()
            .chain(n.bytes.symbols())
            .find(|s| lookup(s).is_none())
            .map_or_else(|| n.name.clone(), |s| s.to_string())
    })
}

/// Which roof limits a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Compute,
    Memory,
}

/// A roofline estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Seconds: max(FLOPs / peak, bytes / bandwidth).
    pub time_s: f64,
    pub bound: Bound,
}

/// The machine a report's times are estimated for, and the model's estimated time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardwareReport {
    #[serde(flatten)]
    pub hardware: Hardware,
    /// The sum of the nodes' estimates, seconds.
    pub time_s: f64,
    pub compute_bound_nodes: usize,
    pub memory_bound_nodes: usize,
    /// Says that these are roofline estimates, not measurements.
    pub note: String,
}

/// What every estimate is.
pub const ESTIMATE_NOTE: &str = "estimated from the roofline (max of FLOPs / peak and bytes / \
     bandwidth per node, at the vendor's peak), not measured";

impl Report {
    /// The report with every counted node's estimated time on `hardware` and their total.
    /// Every dim must be bound.
    pub fn with_hardware(mut self, hardware: Hardware) -> Result<Report, HardwareError> {
        let mut time_s = 0.0;
        let (mut compute, mut memory) = (0, 0);
        for node in &mut self.nodes {
            if !node.counted || node.constant {
                continue;
            }
            let e = estimate_at(node, &hardware, &|_| None).map_err(HardwareError::Unbound)?;
            time_s += e.time_s;
            match e.bound {
                Bound::Compute => compute += 1,
                Bound::Memory => memory += 1,
            }
            node.estimate = Some(e);
        }
        self.hardware = Some(HardwareReport {
            hardware,
            time_s,
            compute_bound_nodes: compute,
            memory_bound_nodes: memory,
            note: ESTIMATE_NOTE.into(),
        });
        Ok(self)
    }
}

/// The roofline of a report with estimates: every counted node by its arithmetic intensity
/// (FLOPs per byte, x) and the rate it would reach (FLOPs / estimated time, y), both on log
/// scales, under the machine's roofs (bandwidth × intensity, capped by each peak it has).
pub fn render_roofline_svg(report: &Report) -> String {
    use std::fmt::Write as _;
    let (w, h, left, right, top, bottom) = (760.0, 440.0, 80.0, 150.0, 40.0, 50.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let Some(hw) = &report.hardware else {
        svg.push_str("<text x=\"20\" y=\"30\">no hardware: profile with --hardware</text></svg>\n");
        return svg;
    };
    let hw_ = &hw.hardware;
    let points: Vec<(f64, f64, Bound)> = report
        .nodes
        .iter()
        .filter_map(|n| {
            let e = n.estimate?;
            let flops = n.flops.as_i64()? as f64;
            let bytes = n.bytes.as_i64()? as f64;
            (flops > 0.0 && bytes > 0.0 && e.time_s > 0.0).then_some((
                flops / bytes,
                flops / e.time_s,
                e.bound,
            ))
        })
        .collect();
    let peak_max = hw_.peak_flops_per_s.values().copied().fold(0.0, f64::max);
    let (x_lo, x_hi) = (1e-2_f64, 1e4_f64);
    let y_hi = peak_max * 2.0;
    let y_lo = (hw_.bandwidth_bytes_per_s * x_lo)
        .min(points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min))
        / 2.0;
    let (x0, x1, y0, y1) = (left, w - right, h - bottom, top);
    let x = |v: f64| {
        x0 + (v.max(x_lo).log10() - x_lo.log10()) / (x_hi.log10() - x_lo.log10()) * (x1 - x0)
    };
    let y = |v: f64| {
        y0 - (v.max(y_lo).log10() - y_lo.log10()) / (y_hi.log10() - y_lo.log10()) * (y0 - y1)
    };
    let _ = writeln!(
        svg,
        "<text x=\"{left}\" y=\"22\" font-size=\"14\">Roofline on {} (estimate, not measured)</text>",
        xml(&hw_.label)
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"black\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>"
    );
    let mut peaks: Vec<(&String, &f64)> = hw_.peak_flops_per_s.iter().collect();
    peaks.sort_by(|a, b| a.1.total_cmp(b.1));
    peaks.dedup_by(|a, b| a.1 == b.1);
    for &(name, &peak) in &peaks {
        let ridge = peak / hw_.bandwidth_bytes_per_s;
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"#888\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{name} {:.1} TFLOP/s</text>",
            x(x_lo),
            y(hw_.bandwidth_bytes_per_s * x_lo),
            x(ridge),
            y(peak),
            x(x_hi),
            y(peak),
            x1 + 4.0,
            y(peak) + 4.0,
            peak / 1e12
        );
    }
    for (i, f, bound) in &points {
        let colour = match bound {
            Bound::Compute => "#1f77b4",
            Bound::Memory => "#ff7f0e",
        };
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\" fill-opacity=\"0.6\"/>",
            x(*i),
            y(*f)
        );
    }
    for (v, label) in [(1e-2, "0.01"), (1.0, "1"), (1e2, "100"), (1e4, "10⁴")] {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            x(v),
            y0 + 16.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">FLOPs per byte (blue: compute-bound, orange: memory-bound; {} GB/s)</text>",
        (x0 + x1) / 2.0,
        h - 12.0,
        (hw_.bandwidth_bytes_per_s / 1e9).round()
    );
    svg.push_str("</svg>\n");
    svg
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Seconds as text: `1.23 ms`, `45.6 µs`, `2.10 s`.
pub fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_with_a_source() {
        let all = Hardware::from_toml(PRESETS, "data/hardware.toml").expect("presets parse");
        let names: Vec<&str> = all.iter().map(|h| h.name.as_str()).collect();
        for name in [
            "h100-sxm",
            "h200",
            "a100-80gb",
            "l4",
            "rtx-4090",
            "mi300x",
            "apple-m1-max",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(all.iter().all(|h| !h.source.is_empty()));
        let h100 = Hardware::preset("h100-sxm").expect("h100");
        assert_eq!(h100.peak_flops_per_s["bf16"], 989.4e12);
        assert_eq!(h100.bandwidth_bytes_per_s, 3.35e12);
        assert!(Hardware::preset("tpu").is_err());
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        let bad = "[[hardware]]\nname = \"x\"\nlabel = \"x\"\npeak_tflops = { fp64 = 1.0 }\n\
                   bandwidth_gb_s = 1.0\nmemory_gb = 1.0\nsource = \"me\"\n";
        let e = Hardware::from_toml(bad, "x.toml").unwrap_err().to_string();
        assert!(e.contains("fp64"), "{e}");
        let no_fp32 = bad.replace("fp64", "fp16");
        let e = Hardware::from_toml(&no_fp32, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fp32"), "{e}");
    }

    #[test]
    fn the_roofline_takes_the_larger_time() {
        let h = Hardware::this_machine(100.0, 10.0, 1e9, "test");
        // 1 GFLOP at 100 GFLOP/s: 10 ms; 50 MB at 10 GB/s: 5 ms.
        let e = h.roofline(1e9, 5e7, 100e9);
        assert_eq!(e.bound, Bound::Compute);
        assert!((e.time_s - 0.01).abs() < 1e-12);
        let e = h.roofline(1e6, 5e7, 100e9);
        assert_eq!(e.bound, Bound::Memory);
        assert!((e.time_s - 0.005).abs() < 1e-12);
    }
}
