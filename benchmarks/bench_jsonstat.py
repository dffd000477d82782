"""Benchmark: decode a synthetic 1,000,000-cell JSON-stat 2.0 response.

Times, in one process (best of a few runs with :func:`time.perf_counter`):

* ``orjson.loads`` alone and stdlib ``json.loads`` alone (parsing only, no DataFrame);
* :func:`regionstats.sources.jsonstat.read_jsonstat` on the bytes (parse + DataFrame with codes,
  labels, value and status);
* pyjstat ``Dataset.read(text).write("dataframe")`` on the same body (one run: it is slow).

Targets (issue 3): ``read_jsonstat`` at least 20x faster than pyjstat, and no slower than
``json.loads`` alone (ratio <= 1.0).

Run with ``python -m benchmarks.run jsonstat`` or ``python benchmarks/bench_jsonstat.py``.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from regionstats.sources.jsonstat import read_jsonstat

#: Cube shape: region x industry x year x measure = 1,000,000 cells.
SHAPE: dict[str, int] = {"Region": 100, "Naering": 50, "Tid": 20, "ContentsCode": 10}
NULL_SHARE = 0.02
REPEATS = 5


def synthetic_body(shape: dict[str, int] = SHAPE, seed: int = 2024) -> bytes:
    """A JSON-stat 2.0 dataset in SSB's shape (index objects, labels, units, sparse status)."""
    rng = np.random.default_rng(seed)
    ids = list(shape)
    sizes = [shape[d] for d in ids]
    n = int(np.prod(sizes))
    codes = {
        "Region": [f"{k:04d}" for k in range(1, shape["Region"] + 1)],
        "Naering": [f"{k:02d}" for k in range(1, shape["Naering"] + 1)],
        "Tid": [str(2000 + k) for k in range(shape["Tid"])],
        "ContentsCode": [f"Var{k}" for k in range(shape["ContentsCode"])],
    }
    dimension: dict[str, Any] = {}
    for dim_id in ids:
        category: dict[str, Any] = {
            "index": {c: k for k, c in enumerate(codes[dim_id])},
            "label": {c: f"{dim_id} {c} label" for c in codes[dim_id]},
        }
        if dim_id == "ContentsCode":
            category["unit"] = {c: {"base": "mill. kr", "decimals": 1} for c in codes[dim_id]}
        dimension[dim_id] = {"label": dim_id.lower(), "category": category}
    values: list[float | None] = np.round(rng.gamma(2.0, 500.0, n), 1).tolist()
    nulls = np.flatnonzero(rng.random(n) < NULL_SHARE)
    symbols = rng.choice([":", "..", "."], size=nulls.size)
    for pos in nulls.tolist():
        values[pos] = None
    status = {str(p): s for p, s in zip(nulls.tolist(), symbols.tolist(), strict=True)}
    doc = {
        "version": "2.0",
        "class": "dataset",
        "label": "Synthetic benchmark table",
        "source": "regionstats benchmark",
        "updated": "2025-01-01T00:00:00Z",
        "role": {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]},
        "id": ids,
        "size": sizes,
        "dimension": dimension,
        "extension": {"px": {"tableid": "00000"}},
        "value": values,
        "status": status,
    }
    return orjson.dumps(doc)


def best_of(func: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def time_pyjstat(text: str) -> float | None:
    """Seconds for pyjstat to decode ``text`` to a DataFrame (one run), or None if absent."""
    try:
        from pyjstat import pyjstat
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pyjstat.Dataset.read(text).write("dataframe")
        return time.perf_counter() - start


def main() -> None:
    body = synthetic_body()
    text = body.decode("utf-8")
    frame = read_jsonstat(body)
    print(f"jsonstat_cells: {len(frame)}")
    print(f"jsonstat_body_mb: {len(body) / 1e6:.1f}")
    t_orjson = best_of(lambda: orjson.loads(body))
    t_json = best_of(lambda: json.loads(body))
    t_ours = best_of(lambda: read_jsonstat(body))
    print(f"jsonstat_orjson_loads_seconds: {t_orjson:.4f}")
    print(f"jsonstat_json_loads_seconds: {t_json:.4f}")
    print(f"jsonstat_read_jsonstat_seconds: {t_ours:.4f}")
    t_pyjstat = time_pyjstat(text)
    if t_pyjstat is None:
        print("jsonstat_pyjstat_seconds: skipped (pyjstat not installed)")
    else:
        print(f"jsonstat_pyjstat_seconds: {t_pyjstat:.4f}")
        print(f"jsonstat_vs_pyjstat_speedup: {t_pyjstat / t_ours:.1f}x")
    print(f"jsonstat_vs_json_loads_ratio: {t_ours / t_json:.2f}")


if __name__ == "__main__":
    main()
