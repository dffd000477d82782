"""Regional accounts on one county structure: exact merges preserve every total."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regionstats.regions.accounts_counties import harmonise_accounts
from regionstats.sources.accounts import regional_accounts


@pytest.fixture(scope="module")
def accounts(snapshot_dir: Path):
    return regional_accounts("snapshot", snapshot=snapshot_dir)


def _va(frame, region, year, industry="TOTAL"):
    hit = frame[
        (frame.region == region)
        & (frame.year == year)
        & (frame.industry == industry)
        & (frame.measure == "value_added")
    ]
    return hit.value.item()


def test_exact_2019_structure_merges_trondelag_and_rindal_move(accounts, code_history) -> None:
    h = harmonise_accounts(accounts, to=2019, exact=True, history=code_history)
    # Rindal moved from Møre og Romsdal (15) to Trøndelag (50) in 2019: the exact common
    # region of 2008-2019 is 15 + 16 + 17 (before 2018) = 15 + 50 (from 2018).
    assert "15+50" in set(h.region)
    assert not {"15", "16", "17", "50"} & set(h.region)
    expected_2010 = (
        _va(accounts, "15", 2010) + _va(accounts, "16", 2010) + _va(accounts, "17", 2010)
    )
    assert _va(h, "15+50", 2010) == expected_2010
    assert _va(h, "15+50", 2019) == _va(accounts, "15", 2019) + _va(accounts, "50", 2019)
    assert _va(h, "0", 2019) == _va(accounts, "0", 2019)
    assert h.region_label[h.region == "15+50"].iloc[0].startswith("Møre og Romsdal + Trøndelag")
    audit = h.attrs["audit"]
    assert {"16", "17"} <= set(audit["region"])


def test_exact_merge_preserves_county_sums_every_year(accounts, code_history) -> None:
    h = harmonise_accounts(accounts, to=2019, exact=True, history=code_history)
    keys = ["industry", "measure", "year"]
    additive = accounts.measure != "value_added_volume_change"  # levels add, percentages do not
    existing = accounts[additive & (accounts.region != "0") & (accounts.status.fillna("") != ".")]
    before = existing.groupby(keys).value.agg(lambda s: s.sum(min_count=len(s)))
    after = (
        h[(h.measure != "value_added_volume_change") & (h.region != "0")]
        .groupby(keys)
        .value.agg(lambda s: s.sum(min_count=len(s)))
    )
    complete = before.notna()
    assert complete.sum() > 1000
    # where no county cell is missing, the merged groups add up to the same totals
    assert np.allclose(before[complete], after[complete].reindex(before[complete].index))
    # and where a part is missing before, the merged frame has no number either
    assert after[~complete.reindex(after.index, fill_value=True)].isna().all()


def test_suppressed_part_makes_group_suppressed(accounts, code_history) -> None:
    h = harmonise_accounts(accounts, to=2019, exact=True, history=code_history)
    parts = accounts[
        accounts.region.isin(["15", "16", "17"])
        & (accounts.measure == "value_added")
        & (accounts.year == 2010)
    ]
    suppressed = set(parts.loc[parts.status == ":", "industry"])
    assert suppressed, "the snapshot has suppressed cells for these counties"
    industry = sorted(suppressed)[0]
    row = h[
        (h.region == "15+50")
        & (h.year == 2010)
        & (h.industry == industry)
        & (h.measure == "value_added")
    ]
    assert row.status.item() == ":" and np.isnan(row.value.item())


def test_volume_change_of_a_merged_group_is_weighted_by_previous_year_value_added(
    accounts, code_history
) -> None:
    h = harmonise_accounts(accounts, to=2019, exact=True, history=code_history)

    def cell(frame, region, year, measure):
        row = frame[
            (frame.region == region)
            & (frame.year == year)
            & (frame.industry == "TOTAL")
            & (frame.measure == measure)
        ]
        return row.value.item()

    parts = ["15", "16", "17"]
    weights = [cell(accounts, r, 2009, "value_added") for r in parts]
    changes = [cell(accounts, r, 2010, "value_added_volume_change") for r in parts]
    expected = sum(w * v for w, v in zip(weights, changes, strict=True)) / sum(weights)
    got = cell(h, "15+50", 2010, "value_added_volume_change")
    assert got == pytest.approx(expected, rel=1e-12)
    assert min(changes) < got < max(changes)
    # a county that is not merged keeps SSB's published change
    assert cell(h, "03", 2015, "value_added_volume_change") == pytest.approx(
        cell(accounts, "03", 2015, "value_added_volume_change"), rel=1e-12
    )
    # no helper measures leak out
    assert set(h.measure) == set(accounts.measure)


def test_merge_trondelag_aggregates_the_volume_change_at_previous_year_prices():
    import pandas as pd
    import pytest

    from regionstats.regions.accounts_counties import merge_trondelag

    rows = [
        # Sør-Trøndelag 100 in 2010, +10 % in 2011; Nord-Trøndelag 300, -2 %
        ("16", "TOTAL", "value_added", 2010, 100.0, pd.NA),
        ("16", "TOTAL", "value_added", 2011, 120.0, pd.NA),
        ("17", "TOTAL", "value_added", 2010, 300.0, pd.NA),
        ("17", "TOTAL", "value_added", 2011, 290.0, pd.NA),
        ("16", "TOTAL", "value_added_volume_change", 2011, 10.0, pd.NA),
        ("17", "TOTAL", "value_added_volume_change", 2011, -2.0, pd.NA),
        ("50", "TOTAL", "value_added", 2010, float("nan"), "."),
        ("50", "TOTAL", "value_added", 2011, float("nan"), "."),
        ("50", "TOTAL", "value_added_volume_change", 2011, float("nan"), "."),
    ]
    acc = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value", "status"])
    acc["status"] = acc["status"].astype("string")
    out = merge_trondelag(acc).set_index(["region", "measure", "year"])["value"]
    # (100 * 1.10 + 300 * 0.98) / 400 - 1 = (110 + 294) / 400 - 1 = +1 %
    assert out["50", "value_added_volume_change", 2011] == pytest.approx(1.0)
    assert out["50", "value_added", 2011] == pytest.approx(410.0)
