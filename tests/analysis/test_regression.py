"""Growth regression with t-based intervals and permutation p-values, checked by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from regionstats.analysis.errors import InsufficientData
from regionstats.analysis.regression import growth_regression, ols_table, slope_permutation_test


def _tidy(regions, values):
    return pd.DataFrame(
        {
            "region": pd.Series(list(regions), dtype="str"),
            "value": np.asarray(values, dtype=float),
            "status": pd.array([pd.NA] * len(values), dtype="string"),
        }
    )


def _hc3_by_hand(x, y):
    """(X'X)^-1 X' diag(e_i^2 / (1 - h_i)^2) X (X'X)^-1 (MacKinnon & White 1985)."""
    X = np.column_stack([np.ones_like(x), x])
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    e = y - X @ b
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    return b, xtx_inv @ X.T @ np.diag(e**2 / (1 - h) ** 2) @ X @ xtx_inv


def test_four_regions_by_hand_t_interval():
    # x = 1, 2, 4, 7 and y = 0.02, 0.025, 0.022, 0.04: slope = cov(x, y) / var(x)
    x = np.array([1.0, 2.0, 4.0, 7.0])
    y = np.array([0.02, 0.025, 0.022, 0.04])
    out = growth_regression(_tidy("abcd", y), _tidy("abcd", x), name="share")
    row = out.set_index("term").loc["share"]
    slope = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert row["coef"] == pytest.approx(slope)
    b, cov = _hc3_by_hand(x, y)
    se = math.sqrt(cov[1, 1])
    assert row["se"] == pytest.approx(se)
    assert row["t"] == pytest.approx(slope / se)
    # Student's t with n - 2 = 2 degrees of freedom, not the normal's 1.96
    crit = stats.t.ppf(0.975, 2)
    assert crit == pytest.approx(4.302653, rel=1e-6)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * crit * se)
    assert row["ci_low"] == pytest.approx(slope - crit * se)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(slope / se), 2))
    const = out.set_index("term").loc["const"]
    assert const["coef"] == pytest.approx(y.mean() - slope * x.mean())
    assert np.isnan(const["p_perm"])
    assert out.attrs["n"] == 4 and out.attrs["df"] == 2 and out.attrs["cov_type"] == "HC3"
    assert "t distribution with 2 degrees of freedom" in out.attrs["method"]
    assert out.attrs["exact"] is True and out.attrs["permutations"] == 24


def test_nonrobust_se_is_the_textbook_formula():
    x = np.array([1.0, 2.0, 4.0, 7.0, 8.0])
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    table = ols_table(y, x, ["x"], "nonrobust")
    xc = x - x.mean()
    b = (xc @ y) / (xc @ xc)
    a = y.mean() - b * x.mean()
    s2 = np.sum((y - a - b * x) ** 2) / (5 - 2)
    assert table.loc[1, "coef"] == pytest.approx(b)
    assert table.loc[1, "se"] == pytest.approx(math.sqrt(s2 / (xc @ xc)))
    assert table.attrs["df"] == 3
    assert list(table.columns) == ["term", "coef", "se", "t", "p_value", "ci_low", "ci_high"]


def test_drops_unusable_and_unmatched_regions():
    g = _tidy("abcde", [0.1, 0.2, np.nan, 0.4, 0.3])
    g.loc[2, "status"] = ":"
    g.loc[4, "status"] = ".."  # a symbol with a (stale) number is still unusable
    x = _tidy("abcdf", [1.0, 2.0, 3.0, 5.0, 9.0])
    out = growth_regression(g, x, permutations=0)
    assert out.attrs["n"] == 3
    assert out.attrs["regions"] == ["a", "b", "d"]
    assert out.attrs["dropped"] == ["c", "e", "f"]
    assert np.isnan(out.loc[1, "p_perm"]) and out.attrs["permutations"] == 0


def test_too_few_and_duplicates():
    with pytest.raises(InsufficientData, match="n = 2"):
        growth_regression(_tidy("ab", [0.1, 0.2]), _tidy("ab", [1.0, 2.0]))
    dup = _tidy("aab", [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one row per region"):
        growth_regression(dup, _tidy("ab", [1.0, 2.0]))
    # HC3 needs every leverage below 1: x = (0, 0, 1) puts all weight on the third point
    with pytest.raises(InsufficientData, match="leverage 1"):
        growth_regression(_tidy("abc", [0.1, 0.2, 0.3]), _tidy("abc", [0.0, 0.0, 1.0]))


def _slope(x, y):
    return np.polyfit(x, y, 1)[0]


def test_exact_permutation_p_matches_brute_force():
    rng = np.random.default_rng(11)
    x = rng.normal(size=5)
    y = 0.5 * x + rng.normal(size=5)
    b = _slope(x, y)
    hits = sum(
        abs(_slope(x, y[list(p)])) >= abs(b) * (1 - 1e-9) for p in itertools.permutations(range(5))
    )
    out = growth_regression(_tidy("abcde", y), _tidy("abcde", x))
    assert out.attrs["exact"] is True and out.attrs["permutations"] == 120
    assert out.loc[1, "p_perm"] == pytest.approx(hits / 120)
    assert "exact enumeration of all 5! = 120" in out.attrs["method"]


def test_monte_carlo_permutation_p_agrees_with_exact_enumeration():
    # n = 8: 8! = 40320 > 9999, so Monte Carlo; the exact share over all 40320 orderings is
    # the truth, and p_MC has binomial sd sqrt(p(1-p)/B)
    rng = np.random.default_rng(5)
    x = rng.normal(size=8)
    y = 0.6 * x + rng.normal(size=8)
    xc = x - x.mean()
    orders = np.array(list(itertools.permutations(range(8))))
    bstar = (y[orders] @ xc) / (xc @ xc)
    exact = np.mean(np.abs(bstar) >= abs(_slope(x, y)) * (1 - 1e-9))
    out = growth_regression(_tidy("abcdefgh", y), _tidy("abcdefgh", x), seed=1)
    p = out.loc[1, "p_perm"]
    assert out.attrs["exact"] is False and out.attrs["permutations"] == 9999
    assert round(p * 10000) == pytest.approx(p * 10000)  # (1 + hits) / (1 + B)
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / 9999)
    assert "Phipson & Smyth" in out.attrs["method"]
    again = growth_regression(_tidy("abcdefgh", y), _tidy("abcdefgh", x), seed=1)
    assert again.loc[1, "p_perm"] == p  # seeded


def test_monte_carlo_p_is_never_zero():
    # a perfect fit with n = 12: no random ordering beats it, p = 1 / (1 + B)
    x = np.arange(12.0)
    p, used, exact = slope_permutation_test(2 * x, x, permutations=99, seed=3)
    assert (p, used, exact) == (pytest.approx(1 / 100), 99, False)
