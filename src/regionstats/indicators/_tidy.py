"""Small tidy-model helpers shared by the indicator modules (keys, ratios, status rules)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from regionstats.model import MISSING_SYMBOLS, STATUS, STATUS_PRECEDENCE, VALUE

#: Status given to a ratio whose denominator is zero (a ratio that cannot be formed).
ZERO_DENOMINATOR = "."


def identity_keys(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Identity columns of a tidy frame: all but value, status, ``*_label`` and ``exclude``."""
    return [
        c
        for c in frame.columns
        if c not in (VALUE, STATUS, *exclude) and not str(c).endswith("_label")
    ]


def symbols_of(values: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
    """``values`` as an object array: each string kept, anything else (NA, None, NaN) ``None``.

    Vectorised: the values are factorised and only the distinct values are inspected.
    """
    if not isinstance(values, (pd.Series, np.ndarray)):
        values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    kept = [u if isinstance(u, str) else None for u in np.asarray(uniques, dtype=object)]
    lookup = np.array([*kept, None], dtype=object)  # code -1 (NA) -> None
    return lookup[codes]


#: Rank of each "no number" symbol when two cells are combined (``combine_status``'s order).
_MISSING_RANK: dict[str, int] = {
    s: len(STATUS_PRECEDENCE) - i for i, s in enumerate(STATUS_PRECEDENCE) if s in MISSING_SYMBOLS
}


def missing_rank(symbols: np.ndarray) -> np.ndarray:
    """Rank of each symbol among the "no number" symbols (``":"`` highest), 0 for any other.

    The larger rank of two cells is the rank of :func:`~regionstats.model.combine_status` of
    their "no number" symbols, so combining two columns is one ``np.maximum``.

    >>> missing_rank(np.array([None, ":", "..", "*", "."], dtype=object)).tolist()
    [0, 6, 5, 0, 3]
    """
    codes, uniques = pd.factorize(np.asarray(symbols, dtype=object), use_na_sentinel=True)
    ranks = [_MISSING_RANK.get(u, 0) if isinstance(u, str) else 0 for u in uniques]
    return np.array([*ranks, 0], dtype=np.int64)[codes]


#: Symbol of each rank of :func:`missing_rank` (``None`` for rank 0).
_RANK_SYMBOL = np.full(max(_MISSING_RANK.values()) + 1, None, dtype=object)
for _symbol, _rank in _MISSING_RANK.items():
    _RANK_SYMBOL[_rank] = _symbol
del _symbol, _rank


def rank_symbol(ranks: np.ndarray) -> np.ndarray:
    """Inverse of :func:`missing_rank`: the symbol of each rank, ``None`` for 0.

    >>> rank_symbol(np.array([0, 6, 3])).tolist()
    [None, ':', '.']
    """
    return _RANK_SYMBOL[np.asarray(ranks, dtype=np.int64)]


def status_array(frame: pd.DataFrame) -> np.ndarray:
    """The status column as an object array with ``None`` for "no symbol"."""
    if STATUS not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return symbols_of(frame[STATUS])


def as_status(values: Sequence[object] | np.ndarray) -> pd.Series:
    """An object array of symbols/None as a ``string`` status column (non-strings -> NA)."""
    symbols = symbols_of(values)
    return pd.Series(pd.array(symbols, dtype="string"))


def two_part_status(
    a: np.ndarray,
    status_a: np.ndarray,
    b: np.ndarray,
    status_b: np.ndarray,
    cannot_form: np.ndarray,
    *,
    carry_provisional: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Status rules for a cell computed from two parts (a ratio, a growth rate, an index).

    * either part without a number -> no value; the more restrictive symbol of the two, or
      ``".."`` when a part is NaN without a symbol;
    * ``cannot_form`` (e.g. a zero denominator) -> no value and ``"."``, never inf;
    * otherwise a value, with ``"*"`` if ``carry_provisional`` and a part is provisional.

    Returns a boolean array of the cells that get a value, and each cell's status (an object
    array, ``None`` for no symbol). Vectorised over the cells.

    Examples
    --------
    >>> nan = np.nan
    >>> ok, st = two_part_status(np.array([1.0, nan, 1.0, 1.0]),
    ...                          np.array([None, None, ":", "*"], dtype=object),
    ...                          np.array([2.0, 2.0, nan, 0.0]),
    ...                          np.array([None, None, "..", None], dtype=object),
    ...                          np.array([False, False, False, True]))
    >>> ok.tolist(), st.tolist()
    ([True, False, False, False], [None, '..', ':', '.'])
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    rank = np.maximum(missing_rank(status_a), missing_rank(status_b))
    no_number = (rank > 0) | np.isnan(a) | np.isnan(b)
    cannot = ~no_number & np.asarray(cannot_form, dtype=bool)
    ok = ~no_number & ~cannot
    status = np.full(len(a), None, dtype=object)
    status[no_number] = np.where(rank[no_number] > 0, rank_symbol(rank[no_number]), "..")
    status[cannot] = ZERO_DENOMINATOR
    if carry_provisional:
        provisional = ok & ((symbols_of(status_a) == "*") | (symbols_of(status_b) == "*"))
        status[provisional] = "*"
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
