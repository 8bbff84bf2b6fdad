"""flopscope for a ``torch.nn.Module``: export it to ONNX in memory, then profile the graph.

    >>> import torchvision, torch, flopscope.torch
    >>> model = torchvision.models.mobilenet_v2()
    >>> macs, params = flopscope.torch.count(model, torch.randn(1, 3, 224, 224))
    >>> macs, params
    (300774272, 3504872)

The export keeps the module as it is: BatchNorm stays a BatchNormalization node with its running
statistics (nothing folded into the convolutions), so the graph's params and buffers are the
module's own, and the module tree is ``named_modules()``. The module runs in eval mode for the
export (the mode of every submodule is restored afterwards): flopscope counts inference.

PyTorch is needed here only; ``import flopscope`` never imports it. Every count comes from the
Rust engine, through :func:`flopscope.profile`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import flopscope

__all__ = ["ExportWarning", "count", "export", "profile"]

EXPORTERS = ("auto", "dynamo", "legacy")


class ExportWarning(UserWarning):
    """The export did not go as asked: the dynamo exporter failed and the legacy exporter was
    used, or the graph does not hold every parameter of the module."""


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError(
            "flopscope.torch needs PyTorch (pip install torch); flopscope.profile reads ONNX "
            "files without it"
        ) from e
    return torch


def _split(example_inputs):
    """``example_inputs`` as the exporter's positional and keyword arguments: a tensor, a tuple
    (or list) of positional inputs, or a dict of named inputs (HuggingFace's ``input_ids``,
    ``attention_mask``, ``pixel_values``...; a non-tensor value is fixed in the graph)."""
    torch = _torch()
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,), {}
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs), {}
    if isinstance(example_inputs, Mapping):
        return (), dict(example_inputs)
    raise TypeError(
        "example_inputs must be a tensor, a tuple of inputs or a dict of named inputs, not "
        f"{type(example_inputs).__name__}"
    )


@contextlib.contextmanager
def _eval_mode(module):
    """The module in eval mode, each submodule's own mode restored afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@contextlib.contextmanager
def _quiet():
    """The exporters print progress lines; a profile should not. (Their warnings stay, but
    the one about a dim named twice for inputs that share it.)"""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="# The axis name")
        yield


def _zero_fill(value) -> bool:
    """``value`` is the exporter's stand-in for an absent bias: a scalar constant 0 cast like
    the input and expanded to the bias shape (``Expand(CastLike(0.0, x), shape)``)."""
    node = value.producer() if value is not None else None
    if node is None or node.op_type != "Expand" or node.domain not in ("", "ai.onnx"):
        return False
    cast = node.inputs[0].producer() if node.inputs and node.inputs[0] is not None else None
    if cast is None or cast.op_type != "CastLike" or not cast.inputs:
        return False
    zero = cast.inputs[0]
    source = zero.producer() if zero is not None else None
    if source is not None and source.op_type == "Constant" and "value" in source.attributes:
        tensor = source.attributes["value"].value
    else:
        tensor = zero.const_value if zero is not None else None
    if tensor is None:
        return False
    array = tensor.numpy()
    return array.size == 1 and float(array.reshape(-1)[0]) == 0.0


def _faithful(model):
    """The dynamo exporter's graph, unoptimized (its optimizer folds BatchNorm into the
    convolutions), without what it adds for a convolution that has no bias: a zero tensor
    made at run time and added. Nothing else changes; the module's parameters are all kept,
    a learned bias that happens to be zero too."""
    import onnxscript.optimizer

    for node in model.graph.all_nodes():
        if (
            node.op_type in ("Conv", "ConvTranspose")
            and node.domain in ("", "ai.onnx")
            and len(node.inputs) == 3
            and _zero_fill(node.inputs[2])
        ):
            node.resize_inputs(2)
    onnxscript.optimizer.remove_unused_nodes(model)
    return model


def _root_cause(e: BaseException) -> str:
    """The innermost cause of an exception, as one line without terminal colours."""
    import re

    while e.__cause__ is not None:
        e = e.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first[:300]}" if first else type(e).__name__


@contextlib.contextmanager
def _without_cache(module, kwargs):
    """A HuggingFace model returns its key/value cache as an object no exporter can output;
    one forward pass costs the same without returning it, so the model's ``config.use_cache``
    is off during the export (and restored), unless the caller passed ``use_cache``."""
    config = getattr(module, "config", None)
    if "use_cache" in kwargs or not getattr(config, "use_cache", False):
        yield
        return
    config.use_cache = False
    try:
        yield
    finally:
        config.use_cache = True


def _dynamic_axes(dynamic_shapes, args, kwargs, input_names, module):
    """torch.export's ``dynamic_shapes`` as the legacy exporter's ``dynamic_axes``: each
    ``torch.export.Dim`` by its name, an unnamed one as ``<input>_<axis>``."""
    if dynamic_shapes is None:
        return None
    import inspect

    params = [
        p.name
        for p in inspect.signature(module.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    names = list(input_names or [])
    order = params[: len(args)] + list(kwargs)
    if isinstance(dynamic_shapes, Mapping):
        items = [(k, v) for k, v in dynamic_shapes.items()]
    else:
        items = list(zip(order, dynamic_shapes))
    axes = {}
    for key, spec in items:
        if spec is None:
            continue
        position = order.index(key) if key in order else None
        name = names[position] if position is not None and position < len(names) else key
        if isinstance(spec, Mapping):
            pairs = spec.items()
        else:
            pairs = enumerate(spec)
        named = {}
        for axis, dim in pairs:
            if dim is None:
                continue
            dim_name = getattr(dim, "__name__", None)
            if not isinstance(dim_name, str) or not dim_name.isidentifier():
                dim_name = f"{name}_{axis}"
            named[int(axis)] = dim_name
        if named:
            axes[name] = named
    return axes


def _without_weights(model, module):
    """The module's parameters and buffers as external data in a file that does not exist:
    flopscope reads their dims and element types only, so the weights are neither serialized
    nor copied. (Other initializers, shape tensors among them, keep their values.)"""
    import onnx_ir

    names = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
    for name, v in model.graph.initializers.items():
        t = v.const_value
        if name in names and t is not None:
            v.const_value = onnx_ir.ExternalTensor(
                "weights-not-written", offset=0, length=t.nbytes, dtype=t.dtype,
                shape=t.shape, name=name)
    return model


def export(
    module: Any,
    example_inputs: Any,
    *,
    dynamic_shapes: Any = None,
    input_names: Sequence[str] | None = None,
    exporter: str = "auto",
) -> bytes:
    """The module as ONNX bytes, weights included, in the form profiled by :func:`profile`
    (nothing is written to disk). ``exporter`` is ``"dynamo"`` (``torch.onnx.export(...,
    dynamo=True)``), ``"legacy"`` (the TorchScript exporter) or ``"auto"``: dynamo, and the
    legacy exporter with an :class:`ExportWarning` when dynamo fails."""
    return _export(module, example_inputs, dynamic_shapes, input_names, exporter, weights=True)


def _export(module, example_inputs, dynamic_shapes, input_names, exporter, weights):
    """:func:`export`; without ``weights`` (dynamo) the parameters and buffers are written as
    absent external data, as :func:`profile` needs them."""
    torch = _torch()
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r} (known: {', '.join(EXPORTERS)})")
    args, kwargs = _split(example_inputs)
    with _eval_mode(module), _without_cache(module, kwargs), torch.no_grad():
        if exporter in ("auto", "dynamo"):
            try:
                with _quiet():
                    program = torch.onnx.export(
                        module,
                        args,
                        kwargs=kwargs or None,
                        dynamo=True,
                        optimize=False,
                        dynamic_shapes=dynamic_shapes,
                        input_names=input_names,
                        verbose=False,
                    )
                    model = _faithful(program.model)
                    if not weights:
                        model = _without_weights(model, module)
                    import onnx_ir

                    return onnx_ir.serde.serialize_model(model).SerializeToString()
            except Exception as e:
                if exporter == "dynamo":
                    raise
                warnings.warn(
                    f"the dynamo exporter failed ({_root_cause(e)}); "
                    "profiling the legacy (TorchScript) exporter's graph instead",
                    ExportWarning,
                    stacklevel=3,
                )
        buffer = io.BytesIO()
        with _quiet():
            torch.onnx.export(
                module,
                args,
                buffer,
                kwargs=kwargs or None,
                dynamo=False,
                input_names=input_names or (list(kwargs) if kwargs else None),
                dynamic_axes=_dynamic_axes(dynamic_shapes, args, kwargs, input_names, module),
                # Constant folding would fold BatchNorm into the convolutions, and merging
                # initializers of equal values (freshly initialized BatchNorms) would tie
                # parameters that are not tied.
                do_constant_folding=False,
                keep_initializers_as_inputs=True,
            )
        return buffer.getvalue()


def profile(
    module: Any,
    example_inputs: Any,
    *,
    dynamic_shapes: Any = None,
    input_names: Sequence[str] | None = None,
    exporter: str = "auto",
    **profile_kwargs: Any,
) -> flopscope.Report:
    """Profile a ``torch.nn.Module`` on ``example_inputs`` (a tensor, a tuple, or a dict of
    named inputs): :func:`export`, then :func:`flopscope.profile` with ``profile_kwargs``
    (``inputs``, ``dims``, ``op_costs``, ``convention``, ``hardware``). The weights are not
    serialized (the dynamo exporter's graph): flopscope reads their dims only.

    ``dynamic_shapes`` is torch.export's: ``{"x": {0: torch.export.Dim("batch")}}`` leaves the
    batch free, and the report's counts are then formulas in ``batch``.
    """
    onnx = _export(module, example_inputs, dynamic_shapes, input_names, exporter, weights=False)
    return flopscope.profile(onnx, **profile_kwargs)


def count(
    module: Any, example_inputs: Any, convention: str | None = None
) -> tuple[int, int]:
    """``(macs, params)``: the one-line replacement for ``thop.profile(module, inputs=...)``.

    ``macs`` is flopscope's exact count; with ``convention="thop"``, ``"ptflops"``,
    ``"ptflops-aten"``, ``"fvcore"`` or ``"onnx-tool"`` it is what that tool reports for the
    module (``"torch"``: FlopCounterMode's FLOPs), so a switch shows the same number, and
    :func:`flopscope.compare` on :func:`profile`'s report says, by op class, why they differ.
    ``params`` are the parameters the forward reads, PyTorch's count for every module whose
    parameters all take part (an :class:`ExportWarning` names those that do not).
    """
    report = profile(module, example_inputs, convention=convention)
    totals = report.totals
    macs = report.convention["total"] if convention is not None else totals["macs"]
    params = totals["params"]
    _check_params(module, report, params)
    return macs, params


def _check_params(module, report, params):
    """Warns, naming them, when the graph holds fewer or more parameters than the module."""
    own = {id(p): p.numel() for p in module.parameters()}
    expected = sum(own.values())
    if params == expected:
        return
    stored = {t["name"] for n in report.nodes for t in n["inputs"]}
    missing = [name for name, _ in module.named_parameters() if name not in stored]
    hint = f"; not in the graph: {', '.join(missing[:5])}" if missing else ""
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    warnings.warn(
        f"the exported graph reads {params:,} parameters, the module has {expected:,}{hint}{more}",
        ExportWarning,
        stacklevel=3,
    )
