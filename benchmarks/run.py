"""Run every benchmark: import each ``benchmarks/bench_*.py`` module and call its ``main()``.

Usage (from the project root)::

    python -m benchmarks.run            # all benchmarks
    python -m benchmarks.run jsonstat   # only modules whose name contains "jsonstat"

Each benchmark prints ``name: value`` lines, and one ``TARGET name: figure (target ...: met)``
line per target of issue 13 (:func:`benchmarks.targets.target`). At the end the runner prints
every target line again under ``# targets`` and exits 1 if any is not met. Benchmarks are never
part of the test suite.
"""

from __future__ import annotations

import contextlib
import importlib
import io
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
    from benchmarks.targets import PREFIX

    targets: list[str] = []
    for name in modules:
        module = importlib.import_module(name)
        print(f"# {name}", flush=True)
        start = time.perf_counter()
        seen = _Tee(sys.stdout)
        with contextlib.redirect_stdout(seen):
            module.main()
        targets += [line for line in seen.lines() if line.startswith(PREFIX)]
        print(f"# {name} finished in {time.perf_counter() - start:.1f} s", flush=True)
    print("# targets")
    for line in targets:
        print(line)
    missed = [line for line in targets if line.endswith("NOT MET)")]
    print(f"# {len(targets) - len(missed)} of {len(targets)} targets met", flush=True)
    return 1 if missed else 0


class _Tee(io.TextIOBase):
    """Writes through to ``stream`` and keeps a copy (to find the target lines)."""

    def __init__(self, stream: io.TextIOBase | object) -> None:
        self.stream = stream
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.stream.write(text)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self.stream.flush()  # type: ignore[attr-defined]

    def lines(self) -> list[str]:
        return self.kept.getvalue().splitlines()


if __name__ == "__main__":
    raise SystemExit(main())
