#!/usr/bin/env python3
"""Export a wide corpus of real PyTorch architectures to ONNX, with random weights.

    python export_corpus.py OUT_DIR [--only SUBSTRING] [--list] [--ledger-only]

Every model is built from code: torchvision constructors with `weights=None`, and
transformers models from small config objects written below, so nothing is downloaded
(HF_HUB_OFFLINE=1). Each architecture is exported with both the legacy TorchScript
exporter (`<arch>_legacy`, opset 17) and the dynamo exporter (`<arch>_dynamo`), with
named dynamic axes, and must then run in ONNX Runtime at the two concrete sizes listed
for it. The dynamo exporter gets a second try with dims left for torch.export to infer.
When no dynamic export runs at both sizes, the model is exported static once per size
instead, as `<name>@1.onnx` and `<name>@2.onnx`. Every failure is recorded (the entry's
`error`, or its `notes` when a fallback worked) and the script goes on.

`OUT_DIR/manifest.json` lists every entry: file, graph inputs with their declared dims,
its sizes, the parameter and buffer counts of the exported torch module, and the error
(or null). Beside each export, `<name>.ledger.json` records where each parameter went
(see `ledger`); weights are perturbed first so that no two tensors are equal. `cargo xtask corpus` runs this script, then profiles every entry whose error
is null at each of its sizes.

Exit status is 0 unless no model at all exported.
"""

import argparse
import contextlib
import gc
import hashlib
import json
import os
import re
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision.models as tvm
import transformers as hf
from torch import nn

EXPORT_TIMEOUT_S = 180
LEGACY_OPSET = 17
EXPORTERS = ("legacy", "dynamo")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
TOKEN_ID_LIMIT = 100  # token ids are drawn below this; every vocabulary here is larger


@dataclass(frozen=True)
class Input:
    name: str
    dims: tuple  # an int is a fixed dim, a string names a dynamic one
    dtype: str = "float32"


@dataclass(frozen=True)
class Arch:
    name: str
    family: str
    build: Callable[[], nn.Module]
    inputs: tuple[Input, ...]
    sizes: tuple[dict, dict]  # input name -> shape; batch and spatial/sequence move
    outputs: tuple[str, ...]
    call: Callable = lambda model, *tensors: model(*tensors)
    notes: str = ""


class Wrapped(nn.Module):
    """The exported module: `call(model, *inputs)`, so outputs can be picked from dicts."""

    def __init__(self, model: nn.Module, call: Callable):
        super().__init__()
        self.model = model
        self.call = call

    def forward(self, *tensors):
        return self.call(self.model, *tensors)


# ---------------------------------------------------------------------------------------
# The architectures
# ---------------------------------------------------------------------------------------

IMAGE = (Input("input", ("batch", 3, "height", "width")),)
IMAGE_SIZES = ({"input": [1, 3, 224, 224]}, {"input": [2, 3, 160, 192]})


ADAPTIVE_POOL_NOTE = ("sizes keep the adaptive pooling input a multiple of its output, "
                      "which the legacy exporter needs")


def classification(name: str, sizes=IMAGE_SIZES, inputs=IMAGE, notes="", **kwargs) -> Arch:
    return Arch(name, "torchvision/classification", lambda: getattr(tvm, name)(**kwargs),
                inputs, sizes, ("logits",), notes=notes)


def fixed_224(name: str) -> Arch:
    return classification(
        name, inputs=(Input("input", ("batch", 3, 224, 224)),),
        sizes=({"input": [1, 3, 224, 224]}, {"input": [2, 3, 224, 224]}),
        notes="image size fixed at 224 by the architecture; only batch moves")


def segmentation(name: str) -> Arch:
    return Arch(name, "torchvision/segmentation",
                lambda: getattr(tvm.segmentation, name)(weights=None, weights_backbone=None,
                                                        aux_loss=False),
                IMAGE, IMAGE_SIZES, ("out",), call=lambda m, x: m(x)["out"])


def first_detection(model: nn.Module, image: torch.Tensor):
    result = model([image])[0]
    return result["boxes"], result["scores"], result["labels"]


def detection(name: str) -> Arch:
    return Arch(name, "torchvision/detection",
                lambda: getattr(tvm.detection, name)(weights=None, weights_backbone=None),
                (Input("image", (3, "height", "width")),),
                ({"image": [3, 320, 320]}, {"image": [3, 288, 384]}),
                ("boxes", "scores", "labels"), call=first_detection,
                notes="one image [3, H, W] (batch fixed at 1); outputs of the first result")


def video(name: str) -> Arch:
    return Arch(name, "torchvision/video", lambda: getattr(tvm.video, name)(),
                (Input("input", ("batch", 3, "frames", 112, 112)),),
                ({"input": [1, 3, 16, 112, 112]}, {"input": [2, 3, 8, 112, 112]}),
                ("logits",))


def quantized(name: str) -> Arch:
    def build() -> nn.Module:
        torch.backends.quantized.engine = "x86"
        model = getattr(tvm.quantization, name)(weights=None, quantize=False).eval()
        with torch.no_grad():
            distinct_weights(model)  # before its weights are packed out of reach
        model.fuse_model()
        model.qconfig = torch.ao.quantization.get_default_qconfig("x86")
        torch.ao.quantization.prepare(model, inplace=True)
        for _ in range(4):  # calibration on random images
            model(torch.randn(2, 3, 224, 224))
        return torch.ao.quantization.convert(model)

    return Arch(f"quantized_{name}", "torchvision/quantization", build, IMAGE, IMAGE_SIZES,
                ("logits",), notes="int8 post-training quantization (x86 engine); packed "
                "weights are not torch parameters, so torch_params counts the quantized "
                "weights and biases of the state dict")


class GroupNormCnn(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GroupNorm(8, 32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def raft_small() -> Arch:
    image = (1, 3, "height", "width")
    return Arch("raft_small", "torchvision/optical_flow", lambda: tvm.optical_flow.raft_small(),
                (Input("image1", image), Input("image2", image)),
                ({"image1": [1, 3, 128, 128], "image2": [1, 3, 128, 128]},
                 {"image1": [1, 3, 128, 160], "image2": [1, 3, 128, 160]}),
                ("flow",), call=lambda m, a, b: m(a, b, num_flow_updates=2)[-1],
                notes="num_flow_updates=2; final flow only")


TOKENS = (Input("input_ids", ("batch", "seq"), "int64"),)
TOKEN_SIZES = ({"input_ids": [1, 16]}, {"input_ids": [2, 24]})
SMALL = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=128)


def from_config(model_cls, config_cls, **config) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        cfg = config_cls(**config)
        cfg.use_cache = False
        return model_cls(cfg)

    return build


def causal_lm_logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    # Without an attention mask, transformers looks for packed sequences with torch.diff,
    # which the legacy exporter cannot lower.
    return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


def decoder(model_cls, config_cls, **config) -> Arch:
    return Arch(model_cls.__name__, "transformers/decoder",
                from_config(model_cls, config_cls, **config), TOKENS, TOKEN_SIZES,
                ("logits",), call=causal_lm_logits,
                notes="all-ones attention mask built inside the graph")


def encoder(model_cls, config_cls, **config) -> Arch:
    return Arch(model_cls.__name__, "transformers/encoder",
                from_config(model_cls, config_cls, **config),
                TOKENS + (Input("attention_mask", ("batch", "seq"), "int64"),),
                ({"input_ids": [1, 16], "attention_mask": [1, 16]},
                 {"input_ids": [2, 24], "attention_mask": [2, 24]}),
                ("last_hidden_state",),
                call=lambda m, ids, mask: m(input_ids=ids, attention_mask=mask).last_hidden_state)


def seq2seq(model_cls, config_cls, **config) -> Arch:
    return Arch(model_cls.__name__, "transformers/encoder-decoder",
                from_config(model_cls, config_cls, **config),
                TOKENS + (Input("decoder_input_ids", ("batch", "decoder_seq"), "int64"),),
                ({"input_ids": [1, 16], "decoder_input_ids": [1, 8]},
                 {"input_ids": [2, 24], "decoder_input_ids": [2, 12]}),
                ("logits",),
                call=lambda m, ids, dec: m(input_ids=ids, decoder_input_ids=dec).logits)


def pixels(model_cls, config_cls, sizes, fixed=None, outputs=("last_hidden_state",),
           notes="", **config) -> Arch:
    """A vision model on `pixel_values`; `fixed` pins (height, width) when it cannot move."""
    dims = ("batch", 3) + (fixed or ("height", "width"))
    return Arch(model_cls.__name__, "transformers/vision",
                from_config(model_cls, config_cls, **config),
                (Input("pixel_values", dims),),
                tuple({"pixel_values": size} for size in sizes), outputs,
                call=lambda m, x: tuple(m(pixel_values=x)[k] for k in outputs), notes=notes)


def waveform(model_cls, config_cls, **config) -> Arch:
    return Arch(model_cls.__name__, "transformers/audio",
                from_config(model_cls, config_cls, **config),
                (Input("input_values", ("batch", "samples")),),
                ({"input_values": [1, 16000]}, {"input_values": [2, 12000]}),
                ("last_hidden_state",),
                call=lambda m, x: m(input_values=x).last_hidden_state)


WHISPER = dict(vocab_size=1000, num_mel_bins=80, d_model=64, encoder_layers=2,
               decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
               encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=100,
               max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
               decoder_start_token_id=1)
MEL = Input("input_features", ("batch", 80, 200))  # 2 * max_source_positions frames


def whisper() -> Arch:
    return Arch("WhisperForConditionalGeneration", "transformers/encoder-decoder",
                from_config(hf.WhisperForConditionalGeneration, hf.WhisperConfig, **WHISPER),
                (MEL, Input("decoder_input_ids", ("batch", "decoder_seq"), "int64")),
                ({"input_features": [1, 80, 200], "decoder_input_ids": [1, 8]},
                 {"input_features": [2, 80, 200], "decoder_input_ids": [2, 12]}),
                ("logits",),
                call=lambda m, x, dec: m(input_features=x, decoder_input_ids=dec,
                                         decoder_attention_mask=torch.ones_like(dec)).logits,
                notes="frame count fixed at 2 * max_source_positions; batch and decoder "
                      "length move; all-ones decoder attention mask built inside the graph")


def whisper_encoder() -> Arch:
    build = from_config(hf.WhisperForConditionalGeneration, hf.WhisperConfig, **WHISPER)
    return Arch("WhisperEncoder", "transformers/audio", lambda: build().get_encoder(),
                (MEL,), ({"input_features": [1, 80, 200]}, {"input_features": [2, 80, 200]}),
                ("last_hidden_state",), call=lambda m, x: m(input_features=x).last_hidden_state,
                notes="frame count fixed at 2 * max_source_positions; only batch moves")


def clip() -> Arch:
    return Arch("CLIPModel", "transformers/vision",
                from_config(hf.CLIPModel, hf.CLIPConfig,
                            text_config=dict(SMALL, max_position_embeddings=32, bos_token_id=1,
                                             eos_token_id=2),
                            vision_config=dict(SMALL, vocab_size=None, image_size=64,
                                               patch_size=16),
                            projection_dim=32),
                (Input("input_ids", ("batch", "seq"), "int64"),
                 Input("pixel_values", ("batch", 3, 64, 64))),
                ({"input_ids": [1, 16], "pixel_values": [1, 3, 64, 64]},
                 {"input_ids": [2, 24], "pixel_values": [2, 3, 64, 64]}),
                ("logits_per_image",),
                call=lambda m, ids, x: m(input_ids=ids, pixel_values=x).logits_per_image,
                notes="image size fixed at 64 by the config; batch and text length move")


def detr() -> Arch:
    backbone = hf.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128, 256],
                               depths=[1, 1, 1, 1], out_features=["stage4"])
    return pixels(hf.DetrForObjectDetection, hf.DetrConfig,
                  ([1, 3, 256, 256], [2, 3, 192, 256]), outputs=("logits", "pred_boxes"),
                  backbone_config=backbone, d_model=64, encoder_layers=2, decoder_layers=2,
                  encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
                  decoder_ffn_dim=128, num_queries=20,
                  notes="small random ResNet backbone from backbone_config (transformers 5 "
                        "has no use_timm_backbone / use_pretrained_backbone: never timm, "
                        "never pretrained)")


ARCHS: tuple[Arch, ...] = (
    classification("resnet18"),
    classification("resnet50"),
    classification("resnext50_32x4d"),
    classification("mobilenet_v2"),
    classification("mobilenet_v3_small"),
    classification("mobilenet_v3_large"),
    classification("efficientnet_b0"),
    classification("efficientnet_v2_s"),
    classification("convnext_tiny"),
    classification("densenet121"),
    classification("vgg11", sizes=({"input": [1, 3, 224, 224]}, {"input": [2, 3, 224, 448]}),
                   notes=ADAPTIVE_POOL_NOTE),
    classification("alexnet", sizes=({"input": [1, 3, 224, 224]}, {"input": [2, 3, 224, 416]}),
                   notes=ADAPTIVE_POOL_NOTE),
    classification("squeezenet1_0"),
    classification("shufflenet_v2_x0_5"),
    classification("regnet_y_400mf"),
    classification("regnet_x_400mf"),
    classification("mnasnet0_5"),
    classification("googlenet", aux_logits=False, init_weights=True),
    classification("inception_v3", aux_logits=False, init_weights=True,
                   sizes=({"input": [1, 3, 299, 299]}, {"input": [2, 3, 342, 320]})),
    classification("swin_t"),
    classification("swin_v2_t"),
    fixed_224("vit_b_16"),
    fixed_224("maxvit_t"),
    segmentation("fcn_resnet50"),
    segmentation("deeplabv3_mobilenet_v3_large"),
    segmentation("lraspp_mobilenet_v3_large"),
    detection("fasterrcnn_mobilenet_v3_large_320_fpn"),
    detection("fasterrcnn_resnet50_fpn"),
    detection("fcos_resnet50_fpn"),
    detection("retinanet_resnet50_fpn"),
    detection("ssd300_vgg16"),
    detection("ssdlite320_mobilenet_v3_large"),
    detection("maskrcnn_resnet50_fpn"),
    detection("keypointrcnn_resnet50_fpn"),
    video("r3d_18"),
    video("mc3_18"),
    video("r2plus1d_18"),
    raft_small(),
    quantized("mobilenet_v2"),
    quantized("resnet18"),
    Arch("groupnorm_cnn", "torch/nn", GroupNormCnn, IMAGE,
         ({"input": [1, 3, 64, 64]}, {"input": [2, 3, 48, 80]}), ("logits",)),
    # head_dim 32: the RoPE inv_freq buffer has head_dim / 2 entries
    decoder(hf.LlamaForCausalLM, hf.LlamaConfig, **dict(SMALL, hidden_size=128,
                                                        intermediate_size=256)),
    decoder(hf.Qwen2ForCausalLM, hf.Qwen2Config, **SMALL, num_key_value_heads=2),
    decoder(hf.Qwen3ForCausalLM, hf.Qwen3Config, **SMALL, num_key_value_heads=2, head_dim=16),
    decoder(hf.MistralForCausalLM, hf.MistralConfig, **SMALL, num_key_value_heads=2),
    decoder(hf.PhiForCausalLM, hf.PhiConfig, **SMALL),
    decoder(hf.Phi3ForCausalLM, hf.Phi3Config, **SMALL, pad_token_id=0, bos_token_id=1,
            eos_token_id=2),
    decoder(hf.GemmaForCausalLM, hf.GemmaConfig, **SMALL, num_key_value_heads=1, head_dim=16),
    decoder(hf.Gemma2ForCausalLM, hf.Gemma2Config, **SMALL, num_key_value_heads=2,
            head_dim=16),
    decoder(hf.GPTNeoXForCausalLM, hf.GPTNeoXConfig, **SMALL),
    decoder(hf.FalconForCausalLM, hf.FalconConfig, vocab_size=1000, hidden_size=64,
            num_hidden_layers=2, num_attention_heads=4),
    decoder(hf.BloomForCausalLM, hf.BloomConfig, vocab_size=1000, hidden_size=64, n_layer=2,
            n_head=4),
    decoder(hf.OPTForCausalLM, hf.OPTConfig, vocab_size=1000, hidden_size=64, ffn_dim=128,
            num_hidden_layers=2, num_attention_heads=4, word_embed_proj_dim=64,
            max_position_embeddings=128),
    decoder(hf.GPT2LMHeadModel, hf.GPT2Config, vocab_size=1000, n_embd=64, n_layer=2,
            n_head=4, n_positions=128, bos_token_id=1, eos_token_id=2),
    decoder(hf.GPTJForCausalLM, hf.GPTJConfig, vocab_size=1000, n_embd=64, n_layer=2, n_head=4,
            rotary_dim=8, n_positions=128),
    encoder(hf.BertModel, hf.BertConfig, **SMALL),
    encoder(hf.RobertaModel, hf.RobertaConfig, **SMALL),
    encoder(hf.DistilBertModel, hf.DistilBertConfig, vocab_size=1000, dim=64, n_layers=2,
            n_heads=4, hidden_dim=128),
    encoder(hf.AlbertModel, hf.AlbertConfig, **SMALL, embedding_size=32),
    encoder(hf.DebertaV2Model, hf.DebertaV2Config, **SMALL, relative_attention=True,
            pos_att_type=["p2c", "c2p"], position_buckets=32),
    encoder(hf.ElectraModel, hf.ElectraConfig, **SMALL, embedding_size=32),
    seq2seq(hf.T5ForConditionalGeneration, hf.T5Config, vocab_size=1000, d_model=64, d_kv=16,
            d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4),
    seq2seq(hf.BartForConditionalGeneration, hf.BartConfig, vocab_size=1000, d_model=64,
            encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
            max_position_embeddings=128),
    seq2seq(hf.MarianMTModel, hf.MarianConfig, vocab_size=1000, d_model=64, encoder_layers=2,
            decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=128,
            pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
    whisper(),
    pixels(hf.ViTModel, hf.ViTConfig, ([1, 3, 64, 64], [2, 3, 64, 64]), fixed=(64, 64),
           **SMALL, image_size=64, patch_size=16,
           notes="image size fixed at 64 by the config; only batch moves"),
    pixels(hf.SwinModel, hf.SwinConfig, ([1, 3, 128, 128], [2, 3, 128, 160]), image_size=128,
           embed_dim=32, depths=[2, 2], num_heads=[2, 4], window_size=4),
    pixels(hf.ConvNextModel, hf.ConvNextConfig, ([1, 3, 224, 224], [2, 3, 160, 192]),
           hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 2, 1]),
    detr(),
    pixels(hf.SegformerForSemanticSegmentation, hf.SegformerConfig,
           ([1, 3, 128, 128], [2, 3, 96, 160]), outputs=("logits",),
           hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], decoder_hidden_size=64,
           num_labels=10),
    pixels(hf.MobileViTModel, hf.MobileViTConfig, ([1, 3, 256, 256], [2, 3, 192, 256]),
           image_size=256),
    clip(),
    waveform(hf.Wav2Vec2Model, hf.Wav2Vec2Config, **SMALL, conv_dim=(32,) * 7,
             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    waveform(hf.HubertModel, hf.HubertConfig, **SMALL, conv_dim=(32,) * 7,
             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    whisper_encoder(),
)


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------

class ExportTimeout(Exception):
    pass


@contextlib.contextmanager
def quiet():
    """Sends what exporters print (from Python and C++ alike) to /dev/null."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def time_limit(seconds: int):
    def expire(_signum, _frame):
        raise ExportTimeout(f"export took longer than {seconds} s; skipped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def feed(arch: Arch, size: dict) -> dict[str, np.ndarray]:
    """Random inputs at `size`: normal floats, small token ids, all-ones attention masks."""
    rng = np.random.default_rng(0)
    arrays = {}
    for inp in arch.inputs:
        shape = size[inp.name]
        if inp.dtype == "float32":
            arrays[inp.name] = rng.standard_normal(shape, dtype=np.float32)
        elif inp.name.endswith("attention_mask"):
            arrays[inp.name] = np.ones(shape, dtype=np.int64)
        else:
            arrays[inp.name] = rng.integers(0, TOKEN_ID_LIMIT, shape, dtype=np.int64)
    return arrays


# How the dynamic dims of an export are declared: by name, or for the dynamo exporter,
# left for torch.export to infer with their constraints (it then names them itself).
NAMED, INFERRED = "named", "inferred"
DYNAMIC_MODES = {"legacy": (NAMED,), "dynamo": (NAMED, INFERRED)}


def dynamic_dim(name: str, mode: str, dims: dict):
    if mode == INFERRED:
        return torch.export.Dim.DYNAMIC
    return dims.setdefault(name, torch.export.Dim(name))  # one object per name: one symbol


def export(module: nn.Module, arch: Arch, exporter: str, size: dict, path: Path,
           dynamic: str | None) -> None:
    """Export `module` traced at `size` to `path`, with weights inside the file; `dynamic`
    is None for a static export, else one of DYNAMIC_MODES."""
    args = tuple(torch.from_numpy(a) for a in feed(arch, size).values())
    names = [inp.name for inp in arch.inputs]
    with time_limit(EXPORT_TIMEOUT_S), quiet():
        if exporter == "legacy":
            axes = {inp.name: {i: d for i, d in enumerate(inp.dims) if isinstance(d, str)}
                    for inp in arch.inputs} if dynamic else None
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=LEGACY_OPSET,
                              input_names=names, output_names=list(arch.outputs),
                              dynamic_axes=axes)
        else:
            shapes, dims = None, {}
            if dynamic:
                shapes = (tuple({i: dynamic_dim(d, dynamic, dims)
                                 for i, d in enumerate(inp.dims) if isinstance(d, str)}
                                for inp in arch.inputs),)
            program = torch.onnx.export(module, args, dynamo=True, dynamic_shapes=shapes,
                                        input_names=names, output_names=list(arch.outputs))
            program.save(str(path), external_data=False)


def run_in_ort(path: Path, arch: Arch, sizes) -> str | None:
    """None when ONNX Runtime runs the file at every size, else the first error."""
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        graph_inputs = {i.name for i in session.get_inputs()}
        for size in sizes:
            arrays = feed(arch, size)
            session.run(None, {k: v for k, v in arrays.items() if k in graph_inputs})
    except Exception as e:  # noqa: BLE001 - any runtime failure disqualifies the file
        return one_line(e)
    return None


def graph_inputs(path: Path) -> list[dict]:
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    return [{"name": i.name,
             "dtype": onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name,
             "dims": [d.dim_param if d.HasField("dim_param") else d.dim_value
                      for d in i.type.tensor_type.shape.dim]}
            for i in model.graph.input if i.name not in initializers]


def one_line(e: BaseException) -> str:
    """The root cause's type and first two lines, as one line without terminal colours."""
    while e.__cause__ is not None:
        e = e.__cause__
    lines = [line.strip() for line in ANSI_ESCAPE.sub("", str(e)).splitlines() if line.strip()]
    return f"{type(e).__name__}: {' '.join(lines[:2])}"[:300]


def unused_params(arch: Arch, module: nn.Module) -> set[str] | None:
    """The parameters no gradient reaches from the outputs (the forward pass never uses
    them), or None when the module cannot run backward."""
    try:
        with torch.enable_grad(), quiet():
            module.zero_grad(set_to_none=True)
            feeds = {k: torch.from_numpy(v) for k, v in feed(arch, arch.sizes[0]).items()}
            out = module(*[feeds[i.name] for i in arch.inputs])
            outs = out if isinstance(out, (tuple, list)) else [out]
            total = sum(o.float().sum() for o in outs
                        if isinstance(o, torch.Tensor) and o.is_floating_point() and o.requires_grad)
            if not isinstance(total, torch.Tensor):
                return None
            total.backward()
            unused = {n for n, p in module.named_parameters() if p.grad is None}
            module.zero_grad(set_to_none=True)
            return unused
    except Exception:  # noqa: BLE001 - the set only helps explain a difference
        return None


def values_key(array: np.ndarray) -> tuple:
    """Equal for two tensors holding the same values in any layout (a transposed or reshaped
    copy of a weight): the element count and a digest of the sorted values."""
    flat = np.sort(np.asarray(array, dtype=np.float64).ravel())
    return flat.size, hashlib.blake2b(flat.tobytes(), digest_size=16).hexdigest()


def stored_tensors(graph: onnx.GraphProto):
    """Every float tensor stored in a graph and its subgraphs: initializers, and the values of
    Constant nodes, with the name flopscope gives the value."""
    for init in graph.initializer:
        yield init.name, init
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.name == "value":
                yield node.output[0], attr.t
            for g in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from stored_tensors(g)


WEIGHT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                onnx.TensorProto.BFLOAT16, onnx.TensorProto.INT8, onnx.TensorProto.UINT8}


def torch_weights(module: nn.Module) -> dict[str, np.ndarray]:
    """The module's weights by name: its parameters, or for a quantized module (whose packed
    weights are not parameters) the integer values of its quantized weights and its biases."""
    named = {n: p.detach().float().cpu().numpy() for n, p in module.named_parameters()}
    state = module.state_dict()
    if named or not any(isinstance(v, torch.Tensor) and v.is_quantized for v in state.values()):
        return named
    for key, value in state.items():
        if key.endswith("._packed_params._packed_params") and isinstance(value, tuple):
            prefix = key.removesuffix("._packed_params._packed_params")
            value = dict(zip(("weight", "bias"), value))
            items = [(f"{prefix}.{k}", v) for k, v in value.items()]
        else:
            items = [(key, value)]
        for name, tensor in items:
            if not isinstance(tensor, torch.Tensor) or not name.endswith((".weight", ".bias")):
                continue
            tensor = tensor.int_repr() if tensor.is_quantized else tensor
            named[name] = tensor.detach().float().cpu().numpy()
    return named


def torch_param_count(module: nn.Module) -> int:
    """PyTorch's count: `sum(p.numel())` over the parameters, or over the quantized weights
    and biases of a quantized module."""
    return sum(int(w.size) for w in torch_weights(module).values())


def ledger(arch: Arch, module: nn.Module, path: Path) -> dict:
    """Where each parameter of the module went in the export, for `cargo xtask corpus` to
    explain a difference between flopscope's parameters and PyTorch's with.

    `stored`: each float tensor of the file, with the parameter it holds: the one of the
    same name (its values may have been changed, by a BatchNorm folded into it), else the one
    whose values it holds in some layout (a transposed weight), else null (a tensor the
    exporter made: a folded bias, a gathered table, a constant). `missing`: the parameters
    no stored tensor holds, with their module's class and whether the forward pass uses
    them at all. Weights are made distinct first (`distinct_weights`), so values identify."""
    named = torch_weights(module)
    by_values = {}
    for name, p in named.items():
        by_values.setdefault(values_key(p), name)
    model = onnx.load(str(path))
    stored, held = [], set()
    for name, tensor in stored_tensors(model.graph):
        if tensor.data_type not in WEIGHT_TYPES:
            continue
        array = onnx.numpy_helper.to_array(tensor)
        param = name if name in named and named[name].size == array.size else None
        if param is None and array.size > 1:
            param = by_values.get(values_key(array))
        held.add(param)
        stored.append({"name": name, "elements": int(array.size), "param": param})
    owners = {f"{m}.{n}" if m else n: type(mod).__name__
              for m, mod in module.named_modules() for n, _ in mod.named_parameters(recurse=False)}
    unused = unused_params(arch, module)
    missing = [{"param": n, "elements": int(p.size), "module": owners.get(n, "?"),
                "unused": None if unused is None else n in unused}
               for n, p in named.items() if n not in held]
    return {"stored": stored, "missing": missing}


def distinct_weights(module: nn.Module) -> None:
    """Perturb every float parameter and BatchNorm statistic a little, so that no two tensors
    hold the same values (constructors start many at all ones or all zeros, and exporters
    store identical tensors once) and a folded BatchNorm is not the identity."""
    generator = torch.Generator().manual_seed(1)
    for p in module.parameters():
        if p.is_floating_point():
            p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 1e-3)
    for m in module.modules():
        mean, var = getattr(m, "running_mean", None), getattr(m, "running_var", None)
        if isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor):
            mean.add_(torch.randn(mean.shape, generator=generator) * 1e-3)
            var.mul_(1 + torch.rand(var.shape, generator=generator) * 1e-2)


def entry(name: str, arch: Arch, exporter: str, module: nn.Module | None, sizes,
          path: Path | None, error: str | None, notes: list[str]) -> dict:
    exported = path is not None and path.exists()
    inputs = graph_inputs(path) if exported else []
    ledger_file = None
    if exported and module is not None and error is None:
        ledger_file = path.with_suffix(".ledger.json")
        ledger_file.write_text(json.dumps(ledger(arch, module, path)) + "\n")
    present = {i["name"] for i in inputs} or {i.name for i in arch.inputs}
    return {
        "name": name,
        "family": arch.family,
        "exporter": exporter,
        "file": path.name if exported else None,
        "inputs": inputs,
        "sizes": [{k: v for k, v in size.items() if k in present} for size in sizes],
        "torch_params": torch_param_count(module) if module else None,
        "torch_buffers": sum(b.numel() for b in module.buffers()) if module else None,
        "ledger": ledger_file.name if ledger_file else None,
        "error": error,
        "notes": "; ".join(n for n in notes if n),
    }


def export_entries(arch: Arch, exporter: str, module: nn.Module, out_dir: Path) -> list[dict]:
    """One dynamic entry, or when that fails one static entry per size.

    The second size is the example for dynamic exports: its batch is 2, since torch.export
    specializes dims of size 1."""
    name = f"{arch.name}_{exporter}"
    path = out_dir / f"{name}.onnx"
    for stale in (path, *(out_dir / f"{name}@{i}.onnx" for i in (1, 2))):
        stale.unlink(missing_ok=True)
    failures = []
    for mode in DYNAMIC_MODES[exporter]:
        try:
            export(module, arch, exporter, arch.sizes[1], path, dynamic=mode)
            failure = run_in_ort(path, arch, arch.sizes)
            if failure is None:
                return [entry(name, arch, exporter, module, arch.sizes, path, None,
                              [arch.notes, *failures])]
            failures.append(f"{mode} dynamic dims do not run at both sizes ({failure})")
        except Exception as e:  # noqa: BLE001 - recorded, then the next way is tried
            failures.append(f"{mode} dynamic dims failed ({one_line(e)})")
        path.unlink(missing_ok=True)

    entries = []
    for i, size in enumerate(arch.sizes, start=1):
        static_name = f"{name}@{i}"
        static_path = out_dir / f"{static_name}.onnx"
        notes = [arch.notes, f"static at size {i}", *failures]
        try:
            export(module, arch, exporter, size, static_path, dynamic=None)
            error = run_in_ort(static_path, arch, [size])
            error = error and f"onnxruntime cannot run it: {error}"
        except Exception as e:  # noqa: BLE001 - recorded in the manifest
            error = one_line(e)
            static_path.unlink(missing_ok=True)
        entries.append(entry(static_name, arch, exporter, module, [size], static_path, error,
                             notes))
    return entries


def check_sizes(arch: Arch) -> None:
    assert len(arch.sizes) == 2, arch.name
    for inp in arch.inputs:
        for size in arch.sizes:
            shape = size[inp.name]
            assert len(shape) == len(inp.dims), (arch.name, inp.name)
            assert all(isinstance(d, str) or d == s for d, s in zip(inp.dims, shape)), \
                (arch.name, inp.name)


def build(arch: Arch) -> tuple[nn.Module | None, str | None]:
    """The module to export, or the reason it could not be built."""
    torch.manual_seed(0)
    try:
        with time_limit(EXPORT_TIMEOUT_S), quiet():
            module = Wrapped(arch.build(), arch.call).eval()
            with torch.no_grad():
                distinct_weights(module)
            return module, None
    except Exception as e:  # noqa: BLE001 - recorded in the manifest
        return None, f"building the model failed: {one_line(e)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?")
    parser.add_argument("--only", default="", help="export only names containing this")
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    parser.add_argument("--ledger-only", action="store_true",
                        help="write again the ledgers of the exports listed in an existing "
                             "OUT_DIR/manifest.json (made by this script), without exporting")
    args = parser.parse_args()

    jobs = [(arch, [x for x in EXPORTERS if args.only in f"{arch.name}_{x}"]) for arch in ARCHS]
    jobs = [(arch, exporters) for arch, exporters in jobs if exporters]
    if args.list:
        for arch, exporters in jobs:
            for exporter in exporters:
                print(f"{arch.name}_{exporter}")
        return 0
    if args.out_dir is None:
        parser.error("OUT_DIR is required unless --list is given")
    for arch in ARCHS:
        check_sizes(arch)

    warnings.simplefilter("ignore")
    torch.set_grad_enabled(False)
    # The fused inference path of nn.MultiheadAttention has no legacy ONNX lowering.
    torch.backends.mha.set_fastpath_enabled(False)
    ort.set_default_logger_severity(4)  # a run that fails is recorded, not logged
    args.out_dir.mkdir(parents=True, exist_ok=True)
    manifest = args.out_dir / "manifest.json"
    if args.ledger_only:
        entries = json.loads(manifest.read_text())["models"]
        for arch, _ in jobs:
            mine = [e for e in entries if e["name"].split("@")[0].rsplit("_", 1)[0] == arch.name
                    and e["error"] is None]
            if not mine:
                continue
            module, build_error = build(arch)
            for e in mine:
                if build_error is None:
                    e["torch_params"] = torch_param_count(module)
                    path = args.out_dir / e["file"]
                    e["ledger"] = path.with_suffix(".ledger.json").name
                    path.with_suffix(".ledger.json").write_text(
                        json.dumps(ledger(arch, module, path)) + "\n")
            print(f"{arch.name:48} ledger {'ok' if build_error is None else build_error}",
                  file=sys.stderr, flush=True)
            del module
            gc.collect()
        manifest.write_text(json.dumps({"models": entries}, indent=1) + "\n")
        return 0
    entries: list[dict] = []
    for arch, exporters in jobs:
        module, build_error = build(arch)
        for exporter in exporters:
            started = time.monotonic()
            if build_error is None:
                new = export_entries(arch, exporter, module, args.out_dir)
            else:
                new = [entry(f"{arch.name}_{exporter}", arch, exporter, None, arch.sizes, None,
                             build_error, [arch.notes])]
            entries.extend(new)
            manifest.write_text(json.dumps({"models": entries}, indent=1) + "\n")
            seconds = time.monotonic() - started
            for e in new:
                status = "ok" if e["error"] is None else f"FAILED: {e['error']}"
                print(f"{e['name']:48} {exporter:7} {seconds:6.1f}s  {status}",
                      file=sys.stderr, flush=True)
        del module
        gc.collect()

    return 0 if any(e["error"] is None for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
