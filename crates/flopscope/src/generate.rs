//! `flopscope generate`: what a generation costs on a decoder with a key/value cache.
//!
//! The model is profiled once with its dims left symbolic; the prefill, every decode step and
//! their sums come from the totals' formulas ([`flopscope_report::generation`]). This module
//! finds the cache and the dims a pass moves:
//! - cache inputs: float tensors named `past…` (`past_key_values.{i}.key/value` as
//!   transformers and onnxruntime-genai name them, `past.{i}.key`, `past_{i}`); cache outputs:
//!   float tensors named `present…` (`present.{i}.key/value`, `present_key_values…`);
//! - the token input: `input_ids`, else the only integer input of rank 2: its named dims are
//!   the batch (axis 0) and the new positions of a pass (`seq`, axis 1);
//! - the past dim: the one named dim of the cache inputs that is not the batch;
//! - an input with a named dim that is neither (an `attention_mask` over `total_sequence`) gets
//!   `past + seq` there.
//!
//! `--seq-dim` and `--past-dim` name the dims when the model's naming is unusual.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use flopscope_counters::{DeclaredOp, ProfileOptions};
use flopscope_ir::{DType, DeclaredType, Dim, Model};
use flopscope_report::{
    GenerationError, GenerationMode, GenerationReport, GenerationSpec, Pass, Report,
};

use crate::Error;

/// What to price.
#[derive(Debug, Clone, Default)]
pub struct GenerateRequest {
    /// Prompt tokens (`--prompt`).
    pub prompt: i64,
    /// Tokens generated (`--new-tokens`), the first by the prefill.
    pub new_tokens: i64,
    /// Sequences generated together (`--batch`).
    pub batch: i64,
    /// Other named dims and their values (`--dim`).
    pub dims: Vec<(String, i64)>,
    /// The dim of a pass's new positions, when it is not found (`--seq-dim`).
    pub seq_dim: Option<String>,
    /// The dim of the cached positions, when it is not found (`--past-dim`).
    pub past_dim: Option<String>,
    /// No cache: every step a whole pass over the sequence so far (`--recompute`).
    pub recompute: bool,
    /// Ops declared at run time (`--op-costs`).
    pub declared_ops: Vec<Arc<dyn DeclaredOp>>,
    /// The machine to estimate times and memory on (`--hardware`).
    pub hardware: Option<flopscope_report::Hardware>,
}

/// Why a generation could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "the model has no key/value cache inputs (float inputs named past…, such as \
         past_key_values.0.key); a generation without a cache recomputes every step"
    )]
    NoCache,
    #[error(
        "no token input: no `input_ids` and no single integer input of rank 2, so the dim of \
         a pass's new positions must be named"
    )]
    NoTokens,
    #[error(
        "the token input `{input}` has no named dim for the new positions (axis 1): it must be \
         named"
    )]
    NoSeq { input: String },
    #[error(
        "the cache inputs have no named dim for the cached positions besides the batch: it \
         must be named"
    )]
    NoPast,
    #[error(
        "the cache inputs have several named dims besides the batch ({0}): the one of the \
         cached positions must be named"
    )]
    SeveralPast(String),
    #[error("the dim of the {what} `{name}`: no input of the model has a dim named so")]
    UnknownDim { what: &'static str, name: String },
    #[error("batch {asked}: the model's batch is fixed at {fixed}")]
    FixedBatch { asked: i64, fixed: i64 },
    #[error(transparent)]
    Generation(#[from] GenerationError),
}

/// A graph input's name, element type and shape (`None` dims: unknown).
struct Input<'m> {
    name: &'m str,
    dtype: Option<DType>,
    shape: Vec<Option<Dim>>,
}

fn tensor_inputs(model: &Model) -> Vec<Input<'_>> {
    model
        .graph
        .inputs
        .iter()
        .filter_map(|&id| {
            let v = model.graph.value(id);
            match &v.declared {
                Some(DeclaredType::Tensor {
                    dtype,
                    shape: Some(shape),
                }) => Some(Input {
                    name: &v.name,
                    dtype: *dtype,
                    shape: shape.clone(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The name of a dim that is one symbol (`batch`), else `None`.
fn symbol(d: &Option<Dim>) -> Option<String> {
    let d = d.as_ref()?;
    match d.symbols().as_slice() {
        [s] if *d == Dim::sym(s) => Some(s.to_string()),
        _ => None,
    }
}

fn is_cache_name(name: &str, prefix: &str) -> bool {
    name.to_ascii_lowercase().starts_with(prefix)
}

fn is_float(dtype: Option<DType>) -> bool {
    dtype.is_some_and(DType::is_float)
}

/// Profiles `model` symbolically and prices the generation; the report carries it.
pub fn generate(path: &Path, model: &Model, request: &GenerateRequest) -> Result<Report, Error> {
    let fail = |source: GenerateError| Error::Generate {
        path: path.to_owned(),
        source,
    };
    let inputs = tensor_inputs(model);
    let has = |name: &str| {
        inputs
            .iter()
            .any(|i| i.shape.iter().any(|d| symbol(d).as_deref() == Some(name)))
    };
    for (what, name) in [
        ("new positions", &request.seq_dim),
        ("cached positions", &request.past_dim),
    ] {
        if let Some(name) = name
            && !has(name)
        {
            return Err(fail(GenerateError::UnknownDim {
                what,
                name: name.clone(),
            }));
        }
    }
    let cache: Vec<&Input<'_>> = inputs
        .iter()
        .filter(|i| is_cache_name(i.name, "past") && is_float(i.dtype) && i.shape.len() >= 3)
        .collect();
    let mode = if request.recompute {
        GenerationMode::Recompute
    } else if cache.is_empty() {
        return Err(fail(GenerateError::NoCache));
    } else {
        GenerationMode::Cache
    };
    let tokens = inputs.iter().find(|i| i.name == "input_ids").or_else(|| {
        let ints: Vec<&Input<'_>> = inputs
            .iter()
            .filter(|i| i.dtype.is_some_and(DType::is_integer) && i.shape.len() == 2)
            .collect();
        match ints.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    });
    let batch_dim = tokens.and_then(|t| t.shape.first()).and_then(symbol);
    let seq_dim = match (&request.seq_dim, tokens) {
        (Some(s), _) => s.clone(),
        (None, Some(t)) => t.shape.get(1).and_then(symbol).ok_or_else(|| {
            fail(GenerateError::NoSeq {
                input: t.name.to_owned(),
            })
        })?,
        (None, None) => return Err(fail(GenerateError::NoTokens)),
    };
    if let Some(t) = tokens
        && let Some(Some(fixed)) = t.shape.first().map(|d| d.as_ref().and_then(Dim::as_i64))
        && fixed != request.batch
    {
        return Err(fail(GenerateError::FixedBatch {
            asked: request.batch,
            fixed,
        }));
    }
    // With --recompute the cache, if the model has one, stays empty (past = 0).
    let past_dim = match (&request.past_dim, mode) {
        (Some(p), _) => Some(p.clone()),
        (None, GenerationMode::Recompute) if cache.is_empty() => None,
        (None, _) => {
            let mut names: Vec<String> = cache
                .iter()
                .flat_map(|i| i.shape.iter().filter_map(symbol))
                .filter(|s| Some(s) != batch_dim.as_ref() && *s != seq_dim)
                .collect();
            names.sort();
            names.dedup();
            match names.as_slice() {
                [one] => Some(one.clone()),
                [] if mode == GenerationMode::Recompute => None,
                [] => return Err(fail(GenerateError::NoPast)),
                several => return Err(fail(GenerateError::SeveralPast(several.join(", ")))),
            }
        }
    };

    // Inputs with a named dim that is neither the batch nor a pass's dims nor a --dim: the
    // total length, past + seq (an attention mask).
    let mut options = ProfileOptions {
        declared_ops: request.declared_ops.clone(),
        ..ProfileOptions::default()
    };
    let given: BTreeMap<&str, i64> = request.dims.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let known = |s: &str| {
        Some(s) == batch_dim.as_deref()
            || s == seq_dim
            || Some(s) == past_dim.as_deref()
            || given.contains_key(s)
    };
    let total = match &past_dim {
        Some(p) => Dim::sym(p) + Dim::sym(&seq_dim),
        None => Dim::sym(&seq_dim),
    };
    for input in &inputs {
        if cache.iter().any(|c| c.name == input.name) {
            continue;
        }
        let unknown = input
            .shape
            .iter()
            .any(|d| symbol(d).is_some_and(|s| !known(&s)));
        if unknown {
            let shape: Vec<Dim> = input
                .shape
                .iter()
                .enumerate()
                .map(|(axis, d)| match (symbol(d), d) {
                    (Some(s), _) if !known(&s) => total.clone(),
                    (_, Some(d)) => d.clone(),
                    (_, None) => Dim::sym(&format!("{}_{axis}", input.name)),
                })
                .collect();
            options.inputs.insert(input.name.to_owned(), shape);
        }
    }
    let profile = crate::profile_model(path, model, &options)?;
    let mut report = Report::new(&path.display().to_string(), model, &profile);

    let mut fixed: BTreeMap<String, i64> = request.dims.iter().cloned().collect();
    if let Some(b) = &batch_dim {
        fixed.insert(b.clone(), request.batch);
    }
    let cache_outputs: Vec<(Vec<Dim>, i64)> = match mode {
        GenerationMode::Recompute => Vec::new(),
        GenerationMode::Cache => report
            .model
            .outputs
            .iter()
            .filter(|o| is_cache_name(&o.name, "present"))
            .filter_map(|o| {
                let dtype = DType::from_name(o.dtype.as_deref()?)?;
                let bits = i64::from(dtype.bits()?);
                Some((o.shape.clone()?, bits / 8))
            })
            .collect(),
    };
    let spec = GenerationSpec {
        totals: &report.totals,
        pass: Pass {
            seq_dim: &seq_dim,
            past_dim: past_dim.as_deref(),
            fixed: &fixed,
        },
        mode,
        cache_inputs: cache.iter().map(|c| c.name.to_owned()).collect(),
        cache_outputs,
        batch_dim: batch_dim.clone(),
        prompt: request.prompt,
        new_tokens: request.new_tokens,
        batch: request.batch,
        nodes: &report.nodes,
        hardware: request.hardware.as_ref(),
    };
    let generation = GenerationReport::new(&spec).map_err(|e| fail(e.into()))?;
    if let (Some(hardware), Some(time)) = (&request.hardware, &generation.time) {
        report.hardware = Some(flopscope_report::HardwareReport {
            hardware: hardware.clone(),
            time_s: time.total_s,
            compute_bound_nodes: 0,
            memory_bound_nodes: 0,
            note: format!(
                "{}; time_s is the whole generation's (generation.time has its parts)",
                flopscope_report::hardware::ESTIMATE_NOTE
            ),
        });
    }
    report.generation = Some(generation);
    Ok(report)
}
