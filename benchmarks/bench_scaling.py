"""Benchmark: how the analysis stages grow with the data (issue 13), on **synthetic** copies.

The real inputs (the offline snapshot's 11713 and code history, Telemark's 13470 employment by
workplace) are replicated 1x, 2x, 5x and 10x. The copies are **synthetic**, built here and only
here, and never leave this benchmark:

* **regions** -- every region of the input is copied under a code marked ``"~syn<r>"``
  (``"03~syn2"``, ``"4001~syn2"``); a copy carries the same numbers as the original;
* **years** -- the whole period is copied ``b`` periods earlier (2008-2019 -> 1996-2007 -> ...),
  so every series stays consecutive and simply gets longer.

A factor ``k`` is ``regions x years`` copies: 1 = 1x1, 2 = 2x1, 5 = 5x1, 10 = 5x2. Only
``harmonise_accounts`` is different: its county codes and years must be real (the code history
says which counties existed when), so it gets ``k`` synthetic copies of every *industry*
(``"10-33~syn2"``) instead.

Stages (each timed on its own input, the best of three runs):

* ``harmonise_accounts`` -- ``harmonise_accounts(accounts, to=2019, exact=True, history=...)``;
* ``volume_chaining`` -- ``constant_prices(harmonised, "business_excl_finance", 2015)`` (scope
  volume change chain-linked, chain index, levels);
* ``allocation`` -- ``allocate_by_employment`` of the accounts to Telemark's municipalities;
* ``growth`` -- ``growth_decomposition(harmonised, "business_excl_finance")`` over the whole
  window in current prices;
* ``class_estimates`` -- the centrality-class answer as notebook 02 calls it (every allocation
  key and centrality edition for the ranges), on ``k`` copies of every municipality (region
  copies only: its window needs real years).

Prints per stage and factor ``scaling_seconds[<stage>@<k>x]``, ``scaling_peak_mb[<stage>@<k>x]``
(``tracemalloc`` peak of a separate run: Python and numpy allocations; Arrow string buffers
are allocated outside Python and not counted), ``scaling_rows[<stage>@<k>x]`` (input rows) and
``scaling_exponent[<stage>@<k>x]`` = log(t_k / t_1) / log(rows_k / rows_1) (1 = linear); then
``scaling_ratio_10x_over_1x[<stage>]`` (target <= 12), ``scaling_total_seconds@<k>x`` and
``scaling_total_seconds_target_10x`` (60).

Needs the offline snapshot (``REGIONSTATS_SNAPSHOT`` or ``../shared/data/snapshot``); no
network. Run: ``python -m benchmarks.run scaling`` (or ``python -m benchmarks.bench_scaling``).
"""

from __future__ import annotations

import math
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

try:
    from benchmarks.targets import target
except ImportError:  # run as a script from benchmarks/
    from targets import target  # type: ignore[no-redef]

FACTORS: dict[int, tuple[int, int]] = {1: (1, 1), 2: (2, 1), 5: (5, 1), 10: (5, 2)}
SYNTHETIC = "~syn"
SCOPE = "business_excl_finance"
REPEAT = 3


def synthetic_regions(frame: pd.DataFrame, copies: int, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` plus ``copies - 1`` copies whose codes in ``columns`` end in ``"~syn<r>"``."""
    parts = [frame]
    for r in range(1, copies):
        part = frame.copy()
        for col in columns:
            part[col] = (part[col].astype(str) + f"{SYNTHETIC}{r}").astype("str")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = dict(frame.attrs)
    return out


def synthetic_years(frame: pd.DataFrame, blocks: int) -> pd.DataFrame:
    """``frame`` plus ``blocks - 1`` copies of its whole period moved one period earlier each."""
    years = frame["year"]
    span = int(years.max() - years.min() + 1)
    parts = [frame]
    for b in range(1, blocks):
        part = frame.copy()
        part["year"] = (part["year"] - b * span).astype("int64")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = dict(frame.attrs)
    return out


def replicate(frame: pd.DataFrame, k: int, columns: tuple[str, ...] = ("region",)) -> pd.DataFrame:
    """``frame`` at factor ``k``: :data:`FACTORS` region copies times year blocks."""
    regions, years = FACTORS[k]
    return synthetic_years(synthetic_regions(frame, regions, columns), years)


def load(snapshot: Path) -> dict[str, Any]:
    """The real inputs: 11713, the code history, Telemark's 13470 and its county mapping."""
    import regionstats as rs
    from regionstats.indicators.allocation import municipality_counties
    from regionstats.sources.employment_files import read_13470_telemark

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accounts = rs.regional_accounts("snapshot")
        history = rs.municipality_history("snapshot", offline=True)
    employment = read_13470_telemark(snapshot)
    counties = municipality_counties(employment["region"].unique(), 2024, history=history)
    harmonised = rs.harmonise_accounts(accounts, to=2019, exact=True, history=history)
    # the allocation runs on the years both inputs have (2016-2019), so that year copies of
    # the two line up
    both = sorted(set(accounts["year"].unique()) & set(employment["year"].unique()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = rs.RunParameters()
        inputs = rs.load_inputs(params)
    return {
        "inputs": inputs,
        "class_counties": rs.municipality_counties(
            sorted(set(inputs.employment["region"])), params.municipality_vintage, history=history
        ),
        "accounts": accounts,
        "history": history,
        "employment": employment[employment["year"].isin(both)],
        "allocation_accounts": accounts[accounts["year"].isin(both)],
        "counties": counties,
        "harmonised": harmonised,
    }


def stages(real: dict[str, Any], k: int) -> dict[str, tuple[int, Callable[[], object]]]:
    """Each stage's input rows and a call running it on the inputs at factor ``k``."""
    from regionstats.analysis.classes import class_estimates
    from regionstats.indicators.allocation import allocate_by_employment
    from regionstats.indicators.growth import growth_decomposition
    from regionstats.indicators.volume import constant_prices
    from regionstats.regions.accounts_counties import harmonise_accounts

    history = real["history"]
    accounts_k = synthetic_regions(real["accounts"], k, ("industry",))
    harmonised_k = replicate(real["harmonised"], k)
    employment_k = replicate(real["employment"], k)
    counties_k = synthetic_regions(real["counties"], FACTORS[k][0], ("region",))
    allocation_accounts = synthetic_years(real["allocation_accounts"], FACTORS[k][1])
    # the class estimates: k copies of every municipality (employment, centrality, population,
    # county), the real county accounts shared out among them; every centrality edition held
    inputs = real["inputs"]
    class_employment = synthetic_regions(inputs.employment, k, ("region",))
    class_centrality = synthetic_regions(inputs.centrality, k, ("region",))
    class_population = synthetic_regions(inputs.population, k, ("region",))
    class_counties = synthetic_regions(real["class_counties"], k, ("region",))
    class_editions = {
        edition: synthetic_regions(frame, k, ("region",))
        for edition, frame in inputs.centrality_editions.items()
    }

    def class_call() -> object:
        return class_estimates(
            inputs.accounts,
            class_employment,
            class_centrality,
            class_counties,
            population=class_population,
            editions=class_editions,
        )

    return {
        "harmonise_accounts": (
            len(accounts_k),
            lambda: harmonise_accounts(accounts_k, to=2019, exact=True, history=history),
        ),
        "volume_chaining": (
            len(harmonised_k),
            lambda: constant_prices(harmonised_k, SCOPE, base_year=2015),
        ),
        "allocation": (
            len(employment_k),
            lambda: allocate_by_employment(allocation_accounts, employment_k, counties_k),
        ),
        "growth": (len(harmonised_k), lambda: growth_decomposition(harmonised_k, SCOPE)),
        "class_estimates": (len(class_employment), class_call),
    }


def best_seconds(call: Callable[[], object], repeat: int = REPEAT) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mb(call: Callable[[], object]) -> float:
    """Peak traced memory (MB) above the level before the call."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - before) / 1e6


def main() -> None:
    from regionstats import config

    found = [p for p in config.snapshot_candidates() if (p / "PROVENANCE.md").is_file()]
    if not found:
        print("scaling_skipped: no offline snapshot (set REGIONSTATS_SNAPSHOT)")
        return
    real = load(found[0])
    for _, call in stages(real, 1).values():  # warm-up: imports and first-call costs
        call()
    seconds: dict[tuple[str, int], float] = {}
    rows: dict[tuple[str, int], int] = {}
    for k in FACTORS:
        for name, (n_rows, call) in stages(real, k).items():
            seconds[name, k] = best_seconds(call)
            rows[name, k] = n_rows
            print(f"scaling_rows[{name}@{k}x]: {n_rows}")
            print(f"scaling_seconds[{name}@{k}x]: {seconds[name, k]:.4f}")
            print(f"scaling_peak_mb[{name}@{k}x]: {peak_mb(call):.1f}")
            if k > 1:
                exponent = math.log(seconds[name, k] / seconds[name, 1]) / math.log(
                    n_rows / rows[name, 1]
                )
                print(f"scaling_exponent[{name}@{k}x]: {exponent:.2f}")
        total = sum(seconds[name, k] for name in stages_names(seconds))
        print(f"scaling_total_seconds@{k}x: {total:.3f}", flush=True)
    last = max(FACTORS)
    for name in stages_names(seconds):
        ratio = seconds[name, last] / seconds[name, 1]
        print(f"scaling_ratio_{last}x_over_1x[{name}]: {ratio:.2f}")
        target(f"scaling_{name}_{last}x_over_1x", ratio, "<=", 12, "x")
    whole = sum(seconds[name, last] for name in stages_names(seconds))
    target(f"scaling_whole_analysis_{last}x_seconds", whole, "<=", 60, "s")


def stages_names(seconds: dict[tuple[str, int], float]) -> list[str]:
    return list(dict.fromkeys(name for name, _ in seconds))


if __name__ == "__main__":
    main()
