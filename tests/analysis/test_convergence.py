"""Beta- and sigma-convergence: hand-worked cases, placebo simulations and the real snapshot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from regionstats.analysis.convergence import beta_convergence, sigma_convergence
from regionstats.analysis.errors import InsufficientData


def _levels(regions, by_year):
    """Tidy region-year frame from ``{year: values}``."""
    parts = [
        pd.DataFrame({"region": list(regions), "year": year, "value": np.asarray(v, dtype=float)})
        for year, v in by_year.items()
    ]
    out = pd.concat(parts, ignore_index=True)
    out["region"] = out["region"].astype("str")
    out["year"] = out["year"].astype("int64")
    out["status"] = pd.array([pd.NA] * len(out), dtype="string")
    return out


REGIONS4 = ["01", "02", "03", "04"]
P0 = np.array([100.0, 150.0, 200.0, 300.0])
P1 = np.array([130.0, 180.0, 220.0, 310.0])


def test_four_regions_consistently_nominal_by_hand():
    frame = _levels(REGIONS4, {2010: P0, 2015: P1})
    table, s = beta_convergence(frame, 2010, 2015)
    g = np.log(P1 / P0) / 5
    x = np.log(P0)
    beta = np.cov(x, g, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert s["beta"] == pytest.approx(beta)
    assert beta < 0  # the poorer grew faster here
    crit = stats.t.ppf(0.975, 2)  # df = n - 2 = 2
    assert s["ci_high"] - s["ci_low"] == pytest.approx(2 * crit * s["se"])
    # HC3 by hand for the SE the CI is built on
    X = np.column_stack([np.ones(4), x])
    inv = np.linalg.inv(X.T @ X)
    e = g - X @ (inv @ X.T @ g)
    h = np.einsum("ij,jk,ik->i", X, inv, X)
    hc3 = inv @ X.T @ np.diag(e**2 / (1 - h) ** 2) @ X @ inv
    assert s["se"] == pytest.approx(math.sqrt(hc3[1, 1]))
    speed = -math.log(1 + 5 * beta) / 5
    assert s["speed"] == pytest.approx(speed)
    assert s["half_life"] == pytest.approx(math.log(2) / speed)
    assert s["log_initial"]["03"] == pytest.approx(math.log(200.0))
    assert s["growth"]["03"] == pytest.approx(math.log(220 / 200) / 5)
    assert (s["n"], s["T"], s["df"]) == (4, 5, 2)
    assert s["growth_basis"] == "current prices"
    assert s["level_basis"] == "current prices, 2010"
    assert s["exact"] is True and s["permutations"] == 24
    assert table.loc[1, "term"] == "log_initial"


def test_volume_growth_with_current_price_start_levels():
    # levels at current prices; a volume index with base 2015 = 100 (its own end values only)
    vol0 = np.array([80.0, 90.0, 95.0, 99.0])
    levels = _levels(REGIONS4, {2010: P0, 2015: P1 * 5})  # the 2015 levels must not matter
    volume = _levels(REGIONS4, {2010: vol0, 2015: np.full(4, 100.0)})
    _t, s = beta_convergence(levels, 2010, 2015, volume=volume)
    g = np.log(100.0 / vol0) / 5
    x = np.log(P0)
    assert s["beta"] == pytest.approx(np.cov(x, g)[0, 1] / np.var(x, ddof=1))
    assert s["growth_basis"] == "volume"
    # re-basing each region's index (any base year, any scale) changes nothing
    rebased = volume.copy()
    rebased["value"] = rebased["value"] * rebased["region"].map(
        dict(zip(REGIONS4, [1, 2, 3, 4], strict=True))
    )
    _t, s2 = beta_convergence(levels, 2010, 2015, volume=rebased)
    assert s2["beta"] == pytest.approx(s["beta"])


def test_region_missing_from_volume_or_suppressed_is_dropped_and_listed():
    regions = [*REGIONS4, "05", "0"]
    levels = _levels(regions, {2010: [*P0, 120.0, 1000.0], 2015: [*P1, 125.0, 1100.0]})
    levels.loc[(levels["region"] == "02") & (levels["year"] == 2010), ["value", "status"]] = [
        np.nan,
        ":",
    ]
    volume = _levels([*REGIONS4, "0"], {2010: [90.0, 90, 90, 95, 90], 2015: [100.0] * 5})
    _t, s = beta_convergence(levels, 2010, 2015, volume=volume, permutations=0)
    assert s["regions"] == ["01", "03", "04"]
    assert s["dropped"] == ["02", "05"]  # "0" is excluded by default, not "dropped"
    assert s["dropped_reasons"]["05"] == "in levels but not in volume"
    assert "2010" in s["dropped_reasons"]["02"]


def test_bad_windows_and_too_few_regions():
    frame = _levels(REGIONS4, {2010: P0, 2015: P1})
    with pytest.raises(InsufficientData, match="end > start"):
        beta_convergence(frame, 2015, 2015)
    with pytest.raises(InsufficientData, match="no year 2009"):
        beta_convergence(frame, 2009, 2015)
    few = frame.copy()
    few.loc[few["region"].isin(["01", "02"]) & (few["year"] == 2015), "value"] = 0.0
    with pytest.raises(InsufficientData, match="n = 2"):
        beta_convergence(few, 2010, 2015)
    with pytest.raises(ValueError, match="one row per region and year"):
        beta_convergence(pd.concat([frame, frame]), 2010, 2015)


def test_speed_undefined_is_nan_with_a_reason():
    # divergence: richer grew faster -> beta > 0
    frame = _levels(REGIONS4, {2010: P0, 2015: P0 * np.array([1.0, 1.1, 1.2, 1.4])})
    _t, s = beta_convergence(frame, 2010, 2015, permutations=0)
    assert s["beta"] > 0
    assert np.isnan(s["speed"]) and np.isnan(s["half_life"])
    assert "no beta-convergence" in s["speed_note"]
    # overshooting: 1 + T beta <= 0 (beta = -1.2 over T = 1 by construction)
    lp0 = np.log(P0)
    lp1 = lp0 - 1.2 * (lp0 - lp0.mean())
    frame = _levels(REGIONS4, {2010: P0, 2011: np.exp(lp1)})
    _t, s = beta_convergence(frame, 2010, 2011, permutations=0)
    assert s["beta"] == pytest.approx(-1.2)
    assert np.isnan(s["speed"]) and "1 + T beta" in s["speed_note"]


def _placebo_frame(rng, n, sd_level, growth, T=11):
    lp0 = rng.normal(13.5, sd_level, n)
    regions = [f"{i:02d}" for i in range(1, n + 1)]
    return _levels(regions, {2008: np.exp(lp0), 2008 + T: np.exp(lp0 + T * growth)})


def test_placebo_ci_covers_zero_about_95_percent():
    # growth independent of levels: beta = 0 is the truth. 1000 seeded draws, 17 regions:
    # binomial sd of the coverage sqrt(.95 * .05 / 1000) = 0.0069, band = 0.95 -+ 3 sd.
    # (HC3 with t(15) at n = 17 is close to nominal: 0.949 in 100 000 closed-form draws.)
    # The permutation test (B = 99) must reject at 5 % in about 5 % of draws (sd 0.0069).
    rng = np.random.default_rng(20201)
    draws, covered, rejected = 1000, 0, 0
    for d in range(draws):
        frame = _placebo_frame(rng, 17, 0.2, rng.normal(0.03, 0.01, 17))
        _t, s = beta_convergence(frame, 2008, 2019, permutations=99, seed=d)
        covered += s["ci_low"] <= 0 <= s["ci_high"]
        rejected += s["p_perm"] <= 0.05
    coverage, rejection = covered / draws, rejected / draws
    print(f"placebo coverage {coverage:.3f}, permutation rejection rate {rejection:.3f}")
    assert 0.929 <= coverage <= 0.971
    assert 0.029 <= rejection <= 0.071


def test_the_trap_end_year_price_levels_bias_beta_negative():
    # The referee's trap: start "levels" derived from end-year-price volumes,
    # ln P0 = ln PT - T g, with g a permutation of fixed growth rates (independent of PT).
    # Then beta -> -T var(g) / (var(ln PT) + T^2 var(g)), negative whatever the data.
    rng = np.random.default_rng(7)
    n, T, draws = 17, 11, 300
    regions = [f"{i:02d}" for i in range(1, n + 1)]
    g0 = rng.normal(0.02, 0.01, n)
    lpT = rng.normal(13.5, 0.2, n)
    trap, true = [], []
    for _ in range(draws):
        g = rng.permutation(g0)
        derived = _levels(regions, {2008: np.exp(lpT - T * g), 2019: np.exp(lpT)})
        trap.append(beta_convergence(derived, 2008, 2019, permutations=0)[1]["beta"])
        lp0 = rng.normal(13.5, 0.2, n)  # true start levels, independent of growth
        honest = _levels(regions, {2008: np.exp(lp0), 2019: np.exp(lp0 + T * g)})
        true.append(beta_convergence(honest, 2008, 2019, permutations=0)[1]["beta"])
    vg, vp = np.var(g0, ddof=1), np.var(lpT, ddof=1)
    limit = -T * vg / (vp + T**2 * vg)
    m_trap, m_true = np.mean(trap), np.mean(true)
    se_trap, se_true = np.std(trap, ddof=1) / draws**0.5, np.std(true, ddof=1) / draws**0.5
    print(f"trap mean beta {m_trap:.4f} (limit {limit:.4f}); true-levels mean {m_true:.4f}")
    assert m_trap < -10 * se_trap  # clearly negative
    assert 1.5 * limit < m_trap < 0.5 * limit
    assert abs(m_true) < 3 * se_true  # near 0 with true start levels
    # passing such levels with the volume they came from is flagged
    volume = _levels(regions, {2008: np.exp(-T * g), 2019: np.ones(n)})
    with pytest.warns(UserWarning, match="look like volumes"):
        beta_convergence(derived, 2008, 2019, volume=volume, permutations=0)


# --------------------------------------------------------------------------------------------
# sigma-convergence


def test_sigma_by_hand_with_a_thin_year():
    # ln P: 2000 {0, 1, 2} -> sd 1; 2001 {0, .5, 1} -> .5; 2002 {1, 1, 4} -> sqrt(3);
    # 2003 has only 2 usable regions (one suppressed) -> "..", left out of the trend;
    # the whole country "0" is excluded
    regions = ["01", "02", "03", "0"]
    logs = {2000: [0, 1, 2, 9], 2001: [0, 0.5, 1, 9], 2002: [1, 1, 4, 9], 2003: [0, 1, 0, 9]}
    frame = _levels(regions, {y: np.exp(v) for y, v in logs.items()})
    cell = (frame["region"] == "03") & (frame["year"] == 2003)
    frame.loc[cell, ["value", "status"]] = [np.nan, ":"]
    out = sigma_convergence(frame)
    assert out["year"].tolist() == [2000, 2001, 2002, 2003]
    assert out["value"].iloc[:3].tolist() == pytest.approx([1.0, 0.5, math.sqrt(3)])
    assert np.isnan(out["value"].iloc[3]) and out["status"].iloc[3] == ".."
    assert out["n"].tolist() == [3, 3, 3, 2]
    assert out["status"].iloc[:3].isna().all()
    trend = out.attrs["trend"]
    assert out.attrs["excluded_years"] == [2003]
    assert "[2003]" in trend["note"] and "left out of the trend" in trend["note"]
    assert trend["n_years"] == 3 and trend["testable"] is False
    assert trend["slope"] == pytest.approx(np.polyfit([0, 1, 2], [1, 0.5, math.sqrt(3)], 1)[0])


def _dispersion_frame(sigmas, first_year=2000):
    # three regions with ln P = (-a, 0, a) have std exactly a
    years = range(first_year, first_year + len(sigmas))
    return _levels(
        ["01", "02", "03"], {y: np.exp([-a, 0.0, a]) for y, a in zip(years, sigmas, strict=True)}
    )


def test_santer_correction_by_hand():
    rng = np.random.default_rng(3)
    t = np.arange(10.0)
    sig = 0.30 - 0.004 * t + rng.normal(0, 0.003, 10)
    trend = sigma_convergence(_dispersion_frame(sig)).attrs["trend"]
    fit = stats.linregress(t, sig)
    e = sig - fit.intercept - fit.slope * t
    r1 = np.sum(e[:-1] * e[1:]) / np.sum(e**2)
    n_eff = 10 * (1 - r1) / (1 + r1) if r1 > 0 else 10.0
    se = fit.stderr * math.sqrt(8 / (n_eff - 2))
    assert trend["testable"] is True
    assert trend["slope"] == pytest.approx(fit.slope)
    assert trend["rho1"] == pytest.approx(r1)
    assert trend["n_eff"] == pytest.approx(n_eff)
    assert trend["se"] == pytest.approx(se)
    assert trend["df"] == pytest.approx(n_eff - 2)
    crit = stats.t.ppf(0.975, n_eff - 2)
    assert trend["ci_low"] == pytest.approx(fit.slope - crit * se)
    assert trend["p_value"] == pytest.approx(2 * stats.t.sf(abs(fit.slope / se), n_eff - 2))


def test_ar1_noise_without_trend_corrected_ci_covers_zero_more_often():
    # sigma_t = 0.5 + 0.02 u_t, u AR(1) with rho = 0.6, 20 years, no trend: 1000 seeded series.
    # Naive OLS (t with 18 df) ignores the autocorrelation and covers 0 too rarely. Santer's
    # correction is known to remain liberal in short series (r1 is biased towards 0): a
    # closed-form numpy replicate of both procedures over 100 000 series gave 0.858 (97 %
    # testable) corrected vs 0.690 naive, so the bound is 0.858 - 3 binomial sd of 1000 draws
    # (3 * 0.011 = 0.033), and the gain over naive OLS must be clear.
    rng = np.random.default_rng(60)
    sims, testable, covered, naive = 1000, 0, 0, 0
    t = np.arange(20.0)
    crit = stats.t.ppf(0.975, 18)
    for _ in range(sims):
        u = np.empty(20)
        u[0] = rng.normal() / math.sqrt(1 - 0.6**2)
        for i in range(1, 20):
            u[i] = 0.6 * u[i - 1] + rng.normal()
        sig = 0.5 + 0.02 * u
        trend = sigma_convergence(_dispersion_frame(sig)).attrs["trend"]
        if trend["testable"]:
            testable += 1
            covered += trend["ci_low"] <= 0 <= trend["ci_high"]
        fit = stats.linregress(t, sig)
        naive += abs(fit.slope) <= crit * fit.stderr
    corrected, plain = covered / testable, naive / sims
    print(
        f"AR(1) rho=.6, 20 years: corrected coverage {corrected:.3f} "
        f"({testable} of {sims} testable), naive OLS {plain:.3f}"
    )
    assert testable >= 0.9 * sims
    assert corrected >= 0.825
    assert corrected > plain + 0.1


def test_four_years_cannot_be_tested():
    out = sigma_convergence(_dispersion_frame([0.40, 0.38, 0.37, 0.35]))
    trend = out.attrs["trend"]
    assert trend["testable"] is False
    assert trend["slope"] == pytest.approx(-0.016)
    for key in ("se", "ci_low", "ci_high", "df", "p_value"):
        assert np.isnan(trend[key]), key
    assert "cannot be tested" in trend["note"] and "4 usable years" in trend["note"]


def test_strong_autocorrelation_cannot_be_tested():
    # a smooth wave around a line over 8 years: r1 high, n_eff < 4
    t = np.arange(8.0)
    trend = sigma_convergence(_dispersion_frame(0.3 + 0.02 * np.sin(t / 2.5))).attrs["trend"]
    assert trend["rho1"] > 0.4 and trend["n_eff"] < 4
    assert trend["testable"] is False and np.isnan(trend["se"])
    assert "cannot be tested" in trend["note"] and "n_eff" in trend["note"]


# --------------------------------------------------------------------------------------------
# the real snapshot


@pytest.mark.snapshot
def test_snapshot_nominal_productivity_beta_2008_2019(snapshot_dir):
    import warnings

    import regionstats as rs
    from regionstats.analysis.nou import merge_trondelag

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accounts = rs.regional_accounts("snapshot", snapshot=snapshot_dir)
    acc = merge_trondelag(accounts)
    tot = acc[
        (acc["industry"] == "TOTAL")
        & acc["measure"].isin(["value_added", "employed_persons"])
        & ~acc["region"].isin(["0", "16", "17"])
    ]
    wide = tot.pivot_table(index=["region", "year"], columns="measure", values="value")
    wide = wide.reset_index()
    # NOK per employed person: NOK million * 1e6 / (1000 persons * 1e3)
    wide["value"] = wide["value_added"] * 1e3 / wide["employed_persons"]
    levels = wide[["region", "year", "value"]].copy()
    levels["region"] = levels["region"].astype("str")
    levels["status"] = pd.array([pd.NA] * len(levels), dtype="string")
    _table, s = beta_convergence(levels, 2008, 2019)
    both = wide[wide["year"].isin([2008, 2019]) & (wide["value"] > 0)]
    counties = sorted(r for r, f in both.groupby("region") if len(f) == 2)
    assert s["regions"] == counties and s["n"] == len(counties) == 18
    assert "50" in s["regions"]  # Trøndelag with 2008 figures from 16 + 17
    oslo = acc[(acc["region"] == "03") & (acc["industry"] == "TOTAL") & (acc["year"] == 2008)]
    va = float(oslo.loc[oslo["measure"] == "value_added", "value"].iloc[0])
    emp = float(oslo.loc[oslo["measure"] == "employed_persons", "value"].iloc[0])
    assert s["log_initial"]["03"] == pytest.approx(math.log(va * 1e6 / (emp * 1e3)))
    assert s["level_basis"] == "current prices, 2008"
    assert s["growth_basis"] == "current prices" and s["T"] == 11
    assert math.isfinite(s["beta"]) and abs(s["beta"]) < 0.2
    assert s["ci_low"] < s["beta"] < s["ci_high"]
    print(
        f"nominal productivity beta 2008-2019: {s['beta']:.4f} "
        f"(95% CI {s['ci_low']:.4f} to {s['ci_high']:.4f}, t df {s['df']}), "
        f"p = {s['p_value']:.3f}, p_perm = {s['p_perm']:.3f}, n = {s['n']}"
    )
