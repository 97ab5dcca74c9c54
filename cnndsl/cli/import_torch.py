"""`cnndsl import MODULE:FACTORY --input 3x224x224 -o net.cnn`: a PyTorch model as a spec."""
from __future__ import annotations

import importlib
import json
import sys

from ..errors import CnnUsageError


def add_parser(sub, parent) -> None:
    p = sub.add_parser("import", help="import a PyTorch model as a .cnn spec",
                       description="Trace a PyTorch model (the nn.Module that FACTORY returns) "
                                   "and write it as a .cnn spec whose module takes the model's "
                                   "state_dict strictly; the spec is checked against the model "
                                   "on a random input before it is written (docs/importing.md).")
    p.add_argument("factory", metavar="MODULE:FACTORY",
                   help="a Python module and a callable in it that returns the model "
                        "(`mypkg.models:resnet50`); the current folder is on the path")
    p.add_argument("--kwargs", metavar="JSON", default="{}",
                   help='keyword arguments for FACTORY, as a JSON object: \'{"num_classes": 10}\'')
    p.add_argument("--input", metavar="CxHxW", default="3x224x224",
                   help="the input shape (default 3x224x224)")
    p.add_argument("--name", metavar="NAME", help="the network's name (default: the class name)")
    p.add_argument("-o", "--output", metavar="PATH", help="where to write it (default: stdout)")
    p.add_argument("--debug", action="store_true",
                   help="show Python tracebacks of internal errors")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..frontends.torch_import import from_torch
    from ..outputs import write_atomic

    model = make_model(args.factory, args.kwargs)
    text = from_torch(model, args.input, name=args.name)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def make_model(factory: str, kwargs_json: str):
    from torch import nn

    module_name, _, attr = factory.partition(":")
    if not module_name or not attr:
        raise CnnUsageError(f"`{factory}` is not MODULE:FACTORY",
                            hint="for example `mypkg.models:resnet50`")
    try:
        kwargs = json.loads(kwargs_json)
    except json.JSONDecodeError as exc:
        raise CnnUsageError(f"--kwargs is not JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise CnnUsageError("--kwargs must be a JSON object: '{\"num_classes\": 10}'")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything on import
        raise CnnUsageError(f"cannot import `{module_name}`: {type(exc).__name__}: {exc}") from None
    make = getattr(module, attr, None)
    if not callable(make):
        raise CnnUsageError(f"`{module_name}` has no callable `{attr}`")
    try:
        model = make(**kwargs)
    except Exception as exc:
        raise CnnUsageError(f"`{factory}(**{kwargs})` failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise CnnUsageError(f"`{factory}` returned a {type(model).__name__}, not an nn.Module")
    return model
