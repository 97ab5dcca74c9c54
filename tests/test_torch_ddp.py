"""A generated module trains under DistributedDataParallel: 2 CPU processes, gloo."""
from __future__ import annotations

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import cnndsl

from .conftest import SPECS

SPEC = SPECS / "torch" / "mini_resnet.cnn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_step(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        torch.manual_seed(0)  # the same initial weights on both ranks
        model = torch.nn.parallel.DistributedDataParallel(cnndsl.load(SPEC))
        optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(100 + rank)  # different data on each rank
        x, target = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
        out, aux = model(x)
        loss = torch.nn.functional.cross_entropy(out, target) + \
            0.3 * torch.nn.functional.cross_entropy(aux, target)
        loss.backward()
        optimiser.step()
        flat = torch.cat([p.detach().flatten() for p in model.module.parameters()])
        torch.save(flat, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_one_training_step_on_two_processes(tmp_path):
    mp.spawn(_train_step, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    torch.manual_seed(0)
    initial = torch.cat([p.detach().flatten() for p in cnndsl.load(SPEC).parameters()])
    # Gradients were averaged across the ranks, so both took the same step.
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, initial)
