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
    value = np.full(len(merged), np.nan)
    status: list[object] = []
    for i in range(len(merged)):
        missing = [
            s
            for s, v in ((sn[i], num[i]), (sd[i], den[i]))
            if (s in MISSING_SYMBOLS) or np.isnan(v)
        ]
        if missing:
            symbols = [s for s in (sn[i], sd[i]) if s in MISSING_SYMBOLS]
            status.append(combine_status(symbols) if symbols else "..")
        elif den[i] == 0:
            status.append(ZERO_DENOMINATOR)
        else:
            value[i] = scale * num[i] / den[i]
            carried = [s for s in (sn[i], sd[i]) if s == "*"]
            status.append("*" if carried else None)
    out = merged[list(on)].copy()
    out[VALUE] = value
    out[STATUS] = as_status(status).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    return out.sort_values(list(on), ignore_index=True)
