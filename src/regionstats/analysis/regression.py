"""Cross-regional OLS with small-sample inference: t-based intervals and permutation p-values.

With 9-20 regions (the counties of the regional accounts) the normal approximation behind
z-based intervals is too optimistic. This module therefore

* fits :math:`y_r = a + b\\,x_r + \\varepsilon_r` by OLS with heteroskedasticity-robust standard
  errors (default HC3; MacKinnon & White 1985, *J. Econometrics* 29(3)) and takes p-values and
  95 % confidence intervals from Student's t with :math:`n - k` degrees of freedom;
* adds a permutation p-value for the slope that does not lean on any distributional assumption:
  :math:`y` is permuted against :math:`x` and the observed :math:`|b|` is compared with the
  :math:`|b^*|` of the permuted data. All :math:`n!` orderings are enumerated when that is no
  more than the requested number of permutations (an exact test); otherwise ``B`` random
  permutations are drawn and :math:`p = (1 + \\#\\{|b^*| \\ge |b|\\}) / (1 + B)` (Phipson &
  Smyth 2010, *Stat. Appl. Genet. Mol. Biol.* 9(1), art. 39), which is never 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from regionstats.analysis.errors import InsufficientData
from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE

#: Relative tolerance under which a permuted slope counts as "as large as" the observed one,
#: so that orderings giving the same slope up to rounding are counted as ties.
_TIE_TOLERANCE = 1e-10


def usable(frame: pd.DataFrame) -> pd.Series:
    """True where a row has a number: ``value`` not NaN and no "no number" status symbol."""
    bad = frame[VALUE].isna()
    if STATUS in frame.columns:
        bad |= frame[STATUS].isin(list(MISSING_SYMBOLS)).fillna(False).astype(bool)
    return ~bad


def ols_table(
    y: Sequence[float] | np.ndarray,
    x: Sequence[float] | np.ndarray,
    names: Sequence[str],
    cov_type: str = "HC3",
) -> pd.DataFrame:
    """OLS of ``y`` on a constant and ``x``; coefficient table with t-based inference.

    .. math:: y = X\\beta + \\varepsilon, \\quad \\hat\\beta = (X'X)^{-1}X'y, \\quad
              \\text{CI} = \\hat\\beta_j \\pm t_{0.975,\\,n-k}\\,\\widehat{\\text{se}}_j

    with :math:`X = [1, x]`, :math:`k` its number of columns and the standard errors of
    ``cov_type`` (statsmodels ``fit(cov_type=..., use_t=True)``).

    Parameters
    ----------
    y
        Outcome, length :math:`n`.
    x
        Regressors, shape ``(n,)`` or ``(n, k - 1)``; a constant is added.
    names
        Names of the columns of ``x`` (the constant is ``"const"``).
    cov_type
        statsmodels covariance type: ``"HC3"`` (default), ``"HC1"``, ``"nonrobust"`` ...

    Returns
    -------
    pandas.DataFrame
        ``term``, ``coef``, ``se``, ``t``, ``p_value``, ``ci_low``, ``ci_high`` (95 %);
        ``attrs``: ``n``, ``df`` (:math:`n - k`), ``r2``, ``cov_type``.

    Raises
    ------
    InsufficientData
        Fewer observations than coefficients + 1, a regressor without variation, or (HC2/HC3)
        an observation with leverage 1, for which the robust variance is undefined.

    Examples
    --------
    >>> t = ols_table([1.0, 3.0, 2.0, 5.0], [0.0, 1.0, 2.0, 3.0], ["x"], "nonrobust")
    >>> t[["term", "coef"]].round(2).to_dict("list")
    {'term': ['const', 'x'], 'coef': [1.1, 1.1]}
    >>> t.attrs["df"]
    2
    """
    import statsmodels.api as sm

    yv = np.asarray(y, dtype=float)
    xv = np.asarray(x, dtype=float)
    if xv.ndim == 1:
        xv = xv[:, None]
    n, k = len(yv), xv.shape[1] + 1
    if len(names) != k - 1:
        raise ValueError(f"names has {len(names)} entries for {k - 1} regressor column(s)")
    if n - k < 1:
        raise InsufficientData(
            f"OLS with {k} coefficients needs at least {k + 1} observations, got n = {n}"
        )
    if np.any(np.ptp(xv, axis=0) == 0):
        raise InsufficientData("a regressor has the same value for every observation")
    design = sm.add_constant(xv, has_constant="add")
    if cov_type.upper() in {"HC2", "HC3"}:
        leverage = np.einsum("ij,jk,ik->i", design, np.linalg.pinv(design.T @ design), design)
        if np.max(leverage) > 1 - 1e-10:
            raise InsufficientData(
                f"{cov_type} standard errors are undefined: observation "
                f"{int(np.argmax(leverage))} has leverage 1 (n = {n}); "
                "add observations or use cov_type='HC1'"
            )
    fit = sm.OLS(yv, design).fit(cov_type=cov_type, use_t=True)
    ci = np.asarray(fit.conf_int(alpha=0.05))
    out = pd.DataFrame(
        {
            "term": pd.Series(["const", *names], dtype="str"),
            "coef": np.asarray(fit.params),
            "se": np.asarray(fit.bse),
            "t": np.asarray(fit.tvalues),
            "p_value": np.asarray(fit.pvalues),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        }
    )
    out.attrs = {
        "n": int(n),
        "df": int(round(fit.df_resid)),
        "r2": float(fit.rsquared),
        "cov_type": cov_type,
    }
    return out


def slope_permutation_test(
    y: Sequence[float] | np.ndarray,
    x: Sequence[float] | np.ndarray,
    *,
    permutations: int = 9999,
    seed: int = 20201,
) -> tuple[float, int, bool]:
    """Two-sided permutation p-value of the OLS slope of ``y`` on ``x`` (with a constant).

    Under the null of no association every ordering of :math:`y` against :math:`x` is equally
    likely. With :math:`b^* = \\sum_i (x_i - \\bar x)\\,y_{\\pi(i)} / \\sum_i (x_i - \\bar x)^2`:

    * exact, when :math:`n! \\le` ``permutations``: :math:`p = \\#\\{\\pi : |b^*_\\pi| \\ge |b|\\}
      / n!` over all :math:`n!` orderings (the identity included);
    * Monte Carlo otherwise: ``B = permutations`` orderings drawn with
      ``numpy.random.default_rng(seed)``, :math:`p = (1 + \\#\\{|b^*| \\ge |b|\\}) / (1 + B)`
      (Phipson & Smyth 2010).

    Slopes equal to :math:`|b|` up to a relative :math:`10^{-10}` count as ties (as large).

    Returns
    -------
    tuple
        ``(p, permutations used, exact)``; ``(nan, 0, False)`` when ``permutations == 0``.

    Examples
    --------
    Four points in increasing order: only the identity and its reverse give :math:`|b^*|`
    as large as :math:`|b|`, so :math:`p = 2/24`.

    >>> p, used, exact = slope_permutation_test([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0])
    >>> round(p, 4), used, exact
    (0.0833, 24, True)
    """
    if permutations < 0:
        raise ValueError(f"permutations must be >= 0, got {permutations}")
    yv = np.asarray(y, dtype=float)
    xv = np.asarray(x, dtype=float)
    n = len(yv)
    if permutations == 0:
        return float("nan"), 0, False
    xc = xv - xv.mean()
    sxx = float(xc @ xc)
    b = float(xc @ yv) / sxx
    threshold = abs(b) * (1 - _TIE_TOLERANCE)
    if math.factorial(n) <= permutations:
        orders = np.array(list(itertools.permutations(range(n))), dtype=np.intp)
        bstar = (yv[orders] @ xc) / sxx
        hits = int(np.count_nonzero(np.abs(bstar) >= threshold))
        return hits / len(orders), len(orders), True
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, 1_000_000 // max(n, 1))
    left = permutations
    while left > 0:
        m = min(chunk, left)
        draws = rng.permuted(np.broadcast_to(yv, (m, n)), axis=1)
        hits += int(np.count_nonzero(np.abs(draws @ xc) / sxx >= threshold))
        left -= m
    return (1 + hits) / (1 + permutations), int(permutations), False


def _permutation_sentence(n: int, used: int, exact: bool, seed: int) -> str:
    if used == 0:
        return "no permutation test (permutations=0)"
    scheme = "permutation p-value for the slope: y permuted against x, two-sided on |b|, "
    if exact:
        return scheme + f"exact enumeration of all {n}! = {used} orderings"
    return (
        scheme + f"{used} random permutations (numpy default_rng({seed})), "
        "p = (1 + #{|b*| >= |b|}) / (1 + B) (Phipson & Smyth 2010)"
    )


def growth_regression(
    growth: pd.DataFrame,
    regressor: pd.DataFrame,
    *,
    cov_type: str = "HC3",
    name: str = "x",
    permutations: int = 9999,
    seed: int = 20201,
) -> pd.DataFrame:
    """OLS of regional growth on one regional characteristic, t-based CI and permutation p.

    .. math:: g_r = a + b\\,x_r + \\varepsilon_r, \\qquad
              \\hat b \\pm t_{0.975,\\,n-2}\\,\\widehat{\\text{se}}_{\\text{HC3}}(\\hat b)

    The p-value and CI use Student's t with :math:`n - 2` degrees of freedom (not the normal),
    and the slope also gets a permutation p-value (:func:`slope_permutation_test`): exact when
    :math:`n!` is at most ``permutations``, else Monte Carlo (Phipson & Smyth 2010).

    Parameters
    ----------
    growth, regressor
        Tidy frames with one row per ``region`` (``value``, ``status``). Regions without a
        usable number in either (NaN value or a "no number" status symbol) or present in only
        one are dropped and listed in ``attrs["dropped"]``.
    cov_type
        statsmodels covariance type (``"HC3"`` default, ``"HC1"``, ``"nonrobust"`` ...).
    name
        Name of the slope term.
    permutations
        Number of random permutations ``B`` (exact enumeration when :math:`n! \\le B`);
        0 skips the permutation test (``p_perm`` NaN).
    seed
        Seed of ``numpy.random.default_rng`` for the Monte Carlo permutations.

    Returns
    -------
    pandas.DataFrame
        Tidy ``term`` (``"const"``, ``name``), ``coef``, ``se``, ``t``, ``p_value``,
        ``ci_low``, ``ci_high`` (95 %, t-based), ``p_perm`` (slope only). ``attrs``: ``n``,
        ``df``, ``r2``, ``cov_type``, ``regions``, ``dropped``, ``method``, ``permutations``
        (orderings used), ``exact``, ``seed``.

    Raises
    ------
    ValueError
        A frame has more than one row for a region.
    InsufficientData
        Fewer than 3 usable regions.

    Examples
    --------
    >>> import pandas as pd
    >>> def tidy(values):
    ...     return pd.DataFrame({"region": ["01", "02", "03", "04"], "value": values,
    ...                          "status": pd.array([pd.NA] * 4, dtype="string")})
    >>> out = growth_regression(tidy([0.01, 0.03, 0.02, 0.05]), tidy([0.0, 1.0, 2.0, 3.0]),
    ...                         name="share")
    >>> out[["term", "coef", "p_perm"]].round(4).to_dict("list")
    {'term': ['const', 'share'], 'coef': [0.011, 0.011], 'p_perm': [nan, 0.25]}

    (:math:`b = \\sum (x - \\bar x) y / \\sum (x - \\bar x)^2 = 0.055 / 5`; 6 of the 24
    orderings of the growth rates give :math:`|b^*| \\ge 0.011`.)
    >>> out.attrs["df"], out.attrs["permutations"], out.attrs["exact"]
    (2, 24, True)
    """
    for f, what in ((growth, "growth"), (regressor, "regressor")):
        if f["region"].duplicated().any():
            dup = sorted(set(f.loc[f["region"].duplicated(), "region"]))
            raise ValueError(
                f"{what} frame must have one row per region (filter a year/measure); "
                f"duplicated: {dup}"
            )
    g = growth[usable(growth)][["region", VALUE]]
    x = regressor[usable(regressor)][["region", VALUE]]
    both = g.merge(x, on="region", suffixes=("_y", "_x")).sort_values("region")
    dropped = sorted((set(growth["region"]) | set(regressor["region"])) - set(both["region"]))
    n = len(both)
    if n < 3:
        raise InsufficientData(
            f"growth regression needs at least 3 regions with usable growth and {name}, "
            f"got n = {n} (dropped: {dropped})"
        )
    yv = both[f"{VALUE}_y"].to_numpy(dtype=float)
    xv = both[f"{VALUE}_x"].to_numpy(dtype=float)
    out = ols_table(yv, xv, [name], cov_type)
    p_perm, used, exact = slope_permutation_test(yv, xv, permutations=permutations, seed=seed)
    out["p_perm"] = [np.nan, p_perm]
    df = out.attrs["df"]
    out.attrs.update(
        {
            "regions": both["region"].astype(str).tolist(),
            "dropped": dropped,
            "method": (
                f"OLS g = a + b {name} on n = {n} regions with {cov_type} standard errors; "
                f"p-values and 95% CI from the t distribution with {df} degrees of freedom "
                f"(n - 2); {_permutation_sentence(n, used, exact, seed)}"
            ),
            "permutations": used,
            "exact": exact,
            "seed": seed,
            "growth_attrs": {k: v for k, v in growth.attrs.items() if isinstance(v, str | int)},
            "regressor_attrs": {
                k: v for k, v in regressor.attrs.items() if isinstance(v, str | int)
            },
        }
    )
    return out


__all__ = ["growth_regression", "ols_table", "slope_permutation_test", "usable"]
