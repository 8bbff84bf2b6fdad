//! `flopscope generate`: a generation's prefill, decode and total against hand formulas written
//! from the architecture, and the closed-form sums against step-by-step profiles.

use std::process::ExitCode;

use flopscope::counters::ProfileOptions;
use flopscope::generate::{GenerateRequest, generate};
use flopscope::ir::Dim;
use serde_json::Value;
use tests::{fixture, flopscope};

const LLAMA: &str = "models/tiny_llama_kv.onnx";

/// tiny_llama_kv: 2 layers, hidden 256, 8 query heads and 2 KV heads of 32, MLP 688, vocab
/// 2000. Per token: q and o 256·256, k and v 256·64, gate and up 256·688, down 688·256 per
/// layer, then lm_head 256·2000. Attention per layer: QKᵀ and AV, 8 heads · 32 · positions.
fn llama_pass(batch: i64, seq: i64, past: i64) -> i64 {
    let (h, kv, mlp, vocab, layers) = (256, 64, 688, 2000, 2);
    let linear = layers * (2 * h * h + 2 * h * kv + 3 * h * mlp) + h * vocab;
    assert_eq!(linear, 1_896_448);
    let attention = layers * 2 * h * (past + seq);
    batch * seq * (linear + attention)
}

fn request(prompt: i64, new_tokens: i64, batch: i64) -> GenerateRequest {
    GenerateRequest {
        prompt,
        new_tokens,
        batch,
        ..GenerateRequest::default()
    }
}

fn concrete(d: &Dim) -> i64 {
    d.as_i64().unwrap_or_else(|| panic!("not a number: {d}"))
}

#[test]
fn llama_prefill_decode_and_cache_follow_the_architecture() {
    let path = fixture(LLAMA);
    let model = flopscope::onnx::load(&path).expect("loads");
    for (p, n, b) in [(128, 64, 2), (1, 1, 1), (7, 2, 3), (2048, 256, 16)] {
        let report = generate(&path, &model, &request(p, n, b)).expect("prices");
        let g = report.generation.as_ref().expect("a generation");
        assert_eq!(g.past_dim.as_deref(), Some("past_seq"));
        assert_eq!(g.seq_dim, "seq");
        assert_eq!(g.cache_inputs.len(), 4);
        let prefill = llama_pass(b, p, 0);
        let decode: i64 = (1..n).map(|i| llama_pass(b, 1, p + i - 1)).sum();
        assert_eq!(
            concrete(&g.prefill.macs),
            prefill,
            "prefill at {p}, {n}, {b}"
        );
        assert_eq!(concrete(&g.decode.macs), decode, "decode at {p}, {n}, {b}");
        assert_eq!(concrete(&g.total.macs), prefill + decode);
        // 2 layers · (key, value) · batch · 2 KV heads · (P + N − 1) positions · 32 · 4 bytes.
        assert_eq!(g.kv_cache_bytes, 2 * 2 * b * 2 * (p + n - 1) * 32 * 4);
        assert_eq!(g.decode_steps.len(), usize::try_from(n - 1).unwrap());
        assert_eq!(g.summed, "closed form");
    }
}

/// A small linear congruential generator: random sizes, the same on every run.
fn lcg(state: &mut u64, below: i64) -> i64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    1 + i64::try_from((*state >> 33) % u64::try_from(below).unwrap()).unwrap()
}

#[test]
fn closed_form_sums_equal_step_by_step_profiles() {
    let path = fixture(LLAMA);
    let model = flopscope::onnx::load(&path).expect("loads");
    let at = |b: i64, seq: i64, past: i64| {
        let mut o = ProfileOptions::default();
        for (name, v) in [("batch", b), ("seq", seq), ("past_seq", past)] {
            o.dims.insert(name.into(), Dim::from_i64(v));
        }
        let p = flopscope::profile_model(&path, &model, &o).expect("profiles");
        (
            concrete(&p.totals.macs),
            concrete(&p.totals.total_flops()),
            concrete(&p.totals.bytes),
        )
    };
    let mut state = 7;
    for _ in 0..4 {
        let (p, n, b) = (lcg(&mut state, 60), lcg(&mut state, 12), lcg(&mut state, 4));
        let report = generate(&path, &model, &request(p, n, b)).expect("prices");
        let g = report.generation.expect("a generation");
        let prefill = at(b, p, 0);
        let mut decode = (0, 0, 0);
        for i in 1..n {
            let s = at(b, 1, p + i - 1);
            decode = (decode.0 + s.0, decode.1 + s.1, decode.2 + s.2);
            let step = &g.decode_steps[usize::try_from(i - 1).unwrap()];
            assert_eq!(
                (step.macs, step.flops, step.bytes),
                s,
                "step {i} at {p}, {n}, {b}"
            );
        }
        assert_eq!(
            (
                concrete(&g.prefill.macs),
                concrete(&g.prefill.flops),
                concrete(&g.prefill.bytes)
            ),
            prefill
        );
        assert_eq!(
            (
                concrete(&g.decode.macs),
                concrete(&g.decode.flops),
                concrete(&g.decode.bytes)
            ),
            decode,
            "decode at {p}, {n}, {b}"
        );
        assert_eq!(
            concrete(&g.total.bytes),
            prefill.2 + decode.2,
            "total at {p}, {n}, {b}"
        );
    }
}

/// Two more decoders exported with `xtask/llm/export_decoder.py` (weights absent): per token,
/// q and o h·h, k and v h·kv, the SiLU-gated MLP 3·h·mlp per layer, lm_head h·vocab; attention
/// QKᵀ and AV over heads·head_dim = h per position and layer.
fn decoder_pass(
    (h, kv, mlp, vocab, layers): (i64, i64, i64, i64, i64),
    batch: i64,
    seq: i64,
    past: i64,
) -> i64 {
    let linear = layers * (2 * h * h + 2 * h * kv + 3 * h * mlp) + h * vocab;
    batch * seq * (linear + layers * 2 * h * (past + seq))
}

#[test]
fn other_kv_head_counts_and_an_fp16_cache() {
    // 3 layers, hidden 192, 6 heads and 6 KV heads of 32 (no grouping), fp32 cache;
    // 2 layers, hidden 256, 4 heads and 1 KV head of 64 (multi-query), fp16 weights and cache.
    for (file, dims, kv_heads, head_dim, bytes) in [
        (
            "exports/llama_mha3_dynamo_kv.onnx",
            (192, 192, 512, 1500, 3),
            6,
            32,
            4,
        ),
        (
            "exports/llama_mqa_fp16_dynamo_kv.onnx",
            (256, 64, 640, 1000, 2),
            1,
            64,
            2,
        ),
    ] {
        let path = fixture(file);
        let model = flopscope::onnx::load(&path).expect("loads");
        let layers = dims.4;
        for (p, n, b) in [(64, 16, 1), (300, 40, 8)] {
            let report = generate(&path, &model, &request(p, n, b)).expect("prices");
            let g = report.generation.expect("a generation");
            let prefill = decoder_pass(dims, b, p, 0);
            let decode: i64 = (1..n).map(|i| decoder_pass(dims, b, 1, p + i - 1)).sum();
            assert_eq!(concrete(&g.prefill.macs), prefill, "{file} prefill");
            assert_eq!(concrete(&g.decode.macs), decode, "{file} decode");
            assert_eq!(concrete(&g.total.macs), prefill + decode, "{file} total");
            let kv = layers * 2 * b * kv_heads * (p + n - 1) * head_dim * bytes;
            assert_eq!(g.kv_cache_bytes, kv, "{file} cache");
        }
    }
}

#[test]
fn hardware_times_and_memory_fit() {
    let path = fixture(LLAMA);
    let model = flopscope::onnx::load(&path).expect("loads");
    // Bandwidth so high that every node is compute-bound at 1 TFLOP/s: a pass takes its
    // FLOPs (of the nodes that run: constants are folded) over 10¹² seconds.
    let hw = flopscope::report::Hardware::from_toml(
        "[[hardware]]\nname = \"t\"\nlabel = \"test\"\npeak_tflops = { fp32 = 1.0 }\n\
         bandwidth_gb_s = 1e12\nmemory_gb = 0.2\nsource = \"this test\"\n",
        "test",
    )
    .expect("parses")
    .remove(0);
    let (p, n, b) = (100, 8, 2);
    let report = generate(
        &path,
        &model,
        &GenerateRequest {
            hardware: Some(hw),
            ..request(p, n, b)
        },
    )
    .expect("prices");
    let g = report.generation.as_ref().expect("a generation");
    let t = g.time.as_ref().expect("times");
    let prefill_flops = concrete(&g.prefill.flops) as f64;
    // Within the FLOPs of folded constant nodes (tiny): RoPE tables and shape arithmetic.
    assert!(t.first_token_s <= prefill_flops / 1e12 * (1.0 + 1e-9));
    assert!(t.first_token_s >= prefill_flops / 1e12 * 0.999, "{t:?}");
    assert!(2.0 * llama_pass(b, p, 0) as f64 / 1e12 <= t.first_token_s);
    let decode_flops = concrete(&g.decode.flops) as f64;
    assert!((t.decode_s - decode_flops / 1e12).abs() <= decode_flops / 1e12 * 1e-3);
    assert!((t.per_token_s - t.decode_s / 7.0).abs() < 1e-15);
    assert!((t.tokens_per_s - 2.0 / t.per_token_s).abs() < 1e-6);
    // 0.2 GB: the largest batch that fits fits, one more does not.
    let m = g.memory.as_ref().expect("memory");
    assert_eq!(
        m.needed_bytes,
        m.weight_bytes + m.kv_cache_bytes + m.peak_activation_bytes
    );
    let needed = |batch: i64| {
        let r = generate(&path, &model, &request(p, n, batch)).expect("prices");
        let g = r.generation.expect("a generation");
        let peak = concrete(&g.total.peak_activation_bytes);
        g.weight_bytes + g.kv_cache_bytes + peak
    };
    assert!(m.max_batch >= 1);
    assert!(needed(m.max_batch) as f64 <= 0.2e9);
    assert!(needed(m.max_batch + 1) as f64 > 0.2e9);
}

#[test]
fn recompute_prices_growing_whole_passes() {
    let path = fixture(LLAMA);
    let model = flopscope::onnx::load(&path).expect("loads");
    let (p, n, b) = (16, 5, 2);
    let report = generate(
        &path,
        &model,
        &GenerateRequest {
            recompute: true,
            ..request(p, n, b)
        },
    )
    .expect("prices");
    let g = report.generation.expect("a generation");
    let decode: i64 = (1..n).map(|i| llama_pass(b, p + i, 0)).sum();
    assert_eq!(concrete(&g.decode.macs), decode);
    assert_eq!(g.kv_cache_bytes, 0);
}

#[test]
fn the_cli_prints_the_table_and_writes_schema_json() {
    let model = fixture(LLAMA);
    let model = model.to_str().expect("utf-8 path");
    let run = flopscope(&[
        "generate",
        model,
        "--prompt",
        "128",
        "--new-tokens",
        "64",
        "--batch",
        "2",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(run.stdout.contains("Prefill"), "{}", run.stdout);
    assert!(run.stdout.contains("519.05 M"), "{}", run.stdout);
    let run = flopscope(&[
        "generate",
        model,
        "--prompt",
        "128",
        "--new-tokens",
        "64",
        "--format",
        "json",
    ]);
    assert!(run.success(), "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let g = &json["generation"];
    assert_eq!(g["prompt"], 128);
    let total = llama_pass(1, 128, 0) + (1..64).map(|i| llama_pass(1, 1, 127 + i)).sum::<i64>();
    assert_eq!(g["total"]["macs"], total);
    assert_eq!(g["decode_steps"].as_array().map(Vec::len), Some(63));
}

#[test]
fn a_model_without_a_cache_is_told_about_recompute() {
    let model = fixture("models/tiny_gpt2.onnx");
    let model = model.to_str().expect("utf-8 path");
    let args = ["generate", model, "--prompt", "8", "--new-tokens", "4"];
    let run = flopscope(&args);
    assert_eq!(run.code, ExitCode::from(1), "{}", run.stderr);
    assert!(run.stderr.contains("--recompute"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let mut with = args.to_vec();
    with.push("--recompute");
    let run = flopscope(&with);
    assert!(run.success(), "{}", run.stderr);
    let bad = flopscope(&["generate", model, "--prompt", "0", "--new-tokens", "4"]);
    assert_eq!(bad.code, ExitCode::from(2), "{}", bad.stderr);
}

#[test]
fn named_dims_can_be_given_and_a_wrong_name_is_refused() {
    let path = fixture(LLAMA);
    let model = flopscope::onnx::load(&path).expect("loads");
    let (p, n, b) = (40, 6, 2);
    let named = generate(
        &path,
        &model,
        &GenerateRequest {
            seq_dim: Some("seq".into()),
            past_dim: Some("past_seq".into()),
            ..request(p, n, b)
        },
    )
    .expect("prices");
    let g = named.generation.expect("a generation");
    let decode: i64 = (1..n).map(|i| llama_pass(b, 1, p + i - 1)).sum();
    assert_eq!(concrete(&g.decode.macs), decode);
    let e = generate(
        &path,
        &model,
        &GenerateRequest {
            past_dim: Some("cache_len".into()),
            ..request(p, n, b)
        },
    )
    .unwrap_err()
    .to_string();
    // The library names the dim; the command line adds the flag.
    assert!(e.contains("cached positions `cache_len`"), "{e}");
    assert!(!e.contains("--"), "a library error names no flag: {e}");
    let run = flopscope(&[
        "generate",
        path.to_str().expect("utf-8 path"),
        "--prompt",
        "40",
        "--new-tokens",
        "6",
        "--past-dim",
        "cache_len",
    ]);
    assert_eq!(run.code, ExitCode::from(1), "{}", run.stderr);
    assert!(run.stderr.contains("check --past-dim"), "{}", run.stderr);
}
