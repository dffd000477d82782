"""Retry helpers in :mod:`regionstats.sources.http` (pure parts; the loop is tested against the
loopback server in ``test_pxwebapi.py``)."""

from __future__ import annotations

import random

import pytest

from regionstats.sources.http import RetryPolicy, backoff_delay, make_session, parse_retry_after


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 120 ") == 120.0
    # 21 Oct 2015 07:28:00 GMT is 1445412480 s after the epoch; 10 s before it -> wait 10 s
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("later") is None


def test_backoff_is_bounded_with_jitter():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(0)
    for attempt, full in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0)]:
        draws = [backoff_delay(attempt, policy, rng) for _ in range(200)]
        assert min(draws) >= full / 2 and max(draws) <= full
        assert max(draws) - min(draws) > full / 4  # jittered, not constant


def test_policy_validation():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_session_user_agent():
    assert make_session().headers["User-Agent"].startswith("regionstats/")
    assert make_session("me/1.0").headers["User-Agent"] == "me/1.0"
