"""Fetch to DataFrame on a loopback PxWebApi 2.0 server: regionstats against pxwebpy 0.6.0.

One synthetic 1,000,000-cell table (100 regions x 50 industries x 10 contents x 20 years; a
few cells ``".."``) is served by ``tests/loopback``'s :class:`LoopbackServer` on 127.0.0.1, in
two shapes, each on its own server:

* ``1m_10x100k``: every cell, the server allowing 100,000 cells per call (10 calls);
* ``25k_25x1k``: 25 regions x 50 industries x 1 content x 20 years = 25,000 cells, 1,000
  cells per call (25 calls).

Both servers allow 1,000 calls per 60 s, so neither client is throttled, and keep connections
alive (HTTP/1.1, as SSB's servers do and as the issue measured: its figures, regionstats 1.19 s
and pxwebpy 0.30 s on the 25-call shape, reproduce only so); the loopback server speaks
HTTP/1.0 unless told, and the ``*_close`` lines repeat the comparison that way, one new
connection per call. The loopback server builds every answer in Python cell by cell (about
10 us a cell, in this process), so this benchmark caches each serialized data answer by its
selection (the same chunk asked by GET or POST is one entry): what is timed is the client, not
the server's JSON building. A child process fills the cache before anything is timed.

Timed, with :func:`time.perf_counter`, from making the client to holding the DataFrame:
regionstats ``PxWebApi(url, offline=False).get_data(...)`` (labels included, default 4
workers) and pxwebpy's ``pd.DataFrame(PxApi(url, disable_cache=True).get_table_data(...,
show="code"))`` (its in-memory response cache off, so no answer comes from memory; its default
thread pool), a new client per fetch. Before timing, both frames must hold the same cells
(value per code tuple, NaN where missing). Printed per shape: regionstats' first call of a
process (best of 3 new processes, each timing its first fetch of all after its imports, then 3
more), the warm best of 3 of each client in this process, the data calls each fetch made, and
a process's first call over its later ones (the issue asks for "as fast", with no figure), and
as ``TARGET`` lines (:func:`benchmarks.targets.target`, keep-alive run): regionstats' time over
pxwebpy's (<= 0.7) and the servers' ``calls_over_limit`` (must be 0). The ``*_close`` run
prints the same comparison for information. Without pxwebpy (``pip install -e '.[dev]'``)
the comparison lines say ``skipped`` and regionstats' own figures are still printed.

Run: ``python -m benchmarks.run fetch`` (or ``python -m benchmarks.bench_fetch``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from loopback import Cube, Dimension, LoopbackServer, ServerSettings  # noqa: E402
from loopback import server as loopback_server  # noqa: E402
from loopback.tables import cell_value  # noqa: E402

from regionstats.sources.pxwebapi import PxWebApi  # noqa: E402

try:
    from benchmarks.targets import target
except ImportError:  # run as a script from benchmarks/
    from targets import target  # type: ignore[no-redef]

TABLE = "99013"
REGIONS = tuple((f"{i:04d}", f"Region {i}") for i in range(1, 101))
INDUSTRIES = tuple((f"N{i:02d}", f"Industry {i}") for i in range(1, 51))
CONTENTS = tuple((f"C{i:02d}", f"Content {i}") for i in range(1, 11))
YEARS = tuple((str(y), str(y)) for y in range(2000, 2020))
DIMS = ("Region", "NACE", "ContentsCode", "Tid")
LABELS = {"Region": "region", "NACE": "industry", "ContentsCode": "contents", "Tid": "year"}

#: name -> (selection, cells per call the server allows, data calls expected)
SHAPES: dict[str, tuple[dict[str, Any], int, int]] = {
    "1m_10x100k": ({d: ["*"] for d in DIMS}, 100_000, 10),
    "25k_25x1k": (
        {
            "Region": [c for c, _ in REGIONS[:25]],
            "NACE": ["*"],
            "ContentsCode": ["C01"],
            "Tid": ["*"],
        },
        1_000,
        25,
    ),
}
MAX_CALLS, WINDOW = 1000, 60
TARGET = 0.7
REPEATS = 3
SKIPPED = "skipped (pip install -e '.[dev]')"


def _cell(codes: Mapping[str, str]) -> tuple[float | None, str | None]:
    if codes["Region"] == "0007" and codes["Tid"] == "2000":
        return None, ".."
    return cell_value([codes[d] for d in DIMS], decimals=1), None


def bench_table() -> Cube:
    """The 1,000,000-cell table (values from :func:`loopback.tables.cell_value`)."""
    return Cube(
        id=TABLE,
        label=f"{TABLE}: Synthetic benchmark table, by region, industry, contents and year",
        updated="2025-06-01T06:00:00Z",
        dims=(
            Dimension("Region", LABELS["Region"], REGIONS),
            Dimension("NACE", LABELS["NACE"], INDUSTRIES),
            Dimension("ContentsCode", LABELS["ContentsCode"], CONTENTS),
            Dimension("Tid", LABELS["Tid"], YEARS, time=True),
        ),
        cell=_cell,
    )


@contextmanager
def cached_answers() -> Iterator[None]:
    """Cache the loopback server's serialized data answers by table, language and selection
    (GET and POST of the same chunk share one entry); faults and errors are never cached."""
    original = loopback_server._pxweb
    cache: dict[Any, tuple[bytes, str]] = {}

    def answer(app: Any, method: str, path: str, query: Any, body: bytes, distort: Any = None):
        if distort is not None or not path.rstrip("/").endswith("/data"):
            return original(app, method, path, query, body, distort)
        if method == "POST":
            selection = loopback_server._selection_from_body(body)
        else:
            selection = loopback_server._selection_from_query(query)
        params = loopback_server._params(query)
        key = (
            path.lower(),
            params.get("lang"),
            params.get("outputformat"),
            tuple(sorted((k, tuple(v[0]), v[1]) for k, v in selection.items())),
        )
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = original(app, method, path, query, body, distort)
        return hit

    loopback_server._pxweb = answer
    try:
        yield
    finally:
        loopback_server._pxweb = original


@contextmanager
def http_version(version: str) -> Iterator[None]:
    """Make the loopback server speak ``version`` (``HTTP/1.1``: connections kept alive)."""
    handler = loopback_server._Handler
    before = handler.protocol_version
    handler.protocol_version = version
    try:
        yield
    finally:
        handler.protocol_version = before


_CHILD = """
import json, sys, time
from regionstats.sources.pxwebapi import PxWebApi
for url, selection in zip(sys.argv[3::2], map(json.loads, sys.argv[4::2])):
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter()
        PxWebApi(url, offline=False).get_data(sys.argv[1], selection)
        print(time.perf_counter() - start)
"""


def in_child(pairs: list[tuple[str, Mapping[str, Any]]], times: int = 1) -> list[float]:
    """Fetch each ``(url, selection)`` ``times`` times with regionstats in a new Python
    process, in order; the seconds each fetch took there (the very first is that process's
    first call of all, made after its imports)."""
    args = [TABLE, str(times)]
    for url, selection in pairs:
        args += [url, json.dumps(selection)]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        check=True,
        cwd=ROOT,
        timeout=600,
        capture_output=True,
        text=True,
    )
    return [float(line) for line in done.stdout.split()]


def fetch_regionstats(url: str, selection: Mapping[str, Any]) -> pd.DataFrame:
    return PxWebApi(url, offline=False).get_data(TABLE, selection)


def fetch_pxwebpy(url: str, selection: Mapping[str, Any]) -> pd.DataFrame:
    from pxweb import PxApi

    api = PxApi(url, disable_cache=True)
    return pd.DataFrame(api.get_table_data(TABLE, dict(selection), show="code"))


def timed(fetch: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    frame = fetch()
    return time.perf_counter() - start, frame


def best_of(fetch: Callable[[], pd.DataFrame], server: LoopbackServer) -> tuple[float, int]:
    """Best time of :data:`REPEATS` fetches, and the data calls one fetch made."""
    times, calls = [], set()
    for _ in range(REPEATS):
        before = len(server.data_calls())
        times.append(timed(fetch)[0])
        calls.add(len(server.data_calls()) - before)
    if len(calls) != 1:
        raise AssertionError(f"the fetches made different numbers of data calls: {calls}")
    return min(times), calls.pop()


def cells(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Value per code tuple, sorted by the codes, as float (NaN where missing)."""
    out = pd.Series(
        pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float),
        index=pd.MultiIndex.from_frame(frame[columns].astype(str), names=list(DIMS)),
    )
    return out.sort_index()


def same_cells(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    a = cells(ours, list(DIMS))
    b = cells(theirs, [LABELS[d] for d in DIMS])
    if not a.index.equals(b.index):
        raise AssertionError("regionstats and pxwebpy returned different cells")
    if not np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True):
        raise AssertionError("regionstats and pxwebpy returned different values")


def _have_pxwebpy() -> bool:
    try:
        import pxweb  # noqa: F401
    except ImportError:
        return False
    return True


def run(version: str, suffix: str, *, targets: bool) -> None:
    """Every shape on its own server speaking ``version``; lines end in ``suffix``.

    With ``targets`` (the keep-alive run): the servers' answer caches are filled from a child
    process, then, per shape, :data:`REPEATS` more child processes each make their first fetch
    of all and :data:`REPEATS` more (a process's first call against its later ones, in the same
    conditions); the figures are printed as issue 13's ``TARGET`` lines. Otherwise the
    comparison is printed for information.
    """
    table = {TABLE: bench_table()}
    with http_version(version):
        servers = {
            name: LoopbackServer(
                tables=table,
                settings=ServerSettings(max_cells=limit, max_calls=MAX_CALLS, time_window=WINDOW),
            ).start()
            for name, (_, limit, _) in SHAPES.items()
        }
        try:
            children: dict[str, list[list[float]]] = {}
            if targets:
                in_child([(srv.pxweb_url, SHAPES[name][0]) for name, srv in servers.items()])
                for name, server in servers.items():
                    pair = (server.pxweb_url, SHAPES[name][0])
                    children[name] = [in_child([pair], 1 + REPEATS) for _ in range(REPEATS)]
            pxwebpy = _have_pxwebpy()
            for name, server in servers.items():
                selection, _, expected = SHAPES[name]
                url = server.pxweb_url
                tag = f"{name}{suffix}"
                ours, calls = best_of(lambda u=url, s=selection: fetch_regionstats(u, s), server)
                if calls != expected:
                    raise AssertionError(f"{tag}: regionstats made {calls} data calls")
                print(f"fetch_warm_s[regionstats,{tag}]: {ours:.3f}")
                print(f"fetch_data_calls[regionstats,{tag}]: {calls}")
                if name in children:
                    firsts = [run[0] for run in children[name]]
                    later = min(t for run in children[name] for t in run[1:])
                    runs = ", ".join(f"{t:.3f}" for t in firsts)
                    print(f"fetch_first_call_s[regionstats,{tag}]: {min(firsts):.3f}")
                    print(f"fetch_first_call_runs_s[regionstats,{tag}]: {runs}")
                    print(f"fetch_later_calls_best_s[regionstats,{tag}]: {later:.3f}")
                    # the issue asks for the first call "as fast as the later ones" without a
                    # figure: printed, not judged as a target
                    print(f"fetch_first_call_vs_later_ratio[{tag}]: {min(firsts) / later:.2f}")
                if not pxwebpy:
                    print(f"fetch_vs_pxwebpy_ratio[{tag}]: {SKIPPED}")
                    continue
                # same cells first (this also fills the server's cache for pxwebpy's chunks)
                same_cells(fetch_regionstats(url, selection), fetch_pxwebpy(url, selection))
                theirs, their_calls = best_of(
                    lambda u=url, s=selection: fetch_pxwebpy(u, s), server
                )
                print(f"fetch_warm_s[pxwebpy,{tag}]: {theirs:.3f}")
                print(f"fetch_data_calls[pxwebpy,{tag}]: {their_calls}")
                print(f"fetch_same_cells[{tag}]: yes")
                if targets:
                    target(f"fetch_{tag}_vs_pxwebpy_ratio", ours / theirs, "<=", TARGET, "x")
                else:
                    verdict = "met" if ours / theirs <= TARGET else "NOT MET"
                    print(
                        f"fetch_vs_pxwebpy_ratio[{tag}]: {ours / theirs:.2f} x ({version}, a new "
                        f"connection per call: not a TARGET line; against <= {TARGET:g} x: "
                        f"{verdict})"
                    )
            for name, server in servers.items():
                over = server.calls_over_limit()
                if targets:
                    target(f"fetch_{name}{suffix}_calls_over_limit", over, "<=", 0)
                else:
                    print(f"fetch_calls_over_limit[{name}{suffix}]: {over}")
                if over:
                    raise AssertionError(f"{name}{suffix}: {over} calls over the server's limit")
        finally:
            for server in servers.values():
                server.stop()


def main() -> None:
    with cached_answers():
        run("HTTP/1.1", "", targets=True)
        run("HTTP/1.0", "_close", targets=False)


if __name__ == "__main__":
    main()
