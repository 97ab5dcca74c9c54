"""ONNX export of a generated module (needs the `onnx` extra: onnx and onnxscript)."""
from __future__ import annotations

from pathlib import Path

from .errors import CnnUsageError


def export_onnx(src, path: str | Path, *, params: dict | None = None, input_shape=None,
                fuse_bn: bool = False, opset: int | None = None) -> Path:
    """Write the network in eval mode to `path` as ONNX, checked by onnx.checker."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise CnnUsageError("ONNX export needs onnx and onnxscript",
                            hint="pip install 'cnndsl[onnx]'") from None
    import torch

    from .api import build, read_spec
    from .backends.torch_source import torch_source
    from .ir.names import class_name
    from .outputs import write_atomic
    from .torch_api import module_class, require_torch_rules

    network = build(read_spec(src), params=params, input_shape=input_shape, fuse_bn=fuse_bn)
    require_torch_rules(network)
    model = module_class(torch_source(network), class_name(network.name))().eval()
    example = torch.randn(1, *network.input_shape)
    program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset,
                                verbose=False)
    proto = program.model_proto
    onnx.checker.check_model(proto)
    return write_atomic(path, proto.SerializeToString())
