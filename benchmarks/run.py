"""Run every benchmark: import each ``benchmarks/bench_*.py`` module and call its ``main()``.

Usage (from the project root)::

    python -m benchmarks.run            # all benchmarks
    python -m benchmarks.run jsonstat   # only modules whose name contains "jsonstat"

Each benchmark prints ``name: value`` lines. Benchmarks are never part of the test suite.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def bench_modules(selected: list[str] | None = None) -> list[str]:
    """Names of the benchmark modules (``benchmarks.bench_*``), sorted, filtered by ``selected``."""
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return [f"benchmarks.{n}" for n in names]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    modules = bench_modules(args)
    if not modules:
        print(f"no benchmark modules match {args}", file=sys.stderr)
        return 1
    for name in modules:
        module = importlib.import_module(name)
        print(f"# {name}", flush=True)
        start = time.perf_counter()
        module.main()
        print(f"# {name} finished in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
