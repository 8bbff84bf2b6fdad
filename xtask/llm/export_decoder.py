"""Export a Llama-shaped decoder with a key/value cache, as a generation runtime calls it.

    python xtask/llm/export_decoder.py OUT.onnx [--hidden 256] [--layers 2] [--heads 8]
        [--kv-heads 2] [--intermediate 688] [--vocab 2000] [--dtype float32|float16]
        [--weights random|absent]

transformers' LlamaForCausalLM from a config (random weights, nothing downloaded), wrapped so
that the cache is plain tensors: inputs `input_ids` [batch, seq] and
`past_key_values.{i}.key/value` [batch, kv_heads, past_seq, head_dim]; outputs `logits` and
`present.{i}.key/value` [batch, kv_heads, past_seq + seq, head_dim]. torch.onnx's dynamo
exporter, unoptimized. `--weights absent` builds the model on the meta device (no memory for
weights: a 7B graph on a laptop) and writes every initializer as external data in a file that
does not exist: flopscope reads dims only.
"""

import argparse
import contextlib
import io
import warnings

import onnx_ir as ir
import torch
from torch.export import Dim
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.cache_utils import DynamicCache


class WithCache(torch.nn.Module):
    """The decoder with its cache as tensors in and out."""

    def __init__(self, model, layers):
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, input_ids, *past):
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, past_key_values=cache, use_cache=True)
        present = []
        for layer in out.past_key_values.layers:
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=688)
    p.add_argument("--vocab", type=int, default=2000)
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    p.add_argument("--weights", choices=["random", "absent"], default="random")
    a = p.parse_args()
    dtype = getattr(torch, a.dtype)
    config = LlamaConfig(hidden_size=a.hidden, intermediate_size=a.intermediate,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads,
                         num_key_value_heads=a.kv_heads, vocab_size=a.vocab,
                         max_position_embeddings=8192)
    device = "meta" if a.weights == "absent" else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = WithCache(LlamaForCausalLM(config).to(dtype).eval(), a.layers).eval()
    head_dim = a.hidden // a.heads
    batch, seq, past = 2, 3, 5
    ids = torch.zeros(batch, seq, dtype=torch.long, device=device)
    cache = [torch.zeros(batch, a.kv_heads, past, head_dim, dtype=dtype, device=device)
             for _ in range(2 * a.layers)]
    b, s, ps = Dim("batch"), Dim("seq"), Dim("past_seq")
    shapes = ({0: b, 1: s}, tuple({0: b, 2: ps} for _ in cache))
    names = ["input_ids"] + [f"past_key_values.{i}.{kv}" for i in range(a.layers)
                             for kv in ("key", "value")]
    outputs = ["logits"] + [f"present.{i}.{kv}" for i in range(a.layers)
                            for kv in ("key", "value")]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (ids, *cache), dynamo=True, optimize=False,
                                    dynamic_shapes=shapes, input_names=names,
                                    output_names=outputs)
    # Keep each node's module path; the exporter's stack traces and FX text make a small
    # model's file megabytes.
    for node in program.model.graph.all_nodes():
        for key in list(node.metadata_props):
            if key != "pkg.torch.onnx.name_scopes":
                del node.metadata_props[key]
    if a.weights == "absent":
        for name, v in program.model.graph.initializers.items():
            t = v.const_value
            v.const_value = ir.ExternalTensor("absent.weights", offset=0, length=t.nbytes,
                                              dtype=t.dtype, shape=t.shape, name=name)
        ir.save(program.model, a.out)
    else:
        program.save(a.out, external_data=False)
    params = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: {params:,} parameters, {len(program.model.graph)} nodes")


if __name__ == "__main__":
    main()
