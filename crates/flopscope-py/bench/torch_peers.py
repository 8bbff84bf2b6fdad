"""flopscope.torch.count beside thop, ptflops and fvcore, all run in this process on the same
modules, and the time each takes on ResNet-50 (flopscope split into export and profile).

    python crates/flopscope-py/bench/torch_peers.py [--runs 3] [--models resnet18,bert]

Needs the packages of crates/flopscope-py/tests/requirements.txt. Prints Markdown tables:
each tool's count and flopscope's replay of it (`convention=`), the difference, and the
times (medians of --runs, ratios against flopscope's whole profile).
"""

import argparse
import contextlib
import copy
import io
import statistics
import time
import warnings

import torch
import torchvision
import transformers

import flopscope
import flopscope.torch as ft

TORCHVISION = ["resnet18", "mobilenet_v2", "resnet50", "efficientnet_b0", "densenet121",
               "convnext_tiny", "vit_b_16"]


def huggingface():
    """Two HuggingFace models from small configs, random weights, with their named inputs."""
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (1, 128))
    bert = transformers.BertModel(transformers.BertConfig(
        vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=1024))
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=1000, n_embd=256, n_layer=4, n_head=4, n_positions=256))
    gpt2.config.use_cache = False  # for the peers: thop and fvcore trace the outputs
    return {"bert": (bert, ids), "gpt2": (gpt2, ids)}


def peers(model, x):
    """thop, ptflops (pytorch backend) and fvcore on a copy of the model each."""
    out = {}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import thop
        import ptflops
        from fvcore.nn import FlopCountAnalysis

        try:
            out["thop"] = thop.profile(copy.deepcopy(model), inputs=(x,), verbose=False)
        except Exception as e:  # noqa: BLE001 - the table shows it
            out["thop"] = (f"error: {type(e).__name__}", None)
        if x.dtype.is_floating_point:
            res = tuple(x.shape[1:])
            constructor = None
        else:
            res = tuple(x.shape)
            constructor = lambda _res: {"input_ids": x}  # noqa: E731
        try:
            out["ptflops"] = ptflops.get_model_complexity_info(
                copy.deepcopy(model), res, as_strings=False, print_per_layer_stat=False,
                backend="pytorch", input_constructor=constructor)
        except Exception as e:  # noqa: BLE001
            out["ptflops"] = (f"error: {type(e).__name__}", None)
        try:
            analysis = FlopCountAnalysis(copy.deepcopy(model), (x,))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            out["fvcore"] = (analysis.total(), None)
        except Exception as e:  # noqa: BLE001
            out["fvcore"] = (f"error: {type(e).__name__}", None)
    return out


def inputs_of(x):
    return x if x.dtype.is_floating_point else {"input_ids": x}


def row(name, model, x):
    model.eval()
    counts = peers(model, x)
    cells = [name]
    notes = []
    for tool in ("thop", "ptflops", "fvcore"):
        theirs = counts[tool][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, params = ft.count(model, inputs_of(x), convention=tool)
        if isinstance(theirs, str):
            cells.append(f"{theirs} / {ours:,}")
            continue
        theirs = int(theirs)
        diff = ours - theirs
        cells.append(f"{theirs:,} / {ours:,}" + ("" if diff == 0 else f" ({diff:+,})"))
        if tool == "thop" and counts[tool][1] is not None and int(counts[tool][1]) != params:
            notes.append(f"thop params {int(counts[tool][1]):,}")
    macs, params = ft.count(model, inputs_of(x))
    torch_params = sum(p.numel() for p in model.parameters())
    cells.append(f"{macs:,}")
    cells.append(f"{params:,}" + ("" if params == torch_params else f" (torch {torch_params:,})"))
    cells.append("; ".join(notes))
    return cells


def median_time(f, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(runs):
    model = torchvision.models.resnet50().eval()
    x = torch.randn(1, 3, 224, 224)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import thop
        import ptflops
        from fvcore.nn import FlopCountAnalysis

        onnx = ft.export(model, x)
        export = median_time(lambda: ft.export(model, x), runs)
        profile = median_time(lambda: flopscope.profile(onnx), runs)

        def fv():
            a = FlopCountAnalysis(model, (x,))
            a.unsupported_ops_warnings(False)
            a.uncalled_modules_warnings(False)
            return a.total()

        tools = {
            "thop.profile": median_time(
                lambda: thop.profile(copy.deepcopy(model), inputs=(x,), verbose=False), runs),
            "ptflops (pytorch)": median_time(
                lambda: ptflops.get_model_complexity_info(
                    copy.deepcopy(model), (3, 224, 224), as_strings=False,
                    print_per_layer_stat=False, backend="pytorch"), runs),
            "fvcore": median_time(fv, runs),
            "copy.deepcopy (in the two above)": median_time(lambda: copy.deepcopy(model), runs),
        }
    whole = export + profile
    print(f"\nResNet-50, 1×3×224×224, median of {runs} runs (ratio: time ÷ flopscope's "
          "export + profile)\n")
    print("| step | seconds | ratio |\n|---|---:|---:|")
    print(f"| flopscope.torch.export (dynamo, in memory) | {export:.3f} | {export / whole:.2f} |")
    print(f"| flopscope.profile of the bytes | {profile:.4f} | {profile / whole:.4f} |")
    print(f"| flopscope.torch.profile (both) | {whole:.3f} | 1.00 |")
    for name, t in tools.items():
        print(f"| {name} | {t:.3f} | {t / whole:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default=",".join(TORCHVISION + ["bert", "gpt2"]))
    args = parser.parse_args()
    torch.manual_seed(0)
    hf = huggingface()
    print("tool's own count / flopscope's replay (difference); flopscope MACs and params\n")
    print("| model | thop | ptflops | fvcore | flopscope MACs | params | notes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in args.models.split(","):
        if name in hf:
            model, x = hf[name]
        else:
            model, x = getattr(torchvision.models, name)(), torch.randn(1, 3, 224, 224)
        print("| " + " | ".join(row(name, model, x)) + " |", flush=True)
    if args.runs > 0:
        timing(args.runs)


if __name__ == "__main__":
    main()
