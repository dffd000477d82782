"""Benchmark: ``harmonise_accounts`` on the snapshot's 11713 against the 0.3 s target (issue 13).

Loads the offline snapshot's regional accounts (11713, ``regional_accounts("snapshot")``) and
code history (``municipality_history("snapshot", offline=True)``), then times

    harmonise_accounts(accounts, to=2019, exact=True, history=history)

warm (after one untimed call), best and median of several runs. In the same process it also
times two baselines, so the figures compare like with like on whatever machine runs them:

* the same call with the status aggregation done the way it was before issue 13 -- a Python
  ``combine_status`` per group through ``groupby(...).agg(lambda ...)`` (a copy kept here, in the
  benchmark only, and patched in for the measurement);
* a small operation (``frame.iloc[:100]``, which like every pandas operation copies
  ``attrs``) on the harmonised frame with its audit shared by the derived frames (today) and with
  the audit a plain DataFrame in ``attrs``, deep-copied by pandas on every operation (before).

Prints ``name: value`` lines:

* ``harmonise_accounts_seconds`` (median), ``harmonise_accounts_seconds_min``;
* ``harmonise_accounts_target_seconds`` (0.3) and ``harmonise_accounts_ratio_to_target``
  (median / 0.3; at most 1 meets the target);
* ``harmonise_accounts_per_group_status_seconds`` and ``harmonise_accounts_speedup`` (that
  baseline / today);
* ``attrs_op_microseconds_shared_audit``, ``attrs_op_microseconds_copied_audit`` and their ratio.

Needs the offline snapshot (``REGIONSTATS_SNAPSHOT`` or ``../shared/data/snapshot``); no
network. Run: ``python -m benchmarks.run harmonise`` (or ``python -m benchmarks.bench_harmonise``).
"""

from __future__ import annotations

import importlib
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

try:
    from benchmarks.targets import target
except ImportError:  # run as a script from benchmarks/
    from targets import target  # type: ignore[no-redef]

TARGET_SECONDS = 0.3
REPEAT = 7
OPERATIONS = 2000


def per_group_status_aggregate(
    frame: pd.DataFrame, by: Sequence[str], *, value: str = "value", status: str = "status"
) -> pd.DataFrame:
    """``regionstats.model.aggregate`` as it was before issue 13 (a Python call per group)."""
    from regionstats.model import STATUS, VALUE, combine_status

    work = frame[[*by, value, status]].copy()
    work["_nan"] = work[value].isna()
    grouped = work.groupby(list(by), sort=True, dropna=False, observed=True)
    out = grouped[value].sum(min_count=1).to_frame(VALUE)
    has_nan = grouped["_nan"].any()
    symbols = grouped[status].agg(lambda s: combine_status(s.tolist()))
    out[STATUS] = symbols.astype("string")
    out.loc[has_nan, VALUE] = np.nan
    needs_symbol = has_nan & out[STATUS].isna()
    out.loc[needs_symbol, STATUS] = ".."
    return out.reset_index()


def load() -> tuple[pd.DataFrame, Any] | None:
    """The snapshot's 11713 and code history, or ``None`` (with a message) without a snapshot."""
    import regionstats as rs
    from regionstats import config

    if not any((p / "PROVENANCE.md").is_file() for p in config.snapshot_candidates()):
        print("harmonise_accounts_skipped: no offline snapshot (set REGIONSTATS_SNAPSHOT)")
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accounts = rs.regional_accounts("snapshot")
        history = rs.municipality_history("snapshot", offline=True)
    return accounts, history


def timings(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of ``repeat`` calls after one untimed warm-up call."""
    call()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def operation_microseconds(frame: pd.DataFrame, n: int = OPERATIONS) -> float:
    """Microseconds per ``frame.iloc[:100]`` (a cheap operation that copies ``attrs``)."""
    start = time.perf_counter()
    for _ in range(n):
        frame.iloc[:100]
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    loaded = load()
    if loaded is None:
        return
    accounts, history = loaded
    from regionstats.regions.accounts_counties import harmonise_accounts

    def call() -> pd.DataFrame:
        return harmonise_accounts(accounts, to=2019, exact=True, history=history)

    now = timings(call, REPEAT)
    median = statistics.median(now)
    print(f"harmonise_accounts_rows: {len(accounts)}")
    print(f"harmonise_accounts_seconds: {median:.4f}")
    print(f"harmonise_accounts_seconds_min: {min(now):.4f}")
    print(f"harmonise_accounts_target_seconds: {TARGET_SECONDS}")
    print(f"harmonise_accounts_ratio_to_target: {median / TARGET_SECONDS:.3f}")
    target("harmonise_accounts_seconds", median, "<=", TARGET_SECONDS, "s")

    module = importlib.import_module("regionstats.regions.harmonise")
    current = module.aggregate
    module.aggregate = per_group_status_aggregate
    try:
        before = timings(call, 3)
    finally:
        module.aggregate = current
    print(f"harmonise_accounts_per_group_status_seconds: {statistics.median(before):.4f}")
    print(f"harmonise_accounts_speedup: {statistics.median(before) / median:.1f}")

    shared = call()
    copied = shared.copy()
    copied.attrs["audit"] = pd.DataFrame(shared.attrs["audit"])  # deep-copied on every operation
    t_shared = min(operation_microseconds(shared) for _ in range(3))
    t_copied = min(operation_microseconds(copied) for _ in range(3))
    print(f"attrs_op_microseconds_shared_audit: {t_shared:.1f}")
    print(f"attrs_op_microseconds_copied_audit: {t_copied:.1f}")
    print(f"attrs_op_copied_over_shared: {t_copied / t_shared:.2f}")


if __name__ == "__main__":
    main()
