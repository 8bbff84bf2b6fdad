//! What a generation costs: a prefill over the prompt, then one decode step per new token over
//! a growing key/value cache, from the totals' formulas in the model's own dims.
//!
//! As `generate()` runs it, with prompt `P`, `N` new tokens and batch `B`: the prefill is one
//! pass with `seq = P`, `past = 0` (it yields the first new token); decode step `i`
//! (`1 ≤ i ≤ N − 1`) is a pass with `seq = 1`, `past = P + i − 1`. Without a cache
//! (`recompute`), step `i` is a whole pass over `seq = P + i`.
//!
//! Sums over the steps are exact integers in closed form: a total that is a polynomial in the
//! step's dim is summed from its forward differences (`Σ_{k=a}^{b} f(k) = Σ_j Δʲf(a)·C(n, j+1)`,
//! `n = b − a + 1`), without a loop over tokens. A total that is not a polynomial (a `max`,
//! a `ceil`) is summed step by step, and the report says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use flopscope_ir::Dim;
use serde::{Deserialize, Serialize};

use crate::model::{FlopsByKindReport, TotalsReport};
use crate::units;

/// How the steps were priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationMode {
    /// Decode steps read a key/value cache of the past positions.
    Cache,
    /// No cache: every step runs the whole sequence again.
    Recompute,
}

/// One decode step: its position and costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeStep {
    /// 1 to N − 1.
    pub step: i64,
    /// The positions already in the cache (`P + step − 1`), or with `recompute` the positions
    /// run (`P + step`).
    pub position: i64,
    pub macs: i64,
    pub flops: i64,
    pub bytes: i64,
}

/// The cost of generating `new_tokens` tokens after a `prompt`-token prompt, `batch` sequences
/// at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationReport {
    pub prompt: i64,
    pub new_tokens: i64,
    pub batch: i64,
    pub mode: GenerationMode,
    /// The dim that is the number of new positions in a pass.
    pub seq_dim: String,
    /// The dim that is the number of cached positions (absent with `recompute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub past_dim: Option<String>,
    /// The cache's graph inputs, in order.
    #[serde(default)]
    pub cache_inputs: Vec<String>,
    /// The prefill pass. Additive totals (MACs, FLOPs, bytes, activation bytes) are sums over
    /// the phase's passes; params and weight bytes are the model's; the peak is the largest of
    /// the phase's passes.
    pub prefill: TotalsReport,
    /// The N − 1 decode steps together.
    pub decode: TotalsReport,
    /// Prefill and decode.
    pub total: TotalsReport,
    /// Every decode step.
    pub decode_steps: Vec<DecodeStep>,
    /// The key/value cache at the end of the generation (its `P + N − 1` positions), from the
    /// cache outputs' shapes and element types.
    pub kv_cache_bytes: i64,
    /// Bytes of the weights, read by every pass.
    pub weight_bytes: i64,
    /// `closed form`, or `step by step` when a total is not a polynomial in the step's dim.
    pub summed: String,
    /// Roofline times on the report's hardware (`--hardware`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<GenerationTime>,
    /// Whether the generation fits in the hardware's memory, and the largest batch that does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<GenerationMemory>,
}

/// A generation's roofline times: estimates, not measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationTime {
    /// The prefill pass: time to first token.
    pub first_token_s: f64,
    /// The decode steps' mean: time per output token (0 without decode steps).
    pub per_token_s: f64,
    /// Decode throughput over the batch: batch / per_token_s.
    pub tokens_per_s: f64,
    /// All the decode steps.
    pub decode_s: f64,
    /// Prefill and decode.
    pub total_s: f64,
}

/// What the generation keeps in memory at its largest, against the hardware's capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationMemory {
    pub weight_bytes: i64,
    /// The KV cache at the end.
    pub kv_cache_bytes: i64,
    /// The largest peak of live activations over the passes.
    pub peak_activation_bytes: i64,
    /// Their sum.
    pub needed_bytes: i64,
    pub capacity_bytes: f64,
    pub fits: bool,
    /// The largest batch whose weights, cache and activations fit (0: not even one sequence).
    pub max_batch: i64,
}

/// Why a generation could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerationError {
    #[error("the totals depend on `{0}`, which a generation does not set (give it a value)")]
    Unbound(String),
    #[error("{what}: the value does not fit in 64 bits")]
    Overflow { what: String },
    #[error("the prompt and the new tokens must be at least 1 (got {prompt} and {new_tokens})")]
    Empty { prompt: i64, new_tokens: i64 },
}

/// The dims of one pass.
#[derive(Debug, Clone)]
pub struct Pass<'a> {
    pub seq_dim: &'a str,
    pub past_dim: Option<&'a str>,
    /// Other dims and their values (the batch, `--dim`).
    pub fixed: &'a BTreeMap<String, i64>,
}

impl Pass<'_> {
    fn bind(&self, seq: i64, past: i64) -> impl Fn(&str) -> Option<i64> + '_ {
        move |s: &str| {
            if s == self.seq_dim {
                Some(seq)
            } else if Some(s) == self.past_dim {
                Some(past)
            } else {
                self.fixed.get(s).copied()
            }
        }
    }
}

fn eval(d: &Dim, lookup: &dyn Fn(&str) -> Option<i64>, what: &str) -> Result<i64, GenerationError> {
    d.eval(lookup).map_err(
        |_| match d.symbols().into_iter().find(|s| lookup(s).is_none()) {
            Some(s) => GenerationError::Unbound(s.to_string()),
            None => GenerationError::Overflow {
                what: what.to_owned(),
            },
        },
    )
}

/// `Σ_{k=a}^{b} f(k)`. With `degree` (`f` is a polynomial of at most that degree in `k`), in
/// closed form from the forward differences of `f` at `a, …, a + degree`; else step by step.
/// Returns the sum and whether it was closed form.
fn sum_over(
    a: i64,
    b: i64,
    value: &dyn Fn(i64) -> Result<i64, GenerationError>,
    degree: Option<u32>,
    what: &str,
) -> Result<(i64, bool), GenerationError> {
    if b < a {
        return Ok((0, true));
    }
    let overflow = || GenerationError::Overflow {
        what: what.to_owned(),
    };
    let Some(degree) = degree else {
        let mut sum: i64 = 0;
        for k in a..=b {
            sum = sum.checked_add(value(k)?).ok_or_else(overflow)?;
        }
        return Ok((sum, false));
    };
    let n = i128::from(b - a + 1);
    let mut level: Vec<i128> = (0..=i64::from(degree))
        .map(|j| value(a + j).map(i128::from))
        .collect::<Result<_, _>>()?;
    let mut sum: i128 = 0;
    let mut binomial: i128 = n; // C(n, 1)
    for j in 0..=i128::from(degree) {
        let first = level.first().copied().unwrap_or(0);
        sum = sum
            .checked_add(first.checked_mul(binomial).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
        // C(n, j + 2) = C(n, j + 1) · (n − j − 1) / (j + 2), exact at every step.
        binomial = binomial.checked_mul(n - j - 1).ok_or_else(overflow)? / (j + 2);
        level = level.windows(2).map(|w| w[1] - w[0]).collect();
    }
    Ok((i64::try_from(sum).map_err(|_| overflow())?, true))
}

/// The totals' values at one pass.
fn totals_at(
    t: &TotalsReport,
    lookup: &dyn Fn(&str) -> Option<i64>,
) -> Result<TotalsReport, GenerationError> {
    let v = |d: &Dim, what: &str| eval(d, lookup, what).map(Dim::from_i64);
    Ok(TotalsReport {
        macs: v(&t.macs, "macs")?,
        macs_by_dtype: t
            .macs_by_dtype
            .iter()
            .map(|(k, d)| Ok((k.clone(), v(d, "macs")?)))
            .collect::<Result<_, GenerationError>>()?,
        flops: v(&t.flops, "flops")?,
        flops_by_kind: FlopsByKindReport {
            mac: v(&t.flops_by_kind.mac, "flops")?,
            add: v(&t.flops_by_kind.add, "flops")?,
            mul: v(&t.flops_by_kind.mul, "flops")?,
            div: v(&t.flops_by_kind.div, "flops")?,
            cmp: v(&t.flops_by_kind.cmp, "flops")?,
            special: v(&t.flops_by_kind.special, "flops")?,
        },
        bytes: v(&t.bytes, "bytes")?,
        params: v(&t.params, "params")?,
        buffers: v(&t.buffers, "buffers")?,
        quant_params: v(&t.quant_params, "quant_params")?,
        constants: v(&t.constants, "constants")?,
        weight_bytes: v(&t.weight_bytes, "weight_bytes")?,
        weight_bytes_by_dtype: t
            .weight_bytes_by_dtype
            .iter()
            .map(|(k, d)| Ok((k.clone(), v(d, "weight_bytes")?)))
            .collect::<Result<_, GenerationError>>()?,
        activation_bytes: v(&t.activation_bytes, "activation_bytes")?,
        peak_activation_bytes: v(&t.peak_activation_bytes, "peak_activation_bytes")?,
        peak_at: t.peak_at.clone(),
        nodes: t.nodes,
        counted_nodes: t.counted_nodes,
        lower_bound: t.lower_bound,
    })
}

/// Every additive total of `t`, by a stable key, with its formula: what phases sum.
fn additive(t: &TotalsReport) -> Vec<(String, &Dim)> {
    let mut out: Vec<(String, &Dim)> = vec![
        ("macs".into(), &t.macs),
        ("flops".into(), &t.flops),
        ("flops.mac".into(), &t.flops_by_kind.mac),
        ("flops.add".into(), &t.flops_by_kind.add),
        ("flops.mul".into(), &t.flops_by_kind.mul),
        ("flops.div".into(), &t.flops_by_kind.div),
        ("flops.cmp".into(), &t.flops_by_kind.cmp),
        ("flops.special".into(), &t.flops_by_kind.special),
        ("bytes".into(), &t.bytes),
        ("activation_bytes".into(), &t.activation_bytes),
    ];
    for (k, d) in &t.macs_by_dtype {
        out.push((format!("macs_by_dtype.{k}"), d));
    }
    out
}

/// `template` with its additive totals replaced by `sums` (by [`additive`]'s keys).
fn with_sums(template: &TotalsReport, sums: &BTreeMap<String, i64>, peak: i64) -> TotalsReport {
    let s = |k: &str| Dim::from_i64(sums.get(k).copied().unwrap_or(0));
    let mut t = template.clone();
    t.macs = s("macs");
    t.flops = s("flops");
    t.flops_by_kind = FlopsByKindReport {
        mac: s("flops.mac"),
        add: s("flops.add"),
        mul: s("flops.mul"),
        div: s("flops.div"),
        cmp: s("flops.cmp"),
        special: s("flops.special"),
    };
    t.bytes = s("bytes");
    t.activation_bytes = s("activation_bytes");
    for (k, d) in &mut t.macs_by_dtype {
        *d = s(&format!("macs_by_dtype.{k}"));
    }
    t.peak_activation_bytes = Dim::from_i64(peak);
    t
}

/// What a generation needs from the model: its totals as formulas, the dims of a pass, and
/// the cache outputs (shape formulas and element sizes in bytes).
#[derive(Debug, Clone)]
pub struct GenerationSpec<'a> {
    pub totals: &'a TotalsReport,
    pub pass: Pass<'a>,
    pub mode: GenerationMode,
    pub cache_inputs: Vec<String>,
    /// Each cache output's shape and element size in bytes.
    pub cache_outputs: Vec<(Vec<Dim>, i64)>,
    /// The batch dim's name (to find the largest batch that fits).
    pub batch_dim: Option<String>,
    pub prompt: i64,
    pub new_tokens: i64,
    pub batch: i64,
    /// The nodes (formulas in the pass's dims) and the machine, for time estimates.
    pub nodes: &'a [crate::model::NodeReport],
    pub hardware: Option<&'a crate::hardware::Hardware>,
}

impl GenerationSpec<'_> {
    /// The dims of a pass at `(seq, past)` with the batch set to `batch`.
    fn at_batch(&self, batch: i64) -> BTreeMap<String, i64> {
        let mut fixed = self.pass.fixed.clone();
        if let Some(b) = &self.batch_dim {
            fixed.insert(b.clone(), batch);
        }
        fixed
    }

    /// The roofline time of one pass: the sum of its counted nodes' estimates.
    fn pass_time(
        &self,
        hardware: &crate::hardware::Hardware,
        lookup: &dyn Fn(&str) -> Option<i64>,
    ) -> Result<f64, GenerationError> {
        crate::hardware::pass_time(self.nodes, hardware, lookup).map_err(GenerationError::Unbound)
    }
}

impl GenerationSpec<'_> {
    /// The KV cache at the end and the largest activation peak, at batch `batch`.
    fn kv_and_peak(&self, batch: i64) -> Result<(i64, i64), GenerationError> {
        let fixed = self.at_batch(batch);
        let pass = Pass {
            seq_dim: self.pass.seq_dim,
            past_dim: self.pass.past_dim,
            fixed: &fixed,
        };
        let last = self.last_pass();
        let overflow = || GenerationError::Overflow {
            what: "kv_cache_bytes".into(),
        };
        let mut kv: i64 = 0;
        let lookup = pass.bind(last.0, last.1);
        for (shape, size) in &self.cache_outputs {
            let numel: Dim = shape.iter().product();
            let bytes = eval(&numel, &lookup, "kv_cache_bytes")?
                .checked_mul(*size)
                .ok_or_else(overflow)?;
            kv = kv.checked_add(bytes).ok_or_else(overflow)?;
        }
        let peak = |seq: i64, past: i64| {
            eval(
                &self.totals.peak_activation_bytes,
                &pass.bind(seq, past),
                "peak_activation_bytes",
            )
        };
        let (seq, past) = self.pass_at(0);
        let top = peak(seq, past)?.max(peak(last.0, last.1)?);
        Ok((kv, top))
    }

    /// `(seq, past)` of pass `i`: the prefill for 0, decode step `i` after it.
    fn pass_at(&self, i: i64) -> (i64, i64) {
        match (i, self.mode) {
            (0, _) => (self.prompt, 0),
            (_, GenerationMode::Recompute) => (self.prompt + i, 0),
            (_, GenerationMode::Cache) => (1, self.prompt + i - 1),
        }
    }

    /// `(seq, past)` of the generation's last pass.
    fn last_pass(&self) -> (i64, i64) {
        self.pass_at(self.new_tokens - 1)
    }

    fn memory(
        &self,
        hw: &crate::hardware::Hardware,
        weight_bytes: i64,
    ) -> Result<GenerationMemory, GenerationError> {
        let needed_at = |b: i64| -> Result<i64, GenerationError> {
            let (kv, peak) = self.kv_and_peak(b)?;
            Ok(weight_bytes.saturating_add(kv).saturating_add(peak))
        };
        let (kv, peak) = self.kv_and_peak(self.batch)?;
        let needed = weight_bytes.saturating_add(kv).saturating_add(peak);
        let fits_at = |b: i64| -> Result<bool, GenerationError> {
            Ok((needed_at(b)? as f64) <= hw.memory_bytes)
        };
        // The largest batch that fits: doubling, then bisection (needs grow with the batch).
        let max_batch = if self.batch_dim.is_none() {
            i64::from(fits_at(self.batch)?) * self.batch
        } else if !fits_at(1)? {
            0
        } else {
            let mut lo = 1;
            let mut hi = 2;
            while hi < (1 << 30) && fits_at(hi)? {
                lo = hi;
                hi *= 2;
            }
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fits_at(mid)? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        Ok(GenerationMemory {
            weight_bytes,
            kv_cache_bytes: kv,
            peak_activation_bytes: peak,
            needed_bytes: needed,
            capacity_bytes: hw.memory_bytes,
            fits: (needed as f64) <= hw.memory_bytes,
            max_batch,
        })
    }
}

impl GenerationReport {
    pub fn new(spec: &GenerationSpec<'_>) -> Result<GenerationReport, GenerationError> {
        let (p, n) = (spec.prompt, spec.new_tokens);
        if p < 1 || n < 1 {
            return Err(GenerationError::Empty {
                prompt: p,
                new_tokens: n,
            });
        }
        let pass = &spec.pass;
        let t = spec.totals;
        let recompute = spec.mode == GenerationMode::Recompute;
        let prefill_at = spec.pass_at(0);
        let step_at = |i: i64| spec.pass_at(i);
        let lookup = pass.bind(prefill_at.0, prefill_at.1);
        let prefill = totals_at(t, &lookup)?;
        let steps = n - 1;
        let mut sums = BTreeMap::new();
        let mut closed = true;
        // The dim that moves from step to step.
        let moving = if recompute {
            pass.seq_dim
        } else {
            pass.past_dim.unwrap_or(pass.seq_dim)
        };
        for (key, d) in additive(t) {
            let value = |i: i64| -> Result<i64, GenerationError> {
                let (seq, past) = step_at(i);
                eval(d, &pass.bind(seq, past), &key)
            };
            let (sum, exact) = sum_over(1, steps, &value, d.degree_in(moving), &key)?;
            closed &= exact;
            sums.insert(key, sum);
        }
        // Every total grows with the cache: the largest peak is the first or the last step's.
        let peak_of = |i: i64| -> Result<i64, GenerationError> {
            let (seq, past) = step_at(i);
            eval(
                &t.peak_activation_bytes,
                &pass.bind(seq, past),
                "peak_activation_bytes",
            )
        };
        let decode_peak = if steps > 0 {
            peak_of(1)?.max(peak_of(steps)?)
        } else {
            0
        };
        let decode = with_sums(&prefill, &sums, decode_peak);
        let prefill_peak = prefill.peak_activation_bytes.as_i64().unwrap_or(0);
        let mut total_sums = sums.clone();
        for (key, d) in additive(&prefill) {
            let add = d.as_i64().unwrap_or(0);
            let slot = total_sums.entry(key.clone()).or_insert(0);
            *slot = slot
                .checked_add(add)
                .ok_or(GenerationError::Overflow { what: key })?;
        }
        let total = with_sums(&prefill, &total_sums, prefill_peak.max(decode_peak));
        let mut decode_steps = Vec::new();
        for i in 1..=steps {
            let (seq, past) = step_at(i);
            let lookup = pass.bind(seq, past);
            decode_steps.push(DecodeStep {
                step: i,
                position: if recompute { seq } else { past },
                macs: eval(&t.macs, &lookup, "macs")?,
                flops: eval(&t.flops, &lookup, "flops")?,
                bytes: eval(&t.bytes, &lookup, "bytes")?,
            });
        }
        // The cache after the last pass: its cache outputs.
        let (kv_cache_bytes, _) = spec.kv_and_peak(spec.batch)?;
        let weight_bytes = prefill.weight_bytes.as_i64().unwrap_or(0);
        let (time, memory) = match spec.hardware {
            None => (None, None),
            Some(hw) => {
                let first_token_s = spec.pass_time(hw, &pass.bind(prefill_at.0, prefill_at.1))?;
                let mut decode_s = 0.0;
                for i in 1..=steps {
                    let (seq, past) = step_at(i);
                    decode_s += spec.pass_time(hw, &pass.bind(seq, past))?;
                }
                let per_token_s = if steps > 0 {
                    decode_s / steps as f64
                } else {
                    0.0
                };
                let time = GenerationTime {
                    first_token_s,
                    per_token_s,
                    tokens_per_s: if per_token_s > 0.0 {
                        spec.batch as f64 / per_token_s
                    } else {
                        0.0
                    },
                    decode_s,
                    total_s: first_token_s + decode_s,
                };
                (Some(time), Some(spec.memory(hw, weight_bytes)?))
            }
        };
        Ok(GenerationReport {
            prompt: p,
            new_tokens: n,
            batch: spec.batch,
            mode: spec.mode,
            seq_dim: pass.seq_dim.to_owned(),
            past_dim: pass.past_dim.map(str::to_owned),
            cache_inputs: spec.cache_inputs.clone(),
            prefill,
            decode,
            total,
            decode_steps,
            kv_cache_bytes,
            weight_bytes,
            summed: if closed {
                "closed form"
            } else {
                "step by step"
            }
            .to_owned(),
            time,
            memory,
        })
    }

    fn rows(&self) -> Vec<[String; 4]> {
        let n = |d: &Dim| units::human(d, "");
        let b = |d: &Dim| units::human(d, "B");
        let phases = [&self.prefill, &self.decode, &self.total];
        let row = |label: &str, f: &dyn Fn(&TotalsReport) -> String| {
            [label.to_owned(), f(phases[0]), f(phases[1]), f(phases[2])]
        };
        vec![
            row("MACs", &|t| n(&t.macs)),
            row("FLOPs", &|t| n(&t.flops)),
            row("Memory traffic", &|t| b(&t.bytes)),
            row("Peak activations", &|t| b(&t.peak_activation_bytes)),
        ]
    }

    fn heading(&self) -> String {
        let mode = match self.mode {
            GenerationMode::Cache => format!(
                "KV cache: {} inputs ({}{}), cached positions `{}`",
                self.cache_inputs.len(),
                self.cache_inputs.first().map_or("", String::as_str),
                if self.cache_inputs.len() > 1 {
                    ", …"
                } else {
                    ""
                },
                self.past_dim.as_deref().unwrap_or("?")
            ),
            GenerationMode::Recompute => "no cache: every step recomputes the sequence".into(),
        };
        format!(
            "Generation: prompt {}, {} new tokens, batch {}; {mode}",
            self.prompt, self.new_tokens, self.batch
        )
    }

    fn footer(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "Prefill: 1 pass, {} = {}. Decode: {} steps, {} = 1, {}.",
                self.seq_dim,
                self.prompt,
                self.new_tokens - 1,
                self.seq_dim,
                match (&self.mode, &self.past_dim) {
                    (GenerationMode::Cache, Some(past)) => format!(
                        "{past} = {} to {}",
                        self.prompt,
                        self.prompt + self.new_tokens - 2
                    ),
                    _ => "the whole sequence each".into(),
                }
            ),
            format!(
                "Weights: {} (read by every pass). KV cache at the end: {}.",
                bytes(self.weight_bytes),
                bytes(self.kv_cache_bytes)
            ),
            format!("Sums over the steps: {}.", self.summed),
        ];
        if let Some(t) = &self.time {
            out.push(format!(
                "Estimated from the roofline, not measured: time to first token {}, {} per \
                 output token ({:.1} tokens/s over the batch), {} in all.",
                crate::hardware::seconds(t.first_token_s),
                crate::hardware::seconds(t.per_token_s),
                t.tokens_per_s,
                crate::hardware::seconds(t.total_s)
            ));
        }
        if let Some(m) = &self.memory {
            out.push(format!(
                "Memory: weights {} + KV cache {} + peak activations {} = {} of {}: {}; the \
                 largest batch that fits is {}.",
                bytes(m.weight_bytes),
                bytes(m.kv_cache_bytes),
                bytes(m.peak_activation_bytes),
                bytes(m.needed_bytes),
                bytes(m.capacity_bytes as i64),
                if m.fits { "fits" } else { "does NOT fit" },
                m.max_batch
            ));
        }
        if self.total.lower_bound {
            out.push("Some ops are uncounted: every figure is a lower bound.".into());
        }
        out
    }

    /// A terminal table: prefill, decode and total.
    pub fn render_table(&self) -> String {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        table.set_header(["", "Prefill", "Decode", "Total"]);
        for row in self.rows() {
            table.add_row(row);
        }
        for i in 1..4 {
            if let Some(c) = table.column_mut(i) {
                c.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        let mut out = format!("{}\n{table}\n", self.heading());
        for line in self.footer() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// The same as Markdown.
    pub fn render_markdown(&self) -> String {
        let mut out = format!(
            "**{}**\n\n| | Prefill | Decode | Total |\n|---|---:|---:|---:|\n",
            self.heading()
        );
        for row in self.rows() {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
        for line in self.footer() {
            let _ = writeln!(out, "{line}  ");
        }
        out
    }

    /// MACs and memory traffic of every decode step against its position, as an SVG chart.
    pub fn render_svg(&self) -> String {
        let (w, h, left, right, top, bottom) = (720.0, 360.0, 80.0, 80.0, 40.0, 50.0);
        let steps = &self.decode_steps;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{left}\" y=\"22\" font-size=\"14\">{}</text>\n",
            xml(&format!(
                "Decode steps: MACs (blue, left) and memory traffic (orange, right) by {}",
                if self.mode == GenerationMode::Cache {
                    "cached positions"
                } else {
                    "sequence length"
                }
            ))
        );
        let (x0, x1) = (left, w - right);
        let (y0, y1) = (h - bottom, top);
        let _ = writeln!(
            svg,
            "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"black\"/>\
             <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>\
             <line x1=\"{x1}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"black\"/>"
        );
        if steps.is_empty() {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">one new token: no decode step</text>",
                (x0 + x1) / 2.0,
                (y0 + y1) / 2.0
            );
            svg.push_str("</svg>\n");
            return svg;
        }
        let first = steps.first().map_or(0, |s| s.position) as f64;
        let last = steps.last().map_or(0, |s| s.position) as f64;
        let span = (last - first).max(1.0);
        let x = |p: i64| x0 + (p as f64 - first) / span * (x1 - x0);
        let max_macs = steps.iter().map(|s| s.macs).max().unwrap_or(1).max(1) as f64;
        let max_bytes = steps.iter().map(|s| s.bytes).max().unwrap_or(1).max(1) as f64;
        let line = |value: &dyn Fn(&DecodeStep) -> f64, max: f64| -> String {
            steps
                .iter()
                .map(|s| {
                    format!(
                        "{:.1},{:.1}",
                        x(s.position),
                        y0 - value(s) / max * (y0 - y1)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>",
            line(&|s| s.macs as f64, max_macs)
        );
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" points=\"{}\"/>",
            line(&|s| s.bytes as f64, max_bytes)
        );
        let label = |x: f64, y: f64, anchor: &str, text: String| {
            format!(
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>\n",
                xml(&text)
            )
        };
        svg.push_str(&label(
            x0 - 6.0,
            y1 + 4.0,
            "end",
            units::human(&Dim::from_i64(max_macs as i64), "MACs"),
        ));
        svg.push_str(&label(x0 - 6.0, y0, "end", "0".into()));
        svg.push_str(&label(x1 + 6.0, y1 + 4.0, "start", bytes(max_bytes as i64)));
        svg.push_str(&label(x1 + 6.0, y0, "start", "0".into()));
        svg.push_str(&label(x0, y0 + 18.0, "middle", (first as i64).to_string()));
        svg.push_str(&label(x1, y0 + 18.0, "middle", (last as i64).to_string()));
        svg.push_str(&label(
            (x0 + x1) / 2.0,
            h - 12.0,
            "middle",
            format!(
                "{} (batch {}, prompt {})",
                self.past_dim.as_deref().unwrap_or(&self.seq_dim),
                self.batch,
                self.prompt
            ),
        ));
        svg.push_str("</svg>\n");
        svg
    }
}

fn bytes(v: i64) -> String {
    units::human(&Dim::from_i64(v), "B")
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_sums_equal_the_loop() {
        // 3k² − 5k + 7 from k = 4 to 40, and a cubic.
        let f = |k: i64| Ok(3 * k * k - 5 * k + 7);
        let (s, exact) = sum_over(4, 40, &f, Some(2), "f").expect("sums");
        assert!(exact);
        assert_eq!(s, (4..=40).map(|k| 3 * k * k - 5 * k + 7).sum::<i64>());
        let g = |k: i64| Ok(k * k * k + 2);
        assert_eq!(
            sum_over(0, 1000, &g, Some(3), "g").expect("sums"),
            ((0..=1000).map(|k| k * k * k + 2).sum::<i64>(), true)
        );
        // A degree bound above the true degree changes nothing; empty and one-term ranges.
        assert_eq!(sum_over(4, 40, &f, Some(5), "f").expect("sums").0, s);
        assert_eq!(sum_over(5, 4, &f, Some(2), "f").expect("sums"), (0, true));
        assert_eq!(
            sum_over(5, 5, &f, Some(2), "f").expect("sums").0,
            3 * 25 - 25 + 7
        );
    }

    #[test]
    fn a_sum_that_is_not_a_polynomial_is_made_step_by_step() {
        // ceil(k / 64) · 10: its degree is None.
        let f = |k: i64| Ok((k + 63) / 64 * 10);
        let (s, exact) = sum_over(1, 300, &f, None, "f").expect("sums");
        assert!(!exact);
        assert_eq!(s, (1..=300).map(|k| (k + 63) / 64 * 10).sum::<i64>());
    }
}
