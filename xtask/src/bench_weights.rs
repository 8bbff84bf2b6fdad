//! `cargo xtask bench-weights`: weights are never read, shown at GPT-2 size.
//!
//! Writes a GPT-2 small (124M parameters) in three variants that differ only in where the
//! weight bytes are: in an external data file beside the model (`external`), inside the
//! `.onnx` as `raw_data` (`inline`, a 500 MB file) or nowhere (`none`: external data entries
//! pointing at a file that does not exist, as `strip-weights` writes). Then profiles each with
//! the release `flopscope profile` binary, whole process (see `measure`): if flopscope read or
//! copied the weights, the inline variant's time and peak RSS would be far above the others'.
//! The profile's params and MACs are checked against hand formulas.
//!
//! The weights are a deterministic cheap pattern, so writing half a gigabyte takes seconds.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto,
};
use protobuf::{EnumOrUnknown, Message};

use flopscope_testkit::{FLOAT, INT64, float_attr, int_attr, ints_attr, string_attr, tensor_value};

use crate::measure::{self, Cell, mib, ms};

/// Gelu (with `approximate`) is in opset 20; IR 9 goes with it.
const OPSET: i64 = 20;
const IR_VERSION: i64 = 9;

/// Targets for every variant.
const TARGET_TIME: Duration = Duration::from_millis(50);
const TARGET_RSS: u64 = 64 << 20;

/// The sizes of a GPT-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gpt2 {
    pub vocab: i64,
    pub context: i64,
    pub d_model: i64,
    pub layers: i64,
    pub heads: i64,
}

impl Gpt2 {
    /// GPT-2 small.
    pub(crate) const SMALL: Gpt2 = Gpt2 {
        vocab: 50257,
        context: 1024,
        d_model: 768,
        layers: 12,
        heads: 12,
    };

    /// Parameters by hand, the tied LM head counted once with the token embedding:
    /// token and position embeddings `V·d + C·d`; per layer two LayerNorms (`2·2d`), the QKV
    /// projection (`d·3d + 3d`), the attention output (`d·d + d`), the MLP (`d·4d + 4d` and
    /// `4d·d + d`), that is `12·d² + 13·d`; the final LayerNorm `2d`.
    pub(crate) fn params(&self) -> i64 {
        let (v, c, d, l) = (self.vocab, self.context, self.d_model, self.layers);
        v * d + c * d + l * (12 * d * d + 13 * d) + 2 * d
    }

    /// MACs by hand at batch 1 and sequence length `s`: per layer the four projections
    /// (`s·12·d²`) and attention's QKᵀ and AV (`2·s²·d` over all heads); the LM head `s·d·V`.
    pub(crate) fn macs(&self, s: i64) -> i64 {
        let (v, d, l) = (self.vocab, self.d_model, self.layers);
        l * (12 * s * d * d + 2 * s * s * d) + s * d * v
    }
}

/// Where the weight bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    External,
    Inline,
    None,
}

impl Variant {
    pub(crate) const ALL: [Variant; 3] = [Variant::External, Variant::Inline, Variant::None];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::External => "external",
            Variant::Inline => "inline",
            Variant::None => "none",
        }
    }
}

/// A weight of the model: name and dims (float32).
#[derive(Debug, Clone)]
struct Weight {
    name: String,
    dims: Vec<i64>,
}

impl Weight {
    fn bytes(&self) -> u64 {
        self.dims.iter().product::<i64>() as u64 * 4
    }
}

// ---- the graph ---------------------------------------------------------------------------------

/// Nodes, weights and small constants, added in order.
#[derive(Debug, Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    weights: Vec<Weight>,
    constants: Vec<TensorProto>,
}

impl Builder {
    /// Adds a node named after its first output; returns that output.
    fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            name: format!("{output}/{op_type}"),
            op_type: op_type.to_owned(),
            input: inputs.iter().map(|&i| i.to_owned()).collect(),
            output: vec![output.to_owned()],
            attribute: attributes,
            ..Default::default()
        });
        output.to_owned()
    }

    fn weight(&mut self, name: &str, dims: &[i64]) -> String {
        self.weights.push(Weight {
            name: name.to_owned(),
            dims: dims.to_vec(),
        });
        name.to_owned()
    }

    /// A small int64 constant (kept inline in every variant).
    fn ints(&mut self, name: &str, dims: &[i64], values: &[i64]) -> String {
        self.constants.push(TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type: INT64,
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name.to_owned()
    }

    /// A float scalar constant.
    fn scalar(&mut self, name: &str, value: f32) -> String {
        self.constants.push(TensorProto {
            name: name.to_owned(),
            data_type: FLOAT,
            float_data: vec![value],
            ..Default::default()
        });
        name.to_owned()
    }

    fn matmul_add(&mut self, x: &str, prefix: &str, d_in: i64, d_out: i64) -> String {
        let w = self.weight(&format!("{prefix}.weight"), &[d_in, d_out]);
        let b = self.weight(&format!("{prefix}.bias"), &[d_out]);
        let y = self.node("MatMul", &[x, &w], &format!("{prefix}/matmul"), vec![]);
        self.node("Add", &[&y, &b], &format!("{prefix}/out"), vec![])
    }

    fn layer_norm(&mut self, x: &str, prefix: &str, d: i64) -> String {
        let w = self.weight(&format!("{prefix}.weight"), &[d]);
        let b = self.weight(&format!("{prefix}.bias"), &[d]);
        self.node(
            "LayerNormalization",
            &[x, &w, &b],
            &format!("{prefix}/out"),
            vec![int_attr("axis", -1), float_attr("epsilon", 1e-5)],
        )
    }
}

/// GPT-2's graph: `input_ids [batch, seq]` int64 → `logits [batch, seq, vocab]`, the LM head
/// tied to the token embedding (a Transpose of it). Returns the graph without its weights'
/// tensors, and the weights in order.
fn graph(cfg: &Gpt2) -> (GraphProto, Vec<Weight>) {
    let Gpt2 {
        vocab,
        context,
        d_model: d,
        layers,
        heads,
    } = *cfg;
    let head = d / heads;
    let mut b = Builder::default();

    // Positions 0..seq, and the causal mask (lower triangle) of seq × seq, from the input's
    // shape.
    let shape = b.node("Shape", &["input_ids"], "input_shape", vec![]);
    let one_index = b.ints("index_1", &[], &[1]);
    let seq = b.node(
        "Gather",
        &[&shape, &one_index],
        "seq",
        vec![int_attr("axis", 0)],
    );
    let zero = b.ints("zero", &[], &[0]);
    let one = b.ints("one", &[], &[1]);
    let positions = b.node("Range", &[&zero, &seq, &one], "positions", vec![]);
    let seq_1d = b.node(
        "Shape",
        &["input_ids"],
        "seq_1d",
        vec![int_attr("start", 1)],
    );
    let square = b.node(
        "Concat",
        &[&seq_1d, &seq_1d],
        "mask_shape",
        vec![int_attr("axis", 0)],
    );
    let ones = b.node("ConstantOfShape", &[&square], "mask_ones", vec![]);
    let lower = b.node("Trilu", &[&ones], "mask_lower", vec![int_attr("upper", 0)]);
    let mask = b.node(
        "Cast",
        &[&lower],
        "causal_mask",
        vec![int_attr("to", 9)], // BOOL
    );
    let masked = b.scalar("masked_score", -1e4);
    let scale = b.scalar("attention_scale", 1.0 / (head as f32).sqrt());
    let split = b.ints("qkv_split", &[3], &[d, d, d]);
    let split_heads = b.ints("split_heads_shape", &[4], &[0, 0, heads, head]);
    let merge_heads = b.ints("merge_heads_shape", &[3], &[0, 0, d]);

    let wte = b.weight("wte.weight", &[vocab, d]);
    let wpe = b.weight("wpe.weight", &[context, d]);
    let tokens = b.node("Gather", &[&wte, "input_ids"], "token_embeddings", vec![]);
    let pos = b.node("Gather", &[&wpe, &positions], "position_embeddings", vec![]);
    let mut x = b.node("Add", &[&tokens, &pos], "embeddings", vec![]);

    for layer in 0..layers {
        let p = format!("h.{layer}");
        let ln1 = b.layer_norm(&x, &format!("{p}.ln_1"), d);
        let qkv = b.matmul_add(&ln1, &format!("{p}.attn.c_attn"), d, 3 * d);
        b.nodes.push(NodeProto {
            name: format!("{p}.attn/split"),
            op_type: "Split".to_owned(),
            input: vec![qkv, split.clone()],
            output: ["q", "k", "v"]
                .iter()
                .map(|n| format!("{p}.attn/{n}"))
                .collect(),
            attribute: vec![int_attr("axis", -1)],
            ..Default::default()
        });
        let to_heads = |b: &mut Builder, n: &str, perm: &[i64]| {
            let r = b.node(
                "Reshape",
                &[&format!("{p}.attn/{n}"), &split_heads],
                &format!("{p}.attn/{n}_heads"),
                vec![],
            );
            b.node(
                "Transpose",
                &[&r],
                &format!("{p}.attn/{n}_t"),
                vec![ints_attr("perm", perm)],
            )
        };
        let q = to_heads(&mut b, "q", &[0, 2, 1, 3]);
        let k = to_heads(&mut b, "k", &[0, 2, 3, 1]);
        let v = to_heads(&mut b, "v", &[0, 2, 1, 3]);
        let scores = b.node("MatMul", &[&q, &k], &format!("{p}.attn/scores"), vec![]);
        let scaled = b.node(
            "Mul",
            &[&scores, &scale],
            &format!("{p}.attn/scaled"),
            vec![],
        );
        let causal = b.node(
            "Where",
            &[&mask, &scaled, &masked],
            &format!("{p}.attn/causal"),
            vec![],
        );
        let probs = b.node(
            "Softmax",
            &[&causal],
            &format!("{p}.attn/probs"),
            vec![int_attr("axis", -1)],
        );
        let context = b.node(
            "MatMul",
            &[&probs, &v],
            &format!("{p}.attn/context"),
            vec![],
        );
        let merged_t = b.node(
            "Transpose",
            &[&context],
            &format!("{p}.attn/context_t"),
            vec![ints_attr("perm", &[0, 2, 1, 3])],
        );
        let merged = b.node(
            "Reshape",
            &[&merged_t, &merge_heads],
            &format!("{p}.attn/merged"),
            vec![],
        );
        let attn = b.matmul_add(&merged, &format!("{p}.attn.c_proj"), d, d);
        x = b.node("Add", &[&x, &attn], &format!("{p}/residual_1"), vec![]);
        let ln2 = b.layer_norm(&x, &format!("{p}.ln_2"), d);
        let fc = b.matmul_add(&ln2, &format!("{p}.mlp.c_fc"), d, 4 * d);
        let gelu = b.node(
            "Gelu",
            &[&fc],
            &format!("{p}.mlp/gelu"),
            vec![string_attr("approximate", "tanh")],
        );
        let mlp = b.matmul_add(&gelu, &format!("{p}.mlp.c_proj"), 4 * d, d);
        x = b.node("Add", &[&x, &mlp], &format!("{p}/residual_2"), vec![]);
    }
    let h = b.layer_norm(&x, "ln_f", d);
    let head_weight = b.node(
        "Transpose",
        &[&wte],
        "lm_head.weight",
        vec![ints_attr("perm", &[1, 0])],
    );
    b.node("MatMul", &[&h, &head_weight], "logits", vec![]);

    let graph = GraphProto {
        name: "gpt2".to_owned(),
        node: b.nodes,
        initializer: b.constants,
        input: vec![tensor_value("input_ids", INT64, Some(&["batch", "seq"]))],
        output: vec![tensor_value(
            "logits",
            FLOAT,
            Some(&["batch", "seq", &vocab.to_string()]),
        )],
        ..Default::default()
    };
    (graph, b.weights)
}

// ---- writing -----------------------------------------------------------------------------------

/// The weight pattern: a ramp of small float32 values with a period of 1021 elements (prime,
/// so it does not line up with the power-of-two dims), written a period at a time.
fn write_pattern(out: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    const PERIOD: usize = 1021;
    let period: Vec<u8> = (0..PERIOD)
        .flat_map(|i| ((i as f32 - 510.0) / 4096.0).to_le_bytes())
        .collect();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(period.len() as u64) as usize;
        out.write_all(&period[..n])?;
        left -= n as u64;
    }
    Ok(())
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.to_owned(),
        value: value.to_owned(),
        ..Default::default()
    }
}

/// The files of one written variant.
#[derive(Debug)]
pub(crate) struct Written {
    pub variant: Variant,
    pub model: PathBuf,
    pub model_bytes: u64,
    /// The external data file the model points at, and its size if it exists.
    pub weights: Option<(PathBuf, Option<u64>)>,
}

/// Writes `cfg` as `dir/gpt2_<variant>.onnx` (and for `external` its weights file).
pub(crate) fn write_variant(dir: &Path, cfg: &Gpt2, variant: Variant) -> Result<Written> {
    let (mut graph, weights) = graph(cfg);
    let stem = format!("gpt2_{}", variant.name());
    let model_path = dir.join(format!("{stem}.onnx"));
    let weights_name = format!("{stem}.weights");
    let weights_path = dir.join(&weights_name);
    let mut weights_file = match variant {
        Variant::External => Some(BufWriter::with_capacity(
            1 << 20,
            File::create(&weights_path)
                .with_context(|| format!("{}: cannot create", weights_path.display()))?,
        )),
        Variant::Inline | Variant::None => {
            // `none` must point at nothing.
            let _ = std::fs::remove_file(&weights_path);
            None
        }
    };
    let mut offset = 0u64;
    for w in &weights {
        let mut tensor = TensorProto {
            name: w.name.clone(),
            dims: w.dims.clone(),
            data_type: FLOAT,
            ..Default::default()
        };
        let length = w.bytes();
        if variant == Variant::Inline {
            let mut raw = Vec::with_capacity(length as usize);
            write_pattern(&mut raw, length)?;
            tensor.raw_data = raw;
        } else {
            tensor.data_location = EnumOrUnknown::new(DataLocation::EXTERNAL);
            tensor.external_data = vec![
                entry("location", &weights_name),
                entry("offset", &offset.to_string()),
                entry("length", &length.to_string()),
            ];
            if let Some(out) = weights_file.as_mut() {
                write_pattern(out, length)
                    .with_context(|| format!("{}: cannot write", weights_path.display()))?;
            }
            offset += length;
        }
        graph.initializer.push(tensor);
    }
    if let Some(out) = weights_file {
        out.into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: cannot write", weights_path.display()))?;
    }
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "flopscope xtask bench-weights".to_owned(),
        graph: Some(graph).into(),
        ..Default::default()
    };
    let mut out = BufWriter::with_capacity(
        1 << 20,
        File::create(&model_path)
            .with_context(|| format!("{}: cannot create", model_path.display()))?,
    );
    model
        .write_to_writer(&mut out)
        .with_context(|| format!("{}: cannot write", model_path.display()))?;
    out.flush()
        .with_context(|| format!("{}: cannot write", model_path.display()))?;
    drop(out);
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    Ok(Written {
        variant,
        model_bytes: size(&model_path).unwrap_or(0),
        weights: (variant != Variant::Inline).then(|| (weights_path.clone(), size(&weights_path))),
        model: model_path,
    })
}

// ---- the run -----------------------------------------------------------------------------------

/// The task's options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub out: PathBuf,
    pub runs: usize,
    pub markdown: Option<PathBuf>,
    /// Keep the written models (else they are removed at the end).
    pub keep: bool,
}

/// One variant's result.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub variant: Variant,
    pub files: String,
    pub cell: Cell,
    pub params: Option<i64>,
    pub macs: Option<i64>,
}

/// `497.8 MB`.
fn megabytes(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} KB", bytes as f64 / 1e3)
    }
}

/// `124,439,808`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn files_text(w: &Written) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let model = format!("{} {}", name(&w.model), megabytes(w.model_bytes));
    match &w.weights {
        None => model,
        Some((path, Some(bytes))) => format!("{model} + {} {}", name(path), megabytes(*bytes)),
        Some((path, None)) => format!("{model} ({} absent)", name(path)),
    }
}

const HEADER: [&str; 7] = [
    "Variant", "Files", "Time", "CPU time", "Peak RSS", "Params", "MACs",
];

/// The table, the Markdown and whether every target was met.
pub(crate) fn render(
    rows: &[Row],
    cfg: &Gpt2,
    seq: i64,
    runs: usize,
) -> (String, String, Vec<String>) {
    let check = |got: Option<i64>, want: i64| match got {
        Some(g) if g == want => format!("{} ✓", grouped(g)),
        Some(g) => format!("{} ✗ (hand formula {})", grouped(g), grouped(want)),
        None => "-".to_owned(),
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (time, cpu, rss) = match &r.cell {
                Cell::Measured {
                    wall,
                    peak_rss,
                    cpu,
                } => (ms(*wall), ms(*cpu), mib(*peak_rss)),
                Cell::Failed(e) => (format!("failed: {e}"), "-".to_owned(), "-".to_owned()),
            };
            vec![
                r.variant.name().to_owned(),
                r.files.clone(),
                time,
                cpu,
                rss,
                check(r.params, cfg.params()),
                check(r.macs, cfg.macs(seq)),
            ]
        })
        .collect();

    let mut problems = Vec::new();
    for r in rows {
        let name = r.variant.name();
        match r.cell.measured() {
            Some((wall, rss)) => {
                if wall >= TARGET_TIME {
                    problems.push(format!("{name}: {} is not under 50 ms", ms(wall)));
                }
                if rss >= TARGET_RSS {
                    problems.push(format!("{name}: {} is not under 64 MiB", mib(rss)));
                }
            }
            None => problems.push(format!("{name}: flopscope failed")),
        }
        if r.params != Some(cfg.params()) || r.macs != Some(cfg.macs(seq)) {
            problems.push(format!(
                "{name}: params or MACs differ from the hand formulas"
            ));
        }
    }
    let measured: Vec<(Duration, u64)> = rows.iter().filter_map(|r| r.cell.measured()).collect();
    let mut notes = vec![format!(
        "GPT-2 small (vocab {}, context {}, d_model {}, {} layers, {} heads) at input_ids=1x{seq}; \
         time, CPU time (user + system) and peak RSS are medians of {runs} runs after a warm-up, the three variants taking turns; params and MACs against the \
         hand formulas V·d + C·d + L·(12d² + 13d) + 2d and L·(12·s·d² + 2·s²·d) + s·d·V",
        cfg.vocab, cfg.context, cfg.d_model, cfg.layers, cfg.heads
    )];
    if measured.len() > 1 {
        let walls: Vec<f64> = measured.iter().map(|m| m.0.as_secs_f64()).collect();
        let rss: Vec<f64> = measured.iter().map(|m| m.1 as f64).collect();
        let ratio = |v: &[f64]| {
            v.iter().copied().fold(f64::MIN, f64::max) / v.iter().copied().fold(f64::MAX, f64::min)
        };
        notes.push(format!(
            "slowest ÷ fastest variant: time {:.2}×, peak RSS {:.2}×",
            ratio(&walls),
            ratio(&rss)
        ));
    }
    notes.push(if problems.is_empty() {
        "targets (under 50 ms and 64 MiB, exact params and MACs): met by all three variants"
            .to_owned()
    } else {
        format!("targets missed: {}", problems.join("; "))
    });

    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(HEADER.to_vec());
    for r in &cells {
        t.add_row(r.clone());
    }
    for c in 2..HEADER.len() {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut table = t.to_string();
    table.push('\n');
    for n in &notes {
        let _ = writeln!(table, "{n}");
    }

    let mut markdown = String::from("## Weights never read: GPT-2 small, three ways\n\n");
    let _ = writeln!(
        markdown,
        "| {} |\n|---|---|---:|---:|---:|---:|---:|",
        HEADER.join(" | ")
    );
    for r in &cells {
        let _ = writeln!(markdown, "| {} |", r.join(" | ").replace('\n', " "));
    }
    markdown.push('\n');
    for n in &notes {
        let _ = writeln!(markdown, "- {n}");
    }
    (table, markdown, problems)
}

/// Profiles `model` once, keeping the JSON report: its params and MACs.
fn profiled_totals(flopscope: &Path, model: &Path, seq: i64) -> Result<(i64, i64)> {
    let out = Command::new(flopscope)
        .arg("profile")
        .arg(model)
        .args(["--input", &format!("input_ids=1x{seq}"), "--format", "json"])
        .output()
        .context("cannot run flopscope")?;
    if !out.status.success() {
        bail!(
            "flopscope failed on {}: {}",
            model.display(),
            measure::error_line(&String::from_utf8_lossy(&out.stderr), "no message")
        );
    }
    let report: flopscope_report::Report = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{}: flopscope's report is not JSON", model.display()))?;
    if !report.uncounted.is_empty() {
        bail!("{}: some nodes are uncounted", model.display());
    }
    match (report.totals.params.as_i64(), report.totals.macs.as_i64()) {
        (Some(params), Some(macs)) => Ok((params, macs)),
        _ => bail!("{}: params or MACs are not numbers", model.display()),
    }
}

/// Runs the task: writes, checks, measures.
pub(crate) fn run(opts: &Options) -> Result<(String, String)> {
    if opts.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let cfg = Gpt2::SMALL;
    let seq = cfg.context;
    let flopscope = measure::build_flopscope()?;
    let helper = std::env::current_exe().context("cannot find the xtask binary")?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("{}: cannot create", opts.out.display()))?;

    let mut written = Vec::new();
    for variant in Variant::ALL {
        let start = Instant::now();
        let w = write_variant(&opts.out, &cfg, variant)?;
        eprintln!(
            "wrote {} in {:.1} s",
            files_text(&w),
            start.elapsed().as_secs_f64()
        );
        written.push(w);
    }

    let load_before = measure::machine_load();
    let mut totals = Vec::new();
    let mut commands: Vec<Vec<OsString>> = Vec::new();
    for w in &written {
        totals.push(profiled_totals(&flopscope, &w.model, seq)?);
        commands.push(vec![
            flopscope.clone().into(),
            "profile".into(),
            w.model.clone().into(),
            "--input".into(),
            format!("input_ids=1x{seq}").into(),
            "--format".into(),
            "json".into(),
        ]);
    }
    // The variants take turns, so a slow spell of the machine touches all three alike.
    let cells = measure::sample_interleaved(opts.runs, commands.len(), |i| {
        measure::measure(&helper, &commands[i])
    })?;
    let rows: Vec<Row> = written
        .iter()
        .zip(totals)
        .zip(cells)
        .map(|((w, (params, macs)), cell)| Row {
            variant: w.variant,
            files: files_text(w),
            cell,
            params: Some(params),
            macs: Some(macs),
        })
        .collect();
    if !opts.keep {
        for w in &written {
            let _ = std::fs::remove_file(&w.model);
            if let Some((path, _)) = &w.weights {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let (mut table, mut markdown, problems) = render(&rows, &cfg, seq, opts.runs);
    let machine = format!(
        "machine: before the runs {load_before}; after them {}",
        measure::machine_load()
    );
    let _ = writeln!(table, "{machine}");
    let _ = writeln!(markdown, "- {machine}");
    if let Some(path) = &opts.markdown {
        std::fs::write(path, &markdown)
            .with_context(|| format!("{}: cannot write the file", path.display()))?;
    }
    if problems.iter().any(|p| p.contains("hand formulas")) {
        print!("{table}");
        bail!("flopscope's params or MACs differ from the hand formulas");
    }
    Ok((table, markdown))
}

/// The arguments of `cargo xtask bench-weights`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Timed runs per variant, after one warm-up run.
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<std::path::PathBuf>,
    /// Where to write the models [default: target/bench-weights].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// Keep the written models (about 1 GB) instead of removing them at the end.
    #[arg(long)]
    pub(crate) keep: bool,
}

/// `cargo xtask bench-weights`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        runs,
        markdown,
        out,
        keep,
    } = args;
    let options = crate::bench_weights::Options {
        out: out.unwrap_or_else(|| crate::workspace_root().join("target/bench-weights")),
        runs,
        markdown,
        keep,
    };
    let (table, _) = crate::bench_weights::run(&options)?;
    print!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use flopscope::counters::ProfileOptions;
    use flopscope_ir::Dim;

    use super::*;

    const TINY: Gpt2 = Gpt2 {
        vocab: 97,
        context: 16,
        d_model: 8,
        layers: 2,
        heads: 2,
    };

    #[test]
    fn hand_formulas_at_gpt2_small() {
        // GPT-2 small's published size: 124M parameters (124,439,808 with the LM head tied).
        let p = Gpt2::SMALL.params();
        assert!((124_000_000..125_000_000).contains(&p), "{p}");
        assert_eq!(grouped(p), "124,439,808");
        assert_eq!(grouped(-1234), "-1,234");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn every_variant_profiles_to_the_hand_formulas() {
        let dir =
            std::env::temp_dir().join(format!("flopscope-bench-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let seq = 12;
        let options = ProfileOptions {
            inputs: [("input_ids".to_owned(), vec![Dim::from(1), Dim::from(seq)])].into(),
            ..Default::default()
        };
        for variant in Variant::ALL {
            let w = write_variant(&dir, &TINY, variant).unwrap();
            let weight_bytes = TINY.params() as u64 * 4;
            match (variant, &w.weights) {
                (Variant::External, Some((_, Some(bytes)))) => assert_eq!(*bytes, weight_bytes),
                (Variant::None, Some((path, None))) => assert!(!path.exists()),
                (Variant::Inline, None) => assert!(w.model_bytes > weight_bytes),
                other => panic!("unexpected files {other:?}"),
            }
            let report = flopscope::report_file(&w.model, &options).unwrap();
            assert!(report.uncounted.is_empty(), "{:?}", report.uncounted);
            assert_eq!(
                report.totals.params.as_i64(),
                Some(TINY.params()),
                "{variant:?}"
            );
            assert_eq!(
                report.totals.macs.as_i64(),
                Some(TINY.macs(seq)),
                "{variant:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_pattern_has_the_asked_length() {
        let mut out = Vec::new();
        write_pattern(&mut out, 10_000).unwrap();
        assert_eq!(out.len(), 10_000);
        assert_eq!(out[..4], (-510.0f32 / 4096.0).to_le_bytes());
        assert_eq!(out[4084..4088], out[..4]);
    }

    #[test]
    fn a_missed_target_is_reported() {
        let row = |variant, ms: u64, mib: u64| Row {
            variant,
            files: "f".to_owned(),
            cell: Cell::Measured {
                wall: Duration::from_millis(ms),
                peak_rss: mib << 20,
                cpu: Duration::from_millis(ms / 2),
            },
            params: Some(TINY.params()),
            macs: Some(TINY.macs(16)),
        };
        let (table, markdown, problems) = render(
            &[
                row(Variant::External, 10, 10),
                row(Variant::Inline, 60, 10),
                row(Variant::None, 10, 20),
            ],
            &TINY,
            16,
            5,
        );
        assert_eq!(problems, ["inline: 60.0 ms is not under 50 ms"]);
        assert!(table.contains("slowest ÷ fastest variant: time 6.00×, peak RSS 2.00×"));
        assert!(markdown.contains("| inline | f | 60.0 ms | 30.0 ms | 10.0 MiB |"));
        let (_, _, problems) = render(
            &[Row {
                params: Some(1),
                ..row(Variant::External, 10, 10)
            }],
            &TINY,
            16,
            5,
        );
        assert_eq!(
            problems,
            ["external: params or MACs differ from the hand formulas"]
        );
    }
}
