"""The data seam on the live path: every statbank table and KLASS served by one loopback server.

The server holds 11713 (the embedded default's real cells), 13470, 07984 and 07459 (synthetic
cells on every municipality of a real code history, 2008-2026), and KLASS 131 and 128 built from
the same history and the real centrality codes. ``load_inputs`` must take each input from the API,
put municipal data on the chosen municipality vintage, and keep national totals. Expected values
are recomputed here from the server's own cell rule, not from the code under test.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import pandas as pd
import pytest
from loopback.clients import go_online_against
from loopback.quarter import quarter_server

import regionstats as rs


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> dict[str, Any]:
    built = quarter_server()
    server, history = built["server"], built["history"]
    server.start()
    base = tmp_path_factory.mktemp("live")
    mp = pytest.MonkeyPatch()
    try:
        go_online_against(
            mp, pxweb_url=server.pxweb_url, klass_url=server.klass_url, nowhere=base / "no-snapshot"
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", rs.InputFallbackWarning)
            inputs = rs.load_inputs(offline=False, data_dir=base / "data")
        mp.setenv("REGIONSTATS_OFFLINE", "1")
        stored = rs.load_inputs(data_dir=base / "data")
    finally:
        mp.undo()
        server.stop()
    return {
        "inputs": inputs,
        "stored": stored,
        "tables": built["tables"],
        "history": history,
        "codes_128": built["codes_128"],
        "warnings": [str(w.message) for w in caught],
    }


def test_every_api_input_comes_from_the_api(live) -> None:
    sources = live["inputs"].sources.set_index("input")["source"]
    for name in (
        "regional accounts (SSB 11713)",
        "employment by workplace (SSB 13470)",
        "population 1 January (SSB 07459)",
        "centrality (KLASS 128)",
        "municipality changes (KLASS 131)",
        "municipality code lists (KLASS 131)",
    ):
        assert sources[name] == "api", name
    # no API publishes the 2020 split weights or (in this version) boundaries
    assert sources["split weights, 2020 reform (FHI)"] == "embedded"
    assert sources["municipality boundaries (Kartverket)"] == "embedded"


def test_an_offline_run_reads_the_same_from_the_raw_store(live) -> None:
    a, b = live["inputs"], live["stored"]
    sources = b.sources.set_index("input")["source"]
    assert sources["population 1 January (SSB 07459)"] == "raw store"
    assert sources["centrality (KLASS 128)"] == "raw store"
    pd.testing.assert_frame_equal(a.population, b.population)
    pd.testing.assert_frame_equal(a.centrality, b.centrality)


def test_centrality_covers_every_municipality_of_the_vintage(live) -> None:
    history, codes = live["history"], live["codes_128"]
    table = live["inputs"].centrality
    assert set(table["region"]) == set(history.codes[2024])
    level2 = codes[(codes["level"] == "2") & codes["code"].isin(history.codes[2024])]
    expected = level2["parentCode"].astype(int).value_counts().sort_index()
    got = table["centrality_class"].value_counts().sort_index()
    assert got.tolist() == expected.tolist()


def _served_population(tables, year: int) -> float:
    """Sum over the server's municipal cells of one year, sexes and ages (Oslo aside)."""
    cube = tables["07459"]
    dims = {d.code: d.codes for d in cube.dims}
    total = 0.0
    for region, sex, age in itertools.product(dims["Region"], dims["Kjonn"], dims["Alder"]):
        if len(region) != 4 or region == "0301":
            continue
        value, _status = cube.cell(
            {"Region": region, "Kjonn": sex, "Alder": age, "ContentsCode": "Personer1",
             "Tid": str(year)}
        )  # fmt: skip
        total += value or 0.0
    return total


@pytest.mark.parametrize("year", [2008, 2019, 2020, 2024])
def test_population_on_2024_municipalities_keeps_the_national_total(live, year) -> None:
    pop = live["inputs"].population
    assert pop.attrs["region_vintage"] == 2024
    assert set(pop["region"]) == set(live["history"].codes[2024])
    ours = pop[(pop["year"] == year) & (pop["region"] != "0301")]["value"].sum()
    assert ours == pytest.approx(_served_population(live["tables"], year), rel=1e-12)


def test_the_2024_split_is_apportioned_by_the_parts_population(live) -> None:
    pop = live["inputs"].population.set_index(["region", "year"])["value"]
    audit = live["inputs"].population.attrs["audit"]
    split = audit[(audit["region"] == "1507") & (audit["kind"] == "split")]
    assert set(split["target"]) == {"1508", "1580"}
    share = split.set_index("target")["share"]
    assert share["1508"] == pytest.approx(
        pop[("1508", 2024)] / (pop[("1508", 2024)] + pop[("1580", 2024)])
    )


def test_employment_is_on_the_vintage_with_every_municipality(live) -> None:
    emp = live["inputs"].employment
    assert emp.attrs["region_vintage"] == 2024
    total = emp[(emp["industry"] == "TOTAL") & (emp["year"] == 2024)]
    assert set(total["region"]) == set(live["history"].codes[2024])
    assert emp.attrs.get("breaks")


def test_class_estimates_run_nationwide_on_the_live_inputs(live) -> None:
    """With every municipality served live, the class estimate covers the whole mainland over a
    ten-year window, and its national average is the counties' own sum excluding finance."""
    inputs = live["inputs"]
    emp = inputs.employment
    cty = rs.municipality_counties(sorted(set(emp["region"])), 2024, history=inputs.history)
    out = rs.class_estimates(inputs.accounts, emp, inputs.centrality, cty, sensitivity=False)
    s = out["summary"]
    assert s["years"] == 10 and s["window"] == (2009, 2019)
    # the 18 mainland accounts counties (Trøndelag as one, "50")
    assert len(s["counties"]) == 18 and "50" in s["counties"] and "16" not in s["counties"]
    assert sum(s["n_municipalities"].values()) == len(set(emp["region"]))
    acc = rs.analysis.merge_trondelag(inputs.accounts)
    va = acc[(acc["measure"] == "value_added") & acc["region"].isin(s["counties"])]
    va = va.groupby(["industry", "year"])["value"].sum()
    expected = (va["TOTAL", 2019] - va["64-66", 2019]) / (va["TOTAL", 2009] - va["64-66", 2009])
    g = out["growth"].set_index(["group", "measure", "price"])["growth"]
    assert g["national", "value_added", "current"] == pytest.approx(expected - 1, rel=1e-9)
