"""``regionstats update`` online against the loopback PxWebApi 2.0 server (127.0.0.1 only), then
offline from the raw store it filled. Needs no snapshot.

Calls are counted by the server's own request log. The expected revisions are worked out from the
loopback table's rule (a new release raises every 2020 number by 1000 and adds 2022), not from
the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
from loopback import LoopbackServer
from loopback.clients import pxweb_client
from report_helpers import (
    ACCOUNT_CONTENTS,
    ACCOUNT_INDUSTRIES,
    ACCOUNT_REGIONS,
    ACCOUNTS_SELECTION,
    NetworkGuard,
    accounts_cube,
    accounts_value,
    publish,
)

from regionstats.pipeline import PROJECT_TABLES, update
from regionstats.sources.fetch import Fetcher
from regionstats.sources.store import RawStore

NEW_UPDATED = "2025-03-12T07:00:00Z"
REVISION = 1000.0


def tables() -> list[tuple[str, dict[str, str], dict[str, str] | None]]:
    """The project's queries, with the 11713-like table's own dimension names."""
    out = [("11713", dict(ACCOUNTS_SELECTION), None)]
    out += [(t, dict(sel), cl) for t, sel, cl in PROJECT_TABLES if t != "11713"]
    return out


@pytest.fixture(scope="module")
def online(tmp_path_factory, accounts_server: LoopbackServer, report_fixtures) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("online")
    out, data = base / "out", base / "data"
    fetcher = Fetcher(
        client=pxweb_client(accounts_server), store=RawStore(data / "raw"), offline=False
    )
    common = {
        "notebooks": report_fixtures / "pipeline",
        "data_dir": data,
        "tables": tables(),
        "parameters": {"start_year": 2016, "end_year": 2021},
        "snapshot": None,
    }
    found: dict[str, Any] = {"out": out, "data": data}
    calls = []
    found["first"] = update(out, offline=False, fetcher=fetcher, **common)
    calls.append(len(accounts_server.data_calls()))
    found["second"] = update(out, offline=False, fetcher=fetcher, **common)
    calls.append(len(accounts_server.data_calls()))
    publish(
        accounts_server,
        accounts_cube(years=range(2016, 2023), updated=NEW_UPDATED, revise_year=2020),
    )
    found["third"] = update(out, offline=False, fetcher=fetcher, **common)
    calls.append(len(accounts_server.data_calls()))
    requests_before = len(accounts_server.requests)
    with pytest.MonkeyPatch.context() as mp:
        guard = NetworkGuard()
        guard.install(mp)
        found["offline"] = update(out, offline=True, **common)
    found["offline_requests"] = len(accounts_server.requests) - requests_before
    found["guard"] = guard
    found["data_calls"] = calls
    return found


def test_first_run_fetches_and_records_tables(online) -> None:
    m = online["first"].manifest
    assert m["mode"] == "online"
    t = m["tables"]
    assert t["11713"]["status"] == "new vintage" and t["11713"]["updated"] == "2024-03-13T07:00:00Z"
    assert t["07459"]["status"] == "new vintage"
    assert t["13470"]["status"] == "discontinued"  # the server has no such table (404)
    assert online["data_calls"][0] >= 2  # 11713 and 07459 fetched
    [raw] = [i for i in m["inputs"] if i["kind"] == "raw vintage"]
    assert raw["table"] == "11713" and len(raw["sha256"]) == 64
    rows = len(ACCOUNT_REGIONS) * len(ACCOUNT_INDUSTRIES) * len(ACCOUNT_CONTENTS) * 6
    assert m["processed"]["regional_accounts"]["rows"] == rows


def test_unchanged_tables_are_not_fetched_again(online) -> None:
    calls = online["data_calls"]
    assert calls[1] == calls[0]  # second run: metadata checks only, no data call
    second = online["second"]
    assert second.manifest["refresh"]["data_calls"] == 0
    assert second.revisions["has_revisions"] is False
    changes = {t["table"]: t["change"] for t in second.revisions["tables"]}
    # the server has neither employment table (13470, nor 07984 for the earlier years)
    assert changes == {
        "11713": "not advanced",
        "07459": "not advanced",
        "13470": "discontinued",
        "07984": "discontinued",
    }


def test_new_release_is_fetched_and_its_revisions_reported(online) -> None:
    calls = online["data_calls"]
    assert calls[2] > calls[1]  # 11713 advanced: fetched again
    rev = online["third"].revisions
    changes = {t["table"]: t["change"] for t in rev["tables"]}
    assert changes["11713"] == "advanced" and changes["07459"] == "not advanced"
    d = rev["datasets"]["regional_accounts"]
    n_cells_2020 = len(ACCOUNT_REGIONS) * len(ACCOUNT_INDUSTRIES) * len(ACCOUNT_CONTENTS)
    assert d["revised"] == n_cells_2020 and d["revised_value"] == n_cells_2020
    assert d["median_abs_revision"] == pytest.approx(REVISION)
    assert all(c["year"] == 2020 for c in d["top_revisions"])
    assert all(c["revision"] == pytest.approx(REVISION) for c in d["top_revisions"])
    national = [
        c
        for c in d["top_revisions"]
        if (c["region"], c["industry"], c["measure"]) == ("0", "TOTAL", "value_added")
    ]
    assert len(national) == 1
    cell = national[0]
    codes = {"Region": "0", "NACE2007": "00-99", "ContentsCode": "BruttoprodBasis", "Tid": "2020"}
    assert cell["value_old"] == pytest.approx(accounts_value(codes))
    assert cell["value_new"] == pytest.approx(accounts_value(codes) + REVISION)
    assert d["new_periods"] == [2022]
    assert d["new_cells"] == n_cells_2020  # the cells of 2022


def test_offline_run_reads_the_raw_store_without_network(online) -> None:
    result = online["offline"]
    assert online["offline_requests"] == 0  # the server saw nothing
    assert online["guard"].refused == []
    assert result.manifest["refresh"]["data_calls"] == 0
    [raw] = [i for i in result.manifest["inputs"] if i["kind"] == "raw vintage"]
    assert raw["updated"] == NEW_UPDATED  # the newest stored vintage
    assert result.revisions["has_revisions"] is False
    changes = {t["table"]: t["change"] for t in result.revisions["tables"]}
    assert changes["11713"] == "not advanced"
