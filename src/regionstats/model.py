"""The tidy data model shared by every stage of regionstats.

One row per observation:

* identity columns hold **codes as strings**: ``region`` (municipality ``"0301"``, county
  ``"03"``, national ``"0"``), ``year`` (int) and the table's own dimensions (e.g. ``industry``,
  ``measure``);
* ``value``: float, NaN where the source published no number;
* ``status``: SSB's symbol for the cell (``":"`` suppressed, ``".."`` missing, ``"."`` not
  applicable, ``"..."`` not yet available, ``"-"`` nil, ``"*"`` provisional) or missing (``<NA>``)
  for an ordinary number. A symbol is data: it is never turned into 0 and it propagates
  through aggregation;
* optional ``<column>_label`` columns carry display labels (never used as identity);
* ``DataFrame.attrs`` carries ``table`` (e.g. ``"11713"``), ``source`` (file path or URL),
  ``vintage`` (the table's ``updated`` time or the file's date), ``units``
  (``{measure: unit}``) and, where the source has them, ``footnotes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

#: SSB's standard table symbols ("Standardtegn i tabeller").
STATUS_SYMBOLS: dict[str, str] = {
    ":": "suppressed (Vises ikke av konfidensialitetshensyn)",
    "..": "missing (Tallgrunnlag mangler)",
    "...": "not yet available (Oppgave mangler foreløpig)",
    ".": "not applicable (Tall kan ikke forekomme)",
    "-": "nil (Null)",
    "*": "provisional (Foreløpig tall)",
}

#: Symbols that mean "no number here": a cell with one of these has ``value`` NaN.
MISSING_SYMBOLS = frozenset({":", "..", "...", "."})

#: Order in which symbols win when cells with different symbols are aggregated: the
#: most restrictive first. A sum with a suppressed part is suppressed.
STATUS_PRECEDENCE: tuple[str, ...] = (":", "..", "...", ".", "*", "-")

VALUE = "value"
STATUS = "status"


class TidyFrameError(ValueError):
    """A frame does not follow the tidy model."""


def empty_status(n: int) -> pd.Series:
    """A status column of ``n`` missing symbols."""
    return pd.Series(pd.array([pd.NA] * n, dtype="string"))


def _not_strings(column: pd.Series) -> np.ndarray:
    """Mask of the entries of a code column that are not ``str`` (vectorised where possible).

    A pandas string dtype holds only strings and missing values; an object column whose
    inferred type is ``"string"`` holds only strings; anything else is checked entry by entry.
    """
    if isinstance(column.dtype, pd.StringDtype):
        return column.isna().to_numpy(dtype=bool)
    if pd.api.types.infer_dtype(column, skipna=False) == "string":
        return np.zeros(len(column), dtype=bool)
    return column.map(lambda v: not isinstance(v, str)).to_numpy(dtype=bool)


def validate_tidy(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Check that ``frame`` follows the tidy model with identity columns ``keys``.

    Raises :class:`TidyFrameError` naming the first problem: a missing column, a non-string
    code column, duplicate identities, or a number hiding behind a "no number" symbol.
    Returns ``frame`` unchanged so it can be used in a chain.
    """
    missing = [c for c in (*keys, VALUE, STATUS) if c not in frame.columns]
    if missing:
        raise TidyFrameError(f"tidy frame lacks columns {missing}; has {list(frame.columns)}")
    for key in keys:
        if key == "year":
            if not pd.api.types.is_integer_dtype(frame[key]):
                raise TidyFrameError(f"'year' must be integer, is {frame[key].dtype}")
            continue
        if not (pd.api.types.is_string_dtype(frame[key]) or frame[key].dtype == object):
            raise TidyFrameError(f"code column {key!r} must hold strings, is {frame[key].dtype}")
        bad = _not_strings(frame[key])
        if bad.any():
            raise TidyFrameError(
                f"code column {key!r} holds non-strings, e.g. {frame.loc[bad, key].iloc[0]!r}"
            )
    dup = frame.duplicated(list(keys))
    if dup.any():
        example = frame.loc[dup, list(keys)].iloc[0].to_dict()
        raise TidyFrameError(f"{int(dup.sum())} duplicate identities, e.g. {example}")
    hidden = frame[STATUS].isin(list(MISSING_SYMBOLS)).to_numpy(dtype=bool) & frame[
        VALUE
    ].notna().to_numpy(dtype=bool)
    if hidden.any():
        raise TidyFrameError(f"{int(hidden.sum())} cells carry a 'no number' symbol and a value")
    return frame


def combine_status(symbols: Iterable[object]) -> object:
    """The status of an aggregate of cells with these symbols (most restrictive wins).

    The order is :data:`STATUS_PRECEDENCE`; a symbol outside it loses to every symbol in it, and
    among such symbols the first in sorted order wins. Entries that are not strings (``pd.NA``,
    ``None``, NaN) mean "no symbol". :func:`status_rank` is the same rule as a number, for
    vectorised aggregation.

    >>> combine_status([pd.NA, ":", ".."])
    ':'
    >>> combine_status([pd.NA, pd.NA]) is pd.NA
    True
    """
    present = {s for s in symbols if isinstance(s, str)}
    for symbol in STATUS_PRECEDENCE:
        if symbol in present:
            return symbol
    return next(iter(sorted(present)), pd.NA)


def status_rank(
    status: pd.Series | pd.api.extensions.ExtensionArray | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank each cell's symbol so that a group's highest rank is :func:`combine_status`.

    Rank 0 is "no symbol" (any non-string); the symbols of :data:`STATUS_PRECEDENCE` that occur
    rank above every other symbol, the most restrictive highest; other strings rank in reverse
    sorted order. So for any group of cells ``S``,
    ``combine_status(S) == symbols[max(rank(s) for s in S)]``.

    Returns the ranks (``int64``, one per cell) and ``symbols``, an object array indexed by rank
    (``symbols[0]`` is ``pd.NA``). Ranks are compact: only symbols that occur get one.

    Examples
    --------
    >>> ranks, symbols = status_rank(pd.Series([pd.NA, "..", ":", "*"], dtype="string"))
    >>> symbols[ranks].tolist(), symbols[ranks.max()], symbols[ranks[[0, 3]].max()]
    ([<NA>, '..', ':', '*'], ':', '*')
    """
    codes, uniques = pd.factorize(status, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    strings = {u for u in uniques if isinstance(u, str)}
    known = [s for s in reversed(STATUS_PRECEDENCE) if s in strings]
    others = sorted((s for s in strings if s not in STATUS_PRECEDENCE), reverse=True)
    symbols = np.array([pd.NA, *others, *known], dtype=object)
    rank_of = {s: r for r, s in enumerate(symbols) if r}
    unique_rank = np.array([rank_of.get(u, 0) if isinstance(u, str) else 0 for u in uniques])
    unique_rank = np.append(unique_rank.astype(np.int64), np.int64(0))  # code -1 -> rank 0
    return unique_rank[codes], symbols


def aggregate(
    frame: pd.DataFrame, by: Sequence[str], *, value: str = VALUE, status: str = STATUS
) -> pd.DataFrame:
    """Sum ``value`` over groups ``by``, propagating status symbols.

    A group with any cell lacking a number (status in :data:`MISSING_SYMBOLS`, or NaN value)
    gets value NaN and the most restrictive symbol of its cells (``".."`` if a NaN value had no
    symbol). Never fills a missing part with 0.

    The group's symbol is :func:`combine_status` of its cells' symbols, computed as the group
    maximum of :func:`status_rank` (one vectorised ``groupby``, no Python per group).

    Examples
    --------
    >>> f = pd.DataFrame({"region": ["01", "01", "02", "02"], "value": [1.0, 2.0, 3.0, np.nan],
    ...                   "status": pd.array([pd.NA, pd.NA, "*", ":"], dtype="string")})
    >>> out = aggregate(f, ["region"])
    >>> out["value"].tolist(), out["status"].tolist()
    ([3.0, nan], [<NA>, ':'])
    """
    ranks, symbols = status_rank(frame[status])
    work = frame[list(by)].copy()
    work[value] = frame[value].array
    work["_nan"] = frame[value].isna().to_numpy()
    work["_rank"] = ranks
    grouped = work.groupby(list(by), sort=True, dropna=False, observed=True)
    out = grouped[value].sum(min_count=1).to_frame(VALUE)
    has_nan = grouped["_nan"].any()
    group_rank = grouped["_rank"].max().to_numpy()
    out[STATUS] = pd.array(symbols[group_rank], dtype="string")
    out.loc[has_nan, VALUE] = np.nan
    needs_symbol = has_nan & out[STATUS].isna()
    out.loc[needs_symbol, STATUS] = ".."
    return out.reset_index()
