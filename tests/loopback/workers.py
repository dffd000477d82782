"""Functions run in child processes by the rate-limiter tests (importable under ``spawn``)."""

from __future__ import annotations


def call_table_info(
    base_url: str, limiter_path: str, max_calls: int, window_s: float, n: int
) -> int:
    """Make ``n`` ``/tables/07459`` calls through a shared file limiter, never retrying.

    Returns the number of calls answered 200; a 429 raises (``max_retries=0``).
    """
    from regionstats.sources.pxwebapi import PxWebApi
    from regionstats.sources.ratelimit import RateLimiter

    from .server import LoopbackOnlySession

    limiter = RateLimiter(max_calls, window_s, path=limiter_path)
    api = PxWebApi(
        base_url,
        session=LoopbackOnlySession(),
        limiter=limiter,
        max_retries=0,
        timeout=(2, 5),
        offline=False,
    )
    for _ in range(n):
        api.table_info("07459")
    return n
