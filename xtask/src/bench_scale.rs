//! `cargo xtask bench-scale`: synthetic chains and wide graphs of 1k to 1M nodes, written in
//! memory and profiled; the time of each stage per node shows whether the pipeline is linear.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use flopscope_counters::ProfileOptions;
use flopscope_ir::DType;
use flopscope_onnx::write::{ConstantSpec, NodeSpec, ValueSpec, model_bytes, model_with_constants};
use flopscope_report::Report;

/// The shape of a synthetic graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// x → Relu → Relu → … → y.
    Chain,
    /// x → n Relus side by side → Sum → y.
    Wide,
    /// x → Add(b0) → Add(b1) → … → y, each Add with its own 16-float initializer: the
    /// parameter bookkeeping (initializers, their classes and owners) at scale.
    Weighted,
}

fn model(kind: Kind, n: usize) -> Vec<u8> {
    let v = |name: &str| ValueSpec::new(name, DType::Float32, &[1, 16]);
    let relu = |input: String, output: String| NodeSpec {
        op_type: "Relu".into(),
        inputs: vec![input],
        outputs: vec![output],
    };
    let link = |i: usize| {
        let input = if i == 0 {
            "x".into()
        } else {
            format!("v{}", i - 1)
        };
        let output = if i + 1 == n {
            "y".into()
        } else {
            format!("v{i}")
        };
        (input, output)
    };
    if kind == Kind::Weighted {
        let nodes: Vec<NodeSpec> = (0..n)
            .map(|i| {
                let (input, output) = link(i);
                NodeSpec {
                    op_type: "Add".into(),
                    inputs: vec![input, format!("b{i}")],
                    outputs: vec![output],
                }
            })
            .collect();
        let biases: Vec<ConstantSpec> = (0..n)
            .map(|i| ConstantSpec {
                name: format!("b{i}"),
                shape: vec![16],
                value: 0.5,
            })
            .collect();
        return model_with_constants("synthetic", 17, &[v("x")], &[v("y")], &nodes, &biases);
    }
    let nodes: Vec<NodeSpec> = match kind {
        Kind::Weighted => unreachable!("built above"),
        Kind::Chain => (0..n)
            .map(|i| {
                let (input, output) = link(i);
                relu(input, output)
            })
            .collect(),
        Kind::Wide => (0..n - 1)
            .map(|i| relu("x".into(), format!("v{i}")))
            .chain([NodeSpec {
                op_type: "Sum".into(),
                inputs: (0..n - 1).map(|i| format!("v{i}")).collect(),
                outputs: vec!["y".into()],
            }])
            .collect(),
    };
    model_bytes("synthetic", 17, &[v("x")], &[v("y")], &nodes)
}

/// One measured size.
struct Row {
    kind: Kind,
    nodes: usize,
    bytes: usize,
    decode: Duration,
    profile: Duration,
    report: Duration,
}

impl Row {
    fn total(&self) -> Duration {
        self.decode + self.profile + self.report
    }

    fn ns_per_node(&self) -> f64 {
        self.total().as_nanos() as f64 / self.nodes as f64
    }
}

/// The best of `runs` timings of one size (the machine is shared; the best is the least
/// disturbed).
fn measure(kind: Kind, n: usize, runs: usize) -> Result<Row> {
    let bytes = model(kind, n);
    let mut best: Option<Row> = None;
    for _ in 0..runs {
        let data = Bytes::from(bytes.clone());
        let t = Instant::now();
        let m = flopscope_onnx::load_bytes(data, Path::new("synthetic.onnx"))?;
        let decode = t.elapsed();
        let t = Instant::now();
        let p = flopscope_counters::profile(&m, &ProfileOptions::default())
            .context("profiling the synthetic model")?;
        let profile = t.elapsed();
        let t = Instant::now();
        let r = Report::new("synthetic.onnx", &m, &p);
        let report = t.elapsed();
        anyhow::ensure!(
            r.nodes.len() == n,
            "{} nodes reported, {n} built",
            r.nodes.len()
        );
        if kind == Kind::Weighted {
            // Every Add's 16-float bias is a parameter.
            let params = p.totals.params.as_i64();
            anyhow::ensure!(
                params == i64::try_from(16 * n).ok(),
                "{params:?} params counted, 16 × {n} built"
            );
        }
        let row = Row {
            kind,
            nodes: n,
            bytes: bytes.len(),
            decode,
            profile,
            report,
        };
        if best.as_ref().is_none_or(|b| row.total() < b.total()) {
            best = Some(row);
        }
    }
    best.context("no run")
}

/// Runs the benchmark at `sizes` (nodes) and prints the table; `only` picks one kind.
pub(crate) fn run(
    sizes: &[usize],
    only: Option<&str>,
    runs: usize,
    markdown: Option<&Path>,
) -> Result<()> {
    let mut rows = Vec::new();
    let kinds = match only {
        Some("chain") => vec![Kind::Chain],
        Some("wide") => vec![Kind::Wide],
        Some("weighted") => vec![Kind::Weighted],
        _ => vec![Kind::Chain, Kind::Wide, Kind::Weighted],
    };
    for kind in kinds {
        for &n in sizes {
            anyhow::ensure!(n >= 2, "a graph of {n} nodes is too small to time");
            let runs = if n >= 1_000_000 {
                1.max(runs / 3)
            } else {
                runs
            };
            rows.push(measure(kind, n, runs)?);
        }
    }
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "graph",
            "nodes",
            "file",
            "decode ms",
            "profile ms",
            "report ms",
            "total ms",
            "ns/node",
            "× 1k",
        ]);
    let mut md = String::from(
        "| graph | nodes | file | decode ms | profile ms | report ms | total ms | ns/node | × first |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let base = rows
            .iter()
            .find(|b| b.kind == r.kind)
            .map_or(1.0, Row::ns_per_node);
        let cells = vec![
            format!("{:?}", r.kind).to_lowercase(),
            r.nodes.to_string(),
            format!("{:.1} MB", r.bytes as f64 / 1e6),
            ms(r.decode),
            ms(r.profile),
            ms(r.report),
            ms(r.total()),
            format!("{:.0}", r.ns_per_node()),
            format!("{:.2}", r.ns_per_node() / base),
        ];
        let _ = writeln!(md, "| {} |", cells.join(" | "));
        t.add_row(cells);
    }
    for c in 1..9 {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{t}");
    println!(
        "ns/node is the time of decode + profile + report per node, best of {runs} runs; \
         × 1k is that figure over the smallest graph's: a flat column is linear growth."
    );
    if let Some(file) = markdown {
        std::fs::write(file, md).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

/// The arguments of `cargo xtask bench-scale`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Graph sizes, in nodes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    pub(crate) sizes: Vec<usize>,
    /// Only one kind of graph: Relu chains, wide Relu fans, or Add chains with an
    /// initializer each.
    #[arg(long, value_parser = ["chain", "wide", "weighted"])]
    pub(crate) only: Option<String>,
    /// Runs per size (the best is kept).
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<std::path::PathBuf>,
}

/// `cargo xtask bench-scale`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args {
        sizes,
        only,
        runs,
        markdown,
    } = args;
    crate::bench_scale::run(&sizes, only.as_deref(), runs.max(1), markdown.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_graphs_have_their_node_counts() {
        for kind in [Kind::Chain, Kind::Wide, Kind::Weighted] {
            let row = measure(kind, 1_000, 1).unwrap();
            assert_eq!(row.nodes, 1_000);
            assert!(row.ns_per_node() > 0.0);
        }
    }
}
