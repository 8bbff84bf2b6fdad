//! `cargo xtask corpus`: a wide corpus of real exports, profiled and checked against ONNX
//! Runtime and PyTorch.
//!
//! `xtask/corpus/export_corpus.py` (Python with torch, torchvision and transformers; random
//! weights, nothing downloaded) exports the architectures and writes `manifest.json`: each
//! entry's file, inputs with their declared dims, two input sizes and PyTorch's parameter
//! and buffer counts. Then every entry is checked at both sizes:
//! - it profiles, and every value's shape equals ONNX Runtime's (`verify-shapes`), and the
//!   MACs of its dense ops equal a hand count from ONNX Runtime's shapes;
//! - profiled with its dims left symbolic it does not abort, and its MACs formula evaluated at
//!   each size equals the concrete profile (formulas that name derived dims, or sizes known
//!   only at run time, are counted apart);
//! - its params are compared with `sum(p.numel())` of the exported module (a difference is
//!   listed, to be explained: an unused parameter the export dropped, identical tensors the
//!   exporter stored once, a folded BatchNorm).
//!
//! The corpus is not committed and not run in CI (PyTorch is large); its failures became
//! fixtures under `fixtures/exports/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flopscope::counters::ProfileOptions;
use flopscope::ir::{Dim, ValueType};
use flopscope_ort::Runtime;
use serde_json::Value;

use crate::verify::verify;

/// How one entry fared.
#[derive(Debug, Default)]
struct Outcome {
    name: String,
    /// Sizes profiled and agreeing with ONNX Runtime on every value and the dense MACs.
    sizes_ok: usize,
    sizes: usize,
    values: usize,
    /// The symbolic profile: `ok`, `derived` (its formula names derived dims), `run-time`
    /// (sizes known only at run time), or the reason it failed.
    symbolic: String,
    params: Option<i64>,
    torch_params: Option<i64>,
    /// Why the params differ from PyTorch's, when the known reasons add up to the difference.
    explained: Option<String>,
    failures: Vec<String>,
}

pub(crate) fn run(dir: &Path, python: &str, only: Option<&str>, skip_export: bool) -> Result<()> {
    let started = Instant::now();
    if !skip_export {
        let script = crate::workspace_root().join("xtask/corpus/export_corpus.py");
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg(dir);
        if let Some(only) = only {
            cmd.args(["--only", only]);
        }
        let status = cmd.status().with_context(|| {
            format!("cannot run {python} (set --python to a Python with torch, torchvision, transformers, onnx and onnxscript)")
        })?;
        if !status.success() {
            bail!("{} failed ({status})", script.display());
        }
    }
    let manifest_path = dir.join("manifest.json");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("cannot read {}", manifest_path.display()))?,
    )
    .with_context(|| format!("{}", manifest_path.display()))?;
    let runtime = Runtime::load()?;
    let mut outcomes = Vec::new();
    let mut export_errors = Vec::new();
    for entry in manifest["models"]
        .as_array()
        .context("manifest: no `models`")?
    {
        let name = entry["name"].as_str().unwrap_or("?").to_owned();
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        if let Some(e) = entry["error"].as_str() {
            export_errors.push(format!("{name}: {e}"));
            continue;
        }
        outcomes.push(check(runtime, dir, &name, entry));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "| model | sizes agreeing with ONNX Runtime | values | symbolic | params | torch params | Δ | why |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let delta = match (o.params, o.torch_params) {
            (Some(a), Some(b)) => (a - b).to_string(),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {}/{} | {} | {} | {} | {} | {delta} | {} |",
            o.name,
            o.sizes_ok,
            o.sizes,
            o.values,
            o.symbolic,
            o.params.map_or("-".into(), |p| p.to_string()),
            o.torch_params.map_or("-".into(), |p| p.to_string()),
            o.explained.as_deref().unwrap_or("not explained"),
        );
    }
    let cases: usize = outcomes.iter().map(|o| o.sizes).sum();
    let cases_ok: usize = outcomes.iter().map(|o| o.sizes_ok).sum();
    let count = |s: &str| outcomes.iter().filter(|o| o.symbolic == s).count();
    let params_equal = outcomes
        .iter()
        .filter(|o| o.params.is_some() && o.params == o.torch_params)
        .count();
    let params_explained = outcomes.iter().filter(|o| o.explained.is_some()).count() - params_equal;
    let _ = writeln!(
        out,
        "\n{} models ({} exports failed), {cases_ok} of {cases} model-cases profiled with every \
         value's shape and the dense MACs equal to ONNX Runtime's; symbolic: {} formulas equal \
         the concrete profiles at both sizes, {} name derived dims, {} name sizes known only at \
         run time, {} failed; params equal to PyTorch's for {params_equal}, the difference explained by the counts of the exported module for {params_explained}; {:.0} s",
        outcomes.len(),
        export_errors.len(),
        count("ok"),
        count("derived"),
        count("run-time"),
        outcomes.len() - count("ok") - count("derived") - count("run-time"),
        started.elapsed().as_secs_f64()
    );
    for o in &outcomes {
        for f in &o.failures {
            let _ = writeln!(out, "FAIL {}: {f}", o.name);
        }
    }
    for e in &export_errors {
        let _ = writeln!(out, "EXPORT {e}");
    }
    print!("{out}");
    let report = dir.join("corpus-report.md");
    std::fs::write(&report, &out).with_context(|| format!("cannot write {}", report.display()))?;
    println!("wrote {}", report.display());
    let failed = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    if failed > 0 {
        bail!("{failed} models failed a check");
    }
    Ok(())
}

fn check(runtime: &Runtime, dir: &Path, name: &str, entry: &Value) -> Outcome {
    let mut o = Outcome {
        name: name.to_owned(),
        torch_params: entry["torch_params"].as_i64(),
        ..Outcome::default()
    };
    let file: PathBuf = dir.join(entry["file"].as_str().unwrap_or_default());
    let sizes: Vec<BTreeMap<String, Vec<i64>>> = entry["sizes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| serde_json::from_value(s.clone()).ok())
        .collect();
    o.sizes = sizes.len();
    let mut concrete_macs = Vec::new();
    for size in &sizes {
        match verify(runtime, &file, size) {
            Ok(v) if v.mismatches.is_empty() => {
                o.sizes_ok += 1;
                o.values += v.values;
            }
            Ok(v) => o.failures.push(format!(
                "{size:?}: {} mismatches, first {}",
                v.mismatches.len(),
                v.mismatches[0]
            )),
            Err(e) => o.failures.push(format!("{size:?}: {e:#}")),
        }
        let mut options = ProfileOptions::default();
        for (input, dims) in size {
            options.inputs.insert(
                input.clone(),
                dims.iter().map(|&d| Dim::from_i64(d)).collect(),
            );
        }
        match flopscope::profile_file(&file, &options) {
            Ok((_, p)) => {
                o.params = p.totals.params.as_i64();
                concrete_macs.push(p.totals.macs.clone());
                // BatchNormalization nodes the exporter kept: their scale and bias are there.
                let kept: i64 = p
                    .nodes
                    .iter()
                    .filter(|n| n.op_type == "BatchNormalization")
                    .filter_map(|n| n.params.as_i64())
                    .sum();
                o.explained = explain(entry, o.params, kept);
            }
            Err(e) => o.failures.push(format!("{size:?}: {e}")),
        }
    }
    o.symbolic = match flopscope::profile_file(&file, &ProfileOptions::default()) {
        Err(e) => {
            o.failures.push(format!("symbolic: {e}"));
            "error".into()
        }
        Ok((_, symbolic)) => {
            let derived: Vec<String> = symbolic
                .nodes
                .iter()
                .flat_map(|n| n.derived_dims.iter().map(|(s, _)| s.clone()))
                .collect();
            let mut verdict = "ok".to_owned();
            for (size, macs) in sizes.iter().zip(&concrete_macs) {
                let bindings = bind(&symbolic.inputs, size);
                let lookup = |s: &str| bindings.get(s).copied();
                let value = symbolic.totals.macs.eval(&lookup).ok();
                let names = symbolic.totals.macs.symbols();
                if names.iter().any(|s| derived.iter().any(|d| **d == **s)) {
                    verdict = "derived".into();
                } else if value.is_none() {
                    verdict = "run-time".into();
                } else if value != macs.as_i64() && macs.is_const() {
                    o.failures.push(format!(
                        "{size:?}: the MACs formula gives {value:?}, the concrete profile {macs}"
                    ));
                    verdict = "differs".into();
                }
            }
            verdict
        }
    };
    o
}

/// The reasons, from the manifest's counts of the exported module, that add up to the
/// difference between flopscope's params and PyTorch's: BatchNorm scales and biases folded
/// into the convolutions before them (less those of BatchNormalization nodes still in the
/// graph, `bn_kept`), parameters the forward pass never uses, identical tensors the exporter
/// stored once.
fn explain(entry: &Value, params: Option<i64>, bn_kept: i64) -> Option<String> {
    let delta = params? - entry["torch_params"].as_i64()?;
    if delta == 0 {
        return Some("equal".into());
    }
    let count = |k: &str| entry[k].as_i64().unwrap_or(0);
    let reasons = [
        ("BatchNorm folded", count("batchnorm_params") - bn_kept),
        ("unused", count("unused_params")),
        ("stored once", count("duplicate_params")),
    ];
    // Every subset of the reasons.
    for mask in 1..(1u32 << reasons.len()) {
        let chosen: Vec<&(&str, i64)> = reasons
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| r)
            .collect();
        if chosen.iter().any(|(_, n)| *n == 0) {
            continue;
        }
        if -chosen.iter().map(|(_, n)| n).sum::<i64>() == delta {
            return Some(
                chosen
                    .iter()
                    .map(|(why, n)| format!("{why} −{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    None
}

/// Binds each symbol an input's shape is made of (the model's dim names, the fresh names of
/// its unnamed dims) to the size given for it.
fn bind(
    inputs: &[(String, ValueType)],
    size: &BTreeMap<String, Vec<i64>>,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (name, ty) in inputs {
        let (Some(ValueType::Tensor(t)), Some(dims)) = (Some(ty), size.get(name)) else {
            continue;
        };
        for (d, &v) in t.shape.iter().zip(dims) {
            if let [s] = d.symbols().as_slice()
                && *d == Dim::sym(s)
            {
                out.insert(s.to_string(), v);
            }
        }
    }
    out
}
