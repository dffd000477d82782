"""Build a loopback :class:`~loopback.tables.Cube` from a tidy frame (any table).

The loopback server (:mod:`loopback.server`) serves a :class:`~loopback.tables.Cube`: dimensions
in table order and a function giving each cell. :func:`cube_from_frame` makes one from a frame in
the tidy model (one row per cell: identity columns, ``value``, ``status``, ``*_label`` columns),
so the server answers a query with the frame's numbers and symbols in the real PxWebApi 2.0 shape
(``value`` ``null`` where the frame has NaN, ``status`` where the frame has a symbol). Each
dimension is described by a :class:`FrameDim`: the frame column it comes from, the id and label
the server gives it, how frame codes become the server's value codes, and the value labels.

:func:`dims_11713` describes table 11713 (*fylkesfordelt nasjonalregnskap*) as SSB's v2 metadata
has it: ``Region`` (county codes as SSB's API has them, ``"03"``, ``"50"``, ``"0"`` for Hele
landet), the industry (``NACE2007`` by default, or another id such as ``Naering``),
``ContentsCode`` (with units) and ``Tid`` (role time). The industry and measure value codes SSB
uses in 11713 are not known offline (``shared/reference/API-NOTES.md``); the ones here are
plausible stand-ins that differ from regionstats' own codes, so a reader must map them by label
as it must for SSB's.

Nothing here shares code with ``regionstats``: the builder only reads the frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .tables import Cell, Cube, Dimension

__all__ = ["FrameDim", "cube_from_frame", "dims_11713"]


@dataclass(frozen=True)
class FrameDim:
    """How one frame column becomes one dimension of a loopback table.

    Attributes
    ----------
    column : str
        Frame column holding the identity codes (e.g. ``"region"``, ``"year"``).
    code : str
        Dimension id the server gives (e.g. ``"Region"``, ``"Tid"``).
    label : str
        Dimension label the server gives (e.g. ``"region"``, ``"år"``).
    codes : mapping or callable, optional
        Frame code (as a string) -> value code served; default: the frame code itself.
    label_column : str, optional
        Frame column with each value's label; default ``f"{column}_label"`` when the frame has
        it, else the served code is the label.
    labels : mapping, optional
        Served code -> value label; overrides ``label_column``.
    order : sequence, optional
        Served codes in table order; default: sorted.
    time, elimination, units, codelists
        As in :class:`loopback.tables.Dimension` (``units``: served code -> (base, decimals)).
    """

    column: str
    code: str
    label: str
    codes: Mapping[str, str] | Callable[[str], str] | None = None
    label_column: str | None = None
    labels: Mapping[str, str] | None = None
    order: Sequence[str] | None = None
    time: bool = False
    elimination: bool = False
    units: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    codelists: tuple[str, ...] = ()

    def served(self, frame_code: str) -> str:
        """The value code served for a frame code."""
        if self.codes is None:
            return frame_code
        if callable(self.codes):
            return str(self.codes(frame_code))
        return str(self.codes[frame_code])


def _served_column(frame: pd.DataFrame, dim: FrameDim) -> list[str]:
    if dim.column not in frame.columns:
        raise KeyError(f"frame has no column {dim.column!r} for dimension {dim.code}")
    return [dim.served(str(v)) for v in frame[dim.column].tolist()]


def _value_labels(frame: pd.DataFrame, dim: FrameDim, served: list[str]) -> dict[str, str]:
    if dim.labels is not None:
        return {c: str(dim.labels[c]) for c in dict.fromkeys(served)}
    column = dim.label_column
    if column is None and f"{dim.column}_label" in frame.columns:
        column = f"{dim.column}_label"
    if column is None:
        return {c: c for c in dict.fromkeys(served)}
    out: dict[str, str] = {}
    for code, text in zip(served, frame[column].tolist(), strict=True):
        if out.setdefault(code, str(text)) != str(text):
            raise ValueError(
                f"dimension {dim.code}: code {code!r} has two labels, {out[code]!r} and {text!r}"
            )
    return out


def cube_from_frame(
    frame: pd.DataFrame,
    dims: Sequence[FrameDim],
    *,
    table_id: str,
    label: str,
    updated: str,
    value: str = "value",
    status: str = "status",
    fill: Cell | None = None,
    codelists_key: str = "codelists",
    subject: str = "be",
) -> Cube:
    """A loopback table serving the frame's cells.

    Parameters
    ----------
    frame : DataFrame
        One row per cell; the ``dims`` columns identify it, ``value`` holds the number (NaN: no
        number, served as ``null``) and ``status`` the symbol (``<NA>``/None: none).
    dims : sequence of FrameDim
        The table's dimensions, in table order.
    table_id, label, updated : str
        The table's id, title and ``updated`` stamp (ISO 8601).
    fill : (value, status), optional
        The cell served for combinations the frame lacks; default: refuse a frame that is not
        the full product of its dimensions' codes.

    Raises
    ------
    ValueError
        Two rows for one cell, a code with two labels, or missing cells without ``fill``.
    """
    if not dims:
        raise ValueError("a table needs at least one dimension")
    served = {d.code: _served_column(frame, d) for d in dims}
    dimensions = []
    for d in dims:
        codes = served[d.code]
        texts = _value_labels(frame, d, codes)
        present = list(dict.fromkeys(codes))
        if d.order is not None:
            unknown = sorted(set(present) - set(d.order))
            if unknown:
                raise ValueError(f"dimension {d.code}: codes {unknown[:5]} are not in its order")
            ordered = [c for c in d.order if c in texts]
        else:
            ordered = sorted(present)
        dimensions.append(
            Dimension(
                d.code,
                d.label,
                tuple((c, texts[c]) for c in ordered),
                time=d.time,
                elimination=d.elimination,
                units={c: d.units[c] for c in ordered if c in d.units},
                codelists=d.codelists,
            )
        )
    values = frame[value].tolist()
    symbols = frame[status].tolist() if status in frame.columns else [None] * len(frame)
    cells: dict[tuple[str, ...], Cell] = {}
    keys = zip(*(served[d.code] for d in dims), strict=True)
    for key, number, symbol in zip(keys, values, symbols, strict=True):
        if key in cells:
            where = dict(zip(served, key, strict=True))
            raise ValueError(f"table {table_id}: two rows for the cell {where}")
        no_number = number is None or (isinstance(number, float) and math.isnan(number))
        no_symbol = (
            symbol is None or symbol is pd.NA or (isinstance(symbol, float) and symbol != symbol)
        )
        cells[key] = (None if no_number else float(number), None if no_symbol else str(symbol))
    expected = math.prod(len(d.values) for d in dimensions)
    if fill is None and len(cells) != expected:
        raise ValueError(
            f"table {table_id}: the frame has {len(cells)} cells, the product of its "
            f"dimensions {expected}; pass fill=(value, status) for the missing ones"
        )
    order = tuple(d.code for d in dims)

    def cell(codes: dict[str, str]) -> Cell:
        key = tuple(codes[c] for c in order)
        found = cells.get(key)
        if found is None:
            if fill is None:  # pragma: no cover - refused above
                raise KeyError(key)
            return fill
        return found

    return Cube(
        id=table_id,
        label=label,
        dims=tuple(dimensions),
        updated=updated,
        cell=cell,
        codelists_key=codelists_key,
        subject=subject,
    )


# ---------------------------------------------------------------------------------------------
# 11713
# ---------------------------------------------------------------------------------------------

#: Measure code (regionstats) -> (ContentsCode served, unit base, decimals). Stand-ins: SSB's
#: exact ContentsCode ids for 11713 are not known offline.
CONTENTS_11713: dict[str, tuple[str, str, int]] = {
    "value_added": ("BruttoprodBasis", "mill. kr", 0),
    "value_added_volume_change": ("BruttoprodVolum", "prosent", 1),
    "gross_investment": ("BruttoinvFast", "mill. kr", 0),
    "employed_persons": ("Sysselsatte", "1 000 personer", 1),
    "compensation": ("Lonnskost", "mill. kr", 0),
}
#: Measure code -> statistics-variable label as the statbank (and SSB's API) writes it.
CONTENTS_LABELS_11713: dict[str, str] = {
    "value_added": "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)",
    "value_added_volume_change": "Bruttoprodukt i basisverdi. Volumendring, årlig (prosent)",
    "gross_investment": "Bruttoinvestering i fast realkapital. Løpende priser (mill. kr)",
    "employed_persons": "Sysselsatte personer (1 000 personer)",
    "compensation": "Lønnskostnader. Løpende priser (mill. kr)",
}


def industry_code_11713(code: str) -> str:
    """A stand-in SSB value code for a regionstats 11713 industry code (``"10-33"`` ->
    ``"nr10_33"``, ``"TOTAL"`` -> ``"00-99"``): never equal to the regionstats code."""
    return "00-99" if code == "TOTAL" else "nr" + code.replace("-", "_").replace(".", "p")


def dims_11713(
    frame: pd.DataFrame, *, industry_id: str = "NACE2007", industry_label: str = "næring (SN2007)"
) -> list[FrameDim]:
    """The dimensions of 11713 as SSB's v2 metadata has them, for a regionstats 11713 frame.

    ``frame`` has the columns of :func:`regionstats.sources.accounts.regional_accounts`
    (``region``, ``industry``, ``measure``, ``year``, ``value``, ``status``, ``region_label``,
    ``industry_label``). Region codes are served as they are (``"0"``, ``"03"``, ``"50"``), with
    the frame's labels ("Sør-Trøndelag (-2017)"); industries get stand-in codes
    (:func:`industry_code_11713`) and the frame's labels; measures get stand-in ContentsCodes
    with the statbank labels and units; years are ``Tid`` (role time).
    """
    measures = sorted(frame["measure"].unique())
    contents = {m: CONTENTS_11713[m][0] for m in measures}
    return [
        FrameDim("region", "Region", "region"),
        FrameDim("industry", industry_id, industry_label, codes=industry_code_11713),
        FrameDim(
            "measure",
            "ContentsCode",
            "statistikkvariabel",
            codes=contents,
            labels={contents[m]: CONTENTS_LABELS_11713[m] for m in measures},
            order=[CONTENTS_11713[m][0] for m in CONTENTS_11713 if m in contents],
            units={contents[m]: CONTENTS_11713[m][1:] for m in measures},
        ),
        FrameDim("year", "Tid", "år", time=True),
    ]
