"""Revisions between two releases: hand-made unit cases for every category, and the real newer
11713 release in the snapshot (expected numbers read from the raw CSV files with ``csv``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import raw_national_total

from regionstats.revisions import (
    apply_release,
    compare,
    compare_tables,
    revision_document,
    revision_html,
    revision_markdown,
)

KEYS = ["region", "industry", "year"]


def frame(rows: list[tuple[str, str, int, float | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": pd.array([r[0] for r in rows], dtype="str"),
            "industry": pd.array([r[1] for r in rows], dtype="str"),
            "year": np.array([r[2] for r in rows], dtype="int64"),
            "value": np.array([np.nan if r[3] is None else r[3] for r in rows], dtype="float64"),
            "status": pd.array([r[4] for r in rows], dtype="string"),
        }
    )


OLD = frame(
    [
        ("03", "A", 2019, 100.0, None),
        ("03", "A", 2020, 200.0, None),
        ("03", "B", 2019, 50.0, None),  # becomes suppressed
        ("03", "B", 2020, None, ":"),  # becomes a number
        ("11", "A", 2019, 10.0, None),  # unchanged
        ("11", "A", 2020, 0.0, None),  # from 0: no relative revision
        ("12", "A", 2019, 7.0, None),  # code 12 disappears
        ("12", "A", 2020, 8.0, None),
        ("11", "C", 2020, None, ".."),  # stays '..': not revised
    ]
)
NEW = frame(
    [
        ("03", "A", 2019, 110.0, None),  # +10, +10 %
        ("03", "A", 2020, 150.0, None),  # -50, -25 %
        ("03", "B", 2019, None, ":"),
        ("03", "B", 2020, 60.0, None),
        ("11", "A", 2019, 10.0, None),
        ("11", "A", 2020, 5.0, None),  # +5 from 0
        ("46", "A", 2019, 1.0, None),  # new code 46 (cells in an old period)
        ("03", "A", 2021, 300.0, None),  # new period 2021
        ("11", "C", 2020, None, ".."),
    ]
)


@pytest.fixture(scope="module")
def report():
    return compare(OLD, NEW, KEYS, time_key="year")


def test_revised_cells_and_their_sizes(report) -> None:
    got = {
        (r.region, r.industry, r.year): (r.revision, r.relative_revision, r.kind)
        for r in report.revised.itertuples()
    }
    assert set(got) == {("03", "A", 2019), ("03", "A", 2020), ("03", "B", 2019), ("03", "B", 2020),
                        ("11", "A", 2020)}  # fmt: skip
    assert got[("03", "A", 2019)][:2] == (10.0, 0.1)
    assert got[("03", "A", 2020)][:2] == (-50.0, -0.25)
    rev, rel, kind = got[("11", "A", 2020)]
    assert rev == 5.0 and np.isnan(rel) and kind == "value"  # relative to 0 is undefined


def test_status_changes_count_as_revisions(report) -> None:
    rows = report.revised.set_index(KEYS)
    withdrawn = rows.loc[("03", "B", 2019)]
    assert withdrawn["kind"] == "status"
    assert withdrawn["value_old"] == 50.0 and np.isnan(withdrawn["value_new"])
    assert pd.isna(withdrawn["status_old"]) and withdrawn["status_new"] == ":"
    published = rows.loc[("03", "B", 2020)]
    assert published["status_old"] == ":" and published["value_new"] == 60.0
    assert ("11", "C", 2020) not in rows.index  # '..' both times: no revision


def test_sorted_largest_first_and_summary(report) -> None:
    assert report.revised.iloc[0][KEYS].tolist() == ["03", "A", 2020]  # |-50| is the largest
    s = report.summary()
    assert s["revised"] == 5 and s["revised_value"] == 3 and s["revised_status"] == 2
    assert s["median_abs_revision"] == 10.0  # median of |10|, |-50|, |5|
    assert s["median_abs_relative_revision"] == pytest.approx(0.175)  # of 0.10 and 0.25
    assert s["largest_abs_revision"]["revision"] == -50.0
    assert s["largest_relative_revision"]["year"] == 2020


def test_new_periods_cells_and_codes(report) -> None:
    assert report.new_periods == [2021]
    assert report.removed_periods == []
    assert report.codes_appeared == {"region": ["46"], "industry": []}
    assert report.codes_disappeared == {"region": ["12"], "industry": []}
    new = {tuple(r) for r in report.new_cells[KEYS].itertuples(index=False)}
    assert new == {("46", "A", 2019), ("03", "A", 2021)}
    removed = {tuple(r) for r in report.removed_cells[KEYS].itertuples(index=False)}
    assert removed == {("12", "A", 2019), ("12", "A", 2020)}
    assert report.cells_compared == 7 and report.has_changes


def test_identical_releases_have_no_changes() -> None:
    rep = compare(OLD, OLD.sample(frac=1.0, random_state=1), KEYS)  # row order is irrelevant
    assert not rep.has_changes and rep.n_revised == 0
    doc = revision_document({"t": rep}, [], run_id="b", previous_run_id="a")
    assert doc["has_revisions"] is False
    assert "no revisions" in revision_markdown(doc)


def test_duplicate_identities_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate identities"):
        compare(pd.concat([OLD, OLD.head(1)]), NEW, KEYS)


def test_apply_release_replaces_and_extends() -> None:
    release = frame([("03", "A", 2019, 999.0, None), ("54", "A", 2019, 1.0, None)])
    merged = apply_release(OLD, release, KEYS)
    assert len(merged) == len(OLD) + 1
    cell = merged[(merged.region == "03") & (merged.industry == "A") & (merged.year == 2019)]
    assert cell["value"].tolist() == [999.0]
    rep = compare(OLD, merged, KEYS)
    assert rep.n_revised == 1 and rep.codes_appeared["region"] == ["54"]


def test_compare_tables() -> None:
    old = {
        "11713": {"updated": "2024-03-13T07:00:00Z"},
        "07459": {"updated": "2025-02-25T07:00:00Z"},
        "13470": {"updated": "2025-01-01T07:00:00Z"},
        "09999": {"updated": "2020-01-01T00:00:00Z"},
    }
    new = {
        "11713": {"updated": "2025-03-12T07:00:00Z"},
        "07459": {"updated": "2025-02-25T07:00:00+00:00"},  # same instant, other spelling
        "13470": {"updated": None, "status": "discontinued"},
        "12345": {"updated": "2025-01-01T00:00:00Z"},
    }
    changes = {c["table"]: c["change"] for c in compare_tables(old, new)}
    assert changes == {
        "11713": "advanced",
        "07459": "not advanced",
        "13470": "discontinued",
        "09999": "discontinued",
        "12345": "new",
    }


# --------------------------------------------------------------------------------------------
# the real newer 11713 release in the snapshot


@pytest.mark.snapshot
def test_real_revision_of_national_value_added_2019(snapshot_dir: Path) -> None:
    from regionstats.sources.accounts import (
        regional_accounts,
        regional_accounts_revised_extract,
    )

    old_value, new_value = raw_national_total(snapshot_dir, 2019)
    assert (old_value, new_value) == (3_164_843.0, 3_334_714.0)  # the brief's figures
    keys = ["region", "industry", "measure", "year"]
    rep = compare(
        regional_accounts("snapshot", snapshot=snapshot_dir),
        regional_accounts_revised_extract(snapshot_dir),
        keys,
    )
    rows = rep.revised.set_index(keys)
    cell = rows.loc[("0", "TOTAL", "value_added", 2019)]
    assert cell["revision"] == new_value - old_value == 169_871.0
    assert cell["relative_revision"] == pytest.approx((new_value - old_value) / old_value)
    # every year 2011-2019 of the national total was revised, each by the raw files' difference
    for year in range(2011, 2020):
        o, n = raw_national_total(snapshot_dir, year)
        assert rows.loc[("0", "TOTAL", "value_added", year), "revision"] == n - o
    assert rep.new_periods == [2020, 2021, 2022, 2023]
    assert {"30", "34", "38", "42", "46", "54"} <= set(rep.codes_appeared["region"])
    doc = revision_document({"regional_accounts": rep}, [], run_id="b", previous_run_id="a")
    top = doc["datasets"]["regional_accounts"]["top_revisions"][0]
    assert (top["region"], top["industry"], top["year"], top["revision"]) == (
        "0",
        "TOTAL",
        2019,
        169_871.0,
    )
    assert "region=0, industry=TOTAL, measure=value_added, year=2019" in revision_markdown(doc)
    assert "169,871" in revision_html(doc)
