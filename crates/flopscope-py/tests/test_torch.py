"""flopscope.torch: a torch.nn.Module profiled through an in-memory ONNX export.

Expected figures are ONNX Runtime's dense MACs and the tools' counts recorded in
../shared/zoo/ANCHORS.json, hand formulas written here, and thop, ptflops and fvcore run in
this process. Without PyTorch (or those tools, or ../shared) the tests are skipped with the
reason; .ci/run sets FLOPSCOPE_REQUIRE_TORCH=1 and FLOPSCOPE_REQUIRE_SHARED=1 to fail instead.
"""

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import warnings

import pytest

import flopscope
from test_profile import shared


def need(module: str):
    """Imports `module`, else skips the test (fails it when FLOPSCOPE_REQUIRE_TORCH=1)."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        if os.environ.get("FLOPSCOPE_REQUIRE_TORCH") == "1":
            pytest.fail(f"FLOPSCOPE_REQUIRE_TORCH=1 but {module} cannot be imported: {e}")
        pytest.skip(f"needs {module} (pip install {module.split('.')[0]}): {e}")


@pytest.fixture(scope="module")
def torch():
    t = need("torch")
    t.manual_seed(0)
    return t


@pytest.fixture(scope="module")
def fstorch():
    need("torch")
    import flopscope.torch

    return flopscope.torch


def test_import_flopscope_never_imports_torch():
    code = "import sys, flopscope; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def mobilenet_v2(torch):
    torchvision = need("torchvision")
    return torchvision.models.mobilenet_v2()


def test_the_seed_study_from_a_torchvision_module(torch, fstorch):
    """MobileNetV2 at batch 1 or 32 and 224² or 320²: parameters never move, MACs are ONNX
    Runtime's at every size."""
    anchors = json.loads((shared() / "zoo" / "ANCHORS.json").read_text())["mobilenet_v2"]
    ort = {(c["inputs"]["input"][0], c["inputs"]["input"][2]): c["dense_macs"]
           for c in anchors["onnxruntime"]}
    model = mobilenet_v2(torch)
    Dim = torch.export.Dim
    dims = {0: Dim("batch"), 2: Dim("height", min=32), 3: Dim("width", min=32)}
    symbolic = fstorch.profile(model, torch.randn(2, 3, 224, 224), dynamic_shapes={"x": dims})
    macs = symbolic.totals["macs"]
    assert isinstance(macs, flopscope.Formula)
    assert macs.symbols == ["batch", "height", "width"]
    for batch in (1, 32):
        for size in (224, 320):
            assert macs(batch=batch, height=size, width=size) == ort[(batch, size)]
    # Parameters and buffers are PyTorch's own: BatchNorm kept, nothing folded. (The 52
    # `num_batches_tracked` counters are buffers the forward never reads.)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if not n.endswith("num_batches_tracked"))
    assert (params, buffers) == (3_504_872, 34_112)
    assert symbolic.totals["params"] == params and symbolic.totals["buffers"] == buffers
    # A concrete export gives the formula's value, and the same parameters.
    concrete = fstorch.profile(model, torch.randn(32, 3, 320, 320))
    assert concrete.totals["macs"] == ort[(32, 320)] == 19_599_769_600
    assert concrete.totals["params"] == params and concrete.totals["buffers"] == buffers
    # thop's own count at 1×3×320×320, as the anchors recorded it.
    thop = next(c["thop_macs"] for c in anchors["cases"] if (c["batch"], c["size"]) == (1, 320))
    assert fstorch.count(model, torch.randn(1, 3, 320, 320), convention="thop") == (
        int(thop), params)
    assert int(thop) == 667_008_000


def test_the_module_tree_is_named_modules(torch, fstorch):
    model = mobilenet_v2(torch)
    r = fstorch.profile(model, torch.randn(1, 3, 224, 224))
    names = {c["name"] for c in r.modules["children"]}
    assert {"features", "classifier"} <= names
    features = next(c for c in r.modules["children"] if c["name"] == "features")
    own = dict(model.named_modules())
    assert all(c["name"] in own for c in features["children"])
    assert features["params"] == sum(p.numel() for p in model.features.parameters())


def test_modes_are_restored_and_nothing_is_written(torch, fstorch, tmp_path, monkeypatch):
    model = mobilenet_v2(torch)
    model.train()
    model.features[0].eval()
    monkeypatch.chdir(tmp_path)
    fstorch.count(model, torch.randn(1, 3, 64, 64))
    assert model.training and model.features[1].training
    assert not model.features[0].training
    assert list(tmp_path.iterdir()) == []


def test_the_legacy_exporter_keeps_batchnorm_too(torch, fstorch):
    model = mobilenet_v2(torch)
    onnx = fstorch.export(model, torch.randn(1, 3, 224, 224), exporter="legacy")
    r = flopscope.profile(onnx)
    assert (r.totals["macs"], r.totals["params"], r.totals["buffers"]) == (
        300_774_272, 3_504_872, 34_112)


def test_example_inputs_are_checked(torch, fstorch):
    with pytest.raises(TypeError, match="example_inputs"):
        fstorch.profile(mobilenet_v2(torch), "an image")
    with pytest.raises(ValueError, match="exporter"):
        fstorch.export(mobilenet_v2(torch), torch.randn(1, 3, 64, 64), exporter="onnx")


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_count_gives_what_thop_ptflops_and_fvcore_give(torch, fstorch, name):
    torchvision = need("torchvision")
    thop = need("thop")
    ptflops = need("ptflops")
    fvcore = need("fvcore.nn")
    model = getattr(torchvision.models, name)().eval()
    x = torch.randn(1, 3, 224, 224)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        thop_macs, thop_params = thop.profile(copy.deepcopy(model), inputs=(x,), verbose=False)
        pt_macs, pt_params = ptflops.get_model_complexity_info(
            copy.deepcopy(model), (3, 224, 224), as_strings=False,
            print_per_layer_stat=False, backend="pytorch")
        analysis = fvcore.FlopCountAnalysis(copy.deepcopy(model), (x,))
        analysis.unsupported_ops_warnings(False)
        fv = analysis.total()
    assert fstorch.count(model, x, convention="thop") == (int(thop_macs), int(thop_params))
    assert fstorch.count(model, x, convention="ptflops") == (int(pt_macs), int(pt_params))
    assert fstorch.count(model, x, convention="fvcore")[0] == int(fv)


def test_a_huggingface_bert_with_named_inputs_and_dynamic_dims(torch, fstorch):
    transformers = need("transformers")
    h, inter, layers, vocab = 64, 128, 2, 1000
    config = transformers.BertConfig(
        vocab_size=vocab, hidden_size=h, num_hidden_layers=layers, num_attention_heads=4,
        intermediate_size=inter, max_position_embeddings=128)
    model = transformers.BertModel(config)
    inputs = {"input_ids": torch.randint(0, vocab, (2, 16)),
              "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    Dim = torch.export.Dim
    batch, seq = Dim("batch"), Dim("seq")
    shapes = {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}}
    r = fstorch.profile(model, inputs, dynamic_shapes=shapes)
    assert r.uncounted == []
    macs = r.totals["macs"]
    assert macs.symbols == ["batch", "seq"]
    for b, s in [(1, 7), (3, 33), (8, 128)]:
        # Per layer: Q, K, V and output projections, QKᵀ and AV over s positions, the MLP;
        # then the pooler on the first token.
        hand = b * (layers * (4 * s * h * h + 2 * s * s * h + 2 * s * h * inter) + h * h)
        assert macs(batch=b, seq=s) == hand
    assert r.totals["params"] == sum(p.numel() for p in model.parameters())


def test_a_huggingface_gpt2_with_its_tied_head(torch, fstorch):
    transformers = need("transformers")
    h, layers, vocab = 64, 2, 1000
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=vocab, n_embd=h, n_layer=layers, n_head=4, n_positions=128))
    assert model.config.use_cache
    ids = torch.randint(0, vocab, (1, 24))
    macs, params = fstorch.count(model, {"input_ids": ids})
    s = 24
    # Per layer: c_attn (3h²), c_proj (h²), the MLP (8h²), QKᵀ and AV; then lm_head.
    assert macs == layers * (12 * s * h * h + 2 * s * s * h) + s * h * vocab
    # lm_head is tied to the token embedding: one tensor, counted once, as PyTorch does.
    assert params == sum(p.numel() for p in model.parameters())
    assert model.config.use_cache  # restored
