"""Scopes, value added and productivity on hand-made frames (tests/indicators/conftest.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from regionstats.indicators import (
    SCOPES,
    Scope,
    UnknownIndustryError,
    UnknownScopeError,
    apply_scope,
    compensation_share,
    employment,
    list_scopes,
    productivity,
    scope,
    value_added,
)


def _one(frame: pd.DataFrame) -> tuple[float, object]:
    assert len(frame) == 1
    row = frame.iloc[0]
    return float(row["value"]), row["status"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("all", 100.0),
        # 100 - 10 (central gov) - 20 (local gov) - 5 (dwellings) = 65
        ("business", 65.0),
        # 65 - 7 (finance) = 58
        ("business_excl_finance", 58.0),
        # 100 - 3 (petroleum) - 1 (pipelines) = 96
        ("excl_petroleum", 96.0),
        # 58 - 3 - 1 = 54
        ("business_excl_finance_petroleum", 54.0),
    ],
)
def test_named_scopes_value_added(scoped, name, expected):
    value, status = _one(value_added(scoped, name))
    assert value == expected
    assert status is pd.NA


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("all", 50.0),
        # 50 - 6 - 14 = 30; dwellings have no employment by definition and are left out
        ("business", 30.0),
        ("business_excl_finance", 28.0),  # 30 - 2
        ("excl_petroleum", 48.5),  # 50 - 1 - 0.5
        ("business_excl_finance_petroleum", 26.5),  # 28 - 1 - 0.5
    ],
)
def test_named_scopes_employment(scoped, name, expected):
    value, status = _one(employment(scoped, name))
    assert value == pytest.approx(expected)
    assert status is pd.NA


def test_productivity_is_nok_per_person(scoped):
    # business_excl_finance: VA 58 NOK million, 28 thousand persons
    # = 58e6 / 28e3 = 2071.428... NOK per person
    value, _ = _one(productivity(scoped, scope="business_excl_finance"))
    assert value == pytest.approx(58e6 / 28e3)
    # all: 100e6 / 50e3 = 2000 NOK per person
    value, _ = _one(productivity(scoped, scope="all"))
    assert value == 2000.0


def test_suppressed_part_makes_scope_suppressed(make_accounts):
    frame = make_accounts(
        [
            ("01", "TOTAL", "value_added", 2019, 100.0, None),
            ("01", "GOV_CENTRAL", "value_added", 2019, 10.0, None),
            ("01", "GOV_LOCAL", "value_added", 2019, np.nan, ":"),
            ("01", "68.2b", "value_added", 2019, 5.0, None),
        ]
    )
    value, status = _one(value_added(frame, "business"))
    assert math.isnan(value)
    assert status == ":"
    value, status = _one(value_added(frame, "all"))
    assert (value, status) == (100.0, pd.NA) or (value == 100.0 and status is pd.NA)


def test_not_applicable_and_missing_precedence(make_accounts):
    frame = make_accounts(
        [
            ("50", "01-02", "value_added", 2017, np.nan, "."),
            ("50", "03", "value_added", 2017, np.nan, ":"),
            ("50", "01-02", "value_added", 2018, np.nan, ".."),
            ("50", "03", "value_added", 2018, 4.0, None),
        ]
    )
    out = value_added(frame, ["01-02", "03"]).set_index("year")
    assert out.loc[2017, "status"] == ":"  # suppressed beats not applicable
    assert out.loc[2018, "status"] == ".."
    assert out["value"].isna().all()


def test_zero_and_suppressed_denominator(make_accounts):
    frame = make_accounts(
        [
            ("01", "TOTAL", "value_added", 2019, 5.0, None),
            ("01", "TOTAL", "employed_persons", 2019, 0.0, None),
            ("02", "TOTAL", "value_added", 2019, 5.0, None),
            ("02", "TOTAL", "employed_persons", 2019, np.nan, ":"),
        ]
    )
    out = productivity(frame).set_index("region")
    assert math.isnan(out.loc["01", "value"]) and out.loc["01", "status"] == "."
    assert math.isnan(out.loc["02", "value"]) and out.loc["02", "status"] == ":"
    assert not np.isinf(out["value"]).any()


def test_unknown_industry_lists_valid_codes():
    with pytest.raises(UnknownIndustryError) as err:
        Scope.from_industries(["01-02", "99-99"])
    assert "99-99" in str(err.value) and "64-66" in str(err.value)
    with pytest.raises(UnknownScopeError, match="business_excl_finance"):
        scope("no_such_scope")


def test_scope_missing_from_frame(make_accounts):
    frame = make_accounts([("01", "TOTAL", "value_added", 2019, 1.0, None)])
    with pytest.raises(UnknownIndustryError, match="GOV_CENTRAL"):
        value_added(frame, "business")


def test_user_defined_scope(scoped):
    value, _ = _one(value_added(scoped, Scope.from_industries(["64-66", "49.5"])))
    assert value == 8.0  # 7 + 1
    value, _ = _one(value_added(scoped, ["64-66", "06_09.1"]))
    assert value == 10.0  # 7 + 3


def test_scopes_table_and_formulas():
    table = list_scopes()
    assert list(table["scope"]) == list(SCOPES)
    business = SCOPES["business"]
    assert business.plus == ("TOTAL",)
    assert set(business.minus) == {"GOV_CENTRAL", "GOV_LOCAL", "68.2b"}
    assert set(SCOPES["business_excl_finance_petroleum"].minus) == {
        "GOV_CENTRAL", "GOV_LOCAL", "68.2b", "64-66", "06_09.1", "49.5"
    }  # fmt: skip
    assert "market sector" in (SCOPES["business"].description.lower())
    import regionstats.indicators.scopes as scopes_module

    assert "non-market" in (scopes_module.__doc__ or "")


def test_compensation_share(make_accounts):
    frame = make_accounts(
        [
            ("01", "TOTAL", "value_added", 2019, 200.0, None),
            ("01", "TOTAL", "compensation", 2019, 120.0, None),
        ]
    )
    value, _ = _one(compensation_share(frame))
    assert value == pytest.approx(0.6)  # 120 / 200


def test_attrs_record_scope_and_method(scoped):
    out = productivity(scoped, scope="business")
    assert out.attrs["scope"] == "business"
    assert out.attrs["scope_formula"] == "TOTAL - GOV_CENTRAL - GOV_LOCAL - 68.2b"
    assert out.attrs["vintage"] == "hand-made"
    assert "1e6" in out.attrs["method"]
    assert apply_scope(scoped, "all").attrs["scope"] == "all"
