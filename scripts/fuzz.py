"""A long fuzzing run outside CI: the properties of tests/test_fuzz.py with many examples.

    .venv/bin/python scripts/fuzz.py [--examples N] [--torch N]

Prints the number of cases run per property and any failure (hypothesis shrinks it).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings

from tests import test_fuzz
from tests.fuzz_specs import mutated_spec, valid_spec, word_soup


def run(name, strategy, check, examples: int) -> bool:
    count = 0

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(text):
        nonlocal count
        count += 1
        check(text)

    started = time.perf_counter()
    try:
        prop()
        ok = True
    except Exception as exc:  # report, then go on with the other properties
        notes = "\n".join(getattr(exc, "__notes__", ()))
        print(f"{name}: FAILED: {type(exc).__name__}: {exc}\n{notes}")
        ok = False
    print(f"{name}: {count} cases in {time.perf_counter() - started:.0f} s", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--torch", type=int, default=300)
    args = parser.parse_args()
    checks = [
        ("generated specs build", valid_spec(), test_fuzz.test_generated_specs_build.hypothesis
         .inner_test, args.examples),
        ("mutated specs fail cleanly", mutated_spec(),
         test_fuzz.test_mutated_specs_fail_cleanly.hypothesis.inner_test, args.examples),
        ("word soup fails cleanly", word_soup(),
         test_fuzz.test_word_soup_fails_cleanly.hypothesis.inner_test, args.examples),
        ("torch agrees: shapes, params, MACs, in-place, BN folding", valid_spec(),
         test_fuzz.test_generated_specs_run_in_torch.hypothesis.inner_test, args.torch),
    ]
    results = [run(name, strategy, check, n) for name, strategy, check, n in checks]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
