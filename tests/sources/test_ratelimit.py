"""The machine-wide rate limiter: a sliding-window log in a locked file."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from loopback import LoopbackOnlySession
from loopback.workers import call_table_info

from regionstats.sources.pxwebapi import PxWebApi, RateLimited
from regionstats.sources.ratelimit import RateLimiter, default_limiter_path


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_sliding_window_waits_for_the_oldest_call(tmp_path):
    clock = FakeClock()
    limiter = RateLimiter(
        3, 10, path=tmp_path / "rl.json", margin_s=0.5, clock=clock, sleep=clock.sleep
    )
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 4  # calls at t0, t0, t0; now t0 + 4
    waited = limiter.acquire()
    # the oldest call leaves the window at t0 + 10 + 0.5: 6.5 s from t0 + 4
    assert waited == pytest.approx(6.5)
    # all three t0 calls left the window together: only the new one is in it
    assert limiter.calls_in_window() == 1


def test_two_limiters_share_the_file(tmp_path):
    clock = FakeClock()
    path = tmp_path / "shared.json"
    a = RateLimiter(2, 60, path=path, clock=clock, sleep=clock.sleep)
    b = RateLimiter(2, 60, path=path, clock=clock, sleep=clock.sleep)
    a.acquire()
    b.acquire()
    assert b.calls_in_window() == 2
    with pytest.raises(TimeoutError, match="no free slot within 5 s"):
        a.acquire(timeout=5)


def test_corrupt_file_counts_as_empty(tmp_path):
    path = tmp_path / "rl.json"
    path.write_text('{"calls": [1, 2', encoding="utf-8")
    limiter = RateLimiter(1, 60, path=path)
    assert limiter.acquire() == 0.0
    assert limiter.calls_in_window() == 1


def test_default_path_is_per_host_in_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = default_limiter_path("https://data.ssb.no/api/pxwebapi/v2")
    assert path == tmp_path / "regionstats" / "ratelimit-data.ssb.no.json"
    limiter = RateLimiter(30, 60, host="https://data.ssb.no/api/pxwebapi/v2")
    assert limiter.path == path
    assert not path.exists()  # nothing is made before the first acquire()


def test_without_limiter_the_server_answers_429(loopback_server):
    # Control for the next test: the same load without a limiter is refused by the server.
    loopback_server.settings.max_calls = 3
    loopback_server.settings.time_window = 2
    api = PxWebApi(
        loopback_server.pxweb_url, session=LoopbackOnlySession(), max_retries=0, offline=False
    )
    with pytest.raises(RateLimited):
        for _ in range(8):
            api.table_info("07459")
    assert loopback_server.count(status=429) == 1


def test_two_processes_sharing_the_limiter_stay_within_the_limit(loopback_server, tmp_path):
    loopback_server.settings.max_calls = 3
    loopback_server.settings.time_window = 1
    path = str(tmp_path / "ratelimit.json")
    ctx = multiprocessing.get_context("spawn")
    start = time.monotonic()
    with ctx.Pool(2) as pool:
        jobs = [
            pool.apply_async(call_table_info, (loopback_server.pxweb_url, path, 3, 1.0, 4))
            for _ in range(2)
        ]
        done = [job.get(timeout=60) for job in jobs]
    assert done == [4, 4]
    assert loopback_server.count(status=429) == 0
    assert loopback_server.count(status=200) == 8
    # 8 calls at 3 per second cannot all happen within 2 s of the first one
    times = sorted(r.time for r in loopback_server.requests)
    assert times[-1] - times[0] >= 2.0
    assert time.monotonic() - start < 60
