"""flopscope: what a neural network costs (MACs, FLOPs, params, memory), exact, per node and in
total, for any input size or as a formula in the model's own dims.

Every count is made by the Rust engine; this package is a thin layer over it.

    >>> import flopscope
    >>> r = flopscope.profile("mobilenet_v2.onnx", inputs={"input": (1, 3, 224, 224)})
    >>> r.totals["macs"]
    300774272
"""

from ._flopscope import Error, Formula, Report, __version__, generate, ops, sweep
from ._flopscope import _compare, _diff
from ._flopscope import profile as _profile

__all__ = ["Error", "Formula", "Report", "__version__", "compare", "diff", "generate", "ops",
           "profile", "sweep"]


def profile(model, inputs=None, dims=None, input_values=None, op_costs=None, convention=None,
            hardware=None):
    """Profile an ONNX model: a path, the file's bytes, or an ``onnx.ModelProto``.

    ``inputs`` fixes input shapes (``{"input": (1, 3, 224, 224)}``; a dim may be a name, kept
    symbolic), ``dims`` gives named dims values (``{"batch": 32}``), ``input_values`` binds inputs
    to serialized TensorProto files, ``op_costs`` lists TOML files declaring custom ops, and
    ``convention`` also counts as another tool does ("thop", "ptflops", "fvcore", ...), and
    ``hardware`` ("h100-sxm", "this-machine", a TOML file) adds roofline time estimates.
    """
    if hasattr(model, "SerializeToString"):  # an onnx.ModelProto, without importing onnx
        model = model.SerializeToString()
    if op_costs is not None and not isinstance(op_costs, (list, tuple)):
        op_costs = [op_costs]
    return _profile(model, inputs, dims, input_values, op_costs, convention, hardware)


def diff(old, new, inputs=None, dims=None, depth=3):
    """What changed between two models (or two ``Report``s): totals with deltas, then the
    modules and nodes added, removed and changed, as ``flopscope diff --format json``."""
    if not isinstance(old, Report):
        old = profile(old, inputs=inputs, dims=dims)
    if not isinstance(new, Report):
        new = profile(new, inputs=inputs, dims=dims)
    return _diff(old, new, depth)


def compare(model, inputs=None, dims=None, op_costs=None):
    """The model (or a ``Report``) counted as thop, ptflops, fvcore, torch's FlopCounterMode and
    onnx-tool count it, by op class, as ``flopscope compare --format json``."""
    report = model if isinstance(model, Report) else profile(model, inputs, dims, None, op_costs)
    return _compare(report)

