"""Fixtures for the report and ``regionstats update`` tests.

* ``report_fixtures``: the hand-made notebooks in ``tests/fixtures/report/``;
* ``network_guard``: refuses (and records) any socket connection from this process to a host
  other than loopback, so an "offline" run that tried the network fails loudly;
* ``accounts_server``: a loopback PxWebApi 2.0 server (``tests/loopback``) serving a small
  11713-like table whose labels are the real 11713 labels (so ``normalise_11713`` reads it as it
  reads SSB's), the loopback 07459 table, and no 13470 (the API answers 404: "discontinued").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import LoopbackServer, ServerSettings
from loopback.tables import population_table
from report_helpers import NetworkGuard, accounts_cube

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "report"


@pytest.fixture(scope="session")
def report_fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> NetworkGuard:
    guard = NetworkGuard()
    guard.install(monkeypatch)
    return guard


@pytest.fixture(scope="module")
def accounts_server() -> Iterator[LoopbackServer]:
    tables = {"11713": accounts_cube(), "07459": population_table()}
    server = LoopbackServer(tables=tables, settings=ServerSettings(max_calls=1000))
    server.start()
    try:
        yield server
    finally:
        server.stop()
