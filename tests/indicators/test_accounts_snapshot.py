"""Indicators on the real snapshot, checked against the raw statbank export rows.

The expected numbers are computed here from the snapshot's CSV conversion of the statbank export
(``ssb_11713/ssb11713_fylke_naering_2008-2019_bp_syss_from_statbank_export.csv``), read with the
standard library, independently of the project's readers.
"""

from __future__ import annotations

import csv
import math

import pandas as pd
import pytest

from regionstats.indicators import SCOPES, employment, productivity, value_added
from regionstats.sources.ssb_quirks import TOP_LEVEL_INDUSTRIES

pytestmark = pytest.mark.snapshot

EXPORT_CSV = "ssb_11713/ssb11713_fylke_naering_2008-2019_bp_syss_from_statbank_export.csv"


@pytest.fixture(scope="module")
def raw_rows(snapshot_dir):
    """{(region label prefix, industry label, year): (value added, employed)} as strings."""
    rows = {}
    with open(snapshot_dir / EXPORT_CSV, encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            code = rec["region"].split(" ", 1)[0]
            label = rec["naering"].lstrip("¬").strip()
            rows[(code, label, int(rec["aar"]))] = (
                rec["bruttoprodukt_basisverdi_lopende_mill_kr"],
                rec["sysselsatte_1000_personer"],
            )
    return rows


def test_oslo_2019_productivity_in_nok_per_person(real_accounts, raw_rows):
    va, emp = raw_rows[("03", "Totalt for næringer", 2019)]
    expected = float(va) * 1_000_000 / (float(emp) * 1_000)  # NOK million / (1000 persons)
    out = productivity(real_accounts, scope="all", price="current")
    row = out[(out["region"] == "03") & (out["year"] == 2019)]
    assert len(row) == 1
    assert row["value"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert 500_000 < row["value"].iloc[0] < 3_000_000  # plausibly NOK, not NOK million
    assert out.attrs["units"].startswith("NOK per employed person")


def test_top_level_industries_sum_to_total(real_accounts):
    va = real_accounts[real_accounts["measure"] == "value_added"]
    top = va[va["industry"].isin(TOP_LEVEL_INDUSTRIES)]
    assert top["industry"].nunique() == 24
    checked = 0
    for (region, year), part in top.groupby(["region", "year"]):
        if part["value"].isna().any():
            continue
        total = va[(va["region"] == region) & (va["year"] == year) & (va["industry"] == "TOTAL")]
        # published figures are rounded to whole NOK million: allow 1 per part
        assert part["value"].sum() == pytest.approx(total["value"].iloc[0], abs=24), (region, year)
        checked += 1
    assert checked > 100


def _national_2019(raw_rows, label):
    return float(raw_rows[("0", label, 2019)][0])


def test_scopes_national_2019_from_raw_rows(real_accounts, raw_rows):
    n = lambda label: _national_2019(raw_rows, label)  # noqa: E731
    total = n("Totalt for næringer")
    gov = n("Statsforvaltning") + n("Kommuneforvaltning")
    dwell = n("Boligtjenester, egen bolig")
    fin = n("Finansierings- og forsikringsvirksomhet")
    pet = n("Utvinning av råolje og naturgass, inkl. tjenester") + n("Rørtransport")
    expected = {
        "all": total,
        "business": total - gov - dwell,
        "business_excl_finance": total - gov - dwell - fin,
        "excl_petroleum": total - pet,
        "business_excl_finance_petroleum": total - gov - dwell - fin - pet,
    }
    assert set(expected) == set(SCOPES)
    for name, value in expected.items():
        out = value_added(real_accounts, name)
        got = out[(out["region"] == "0") & (out["year"] == 2019)]["value"].iloc[0]
        assert got == pytest.approx(value, abs=1e-6), name


def test_trondelag_before_2018_is_not_applicable(real_accounts):
    out = productivity(real_accounts, scope="business_excl_finance")
    old = out[(out["region"] == "50") & (out["year"] < 2018)]
    assert len(old) == 10
    assert old["value"].isna().all() and (old["status"] == ".").all()


def test_employment_scope_leaves_out_dwellings(real_accounts, raw_rows):
    emp = employment(real_accounts, "business")
    got = emp[(emp["region"] == "08") & (emp["year"] == 2015)]["value"].iloc[0]
    e = lambda label: float(raw_rows[("08", label, 2015)][1])  # noqa: E731
    expected = e("Totalt for næringer") - e("Statsforvaltning") - e("Kommuneforvaltning")
    assert got == pytest.approx(expected)
    assert not math.isnan(got)


def test_volume_productivity_equals_current_in_base_year(real_accounts):
    cur = productivity(real_accounts, "all", "current").set_index(["region", "year"])["value"]
    vol = productivity(real_accounts, "all", "volume", base_year=2015)
    vol = vol.set_index(["region", "year"])["value"]
    assert vol.loc[("03", 2015)] == pytest.approx(cur.loc[("03", 2015)])
    assert vol.loc[("03", 2016)] != pytest.approx(cur.loc[("03", 2016)])
    assert isinstance(vol.index, pd.MultiIndex)
