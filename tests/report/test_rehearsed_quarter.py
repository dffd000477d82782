"""A rehearsed quarter: ``regionstats update`` online against one loopback server that serves every
input (11713, 13470, 07984, 07459, KLASS 131 and 128) in the real API shapes, with no snapshot;
then the server publishes a new release of 11713 and the next update reports it.

The new release is made up (:func:`loopback.quarter.new_release`: 2019 value added doubled, 2020
a copy of 2019), so the expected revisions are known without the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from loopback.clients import go_online_against
from loopback.quarter import accounts_cube, new_release, publish, quarter_server

import regionstats as rs
from regionstats.pipeline import update


@pytest.fixture(scope="module")
def quarter(tmp_path_factory) -> dict[str, Any]:
    built = quarter_server()
    server = built["server"]
    server.start()
    url = server.pxweb_url
    base = tmp_path_factory.mktemp("quarter")
    mp = pytest.MonkeyPatch()
    try:
        go_online_against(
            mp, pxweb_url=server.pxweb_url, klass_url=server.klass_url, nowhere=base / "no-snapshot"
        )
        common = {"offline": False, "data_dir": base / "data", "snapshot": None}
        first = update(base / "out", **common)
        publish(server, accounts_cube(new_release(built["accounts"]), "2026-03-12T07:00:00Z"))
        second = update(base / "out", **common)
    finally:
        mp.undo()
        server.stop()
    return {"first": first, "second": second, "url": url, **built}


def test_the_first_quarter_builds_the_report_from_the_api(quarter) -> None:
    first = quarter["first"]
    assert first.report.is_file()
    manifest = json.loads(first.manifest_path.read_text(encoding="utf-8"))
    kinds = {i["dataset"]: i["kind"] for i in manifest["inputs"]}
    for name in (
        "employment by workplace (SSB 13470)",
        "population 1 January (SSB 07459)",
        "centrality (KLASS 128)",
    ):
        assert kinds[name] in ("api", "raw store"), name
    assert manifest["tables"]["11713"]["url"].startswith(quarter["url"])


def test_centrality_classes_cover_every_municipality_the_server_holds(quarter) -> None:
    first = quarter["first"]
    inputs = rs.load_inputs(processed=first.out_dir / "runs" / first.run_id / "inputs")
    assert set(inputs.centrality["region"]) == set(quarter["history"].codes[2024])
    assert set(inputs.population["region"]) == set(quarter["history"].codes[2024])


def test_the_next_quarter_reports_the_new_period_and_the_revised_cells(quarter) -> None:
    accounts = quarter["accounts"]
    cells = accounts[(accounts["year"] == 2019) & (accounts["measure"] == "value_added")].dropna(
        subset=["value"]
    )
    revised = int((cells["value"] != 0).sum())  # doubling a 0 revises nothing
    rev = quarter["second"].revisions
    changes = {t["table"]: t["change"] for t in rev["tables"]}
    assert changes["11713"] == "advanced"
    d = rev["datasets"]["regional_accounts"]
    assert d["new_periods"] == [2020]
    assert d["revised_value"] == revised
    # the revision of a doubled cell is its old value
    assert d["median_abs_revision"] == pytest.approx(
        cells.loc[cells["value"] != 0, "value"].abs().median()
    )
