"""Part 5: compiled ResNet-50 throughput on a GPU (bf16, channels_last) against eager.
On a machine without CUDA the section records that and the command that fills it."""
from __future__ import annotations

import time

COMMAND = "python -m bench --only gpu"


def gpu_throughput(spec: str, batch: int = 64, steps: int = 20) -> dict:
    import torch

    import cnndsl

    if not torch.cuda.is_available():
        return {"available": False, "command": COMMAND}
    eager = cnndsl.load(spec, device="cuda", channels_last=True).eval().to(torch.bfloat16)
    x = torch.randn(batch, *cnndsl.build(spec).input_shape, device="cuda",
                    dtype=torch.bfloat16).to(memory_format=torch.channels_last)
    result = {"available": True, "device": torch.cuda.get_device_name(), "batch": batch}
    with torch.inference_mode():
        for name, model in (("eager", eager), ("torch.compile", torch.compile(eager))):
            for _ in range(3):
                model(x)  # warm-up, and compilation for torch.compile
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                model(x)
            torch.cuda.synchronize()
            result[name] = batch * steps / (time.perf_counter() - start)
    result["ratio"] = result["torch.compile"] / result["eager"]
    return result
