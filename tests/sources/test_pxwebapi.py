"""PxWebApi 2.0 client against the loopback server: validation, splitting, faults.

Expected values come from the server's fixture rule (``loopback.tables.cell_value``: a CRC32 of
the cell's codes), recomputed here independently of the client, or from hand arithmetic.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd
import pytest
from loopback import Cube, Dimension, LoopbackOnlySession, LoopbackServer, ServerSettings
from loopback.tables import cell_value

from regionstats.sources.pxwebapi import (
    InvalidSelection,
    PxWebApi,
    PxWebApiError,
    RateLimited,
    ServiceUnavailable,
    TableNotFound,
    minimum_calls,
    plan_split,
)

FULL_07459 = {"Region": "*", "Kjonn": "*", "Alder": "*", "ContentsCode": "*", "Tid": "*"}


def pop_value(region: str, sex: str, age: str, year: str) -> float:
    return cell_value([region, sex, age, "Personer1", year])


# ---------------------------------------------------------------------------------------------
# metadata, config, search
# ---------------------------------------------------------------------------------------------


def test_constructor_makes_no_call_and_config_is_read_once(loopback_server, pxweb):
    assert loopback_server.requests == []
    loopback_server.settings.max_cells = 1234
    assert pxweb.max_cells == 1234
    assert pxweb.config()["apiVersion"] == "2.0.0"
    paths = [r.path for r in loopback_server.requests]
    assert paths == ["/api/pxwebapi/v2/config"]


def test_not_a_v2_server_is_refused(loopback_server, pxweb):
    loopback_server.settings.api_version = "1.0"
    with pytest.raises(PxWebApiError, match="not a PxWebApi 2.0 server"):
        pxweb.config()


def test_table_info_and_unknown_table(loopback_server, pxweb):
    info = pxweb.table_info("11713")
    assert info["updated"] == "2024-03-13T07:00:00Z"
    assert (info["firstPeriod"], info["lastPeriod"]) == ("2008", "2021")
    with pytest.raises(TableNotFound, match="'99999'") as err:
        pxweb.table_info("99999")
    assert err.value.table_id == "99999"
    with pytest.raises(TableNotFound, match="'99999'"):
        pxweb.get_data("99999", {"Tid": "*"})
    assert loopback_server.data_calls() == []


def test_metadata_exposes_codelists_under_both_spellings(pxweb):
    pop = pxweb.metadata("07459")["dimension"]["Region"]["extension"]
    fnr = pxweb.metadata("11713")["dimension"]["NACE2007"]["extension"]  # served as codeLists
    assert [c["id"] for c in pop["codelists"]] == ["agg_KommSummer", "vs_Fylker"]
    assert pop["codeLists"] == pop["codelists"]
    assert [c["id"] for c in fnr["codelists"]] == ["agg_NACE2007Hoved"]
    assert fnr["codeLists"] == fnr["codelists"]


def test_metadata_is_cached(loopback_server, pxweb):
    pxweb.metadata("07459")
    pxweb.metadata("07459")
    assert sum(r.is_metadata for r in loopback_server.requests) == 1


def test_search_tables_pages(loopback_server, pxweb):
    hits = pxweb.search_tables("befolkning")
    assert hits["id"].tolist() == ["07459"]
    both = pxweb.search_tables("", page_size=1)
    assert sorted(both["id"]) == ["07459", "11713"]
    assert sum(r.path.endswith("/tables") for r in loopback_server.requests) == 3


def test_codelist(pxweb):
    doc = pxweb.codelist("agg_KommSummer")
    k4204 = next(v for v in doc["values"] if v["code"] == "K-4204")
    assert k4204["valueMap"] == ["1001", "1002", "1018", "4204"]


# ---------------------------------------------------------------------------------------------
# validation before any data call
# ---------------------------------------------------------------------------------------------


def test_unknown_code_lists_close_matches(loopback_server, pxweb):
    sel = {"Region": ["0310"], "ContentsCode": "*", "Tid": "2020"}
    with pytest.raises(InvalidSelection, match="'0310'") as err:
        pxweb.get_data("07459", sel)
    assert "closest valid codes: 0301" in str(err.value)
    assert "Region" in str(err.value) and "07459" in str(err.value)
    assert loopback_server.data_calls() == []


def test_unknown_code_inside_expression(pxweb):
    with pytest.raises(InvalidSelection, match="'2031'.*from\\(2031\\)"):
        pxweb.resolve("07459", {"ContentsCode": "*", "Tid": "from(2031)"})


def test_unknown_variable_and_mandatory_variable(pxweb):
    with pytest.raises(InvalidSelection, match="no variable 'Regoin'.*did you mean Region"):
        pxweb.resolve("07459", {"Regoin": "0301", "ContentsCode": "*", "Tid": "*"})
    with pytest.raises(InvalidSelection, match="Tid cannot be eliminated"):
        pxweb.resolve("07459", {"Region": "0301", "ContentsCode": "*"})


def test_codelist_not_offered(pxweb):
    with pytest.raises(InvalidSelection, match="agg_Nope.*available: agg_KommSummer"):
        pxweb.resolve(
            "07459",
            {"Region": "*", "ContentsCode": "*", "Tid": "*"},
            codelists={"Region": "agg_Nope"},
        )


def test_expressions_resolve_against_metadata(pxweb):
    got = pxweb.resolve(
        "07459",
        {
            "region": "10*",
            "Kjonn": ["2"],
            "Alder": "range(003,005)",
            "ContentsCode": "*",
            "TID": "top(2)",
        },
    )
    assert got == {
        "Region": ["1001", "1002", "1018"],
        "Kjonn": ["2"],
        "Alder": ["003", "004", "005"],
        "ContentsCode": ["Personer1"],
        "Tid": ["2023", "2024"],
    }
    assert pxweb.resolve("07459", {"ContentsCode": "*", "Tid": "from(2022)"})["Tid"] == [
        "2022",
        "2023",
        "2024",
    ]
    assert pxweb.resolve("07459", {"ContentsCode": "*", "Tid": "2016,to(2015)"})["Tid"] == [
        "2015",
        "2016",
    ]


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def test_get_data_values_status_and_attrs(loopback_server, pxweb):
    frame = pxweb.get_data(
        "07459",
        {
            "Region": ["0301", "1001"],
            "Kjonn": "2",
            "Alder": "010",
            "ContentsCode": "*",
            "Tid": ["2016", "2020"],
        },
    )
    assert len(loopback_server.data_calls()) == 1
    assert frame[["Region", "Tid"]].to_numpy().tolist() == [
        ["0301", "2016"],
        ["0301", "2020"],
        ["1001", "2016"],
        ["1001", "2020"],
    ]
    # Oslo, women, age 10, 2016 is suppressed; 1001 ceased in 2020 -> "." (not applicable)
    assert frame["status"].tolist()[0] == ":" and np.isnan(frame["value"].iloc[0])
    assert frame["status"].tolist()[3] == "." and np.isnan(frame["value"].iloc[3])
    assert frame["value"].iloc[1] == pop_value("0301", "2", "010", "2020")
    assert frame["value"].iloc[2] == pop_value("1001", "2", "010", "2016")
    assert pd.isna(frame["status"].iloc[1])
    assert frame.attrs["table"] == "07459"
    assert frame.attrs["vintage"] == "2025-02-25T07:00:00Z"
    assert frame.attrs["calls"] == 1
    assert frame.attrs["units"]["Personer1"]["base"] == "antall"


def test_codelist_aggregation(pxweb):
    # K-4204 = 1001 + 1002 + 1018 + 4204; in 2019 4204 did not exist yet ("."), so it is left out
    frame = pxweb.get_data(
        "07459",
        {"Region": "K-4204", "Kjonn": "1", "Alder": "000", "ContentsCode": "*", "Tid": "2019"},
        codelists={"Region": "agg_KommSummer"},
    )
    expected = sum(pop_value(r, "1", "000", "2019") for r in ("1001", "1002", "1018"))
    assert frame["Region"].tolist() == ["K-4204"]
    assert frame["value"].iloc[0] == pytest.approx(expected)
    assert frame.attrs["codelists"] == {"Region": "agg_KommSummer"}


def test_get_data_bytes_returns_one_body_per_call(loopback_server, make_pxweb):
    loopback_server.settings.max_cells = 100
    api = make_pxweb()
    bodies = api.get_data_bytes(
        "07459", {"Region": "*", "Kjonn": "*", "ContentsCode": "*", "Tid": "*"}
    )
    # 10 x 2 x 1 x 10 = 200 cells, 100 per call -> 2 calls
    assert len(bodies) == 2 == len(loopback_server.data_calls())
    assert all(isinstance(b, bytes) and b.startswith(b"{") for b in bodies)


# ---------------------------------------------------------------------------------------------
# splitting: the minimum number of calls, reassembled exactly
# ---------------------------------------------------------------------------------------------


def _unlimited_frame(query, codelists=None) -> pd.DataFrame:
    with LoopbackServer(settings=ServerSettings(max_cells=10**9)) as other:
        api = PxWebApi(
            other.pxweb_url, session=LoopbackOnlySession(), timeout=(2, 5), offline=False
        )
        frame = api.get_data("07459", query, codelists=codelists)
        assert len(other.data_calls()) == 1
        return frame


@pytest.mark.parametrize(
    ("max_cells", "query", "expected_calls"),
    [
        # 10 x 2 x 11 x 1 x 10 = 2,200 cells; ceil(2200 / 300) = 8
        (300, FULL_07459, 8),
        # 2,200 / 1,100 = 2 exactly: two calls of 1,100 cells (Region 5 + 5)
        (1100, FULL_07459, 2),
        # 7 regions x 3 years = 21 cells, 5 per call: slabs take 7 calls (3 years fit only once
        # in 5 cells, 7 regions never); the minimum ceil(21 / 5) = 5 needs mixed cuts
        (
            5,
            {
                "Region": "range(0301,1129)",
                "Kjonn": "1",
                "Alder": "000",
                "ContentsCode": "*",
                "Tid": "from(2022)",
            },
            5,
        ),
        # fits: one call, sent as written
        (5000, FULL_07459, 1),
    ],
)
def test_split_makes_minimum_calls_and_is_cell_identical(
    loopback_server, make_pxweb, max_cells, query, expected_calls
):
    loopback_server.settings.max_cells = max_cells
    api = make_pxweb()
    frame = api.get_data("07459", query)
    sizes = [len(v) for v in api.resolve("07459", query).values()]
    assert minimum_calls(sizes, max_cells) == expected_calls
    assert len(loopback_server.data_calls()) == expected_calls
    assert frame.attrs["calls"] == expected_calls
    reference = _unlimited_frame(query)
    pd.testing.assert_frame_equal(frame, reference)
    # and every cell recomputed independently
    numbers = frame["status"].isna().to_numpy()
    expected = [
        pop_value(r, s, a, y)
        for r, s, a, y in frame.loc[numbers, ["Region", "Kjonn", "Alder", "Tid"]].to_numpy()
    ]
    assert frame.loc[numbers, "value"].tolist() == expected


def test_split_calls_carry_explicit_codes_and_respect_limit(loopback_server, make_pxweb):
    loopback_server.settings.max_cells = 300
    loopback_server.settings.enforced_max_cells = 300
    make_pxweb().get_data("07459", FULL_07459)
    sizes = []
    for call in loopback_server.data_calls():
        assert call.status == 200
        counts = [len(v.split(",")) for k, v in call.query if k.lower().startswith("valuecodes")]
        sizes.append(math.prod(counts))
        tid = dict(call.query)["valuecodes[Tid]"]
        assert tid.split(",") == [str(y) for y in range(2015, 2025)]  # time never split here
    assert all(s <= 300 for s in sizes) and sum(sizes) == 2200


def test_plan_split_counts():
    # Lower bound met exactly -> provably minimal.
    for sizes, m in [
        ((7, 3), 5),
        ((10, 3), 10),
        ((357, 2, 106, 1, 40), 800_000),
        ((6, 8, 3, 14), 100),
    ]:
        plan = plan_split(sizes, m)
        assert len(plan) == minimum_calls(sizes, m)
        _assert_partition(plan, sizes, m)
    # 3 x 3 with at most 5 cells per call: boxes hold at most 4 cells (2x2) or 3 (1x3), so two
    # calls cover at most 8 < 9 cells: 3 calls is the minimum though ceil(9/5) = 2.
    plan = plan_split((3, 3), 5)
    assert len(plan) == 3
    _assert_partition(plan, (3, 3), 5)


def test_plan_split_prefers_non_time():
    # 4 regions x 2 years, 4 cells per call: split years (priority first) or regions.
    assert plan_split([4, 2], 4, priority=[0, 1]) == [((0, 2), (0, 2)), ((2, 4), (0, 2))]
    assert plan_split([4, 2], 4, priority=[1, 0]) == [((0, 4), (0, 1)), ((0, 4), (1, 2))]


def _assert_partition(plan, sizes, m):
    seen: set[tuple[int, ...]] = set()
    for box in plan:
        assert math.prod(e - s for s, e in box) <= m
        for cell in itertools.product(*(range(s, e) for s, e in box)):
            assert cell not in seen
            seen.add(cell)
    assert len(seen) == math.prod(sizes)


@pytest.mark.parametrize("status", [400, 403])
def test_too_many_cells_is_handled_by_halving(loopback_server, make_pxweb, status):
    # The server announces 1,000 cells but refuses more than 400.
    loopback_server.settings.max_cells = 1000
    loopback_server.settings.enforced_max_cells = 400
    loopback_server.settings.too_many_cells_status = status
    api = make_pxweb()
    frame = api.get_data("07459", FULL_07459)
    # 2,200 cells planned for 1,000 per call: Alder (11 codes, the largest variable) in slabs of
    # 5 ages = 1,000 + 1,000 + 200 cells. 1,000 refused -> limit 500: each 1,000 becomes
    # 2 x 500 (by region). 500 refused -> limit 250: each 500 becomes 2 x 250, the 200 stays.
    # So 2 refusals, then 8 calls of 250 cells and 1 of 200 (= 2,200), all answered.
    statuses = [c.status for c in loopback_server.data_calls()]
    assert statuses == [status, status] + [200] * 9
    pd.testing.assert_frame_equal(frame, _unlimited_frame(FULL_07459))
    assert api.max_cells <= 400  # learned for later queries


def test_one_cell_too_many_is_a_clear_error(loopback_server, make_pxweb):
    loopback_server.settings.enforced_max_cells = 0
    loopback_server.settings.too_many_cells_status = 403
    with pytest.raises(PxWebApiError, match="even a one-cell call"):
        make_pxweb().get_data("07459", {"Region": "0301", "ContentsCode": "*", "Tid": "2020"})


# ---------------------------------------------------------------------------------------------
# GET vs POST
# ---------------------------------------------------------------------------------------------


def _long_table() -> Cube:
    regions = tuple((f"R{i:04d}", f"Region {i}") for i in range(400))
    return Cube(
        id="99001",
        label="99001: Long code list",
        updated="2025-01-01T00:00:00Z",
        dims=(
            Dimension("Region", "region", regions),
            Dimension("Tid", "år", (("2020", "2020"), ("2021", "2021")), time=True),
        ),
        cell=lambda c: (cell_value([c["Region"], c["Tid"]]), None),
    )


def test_get_switches_to_post_for_long_selections():
    with LoopbackServer(tables={"99001": _long_table()}) as server:
        api = PxWebApi(
            server.pxweb_url, session=LoopbackOnlySession(), timeout=(2, 5), offline=False
        )
        short = api.get_data("99001", {"Region": ["R0001", "R0002"], "Tid": "*"})
        codes = [f"R{i:04d}" for i in range(400) if i % 4 != 3]  # 300 codes, ~2,400 chars
        long = api.get_data("99001", {"Region": codes, "Tid": "2021"})
        calls = server.data_calls()
    assert [c.method for c in calls] == ["GET", "POST"]
    assert (
        b'"variableCode": "Region"' in calls[1].body or b'"variableCode":"Region"' in calls[1].body
    )
    assert short["value"].tolist() == [
        cell_value([r, y]) for r in ("R0001", "R0002") for y in ("2020", "2021")
    ]
    assert long["Region"].tolist() == codes
    assert long["value"].tolist() == [cell_value([r, "2021"]) for r in codes]


# ---------------------------------------------------------------------------------------------
# faults: retried, or a clear error
# ---------------------------------------------------------------------------------------------

SMALL = {"Region": "0301", "Kjonn": "1", "Alder": "000", "ContentsCode": "*", "Tid": "2020"}


def test_503_is_retried(loopback_server, pxweb):
    pxweb.metadata("07459")
    loopback_server.faults.push("503", count=2, path="/data")
    frame = pxweb.get_data("07459", SMALL)
    assert frame["value"].tolist() == [pop_value("0301", "1", "000", "2020")]
    assert [c.status for c in loopback_server.data_calls()] == [503, 503, 200]


def test_429_retry_after_is_honoured(loopback_server, pxweb):
    pxweb.metadata("07459")
    loopback_server.faults.push("429", count=2, path="/data", retry_after=1)
    start = time.monotonic()
    frame = pxweb.get_data("07459", SMALL)
    assert time.monotonic() - start >= 1.9  # waited Retry-After (1 s) twice
    assert len(frame) == 1
    assert [c.status for c in loopback_server.data_calls()] == [429, 429, 200]


def test_429_retry_after_as_http_date(loopback_server, pxweb):
    pxweb.metadata("07459")
    loopback_server.settings.retry_after_http_date = True
    loopback_server.faults.push("429", count=1, path="/data", retry_after=1)
    assert len(pxweb.get_data("07459", SMALL)) == 1
    assert [c.status for c in loopback_server.data_calls()] == [429, 200]


def test_server_window_limit_is_absorbed(loopback_server, make_pxweb):
    # 3 calls per second on the server; 8 calls in a row without a client limiter: the
    # server's 429s are waited out and none reaches the caller.
    loopback_server.settings.max_calls = 3
    loopback_server.settings.time_window = 1
    api = make_pxweb()
    for _ in range(8):
        api.table_info("07459")
    assert loopback_server.count(status=429) > 0
    assert loopback_server.count(status=200) == 8


def test_too_many_retries_is_a_clear_error(loopback_server, make_pxweb):
    api = make_pxweb(max_retries=2)
    api.metadata("07459")
    loopback_server.faults.push("503", count=10, path="/data")
    with pytest.raises(ServiceUnavailable, match="gave up after 3 attempt.*HTTP 503"):
        api.get_data("07459", SMALL)
    assert len(loopback_server.data_calls()) == 3


def test_retry_after_beyond_budget_is_rate_limited(loopback_server, make_pxweb):
    api = make_pxweb(max_wait=2)
    api.metadata("07459")
    loopback_server.faults.push("429", count=5, path="/data", retry_after=30)
    start = time.monotonic()
    with pytest.raises(RateLimited, match="Retry-After 30 s exceeds the wait budget"):
        api.get_data("07459", SMALL)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("fault", ["slow", "truncate", "reset", "500"])
def test_transport_faults_are_retried(loopback_server, make_pxweb, fault):
    api = make_pxweb(timeout=(2.0, 0.5))
    api.metadata("07459")
    loopback_server.faults.push(fault, count=1, path="/data", delay=1.5)
    frame = api.get_data("07459", SMALL)
    assert frame["value"].tolist() == [pop_value("0301", "1", "000", "2020")]
    calls = loopback_server.data_calls()
    assert [c.status for c in calls if c.fault is None] == [200]
    if fault != "slow":  # a slow answer is logged only when its handler wakes up
        assert [c.fault for c in calls if c.fault] == [fault]


def test_malformed_jsonstat_is_a_clear_error(loopback_server, pxweb):
    pxweb.metadata("07459")
    loopback_server.faults.push("malformed", count=1, path="/data")
    with pytest.raises(PxWebApiError, match="malformed JSON-stat"):
        pxweb.get_data("07459", SMALL)
    assert len(loopback_server.data_calls()) == 1  # a complete 200 answer is not retried


def test_auto_limiter_from_config(loopback_server, make_pxweb, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loopback_server.settings.max_calls = 3
    loopback_server.settings.time_window = 1
    api = make_pxweb(limiter="auto")
    for _ in range(5):
        api.table_info("07459")
    assert loopback_server.count(status=429) == 0
    assert list((tmp_path / "regionstats").glob("ratelimit-127.0.0.1_*.json"))


def test_split_with_codelist_is_cell_identical(loopback_server, make_pxweb):
    # 5 K-codes x 2 sexes x 1 age x 1 x 10 years = 100 cells, 30 per call: ceil(100/30) = 4
    query = {"Region": "*", "Kjonn": "*", "Alder": "000", "ContentsCode": "*", "Tid": "*"}
    lists = {"Region": "agg_KommSummer"}
    loopback_server.settings.max_cells = 30
    frame = make_pxweb().get_data("07459", query, codelists=lists)
    assert len(loopback_server.data_calls()) == 4
    assert all(
        dict(c.query)["codelist[Region]"] == "agg_KommSummer" for c in loopback_server.data_calls()
    )
    pd.testing.assert_frame_equal(frame, _unlimited_frame(query, lists))
    k1108 = frame[
        (frame["Region"] == "K-1108") & (frame["Kjonn"] == "1") & (frame["Tid"] == "2024")
    ]
    assert k1108["value"].item() == pytest.approx(pop_value("1108", "1", "000", "2024"))
