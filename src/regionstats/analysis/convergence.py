"""Beta- and sigma-convergence of regional levels (e.g. productivity), with honest inference.

* :func:`beta_convergence`: do initially poorer regions grow faster?
  :math:`g_i = \\alpha + \\beta \\ln P_{i,0} + \\varepsilon_i` (Barro & Sala-i-Martin 1992,
  *J. Political Economy* 100(2), 223-251), with the start level taken **at current prices in the
  start year** and t-based intervals plus a permutation p-value
  (:func:`regionstats.analysis.regression.growth_regression`).
* :func:`sigma_convergence`: does the dispersion of :math:`\\ln P` across regions shrink? The
  trend of the annual standard deviation is tested with a correction for the autocorrelation
  of the short annual series (Santer et al. 2000, *J. Geophys. Res.* 105(D6), 7337-7356).

Beta-convergence is necessary but not sufficient for sigma-convergence: regions can regress
towards the mean while shocks keep the dispersion constant or growing (Young, Higgins & Levy
2008, *J. Money, Credit and Banking* 40(5), 1083-1093). Report both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from regionstats.analysis.errors import InsufficientData
from regionstats.analysis.regression import growth_regression, ols_table, usable
from regionstats.model import STATUS, VALUE


def _check_frame(frame: pd.DataFrame, what: str) -> None:
    missing = [c for c in ("region", "year", VALUE) if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; has {list(frame.columns)}")
    dup = frame.duplicated(["region", "year"])
    if dup.any():
        example = frame.loc[dup, ["region", "year"]].iloc[0].to_dict()
        raise ValueError(
            f"{what} frame must have one row per region and year (filter one measure/scope); "
            f"duplicated e.g. {example}"
        )


def _positive_at(frame: pd.DataFrame, year: int) -> pd.Series:
    """Usable, strictly positive values of ``year`` by region."""
    part = frame[(frame["year"] == year) & usable(frame)]
    part = part[part[VALUE] > 0]
    return pd.Series(part[VALUE].to_numpy(dtype=float), index=part["region"].astype(str))


def _require_year(frame: pd.DataFrame, year: int, what: str) -> None:
    years = sorted(int(y) for y in set(frame["year"]))
    if year not in years:
        span = f"{years[0]}-{years[-1]}" if years else "no years"
        raise InsufficientData(f"{what} have no year {year} (years present: {span})")


def _tidy_by_region(values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": pd.Series(values.index, dtype="str"),
            VALUE: values.to_numpy(dtype=float),
            STATUS: pd.array([pd.NA] * len(values), dtype="string"),
        }
    )


def beta_convergence(
    levels: pd.DataFrame,
    start: int,
    end: int,
    *,
    volume: pd.DataFrame | None = None,
    cov_type: str = "HC3",
    exclude: Sequence[str] = ("0",),
    permutations: int = 9999,
    seed: int = 20201,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Beta-convergence between ``start`` and ``end``: growth on the log start level.

    .. math:: g_i = \\frac{1}{T}\\ln\\frac{X_{i,\\text{end}}}{X_{i,\\text{start}}}
              = \\alpha + \\beta \\ln P_{i,\\text{start}} + \\varepsilon_i,
              \\qquad T = \\text{end} - \\text{start}

    :math:`P_{i,\\text{start}}` is the level in ``levels`` in the start year at that year's
    (current) prices. :math:`X` is ``volume`` when given ("levels at current prices, growth in
    volume") or ``levels`` itself ("consistently nominal"). A negative :math:`\\beta` means
    convergence; the implied speed and half-life (Barro & Sala-i-Martin 1992) are

    .. math:: b = -\\frac{\\ln(1 + T\\beta)}{T}, \\qquad \\text{half-life} = \\frac{\\ln 2}{b},

    defined only when :math:`\\beta < 0` and :math:`1 + T\\beta > 0`.

    **Why the start level must be a true start-year level.** Do not derive start levels from a
    volume series expressed at end-year prices (:math:`P_{i,0} = P_{i,T}\\,V_{i,0}/V_{i,T}`).
    Then :math:`\\ln P_{i,0} = \\ln P_{i,T} - T g_i` *by construction*, so the regressor contains
    :math:`-T g_i` and :math:`\\operatorname{cov}(g, \\ln P_0) = \\operatorname{cov}(g, \\ln P_T)
    - T\\operatorname{var}(g)`: even with growth unrelated to anything, :math:`\\beta` tends to
    :math:`-T\\operatorname{var}(g) / (\\operatorname{var}(\\ln P_T) +
    T^2\\operatorname{var}(g))`, negative whatever the data. A warning is issued when ``levels``
    grow exactly like ``volume`` (levels that are volumes in disguise).

    Parameters
    ----------
    levels
        Tidy ``region``, ``year``, ``value`` (``status``) of a level at **current prices**, e.g.
        nominal value added per employed person; one row per region and year.
    start, end
        The window; ``end > start``.
    volume
        Optional tidy volume index or volume level by ``region`` and ``year`` (e.g.
        :func:`regionstats.indicators.volume.volume_index`, or chained volume changes). Only the
        ratio of each region's own end values is used, so its base year is irrelevant. A region
        in ``levels`` but not in ``volume`` (or the reverse) is dropped and listed.
    cov_type
        statsmodels covariance type of the regression (``"HC3"`` default).
    exclude
        Regions left out (default the whole country, ``"0"``).
    permutations, seed
        Permutation test of :math:`\\beta` (:func:`~regionstats.analysis.regression.
        slope_permutation_test`); 0 skips it.

    Returns
    -------
    table : pandas.DataFrame
        :func:`~regionstats.analysis.regression.growth_regression` layout, slope
        ``log_initial``; ``attrs`` add ``window``, ``growth_basis``, ``level_basis``,
        ``summary``.
    summary : dict
        ``beta``, ``se``, ``ci_low``, ``ci_high`` (95 %, t with ``df`` = n - 2), ``df``,
        ``p_value``, ``p_perm``, ``n``, ``T``, ``window``, ``regions``, ``dropped`` (with
        ``dropped_reasons``), ``growth_basis`` (``"volume"`` / ``"current prices"``),
        ``level_basis`` (``"current prices, <start>"``), ``speed``, ``half_life`` (NaN where
        undefined), ``speed_note`` (why NaN, or a caution; ``None`` otherwise), ``log_initial``
        and ``growth`` (by region), ``method``, ``cov_type``, ``r2``, ``permutations``,
        ``exact``.

    Raises
    ------
    InsufficientData
        ``end <= start``; a year missing from the data; fewer than 3 regions with positive
        usable values at both ends.
    ValueError
        A frame lacks columns or has several rows per region and year.

    Examples
    --------
    Four regions, consistently nominal, over T = 10 years; the poorer grow faster:

    >>> import numpy as np, pandas as pd
    >>> lp0 = np.array([0.0, 0.5, 1.0, 1.5])
    >>> lp1 = lp0 + 10 * (0.03 - 0.01 * lp0 + np.array([0.001, -0.001, -0.001, 0.001]))
    >>> levels = pd.DataFrame({"region": ["01", "02", "03", "04"] * 2,
    ...                        "year": [2000] * 4 + [2010] * 4,
    ...                        "value": np.exp(np.r_[lp0, lp1])})
    >>> table, s = beta_convergence(levels, 2000, 2010)
    >>> round(s["beta"], 4), s["n"], s["df"], s["growth_basis"], s["level_basis"]
    (-0.01, 4, 2, 'current prices', 'current prices, 2000')
    >>> round(s["speed"], 4), round(s["half_life"], 1)
    (0.0105, 65.8)
    """
    start, end = int(start), int(end)
    if end - start < 1:
        raise InsufficientData(
            f"beta-convergence needs end > start (a window of at least 1 year); "
            f"got start = {start}, end = {end}"
        )
    T = end - start
    _check_frame(levels, "levels")
    _require_year(levels, start, "levels")
    source = levels if volume is None else volume
    basis = "current prices" if volume is None else "volume"
    if volume is not None:
        _check_frame(volume, "volume")
    for year in (start, end):
        _require_year(source, year, "levels" if volume is None else "volume")

    skip = {str(r) for r in exclude}
    p0 = _positive_at(levels, start)
    x0 = _positive_at(source, start)
    x1 = _positive_at(source, end)
    in_levels = set(levels["region"].astype(str))
    in_source = set(source["region"].astype(str))
    reasons: dict[str, str] = {}
    for region in sorted((in_levels | in_source) - skip):
        if region not in in_levels:
            reasons[region] = "in volume but not in levels"
        elif region not in in_source:
            reasons[region] = "in levels but not in volume"
        elif region not in p0.index:
            reasons[region] = f"no usable positive level in {start}"
        elif region not in x0.index:
            reasons[region] = f"no usable positive {basis} value in {start}"
        elif region not in x1.index:
            reasons[region] = f"no usable positive {basis} value in {end}"
    kept = sorted((in_levels & in_source) - skip - set(reasons))
    if len(kept) < 3:
        raise InsufficientData(
            f"beta-convergence needs at least 3 regions with a positive level in {start} and "
            f"positive {basis} values in both {start} and {end}; got n = {len(kept)} "
            f"(dropped: {reasons})"
        )
    log_p0 = np.log(p0[kept])
    growth = np.log(x1[kept] / x0[kept]) / T

    if volume is not None:
        lv = _positive_at(levels, end) if end in set(levels["year"]) else pd.Series(dtype=float)
        common = [r for r in kept if r in lv.index]
        if len(common) >= 3:
            nominal = np.log(lv[common] / p0[common]) / T
            if np.allclose(nominal.to_numpy(), growth[common].to_numpy(), rtol=0, atol=1e-12):
                warnings.warn(
                    "levels grow exactly like the volume series: they look like volumes at "
                    "fixed prices, not current-price levels; ln P0 = ln PT - T g then biases "
                    "beta negative by construction (see beta_convergence docstring)",
                    UserWarning,
                    stacklevel=2,
                )

    table = growth_regression(
        _tidy_by_region(growth),
        _tidy_by_region(log_p0),
        cov_type=cov_type,
        name="log_initial",
        permutations=permutations,
        seed=seed,
    )
    row = table.set_index("term").loc["log_initial"]
    beta = float(row["coef"])
    ci_low, ci_high = float(row["ci_low"]), float(row["ci_high"])
    inside = 1 + T * beta
    speed_note: str | None = None
    if beta >= 0:
        speed, half = math.nan, math.nan
        speed_note = "beta >= 0: no beta-convergence, so speed and half-life are undefined"
    elif inside <= 0:
        speed, half = math.nan, math.nan
        speed_note = (
            f"1 + T beta = {inside:.3g} <= 0 (beta < -1/T): ln(1 + T beta) is undefined, "
            "the estimate implies overshooting; speed and half-life are undefined"
        )
    else:
        speed = -math.log(inside) / T
        half = math.log(2) / speed
        if ci_high >= 0:
            speed_note = (
                "the 95% CI of beta includes 0: speed and half-life are point estimates "
                "not distinguishable from no convergence"
            )
    level_basis = f"current prices, {start}"
    method = (
        f"beta-convergence (Barro & Sala-i-Martin 1992): annualised log growth over {start}-{end} "
        f"({basis}) on ln level in {start} ({level_basis}); " + table.attrs["method"]
    )
    summary: dict[str, object] = {
        "beta": beta,
        "se": float(row["se"]),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "df": int(table.attrs["df"]),
        "p_value": float(row["p_value"]),
        "p_perm": float(row["p_perm"]),
        "n": int(table.attrs["n"]),
        "T": int(T),
        "window": (start, end),
        "regions": list(table.attrs["regions"]),
        "dropped": sorted(reasons),
        "dropped_reasons": reasons,
        "growth_basis": basis,
        "level_basis": level_basis,
        "speed": float(speed),
        "half_life": float(half),
        "speed_note": speed_note,
        "log_initial": {r: float(v) for r, v in log_p0.items()},
        "growth": {r: float(v) for r, v in growth.items()},
        "method": method,
        "cov_type": cov_type,
        "r2": float(table.attrs["r2"]),
        "permutations": int(table.attrs["permutations"]),
        "exact": bool(table.attrs["exact"]),
    }
    table.attrs.update(
        {
            "dropped": sorted(reasons),
            "window": (start, end),
            "growth_basis": basis,
            "level_basis": level_basis,
            "method": method,
            "summary": summary,
            "levels_attrs": {k: v for k, v in levels.attrs.items() if isinstance(v, str | int)},
        }
    )
    return table, summary


def _lag1_autocorrelation(resid: np.ndarray, years: np.ndarray) -> float:
    """:math:`r_1 = \\sum_t e_t e_{t+1} / \\sum_t e_t^2` over pairs of consecutive years."""
    denom = float(resid @ resid)
    if denom == 0:
        return math.nan
    pairs = np.diff(years) == 1
    return float(np.sum(resid[:-1][pairs] * resid[1:][pairs]) / denom)


def _trend(
    years: np.ndarray, values: np.ndarray, *, min_years: int, min_n_eff: float
) -> dict[str, object]:
    n = len(years)
    method = (
        "OLS slope of the std on year; SE from the effective sample size "
        "n_eff = n(1 - r1)/(1 + r1) (r1 > 0), inflated by sqrt((n - 2)/(n_eff - 2)), "
        "t with n_eff - 2 df (Santer et al. 2000)"
    )
    nan = math.nan
    out: dict[str, object] = {
        "slope": nan,
        "se": nan,
        "ci_low": nan,
        "ci_high": nan,
        "df": nan,
        "p_value": nan,
        "rho1": nan,
        "n_eff": nan,
        "n_years": int(n),
        "method": method,
        "testable": False,
        "note": "",
    }
    if n < 2:
        out["note"] = f"trend cannot be tested or estimated: {n} usable year(s)"
        return out
    if n == 2:
        out["slope"] = float((values[1] - values[0]) / (years[1] - years[0]))
        out["note"] = (
            "trend cannot be tested: only 2 usable years (the slope is their difference per "
            f"year; at least {min_years} years are needed for a test)"
        )
        return out
    fit = ols_table(values, years, ["year"], "nonrobust")
    a, slope = (float(v) for v in fit["coef"])
    se_ols = float(fit.loc[1, "se"])
    resid = values - (a + slope * years)
    r1 = _lag1_autocorrelation(resid, years)
    n_eff = n * (1 - r1) / (1 + r1) if r1 == r1 and r1 > 0 else float(n)
    out.update({"slope": slope, "rho1": r1, "n_eff": float(n_eff)})
    gaps = "" if np.all(np.diff(years) == 1) else " (r1 from consecutive years only)"
    if n < min_years:
        out["note"] = (
            f"trend cannot be tested: only {n} usable years (at least {min_years} are needed "
            "to estimate the autocorrelation and the trend together); the slope is descriptive"
        )
        return out
    if not n_eff >= min_n_eff:
        out["note"] = (
            f"trend cannot be tested: the residuals are autocorrelated (r1 = {r1:.2f}{gaps}), "
            f"so the {n} years carry only n_eff = {n_eff:.1f} < {min_n_eff:g} independent "
            "observations; the slope is descriptive"
        )
        return out
    df = n_eff - 2
    se = se_ols * math.sqrt((n - 2) / df)
    crit = float(stats.t.ppf(0.975, df))
    out.update(
        {
            "se": se,
            "ci_low": slope - crit * se,
            "ci_high": slope + crit * se,
            "df": float(df),
            "p_value": float(2 * stats.t.sf(abs(slope / se), df)) if se > 0 else nan,
            "testable": True,
            "note": (
                f"r1 = {r1:.2f}{gaps}, n_eff = {n_eff:.1f} of {n} years; 95% CI from t with "
                f"{df:.1f} df. Santer's correction is still somewhat liberal in short series "
                "(r1 is biased towards 0)"
            ),
        }
    )
    return out


def sigma_convergence(
    levels: pd.DataFrame,
    *,
    exclude: Sequence[str] = ("0",),
    min_regions: int = 3,
    min_years: int = 6,
    min_n_eff: float = 4.0,
) -> pd.DataFrame:
    """Dispersion of log levels across regions by year and its autocorrelation-aware trend.

    .. math:: \\sigma_t = \\sqrt{\\frac{1}{n_t - 1}\\sum_{i}(\\ln P_{i,t} - \\overline{\\ln P_t})^2}

    over the regions with a usable, positive level in year :math:`t`. A falling
    :math:`\\sigma_t` is sigma-convergence (Young, Higgins & Levy 2008, who show it does not
    follow from beta-convergence).

    **Trend test.** :math:`\\sigma_t = c + s\\,t + e_t` by OLS. Annual dispersion is smooth, so
    :math:`e_t` is positively autocorrelated and plain OLS standard errors are too small. With
    :math:`r_1 = \\sum_t e_t e_{t+1} / \\sum_t e_t^2` (pairs of consecutive years), the effective
    sample size (Santer et al. 2000, *J. Geophys. Res.* 105(D6), 7337-7356)

    .. math:: n_{\\text{eff}} = n\\,\\frac{1 - r_1}{1 + r_1} \\;(r_1 > 0), \\qquad
              \\widehat{\\text{se}}(s) = \\widehat{\\text{se}}_{\\text{OLS}}(s)
              \\sqrt{\\frac{n - 2}{n_{\\text{eff}} - 2}}

    and the 95 % CI and p-value use t with :math:`n_{\\text{eff}} - 2` degrees of freedom
    (:math:`n_{\\text{eff}} = n` when :math:`r_1 \\le 0`). This was chosen over Newey-West HAC
    errors (Newey & West 1987, *Econometrica* 55(3)) because with 10-20 annual observations the
    HAC variance, estimated with a kernel bandwidth of 2-3 lags, is strongly biased downwards and
    its t test over-rejects (Kiefer & Vogelsang 2005, *Econometric Theory* 21(6)), whereas the
    effective-sample-size correction also shrinks the degrees of freedom. It remains somewhat
    liberal in short series, since :math:`r_1` is biased towards 0: for AR(1) noise with
    :math:`\\rho = 0.6` and no trend over 20 years, the 95 % CI covered 0 in about 86 % of
    simulated series (plain OLS: 69 %).

    When fewer than ``min_years`` years are usable, or :math:`n_{\\text{eff}} <` ``min_n_eff``,
    the trend is **not tested**: ``testable`` is False, the slope is kept as a description, and
    ``se``, the CI, ``df`` and ``p_value`` are NaN with a ``note`` saying why.

    Parameters
    ----------
    levels
        Tidy ``region``, ``year``, ``value`` (``status``), one row per region and year.
    exclude
        Regions left out (default the whole country ``"0"``).
    min_regions
        A year with fewer usable regions gets value NaN and status ``".."`` and is left out of
        the trend (listed in ``attrs["excluded_years"]``).
    min_years, min_n_eff
        Thresholds below which the trend is not tested.

    Returns
    -------
    pandas.DataFrame
        Tidy ``year``, ``value`` (:math:`\\sigma_t`), ``n`` (regions used), ``status``.
        ``attrs``: ``method``, ``trend`` (``slope`` per year, ``se``, ``ci_low``, ``ci_high``,
        ``df``, ``p_value``, ``rho1``, ``n_eff``, ``n_years``, ``method``, ``testable``,
        ``note``), ``excluded_years``, ``regions_vary`` (the set of regions changes between
        years), ``min_regions``.

    Examples
    --------
    Three regions with :math:`\\ln P = (-a, 0, a)` have :math:`\\sigma = a`; four years are
    too few to test the trend:

    >>> import numpy as np, pandas as pd
    >>> a = [0.40, 0.38, 0.37, 0.35]
    >>> levels = pd.DataFrame({"region": ["01", "02", "03"] * 4,
    ...                        "year": np.repeat([2016, 2017, 2018, 2019], 3),
    ...                        "value": np.exp(np.ravel([[-v, 0.0, v] for v in a]))})
    >>> out = sigma_convergence(levels)
    >>> out["value"].round(2).tolist(), out["n"].tolist()
    ([0.4, 0.38, 0.37, 0.35], [3, 3, 3, 3])
    >>> trend = out.attrs["trend"]
    >>> round(trend["slope"], 3), trend["testable"], bool(np.isnan(trend["se"]))
    (-0.016, False, True)
    """
    _check_frame(levels, "levels")
    skip = [str(r) for r in exclude]
    years_all = sorted(int(y) for y in set(levels["year"]))
    ok = levels[usable(levels) & ~levels["region"].astype(str).isin(skip)]
    ok = ok[ok[VALUE] > 0]
    logs = ok.assign(_log=np.log(ok[VALUE].to_numpy(dtype=float)))
    grouped = logs.groupby("year")["_log"]
    std = grouped.std(ddof=1).reindex(years_all)
    count = grouped.size().reindex(years_all).fillna(0).astype("int64")
    thin = count < min_regions
    values = std.to_numpy(dtype=float, copy=True)
    values[thin.to_numpy()] = np.nan
    out = pd.DataFrame(
        {
            "year": np.asarray(years_all, dtype="int64"),
            VALUE: values,
            "n": count.to_numpy(dtype="int64"),
            STATUS: pd.array([".." if t else pd.NA for t in thin], dtype="string"),
        }
    )
    excluded = [int(y) for y in out.loc[thin.to_numpy(), "year"]]
    good = out[~thin.to_numpy()]
    trend = _trend(
        good["year"].to_numpy(dtype=float),
        good[VALUE].to_numpy(dtype=float),
        min_years=min_years,
        min_n_eff=min_n_eff,
    )
    if excluded:
        trend["note"] = (
            f"{trend['note']}; years {excluded} have fewer than {min_regions} usable regions "
            "(status '..') and are left out of the trend"
        )
    sets = [
        frozenset(f["region"].astype(str)) for y, f in ok.groupby("year") if y in set(good["year"])
    ]
    regions_vary = len(set(sets)) > 1
    out.attrs = {
        "method": "sigma-convergence: std (ddof=1) of ln level across regions by year; trend = "
        + str(trend["method"]),
        "trend": trend,
        "excluded_years": excluded,
        "min_regions": int(min_regions),
        "regions_vary": regions_vary,
        "vintage": levels.attrs.get("vintage"),
        "scope": levels.attrs.get("scope"),
    }
    return out


__all__ = ["beta_convergence", "sigma_convergence"]
