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
//! - its params are compared with `sum(p.numel())` of the exported module, and a difference
//!   is accounted for tensor by tensor from the script's ledger (see [`explain`]).
//!
//! The corpus is not committed and not run in CI (PyTorch is large); its failures became
//! fixtures under `fixtures/exports/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flopscope::counters::{ProfileOptions, Weight, WeightClass};
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
    /// Whether the params' difference from PyTorch's is explained, and the terms it is made
    /// of (`None` without a ledger).
    why: Option<(bool, String)>,
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
            match &o.why {
                None => "no ledger".to_owned(),
                Some((true, why)) => why.clone(),
                Some((false, why)) => format!("NOT EXPLAINED: {why}"),
            },
        );
    }
    let cases: usize = outcomes.iter().map(|o| o.sizes).sum();
    let cases_ok: usize = outcomes.iter().map(|o| o.sizes_ok).sum();
    let count = |s: &str| outcomes.iter().filter(|o| o.symbolic == s).count();
    let params_equal = outcomes
        .iter()
        .filter(|o| o.params.is_some() && o.params == o.torch_params)
        .count();
    let params_explained = outcomes
        .iter()
        .filter(|o| matches!(o.why, Some((true, _))))
        .count()
        - params_equal;
    let _ = writeln!(
        out,
        "\n{} models ({} exports failed), {cases_ok} of {cases} model-cases profiled with every \
         value's shape and the dense MACs equal to ONNX Runtime's; symbolic: {} formulas equal \
         the concrete profiles at both sizes, {} name derived dims, {} name sizes known only at \
         run time, {} failed; params equal to PyTorch's for {params_equal}, the difference explained tensor by tensor for {params_explained}; {:.0} s",
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
    let ledger: Option<Value> = entry["ledger"]
        .as_str()
        .and_then(|l| std::fs::read_to_string(dir.join(l)).ok())
        .and_then(|text| serde_json::from_str(&text).ok());
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
                if let (Some(ledger), Some(torch)) = (&ledger, o.torch_params) {
                    o.why = Some(explain(ledger, &p.weights, torch));
                }
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

/// Accounts for the difference between flopscope's params and PyTorch's `sum(p.numel())`,
/// tensor by tensor, from the export script's ledger (which parameter each stored tensor
/// holds, which parameters no tensor holds) and the class flopscope gave each weight.
///
/// The terms add up to the difference by construction: parameters no stored tensor holds
/// (BatchNorm folded into the convolution before it; unused by the forward pass; rewritten,
/// paired with a tensor the exporter made of the same size), tensors the exporter made and
/// flopscope counts as params (a folded bias, a gathered table), a parameter stored twice, and
/// parameters flopscope does not count as params. The difference is explained when that
/// last term is zero: every parameter the export holds and reads is counted as one.
fn explain(ledger: &Value, weights: &[Weight], torch_params: i64) -> (bool, String) {
    let class: BTreeMap<&str, (WeightClass, i64)> = weights
        .iter()
        .filter_map(|w| Some((w.name.as_str(), (w.class, w.elements.as_i64()?))))
        .collect();
    // Each parameter some stored tensor holds: its elements, and whether a holder is a param.
    let mut held: BTreeMap<&str, (i64, bool)> = BTreeMap::new();
    let mut twice = 0;
    let mut made: Vec<i64> = Vec::new();
    let mut in_ledger = std::collections::BTreeSet::new();
    for t in ledger["stored"].as_array().into_iter().flatten() {
        let name = t["name"].as_str().unwrap_or_default();
        in_ledger.insert(name);
        let counted = class.get(name).filter(|(c, _)| *c == WeightClass::Param);
        let elements = t["elements"].as_i64().unwrap_or(0);
        match (t["param"].as_str(), counted) {
            (Some(param), Some((_, n))) => {
                let entry = held.entry(param).or_insert((elements, false));
                if entry.1 {
                    twice += n;
                }
                entry.1 = true;
            }
            (Some(param), None) => {
                held.entry(param).or_insert((elements, false));
            }
            (None, Some((_, n))) => made.push(*n),
            (None, None) => {}
        }
    }
    // Weights made by nodes in the graph (ConstantOfShape), not stored.
    made.extend(
        weights
            .iter()
            .filter(|w| w.class == WeightClass::Param && !in_ledger.contains(w.name.as_str()))
            .filter_map(|w| w.elements.as_i64()),
    );
    // A one-element parameter (CLIP's logit_scale) cannot be told from a scalar constant in a
    // graph: flopscope counts it as a constant, by rule (docs/counting.md).
    let scalars: i64 = held
        .values()
        .filter(|(n, counted)| !counted && *n == 1)
        .map(|(n, _)| n)
        .sum();
    let not_counted: i64 = held
        .values()
        .filter(|(n, counted)| !counted && *n != 1)
        .map(|(n, _)| n)
        .sum();
    let uncounted_names: Vec<&str> = held
        .iter()
        .filter(|(_, (n, counted))| !counted && *n != 1)
        .map(|(name, _)| *name)
        .collect();
    let (mut batchnorm, mut unused, mut rewritten, mut dropped) = (0, 0, 0, 0);
    for m in ledger["missing"].as_array().into_iter().flatten() {
        let n = m["elements"].as_i64().unwrap_or(0);
        if m["module"]
            .as_str()
            .is_some_and(|c| c.contains("BatchNorm"))
        {
            batchnorm += n;
        } else if m["unused"].as_bool() == Some(true) {
            unused += n;
        } else if let Some(i) = made.iter().position(|&k| k == n) {
            // Rewritten: a made tensor of its size holds it now (a BatchNorm folded in).
            made.swap_remove(i);
            rewritten += n;
        } else {
            dropped += n;
        }
    }
    let made: i64 = made.iter().sum();
    let terms = [
        ("BatchNorm folded", -batchnorm),
        ("unused by the forward pass", -unused),
        ("folded into other tensors", -dropped),
        ("made by the exporter", made),
        ("stored twice", twice),
        ("one-element params counted as constants", -scalars),
        ("NOT COUNTED AS PARAMS", -not_counted),
    ];
    let mut why: Vec<String> = terms
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(what, n)| format!("{what} {n:+}"))
        .collect();
    if rewritten > 0 {
        why.push(format!("rewritten {rewritten}"));
    }
    if !uncounted_names.is_empty() {
        let shown: Vec<&str> = uncounted_names.iter().take(4).copied().collect();
        let more = uncounted_names.len() - shown.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        why.push(format!("not counted: {}{more}", shown.join(", ")));
    }
    let sum: i64 = terms.iter().map(|(_, n)| n).sum();
    let flopscope: i64 = weights
        .iter()
        .filter(|w| w.class == WeightClass::Param)
        .filter_map(|w| w.elements.as_i64())
        .sum();
    if flopscope - torch_params != sum {
        why.push(format!(
            "the ledger accounts for {sum:+}, the difference is {:+}",
            flopscope - torch_params
        ));
        return (false, why.join(", "));
    }
    if why.is_empty() {
        return (true, "equal".into());
    }
    (not_counted == 0, why.join(", "))
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

/// The arguments of `cargo xtask corpus`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the models and manifest.json go.
    #[arg(long, default_value = "target/corpus")]
    pub(crate) dir: std::path::PathBuf,
    /// The Python that has torch.
    #[arg(long, default_value = "python3")]
    pub(crate) python: String,
    /// Only the models whose name contains this.
    #[arg(long)]
    pub(crate) only: Option<String>,
    /// Check the models already in DIR without exporting again.
    #[arg(long)]
    pub(crate) skip_export: bool,
}

/// `cargo xtask corpus`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        dir,
        python,
        only,
        skip_export,
    } = args;
    crate::corpus::run(&dir, &python, only.as_deref(), skip_export)
}
