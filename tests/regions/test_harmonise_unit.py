"""Unit tests of harmonise on a hand-made toy country (tests/fixtures/regions).

Toy reform of 1 January 2020: 0101 -> 3001 (renumbered); 0102 + 0103 -> 3002 (merged);
0104 -> 3003 + 3004 (split). Expected values are worked out by hand below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regionstats.regions import (
    DuplicateRegionError,
    MissingWeightsError,
    UnknownCodeError,
    build_history,
    crosswalk,
    harmonise,
)


def _frame(values, statuses=None, year=2019):
    codes = ["0101", "0102", "0103", "0104"]
    status = statuses or [pd.NA] * 4
    return pd.DataFrame(
        {
            "region": pd.array(codes, dtype="str"),
            "year": [year] * 4,
            "value": np.array(values, dtype=float),
            "status": pd.array(status, dtype="string"),
        }
    )


@pytest.fixture()
def toy_weights():
    # population of the successors in 2019, the year before the split: 3003 has 1, 3004 has 3
    w = pd.DataFrame({"region": ["3003", "3004"], "year": [2019, 2019], "weight": [1.0, 3.0]})
    w.attrs["weight_basis"] = "population 2019"
    return w


def test_history_from_changes(toy_history):
    assert toy_history.codes[2020] == {"3001", "3002", "3003", "3004"}
    assert "valid -2019" in toy_history.validity("0104")


def test_merge_sums_and_split_weights(toy_history, toy_weights):
    out = harmonise(
        _frame([10, 20, 30, 40]), "municipality", 2020, weights=toy_weights, history=toy_history
    )
    got = dict(zip(out["region"], out["value"], strict=True))
    # 3001 = 10; 3002 = 20 + 30; 3003 = 40 * 1/4; 3004 = 40 * 3/4
    assert got == {"3001": 10.0, "3002": 50.0, "3003": 10.0, "3004": 30.0}
    assert out["value"].sum() == 100.0
    assert out.attrs["region_vintage"] == 2020


def test_split_without_weights_is_an_error(toy_history):
    with pytest.raises(MissingWeightsError, match="0104"):
        harmonise(_frame([10, 20, 30, 40]), "municipality", 2020, history=toy_history)


def test_exact_merges_split_into_coarsest_region(toy_history):
    out = harmonise(_frame([10, 20, 30, 40]), "municipality", 2020, exact=True, history=toy_history)
    got = dict(zip(out["region"], out["value"], strict=True))
    assert got == {"3001": 10.0, "3002": 50.0, "3003+3004": 40.0}


def test_suppressed_part_makes_aggregate_suppressed(toy_history, toy_weights):
    frame = _frame([10, np.nan, 30, 40], [pd.NA, ":", pd.NA, pd.NA])
    out = harmonise(frame, "municipality", 2020, weights=toy_weights, history=toy_history)
    row = out.set_index("region").loc["3002"]
    assert row["status"] == ":" and np.isnan(row["value"])
    assert pd.isna(out.set_index("region").loc["3001", "status"])


def test_audit_lists_each_move(toy_history, toy_weights):
    out = harmonise(
        _frame([10, 20, 30, 40]), "municipality", 2020, weights=toy_weights, history=toy_history
    )
    audit = out.attrs["audit"].set_index(["region", "target"])
    assert audit.loc[("0101", "3001"), "kind"] == "renumbered"
    assert audit.loc[("0102", "3002"), "kind"] == "merged"
    assert audit.loc[("0104", "3003"), "kind"] == "split"
    assert audit.loc[("0104", "3003"), "share"] == 0.25
    assert audit.loc[("0104", "3004"), "value_moved"] == 30.0
    assert audit.loc[("0104", "3004"), "weight_basis"] == "population 2019"
    assert audit.loc[("0104", "3004"), "weight_year"] == 2019
    assert len(audit) == 5


def test_split_totals_exact_with_awkward_weights(toy_history):
    w = pd.DataFrame({"region": ["3003", "3004"], "weight": [1.0, 2.0]})
    frame = _frame([0.1, 0.2, 0.3, 0.7])
    out = harmonise(frame, "municipality", 2020, weights=w, history=toy_history)
    parts = out.set_index("region")["value"]
    assert parts["3003"] + parts["3004"] == 0.7


def test_unknown_code_names_validity(toy_history):
    frame = _frame([1, 2, 3, 4], year=2020)
    with pytest.raises(UnknownCodeError, match=r"'0101' is not valid in 2020.*valid -2019"):
        harmonise(frame, "municipality", 2020, history=toy_history)


def test_duplicate_input_is_an_error(toy_history):
    frame = pd.concat([_frame([1, 2, 3, 4]), _frame([1, 2, 3, 4]).iloc[:1]], ignore_index=True)
    with pytest.raises(DuplicateRegionError):
        harmonise(frame, "municipality", 2020, history=toy_history)


def test_backwards_merge_is_a_split(toy_history):
    frame = pd.DataFrame(
        {"region": pd.array(["3002"], dtype="str"), "year": [2020], "value": [50.0],
         "status": pd.array([pd.NA], dtype="string")}
    )  # fmt: skip
    with pytest.raises(MissingWeightsError, match="3002"):
        harmonise(frame, "municipality", 2019, history=toy_history)
    w = pd.DataFrame({"region": ["0102", "0103"], "year": [2019, 2019], "weight": [2.0, 3.0]})
    out = harmonise(frame, "municipality", 2019, weights=w, history=toy_history)
    assert dict(zip(out["region"], out["value"], strict=True)) == {"0102": 20.0, "0103": 30.0}


def test_crosswalk_rows(toy_history):
    cw = crosswalk(toy_history, 2020, years=[2019])
    split = cw[cw["region"] == "0104"]
    assert sorted(split["target"]) == ["3003", "3004"] and split["weight"].isna().all()
    assert cw.loc[cw["region"] == "0103", "weight"].item() == 1.0


def test_klass_codes_range_to_code_lists_and_labels():
    from regionstats.regions import parse_region_label
    from regionstats.regions.crosswalk import code_lists_from_klass_codes

    # KLASS codes?from=2018-01-01&to=2021-01-01 rows: 'to' is exclusive
    codes = pd.DataFrame(
        {
            "code": ["0104", "3003"],
            "name": ["Dby", "Dnord"],
            "validFromInRequestedRange": ["2018-01-01", "2020-01-01"],
            "validToInRequestedRange": ["2020-01-01", None],
        }
    )
    lists = code_lists_from_klass_codes(codes, 2018, 2020)
    assert sorted(zip(lists["code"], lists["year"], strict=True)) == [
        ("0104", 2018),
        ("0104", 2019),
        ("3003", 2020),
    ]
    assert parse_region_label("01 Østfold (-2019)") == ("01", "Østfold (-2019)")
    assert parse_region_label("0 Hele landet") == ("0", "Hele landet")
    assert parse_region_label("50 Trøndelag - Trööndelage")[0] == "50"


def test_harmonised_frames_can_be_concatenated(toy_history, toy_weights):
    a = harmonise(
        _frame([1, 2, 3, 4]), "municipality", 2020, weights=toy_weights, history=toy_history
    )
    b = harmonise(
        _frame([5, 6, 7, 8]), "municipality", 2020, weights=toy_weights, history=toy_history
    )
    both = pd.concat([a, b], ignore_index=True)  # attrs hold an audit: must not raise
    assert len(both) == 8


def test_snake_case_klass_client_frames(fixtures_dir):
    """KlassClient frames: snake_case columns, datetime dates (NaT = open)."""
    from regionstats.regions.crosswalk import code_lists_from_klass_codes

    changes = pd.read_csv(
        fixtures_dir / "regions" / "klass131_changes_small.csv", dtype=str, comment="#"
    ).rename(columns={"oldCode": "old_code", "newCode": "new_code", "oldName": "old_name",
                      "newName": "new_name", "changeOccurred": "change_occurred"})  # fmt: skip
    changes["change_occurred"] = pd.to_datetime(changes["change_occurred"])
    codes = pd.DataFrame(
        {
            "code": ["0101", "0102", "0103", "0104"],
            "name": ["Aby", "Bby", "Cby", "Dby"],
            "valid_from_in_requested_range": pd.to_datetime(["2019-01-01"] * 4),
            "valid_to_in_requested_range": pd.to_datetime(["2020-01-01"] * 4),
        }
    )
    history = build_history(changes, code_lists_from_klass_codes(codes, 2019, 2019), last_year=2020)
    assert history.codes[2020] == {"3001", "3002", "3003", "3004"}
