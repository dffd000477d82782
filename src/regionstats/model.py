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
        bad = frame[key].map(lambda v: not isinstance(v, str)).to_numpy(dtype=bool)
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


def aggregate(
    frame: pd.DataFrame, by: Sequence[str], *, value: str = VALUE, status: str = STATUS
) -> pd.DataFrame:
    """Sum ``value`` over groups ``by``, propagating status symbols.

    A group with any cell lacking a number (status in :data:`MISSING_SYMBOLS`, or NaN value)
    gets value NaN and the most restrictive symbol of its cells (``".."`` if a NaN value had no
    symbol). Never fills a missing part with 0.
    """
    work = frame[[*by, value, status]].copy()
    work["_nan"] = work[value].isna()
    grouped = work.groupby(list(by), sort=True, dropna=False, observed=True)
    out = grouped[value].sum(min_count=1).to_frame(VALUE)
    has_nan = grouped["_nan"].any()
    symbols = grouped[status].agg(lambda s: combine_status(s.tolist()))
    out[STATUS] = symbols.astype("string")
    out.loc[has_nan, VALUE] = np.nan
    needs_symbol = has_nan & out[STATUS].isna()
    out.loc[needs_symbol, STATUS] = ".."
    return out.reset_index()
