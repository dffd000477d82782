"""Small tidy-model helpers shared by the indicator modules (keys, ratios, status rules)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE, combine_status

#: Status given to a ratio whose denominator is zero (a ratio that cannot be formed).
ZERO_DENOMINATOR = "."


def identity_keys(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Identity columns of a tidy frame: all but value, status, ``*_label`` and ``exclude``."""
    return [
        c
        for c in frame.columns
        if c not in (VALUE, STATUS, *exclude) and not str(c).endswith("_label")
    ]


def status_array(frame: pd.DataFrame) -> np.ndarray:
    """The status column as an object array with ``None`` for "no symbol"."""
    if STATUS not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    s = frame[STATUS].astype("object")
    return np.array([v if isinstance(v, str) else None for v in s], dtype=object)


def as_status(values: Sequence[object] | np.ndarray) -> pd.Series:
    """An object array of symbols/None as a ``string`` status column."""
    return pd.Series(pd.array([v if isinstance(v, str) else pd.NA for v in values], dtype="string"))


def two_part_status(
    a: np.ndarray,
    status_a: np.ndarray,
    b: np.ndarray,
    status_b: np.ndarray,
    cannot_form: np.ndarray,
    *,
    carry_provisional: bool = False,
) -> tuple[np.ndarray, list[object]]:
    """Status rules for a cell computed from two parts (a ratio, a growth rate, an index).

    * either part without a number -> no value; the more restrictive symbol of the two, or
      ``".."`` when a part is NaN without a symbol;
    * ``cannot_form`` (e.g. a zero denominator) -> no value and ``"."``, never inf;
    * otherwise a value, with ``"*"`` if ``carry_provisional`` and a part is provisional.

    Returns a boolean array of the cells that get a value, and each cell's status (``None`` for
    no symbol).
    """
    ok = np.zeros(len(a), dtype=bool)
    status: list[object] = []
    for i in range(len(a)):
        symbols = [s for s in (status_a[i], status_b[i]) if s in MISSING_SYMBOLS]
        if symbols or np.isnan(a[i]) or np.isnan(b[i]):
            status.append(combine_status(symbols) if symbols else "..")
        elif cannot_form[i]:
            status.append(ZERO_DENOMINATOR)
        else:
            ok[i] = True
            provisional = carry_provisional and "*" in (status_a[i], status_b[i])
            status.append("*" if provisional else None)
    return ok, status


def ratio(
    numerator: pd.DataFrame,
    denominator: pd.DataFrame,
    on: Sequence[str],
    *,
    scale: float = 1.0,
) -> pd.DataFrame:
    """``scale * numerator / denominator`` matched on ``on``, with status rules.

    * either part without a number -> NaN and the more restrictive symbol of the two;
    * denominator exactly 0 -> NaN and ``"."`` (the ratio cannot be formed), never inf;
    * a numerator/denominator pair that does not match -> :class:`ValueError` naming it.
    """
    left = numerator[[*on, VALUE, STATUS]]
    right = denominator[[*on, VALUE, STATUS]]
    merged = left.merge(right, on=list(on), how="outer", suffixes=("_n", "_d"), indicator=True)
    unmatched = merged["_merge"] != "both"
    if unmatched.any():
        row = merged.loc[unmatched, list(on)].iloc[0].to_dict()
        raise ValueError(
            f"ratio: {int(unmatched.sum())} cells lack a numerator or denominator, e.g. {row}"
        )
    num = merged[f"{VALUE}_n"].to_numpy(dtype=float)
    den = merged[f"{VALUE}_d"].to_numpy(dtype=float)
    sn = status_array(merged.rename(columns={f"{STATUS}_n": STATUS}))
    sd = status_array(merged.rename(columns={f"{STATUS}_d": STATUS}))
    ok, status = two_part_status(num, sn, den, sd, den == 0, carry_provisional=True)
    value = np.full(len(merged), np.nan)
    value[ok] = scale * num[ok] / den[ok]
    out = merged[list(on)].copy()
    out[VALUE] = value
    out[STATUS] = as_status(status).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    return out.sort_values(list(on), ignore_index=True)
