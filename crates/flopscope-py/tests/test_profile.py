"""flopscope from Python: the Rust engine's numbers through the PyO3 layer.

Expected figures are hand formulas written here, ONNX Runtime's dense MACs and the PyTorch
tools' counts recorded in ../shared/zoo/ANCHORS.json (tests that need ../shared are skipped,
with the reason, where it is missing; .ci/run sets FLOPSCOPE_REQUIRE_SHARED=1 to fail instead).
"""

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import flopscope

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures"
MOBILENET = FIXTURES / "models" / "mobilenet_v2.onnx"
SHARED = Path(os.environ.get("FLOPSCOPE_SHARED", ROOT.parent / "shared"))


def shared():
    if (SHARED / "zoo" / "ANCHORS.json").is_file():
        return SHARED
    if os.environ.get("FLOPSCOPE_REQUIRE_SHARED") == "1":
        pytest.fail(f"FLOPSCOPE_REQUIRE_SHARED=1 but {SHARED} has no zoo/ANCHORS.json")
    pytest.skip(f"needs ../shared (the shared model zoo): {SHARED} not found")


def test_concrete_totals_are_ints():
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    t = r.totals
    assert t["macs"] == 300_774_272  # ONNX Runtime's dense MACs (ANCHORS.json)
    assert isinstance(t["params"], int) and t["params"] > 3_000_000
    assert t["flops"] >= 2 * t["macs"]
    assert t["lower_bound"] is False
    assert r.uncounted == []


def test_path_bytes_and_str_give_the_same_report():
    a = flopscope.profile(str(MOBILENET), dims={"batch": 2, "height": 160, "width": 192})
    b = flopscope.profile(MOBILENET.read_bytes(), dims={"batch": 2, "height": 160, "width": 192})
    assert a.totals == b.totals or {k: v for k, v in a.totals.items()} == dict(b.totals)


def test_a_model_proto_is_accepted_without_flopscope_importing_onnx():
    onnx = pytest.importorskip("onnx", reason="needs the onnx package for a ModelProto")
    proto = onnx.load(str(MOBILENET), load_external_data=False)
    r = flopscope.profile(proto, inputs={"input": (1, 3, 224, 224)})
    assert r.totals["macs"] == 300_774_272


def test_formulas_evaluate_to_the_concrete_profile():
    symbolic = flopscope.profile(MOBILENET)
    macs = symbolic.totals["macs"]
    assert isinstance(macs, flopscope.Formula)
    assert macs.symbols == ["batch", "height", "width"]
    for batch, h, w in [(1, 224, 224), (3, 193, 257), (32, 320, 320)]:
        concrete = flopscope.profile(MOBILENET, inputs={"input": (batch, 3, h, w)})
        assert macs(batch=batch, height=h, width=w) == concrete.totals["macs"]
        assert macs.evaluate(batch=batch, height=h, width=w) == concrete.totals["macs"]
    # Parameters never move with the input size.
    assert symbolic.totals["params"] == flopscope.profile(
        MOBILENET, inputs={"input": (1, 3, 224, 224)}
    ).totals["params"]
    with pytest.raises(ValueError, match="height"):
        macs(batch=1)


def test_a_dim_may_stay_named():
    r = flopscope.profile(MOBILENET, inputs={"input": ("batch", 3, 224, 224)})
    macs = r.totals["macs"]
    assert str(macs) == "300774272*batch"
    assert macs(batch=32) == 32 * 300_774_272


def test_to_dict_is_the_schema_v1_json():
    jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema to validate")
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    d = r.to_dict()
    jsonschema.validate(d, schema)
    assert d["schema_version"] == 1
    assert d == json.loads(r.to_json())
    assert len(r.nodes) == len(d["nodes"]) > 100
    assert r.modules["macs"] == 300_774_272


def test_an_op_without_a_counter_is_named_not_zeroed():
    model = FIXTURES / "models" / "fused_mlp.onnx"
    r = flopscope.profile(model, inputs={"X": (1, 16, 64)})
    assert [u["op_type"] for u in r.uncounted] == ["FusedMLP"]
    assert r.totals["lower_bound"] is True
    declared = flopscope.profile(
        model, inputs={"X": (1, 16, 64)}, op_costs=FIXTURES / "op-costs" / "fused_mlp.toml"
    )
    assert declared.uncounted == []
    # macs = M·(K·H + H·N) with M = 16, K = 64, H = 256, N = 64.
    assert declared.totals["macs"] == 16 * (64 * 256 + 256 * 64)


def test_bad_input_raises_flopscope_error():
    with pytest.raises(flopscope.Error, match="no-such.onnx"):
        flopscope.profile("no-such.onnx")
    with pytest.raises(flopscope.Error, match="not a valid ONNX model"):
        flopscope.profile(b"\x08\x01\x12garbage")
    with pytest.raises(TypeError):
        flopscope.profile(42)
    with pytest.raises(ValueError, match="unknown convention"):
        flopscope.profile(MOBILENET, convention="nope")


def test_a_node_error_names_the_node_and_op():
    bad = FIXTURES / "hostile" / "reshape_wrong_count.onnx"
    if not bad.is_file():
        candidates = sorted((FIXTURES / "hostile").glob("*.onnx"))
        bad = None
        for c in candidates:
            try:
                flopscope.profile(c)
            except flopscope.Error as e:
                if e.node is not None:
                    bad = c
                    break
        assert bad is not None, "a hostile fixture fails at a node"
    with pytest.raises(flopscope.Error) as info:
        flopscope.profile(bad)
    assert info.value.node is not None and info.value.op is not None
    assert f"`{info.value.node}`" in str(info.value)


def test_renderings(tmp_path):
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    assert "300.77 MMACs" in r.table()
    assert r.table(view="tree", format="csv").startswith("Depth,Path,Module")
    assert r.table(view="ops", format="markdown").count("|") > 10
    # A notebook shows the page `save` writes, in an iframe of its own.
    frame = r._repr_html_()
    assert frame.startswith('<iframe srcdoc="') and frame.endswith("></iframe>")
    srcdoc = frame[len('<iframe srcdoc="') : frame.index('" title=')]
    page = tmp_path / "page.html"
    r.save(page)
    assert html.unescape(srcdoc) == page.read_text()
    with pytest.raises(ValueError, match="unknown view"):
        r.table(view="nope")


def test_save_by_extension(tmp_path):
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    for ext, needle in [("json", '"schema_version"'), ("html", "<html"), ("csv", "Layer"),
                        ("md", "|"), ("svg", "<svg")]:
        path = tmp_path / f"report.{ext}"
        r.save(path)
        assert needle in path.read_text(), ext
    with pytest.raises(ValueError, match="extension"):
        r.save(tmp_path / "report.txt")


def test_ops_lists_every_record_with_its_class():
    ops = flopscope.ops()
    conv = [o for o in ops if o["op_type"] == "Conv" and o["domain"] == "ai.onnx"]
    assert conv and conv[0]["class"] == "conv"
    assert len(ops) > 200


def test_python_dash_m_runs_the_cli():
    run = subprocess.run([sys.executable, "-m", "flopscope", "ops", "--format", "json"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)) == len(flopscope.ops())
    bad = subprocess.run([sys.executable, "-m", "flopscope", "profile"], capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2


def test_the_seed_study_params_and_thop():
    zoo = shared() / "zoo"
    anchors = json.loads((zoo / "ANCHORS.json").read_text())["mobilenet_v2"]
    model = zoo / "mobilenet_v2_bn.onnx"  # BatchNorm kept, as PyTorch runs it
    dense = {tuple(o["inputs"]["input"]): o["dense_macs"] for o in anchors["onnxruntime"]}
    assert len(anchors["cases"]) == 4
    for case in anchors["cases"]:
        shape = (case["batch"], 3, case["size"], case["size"])
        r = flopscope.profile(model, inputs={"input": shape}, convention="thop")
        assert r.totals["macs"] == dense[shape], shape
        assert r.totals["params"] == case["torch_params"] == 3_504_872
        assert r.totals["buffers"] == case["torch_buffers"] == 34_112
        assert r.to_dict()["convention"]["total"] == case["thop_macs"], shape


def test_sweep_is_the_batch_times_resolution_study():
    s = flopscope.sweep(MOBILENET, dims={"batch": [1, 32]}, sizes=[224, 320])
    rows = {(r["values"][0], r["values"][1]): r for r in s["rows"]}
    assert rows[("1", "224")]["macs"] == 300_774_272
    assert rows[("32", "320")]["macs"] == 19_599_769_600  # ONNX Runtime's dense MACs
    # Parameters never move; MACs are linear in the batch.
    assert len({r["params"] for r in s["rows"]}) == 1
    assert rows[("32", "224")]["macs"] == 32 * rows[("1", "224")]["macs"]
    with pytest.raises(flopscope.Error, match="sweep has no axis"):
        flopscope.sweep(MOBILENET)


def test_diff_and_compare_are_data():
    bn = FIXTURES / "models" / "mobilenet_v2_bn.onnx"
    d = flopscope.diff(MOBILENET, bn, inputs={"input": (1, 3, 224, 224)})
    totals = {t["key"]: t for t in d["totals"]}
    # Same convolutions: the BatchNorm-kept model adds only BatchNormalization's arithmetic.
    assert totals["macs"]["delta"] == 0
    assert totals["params"]["delta"] > 0
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    c = flopscope.compare(r)
    by_tool = {x["convention"]: x for x in c["conventions"]}
    assert by_tool["flopscope"]["total"] == r.totals["flops"]
    assert set(by_tool) >= {"thop", "ptflops", "fvcore", "torch", "onnx-tool"}
    assert c == flopscope.compare(MOBILENET, inputs={"input": (1, 3, 224, 224)})


def test_to_pandas_gives_the_view_as_a_frame():
    pd = pytest.importorskip("pandas", reason="needs pandas for Report.to_pandas")
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    layers = r.to_pandas()
    assert isinstance(layers, pd.DataFrame)
    macs_column = [c for c in layers.columns if c == "MACs"][0]
    assert layers[macs_column].sum() == r.totals["macs"]
    ops = r.to_pandas(view="ops")
    assert ops.iloc[0]["Op"] == "Conv"


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)})
    with pytest.raises(ImportError, match="pip install pandas"):
        r.to_pandas()


def test_generate_prices_prefill_and_decode():
    """tiny_llama_kv: per token 1,896,448 MACs of projections, MLP and lm_head, and 1024 per
    position attended (2 layers · QKᵀ and AV · 8 heads · 32)."""
    llama = FIXTURES / "models" / "tiny_llama_kv.onnx"
    p, n, b = 100, 20, 3

    def one_pass(seq, past):
        return b * seq * (1_896_448 + 1024 * (past + seq))

    r = flopscope.generate(llama, prompt=p, new_tokens=n, batch=b)
    g = r.generation
    assert g["prefill"]["macs"] == one_pass(p, 0)
    assert g["decode"]["macs"] == sum(one_pass(1, p + i - 1) for i in range(1, n))
    assert g["total"]["macs"] == g["prefill"]["macs"] + g["decode"]["macs"]
    assert g["kv_cache_bytes"] == 2 * 2 * b * 2 * (p + n - 1) * 32 * 4
    assert len(g["decode_steps"]) == n - 1
    assert flopscope.profile(llama).generation is None
    with pytest.raises(flopscope.Error, match="recomputes every step"):
        flopscope.generate(FIXTURES / "models" / "tiny_gpt2.onnx", prompt=8, new_tokens=4)


def test_hardware_estimates_from_python():
    r = flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)}, hardware="h100-sxm")
    h = r.hardware
    assert h["name"] == "h100-sxm" and h["peak_flops_per_s"]["bf16"] == 989.4e12
    assert h["time_s"] > 0 and "not measured" in h["note"]
    assert all("estimate" in n for n in r.nodes if n["counted"] and not n["constant"])
    g = flopscope.generate(FIXTURES / "models" / "tiny_llama_kv.onnx", prompt=64, new_tokens=8,
                           hardware="l4").generation
    assert g["time"]["first_token_s"] > 0 and g["memory"]["fits"]
    with pytest.raises(flopscope.Error, match="unknown hardware"):
        flopscope.profile(MOBILENET, inputs={"input": (1, 3, 224, 224)}, hardware="tpu-v9")
