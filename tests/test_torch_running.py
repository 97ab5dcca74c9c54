"""The running channel count of generated constructors (cnndsl/backends/torch_running.py):
the rewritten statements compute what the nested expressions did, at every value of the
parameters, not only at the instance's."""
from __future__ import annotations

import random

from cnndsl.backends.torch_running import RUNNING, running_count
from cnndsl.backends.torch_symbolic import Sym

NAMES = ("c0", "k", "n1", "n2", "n3", "g")


def chain(rng: random.Random) -> tuple[list[str], list[object]]:
    """Children of a class: their constructor texts and input channels, the channels
    growing from one child to the next by random steps (or not at all)."""
    syms = {name: Sym(name, rng.randint(1, 9)) for name in NAMES}
    c = syms["c0"] if rng.random() < 0.8 else 64
    exprs, channels = [], []
    for _ in range(rng.randint(1, 9)):
        kind = rng.randrange(4)
        if kind == 0:
            exprs.append("nn.ReLU()")  # reads no channels
        elif kind == 1:
            exprs.append(f"Block({c}, {syms['k']})")
        elif kind == 2:
            exprs.append(f"nn.Sequential(\n    nn.Conv2d({c}, 4 * {c}, 1),\n    nn.ReLU(),\n)")
        else:
            exprs.append(f"nn.BatchNorm2d({c})")
        channels.append(c)
        step = rng.randrange(6)
        if step == 0:
            c = c + syms[rng.choice(NAMES)] * syms["k"]
        elif step == 1:
            c = c // 2
        elif step == 2:
            c = c * syms["g"]
        elif step == 3:
            c = c - syms[rng.choice(NAMES)]
        elif step == 4:
            c = syms[rng.choice(NAMES)] + c
    return exprs, channels


def evaluate(statements: list[list[str]], exprs: list[str], values: dict) -> list:
    scope = {"nn": _NN, "Block": lambda *a: ("Block", *a), **values}
    made = []
    for before, expr in zip(statements, exprs):
        for statement in before:
            exec(statement, {}, scope)
        made.append(eval(expr, {}, scope))
    return made


class _NN:
    ReLU = staticmethod(lambda: ("ReLU",))
    Conv2d = staticmethod(lambda *a: ("Conv2d", *a))
    BatchNorm2d = staticmethod(lambda *a: ("BatchNorm2d", *a))
    Sequential = staticmethod(lambda *a: ("Sequential", *a))


def test_the_running_count_computes_the_nested_expressions():
    rng = random.Random(0)
    rewritten = 0
    for _ in range(400):
        exprs, channels = chain(rng)
        texts, before = running_count(exprs, channels, {"in_channels"})
        if any(before):
            rewritten += 1
            assert any(RUNNING in t for t in texts)
        for _ in range(3):  # other values than the instance's
            values = {name: rng.randint(1, 50) for name in NAMES}
            assert evaluate(before, texts, values) == \
                evaluate([[] for _ in exprs], exprs, values), (exprs, texts, before)
    assert rewritten > 40


def test_densenet_like_channels_become_a_running_count():
    c0, k, n1, n2 = Sym("c0", 64), Sym("k", 32), Sym("n1", 6), Sym("n2", 12)
    channels = [c0, c0 + n1 * k, (c0 + n1 * k) // 2, (c0 + n1 * k) // 2 + n2 * k]
    exprs = [f"DenseBlock({channels[0]}, n1, k)", f"Transition({channels[1]})",
             f"DenseBlock({channels[2]}, n2, k)", f"nn.BatchNorm2d({channels[3]})"]
    texts, before = running_count(exprs, channels, set())
    assert texts == ["DenseBlock(channels, n1, k)", "Transition(channels)",
                     "DenseBlock(channels, n2, k)", "nn.BatchNorm2d(channels)"]
    assert before == [["channels = c0"], ["channels += n1 * k"], ["channels //= 2"],
                      ["channels += n2 * k"]]


def test_short_runs_and_taken_names_keep_their_expressions():
    c0, k = Sym("c0", 64), Sym("k", 32)
    exprs = [f"A({c0})", f"B({c0 + k})"]
    assert running_count(exprs, [c0, c0 + k], set()) == (exprs, [[], []])
    three = [c0, c0 + k, (c0 + k) // 2]
    exprs = [f"A({c})" for c in three]
    assert running_count(exprs, three, {RUNNING}) == (exprs, [[], [], []])
