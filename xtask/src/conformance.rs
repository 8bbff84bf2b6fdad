//! `cargo xtask conformance DIR`: shape inference against ONNX's own operator test cases.
//!
//! Each case folder holds `model.onnx` and `test_data_set_0/{input_N,output_N}.pb`. Every graph
//! input is bound to its stored value (shape, and elements for small tensors), the model is
//! profiled, and each output's inferred type must equal the stored output's dtype and dims.
//! The cases that fail are compared with a committed list, which may only shrink: a new
//! failure, or a listed case that now passes, fails the run (`--update` rewrites the list when
//! it only shrinks).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flopscope::counters::ProfileOptions;
use flopscope::ir::{
    ConstValue, DType, DeclaredType, Dim, Elements, Model, SequenceType, TensorValue, ValueType,
};
use flopscope::onnx::ValueKind;

/// The committed list of failing cases, relative to the workspace root.
const KNOWN_FAILURES: &str = "tests/conformance/known-failures.txt";

#[derive(Debug)]
struct Outcome {
    case: String,
    /// Op types of the case's main graph.
    ops: Vec<String>,
    /// `None` when every output matches.
    failure: Option<String>,
    panicked: bool,
}

pub(crate) fn run(dir: &Path, filter: Option<&str>, update: bool, verbose: bool) -> Result<()> {
    let started = Instant::now();
    let cases = case_dirs(dir, filter)?;
    if cases.is_empty() {
        bail!("no case folders with a model.onnx under {}", dir.display());
    }
    let outcomes: Vec<Outcome> = cases.iter().map(|c| run_case(c)).collect();
    let elapsed = started.elapsed();

    print_per_op(&outcomes, verbose);
    let failed: BTreeMap<&str, &str> = outcomes
        .iter()
        .filter_map(|o| Some((o.case.as_str(), o.failure.as_deref()?)))
        .collect();
    let passed = outcomes.len() - failed.len();
    let rate = passed as f64 * 100.0 / outcomes.len() as f64;
    println!(
        "\n{passed} of {} cases give the expected output types ({rate:.2}%), {} fail; {:.2} s",
        outcomes.len(),
        failed.len(),
        elapsed.as_secs_f64()
    );

    let panicked: Vec<&Outcome> = outcomes.iter().filter(|o| o.panicked).collect();
    for o in &panicked {
        println!("PANIC {}: {}", o.case, o.failure.as_deref().unwrap_or(""));
    }

    let list_path = crate::workspace_root().join(KNOWN_FAILURES);
    let known = read_known(&list_path)?;
    // With a filter only the cases that ran are compared.
    let ran: std::collections::BTreeSet<&str> = outcomes.iter().map(|o| o.case.as_str()).collect();
    let new: Vec<(&str, &str)> = failed
        .iter()
        .filter(|(c, _)| !known.contains_key(**c))
        .map(|(c, r)| (*c, *r))
        .collect();
    let fixed: Vec<&str> = known
        .keys()
        .map(String::as_str)
        .filter(|c| ran.contains(c) && !failed.contains_key(c))
        .collect();

    if update {
        if !new.is_empty() && list_path.exists() {
            for (c, r) in &new {
                println!("NEW FAILURE {c}: {r}");
            }
            bail!(
                "{} cases fail that the list does not hold; the list may only shrink (fix them, or add them by hand with a reason)",
                new.len()
            );
        }
        let mut merged: BTreeMap<String, String> = known
            .into_iter()
            .filter(|(c, _)| !ran.contains(c.as_str()))
            .collect();
        for (c, r) in &failed {
            merged.insert((*c).to_owned(), (*r).to_owned());
        }
        write_known(&list_path, &merged)?;
        println!("wrote {} ({} cases)", list_path.display(), merged.len());
        return if panicked.is_empty() {
            Ok(())
        } else {
            bail!("{} cases panicked", panicked.len())
        };
    }

    for (c, r) in &new {
        println!("NEW FAILURE {c}: {r}");
    }
    for c in &fixed {
        println!(
            "NOW PASSES {c} (remove it from {KNOWN_FAILURES}: cargo xtask conformance DIR --update)"
        );
    }
    if !panicked.is_empty() || !new.is_empty() || !fixed.is_empty() {
        bail!(
            "{} panics, {} new failures, {} listed cases that now pass",
            panicked.len(),
            new.len(),
            fixed.len()
        );
    }
    Ok(())
}

/// The case folders under `dir` (those with a `model.onnx`) whose name contains `filter`,
/// sorted.
fn case_dirs(dir: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("model.onnx").is_file())
        .filter(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)))
        .collect();
    cases.sort();
    Ok(cases)
}

fn run_case(dir: &Path) -> Outcome {
    let case = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let model = match flopscope::onnx::load(dir.join("model.onnx")) {
        Ok(m) => m,
        Err(e) => {
            return Outcome {
                case,
                ops: Vec::new(),
                failure: Some(format!("load: {e}")),
                panicked: false,
            };
        }
    };
    let mut ops: Vec<String> = model
        .graph
        .nodes
        .iter()
        .map(|n| {
            if flopscope::ir::is_default_domain(&n.domain) {
                n.op_type.clone()
            } else {
                format!("{}::{}", n.domain, n.op_type)
            }
        })
        .collect();
    ops.sort();
    ops.dedup();
    let result = catch_unwind(AssertUnwindSafe(|| check_case(dir, &model)));
    let (failure, panicked) = match result {
        Ok(Ok(())) => (None, false),
        Ok(Err(e)) => (Some(one_line(&e.to_string())), false),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            (Some(format!("panicked: {}", one_line(&msg))), true)
        }
    };
    Outcome {
        case,
        ops,
        failure,
        panicked,
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn kind_of(declared: Option<&DeclaredType>) -> ValueKind {
    match declared {
        Some(DeclaredType::Sequence(_)) => ValueKind::Sequence,
        Some(DeclaredType::Optional(_)) => ValueKind::Optional,
        _ => ValueKind::Tensor,
    }
}

/// Profile options that bind every graph input of a case to its stored `input_N.pb`.
fn stored_inputs(dir: &Path, model: &Model) -> Result<ProfileOptions> {
    let data = dir.join("test_data_set_0");
    let graph = &model.graph;
    let mut options = ProfileOptions::default();
    for (i, &id) in graph.inputs.iter().enumerate() {
        let file = data.join(format!("input_{i}.pb"));
        if !file.exists() {
            continue;
        }
        let name = graph.value(id).name.clone();
        let value = flopscope::load_input_value(model, &name, &file)?;
        options.input_values.insert(name, value);
    }
    Ok(options)
}

fn check_case(dir: &Path, model: &Model) -> Result<()> {
    let data = dir.join("test_data_set_0");
    let graph = &model.graph;
    let options = stored_inputs(dir, model)?;
    let model_path = dir.join("model.onnx");
    let profile = flopscope::profile_model(&model_path, model, &options)?;
    if !profile.uncounted.is_empty() {
        let ops: Vec<String> = profile
            .uncounted
            .iter()
            .map(|u| format!("{} ({})", u.op_type, u.reason.describe()))
            .collect();
        bail!("uncounted: {}", ops.join(", "));
    }
    for (j, &id) in graph.outputs.iter().enumerate() {
        let file = data.join(format!("output_{j}.pb"));
        let value = graph.value(id);
        let (_, expected) = flopscope::onnx::load_value(&file, kind_of(value.declared.as_ref()))?;
        let inferred = profile.value_types[id.index()].as_ref();
        if let Err(why) = compare(&expected, inferred) {
            bail!("output {j} `{}`: {why}", value.name);
        }
    }
    Ok(())
}

/// Whether an inferred type describes a stored value exactly.
fn compare(expected: &ConstValue, inferred: Option<&ValueType>) -> std::result::Result<(), String> {
    match (expected, inferred) {
        (_, None) => Err("no inferred type".into()),
        (ConstValue::Tensor(t), Some(ValueType::Tensor(ty))) => {
            let want = t.tensor_type();
            if ty.dtype != want.dtype || ty.shape != want.shape {
                Err(format!("inferred {ty}, expected {want}"))
            } else {
                Ok(())
            }
        }
        (ConstValue::Sequence(items), Some(ValueType::Sequence(SequenceType::Elements(elem)))) => {
            for (i, item) in items.iter().enumerate() {
                compare(item, elem.as_deref()).map_err(|e| format!("element {i}: {e}"))?;
            }
            Ok(())
        }
        (ConstValue::Sequence(items), Some(ValueType::Sequence(SequenceType::Items(types)))) => {
            if items.len() != types.len() {
                return Err(format!(
                    "inferred {} elements, expected {}",
                    types.len(),
                    items.len()
                ));
            }
            for (i, (item, ty)) in items.iter().zip(types).enumerate() {
                compare(item, Some(ty)).map_err(|e| format!("element {i}: {e}"))?;
            }
            Ok(())
        }
        (ConstValue::Optional(None), Some(ValueType::Optional(_))) => Ok(()),
        (ConstValue::Optional(Some(v)), Some(ValueType::Optional(elem))) => compare(v, Some(elem)),
        (expected, Some(other)) => Err(format!(
            "inferred {other}, expected {}",
            match expected {
                ConstValue::Tensor(_) => "a tensor",
                ConstValue::Sequence(_) => "a sequence",
                ConstValue::Optional(_) => "an optional",
            }
        )),
    }
}

fn print_per_op(outcomes: &[Outcome], verbose: bool) {
    let mut per_op: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        for op in &o.ops {
            let e = per_op.entry(op.as_str()).or_default();
            e.0 += 1;
            if o.failure.is_some() {
                e.1 += 1;
            }
        }
    }
    let mut out = String::from("op                                   cases  fail\n");
    for (op, (cases, fail)) in &per_op {
        if *fail > 0 || verbose {
            let _ = writeln!(out, "{op:<36} {cases:>5} {fail:>5}");
        }
    }
    let clean = per_op.values().filter(|(_, f)| *f == 0).count();
    let _ = writeln!(
        out,
        "({clean} of {} op types pass every case they appear in{})",
        per_op.len(),
        if verbose {
            ""
        } else {
            "; --verbose lists them all"
        }
    );
    print!("{out}");
    if verbose {
        for o in outcomes {
            if let Some(f) = &o.failure {
                println!("FAIL {}: {f}", o.case);
            }
        }
    }
}

/// `case  # reason` lines; `#` starts a comment.
fn read_known(path: &Path) -> Result<BTreeMap<String, String>> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (case, reason) = line.split_once('#').unwrap_or((line, ""));
            let case = case.trim();
            (!case.is_empty()).then(|| (case.to_owned(), reason.trim().to_owned()))
        })
        .collect())
}

fn write_known(path: &Path, known: &BTreeMap<String, String>) -> Result<()> {
    let mut text = String::from(
        "# ONNX node conformance cases (../shared/onnx-node) whose output types flopscope does not\n\
         # infer yet, with the reason. `cargo xtask conformance ../shared/onnx-node` fails on a\n\
         # new failure and on a listed case that passes: this list may only shrink.\n",
    );
    for (case, reason) in known {
        let _ = writeln!(text, "{case}  # {reason}");
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

// ---- --values: the folded elements against the stored outputs --------------------------------

/// How one case's folded outputs compare with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ValueOutcome {
    /// Every output folded and bitwise equal (floats), exactly equal (integers, strings).
    Equal,
    /// Every output folded; some float differs from the stored one, but ONNX Runtime's output
    /// (run on the same inputs) differs from it too, and equals the folded one bitwise.
    EqualToRuntime,
    /// Every output folded; some float differs from the stored one and ONNX Runtime's by at
    /// most one unit in the last place of its type.
    WithinUlp,
    /// Every output folded; some float differs from both by a few units in the last place (at
    /// most [`CLOSE_ULPS`]): chains of float operations that ONNX Runtime computes with its own
    /// kernels (vectorised `exp`, another summation order).
    Close,
    /// Some output was not folded (its elements stay unknown to the profile).
    NotFolded,
    /// Some folded output differs from the stored one.
    Mismatch,
}

/// `cargo xtask conformance DIR --values`: every case whose inputs are all small tensors is
/// profiled with its inputs' values bound, and each output the profile folded is compared
/// element by element with `output_N.pb`.
pub(crate) fn run_values(dir: &Path, filter: Option<&str>, verbose: bool) -> Result<()> {
    let started = Instant::now();
    let cases = case_dirs(dir, filter)?;
    let mut results: Vec<(String, Vec<String>, ValueOutcome, String)> = Vec::new();
    let mut skipped = 0usize;
    for dir in &cases {
        let case = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(model) = flopscope::onnx::load(dir.join("model.onnx")) else {
            skipped += 1;
            continue;
        };
        let mut ops: Vec<String> = model
            .graph
            .nodes
            .iter()
            .map(|n| n.op_type.clone())
            .collect();
        ops.sort();
        ops.dedup();
        match catch_unwind(AssertUnwindSafe(|| value_case(dir, &model))) {
            Ok(Ok(Some((outcome, why)))) => results.push((case, ops, outcome, why)),
            Ok(Ok(None)) => skipped += 1,
            Ok(Err(e)) => results.push((
                case,
                ops,
                ValueOutcome::NotFolded,
                format!("profile: {}", one_line(&e.to_string())),
            )),
            Err(_) => results.push((case, ops, ValueOutcome::Mismatch, "panicked".into())),
        }
    }
    let count = |o: ValueOutcome| results.iter().filter(|r| r.2 == o).count();
    let mut per_op: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for (_, ops, outcome, _) in &results {
        for op in ops {
            per_op.entry(op.as_str()).or_default()[*outcome as usize] += 1;
        }
    }
    let mut out = String::from(
        "op                                equal  =ORT  ≤1ulp  close  unfolded  mismatch\n",
    );
    for (op, [eq, ort, ulp, close, nf, mm]) in &per_op {
        if verbose || *nf + *mm > 0 {
            let _ = writeln!(
                out,
                "{op:<32} {eq:>6} {ort:>5} {ulp:>6} {close:>6} {nf:>9} {mm:>9}"
            );
        }
    }
    print!("{out}");
    for (case, _, outcome, why) in &results {
        if *outcome == ValueOutcome::Mismatch || (verbose && *outcome != ValueOutcome::Equal) {
            println!("{outcome:?} {case}: {why}");
        }
    }
    println!(
        "\n{} cases compared (inputs all small tensors; {skipped} others skipped): {} equal to ONNX's outputs, {} equal to ONNX Runtime's where those differ, {} within 1 ulp of both, {} within {CLOSE_ULPS} ulps (float chains), {} not folded, {} mismatched; {:.2} s",
        results.len(),
        count(ValueOutcome::Equal),
        count(ValueOutcome::EqualToRuntime),
        count(ValueOutcome::WithinUlp),
        count(ValueOutcome::Close),
        count(ValueOutcome::NotFolded),
        count(ValueOutcome::Mismatch),
        started.elapsed().as_secs_f64()
    );
    let mismatched = count(ValueOutcome::Mismatch);
    if mismatched > 0 {
        bail!("{mismatched} cases fold to values that differ from ONNX's");
    }
    Ok(())
}

/// `None` when the case is not one for value folding (an input that is not a small tensor).
fn value_case(dir: &Path, model: &Model) -> Result<Option<(ValueOutcome, String)>> {
    use flopscope::counters::MAX_FOLDED_ELEMENTS;
    let data = dir.join("test_data_set_0");
    let graph = &model.graph;
    let options = stored_inputs(dir, model)?;
    let small = |v: &ConstValue| matches!(v, ConstValue::Tensor(t) if t.numel().is_some_and(|n| n <= MAX_FOLDED_ELEMENTS));
    if !options.input_values.values().all(small) {
        return Ok(None);
    }
    let profile = flopscope::profile_model(&dir.join("model.onnx"), model, &options)?;
    let mut outcome = ValueOutcome::Equal;
    let mut why = String::new();
    for (j, &id) in graph.outputs.iter().enumerate() {
        let file = data.join(format!("output_{j}.pb"));
        let (_, expected) = flopscope::onnx::load_value(&file, ValueKind::Tensor)?;
        let ConstValue::Tensor(expected) = expected else {
            return Ok(None);
        };
        let Some(expected) = expected.decode(MAX_FOLDED_ELEMENTS)? else {
            return Ok(None);
        };
        let name = &graph.value(id).name;
        let Some(folded) = profile.known_values[id.index()].as_deref() else {
            if outcome < ValueOutcome::NotFolded {
                outcome = ValueOutcome::NotFolded;
                why = format!("output {j} `{name}` not folded");
            }
            continue;
        };
        let mut this = compare_values(&expected, folded);
        if this.0 > ValueOutcome::EqualToRuntime
            && let Some(runtime) = runtime_output(dir, &options, j)
        {
            // ONNX's stored outputs come from its Python reference; where the runtime's differ
            // from them, the runtime's are what a model computes.
            let by_runtime = compare_values(&runtime, folded);
            let runtime_differs = compare_values(&expected, &runtime).0 != ValueOutcome::Equal;
            if runtime_differs && by_runtime.0 == ValueOutcome::Equal {
                this = (ValueOutcome::EqualToRuntime, this.1);
            } else if by_runtime.0 < this.0 {
                this = (
                    by_runtime.0,
                    format!("{}; against ONNX Runtime: {}", this.1, by_runtime.1),
                );
            }
        }
        if this.0 > outcome {
            outcome = this.0;
            why = format!("output {j} `{name}`: {}", this.1);
        }
    }
    Ok(Some((outcome, why)))
}

/// Output `j` of the case as ONNX Runtime computes it from the same inputs, when ONNX Runtime
/// is available and takes the inputs' and output's types.
fn runtime_output(dir: &Path, options: &ProfileOptions, j: usize) -> Option<TensorValue> {
    let runtime = flopscope_ort::Runtime::load().ok()?;
    let bytes = std::fs::read(dir.join("model.onnx")).ok()?;
    let mut inputs = Vec::new();
    for (name, value) in &options.input_values {
        let ConstValue::Tensor(t) = value else {
            return None;
        };
        let v = t.decode(flopscope::counters::MAX_FOLDED_ELEMENTS).ok()??;
        let numbers = v.as_f64s()?;
        inputs.push((
            name.clone(),
            flopscope_ort::KnownTensor {
                dtype: v.dtype,
                shape: v.shape.clone(),
                numbers,
            },
        ));
    }
    let outputs = runtime.run_values(&bytes, &inputs).ok()?;
    let out = outputs.into_iter().nth(j)?.1?;
    let data = if out.dtype.is_float() {
        Elements::Float(out.numbers)
    } else {
        Elements::Int(
            out.numbers
                .iter()
                .map(|&x| Dim::from_i64(x as i64))
                .collect(),
        )
    };
    Some(TensorValue {
        dtype: out.dtype,
        shape: out.shape,
        data,
    })
}

/// The most units in the last place that a folded float may differ from both ONNX's stored
/// output and ONNX Runtime's and still count as close.
const CLOSE_ULPS: u64 = 64;

/// Compares folded elements with stored ones.
fn compare_values(want: &TensorValue, got: &TensorValue) -> (ValueOutcome, String) {
    if want.dtype != got.dtype || want.shape != got.shape {
        return (
            ValueOutcome::Mismatch,
            format!(
                "folded {} {:?}, expected {} {:?}",
                got.dtype, got.shape, want.dtype, want.shape
            ),
        );
    }
    let mut outcome = ValueOutcome::Equal;
    let mut why = String::new();
    match (&want.data, &got.data) {
        (Elements::Int(w), Elements::Int(g)) => {
            if let Some(i) = (0..w.len()).find(|&i| w[i] != g[i]) {
                return (
                    ValueOutcome::Mismatch,
                    format!("element {i} is {}, expected {}", g[i], w[i]),
                );
            }
        }
        (Elements::Str(w), Elements::Str(g)) => {
            if let Some(i) = (0..w.len()).find(|&i| w[i] != g[i]) {
                return (
                    ValueOutcome::Mismatch,
                    format!("element {i} is {:?}, expected {:?}", g[i], w[i]),
                );
            }
        }
        (Elements::Float(w), Elements::Float(g)) => {
            let mut worst = 0;
            for i in 0..w.len() {
                let d = ulps(want.dtype, w[i], g[i]);
                if d > worst {
                    worst = d;
                    why = format!("element {i} is {:e}, expected {:e} ({d} ulps)", g[i], w[i]);
                }
            }
            outcome = match worst {
                0 => ValueOutcome::Equal,
                1 => ValueOutcome::WithinUlp,
                d if d <= CLOSE_ULPS => ValueOutcome::Close,
                _ => ValueOutcome::Mismatch,
            };
        }
        _ => {
            return (
                ValueOutcome::Mismatch,
                "folded elements of another kind than the stored ones".into(),
            );
        }
    }
    (outcome, why)
}

/// Units in the last place of `dtype` between two floats (NaNs equal one another); `u64::MAX`
/// when the signs differ.
fn ulps(dtype: DType, a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    if a == b {
        return 0;
    }
    if a.is_sign_negative() != b.is_sign_negative() {
        return u64::MAX;
    }
    let bits = |x: f64| -> u64 {
        match dtype {
            DType::Float64 => x.abs().to_bits(),
            _ => u64::from((x.abs() as f32).to_bits()),
        }
    };
    let (x, y) = (bits(a), bits(b));
    let d = x.abs_diff(y);
    // float16 and bfloat16 round to fewer bits: scale the distance to their ulp.
    match dtype {
        DType::Float16 => d >> 13,
        DType::Bfloat16 => d >> 16,
        _ => d,
    }
}

/// The arguments of `cargo xtask conformance`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The folder of case folders (../shared/onnx-node).
    pub(crate) dir: std::path::PathBuf,
    /// Only the cases whose folder name contains this.
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Rewrite the known-failures list (it may only shrink).
    #[arg(long)]
    pub(crate) update: bool,
    /// List every op type and every failing case with its reason.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Compare the elements flopscope folds with the stored outputs instead (cases whose
    /// inputs are all small tensors): exact for integers, bitwise for floats.
    #[arg(long)]
    pub(crate) values: bool,
}

/// `cargo xtask conformance`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        dir,
        filter,
        update,
        verbose,
        values,
    } = args;
    if values {
        crate::conformance::run_values(&dir, filter.as_deref(), verbose)
    } else {
        crate::conformance::run(&dir, filter.as_deref(), update, verbose)
    }
}
