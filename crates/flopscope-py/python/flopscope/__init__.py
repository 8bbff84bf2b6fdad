"""flopscope: what a neural network costs (MACs, FLOPs, params, memory), exact, per node and in
total, for any input size or as a formula in the model's own dims.

Every count is made by the Rust engine; this package is a thin layer over it.

    >>> import flopscope
    >>> r = flopscope.profile("mobilenet_v2.onnx", inputs={"input": (1, 3, 224, 224)})
    >>> r.totals["macs"]
    300774272
"""

from ._flopscope import Error, Formula, Report, __version__, ops
from ._flopscope import profile as _profile

__all__ = ["Error", "Formula", "Report", "__version__", "ops", "profile"]


def profile(model, inputs=None, dims=None, input_values=None, op_costs=None, convention=None):
    """Profile an ONNX model: a path, the file's bytes, or an ``onnx.ModelProto``.

    ``inputs`` fixes input shapes (``{"input": (1, 3, 224, 224)}``; a dim may be a name, kept
    symbolic), ``dims`` gives named dims values (``{"batch": 32}``), ``input_values`` binds inputs
    to serialized TensorProto files, ``op_costs`` lists TOML files declaring custom ops, and
    ``convention`` also counts as another tool does ("thop", "ptflops", "fvcore", ...).
    """
    if hasattr(model, "SerializeToString"):  # an onnx.ModelProto, without importing onnx
        model = model.SerializeToString()
    if op_costs is not None and not isinstance(op_costs, (list, tuple)):
        op_costs = [op_costs]
    return _profile(model, inputs, dims, input_values, op_costs, convention)
