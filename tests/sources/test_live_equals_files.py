"""Table 11713: the live path (PxWebApi 2.0 -> Fetcher -> normalise_11713) gives the file path's
frame (statbank xlsx export + workbook: ``regional_accounts("snapshot")``) cell for cell.

The snapshot's cells are served by the loopback server (127.0.0.1 only) in the real v2 shape
(:func:`loopback.from_frames.dims_11713`: ``Region`` with SSB's county codes, industry and
measure value codes that differ from regionstats' own, ``Tid`` with role time, units), and the
county-years that did not exist (Trøndelag 50 before 2018, Sør-/Nord-Trøndelag 16/17 in 2018-2019)
as a v2 server plausibly sends them: a ``null`` value with no status, or the symbol ``"."``; also
as the statbank export writes them (0). The file path marks them ``"."``; the live path must too.
The second path (the file readers) is the expectation: nothing here is copied from the code under
test. Skipped without the offline snapshot.

A small hand-made table (no snapshot needed) checks the same with dimension ids that are neither
SSB's nor regionstats' (``Fylke`` without role geo, ``Bransje`` labelled *næring*).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loopback import LoopbackOnlySession, LoopbackServer, ServerSettings
from loopback.from_frames import CONTENTS_LABELS_11713, FrameDim, cube_from_frame, dims_11713

from regionstats.sources.accounts import normalise_11713, regional_accounts
from regionstats.sources.fetch import Fetcher
from regionstats.sources.pxwebapi import PxWebApi
from regionstats.sources.store import RawStore

KEYS = ["region", "industry", "measure", "year"]
COLUMNS = [*KEYS, "value", "status"]
UPDATED = "2021-12-13T07:00:00Z"


@pytest.fixture(scope="module")
def file_frame(snapshot_dir: Path) -> pd.DataFrame:
    """The file path's 11713 frame (the snapshot's statbank export and workbook)."""
    return regional_accounts("snapshot", snapshot=snapshot_dir)


def served_frame(files: pd.DataFrame, dead_as: str) -> pd.DataFrame:
    """The cells a v2 server would send: the file path's, with its ``"."`` cells (the county-years
    that did not exist) as ``null`` without status, as ``"."``, or as 0 (the export's way)."""
    served = files.copy()
    dead = (served["status"] == ".").fillna(False).to_numpy()
    assert dead.sum() == 14 * 42 * 5  # 14 county-years x 42 industries x 5 measures
    if dead_as == "null":
        served.loc[dead, "value"] = np.nan
        served.loc[dead, "status"] = pd.NA
    elif dead_as == "zero":
        served.loc[dead, "value"] = 0.0
        served.loc[dead, "status"] = pd.NA
    else:
        assert dead_as == "dot"
    return served


@pytest.fixture(autouse=True)
def online_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project conftest sets REGIONSTATS_OFFLINE=1 for notebooks; this test goes online to
    127.0.0.1 only (the client's session refuses any other host)."""
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)


def whitespace(labels: pd.Series) -> list[str]:
    return [" ".join(str(v).split()) for v in labels]


@pytest.mark.snapshot
@pytest.mark.parametrize(
    ("dead_as", "industry_id"),
    [("null", "NACE2007"), ("dot", "NACE2007"), ("zero", "NACE2007"), ("null", "Naering")],
)
def test_live_path_equals_file_path(
    file_frame: pd.DataFrame, tmp_path: Path, dead_as: str, industry_id: str
) -> None:
    served = served_frame(file_frame, dead_as)
    cube = cube_from_frame(
        served,
        dims_11713(served, industry_id=industry_id),
        table_id="11713",
        label="11713: Fylkesfordelt nasjonalregnskap, etter region, næring og år",
        updated=UPDATED,
        subject="nr",
    )
    server = LoopbackServer(tables={"11713": cube}, settings=ServerSettings(max_cells=100_000))
    with server:
        client = PxWebApi(
            server.pxweb_url,
            session=LoopbackOnlySession(),
            timeout=(5, 60),
            max_retries=0,
            offline=False,
        )
        fetcher = Fetcher(client, RawStore(tmp_path / "raw"), offline=False)
        decoded = fetcher.fetch("11713", {"@all": "*"})
        live = normalise_11713(decoded)
        [data_call] = server.data_calls()

    # the ids were discovered from the metadata, not assumed
    assert industry_id in decoded.columns
    resolved = decoded.attrs["resolved_query"]["selection"]
    assert resolved == {"Region": ["*"], industry_id: ["*"], "ContentsCode": ["*"], "Tid": ["*"]}
    assert {k for k, _ in data_call.query if k.lower().startswith("valuecodes")} == {
        f"valuecodes[{d}]" for d in ("Region", industry_id, "ContentsCode", "Tid")
    }
    # the served codes are not regionstats' codes: the reader had to map by label
    assert not set(decoded[industry_id]) & set(file_frame["industry"])
    # the body really carries the county-years as chosen
    body = json.loads(Path(decoded.attrs["raw_path"], "chunk-000.json").read_bytes())
    status = body.get("status") or {}
    nulls = [i for i, v in enumerate(body["value"]) if v is None and str(i) not in status]
    if dead_as == "null":
        assert len(nulls) >= 2940
    if dead_as == "dot":
        assert sum(s == "." for s in status.values()) == 2940 and not nulls
    if dead_as == "zero":
        assert "." not in status.values()

    expected = file_frame.sort_values(KEYS, ignore_index=True)
    got = live.sort_values(KEYS, ignore_index=True)
    assert len(got) == len(expected) == 52_920
    pd.testing.assert_frame_equal(got[COLUMNS], expected[COLUMNS], check_exact=True)
    for column in ("region_label", "industry_label"):
        assert whitespace(got[column]) == whitespace(expected[column]), column
    dead = got[got["status"] == "."]
    assert sorted(set(zip(dead["region"], dead["year"], strict=True))) == (
        [("16", 2018), ("16", 2019), ("17", 2018), ("17", 2019)]
        + [("50", y) for y in range(2008, 2018)]
    )


def test_dimensions_found_by_role_and_label_and_dead_county_years_marked(tmp_path: Path) -> None:
    va = "value_added"
    rows = [  # region, label, industry, industry label, year, value, status
        ("0", "Hele landet", "TOTAL", "Totalt for næringer", 2017, 100.0, None),
        ("0", "Hele landet", "TOTAL", "Totalt for næringer", 2018, 110.0, None),
        ("0", "Hele landet", "10-33", "Industri", 2017, 10.0, None),
        ("0", "Hele landet", "10-33", "Industri", 2018, 11.0, None),
        ("50", "Trøndelag - Trööndelage", "TOTAL", "Totalt for næringer", 2017, None, None),
        ("50", "Trøndelag - Trööndelage", "TOTAL", "Totalt for næringer", 2018, 40.0, None),
        ("50", "Trøndelag - Trööndelage", "10-33", "Industri", 2017, None, None),
        ("50", "Trøndelag - Trööndelage", "10-33", "Industri", 2018, 4.0, None),
        ("16", "Sør-Trøndelag (-2017)", "TOTAL", "Totalt for næringer", 2017, 30.0, None),
        ("16", "Sør-Trøndelag (-2017)", "TOTAL", "Totalt for næringer", 2018, None, ":"),
        ("16", "Sør-Trøndelag (-2017)", "10-33", "Industri", 2017, 3.0, None),
        ("16", "Sør-Trøndelag (-2017)", "10-33", "Industri", 2018, None, ":"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["region", "region_label", "industry", "industry_label", "year", "value", "status"],
    )
    frame["measure"] = va
    dims = [
        FrameDim("region", "Fylke", "region"),  # not "Region": the server gives no role geo
        FrameDim("industry", "Bransje", "næring", codes={"TOTAL": "A", "10-33": "B"}),
        FrameDim(
            "measure",
            "ContentsCode",
            "statistikkvariabel",
            codes={va: "BNP"},
            labels={"BNP": CONTENTS_LABELS_11713[va]},
            units={"BNP": ("mill. kr", 0)},
        ),
        FrameDim("year", "Tid", "år", time=True),
    ]
    cube = cube_from_frame(frame, dims, table_id="11713", label="11713", updated=UPDATED)
    with LoopbackServer(tables={"11713": cube}) as server:
        client = PxWebApi(
            server.pxweb_url,
            session=LoopbackOnlySession(),
            timeout=(2, 5),
            max_retries=0,
            offline=False,
        )
        decoded = Fetcher(client, RawStore(tmp_path / "raw"), offline=False).fetch(
            "11713", {"@all": "*"}
        )
    assert "geo" not in decoded.attrs["role"]
    live = normalise_11713(decoded).set_index(["region", "industry", "year"])
    # worked out by hand: 50 in 2017 (no number, no symbol in its total) and 16 in 2018 (after
    # its label's end year) did not exist; everything else is served as it was
    dead = {("50", i, 2017) for i in ("TOTAL", "10-33")} | {
        ("16", i, 2018) for i in ("TOTAL", "10-33")
    }
    for region, _, industry, _, year, value, _ in rows:
        cell = live.loc[(region, industry, year)]
        assert cell["measure"] == va
        if (region, industry, year) in dead:
            assert cell["status"] == "." and np.isnan(cell["value"]), (region, industry, year)
        else:
            assert cell["value"] == value and pd.isna(cell["status"]), (region, industry, year)
    assert set(live["region_label"]) == {r[1] for r in rows}
