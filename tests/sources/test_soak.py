"""Soak: several processes share one loopback server's call limit under random faults.

Each worker process (this file run as a script: ``python test_soak.py worker '<json>'``) makes
calls through its own :class:`PxWebApi` with ``limiter="auto"`` (one shared limiter file, the
user cache dir pointed at a temporary folder) and a :class:`Fetcher` writing into one raw store
shared by all of them. The server injects random faults (:class:`loopback.server.Chaos`: 429,
503, resets, cut-off bodies, slow answers, and complete answers that are wrong: poisoned bodies,
other codes, another ``updated``, the default selection) and logs every request; afterwards the
log is replayed against the server's limit (:meth:`LoopbackServer.calls_over_limit`).

What must hold: no request over the limit, no value handed to a caller that differs from the
table's own cell rule, every stored vintage decodes and matches its query and the rule, and every
call ends in success or a typed error (a :class:`regionstats.sources.http.SourceError`) within its
deadline. The soak runs by default and is bounded: ``SOAK_CALLS`` calls per process (3 x 200, the
issue's numbers) and a wall-clock budget of ``SOAK_BUDGET_S`` seconds per process, after which a
worker stops early (it reports how many calls it made); deselect with ``-k "not soak"``.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from loopback import LoopbackServer, ServerSettings
from loopback.server import Chaos
from loopback.tables import accounts_table, population_table

TESTS = Path(__file__).resolve().parents[1]
PROCESSES = 3
SOAK_CALLS = 200
SOAK_BUDGET_S = 40.0
DEADLINE_S = 6.0  # per request (limiter slot, connect, whole body, retries)

RATES = {
    "503": 0.04,
    "reset": 0.03,
    "truncate": 0.03,
    "slow": 0.03,
    "429": 0.01,
    "poison": 0.01,
    "swap_codes": 0.01,
    "updated": 0.01,
    "default_selection": 0.005,
}

POP_REGIONS = ["0301", "1001", "4204", "1103", "5001"]
POP_YEARS = [str(y) for y in range(2015, 2025)]
ACCOUNT_QUERIES = [
    {"Region": ["03", "11"], "NACE2007": ["10-33"], "ContentsCode": ["BruttoprodBasis"],
     "Tid": ["2020", "2021"]},
    {"Region": ["0", "50"], "NACE2007": ["01-03", "84"], "ContentsCode": ["Sysselsatte"],
     "Tid": ["2016", "2017", "2018"]},
    {"Region": ["42", "46"], "NACE2007": ["*"], "ContentsCode": ["Lonnskost"], "Tid": ["2019"]},
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the worker (a separate process)
# ---------------------------------------------------------------------------------------------


def _expected(cube: Any, frame: Any, dims: list[str]) -> list[str]:
    """Rows of ``frame`` that differ from ``cube.cell`` (value, or status symbol)."""
    wrong = []
    for row in frame[[*dims, "value", "status"]].itertuples(index=False):
        codes = dict(zip(dims, row[: len(dims)], strict=True))
        value, symbol = cube.cell(codes)
        got_value, got_status = row[len(dims)], row[len(dims) + 1]
        if symbol is not None:
            ok = str(got_status) == symbol and math.isnan(got_value)
        else:
            ok = got_value == value and (got_status is None or str(got_status) == "<NA>")
        if not ok:
            wrong.append(f"{codes}: got {got_value!r}/{got_status!r}, want {value!r}/{symbol!r}")
    return wrong


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """Make ``args["calls"]`` random calls; count outcomes (run in a child process)."""
    from loopback import LoopbackOnlySession

    from regionstats.sources.fetch import Fetcher
    from regionstats.sources.http import SourceError
    from regionstats.sources.pxwebapi import PxWebApi
    from regionstats.sources.store import RawStore

    time.sleep(args.get("start_delay", 0.0))
    rng = random.Random(args["seed"])
    api = PxWebApi(
        args["url"],
        session=LoopbackOnlySession(),
        limiter="auto",
        timeout=(2.0, 1.0),
        max_retries=4,
        backoff_base=0.05,
        max_wait=5.0,
        deadline=args["deadline"],
        offline=False,
    )
    fetcher = Fetcher(api, RawStore(args["store"]), offline=False)
    pop, acc = population_table(), accounts_table()
    out: dict[str, Any] = {"calls": 0, "ok": 0, "typed": {}, "untyped": [], "wrong": []}
    out["max_call_s"] = 0.0
    started = time.monotonic()
    for _ in range(args["calls"]):
        if time.monotonic() - started > args["budget_s"]:
            break
        kind = rng.choices(["info", "data", "fetch"], weights=[4, 3, 3])[0]
        t0 = time.monotonic()
        try:
            if kind == "info":
                info = api.table_info(rng.choice(["07459", "11713"]))
                if not info.get("updated"):
                    out["wrong"].append(f"table_info without updated: {info}")
            elif kind == "data":
                sel = {
                    "Region": rng.sample(POP_REGIONS, rng.randint(1, 3)),
                    "Kjonn": rng.sample(["1", "2"], rng.randint(1, 2)),
                    "Alder": [f"{a:03d}" for a in rng.sample(range(11), rng.randint(1, 4))],
                    "ContentsCode": ["Personer1"],
                    "Tid": rng.sample(POP_YEARS, rng.randint(1, 4)),
                }
                frame = api.get_data("07459", sel)
                want = math.prod(len(v) for v in sel.values())
                if len(frame) != want:
                    out["wrong"].append(f"07459 {sel}: {len(frame)} rows for {want} cells")
                out["wrong"] += _expected(pop, frame, list(sel))
            else:
                query = rng.choice(ACCOUNT_QUERIES)
                frame = fetcher.fetch("11713", query)
                out["wrong"] += _expected(acc, frame, list(query))
            out["ok"] += 1
        except SourceError as exc:  # typed: InvalidResponse, ServiceUnavailable, ...
            name = type(exc).__name__
            out["typed"][name] = out["typed"].get(name, 0) + 1
        except Exception as exc:  # anything else is a failure of the test
            out["untyped"].append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        out["calls"] += 1
        out["max_call_s"] = max(out["max_call_s"], time.monotonic() - t0)
    out["elapsed_s"] = time.monotonic() - started
    return out


# ---------------------------------------------------------------------------------------------
# the tests (parent)
# ---------------------------------------------------------------------------------------------


def _spawn(args: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "worker", json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _child_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REGIONSTATS_OFFLINE"}
    env["XDG_CACHE_HOME"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return env


def _collect(procs: list[subprocess.Popen[str]], timeout: float) -> list[dict[str, Any]]:
    results = []
    end = time.monotonic() + timeout
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise AssertionError(f"a worker did not finish within {timeout:.0f} s") from None
        assert proc.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def test_soak_three_processes_share_the_limit_under_random_faults(tmp_path: Path) -> None:
    from regionstats.sources.fetch import _load
    from regionstats.sources.store import RawStore

    settings = ServerSettings(max_cells=40, max_calls=60, time_window=2)
    store = tmp_path / "raw"
    with LoopbackServer(settings=settings) as server:
        server.chaos = Chaos(RATES, seed=12, retry_after=1, delay=0.3)
        env = _child_env(tmp_path / "cache")
        procs = [
            _spawn(
                {
                    "url": server.pxweb_url,
                    "store": str(store),
                    "calls": SOAK_CALLS,
                    "seed": 100 + i,
                    "deadline": DEADLINE_S,
                    "budget_s": SOAK_BUDGET_S,
                    "start_delay": 0.2 * i,
                },
                env,
            )
            for i in range(PROCESSES)
        ]
        results = _collect(procs, timeout=SOAK_BUDGET_S + 60)
        over = server.calls_over_limit()
        own_429 = sum(1 for r in server.requests if r.status == 429 and r.fault is None)
        requests = len(server.requests)
        drawn = dict(server.chaos.drawn)
    summary = {
        "requests": requests,
        "faults drawn": drawn,
        "workers": [{k: v for k, v in r.items() if k != "untyped"} for r in results],
    }
    print(json.dumps(summary, indent=1))
    assert [r["untyped"] for r in results] == [[]] * PROCESSES
    assert [r["wrong"] for r in results] == [[]] * PROCESSES
    assert over == 0 and own_429 == 0, summary
    for r in results:
        assert r["ok"] > 0
        assert r["calls"] == SOAK_CALLS or r["elapsed_s"] > SOAK_BUDGET_S
        # one call: at most a few requests (table_info, /config, /metadata, chunks), each with
        # its deadline; none may hang
        assert r["max_call_s"] < 4 * DEADLINE_S
    assert sum(drawn.values()) > 0.05 * requests  # the faults really happened (~13 %)
    # every stored vintage decodes, answers its own query and holds the table's numbers
    raw = RawStore(store)
    vintages = raw.vintages("11713")
    assert vintages
    acc = accounts_table()
    for vintage in vintages:
        frame = _load(raw, vintage)
        dims = list(vintage.query["selection"])
        assert _expected(acc, frame, dims) == []
        sel = vintage.query["selection"]
        if "*" not in sel["NACE2007"]:
            assert len(frame) == math.prod(len(v) for v in sel.values())


def test_four_staggered_processes_never_exceed_the_limit(tmp_path: Path) -> None:
    # The probe: four processes starting 0.25 s apart, each reading /config and making
    # table_info calls with limiter="auto" and no retries; the server allows 5 calls per second.
    settings = ServerSettings(max_calls=5, time_window=1)
    with LoopbackServer(settings=settings) as server:
        env = _child_env(tmp_path / "cache")
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "info", json.dumps([server.pxweb_url, 0.25 * i, 6])],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for i in range(4)
        ]
        outcomes = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=90)
            outcomes.append((proc.returncode, stdout.strip(), stderr[-500:]))
        over = server.calls_over_limit()
        n_429 = server.count(status=429)
        n = len(server.requests)
    assert [o[:2] for o in outcomes] == [(0, "6")] * 4, outcomes
    assert n == 4 * (6 + 1)  # /config once per process, then six calls each
    assert over == 0 and n_429 == 0


def _info_worker(url: str, start_delay: float, n: int) -> int:
    from loopback import LoopbackOnlySession

    from regionstats.sources.pxwebapi import PxWebApi

    time.sleep(start_delay)
    api = PxWebApi(
        url,
        session=LoopbackOnlySession(),
        limiter="auto",
        max_retries=0,
        timeout=(2, 5),
        offline=False,
    )
    for _ in range(n):
        api.table_info("07459")
    return n


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
    elif sys.argv[1] == "info":
        print(_info_worker(*json.loads(sys.argv[2])))
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
