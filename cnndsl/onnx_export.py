"""ONNX export of a generated module (needs the `onnx` extra: onnx and onnxscript).

The file is the same bytes on every run: the weights are drawn from a fixed seed (or
loaded with `weights=`). torch's own messages, warnings and log lines (`torchvision is not
installed. Skipping torchvision::nms`) are kept out of the output; `progress`, a callable
taking one line, hears each step instead. The graph's input is
named `input` and its output `output`, with a dynamic batch axis unless
`dynamic_batch=False`.
"""
from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from pathlib import Path

from .errors import CnnUsageError

SEED = 0
STACK_TRACE = "pkg.torch.onnx.stack_trace"  # a node's metadata key


def export_onnx(src, path: str | Path, *, params: dict | None = None, input_shape=None,
                fuse_bn: bool = False, opset: int | None = None, weights: str | Path | None = None,
                dynamic_batch: bool = True, seed: int = SEED, progress=None,
                fully_conv: bool = False) -> Path:
    """Write the network in eval mode to `path` as ONNX, checked by onnx.checker;
    `fuse_bn` and `fully_conv` as in `cnndsl.build`, `weights` as in `cnndsl.load`."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise CnnUsageError("ONNX export needs onnx and onnxscript",
                            hint="pip install 'cnndsl[onnx]'") from None
    import torch

    from .api import build, read_spec
    from .backends.torch_source import network_class_name, torch_source
    from .outputs import write_atomic
    from .torch_api import module_class, require_torch_rules

    say = _Progress(progress)
    network = build(read_spec(src), params=params, input_shape=input_shape, fuse_bn=fuse_bn,
                    fully_conv=fully_conv)
    require_torch_rules(network)
    torch.manual_seed(seed)
    # A fixed module name: the exporter records where each layer's class comes from.
    model = module_class(torch_source(network), network_class_name(network),
                         "cnndsl_generated")()
    if weights is not None:
        from .weights import load_weights, read_checkpoint

        if fully_conv:
            from .torch_api import fc_as_conv_weights

            weights = fc_as_conv_weights(read_checkpoint(weights), model.state_dict())
        load_weights(model, weights, strict=True)
    model.eval()
    say(f"built {network_class_name(network)}")
    example = torch.randn(2, *network.input_shape, generator=torch.Generator().manual_seed(0))
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    captured = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(captured), \
            contextlib.redirect_stderr(captured), _torch_logs_to(captured):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset,
                                    input_names=["input"], output_names=["output"],
                                    dynamic_axes=axes, verbose=False)
    say("exported the graph")
    proto = program.model_proto
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                   None)
    if opset is not None and written != opset:
        raise CnnUsageError(f"--opset {opset}: torch's exporter wrote opset {written} instead",
                            hint=f"ask for an opset it writes, e.g. {written}")
    _drop_stack_traces(proto)
    onnx.checker.check_model(proto)
    say("checked it with onnx.checker")
    return write_atomic(path, proto.SerializeToString())


def _drop_stack_traces(proto) -> None:
    """Each node's Python stack trace names files of this machine (the virtual
    environment's torch): without them the file is the same on any machine. The module
    paths and classes of each node stay."""
    graphs = [proto.graph, *(f for f in proto.functions)]
    for graph in graphs:
        for node in graph.node:
            kept = [p for p in node.metadata_props if p.key != STACK_TRACE]
            if len(kept) != len(node.metadata_props):
                del node.metadata_props[:]
                node.metadata_props.extend(kept)


@contextlib.contextmanager
def _torch_logs_to(stream):
    """torch's loggers write through handlers made at import, bound to the real stderr
    (which redirect_stderr does not reach): point them at `stream` for a while."""
    handlers = {h: h.stream for name, logger in logging.root.manager.loggerDict.items()
                if name == "torch" or name.startswith("torch.")
                if isinstance(logger, logging.Logger)
                for h in logger.handlers  # not subclasses: torch's trace handler owns a file
                if type(h) is logging.StreamHandler}  # a handler may serve several loggers
    for handler in handlers:
        handler.setStream(stream)
    try:
        yield
    finally:
        for handler, before in handlers.items():
            handler.setStream(before)


class _Progress:
    """Calls `progress` with each step and the seconds since the start."""

    def __init__(self, progress) -> None:
        self.progress, self.start = progress, time.perf_counter()

    def __call__(self, step: str) -> None:
        if self.progress is not None:
            self.progress(f"{step} ({time.perf_counter() - self.start:.1f} s)")
