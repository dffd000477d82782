"""Chunks of a split query fetched concurrently (``PxWebApi(workers=...)``) on the loopback server.

Expected cells come from the loopback tables' own rule (``Cube.cell``, CRC32 of the codes; the
server shares no code with the client), the sequential client (``workers=1``) is the reference
for everything else, and overlap is read from the server's request log. No test is timed: the
slow faults only make calls last long enough to overlap, and every client has a deadline.
"""

from __future__ import annotations

import itertools
import pathlib
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from loopback import LoopbackServer, ServerSettings
from loopback import server as loopback_server_module
from loopback.clients import pxweb_client
from loopback.tables import population_table

from regionstats.sources import http
from regionstats.sources.pxwebapi import (
    DeadlineExceeded,
    InvalidResponse,
    PxWebApi,
    PxWebApiError,
)
from regionstats.sources.ratelimit import RateLimiter

FULL_07459 = {"Region": "*", "Kjonn": "*", "Alder": "*", "ContentsCode": "*", "Tid": "*"}
WORKER_PREFIX = "regionstats-pxwebapi"


def expected_07459() -> pd.DataFrame:
    """Every cell of the 07459 fixture in row-major metadata order, from the table's rule."""
    cube = population_table()
    rows = []
    for combo in itertools.product(*(d.codes for d in cube.dims)):
        codes = dict(zip((d.code for d in cube.dims), combo, strict=True))
        value, symbol = cube.cell(codes)
        rows.append({**codes, "value": np.nan if value is None else value, "status": symbol})
    return pd.DataFrame(rows)


def assert_cells(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    dims = [c for c in expected.columns if c not in ("value", "status")]
    assert frame[dims].to_numpy().tolist() == expected[dims].to_numpy().tolist()
    assert np.array_equal(
        frame["value"].to_numpy(dtype=float),
        expected["value"].to_numpy(dtype=float),
        equal_nan=True,
    )
    got = [None if pd.isna(s) else s for s in frame["status"]]
    assert got == [None if pd.isna(s) else s for s in expected["status"]]


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX)]


def max_in_flight(times: list[float], duration: float) -> int:
    """The most requests that arrived within ``duration`` seconds of each other: each lasts at
    least ``duration`` (the server's delay), so they were all in flight at once."""
    times = sorted(times)
    return max(
        (sum(1 for u in times[i:] if u - t < duration) for i, t in enumerate(times)), default=0
    )


@pytest.fixture
def server():
    with LoopbackServer(settings=ServerSettings(max_cells=100, max_calls=10_000)) as srv:
        yield srv


def test_concurrent_split_gives_the_sequential_frame_and_bodies(server: LoopbackServer) -> None:
    # 10 x 2 x 11 x 1 x 10 = 2,200 cells at 100 per call: ceil(2,200 / 100) = 22 calls
    sequential = pxweb_client(server, workers=1)
    reference = sequential.get_data("07459", FULL_07459)
    ref_bodies = sequential.get_data_bytes("07459", FULL_07459)
    plan = sequential.plan("07459", FULL_07459)
    assert len(plan) == 22
    server.reset()
    concurrent = pxweb_client(server, workers=4)
    frame = concurrent.get_data("07459", FULL_07459)
    assert len(server.data_calls()) == 22
    pd.testing.assert_frame_equal(frame, reference, check_exact=True)
    assert frame.attrs == reference.attrs
    assert_cells(frame, expected_07459())
    # public output: plain strings, not Categoricals
    assert all(frame[c].dtype == pd.Series([""]).dtype for c in ("Region", "Region_label"))
    assert concurrent.get_data_bytes("07459", FULL_07459) == ref_bodies  # plan order
    assert worker_threads() == []


def test_calls_overlap_at_the_server_and_never_exceed_the_workers(server: LoopbackServer) -> None:
    # 2,200 cells at 300 per call: 8 calls, each held 0.4 s by the server. The first goes
    # alone, then 7 with 3 workers: 3 + 3 + 1 in flight; one by one with workers=1.
    server.settings.max_cells = 300
    delay = 0.4
    seen = {}
    for workers in (1, 3):
        server.reset()
        api = pxweb_client(server, workers=workers, deadline=10.0)
        api.metadata("07459")
        server.faults.push("slow", count=8, path="/data", delay=delay)
        frame = api.get_data("07459", FULL_07459)
        calls = server.data_calls()
        assert len(calls) == 8 and all(c.fault == "slow" for c in calls)
        assert_cells(frame, expected_07459())
        seen[workers] = max_in_flight([c.time for c in calls], delay * 0.9)
    assert seen[1] == 1
    assert seen[3] == 3


def test_rate_limit_is_respected_with_concurrency(
    server: LoopbackServer, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5 calls per second at the server, 22 data calls + /config + metadata: about 5 s, none
    # over the limit (the server answers 429 to any; the log replay counts them too).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    server.settings.max_calls = 5
    server.settings.time_window = 1
    api = pxweb_client(server, workers=4, limiter="auto", deadline=30.0)
    frame = api.get_data("07459", FULL_07459)
    assert_cells(frame, expected_07459())
    assert len(server.data_calls()) == 22
    assert server.count(status=429) == 0
    assert server.calls_over_limit() == 0
    assert worker_threads() == []


def test_limiter_counts_every_call_across_threads(tmp_path: pathlib.Path) -> None:
    # 8 threads x 20 tries without waiting on two limiters sharing one file: exactly 50 pass.
    path = tmp_path / "rl.json"
    limiters = [RateLimiter(50, 600, path=path), RateLimiter(50, 600, path=path)]
    admitted = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def run(limiter: RateLimiter) -> None:
        barrier.wait(timeout=10)
        for _ in range(20):
            try:
                limiter.acquire(timeout=0)
            except TimeoutError:
                continue
            with lock:
                admitted.append(1)

    threads = [threading.Thread(target=run, args=(limiters[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(admitted) == 50
    assert limiters[0].calls_in_window() == 50


@pytest.mark.parametrize(
    ("fault", "options", "error", "most_calls"),
    [
        # fails at once: the first call alone, then at most the workers' calls in flight (and
        # a few they took before the cancel), far fewer than the 22 planned
        ("forbidden", {}, PxWebApiError, 1 + 2 * 4),  # a 403 that is not "too many cells"
        ("malformed", {}, InvalidResponse, 1 + 2 * 4),
        # one byte per 0.5 s until the 1.5 s deadline: the others finish meanwhile, each once
        ("trickle", {"delay": 0.5}, DeadlineExceeded, 22),
    ],
)
def test_an_error_in_one_chunk_is_raised_typed_and_stops_the_rest(
    server: LoopbackServer,
    fault: str,
    options: dict[str, Any],
    error: type[Exception],
    most_calls: int,
) -> None:
    api = pxweb_client(server, workers=4, deadline=1.5, max_retries=0)
    api.metadata("07459")
    server.faults.push(fault, count=1, path="/data", skip=1, **options)  # the second data call
    with pytest.raises(error) as caught:
        api.get_data("07459", FULL_07459)
    assert type(caught.value) is error
    assert 2 <= len(server.data_calls()) <= most_calls
    assert worker_threads() == []


def test_too_many_cells_resplit_still_works_with_concurrency() -> None:
    # Announces 1,100 cells, takes 1,000 (test_faults' wide case on 07459-like cells): the
    # concurrent client makes the same calls as the sequential one and gets every cell.
    settings = ServerSettings(max_cells=1100, enforced_max_cells=1000, max_calls=10_000)
    with LoopbackServer(settings=settings) as srv:
        frames, statuses = {}, {}
        for workers in (1, 4):
            srv.reset()
            api = pxweb_client(srv, workers=workers)
            frames[workers] = api.get_data("07459", FULL_07459)
            statuses[workers] = sorted(c.status for c in srv.data_calls())
    assert statuses[4] == statuses[1]
    assert statuses[4].count(403) >= 1
    pd.testing.assert_frame_equal(frames[4], frames[1], check_exact=True)
    assert_cells(frames[4], expected_07459())


def test_a_refusal_inside_a_concurrent_wave_is_made_again(server: LoopbackServer) -> None:
    # The fifth data call (inside the first concurrent wave) is refused once as too many
    # cells. Calls of its size pass meanwhile, so the refusal was transient (the learned
    # limit grows back to 100): the call is made again and every cell arrives exactly once.
    api = pxweb_client(server, workers=4)
    api.metadata("07459")
    server.faults.push("too_many_cells", count=1, path="/data", skip=4)
    frame = api.get_data("07459", FULL_07459)
    assert_cells(frame, expected_07459())
    calls = server.data_calls()
    assert [c.status for c in calls].count(403) == 1
    refused = next(c for c in calls if c.status == 403)
    assert sum(c.query == refused.query for c in calls) == 2
    assert frame.attrs["calls"] == len(calls) - 1 == 22
    assert worker_threads() == []


@pytest.mark.parametrize("workers", [1, 4])
def test_updated_changing_between_chunks_is_refused(server: LoopbackServer, workers: int) -> None:
    api = pxweb_client(server, workers=workers)
    api.metadata("07459")
    server.faults.push("updated", count=1, path="/data", skip=3)
    with pytest.raises(InvalidResponse, match="updated while its chunks were fetched"):
        api.get_data("07459", FULL_07459)
    assert len(server.data_calls()) <= 22
    assert worker_threads() == []


def test_workers_must_be_a_positive_whole_number() -> None:
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="workers"):
            PxWebApi("http://127.0.0.1:9/api/pxwebapi/v2", workers=bad, offline=False)  # type: ignore[arg-type]


def test_default_session_pools_enough_connections_and_acks_at_once() -> None:
    session = http.make_session()
    for url in ("http://127.0.0.1/", "https://data.ssb.no/"):
        adapter = session.get_adapter(url)
        assert isinstance(adapter, http.QuickAckAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] >= PxWebApi().workers


def test_kept_alive_connections_with_the_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loopback server keeps connections open when it speaks HTTP/1.1 (as SSB does); the
    # default session's quick-ack connections fetch the split query right, concurrently.
    monkeypatch.setattr(loopback_server_module._Handler, "protocol_version", "HTTP/1.1")
    with LoopbackServer(settings=ServerSettings(max_cells=100, max_calls=10_000)) as srv:
        api = PxWebApi(srv.pxweb_url, timeout=(2, 5), deadline=10.0, offline=False)
        frame = api.get_data("07459", FULL_07459)
        pool = api.session.get_adapter(srv.pxweb_url).poolmanager.connection_from_url(srv.pxweb_url)
        assert pool.ConnectionCls.__name__ == "_QuickAckHTTPConnection"
        api.session.close()
    assert len(srv.data_calls()) == 22
    assert_cells(frame, expected_07459())
