"""One line per target of a benchmark, in one format the runner collects.

``target("name", 0.93, "<=", 1.1, "x json.loads")`` prints::

    TARGET name: 0.93 x json.loads (target <= 1.1: met)

and returns whether the target is met. :mod:`benchmarks.run` gathers these lines from every
benchmark it runs and prints them again, together, at the end.
"""

from __future__ import annotations

import operator

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}

PREFIX = "TARGET "


def target(name: str, figure: float, op: str, limit: float, unit: str = "") -> bool:
    """Print the figure against its target; True when met.

    >>> target("demo_seconds", 0.25, "<=", 0.3, "s")
    TARGET demo_seconds: 0.25 s (target <= 0.3 s: met)
    True
    """
    met = bool(_OPS[op](figure, limit))
    shown = f"{figure:.3g}" if abs(figure) < 1000 else f"{figure:,.0f}"
    suffix = f" {unit}" if unit else ""
    verdict = "met" if met else "NOT MET"
    print(f"{PREFIX}{name}: {shown}{suffix} (target {op} {limit:g}{suffix}: {verdict})", flush=True)
    return met
