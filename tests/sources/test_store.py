"""Tests of the immutable raw store (no server needed)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import regionstats
from regionstats.sources.store import (
    CorruptVintage,
    CorruptVintageWarning,
    RawStore,
    Vintage,
    canonical_query,
    query_hash,
)

TABLE = "99901"
SELECTION = {"Region": ["03", "11"], "ContentsCode": "BNP", "Tid": ["2022", "2023"]}
CODELISTS = {"Region": "agg_Fylker"}
BASE = "http://127.0.0.1:9/api/v2"
URL = f"{BASE}/tables/{TABLE}/data"
UPDATED = "2026-02-20T07:00:00Z"
T0 = datetime(2026, 11, 23, 12, 3, 1, 482913, tzinfo=UTC)


@pytest.fixture
def body(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "store" / "tiny_jsonstat2.json").read_bytes()


@pytest.fixture
def body2(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "store" / "tiny_jsonstat2_chunk2.json").read_bytes()


def _write(store: RawStore, bodies: list[bytes], **kw: object) -> Vintage:
    args: dict[str, object] = {
        "selection": SELECTION,
        "codelists": CODELISTS,
        "updated": UPDATED,
        "url": URL,
        "base_url": BASE,
    }
    args.update(kw)
    return store.write(TABLE, bodies, **args)  # type: ignore[arg-type]


def _flip_byte(path: Path, offset: int = 10) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# ---- round trip and sidecar ----------------------------------------------------------------


def test_nothing_created_until_first_write(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    assert store.vintages(TABLE) == []
    assert store.latest(TABLE) is None
    assert not (tmp_path / "raw").exists()


def test_default_root_is_config_raw_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTATS_DATA", str(tmp_path / "d"))
    assert RawStore().root == tmp_path / "d" / "raw"
    assert not (tmp_path / "d").exists()


def test_write_then_read_round_trip(tmp_path: Path, body: bytes, body2: bytes) -> None:
    store = RawStore(tmp_path)
    v = _write(store, [body, body2], fetched_at=T0)
    assert v.path.parent == tmp_path / "ssb" / TABLE
    assert sorted(p.name for p in v.path.iterdir()) == [
        "chunk-000.json",
        "chunk-001.json",
        "meta.json",
    ]
    assert store.read_bytes(v) == [body, body2]
    # a fresh store object finds the same vintage on disk
    again = RawStore(tmp_path).latest(TABLE)
    assert again is not None and again.vintage_id == v.vintage_id
    assert RawStore(tmp_path).read_bytes(again) == [body, body2]


def test_sidecar_fields(tmp_path: Path, body: bytes, body2: bytes) -> None:
    store = RawStore(tmp_path)
    v = _write(store, [body, body2], fetched_at=T0)
    meta = json.loads((v.path / "meta.json").read_text())
    assert meta["url"] == URL
    assert meta["base_url"] == BASE
    assert meta["table_id"] == TABLE
    assert meta["source"] == "ssb"
    assert meta["updated"] == UPDATED
    assert meta["fetched_at"] == "2026-11-23T12:03:01.482913Z"
    assert meta["client_version"] == regionstats.__version__
    # canonical query: single code -> list; order of codes kept
    expected_query = {
        "selection": {"Region": ["03", "11"], "ContentsCode": ["BNP"], "Tid": ["2022", "2023"]},
        "codelists": {"Region": "agg_Fylker"},
    }
    assert meta["query"] == expected_query
    canonical = json.dumps(expected_query, sort_keys=True, separators=(",", ":")).encode()
    assert meta["query_hash"] == hashlib.sha256(canonical).hexdigest()
    # sha256 and size recomputed independently
    assert meta["files"] == [
        {"name": "chunk-000.json", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)},
        {
            "name": "chunk-001.json",
            "sha256": hashlib.sha256(body2).hexdigest(),
            "size": len(body2),
        },
    ]
    assert meta["vintage_id"] == v.vintage_id == v.path.name
    # id: fetched-at, table updated, query hash prefix
    assert v.vintage_id == f"20261123T120301.482913Z-20260220T070000Z-{meta['query_hash'][:8]}"
    # raw files are read-only
    assert not (v.path / "chunk-000.json").stat().st_mode & stat.S_IWUSR


def test_query_hash_canonical() -> None:
    a = query_hash({"Tid": ["2023"], "Region": ["03"]}, {"Region": "agg_x"})
    b = query_hash({"Region": "03", "Tid": "2023"}, {"Region": "agg_x"})
    assert a == b
    assert a != query_hash({"Tid": ["2023"], "Region": ["03"]})  # codelist matters
    assert query_hash({"Region": ["03", "11"]}) != query_hash({"Region": ["11", "03"]})
    assert canonical_query(None) == {"selection": {}, "codelists": {}}
    assert query_hash({"Region": "03, 11"}) == query_hash({"Region": ["03", "11"]})
    assert canonical_query({"Tid": "[RANGE(1,12)],from(2020)"})["selection"] == {
        "Tid": ["[RANGE(1,12)]", "from(2020)"]
    }
    with pytest.raises(TypeError, match="Region"):
        canonical_query({"Region": [3]})  # type: ignore[list-item]


# ---- corruption -------------------------------------------------------------------------------


def test_flipped_byte_raises_corrupt_vintage(tmp_path: Path, body: bytes) -> None:
    store = RawStore(tmp_path)
    v = _write(store, [body], fetched_at=T0)
    chunk = v.path / "chunk-000.json"
    _flip_byte(chunk)
    flipped = hashlib.sha256(chunk.read_bytes()).hexdigest()
    with pytest.raises(CorruptVintage) as info:
        store.read_bytes(v)
    msg = str(info.value)
    assert str(chunk) in msg
    assert hashlib.sha256(body).hexdigest() in msg
    assert flipped in msg
    assert info.value.path == chunk
    with pytest.raises(CorruptVintage):
        store.load(v)


def test_truncated_and_missing_file_detected(tmp_path: Path, body: bytes, body2: bytes) -> None:
    store = RawStore(tmp_path)
    v = _write(store, [body, body2], fetched_at=T0)
    os.chmod(v.path / "chunk-001.json", stat.S_IRUSR | stat.S_IWUSR)
    (v.path / "chunk-001.json").unlink()
    with pytest.raises(CorruptVintage, match="chunk-001.json"):
        store.read_bytes(v)


def test_edited_sidecar_detected(tmp_path: Path, body: bytes) -> None:
    store = RawStore(tmp_path)
    v = _write(store, [body], fetched_at=T0)
    meta_path = v.path / "meta.json"
    os.chmod(meta_path, stat.S_IRUSR | stat.S_IWUSR)
    meta = json.loads(meta_path.read_text())
    meta["updated"] = "2030-01-01T00:00:00Z"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CorruptVintage, match="meta.json"):
        store.read_bytes(v)
    # a listing reports it and leaves it out
    with pytest.warns(CorruptVintageWarning, match="meta.json"):
        assert store.vintages(TABLE) == []


def test_latest_verify_skips_corrupt(tmp_path: Path, body: bytes, body2: bytes) -> None:
    store = RawStore(tmp_path)
    old = _write(store, [body], fetched_at=T0)
    new = _write(store, [body2], fetched_at=T0 + timedelta(days=1))
    _flip_byte(new.path / "chunk-000.json", offset=3)
    assert store.latest(TABLE) == new  # without verify: just the newest
    with pytest.warns(CorruptVintageWarning, match=re.escape(str(new.path / "chunk-000.json"))):
        assert store.latest(TABLE, verify=True) == old


# ---- atomic writes ----------------------------------------------------------------------------

_KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from regionstats.sources.store import RawStore

    root, marker, where = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def stall(*args, **kwargs):
        marker.write_text("writing")
        time.sleep(60)

    if where == "fsync":      # stall after the first body file hit the disk
        real_fsync = os.fsync
        calls = []
        def fsync(fd):
            real_fsync(fd)
            calls.append(fd)
            if len(calls) == 1:
                stall()
        os.fsync = fsync
    else:                     # stall just before the rename that publishes the vintage
        os.rename = stall

    big = b'{"pad": "' + b"x" * 8_000_000 + b'"}'
    RawStore(root).write("99901", [big, big], selection={"Tid": ["2023"]}, updated=None,
                         url="http://127.0.0.1:9/x", base_url="http://127.0.0.1:9")
    """
)


@pytest.mark.parametrize("where", ["fsync", "rename"])
def test_kill_mid_write_leaves_no_vintage(tmp_path: Path, body: bytes, where: str) -> None:
    root = tmp_path / "raw"
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(root), str(marker), where],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"writer exited early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("writer never reached the stall point")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    store = RawStore(root)
    # the kill really happened mid-write: a temp folder with data is left behind ...
    leftovers = [p for p in root.iterdir() if p.name.startswith(".incoming-")]
    assert len(leftovers) == 1 and any(leftovers[0].iterdir())
    # ... but no vintage is visible
    assert store.vintages("99901") == []
    assert store.latest("99901") is None
    # the next write succeeds and cleans up
    v = store.write(
        "99901", [body], selection={"Tid": ["2023"]}, updated=None, url=URL, base_url=BASE
    )
    assert store.read_bytes(v) == [body]
    assert [x.vintage_id for x in store.vintages("99901")] == [v.vintage_id]
    assert not [p for p in root.iterdir() if p.name.startswith(".incoming-")]


def test_failed_rename_leaves_no_vintage(
    tmp_path: Path, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RawStore(tmp_path)

    def broken_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(OSError, match="simulated"):
        _write(store, [body], fetched_at=T0)
    monkeypatch.undo()
    assert store.vintages(TABLE) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".incoming-")]
    v = _write(store, [body], fetched_at=T0)
    assert store.read_bytes(v) == [body]


def test_vintages_never_overwritten(tmp_path: Path, body: bytes, body2: bytes) -> None:
    store = RawStore(tmp_path)
    first = _write(store, [body], fetched_at=T0)
    # same fetch time, same updated, same query: would get the same id
    second = _write(store, [body2], fetched_at=T0)
    assert second.vintage_id != first.vintage_id
    assert second.vintage_id == first.vintage_id + "-1"
    assert store.read_bytes(first) == [body]
    assert store.read_bytes(second) == [body2]
    assert [v.vintage_id for v in store.vintages(TABLE)] == [first.vintage_id, second.vintage_id]


def test_concurrent_writers_get_distinct_vintages(tmp_path: Path, body: bytes) -> None:
    store = RawStore(tmp_path)
    results: list[Vintage] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results.append(_write(RawStore(tmp_path), [body + b" " * i], fetched_at=T0))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    listed = store.vintages(TABLE)
    assert len(listed) == 6 == len({v.vintage_id for v in listed})
    assert sorted(len(store.read_bytes(v)[0]) - len(body) for v in listed) == list(range(6))


# ---- listing ----------------------------------------------------------------------------------


def test_listing_order_and_filters(tmp_path: Path, body: bytes) -> None:
    store = RawStore(tmp_path)
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(days=40)
    b = _write(store, [body], fetched_at=t2, updated="2026-03-01T07:00:00Z")
    a = _write(store, [body], fetched_at=t1)
    c = _write(store, [body], fetched_at=t3, updated="2026-05-01T07:00:00Z")
    other = _write(store, [body], fetched_at=t2 + timedelta(minutes=1), selection={"Tid": "2023"})
    elsewhere = _write(store, [body], fetched_at=t3 + timedelta(days=1), source="scb")

    assert store.vintages(TABLE, source="ssb") == [a, b, other, c]
    assert store.vintages(TABLE) == [a, b, other, c, elsewhere]
    query = {"selection": SELECTION, "codelists": CODELISTS}
    assert store.vintages(TABLE, query, source="ssb") == [a, b, c]
    assert store.vintages(TABLE, query_hash(SELECTION, CODELISTS), source="ssb") == [a, b, c]
    assert store.vintages(TABLE, {"selection": {"Tid": ["2023"]}, "codelists": CODELISTS}) == [
        other
    ]
    assert store.vintages(TABLE, {"selection": {"Tid": ["2023"]}}) == []
    assert store.latest(TABLE, query, source="ssb") == c
    assert store.latest(TABLE, query) == elsewhere
    assert c.updated == "2026-05-01T07:00:00Z"
    assert store.vintages("00000") == []
    # vintage ids sort the same way as fetch times
    ids = [v.vintage_id for v in store.vintages(TABLE, source="ssb")]
    assert ids == sorted(ids)


def test_load_decodes_and_sets_attrs(tmp_path: Path, body: bytes, body2: bytes) -> None:
    pytest.importorskip("regionstats.sources.jsonstat")
    store = RawStore(tmp_path)
    v = _write(store, [body, body2], fetched_at=T0)
    frame = store.load(v)
    # hand count: 4 cells in chunk 1 (one missing), 2 in chunk 2
    assert len(frame) == 6
    assert frame["value"].isna().sum() == 1
    assert frame["value"].sum() == pytest.approx(100.5 + 110.0 + 200.25 + 50.0 + 7.0)
    assert (frame["status"] == "..").sum() == 1
    assert frame.attrs["table"] == TABLE
    assert frame.attrs["vintage"] == v.vintage_id
    assert frame.attrs["updated"] == UPDATED
    assert frame.attrs["source"] == URL
    assert frame.attrs["fetched_at"] == "2026-11-23T12:03:01.482913Z"
    assert frame.attrs["sha256"] == ",".join(hashlib.sha256(b).hexdigest() for b in (body, body2))
