"""SSB's per-source quirks, in one place, each with where and when it was seen.

Regional accounts (statbank table 11713, *Fylkesfordelt nasjonalregnskap*) as exported from the
statbank and as kept in users' workbooks carry **labels only**. The codes below are regionstats'
own stable identifiers for those labels (NACE 2007 ranges where an industry is a NACE range); the
live API's codes are mapped to the same identifiers by label in :func:`industry_code`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: 11713 industry label -> (code, parent code or None). Labels as in the statbank export of
#: 2021-12-13 and the five-variable workbook (seen 2026-11 in the offline snapshot). Sub-industry
#: labels carry a leading "¬" (one per hierarchy level) in SSB's exports; it is stripped first.
INDUSTRIES_11713: dict[str, tuple[str, str | None]] = {
    "Totalt for næringer": ("TOTAL", None),
    "Jordbruk og skogbruk": ("01-02", "TOTAL"),
    "Fiske, fangst og akvakultur": ("03", "TOTAL"),
    "Bergverksdrift": ("05_07-08", "TOTAL"),
    "Utvinning av råolje og naturgass, inkl. tjenester": ("06_09.1", "TOTAL"),
    "Utvinning av råolje og naturgass": ("06", "06_09.1"),
    "Tjenester tilknyttet utvinning av råolje og naturgass": ("09.1", "06_09.1"),
    "Industri": ("10-33", "TOTAL"),
    "Nærings-, drikkevare- og tobakksindustri": ("10-12", "10-33"),
    "Tekstil-, beklednings- og lærvareindustri": ("13-15", "10-33"),
    "Trelast-, trevare- og papirvareindustri": ("16-17", "10-33"),
    "Trykking og reproduksjon av innspilte opptak": ("18", "10-33"),
    "Oljeraffinering, kjemisk og farmasøytisk industri": ("19-21", "10-33"),
    "Gummivare- og plastindustri, mineralproduktindustri": ("22-23", "10-33"),
    "Produksjon av metaller": ("24", "10-33"),
    "Produksjon av metallvarer, elektrisk utstyr og maskiner": ("25-28", "10-33"),
    "Verftsindustri og annen transportmiddelindustri": ("29-30", "10-33"),
    "Produksjon av møbler og annen industriproduksjon": ("31-32", "10-33"),
    "Reparasjon og installasjon av maskiner og utstyr": ("33", "10-33"),
    "Elektrisitets-, gass- og varmtvannsforsyning": ("35", "TOTAL"),
    "Vannforsyning, avløp og renovasjon": ("36-39", "TOTAL"),
    "Bygge- og anleggsvirksomhet": ("41-43", "TOTAL"),
    "Varehandel og reparasjon av motorvogner": ("45-47", "TOTAL"),
    "Rørtransport": ("49.5", "TOTAL"),
    "Utenriks sjøfart": ("50.1", "TOTAL"),
    "Transport utenom utenriks sjøfart": ("49-52x", "TOTAL"),
    "Post og distribusjonsvirksomhet": ("53", "TOTAL"),
    "Overnattings- og serveringsvirksomhet": ("55-56", "TOTAL"),
    "Informasjon og kommunikasjon": ("58-63", "TOTAL"),
    "Finansierings- og forsikringsvirksomhet": ("64-66", "TOTAL"),
    "Omsetning og drift av fast eiendom": ("68x", "TOTAL"),
    "Boligtjenester, egen bolig": ("68.2b", "TOTAL"),
    "Faglig, vitenskapelig og teknisk tjenesteyting": ("69-75", "TOTAL"),
    "Forretningsmessig tjenesteyting": ("77-82", "TOTAL"),
    "Offentlig administrasjon og forsvar": ("84", "TOTAL"),
    "Undervisning": ("85", "TOTAL"),
    "Helse- og omsorgstjenester": ("86-88", "TOTAL"),
    "Kultur, underholdning og annen tjenesteyting": ("90-99", "TOTAL"),
    # Aggregates that are not part of the industry breakdown (sectors / Mainland Norway):
    "Fastlands-Norge": ("MAINLAND", None),
    "Offentlig forvaltning": ("GOV", None),
    "Statsforvaltning": ("GOV_CENTRAL", "GOV"),
    "Kommuneforvaltning": ("GOV_LOCAL", "GOV"),
}

#: The 24 industries whose sum is "Totalt for næringer" in 11713.
TOP_LEVEL_INDUSTRIES: tuple[str, ...] = tuple(
    code for code, parent in INDUSTRIES_11713.values() if parent == "TOTAL"
)

#: 11713 statistics variable label -> (measure code, unit as published).
MEASURES_11713: dict[str, tuple[str, str]] = {
    "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)": ("value_added", "NOK million"),
    "Bruttoprodukt i basisverdi. Volumendring, årlig (prosent)": (
        "value_added_volume_change",
        "percent",
    ),
    "Bruttoinvestering i fast realkapital. Løpende priser (mill. kr)": (
        "gross_investment",
        "NOK million",
    ),
    "Sysselsatte personer (1 000 personer)": ("employed_persons", "1000 persons"),
    "Lønnskostnader. Løpende priser (mill. kr)": ("compensation", "NOK million"),
}

#: Short column names used in the snapshot's CSV conversion of the statbank export.
MEASURE_ALIASES_11713: dict[str, str] = {
    "bruttoprodukt_basisverdi_lopende_mill_kr": "value_added",
    "sysselsatte_1000_personer": "employed_persons",
}

UNITS_11713: dict[str, str] = {code: unit for code, unit in MEASURES_11713.values()}

_REGION_LABEL = re.compile(r"^\s*(?P<code>\d{1,4})\s+(?P<label>.+?)\s*$")
_VALIDITY = re.compile(r"\((?P<start>\d{4})?-(?P<end>\d{4})?\)\s*$")


class UnknownLabel(ValueError):
    """A label that regionstats does not know how to code."""


def split_region_label(text: str) -> tuple[str, str]:
    """Split a statbank region label such as ``"01 Østfold (-2019)"`` into code and label.

    Counties are 2-character codes, municipalities 4, the nation ``"0"`` (as SSB codes it).

    >>> split_region_label("01 Østfold (-2019)")
    ('01', 'Østfold (-2019)')
    >>> split_region_label("0 Hele landet")
    ('0', 'Hele landet')
    >>> split_region_label("K-3103 Moss")
    ('3103', 'Moss')
    """
    cleaned = re.sub(r"^[KF][-.]", "", str(text).strip())
    match = _REGION_LABEL.match(cleaned)
    if not match:
        raise UnknownLabel(f"region label {text!r} does not start with a region code")
    code = match["code"]
    if code != "0" and len(code) not in (2, 4):
        raise UnknownLabel(
            f"region label {text!r}: code {code!r} is neither county nor municipality"
        )
    return code, match["label"]


def region_validity(label: str) -> tuple[int | None, int | None]:
    """The years a statbank region label says it is valid for, e.g. ``"(2020-2023)"``.

    >>> region_validity("Viken (2020-2023)")
    (2020, 2023)
    >>> region_validity("Østfold (-2019)")
    (None, 2019)
    >>> region_validity("Oslo")
    (None, None)
    """
    match = _VALIDITY.search(label)
    if not match:
        return None, None
    start, end = match["start"], match["end"]
    return (int(start) if start else None, int(end) if end else None)


def industry_code(label: str) -> str:
    """The regionstats code of an 11713 industry label (leading "¬" markers stripped).

    >>> industry_code("¬¬ Statsforvaltning")
    'GOV_CENTRAL'
    """
    key = str(label).lstrip("¬").strip()
    try:
        return INDUSTRIES_11713[key][0]
    except KeyError:
        raise UnknownLabel(
            f"industry label {label!r} is not a known 11713 industry; "
            f"known: {sorted(INDUSTRIES_11713)}"
        ) from None


def industry_label(code: str) -> str:
    """The Norwegian label of a regionstats 11713 industry code."""
    for label, (known, _parent) in INDUSTRIES_11713.items():
        if known == code:
            return label
    raise UnknownLabel(f"industry code {code!r} is not a known 11713 industry")


def measure_code(label: str) -> str:
    """The regionstats measure code of an 11713 statistics-variable label or CSV column alias."""
    key = str(label).strip()
    if key in MEASURE_ALIASES_11713:
        return MEASURE_ALIASES_11713[key]
    try:
        return MEASURES_11713[key][0]
    except KeyError:
        raise UnknownLabel(
            f"statistics variable {label!r} is not a known 11713 measure; "
            f"known: {sorted(MEASURES_11713)}"
        ) from None


def parse_cell(raw: object) -> tuple[float, object]:
    """A statbank cell as ``(value, status)``: numbers pass, symbols become status with NaN.

    >>> parse_cell(":")
    (nan, ':')
    >>> parse_cell("2569.7")
    (2569.7, <NA>)
    """
    import math

    import pandas as pd

    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return math.nan, pd.NA
    if isinstance(raw, int | float):
        return float(raw), pd.NA
    text = str(raw).strip().replace("\u00a0", "").replace(" ", "")
    if text in {":", "..", "...", ".", "-"}:
        return (0.0 if text == "-" else math.nan), text
    try:
        return float(text.replace(",", ".")), pd.NA
    except ValueError:
        raise UnknownLabel(f"cell {raw!r} is neither a number nor an SSB symbol") from None


def mark_nonexistent_region_years(frame: pd.DataFrame) -> pd.DataFrame:
    """Mark every cell of a county in a year it did not exist ``"."`` (not applicable), no value.

    One rule for every 11713 source (statbank files and the live API), applied to a tidy frame
    with ``region``, ``region_label``, ``industry``, ``measure``, ``year``, ``value`` and
    ``status`` (modified in place and returned). A county-year did not exist when

    * its "Totalt for næringer" (``TOTAL``) value added is exactly 0: the statbank export of
      2021-12-13 writes such county-years (Trøndelag 50 before 2018, Sør-/Nord-Trøndelag 16/17 in
      2018) as 0 in every cell (seen 2026-11 in the offline snapshot);
    * or that cell has no number and either no symbol or ``"."``: what a PxWebApi 2.0 answer
      carries for such county-years (a ``null`` value without a status, or the symbol ``"."``;
      [unverified against SSB's live 11713], both are covered);
    * or the year lies outside the validity the county's label states, e.g.
      "Sør-Trøndelag (-2017)" (the export writes ":" for 16/17 in 2019 and 0 in 2018).

    A suppressed (``":"``) or missing (``".."``) total is a county-year that existed, and is
    left alone.
    """
    import numpy as np
    import pandas as pd

    total = frame[(frame["industry"] == "TOTAL") & (frame["measure"] == "value_added")]
    no_number = total["value"].isna() & (total["status"].isna() | total["status"].eq("."))
    dead = total.loc[(total["value"] == 0) | no_number.fillna(False), ["region", "year"]]
    keys = pd.MultiIndex.from_frame(frame[["region", "year"]])
    hit = keys.isin(pd.MultiIndex.from_frame(dead)) if len(dead) else np.zeros(len(frame), bool)
    validity = {lab: region_validity(lab) for lab in frame["region_label"].unique()}
    start = frame["region_label"].map(lambda lab: validity[lab][0] or 0)
    end = frame["region_label"].map(lambda lab: validity[lab][1] or 9999)
    hit = hit | ((frame["year"] < start) | (frame["year"] > end)).to_numpy()
    if not hit.any():
        return frame
    frame.loc[hit, "value"] = np.nan
    frame.loc[hit, "status"] = "."
    return frame
