"""Live readers of :mod:`regionstats.sources.live` against the loopback server (127.0.0.1 only).

Tables come from :mod:`loopback.tables_inputs` (synthetic numbers: every cell is
``crc32("|".join(codes)) % 100000`` of its codes in table order). Expected values are recomputed
here from that rule with :mod:`zlib`, or read off the server's own answers / fixture files, never
from the readers' output. Calls are counted by the server's request log.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loopback import LoopbackOnlySession, LoopbackServer, ServerSettings
from loopback.clients import klass_client, pxweb_client
from loopback.tables_inputs import (
    AGES_EARLIER,
    DEFAULT_MUNICIPALITIES,
    INDUSTRIES_13470,
    INDUSTRIES_EARLIER,
    POP_AGES,
    employment_earlier_table,
    employment_workplace_table,
    input_tables,
    klass_fixtures,
    population_inputs_table,
)

from regionstats.regions.errors import UnknownEditionError
from regionstats.sources import live
from regionstats.sources.fetch import Fetcher, OfflineDataMissing
from regionstats.sources.klass import KlassClient
from regionstats.sources.store import RawStore

KLASS_FILES = Path(__file__).resolve().parents[1] / "fixtures" / "loopback" / "klass"
EMPLOYMENT_COLUMNS = [
    "region",
    "industry",
    "year",
    "value",
    "status",
    "region_label",
    "industry_label",
    "source_table",
]
PROVENANCE_KEYS = {"source", "location", "vintage", "sha256", "as_of"}


@pytest.fixture(autouse=True)
def _online_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)


def crc(*codes: str) -> float:
    """The loopback rule, recomputed here."""
    return float(zlib.crc32("|".join(codes).encode("utf-8")) % 100_000)


def valid(code: str, year: int) -> bool:
    return any(c == code and lo <= year <= hi for c, _, lo, hi in DEFAULT_MUNICIPALITIES)


MUNICIPALITY_CODES = sorted(c for c, _, _, _ in DEFAULT_MUNICIPALITIES)


def start(tables: dict | None = None, klass: dict | None = None) -> LoopbackServer:
    server = LoopbackServer(
        tables=tables if tables is not None else input_tables(),
        settings=ServerSettings(max_cells=2_000_000, max_calls=10_000),
        klass=klass,
    )
    return server.start()


@pytest.fixture
def server():
    srv = start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


def online(server: LoopbackServer, store: RawStore) -> Fetcher:
    return Fetcher(pxweb_client(server, timeout=(2.0, 10.0), max_wait=5.0), store, offline=False)


def stored_bodies(store: RawStore, source: str, table_id: str) -> list[bytes]:
    """Bodies of the newest vintage of a table, read from the files (not via the reader)."""
    folder = store.root / source / table_id
    newest = sorted(p for p in folder.iterdir() if p.is_dir())[-1]
    meta = json.loads((newest / "meta.json").read_text())
    return [(newest / f["name"]).read_bytes() for f in meta["files"]]


# ---- employment by workplace (13470 + 07984) --------------------------------------------------


def expected_employment(table: str, years: range) -> pd.DataFrame:
    """Every municipality cell of one table, with the TOTAL over its groups, by hand."""
    groups = INDUSTRIES_13470 if table == "13470" else INDUSTRIES_EARLIER
    rows = []
    for code in MUNICIPALITY_CODES:
        for year in years:
            cells = []
            for nace, _ in groups:
                if not valid(code, year):
                    value, status = np.nan, "."
                elif (code, nace) == ("0301", "05-09"):
                    value, status = np.nan, ":"
                elif table == "13470":
                    value, status = crc(code, nace, "SysselsatteArb", str(year)), None
                else:
                    value = sum(
                        crc(code, nace, sex, age, "SysselsatteArb", str(year))
                        for sex in ("1", "2")
                        for age, _ in AGES_EARLIER
                    )
                    status = None
                cells.append((nace, value, status))
                rows.append((code, nace, year, value, status, table))
            symbols = {s for _, _, s in cells if s}
            if ":" in symbols:
                total = (np.nan, ":")
            elif "." in symbols:
                total = (np.nan, ".")
            else:
                total = (sum(v for _, v, _ in cells), None)
            rows.append((code, "TOTAL", year, *total, table))
    frame = pd.DataFrame(
        rows, columns=["region", "industry", "year", "value", "status", "source_table"]
    )
    return frame.sort_values(["region", "industry", "year"], ignore_index=True)


def test_employment_shape_values_and_break(server: LoopbackServer, store: RawStore) -> None:
    frame = live.employment_from_api(online(server, store))
    assert list(frame.columns) == EMPLOYMENT_COLUMNS
    for col in ("region", "industry", "region_label", "source_table"):
        assert frame[col].map(type).eq(str).all(), col
    assert frame["year"].dtype == "int64"
    assert frame["status"].dtype == "string"
    assert frame["region"].str.fullmatch(r"\d{4}").all()  # no "0", no county codes
    assert sorted(frame["region"].unique()) == MUNICIPALITY_CODES
    # 2015 is in both tables: taken from 13470, never twice
    by_table = frame.groupby("source_table")["year"].agg(["min", "max"])
    assert by_table.loc["07984"].tolist() == [2008, 2014]
    assert by_table.loc["13470"].tolist() == [2015, 2024]
    assert not frame.duplicated(["region", "industry", "year"]).any()

    expected = pd.concat(
        [
            expected_employment("07984", range(2008, 2015)),
            expected_employment("13470", range(2015, 2025)),
        ]
    ).sort_values(["region", "industry", "year"], ignore_index=True)
    got = frame[expected.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.drop(columns="status"), expected.drop(columns="status"), check_dtype=False
    )
    assert got["status"].fillna("").tolist() == expected["status"].fillna("").tolist()

    assert set(frame.loc[frame["year"] >= 2015, "industry"]) == {c for c, _ in INDUSTRIES_13470} | {
        "TOTAL"
    }
    assert "68-82" in set(frame.loc[frame["year"] < 2015, "industry"])
    assert frame.loc[frame["industry"] == "00", "industry_label"].eq("Uoppgitt").all()

    attrs = frame.attrs
    assert attrs["region_vintage"] is None
    assert attrs["table"] == "13470" and attrs["tables"] == ["13470", "07984"]
    assert attrs["units"] == "persons"
    (brk,) = attrs["breaks"]
    assert (brk["year"], brk["from_table"], brk["to_table"]) == (2015, "07984", "13470")
    assert brk["grouping_changed"] is True
    assert brk["industries_only_before"] == ["68-82"]
    assert brk["industries_only_after"] == ["68-75", "77-82"]
    prov = attrs["provenance"]
    assert set(prov) == PROVENANCE_KEYS and prov["source"] == "api"
    assert "/tables/13470/data" in prov["location"] and "/tables/07984/data" in prov["location"]
    assert "2025-06-18T06:00:00Z" in prov["vintage"]
    joined = stored_bodies(store, "ssb", "13470") + stored_bodies(store, "ssb", "07984")
    assert prov["sha256"] == hashlib.sha256(b"".join(joined)).hexdigest()


def test_employment_offline_serves_the_stored_vintages(
    server: LoopbackServer, store: RawStore
) -> None:
    first = live.employment_from_api(online(server, store))
    server.reset()
    again = live.employment_from_api(Fetcher(None, store, offline=True))
    pd.testing.assert_frame_equal(again, first)
    assert server.requests == []
    assert again.attrs["provenance"]["source"] == "raw store"
    assert again.attrs["provenance"]["sha256"] == first.attrs["provenance"]["sha256"]
    assert again.attrs["breaks"] == first.attrs["breaks"]


def test_employment_offline_without_any_vintage(store: RawStore) -> None:
    with pytest.raises(OfflineDataMissing, match="13470"):
        live.employment_from_api(Fetcher(None, store, offline=True))


def test_employment_from_2015_never_asks_for_the_earlier_table(
    server: LoopbackServer, store: RawStore
) -> None:
    frame = live.employment_from_api(online(server, store), first_year=2015)
    assert frame["year"].min() == 2015 and frame.attrs["breaks"] == []
    assert not [r for r in server.requests if "/tables/07984" in r.path]
    # offline later, asked from 2008: 07984 was never stored -> coverage warning, 13470 only
    with pytest.warns(live.CoverageWarning, match="2015"):
        offline = live.employment_from_api(Fetcher(None, store, offline=True))
    assert offline["year"].min() == 2015
    assert "07984" in offline.attrs["skipped_tables"]


def test_employment_refuses_an_earlier_table_by_residence(store: RawStore) -> None:
    tables = input_tables()
    tables["07984"] = employment_earlier_table(by_workplace=False)
    srv = start(tables)
    try:
        with pytest.raises(live.NotByWorkplace, match=r"07984.*bosted"):
            live.employment_from_api(online(srv, store))
        assert srv.data_calls() == []  # refused from the metadata, before any data call
    finally:
        srv.stop()


def test_employment_refuses_13470_by_residence(store: RawStore) -> None:
    tables = input_tables()
    tables["13470"] = employment_earlier_table(
        by_workplace=False, table_id="13470", years=range(2015, 2025)
    )
    srv = start(tables)
    try:
        with pytest.raises(live.NotByWorkplace, match="13470"):
            live.employment_from_api(online(srv, store))
    finally:
        srv.stop()


def test_employment_strips_k_dot_prefixes(store: RawStore) -> None:
    tables = input_tables()
    tables["07984"] = employment_earlier_table(region_prefix="K.")
    assert "K.1601" in tables["07984"].dim("Region").codes
    srv = start(tables)
    try:
        frame = live.employment_from_api(online(srv, store))
    finally:
        srv.stop()
    early = frame[frame["source_table"] == "07984"]
    assert sorted(early["region"].unique()) == MUNICIPALITY_CODES
    row = early[(early["region"] == "1601") & (early["industry"] == "10-33")]
    assert row.loc[row["year"] == 2010, "value"].item() == sum(
        crc("K.1601", "10-33", s, a, "SysselsatteArb", "2010")
        for s in ("1", "2")
        for a, _ in AGES_EARLIER
    )


@pytest.mark.snapshot
def test_employment_for_every_municipality_of_a_real_code_list(
    snapshot_dir: Path, store: RawStore
) -> None:
    from regionstats.sources.regions_files import read_snapshot_code_lists

    lists = read_snapshot_code_lists(snapshot_dir)
    tables = {"13470": employment_workplace_table(lists, years=range(2015, 2021))}
    srv = start(tables)
    try:
        frame = live.employment_from_api(online(srv, store), first_year=2015)
    finally:
        srv.stop()
    served = set(lists.loc[lists["year"] >= 2013, "code"])
    assert set(frame["region"]) == served
    assert len(frame) == len(served) * 18 * 6  # 17 groups + TOTAL, 2015-2020
    in_2016 = set(lists.loc[lists["year"] == 2013, "code"])  # 2016 takes the 2013 list
    numbers = frame[(frame["year"] == 2016) & frame["value"].notna()]
    assert set(numbers["region"]) == in_2016


# ---- population (07459) ---------------------------------------------------------------------


def server_sum_over_sex_and_age(server: LoopbackServer) -> pd.DataFrame:
    """The server's full cube (no elimination), decoded and summed here by hand."""
    params = {f"valuecodes[{d}]": "*" for d in ("Region", "Kjonn", "Alder", "ContentsCode", "Tid")}
    doc = (
        LoopbackOnlySession()
        .get(f"{server.pxweb_url}/tables/07459/data", params=params, timeout=(2, 10))
        .json()
    )
    codes = [
        sorted(
            doc["dimension"][d]["category"]["index"],
            key=doc["dimension"][d]["category"]["index"].get,
        )
        for d in doc["id"]
    ]
    status = doc.get("status") or {}
    rows = [
        dict(zip(doc["id"], combo, strict=True)) | {"v": v, "s": status.get(str(i))}
        for i, (combo, v) in enumerate(zip(itertools.product(*codes), doc["value"], strict=True))
    ]
    cube = pd.DataFrame(rows)
    out = []
    for (region, year), part in cube.groupby(["Region", "Tid"]):
        symbols = set(part["s"].dropna())
        if ":" in symbols:
            out.append((region, int(year), np.nan, ":"))
        elif symbols == {"."}:
            out.append((region, int(year), np.nan, "."))
        else:
            total = part["v"].sum()
            out.append(
                (region, int(year), np.nan if total == 0 else total, ".." if total == 0 else None)
            )
    frame = pd.DataFrame(out, columns=["region", "year", "value", "status"])
    frame = frame[frame["region"].str.fullmatch(r"\d{4}")]
    return frame.sort_values(["region", "year"], ignore_index=True)


def test_population_is_the_servers_sum_over_sex_and_age(
    server: LoopbackServer, store: RawStore
) -> None:
    frame = live.population_from_api(online(server, store), first_year=2008)
    assert list(frame.columns) == ["region", "year", "value", "status", "region_label"]
    assert frame["region"].map(type).eq(str).all() and frame["status"].dtype == "string"
    assert frame.attrs["region_vintage"] is None
    (call,) = server.data_calls("07459")  # before the test's own call below
    expected = server_sum_over_sex_and_age(server)
    got = frame[["region", "year", "value"]]
    pd.testing.assert_frame_equal(got, expected[["region", "year", "value"]], check_dtype=False)
    assert frame["status"].fillna("").tolist() == expected["status"].fillna("").tolist()
    # the sexes and ages really were eliminated by the API: one data call, no Kjonn/Alder
    asked = {k.lower() for k, _ in call.query}
    assert not any("kjonn" in k or "alder" in k for k in asked)
    # independent spot checks from the rule: Oslo 2008, and the zero that is not data
    oslo = sum(crc("0301", s, a, "Personer1", "2008") for s in ("1", "2") for a, _ in POP_AGES)
    assert frame.set_index(["region", "year"]).loc[("0301", 2008), "value"] == oslo
    row = frame.set_index(["region", "year"]).loc[("4204", 2015)]
    assert np.isnan(row["value"]) and row["status"] == ".."
    suppressed = frame.set_index(["region", "year"]).loc[("0301", 2009)]
    assert np.isnan(suppressed["value"]) and suppressed["status"] == ":"
    absent = sum(not valid(c, y) for c in MUNICIPALITY_CODES for y in range(2008, 2026))
    assert frame.attrs["zeros_not_data"] == absent
    assert set(frame.attrs["provenance"]) == PROVENANCE_KEYS


def test_population_first_year_and_offline(server: LoopbackServer, store: RawStore) -> None:
    recent = live.population_from_api(online(server, store), first_year=2020)
    assert recent["year"].min() == 2020
    server.reset()
    all_years = live.population_from_api(Fetcher(None, store, offline=True), first_year=2008)
    assert server.requests == []  # the same symbolic query: no refetch for another first_year
    assert all_years["year"].min() == 2008
    pd.testing.assert_frame_equal(
        all_years[all_years["year"] >= 2020].reset_index(drop=True), recent
    )
    assert all_years.attrs["provenance"]["source"] == "raw store"


def test_population_keeps_not_applicable_symbols(store: RawStore) -> None:
    tables = input_tables()
    tables["07459"] = population_inputs_table(absent=(None, "."))
    srv = start(tables)
    try:
        frame = live.population_from_api(online(srv, store), first_year=2008)
    finally:
        srv.stop()
    row = frame.set_index(["region", "year"]).loc[("4204", 2015)]
    assert np.isnan(row["value"]) and row["status"] == "."
    assert frame.attrs["zeros_not_data"] == 0


@pytest.mark.snapshot
def test_population_has_the_snapshot_readers_shape(
    snapshot_dir: Path, server: LoopbackServer, store: RawStore
) -> None:
    from regionstats.sources.regions_files import read_population_2024_boundaries

    snap = read_population_2024_boundaries(snapshot_dir)
    frame = live.population_from_api(online(server, store))
    assert list(frame.columns) == list(snap.columns)
    assert [str(t) for t in frame.dtypes] == [str(t) for t in snap.dtypes]
    assert {k for k in snap.attrs if k != "source"} <= set(frame.attrs)


# ---- KLASS 128 centrality ---------------------------------------------------------------------

CLASSES = pd.DataFrame(
    {
        "code": [f"0{k}" for k in range(1, 7)],
        "parentCode": "",
        "level": "1",
        "name": [f"Sentralitet: {k}" for k in range(1, 7)],
        "notes": "",
    }
)


def edition_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    munis = pd.DataFrame(rows, columns=["code", "parentCode", "name", "notes"]).assign(level="2")
    return pd.concat([CLASSES, munis[CLASSES.columns]], ignore_index=True)


EDITIONS = {
    2018: edition_frame(
        [
            ("0301", "01", "Oslo", "1000"),
            ("5001", "02", "Trondheim", "900"),
            ("1001", "02", "Kristiansand", "850"),
            ("1002", "04", "Mandal", "700"),
            ("1018", "03", "Søgne", "800"),
            ("0805", "03", "Porsgrunn", "780"),
            ("1103", "02", "Stavanger", "880"),
        ]
    ),
    2020: edition_frame(
        [
            ("0301", "01", "Oslo", "1000"),
            ("5001", "02", "Trondheim", "905"),
            ("4204", "02", "Kristiansand", "845"),
            ("3806", "03", "Porsgrunn", "781"),
            ("1103", "02", "Stavanger", "881"),
        ]
    ),
    2024: edition_frame(
        [
            ("0301", "01", "Oslo", "1000"),
            ("5001", "02", "Trondheim", "906"),
            ("4204", "02", "Kristiansand", "846"),
            ("4001", "04", "Porsgrunn", "760"),
            ("1103", "02", "Stavanger", "882"),
        ]
    ),
    2026: edition_frame([("0301", "01", "Oslo", "1000"), ("4001", "03", "Porsgrunn", "790")]),
}


def code_lists(years: range) -> pd.DataFrame:
    rows = [
        (c, n.split(" (")[0], y)
        for c, n, lo, hi in DEFAULT_MUNICIPALITIES
        for y in years
        if lo <= y <= hi
    ]
    return pd.DataFrame(rows, columns=["code", "name", "year"])


CHANGES = pd.DataFrame(
    [
        ("1601", "Trondheim", "5001", "Trondheim", "2018-01-01"),
        ("0805", "Porsgrunn", "3806", "Porsgrunn", "2020-01-01"),
        ("1001", "Kristiansand", "4204", "Kristiansand", "2020-01-01"),
        ("1002", "Mandal", "4204", "Kristiansand", "2020-01-01"),
        ("1018", "Søgne", "4204", "Kristiansand", "2020-01-01"),
        ("3806", "Porsgrunn", "4001", "Porsgrunn", "2024-01-01"),
    ],
    columns=["oldCode", "oldName", "newCode", "newName", "changeOccurred"],
)


def klass_server(**options: object) -> LoopbackServer:
    fixtures = klass_fixtures(
        municipalities=code_lists(range(2015, 2027)),
        municipality_changes=CHANGES,
        centrality=EDITIONS,
        **options,  # type: ignore[arg-type]
    )
    return start(tables={}, klass=fixtures)


def expected_codes(edition: int) -> pd.DataFrame:
    return EDITIONS[edition].sort_values(["code", "level"], ignore_index=True)


@pytest.mark.parametrize("edition", [2018, 2020, 2024, 2026])
def test_centrality_codes_with_municipality_level(edition: int, store: RawStore) -> None:
    srv = klass_server()
    try:
        client = klass_client(srv)
        assert live.available_editions(client, store=store) == [2018, 2020, 2024, 2026]
        frame = live.centrality_codes_from_klass(client, edition, store=store)
    finally:
        srv.stop()
    pd.testing.assert_frame_equal(frame, expected_codes(edition), check_dtype=False)
    assert frame.map(lambda v: isinstance(v, str)).all().all()
    assert frame.attrs["municipality_level"] == "codes" and frame.attrs["edition"] == edition
    prov = frame.attrs["provenance"]
    assert set(prov) == PROVENANCE_KEYS and prov["source"] == "api"
    assert prov["location"].endswith(
        f"/classifications/128/codes?from={edition}-01-01"
        + ("" if edition == 2026 else f"&to={min(e for e in EDITIONS if e > edition)}-01-01")
    )


def test_centrality_from_the_correspondence_when_klass_has_no_level_2(store: RawStore) -> None:
    srv = klass_server(centrality_municipality_level=False)
    try:
        frame = live.centrality_codes_from_klass(klass_client(srv), 2020, store=store)
    finally:
        srv.stop()
    want = expected_codes(2020)
    assert frame[["code", "parentCode", "level"]].equals(want[["code", "parentCode", "level"]])
    assert frame.loc[frame["level"] == "2", "notes"].eq("").all()  # no index in a correspondence
    assert frame.set_index("code").loc["3806", "name"] == "Porsgrunn"  # the 131 name
    assert frame.attrs["municipality_level"] == "correspondence 131->128"


def test_centrality_frame_feeds_the_regions_stage(store: RawStore) -> None:
    from regionstats.regions.centrality import centrality_from_klass

    srv = klass_server()
    try:
        frame = live.centrality_codes_from_klass(klass_client(srv), 2024, store=store)
    finally:
        srv.stop()
    munis = {"0301", "5001", "4204", "4001", "1103"}
    table = centrality_from_klass(frame, munis, 2024).set_index("region")
    assert table.loc["4001", "centrality_class"] == 4
    assert table.loc["4001", "centrality_index"] == 760.0


def test_centrality_on_the_file_fixtures(loopback_server: LoopbackServer, store: RawStore) -> None:
    corr = json.loads((KLASS_FILES / "correspondences.json").read_text(encoding="utf-8"))[
        "131->128"
    ]
    in_2020 = {
        r["sourceCode"]: r["targetCode"]
        for r in corr
        if r["validFrom"] < "2024-01-01" and (r["validTo"] is None or r["validTo"] > "2020-01-01")
    }
    frame = live.centrality_codes_from_klass(klass_client(loopback_server), 2020, store=store)
    level2 = frame[frame["level"] == "2"]
    assert dict(zip(level2["code"], level2["parentCode"], strict=True)) == in_2020
    assert frame.loc[frame["level"] == "1", "code"].tolist() == [f"0{k}" for k in range(1, 7)]


def test_centrality_unknown_edition_lists_the_editions(store: RawStore) -> None:
    srv = klass_server()
    try:
        with pytest.raises(UnknownEditionError, match=r"2019.*\[2018, 2020, 2024, 2026\]"):
            live.centrality_codes_from_klass(klass_client(srv), 2019, store=store)
    finally:
        srv.stop()


def test_centrality_offline_reads_the_newest_stored_vintage(store: RawStore) -> None:
    srv = klass_server()
    try:
        client = klass_client(srv)
        first = live.centrality_codes_from_klass(client, 2024, store=store)
        stored = stored_bodies(store, "klass", "128-codes")
        direct = LoopbackOnlySession().get(
            f"{srv.klass_url}/classifications/128/codes",
            params={"from": "2024-01-01", "to": "2026-01-01"},
            headers={"Accept": "application/json"},
            timeout=(2, 5),
        )
        assert stored == [direct.content]  # the body byte for byte
        folders = lambda: sorted((store.root / "klass" / "128-codes").iterdir())  # noqa: E731
        live.centrality_codes_from_klass(client, 2024, store=store)
        assert len(folders()) == 1  # same body: no second vintage
        # KLASS revises an index: a new vintage, and offline serves that newer one
        items = srv.klass["classifications"]["128"]["items"]
        for item in items:
            if item["code"] == "4001" and item["validFrom"] == "2024-01-01":
                item["notes"] = "761"
        live.centrality_codes_from_klass(client, 2024, store=store)
        assert len(folders()) == 2
        srv.reset()
        offline = live.centrality_codes_from_klass(None, 2024, store=store, offline=True)
        assert srv.requests == []
    finally:
        srv.stop()
    assert offline.set_index("code").loc["4001", "notes"] == "761"
    assert first.set_index("code").loc["4001", "notes"] == "760"
    assert offline.attrs["provenance"]["source"] == "raw store"
    assert live.available_editions(None, store=store, offline=True) == [2018, 2020, 2024, 2026]


def test_klass_offline_from_the_client_setting(store: RawStore) -> None:
    srv = klass_server()
    try:
        live.centrality_codes_from_klass(klass_client(srv), 2020, store=store)
        srv.reset()
        offline_client = KlassClient(srv.klass_url, session=LoopbackOnlySession(), offline=True)
        frame = live.centrality_codes_from_klass(offline_client, 2020, store=store)
        assert srv.requests == []
    finally:
        srv.stop()
    assert frame.attrs["provenance"]["source"] == "raw store"


def test_klass_offline_with_nothing_stored(store: RawStore) -> None:
    with pytest.raises(OfflineDataMissing, match="128-classification"):
        live.centrality_codes_from_klass(None, 2024, store=store, offline=True)
    with pytest.raises(OfflineDataMissing, match="131-codesAt"):
        live.history_inputs_from_klass(None, 2008, store=store, offline=True)


# ---- KLASS 131 / 104 history inputs ------------------------------------------------------------


def test_history_inputs_round_trip(store: RawStore) -> None:
    from regionstats.regions.crosswalk import build_history

    srv = klass_server()
    try:
        changes, lists = live.history_inputs_from_klass(klass_client(srv), 2015, 2026, store=store)
    finally:
        srv.stop()
    assert list(changes.columns) == ["oldCode", "oldName", "newCode", "newName", "changeOccurred"]
    assert list(lists.columns) == ["code", "name", "year"]
    assert changes.map(lambda v: isinstance(v, str)).all().all()
    want_lists = code_lists(range(2015, 2027)).sort_values(["year", "code"], ignore_index=True)
    pd.testing.assert_frame_equal(lists, want_lists, check_dtype=False)
    want_changes = CHANGES.sort_values(["changeOccurred", "oldCode", "newCode"], ignore_index=True)
    pd.testing.assert_frame_equal(changes, want_changes)
    history = build_history(changes, lists)  # checks the lists against the changes, year by year
    assert history.codes[2024] == frozenset(lists.loc[lists["year"] == 2024, "code"])
    assert changes.attrs["provenance"]["vintage"] == "2025-01-02T10:00:00.000+0000"
    assert (
        "/classifications/131/changes?from=2015-01-01&to=2027-01-01"
        in (changes.attrs["provenance"]["location"])
    )


def test_history_on_the_file_fixture_drops_9999(
    loopback_server: LoopbackServer, store: RawStore
) -> None:
    doc = json.loads((KLASS_FILES / "131.json").read_text(encoding="utf-8"))
    changes, lists = live.history_inputs_from_klass(
        klass_client(loopback_server), 2017, 2024, store=store
    )
    for year in range(2017, 2025):
        day = f"{year}-01-01"
        want = {
            i["code"]
            for i in doc["items"]
            if i["validFrom"] <= day and (i["validTo"] is None or i["validTo"] > day)
        } - {"9999"}
        assert set(lists.loc[lists["year"] == year, "code"]) == want, year
    in_range = [c for c in doc["changes"] if "2017-01-01" <= c["changeOccurred"] < "2025-01-01"]
    assert len(changes) == len(in_range)
    assert set(zip(changes["oldCode"], changes["newCode"], strict=True)) == {
        (c["oldCode"], c["newCode"]) for c in in_range
    }
    # one codesAt call per year, one changes call, one classification call
    paths = [r.path.rsplit("/", 1)[-1] for r in loopback_server.requests]
    assert paths.count("codesAt") == 8 and paths.count("changes") == 1


def test_history_offline_cuts_a_wider_vintage(store: RawStore) -> None:
    srv = klass_server()
    try:
        wide_changes, wide_lists = live.history_inputs_from_klass(
            klass_client(srv), 2015, 2026, store=store
        )
        srv.reset()
        changes, lists = live.history_inputs_from_klass(None, 2018, 2022, store=store, offline=True)
        default_changes, default_lists = live.history_inputs_from_klass(
            None, 2016, store=store, offline=True
        )
        assert srv.requests == []
    finally:
        srv.stop()
    assert sorted(lists["year"].unique()) == list(range(2018, 2023))
    pd.testing.assert_frame_equal(
        lists,
        wide_lists[wide_lists["year"].between(2018, 2022)].reset_index(drop=True),
    )
    assert changes["changeOccurred"].between("2018-01-01", "2022-12-31").all()
    assert len(changes) == 5  # 2018 and 2020, not 2024
    assert changes.attrs["provenance"]["source"] == "raw store"
    assert default_lists["year"].max() == 2026 and default_lists["year"].min() == 2016
    assert default_changes.attrs["last_year"] == 2026
    with pytest.raises(OfflineDataMissing):
        live.history_inputs_from_klass(None, 2010, 2020, store=store, offline=True)


def test_county_history_on_the_file_fixture(
    loopback_server: LoopbackServer, store: RawStore
) -> None:
    doc = json.loads((KLASS_FILES / "104.json").read_text(encoding="utf-8"))
    changes, lists = live.county_history_from_klass(
        klass_client(loopback_server), 2019, 2024, store=store
    )
    assert lists["code"].str.fullmatch(r"\d{2}").all()
    assert set(lists.loc[lists["year"] == 2020, "code"]) == {
        i["code"]
        for i in doc["items"]
        if i["validFrom"] <= "2020-01-01" and (i["validTo"] is None or i["validTo"] > "2020-01-01")
    }
    assert set(changes["changeOccurred"]) == {"2020-01-01", "2024-01-01"}
    assert (store.root / "klass" / "104-changes").is_dir()


@pytest.mark.snapshot
def test_klass_frames_have_the_snapshot_readers_shapes(snapshot_dir: Path, store: RawStore) -> None:
    from regionstats.sources.regions_files import offline_history_inputs, read_centrality_codes

    snap_codes = read_centrality_codes(snapshot_dir)
    snap_changes, snap_lists = offline_history_inputs(snapshot_dir)
    srv = klass_server()
    try:
        client = klass_client(srv)
        codes = live.centrality_codes_from_klass(client, 2024, store=store)
        changes, lists = live.history_inputs_from_klass(client, 2015, 2026, store=store)
    finally:
        srv.stop()
    assert list(codes.columns) == list(snap_codes.columns)
    assert set(codes["level"]) == set(snap_codes["level"]) == {"1", "2"}
    assert list(changes.columns) == list(snap_changes.columns)
    assert list(lists.columns) == list(snap_lists.columns)
    assert str(lists["year"].dtype) == str(snap_lists["year"].dtype)


def test_fixture_builder_keeps_reappearing_codes_apart() -> None:
    frame = pd.DataFrame(
        [("1580", "Haram", 2019), ("1580", "Haram", 2024), ("1580", "Haram", 2025)],
        columns=["code", "name", "year"],
    )
    items = klass_fixtures(municipalities=frame)["classifications"]["131"]["items"]
    assert [(i["validFrom"], i["validTo"]) for i in items] == [
        ("2019-01-01", "2020-01-01"),
        ("2024-01-01", None),
    ]


def test_fixture_tables_are_deterministic() -> None:
    a, b = input_tables(), input_tables()
    codes = {"Region": "0301", "NACE2007": "10-33", "ContentsCode": "SysselsatteArb", "Tid": "2020"}
    assert a["13470"].cell(codes) == b["13470"].cell(codes) == (crc(*codes.values()), None)
    assert a["13470"].cell(codes | {"Region": "4204", "Tid": "2019"}) == (None, ".")


def test_employment_skips_an_earlier_table_that_covers_no_missing_year(store: RawStore) -> None:
    tables = input_tables()
    tables["07984"] = employment_earlier_table(years=range(2016, 2020))
    srv = start(tables)
    try:
        with pytest.warns(live.CoverageWarning, match="2015"):
            frame = live.employment_from_api(online(srv, store))
        assert srv.data_calls("07984") == []  # the metadata showed it would not help
    finally:
        srv.stop()
    assert set(frame["source_table"]) == {"13470"}
    assert "2016-2019" in frame.attrs["skipped_tables"]["07984"]
