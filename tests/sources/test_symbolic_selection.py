"""Symbolic selections (``@time``, ``@metric``, ``@geo``, ``@industry``, ``@all``) resolved from a
table's metadata, against the loopback PxWebApi 2.0 server (127.0.0.1 only).

What the server was asked is read from its own request log; expected cell values are recomputed
from the loopback tables' published rule (``crc32`` of the cell's codes joined by ``|``, modulo
100 000, over 10 for one decimal), independently of the client and the decoder.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from loopback import LoopbackOnlySession, LoopbackServer
from loopback.tables import Cube, Dimension

from regionstats.sources.fetch import (
    Fetcher,
    InvalidSelection,
    is_symbolic,
    resolve_dimension,
    resolve_selection,
)
from regionstats.sources.pxwebapi import PxWebApi
from regionstats.sources.store import RawStore, canonical_query, query_hash

ACCOUNTS = "11713"  # loopback: Region x NACE2007 x ContentsCode x Tid, none eliminable
POPULATION = "07459"  # loopback: Region x Kjonn (elim.) x Alder (elim.) x ContentsCode x Tid
SYMBOLIC = {
    "@geo": ["03", "11"],
    "@industry": ["10-33"],
    "@metric": ["BruttoprodBasis"],
    "@time": ["2020", "2021"],
}
PLAIN = {
    "Region": ["03", "11"],
    "NACE2007": ["10-33"],
    "ContentsCode": ["BruttoprodBasis"],
    "Tid": ["2020", "2021"],
}


def crc(codes: list[str], decimals: int = 1) -> float:
    return (zlib.crc32("|".join(codes).encode()) % 100_000) / 10**decimals


def expected_accounts() -> dict[tuple[str, str], float]:
    return {
        (r, t): crc([r, "10-33", "BruttoprodBasis", t]) for r in ("03", "11") for t in PLAIN["Tid"]
    }


def cells(frame, a: str, b: str) -> dict[tuple[str, str], float]:  # type: ignore[no-untyped-def]
    return dict(zip(zip(frame[a], frame[b], strict=True), frame["value"], strict=True))


def sent(server: LoopbackServer) -> list[dict[str, str]]:
    """``{variable: codes}`` (and ``codelist:<variable>``) of every data call, as the server got
    it (GET query parameters)."""
    out = []
    for r in server.data_calls():
        call = {}
        for key, value in r.query:
            head, _, rest = key.partition("[")
            if head.lower() == "valuecodes":
                call[rest.rstrip("]")] = value
            elif head.lower() == "codelist":
                call[f"codelist:{rest.rstrip(']')}"] = value
        out.append(call)
    return out


def metadata_calls(server: LoopbackServer) -> int:
    return sum(r.is_metadata for r in server.requests)


def constant(codes: dict[str, str]) -> tuple[float | None, str | None]:
    return 1.0, None


def two_industries() -> Cube:
    """Two dimensions that both look like an industry (``@industry`` is ambiguous)."""
    return Cube(
        id="90001",
        label="90001: two industry dimensions",
        updated="2024-01-01T07:00:00Z",
        dims=(
            Dimension("Region", "region", (("03", "Oslo"),)),
            Dimension("NACE2007", "næring (SN2007)", (("10-33", "Industri"),)),
            Dimension("Naering", "næringshovedområde", (("VARE", "Vareproduserende"),)),
            Dimension("Tid", "år", (("2020", "2020"),), time=True),
        ),
        cell=constant,
    )


def county_years() -> Cube:
    """No ``ContentsCode`` (so no role metric) and the region dimension called ``Fylke`` (so no
    role geo: the server gives it only to ``Region``); the industry is ``Bransje``, labelled."""
    return Cube(
        id="90002",
        label="90002: fylke, bransje og år",
        updated="2024-01-01T07:00:00Z",
        dims=(
            Dimension("Fylke", "Region", (("03", "Oslo"), ("11", "Rogaland"))),
            Dimension("Bransje", "næring", (("A", "Alt"),)),
            Dimension("Tid", "år", (("2020", "2020"), ("2021", "2021")), time=True),
        ),
        cell=lambda codes: (crc([codes["Fylke"], codes["Bransje"], codes["Tid"]]), None),
    )


@pytest.fixture(autouse=True)
def online_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project conftest sets REGIONSTATS_OFFLINE=1 for notebooks; these tests go online to
    127.0.0.1 only (the clients' session refuses any other host)."""
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)


@pytest.fixture
def server(loopback_server: LoopbackServer) -> LoopbackServer:
    loopback_server.tables.update({t.id: t for t in (two_industries(), county_years())})
    return loopback_server


def client(server: LoopbackServer) -> PxWebApi:
    return PxWebApi(
        server.pxweb_url,
        session=LoopbackOnlySession(),
        timeout=(2, 5),
        max_retries=0,
        offline=False,
    )


@pytest.fixture
def store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


@pytest.fixture
def fetcher(server: LoopbackServer, store: RawStore) -> Fetcher:
    return Fetcher(client(server), store, offline=False)


# ---- resolution against the server's metadata (pure function) ---------------------------------


def test_each_key_resolves_from_role_and_label(server: LoopbackServer) -> None:
    api = client(server)
    accounts = api.metadata(ACCOUNTS)
    assert accounts["role"] == {"time": ["Tid"], "geo": ["Region"], "metric": ["ContentsCode"]}
    found = {k: resolve_dimension(k, accounts) for k in ("@time", "@metric", "@geo", "@industry")}
    assert found == {
        "@time": "Tid",
        "@metric": "ContentsCode",
        "@geo": "Region",
        "@industry": "NACE2007",
    }
    # no role geo: the dimension labelled "region"; industry by its label "næring"
    other = api.metadata("90002")
    assert "geo" not in other["role"]
    assert resolve_dimension("@geo", other) == "Fylke"
    assert resolve_dimension("@industry", other) == "Bransje"
    assert resolve_dimension("Tid", other) == "Tid"  # plain keys pass as they are
    # industry by id when the label says nothing
    meta = {"id": ["Naering"], "role": {}, "dimension": {"Naering": {"label": "industry"}}}
    assert resolve_dimension("@industry", meta) == "Naering"


def test_resolve_selection_all_plain_and_codelists(server: LoopbackServer) -> None:
    api = client(server)
    accounts = api.metadata(ACCOUNTS)
    assert resolve_selection({"@all": "*"}, None, accounts) == (
        {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "*"},
        None,
    )
    selection, codelists = resolve_selection(
        {"@time": "top(2)", "@all": "*", "Region": ["03"]},
        {"@industry": "agg_NACE2007Hoved"},
        accounts,
    )
    assert selection == {"Region": ["03"], "NACE2007": "*", "ContentsCode": "*", "Tid": "top(2)"}
    assert list(selection) == ["Region", "NACE2007", "ContentsCode", "Tid"]  # table order
    assert codelists == {"NACE2007": "agg_NACE2007Hoved"}
    assert resolve_selection(SYMBOLIC, {}, accounts) == (PLAIN, {})
    # eliminable dimensions may be left out
    population = api.metadata(POPULATION)
    assert resolve_selection({"@geo": "0301", "@metric": "*", "@time": "2020"}, None, population)[
        0
    ] == {
        "Region": "0301",
        "ContentsCode": "*",
        "Tid": "2020",
    }


def test_non_eliminable_dimension_left_out_is_refused(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    accounts = client(server).metadata(ACCOUNTS)
    query = {"@geo": "03", "@metric": "*", "@time": "2020"}  # no industry
    with pytest.raises(InvalidSelection, match="NACE2007") as info:
        resolve_selection(query, None, accounts)
    assert "11713" in str(info.value) and "eliminated" in str(info.value)
    with pytest.raises(InvalidSelection, match=r"table 11713: dimension NACE2007"):
        fetcher.fetch(ACCOUNTS, query)
    assert server.data_calls() == []


def test_ambiguous_and_unresolvable_keys_name_table_key_and_dimensions(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    with pytest.raises(InvalidSelection) as info:
        fetcher.fetch("90001", {"@all": "*", "@industry": "*"})
    msg = str(info.value)
    assert "90001" in msg and "'@industry'" in msg and "2 dimensions" in msg
    assert "NACE2007" in msg and "Naering" in msg and "næringshovedområde" in msg
    with pytest.raises(InvalidSelection) as info:
        fetcher.fetch("90002", {"@metric": "*", "@all": "*"})
    msg = str(info.value)
    assert "90002" in msg and "'@metric'" in msg and "no role 'metric'" in msg
    assert "Fylke ('Region')" in msg and "Bransje ('næring')" in msg
    meta = client(server).metadata(ACCOUNTS)
    with pytest.raises(InvalidSelection, match="unknown symbolic key"):
        resolve_selection({"@county": "03", "@all": "*"}, None, meta)
    with pytest.raises(InvalidSelection, match="both name dimension Region"):
        resolve_selection({"@geo": "03", "Region": "11", "@all": "*"}, None, meta)
    with pytest.raises(InvalidSelection, match="'@all' takes the value"):
        resolve_selection({"@all": "03"}, None, meta)
    with pytest.raises(InvalidSelection, match="no dimension labelled 'region'"):
        resolve_dimension("@geo", {"id": ["Tid"], "role": {"time": ["Tid"]}, "dimension": {}})
    assert server.data_calls() == []


# ---- fetching ---------------------------------------------------------------------------------


def test_symbolic_fetch_sends_the_resolved_query_and_stores_the_symbolic_one(
    server: LoopbackServer, fetcher: Fetcher, store: RawStore
) -> None:
    assert is_symbolic(SYMBOLIC) and not is_symbolic(PLAIN)
    frame = fetcher.fetch(ACCOUNTS, SYMBOLIC)
    assert sent(server) == [
        {
            "Region": "03,11",
            "NACE2007": "10-33",
            "ContentsCode": "BruttoprodBasis",
            "Tid": "2020,2021",
        }
    ]
    assert cells(frame, "Region", "Tid") == pytest.approx(expected_accounts())
    [vintage] = store.vintages(ACCOUNTS)
    meta = json.loads((vintage.path / "meta.json").read_text())
    assert meta["query"] == canonical_query(SYMBOLIC)
    assert meta["query_hash"] == query_hash(SYMBOLIC) != query_hash(PLAIN)
    assert meta["resolved_query"] == canonical_query(PLAIN, {})
    assert frame.attrs["resolved_query"] == canonical_query(PLAIN, {})
    assert store.vintages(ACCOUNTS, {"selection": PLAIN}) == []  # found by the symbolic query only
    # unchanged table: found by the symbolic query, no metadata needed, no data call
    before = len(server.requests)
    again = Fetcher(client(server), store, offline=False).fetch(ACCOUNTS, SYMBOLIC)
    assert again.attrs["vintage"] == frame.attrs["vintage"]
    assert len(server.requests) == before + 1  # the `updated` check only
    assert metadata_calls(server) == 1


def test_eliminated_dimensions_and_symbolic_codelists(
    server: LoopbackServer, fetcher: Fetcher
) -> None:
    frame = fetcher.fetch(
        POPULATION,
        {"@geo": ["K-0301"], "@metric": "*", "@time": ["2020"]},
        {"@geo": "agg_KommSummer"},
    )
    assert sent(server) == [
        {
            "Region": "K-0301",
            "ContentsCode": "*",
            "Tid": "2020",
            "codelist:Region": "agg_KommSummer",
        }
    ]
    # Kjonn and Alder eliminated: the sum over 2 sexes x 11 ages of Oslo's cells in 2020
    total = sum(
        crc(["0301", sex, f"{age:03d}", "Personer1", "2020"], decimals=0)
        for sex in ("1", "2")
        for age in range(11)
    )
    assert list(frame["value"]) == pytest.approx([total])
    # the region found by label when there is no role geo
    other = fetcher.fetch("90002", {"@geo": "11", "@all": "*"})
    assert sent(server)[-1] == {"Fylke": "11", "Bransje": "*", "Tid": "*"}
    assert cells(other, "Fylke", "Tid") == pytest.approx(
        {("11", t): crc(["11", "A", t]) for t in ("2020", "2021")}
    )


def test_offline_reads_a_vintage_fetched_with_a_symbolic_query(
    server: LoopbackServer, fetcher: Fetcher, store: RawStore
) -> None:
    stored = fetcher.fetch(ACCOUNTS, SYMBOLIC)
    server.reset()
    offline = Fetcher(store=store, offline=True)  # no client, no metadata
    frame = offline.fetch(ACCOUNTS, dict(reversed(list(SYMBOLIC.items()))))  # key order is free
    assert server.requests == []
    assert frame.attrs["vintage"] == stored.attrs["vintage"]
    assert cells(frame, "Region", "Tid") == pytest.approx(expected_accounts())
    assert frame.attrs["resolved_query"]["selection"]["NACE2007"] == ["10-33"]


def test_refresh_accepts_symbolic_items(server: LoopbackServer, fetcher: Fetcher) -> None:
    items = [
        (ACCOUNTS, SYMBOLIC),
        (ACCOUNTS, {"@all": "*", "@time": "2021"}),
        (
            POPULATION,
            {"@geo": ["K-0301"], "@metric": "*", "@time": ["2020"]},
            {"@geo": "agg_KommSummer"},
        ),
        ("90001", {"@all": "*", "@industry": "*"}),
    ]
    first = fetcher.refresh(items)
    assert [t.status for t in first.tables] == ["new vintage"] * 3 + ["failed"]
    assert "InvalidSelection" in (first.tables[3].error or "")
    assert [t.query_hash for t in first.tables] == [query_hash(*item[1:]) for item in items]
    assert len(server.data_calls()) == 3
    assert sent(server)[1] == {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "2021"}
    server.reset()
    second = fetcher.refresh(items[:3])
    assert [t.status for t in second.tables] == ["unchanged"] * 3
    assert server.data_calls() == [] and metadata_calls(server) == 0
    assert len(server.requests) == 2  # one `updated` check per table
