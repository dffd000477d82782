"""Fetch / refresh / offline against the loopback PxWebApi 2.0 server (127.0.0.1 only).

Calls are counted by the server's own request log, never by the code under test. Expected cell
values are recomputed here from the loopback tables' published rule (``crc32`` of the cell's codes
joined by ``|``, modulo 100 000, over 10 for one decimal), independently of the client and decoder.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import stat
import zlib
from pathlib import Path

import pytest
from loopback import LoopbackOnlySession, LoopbackServer

from regionstats.sources.fetch import Fetcher, OfflineDataMissing, TableRefresh
from regionstats.sources.pxwebapi import PxWebApi
from regionstats.sources.store import CorruptVintage, CorruptVintageWarning, RawStore

TABLE = "11713"
SELECTION = {
    "Region": ["03", "11"],
    "NACE2007": ["10-33"],
    "ContentsCode": ["BruttoprodBasis"],
    "Tid": ["2020", "2021"],
}
OLD_UPDATED = "2024-03-13T07:00:00Z"
NEW_UPDATED = "2025-03-12T07:00:00Z"
REVISION = 1000.0  # added to every cell by the "revised" table below


def expected_cells(revised: bool = False) -> dict[tuple[str, str], float]:
    """{(region, year): value} for SELECTION, worked out from the loopback rule."""
    out = {}
    for region in SELECTION["Region"]:
        for year in SELECTION["Tid"]:
            raw = zlib.crc32(f"{region}|10-33|BruttoprodBasis|{year}".encode()) % 100_000
            out[(region, year)] = raw / 10 + (REVISION if revised else 0.0)
    return out


def cells_of(frame) -> dict[tuple[str, str], float]:  # type: ignore[no-untyped-def]
    return {
        (r, t): v for r, t, v in zip(frame["Region"], frame["Tid"], frame["value"], strict=True)
    }


def revise(server: LoopbackServer, table_id: str = TABLE, updated: str = NEW_UPDATED) -> None:
    """Publish a revision: a new ``updated`` stamp and every number changed."""
    old = server.tables[table_id]
    old_cell = old.cell

    def cell(codes: dict[str, str]) -> tuple[float | None, str | None]:
        value, symbol = old_cell(codes)
        return (None if value is None else value + REVISION), symbol

    server.tables[table_id] = dataclasses.replace(old, updated=updated, cell=cell)


def data_calls(server: LoopbackServer) -> int:
    return len(server.data_calls())


def info_calls(server: LoopbackServer, table_id: str | None = None) -> int:
    """Calls to ``/tables/{id}`` (what ``table_info`` asks): the per-table metadata check."""
    pattern = re.compile(r".*/tables/([^/]+)/?$")
    return sum(
        1
        for r in server.requests
        if (m := pattern.match(r.path)) and (table_id is None or m.group(1) == table_id)
    )


def other_calls(server: LoopbackServer) -> int:
    """Every call that is neither data nor the ``updated`` check (metadata, config)."""
    return len(server.requests) - data_calls(server) - info_calls(server)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pxserver(loopback_server: LoopbackServer) -> LoopbackServer:
    """The shared loopback server (``tests/sources/conftest.py``), default tables 07459, 11713."""
    assert {TABLE, "07459"} <= set(loopback_server.tables)
    return loopback_server


def make_client(url: str) -> PxWebApi:
    """A client that can only reach 127.0.0.1, with short timeouts and no retries."""
    return PxWebApi(
        url, session=LoopbackOnlySession(), timeout=(2, 5), max_retries=0, offline=False
    )


@pytest.fixture
def store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


@pytest.fixture
def online(pxserver: LoopbackServer, store: RawStore) -> Fetcher:
    return Fetcher(make_client(pxserver.pxweb_url), store, offline=False)


# ---- online -----------------------------------------------------------------------------------


def test_first_fetch_makes_metadata_and_data_calls(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    frame = online.fetch(TABLE, SELECTION)
    assert info_calls(pxserver, TABLE) == 1
    assert data_calls(pxserver) == 1
    assert cells_of(frame) == pytest.approx(expected_cells())
    assert frame.attrs["table"] == TABLE
    assert frame.attrs["updated"] == OLD_UPDATED
    assert frame.attrs["source"] == f"{pxserver.pxweb_url}/tables/{TABLE}/data"
    [vintage] = store.vintages(TABLE)
    assert frame.attrs["vintage"] == vintage.vintage_id
    assert vintage.updated == OLD_UPDATED
    assert vintage.meta["base_url"] == pxserver.pxweb_url
    # what was stored is exactly what the server sent
    assert store.read_bytes(vintage)[0].startswith(b'{"version": "2.0"')


def test_unchanged_table_makes_only_metadata_calls(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    first = online.fetch(TABLE, SELECTION)
    before_data, before_other = data_calls(pxserver), other_calls(pxserver)
    # a fresh client as well: nothing cached in the client can explain a saved data call
    for fetcher in (online, Fetcher(make_client(pxserver.pxweb_url), store, offline=False)):
        again = fetcher.fetch(TABLE, SELECTION)
        assert cells_of(again) == pytest.approx(expected_cells())
        assert again.attrs["vintage"] == first.attrs["vintage"]
    assert data_calls(pxserver) == before_data == 1
    assert other_calls(pxserver) == before_other  # no /metadata, no /config either
    assert info_calls(pxserver, TABLE) == 3
    assert len(store.vintages(TABLE)) == 1


def test_revised_table_gives_new_vintage(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    first = online.fetch(TABLE, SELECTION)
    revise(pxserver)
    second = online.fetch(TABLE, SELECTION)
    assert data_calls(pxserver) == 2
    assert info_calls(pxserver, TABLE) == 2
    assert cells_of(second) == pytest.approx(expected_cells(revised=True))
    assert second.attrs["updated"] == NEW_UPDATED
    old, new = store.vintages(TABLE)
    assert (old.vintage_id, new.vintage_id) == (first.attrs["vintage"], second.attrs["vintage"])
    assert new.updated == NEW_UPDATED
    # the old vintage is kept, unchanged
    assert cells_of(store.load(old)) == pytest.approx(expected_cells())


def test_different_query_is_a_different_vintage(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    online.fetch(TABLE, SELECTION)
    narrower = {**SELECTION, "Region": ["03"]}
    frame = online.fetch(TABLE, narrower)
    assert data_calls(pxserver) == 2
    assert set(cells_of(frame)) == {("03", "2020"), ("03", "2021")}
    assert len(store.vintages(TABLE)) == 2
    assert len(store.vintages(TABLE, {"selection": narrower})) == 1


def test_corrupt_vintage_is_reported_and_refetched(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    online.fetch(TABLE, SELECTION)
    [bad] = store.vintages(TABLE)
    chunk = bad.files[0]
    os.chmod(chunk, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(chunk.read_bytes())
    data[-5] ^= 0x04  # inside the last number: still valid JSON, wrong value
    chunk.write_bytes(bytes(data))
    with pytest.warns(CorruptVintageWarning, match=re.escape(str(chunk))):
        frame = online.fetch(TABLE, SELECTION)
    assert data_calls(pxserver) == 2  # refetched although `updated` did not change
    assert cells_of(frame) == pytest.approx(expected_cells())
    old, new = store.vintages(TABLE)
    assert old == bad and frame.attrs["vintage"] == new.vintage_id
    with pytest.raises(CorruptVintage):
        store.read_bytes(old)  # kept as evidence, never used
    assert store.latest(TABLE, verify=True) == new


def test_refresh_false_serves_stored_without_any_call(
    pxserver: LoopbackServer, online: Fetcher
) -> None:
    online.fetch(TABLE, SELECTION)
    n = len(pxserver.requests)
    revise(pxserver)  # a newer release exists, but we asked not to look
    frame = online.fetch(TABLE, SELECTION, refresh=False)
    assert len(pxserver.requests) == n
    assert cells_of(frame) == pytest.approx(expected_cells())
    # nothing stored for another query: refresh=False still fetches it
    online.fetch(TABLE, {**SELECTION, "Tid": ["2019"]}, refresh=False)
    assert data_calls(pxserver) == 2


def test_chunked_query_stored_as_several_bodies(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    pxserver.settings.max_cells = 3  # 4 cells asked: the client must split
    frame = online.fetch(TABLE, SELECTION)
    n_data = data_calls(pxserver)
    online.fetch(TABLE, SELECTION)
    assert data_calls(pxserver) == n_data  # unchanged: no data call
    [vintage] = store.vintages(TABLE)
    assert n_data >= 2
    assert len(vintage.files) == n_data
    assert cells_of(frame) == pytest.approx(expected_cells())


# ---- offline ----------------------------------------------------------------------------------


def test_offline_makes_no_request_and_serves_stored(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = online.fetch(TABLE, SELECTION)
    pxserver.reset()
    revise(pxserver)  # the live server has newer data: offline must not see it
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")
    fetcher = Fetcher(make_client(pxserver.pxweb_url), store)  # offline from the environment
    assert fetcher.offline
    frame = fetcher.fetch(TABLE, SELECTION)
    assert pxserver.requests == []
    assert cells_of(frame) == pytest.approx(expected_cells())
    assert frame.attrs["vintage"] == stored.attrs["vintage"]
    # a client pointing at a closed port would fail loudly if it were used
    dead = Fetcher(make_client(f"http://127.0.0.1:{closed_port()}/api"), store, offline=True)
    assert cells_of(dead.fetch(TABLE, SELECTION)) == pytest.approx(expected_cells())
    # and no default client is ever built offline
    assert cells_of(Fetcher(store=store, offline=True).fetch(TABLE, SELECTION)) == pytest.approx(
        expected_cells()
    )


def test_offline_with_nothing_stored_names_table_and_query(
    pxserver: LoopbackServer, store: RawStore
) -> None:
    fetcher = Fetcher(make_client(pxserver.pxweb_url), store, offline=True)
    with pytest.raises(OfflineDataMissing) as info:
        fetcher.fetch(TABLE, SELECTION, {"NACE2007": "agg_NACE2007Hoved"})
    msg = str(info.value)
    assert "table 11713" in msg
    assert "BruttoprodBasis" in msg and "agg_NACE2007Hoved" in msg
    assert "online" in msg
    assert info.value.table_id == TABLE
    assert pxserver.requests == []


def test_offline_skips_corrupt_and_serves_older(
    pxserver: LoopbackServer, online: Fetcher, store: RawStore
) -> None:
    online.fetch(TABLE, SELECTION)
    revise(pxserver)
    online.fetch(TABLE, SELECTION)
    old, new = store.vintages(TABLE)
    os.chmod(new.files[0], stat.S_IRUSR | stat.S_IWUSR)
    new.files[0].write_bytes(new.files[0].read_bytes()[:-3])  # truncated
    pxserver.reset()
    offline = Fetcher(make_client(pxserver.pxweb_url), store, offline=True)
    with pytest.warns(CorruptVintageWarning, match=re.escape(str(new.files[0]))):
        frame = offline.fetch(TABLE, SELECTION)
    assert frame.attrs["vintage"] == old.vintage_id
    assert cells_of(frame) == pytest.approx(expected_cells())
    # every vintage corrupt: missing, not silently served
    os.chmod(old.files[0], stat.S_IRUSR | stat.S_IWUSR)
    old.files[0].write_bytes(b"{}")
    with pytest.warns(CorruptVintageWarning), pytest.raises(OfflineDataMissing, match="11713"):
        offline.fetch(TABLE, SELECTION)
    assert pxserver.requests == []


def test_offline_uses_snapshot_store(
    pxserver: LoopbackServer, tmp_path: Path, store: RawStore
) -> None:
    shipped = RawStore(tmp_path / "shipped")
    Fetcher(make_client(pxserver.pxweb_url), shipped, offline=False).fetch(TABLE, SELECTION)
    pxserver.reset()
    fetcher = Fetcher(store=store, offline=True, snapshot_dir=shipped.root)
    frame = fetcher.fetch(TABLE, SELECTION)
    assert cells_of(frame) == pytest.approx(expected_cells())
    assert pxserver.requests == []
    assert store.vintages(TABLE) == []  # read-only use: nothing copied


# ---- refresh ----------------------------------------------------------------------------------

REFRESH = [
    (TABLE, SELECTION),
    (TABLE, {**SELECTION, "NACE2007": ["VARE", "TJEN"]}, {"NACE2007": "agg_NACE2007Hoved"}),
    ("07459", {"Region": ["0301"], "ContentsCode": ["Personer1"], "Tid": ["2024"]}, None),
]


def test_refresh_counts_calls_and_statuses(pxserver: LoopbackServer, online: Fetcher) -> None:
    seen: list[TableRefresh] = []
    first = online.refresh(REFRESH, progress=seen.append)
    assert [t.status for t in first.tables] == ["new vintage"] * 3
    assert seen == first.tables
    assert info_calls(pxserver) == 2  # one per table, not per query
    assert first.metadata_calls == 2
    assert first.data_calls == data_calls(pxserver) == 3
    assert first.ok

    pxserver.reset()
    second = online.refresh(REFRESH)
    assert [t.status for t in second.tables] == ["unchanged"] * 3
    assert data_calls(pxserver) == 0 == second.data_calls
    assert info_calls(pxserver) == 2 == second.metadata_calls == len(pxserver.requests)
    assert [t.vintage_id for t in second.tables] == [t.vintage_id for t in first.tables]

    pxserver.reset()
    revise(pxserver, "07459", updated="2026-02-25T07:00:00Z")
    third = online.refresh(REFRESH)
    assert [t.status for t in third.tables] == ["unchanged", "unchanged", "new vintage"]
    assert data_calls(pxserver) == 1 == third.data_calls
    assert third.tables[2].updated == "2026-02-25T07:00:00Z"
    assert "1 new vintage(s), 2 unchanged, 0 failed" in str(third)
    assert list(third.to_frame()["status"]) == ["unchanged", "unchanged", "new vintage"]


def test_refresh_records_failures_and_goes_on(pxserver: LoopbackServer, online: Fetcher) -> None:
    report = online.refresh([("99999", {"Tid": ["2020"]}), (TABLE, SELECTION)])
    failed, ok = report.tables
    assert failed.status == "failed" and "99999" in (failed.error or "")
    assert failed.metadata_calls == 1 and failed.data_calls == 0
    assert ok.status == "new vintage"
    assert not report.ok and report.count("failed") == 1


def test_refresh_offline_fails_without_requests(pxserver: LoopbackServer, store: RawStore) -> None:
    fetcher = Fetcher(make_client(pxserver.pxweb_url), store, offline=True)
    report = fetcher.refresh(REFRESH)
    assert [t.status for t in report.tables] == ["failed"] * 3
    assert all("offline" in (t.error or "") for t in report.tables)
    assert pxserver.requests == []


def test_refresh_progress_bar_and_quiet_default(
    pxserver: LoopbackServer, online: Fetcher, capsys: pytest.CaptureFixture[str]
) -> None:
    online.refresh(REFRESH[:1])
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    online.refresh(REFRESH[:1], progress=True)
    shown = capsys.readouterr()
    assert shown.out == ""
    assert "refresh" in shown.err and "1/1" in shown.err
