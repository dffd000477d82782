"""Fault injection on the loopback PxWebApi 2.0 / KLASS server: one section per case of issue 12.

Every fault is made by the server (``tests/loopback/server.py``, which shares no code with the
client): poisoned, mixed-``updated``, wrong-code and default-selection answers, trickled bodies,
403s with and without the too-many-cells text. Calls are counted in the server's own request log;
expected values come from the loopback tables' published rule (``loopback.tables.cell_value``: a
CRC32 of the cell's codes), from the tables' own cell functions, or from hand arithmetic.
"""

from __future__ import annotations

import json
import math
import socket
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
from loopback import Cube, Dimension, LoopbackOnlySession, LoopbackServer, ServerSettings
from loopback.clients import klass_client, pxweb_client
from loopback.tables import cell_value, population_table

from regionstats.sources import pxwebapi
from regionstats.sources.fetch import Fetcher, OfflineDataMissing
from regionstats.sources.http import Offline
from regionstats.sources.jsonstat import JsonStatError, read_jsonstat
from regionstats.sources.klass import KlassClient, KlassError
from regionstats.sources.pxwebapi import (
    DeadlineExceeded,
    InvalidId,
    InvalidResponse,
    InvalidSelection,
    PxWebApi,
    PxWebApiError,
    ServiceUnavailable,
)
from regionstats.sources.ratelimit import RateLimiter, default_limiter_path
from regionstats.sources.store import CorruptVintageWarning, RawStore, UnsafeStorePath

TABLE = "11713"
SELECTION = {
    "Region": ["03", "11"],
    "NACE2007": ["10-33"],
    "ContentsCode": ["BruttoprodBasis"],
    "Tid": ["2020", "2021"],
}
NEW_UPDATED = "2025-03-12T07:00:00Z"
SMALL = {
    "Region": ["0301", "1103"],
    "Kjonn": "1",
    "Alder": "000",
    "ContentsCode": "*",
    "Tid": "2020",
}


def expected_cells(revised: float = 0.0) -> dict[tuple[str, str], float]:
    """``{(region, year): value}`` of SELECTION by the loopback rule (one decimal)."""
    return {
        (r, y): zlib.crc32(f"{r}|10-33|BruttoprodBasis|{y}".encode()) % 100_000 / 10 + revised
        for r in SELECTION["Region"]
        for y in SELECTION["Tid"]
    }


def cells_of(frame: Any) -> dict[tuple[str, str], float]:
    return dict(zip(zip(frame["Region"], frame["Tid"], strict=True), frame["value"], strict=True))


def revise(server: LoopbackServer, revision: float = 1000.0) -> None:
    """Publish a new release of 11713: a new ``updated`` and every number raised."""
    import dataclasses

    old = server.tables[TABLE]

    def cell(codes: dict[str, str]) -> tuple[float | None, str | None]:
        value, symbol = old.cell(codes)
        return (None if value is None else value + revision), symbol

    server.tables[TABLE] = dataclasses.replace(old, updated=NEW_UPDATED, cell=cell)


def files_of(store: RawStore) -> dict[str, bytes]:
    """Every file below the store root (relative path -> bytes), lock files aside."""
    if not store.root.exists():
        return {}
    return {
        str(p.relative_to(store.root)): p.read_bytes()
        for p in sorted(store.root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def poisoned(body: bytes) -> bytes:
    """The same JSON-stat body with a ``status`` entry past the last cell (decoders refuse it;
    a download check of class, ``size`` and value count passes it)."""
    doc = json.loads(body)
    doc["status"] = {**doc.get("status", {}), str(math.prod(doc["size"]) + 7): ":"}
    return json.dumps(doc).encode()


def data_calls(server: LoopbackServer) -> int:
    return len(server.data_calls())


@pytest.fixture
def store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


@pytest.fixture
def online(loopback_server: LoopbackServer, store: RawStore) -> Fetcher:
    return Fetcher(pxweb_client(loopback_server, max_retries=0), store, offline=False)


# ---------------------------------------------------------------------------------------------
# 1. no response can poison the store
# ---------------------------------------------------------------------------------------------


def test_poisoned_answer_is_refused_and_leaves_the_store_as_it_was(
    loopback_server: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    good = online.fetch(TABLE, SELECTION)
    before = files_of(store)
    revise(loopback_server)  # a new release: the next fetch makes a data call
    loopback_server.faults.push("poison", path="/data")
    with pytest.raises(InvalidResponse, match="'status' has cell index"):
        online.fetch(TABLE, SELECTION)
    assert isinstance(InvalidResponse("x"), PxWebApiError)
    assert files_of(store) == before  # nothing written, nothing changed
    # offline reads still serve the good vintage, and the next online fetch goes through
    offline = Fetcher(store=store, offline=True).fetch(TABLE, SELECTION)
    assert offline.attrs["vintage"] == good.attrs["vintage"]
    assert cells_of(offline) == pytest.approx(expected_cells())
    assert cells_of(online.fetch(TABLE, SELECTION)) == pytest.approx(expected_cells(1000.0))
    assert len(store.vintages(TABLE)) == 2


def _poison_the_store(store: RawStore, good_id: str) -> str:
    """Write, as the old code did, a newer vintage of the same query and ``updated`` whose body
    fails the decoder; return its id."""
    [good] = [v for v in store.vintages(TABLE) if v.vintage_id == good_id]
    bad = store.write(
        TABLE,
        [poisoned(store.read_bytes(good)[0])],
        selection=SELECTION,
        updated=good.updated,
        url=good.url,
        base_url=str(good.meta["base_url"]),
    )
    assert store.vintages(TABLE)[-1] == bad
    return bad.vintage_id


def test_stored_vintage_that_fails_to_decode_blocks_nothing(
    loopback_server: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    good = online.fetch(TABLE, SELECTION).attrs["vintage"]
    bad = _poison_the_store(store, good)
    # offline: the newest *good* vintage, with a warning naming the bad one
    with pytest.warns(CorruptVintageWarning, match=bad):
        frame = Fetcher(store=store, offline=True).fetch(TABLE, SELECTION)
    assert frame.attrs["vintage"] == good
    assert cells_of(frame) == pytest.approx(expected_cells())
    # refresh: not "unchanged" -- refetched (one data call) into a new vintage
    with pytest.warns(CorruptVintageWarning, match=bad):
        report = online.refresh([(TABLE, SELECTION)])
    [row] = report.tables
    assert (row.status, row.data_calls) == ("new vintage", 1)
    assert row.vintage_id not in {good, bad}
    assert data_calls(loopback_server) == 2
    # an online fetch does the same
    bad = _poison_the_store(store, good)
    with pytest.warns(CorruptVintageWarning, match=bad):
        again = online.fetch(TABLE, SELECTION)
    assert cells_of(again) == pytest.approx(expected_cells())
    assert data_calls(loopback_server) == 3


def test_update_offline_writes_the_report_past_a_poisoned_vintage(tmp_path: Path) -> None:
    from report_helpers import ACCOUNTS_SELECTION, accounts_cube

    from regionstats.pipeline import PROJECT_TABLES, update

    notebooks = Path(__file__).resolve().parents[1] / "fixtures" / "report" / "pipeline"
    tables = [("11713", dict(ACCOUNTS_SELECTION), None)]
    tables += [(t, dict(sel), cl) for t, sel, cl in PROJECT_TABLES if t != "11713"]
    data = tmp_path / "data"
    store = RawStore(data / "raw")
    cubes = {"11713": accounts_cube(), "07459": population_table()}
    with LoopbackServer(tables=cubes) as server:
        report = Fetcher(pxweb_client(server), store, offline=False).refresh(tables)
    assert [t.status for t in report.tables][:1] == ["new vintage"]
    [good] = store.vintages("11713")
    bad = store.write(
        "11713",
        [poisoned(store.read_bytes(good)[0])],
        selection=ACCOUNTS_SELECTION,
        updated=good.updated,
        url=good.url,
        base_url=str(good.meta["base_url"]),
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = update(
            tmp_path / "out",
            offline=True,
            notebooks=notebooks,
            data_dir=data,
            tables=tables,
            parameters={"start_year": 2016, "end_year": 2021},
            snapshot=None,
        )
    assert result.report.is_file()
    [raw] = [i for i in result.manifest["inputs"] if i["kind"] == "raw vintage"]
    assert raw["vintage"] == good.vintage_id
    assert any(
        issubclass(w.category, CorruptVintageWarning) and bad.vintage_id in str(w.message)
        for w in seen
    )


# ---------------------------------------------------------------------------------------------
# 2. every request takes a slot of the shared limiter before it is sent
# ---------------------------------------------------------------------------------------------


def test_auto_limiter_slot_precedes_every_request_config_and_retries_included(
    loopback_server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    events: list[str] = []
    acquire = RateLimiter.acquire

    def counted(self: RateLimiter, timeout: float | None = None) -> float:
        waited = acquire(self, timeout=timeout)
        events.append("slot")
        return waited

    monkeypatch.setattr(RateLimiter, "acquire", counted)

    class Watched(LoopbackOnlySession):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            events.append("send")
            return super().request(method, url, *args, **kwargs)

    loopback_server.faults.push("429", count=2, path="/config", retry_after=0)
    loopback_server.faults.push("503", count=1, path="/tables/07459")
    api = pxweb_client(loopback_server, limiter="auto", session=Watched())
    api.table_info("07459")
    api.table_info("07459")
    sent = len(loopback_server.requests)
    assert sent == 6  # /config x 3 (two 429s), /tables/07459 x 3 (one 503)
    assert events.count("send") == sent == events.count("slot")
    held = 0
    for event in events:  # never a request without a slot taken before it
        held += 1 if event == "slot" else -1
        assert held >= 0, events
    # the limits /config announced are in the shared file, for every process
    shared = RateLimiter(1, 1, path=default_limiter_path(loopback_server.pxweb_url))
    assert shared.learned_limits() == (1000, 10.0)  # the fixture's ServerSettings


# ---------------------------------------------------------------------------------------------
# 3. one validation path: the Fetcher checks what it stores
# ---------------------------------------------------------------------------------------------


def test_fetcher_refuses_chunks_with_different_updated(
    loopback_server: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    loopback_server.settings.max_cells = 2  # 4 cells: one call per region
    loopback_server.faults.push("updated", path="/data", skip=1)  # the second chunk only
    with pytest.raises(InvalidResponse, match="updated while its chunks were fetched"):
        online.fetch(TABLE, SELECTION)
    assert data_calls(loopback_server) == 2
    assert store.vintages(TABLE) == []


def test_fetcher_refuses_a_chunk_with_other_codes(
    loopback_server: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    loopback_server.settings.max_cells = 2
    loopback_server.faults.push("swap_codes", path="/data", skip=1, variable="Region")
    with pytest.raises(InvalidResponse, match=r"asked for Region \['11'\]"):
        online.fetch(TABLE, SELECTION)
    assert store.vintages(TABLE) == []


class _Repeating:
    """A client (not PxWebApi) that answers every query with the same body twice."""

    base_url = "http://127.0.0.1:9/api/pxwebapi/v2"

    def __init__(self, body: bytes) -> None:
        self.body = body

    def table_info(self, table_id: str) -> dict[str, Any]:
        return {"updated": "2024-03-13T07:00:00Z"}

    def get_data_bytes(self, table_id: str, selection: Any, *, codelists: Any = None) -> list:
        return [self.body, self.body]


def test_fetcher_checks_bodies_of_any_client(store: RawStore) -> None:
    body = json.dumps(
        {
            "version": "2.0",
            "class": "dataset",
            "updated": "2024-03-13T07:00:00Z",
            "id": ["Region", "Tid"],
            "size": [1, 2],
            "dimension": {
                "Region": {"category": {"index": {"03": 0}}},
                "Tid": {"category": {"index": {"2020": 0, "2021": 1}}},
            },
            "value": [1.0, 2.0],
        }
    ).encode()
    fetcher = Fetcher(_Repeating(body), store, offline=False)
    with pytest.raises(InvalidResponse, match="2 repeated"):
        fetcher.fetch(TABLE, {"Region": ["03"], "Tid": ["2020", "2021"]})
    assert store.vintages(TABLE) == []


# ---------------------------------------------------------------------------------------------
# 4. every answer checked against its question
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("drop_code", r"asked for Region \['0301', '1103'\] but the answer has \['1103'\]"),
        (
            "swap_codes",
            r"asked for Region \['0301', '1103'\] but the answer has \['1001', '1002'\]",
        ),
        ("default_selection", "asked for variable Region but the answer has only"),
    ],
)
def test_single_call_answer_is_checked_against_the_query(
    loopback_server: LoopbackServer, pxweb: PxWebApi, fault: str, message: str
) -> None:
    pxweb.metadata("07459")
    loopback_server.faults.push(fault, path="/data", variable="Region")
    with pytest.raises(InvalidResponse, match=message):
        pxweb.get_data("07459", SMALL)
    assert data_calls(loopback_server) == 1
    # the same query without the fault: both regions, values by the loopback rule
    frame = pxweb.get_data("07459", SMALL)
    assert frame["Region"].tolist() == ["0301", "1103"]
    assert frame["value"].tolist() == [
        cell_value([r, "1", "000", "Personer1", "2020"]) for r in ("0301", "1103")
    ]


def test_a_new_release_with_a_new_year_is_not_refused(
    loopback_server: LoopbackServer, make_pxweb: Any, store: RawStore
) -> None:
    # A new year makes "*" wider than the client's cached metadata says: the answer is checked
    # against fresh metadata (one more /metadata call), not refused.
    import dataclasses

    query = {**SELECTION, "Region": ["03"], "Tid": "*"}
    api = make_pxweb()
    fetcher = Fetcher(api, store, offline=False)
    years = [str(y) for y in range(2008, 2022)]
    assert api.get_data(TABLE, query)["Tid"].tolist() == years
    assert fetcher.fetch(TABLE, query)["Tid"].tolist() == years
    old = loopback_server.tables[TABLE]
    tid = Dimension("Tid", "år", tuple((y, y) for y in [*years, "2022"]), time=True)
    loopback_server.tables[TABLE] = dataclasses.replace(
        old, updated=NEW_UPDATED, dims=(*old.dims[:-1], tid)
    )
    assert api.get_data(TABLE, query)["Tid"].tolist() == [*years, "2022"]  # no table_info first
    frame = fetcher.fetch(TABLE, query)  # table_info first: the cache is dropped there
    assert frame["Tid"].tolist() == [*years, "2022"]
    assert frame["value"].tolist()[-1] == cell_value(["03", "10-33", "BruttoprodBasis", "2022"], 1)
    assert sum(r.is_metadata for r in loopback_server.requests) == 2


# ---------------------------------------------------------------------------------------------
# 5. ids validated and percent-encoded; store paths stay in the store
# ---------------------------------------------------------------------------------------------

BAD_IDS = ["../../etc/passwd", "SMALL/../T1", "SMALL?lang=en&x=", "07459#x", "", "..", " 07459"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_table_ids_never_reach_the_server(
    loopback_server: LoopbackServer, pxweb: PxWebApi, bad: str
) -> None:
    calls = [
        lambda: pxweb.table_info(bad),
        lambda: pxweb.metadata(bad),
        lambda: pxweb.get_data(bad, {"Tid": "*"}),
        lambda: pxweb.get_data_bytes(bad, {"Tid": "*"}),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()
    assert loopback_server.requests == []


def test_bad_codelist_ids_and_codes_refused_before_any_request(
    loopback_server: LoopbackServer, pxweb: PxWebApi
) -> None:
    with pytest.raises(InvalidId):
        pxweb.codelist("../tables/07459")
    with pytest.raises(InvalidId):
        pxweb.get_data("07459", SMALL, codelists={"Region": "agg_KommSummer?x=1"})
    for codes in (["0301&lang=en"], ["03 01"], ["0301/../1103"], "top(-1)", "K-*a*b*c"):
        with pytest.raises(InvalidSelection):
            pxweb.get_data("07459", {**SMALL, "Region": codes})
    assert loopback_server.requests == []  # not even /config or /metadata


def test_ids_are_percent_encoded_in_paths(loopback_server: LoopbackServer, pxweb: PxWebApi) -> None:
    with pytest.raises(pxwebapi.TableNotFound):
        pxweb.table_info("T+1")
    assert [r.path for r in loopback_server.requests] == ["/api/pxwebapi/v2/tables/T%2B1"]


def test_offline_read_outside_the_store_is_refused(
    loopback_server: LoopbackServer, tmp_path: Path
) -> None:
    store = RawStore(tmp_path / "a" / "b" / "raw")
    body = pxweb_client(loopback_server).get_data_bytes(TABLE, SELECTION)
    store.write(TABLE, body, selection=SELECTION, updated="x", url="u", base_url="b")
    # a vintage of SELECTION where '../../../outside' leads from <root>/ssb/: tmp/a/outside
    elsewhere = RawStore(tmp_path)
    elsewhere.write(
        "outside", body, selection=SELECTION, updated="x", url="u", base_url="b", source="a"
    )
    assert (store.root / "ssb" / "../../../outside").resolve() == tmp_path / "a" / "outside"
    fetcher = Fetcher(store=store, offline=True)
    with pytest.raises(UnsafeStorePath):
        fetcher.fetch("../../../outside", SELECTION)
    with pytest.raises(UnsafeStorePath):
        store.vintages("../../../outside")
    with pytest.raises(UnsafeStorePath):
        store.write("../x", body, selection=SELECTION, updated=None, url="u", base_url="b")


def test_klass_ids_are_checked_before_any_request(
    loopback_server: LoopbackServer, klass: KlassClient
) -> None:
    for call in (
        lambda: klass.codes_at("../131", "2024-01-01"),
        lambda: klass.classification("131?x=1"),
        lambda: klass.version("../../tables/07459"),
        lambda: klass.get_bytes("classifications/131/../../secret"),
    ):
        with pytest.raises(KlassError, match="is not an id"):
            call()
    assert loopback_server.requests == []
    assert len(klass.codes_at(131, "2024-01-01")) == 8  # a good id still works


# ---------------------------------------------------------------------------------------------
# 6. offline mode honoured by every client
# ---------------------------------------------------------------------------------------------


def test_offline_environment_is_honoured_by_every_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    touched: list[str] = []

    def refuse(name: str) -> Any:
        def call(*args: object, **kwargs: object) -> object:
            touched.append(name)
            raise AssertionError(f"{name} called in offline mode")

        return call

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("REGIONSTATS_PXWEB_URL", raising=False)
    monkeypatch.delenv("REGIONSTATS_KLASS_URL", raising=False)
    api, kc = PxWebApi(limiter="auto"), KlassClient()  # the public defaults: SSB's hosts
    for call in (
        api.config,
        lambda: api.table_info("07459"),
        lambda: api.get_data("07459", {"Tid": "*"}),
        lambda: kc.codes_at(131, "2024-01-01"),
        lambda: kc.get_bytes("classifications/131"),
    ):
        with pytest.raises(Offline):
            call()
    fetcher = Fetcher(store=RawStore(tmp_path / "raw"))
    with pytest.raises(OfflineDataMissing):
        fetcher.fetch(TABLE, SELECTION)
    assert [t.status for t in fetcher.refresh([(TABLE, SELECTION)]).tables] == ["failed"]
    assert touched == []
    assert not (tmp_path / "cache").exists()  # not even the limiter file


# ---------------------------------------------------------------------------------------------
# 7. an overall deadline per call
# ---------------------------------------------------------------------------------------------


def test_trickling_body_is_cut_at_the_deadline(
    loopback_server: LoopbackServer, make_pxweb: Any
) -> None:
    # one byte every 0.1 s never idles the 1 s read timeout; the body (over 1 kB) would take
    # minutes, the deadline is 1.5 s
    api = make_pxweb(timeout=(2.0, 1.0), deadline=1.5, max_retries=3)
    api.metadata("07459")
    loopback_server.faults.push("trickle", path="/data", delay=0.1)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="deadline of 1.5 s"):
        api.get_data("07459", SMALL)
    assert time.monotonic() - start < 1.5 + 1.0
    assert isinstance(DeadlineExceeded("x"), ServiceUnavailable)
    assert data_calls(loopback_server) == 1  # no retry past the deadline


def test_deadline_bounds_retries_and_waits(
    loopback_server: LoopbackServer, make_pxweb: Any
) -> None:
    api = make_pxweb(deadline=1.0, max_retries=50, backoff_base=0.2, max_wait=100)
    api.metadata("07459")
    loopback_server.faults.push("503", count=100, path="/data")
    start = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        api.get_data("07459", SMALL)
    assert time.monotonic() - start < 1.0 + 0.5
    assert data_calls(loopback_server) < 20  # backoff 0.1-0.2 s and growing: a handful


def test_klass_call_has_a_deadline(loopback_server: LoopbackServer) -> None:
    kc = klass_client(loopback_server, timeout=(2.0, 1.0), deadline=1.0, max_retries=2)
    loopback_server.faults.push("trickle", path="/klass", delay=0.1)
    start = time.monotonic()
    with pytest.raises(KlassError, match="deadline"):
        kc.codes_at(131, "2024-01-01")
    assert time.monotonic() - start < 1.0 + 1.0


# ---------------------------------------------------------------------------------------------
# 8. 403 is "too many cells" only when it says so; the chunk size grows back
# ---------------------------------------------------------------------------------------------


def test_403_that_is_not_about_cells_is_an_error_at_once(
    loopback_server: LoopbackServer, pxweb: PxWebApi
) -> None:
    pxweb.metadata("07459")
    loopback_server.faults.push("forbidden", count=100, path="/data")
    full = {"Region": "*", "Kjonn": "*", "Alder": "*", "ContentsCode": "*", "Tid": "*"}
    with pytest.raises(PxWebApiError, match="HTTP 403: Forbidden: Access to this resource"):
        pxweb.get_data("07459", full)
    assert data_calls(loopback_server) == 1


def _wide_table() -> Cube:
    """250 regions x 100 years = 25,000 cells."""
    regions = tuple((f"R{i:03d}", f"Region {i}") for i in range(250))
    years = tuple((str(y), str(y)) for y in range(1900, 2000))
    return Cube(
        id="99002",
        label="99002: Wide table",
        updated="2025-01-01T00:00:00Z",
        dims=(
            Dimension("Region", "region", regions),
            Dimension("Tid", "år", years, time=True),
        ),
        cell=lambda c: (cell_value([c["Region"], c["Tid"]]), None),
    )


def _wide_frame(settings: ServerSettings, first_fault: str | None = None) -> tuple[Any, list[int]]:
    with LoopbackServer(tables={"99002": _wide_table()}, settings=settings) as server:
        if first_fault:
            server.faults.push(first_fault, path="/data")
        api = PxWebApi(
            server.pxweb_url, session=LoopbackOnlySession(), timeout=(2, 5), offline=False
        )
        frame = api.get_data("99002", {"Region": "*", "Tid": "*"})
        statuses = [c.status for c in server.data_calls()]
    expected = [cell_value([f"R{i:03d}", str(y)]) for i in range(250) for y in range(1900, 2000)]
    assert frame["value"].tolist() == expected
    return frame, statuses


def test_chunk_size_grows_back_to_a_stricter_server_limit() -> None:
    # The server announces 1,100 cells but takes at most 1,000: the minimum is
    # ceil(25,000 / 1,000) = 25 calls. Halving for good after the first refusal costs 47 (23 slabs
    # of 11 regions x 100 years, each then split in two, the first after its refusal). A binary
    # search between the largest call that passed and the smallest refused, one step per eight
    # passing calls: 8 x 550 + 8 x ~825 + 8 x ~962 cells = 18,600, one refusal near 1,030, the
    # remaining 6,400 cells at ~960 in 7 calls: 1 + 24 + 1 + 7 = 33, within 35.
    settings = ServerSettings(max_cells=1100, enforced_max_cells=1000, max_calls=10_000)
    _, statuses = _wide_frame(settings)
    assert statuses.count(200) >= 25
    assert len(statuses) <= 35, statuses
    assert statuses.count(403) <= 3


def test_one_odd_refusal_does_not_halve_every_later_call() -> None:
    # The first data call is refused once ("too many cells", whatever its size); the server then
    # takes its announced 1,100 cells: ceil(25,000 / 1,100) = 23 calls would do. Staying halved
    # costs 1 + 46. The search back up (8 calls at ~550, ~825 and ~962 cells: 18,600 cells, then
    # calls of ~1,030 for the remaining 6,400 cells, 7 calls) costs 1 + 24 + 7 = 32.
    settings = ServerSettings(max_cells=1100, max_calls=10_000)
    _, statuses = _wide_frame(settings, first_fault="too_many_cells")
    assert statuses[0] == 403 and statuses[1:].count(200) == len(statuses) - 1
    assert len(statuses) <= 34, statuses


# ---------------------------------------------------------------------------------------------
# smaller: top(0), top(-1), booleans, a huge declared size
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["top(0)", "top(-1)", "bottom(0)", "top(2,-1)"])
def test_top_and_bottom_need_a_positive_count(
    loopback_server: LoopbackServer, pxweb: PxWebApi, expr: str
) -> None:
    with pytest.raises(InvalidSelection, match=r"n >= 1 and offset >= 0|whole numbers"):
        pxweb.get_data("07459", {**SMALL, "Tid": expr})
    assert data_calls(loopback_server) == 0


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "id": ["Region", "Tid"],
        "size": [1, 2],
        "dimension": {
            "Region": {"category": {"index": {"03": 0}}},
            "Tid": {"category": {"index": {"2020": 0, "2021": 1}}},
        },
        "value": [1.5, 2.5],
    }
    doc.update(changes)
    return doc


def test_booleans_are_not_numbers() -> None:
    assert read_jsonstat(_doc(), labels=False)["value"].tolist() == [1.5, 2.5]
    for value in ([True, 2.5], [1.5, False], {"0": True}):
        with pytest.raises(JsonStatError, match="boolean"):
            read_jsonstat(_doc(value=value))
    bad = _doc()
    bad["dimension"]["Tid"]["category"]["index"] = {"2020": False, "2021": True}
    with pytest.raises(JsonStatError, match="positions must be integers"):
        read_jsonstat(bad)


def test_a_huge_declared_size_is_refused_before_allocating() -> None:
    # 10^5 x 10^5 x 10^3 = 10^13 cells (80 TB of floats) claimed by a sparse body of a few bytes
    huge = _doc(
        id=["a", "b", "c"],
        size=[100_000, 100_000, 1000],
        dimension={k: {"category": {"index": {"x": 0}}} for k in "abc"},
        value={"0": 1.0},
    )
    with pytest.raises(JsonStatError, match="declares 10,000,000,000,000 cells"):
        read_jsonstat(huge)
    # 2 x 10^7 cells, under the cap, but the categories do not match the sizes: refused first
    big = _doc(size=[20_000, 1000], value={"0": 1.0})
    with pytest.raises(JsonStatError, match="'size' says 20000 categories"):
        read_jsonstat(big)
