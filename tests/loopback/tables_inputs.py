"""Loopback tables and KLASS fixtures for the input readers of :mod:`regionstats.sources.live`.

Factories of :class:`~loopback.tables.Cube` objects shaped like SSB's PxWebApi 2.0 tables (dimension
ids, labels and contents codes as the v2 metadata plausibly has them; API-NOTES §3):

* :func:`employment_workplace_table`: a **13470-like** table, employed persons by place of work
  (*arbeidssted*), 4th quarter, 2015-: ``Region`` (``"0"``, county codes and municipality codes of
  several vintages) x ``NACE2007`` (13470's 17 groups, labels from
  :data:`regionstats.sources.employment_files.INDUSTRY_LABELS_13470`) x ``ContentsCode``
  ``SysselsatteArb`` "Sysselsatte personer etter arbeidssted" x ``Tid``;
* :func:`employment_earlier_table`: a **07984-like** table for the earlier years (2008-2015 by
  default, so 2015 overlaps 13470) with ``Kjonn`` and ``Alder`` (eliminable), an industry grouping
  that differs from 13470's in one place (``68-82`` instead of ``68-75`` + ``77-82``: invented for
  the fixture, to exercise the grouping break) and two contents, by workplace and by residence
  (``by_workplace=False`` leaves only the residence one, a table the reader must refuse);
* :func:`population_inputs_table`: a **07459-like** table, Region x Kjonn x Alder x ContentsCode
  ``Personer1`` x Tid, sexes and ages eliminable.

The municipality list is a parameter (``municipalities=``): pairs ``(code, label)`` valid in every
year, or a KLASS 131 code-list frame (``code``, ``name``, ``year``; e.g. the snapshot's lists) in
which each code is valid in the years it is listed, so a test can serve **every** municipality of a
real code list. Years of a table that the frame does not list take the nearest listed year.

**All numbers are synthetic**: each cell is :func:`loopback.tables.cell_value` of its codes
(a CRC32), so a test can recompute any cell independently. Country and county cells are synthetic
and are *not* sums of the municipalities. Symbols: a municipality-year outside the validity is
``"."`` (employment) or ``absent`` (population, default ``0``: a zero that is not data); one
``(region, industry)`` pair is ``":"`` (suppressed) in every year of the employment tables; one
population cell (a region, women, the first age, the second year) is ``":"``.

:func:`klass_fixtures` builds, from frames, the dict :class:`loopback.server.LoopbackServer` serves
as KLASS (``LoopbackServer(klass=...)``; the same shape ``_load_klass`` reads from
``tests/fixtures/loopback/klass/``). Version ids are invented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from regionstats.sources.employment_files import INDUSTRY_LABELS_13470

from .tables import Cell, Cube, Dimension, cell_value

#: Code-list frame (``code``, ``name``, ``year``) or ``(code, label)`` pairs valid in every year.
Municipalities = pd.DataFrame | Sequence[tuple[str, str]]

#: Default municipalities with their years of validity (real numbers and reform years).
DEFAULT_MUNICIPALITIES: tuple[tuple[str, str, int, int], ...] = (
    ("0301", "Oslo", 1838, 9999),
    ("1601", "Trondheim (-2017)", 1838, 2017),
    ("5001", "Trondheim", 2018, 9999),
    ("1001", "Kristiansand (-2019)", 1838, 2019),
    ("1002", "Mandal (-2019)", 1838, 2019),
    ("1018", "Søgne (-2019)", 1838, 2019),
    ("4204", "Kristiansand", 2020, 9999),
    ("0805", "Porsgrunn (-2019)", 1838, 2019),
    ("3806", "Porsgrunn (2020-2023)", 2020, 2023),
    ("4001", "Porsgrunn", 2024, 9999),
    ("1103", "Stavanger", 1838, 9999),
)

#: Country and counties in the Region dimension (dropped by the readers).
OTHER_REGIONS: tuple[tuple[str, str], ...] = (
    ("0", "Hele landet"),
    ("03", "Oslo"),
    ("08", "Telemark (-2019)"),
    ("11", "Rogaland"),
    ("40", "Telemark"),
    ("50", "Trøndelag"),
)

#: 13470's 17 industry groups (code, label) in table order.
INDUSTRIES_13470: tuple[tuple[str, str], ...] = tuple(
    (code, label) for label, code in INDUSTRY_LABELS_13470.items() if code != "TOTAL"
)

#: The 07984-like grouping: 13470's, with 68-75 and 77-82 merged (invented for the fixture).
INDUSTRIES_EARLIER: tuple[tuple[str, str], ...] = tuple(
    [(c, lab) for c, lab in INDUSTRIES_13470 if c not in {"68-75", "77-82"}][:10]
    + [("68-82", "Eiendom, teknisk og forretningsmessig tjenesteyting")]
    + [(c, lab) for c, lab in INDUSTRIES_13470 if c not in {"68-75", "77-82"}][10:]
)

WORKPLACE = ("SysselsatteArb", "Sysselsatte personer etter arbeidssted")
RESIDENCE = ("SysselsatteBo", "Sysselsatte personer etter bosted")
SEXES = (("1", "Menn"), ("2", "Kvinner"))
AGES_EARLIER = tuple((a, f"{a} år") for a in ("15-19", "20-24", "25-39", "40-54", "55-66", "67-74"))
POP_AGES = tuple((f"{a:03d}", f"{a} år") for a in range(0, 105, 15))


def municipality_validity(
    municipalities: Municipalities | None, years: Iterable[int]
) -> dict[str, tuple[str, frozenset[int]]]:
    """``code -> (label, years valid)`` over ``years`` for a municipality list (see module doc)."""
    wanted = sorted(int(y) for y in years)
    if municipalities is None:
        return {
            code: (label, frozenset(y for y in wanted if lo <= y <= hi))
            for code, label, lo, hi in DEFAULT_MUNICIPALITIES
        }
    if not isinstance(municipalities, pd.DataFrame):
        return {str(code): (str(label), frozenset(wanted)) for code, label in municipalities}
    frame = municipalities.astype({"code": "str"})
    listed = sorted(int(y) for y in frame["year"].unique())
    if not listed:
        raise ValueError("the municipality code-list frame is empty")

    def nearest(year: int) -> int:
        earlier = [y for y in listed if y <= year]
        return earlier[-1] if earlier else listed[0]

    by_year = {y: set(frame.loc[frame["year"] == y, "code"]) for y in listed}
    out: dict[str, tuple[str, frozenset[int]]] = {}
    names = frame.sort_values("year").drop_duplicates("code", keep="last")
    for code, name in zip(names["code"], names["name"].astype("str"), strict=True):
        valid = frozenset(y for y in wanted if code in by_year[nearest(y)])
        if valid:
            out[code] = (name, valid)
    return out


def _region_values(
    validity: Mapping[str, tuple[str, frozenset[int]]], prefix: str
) -> tuple[tuple[str, str], ...]:
    return OTHER_REGIONS + tuple(
        (f"{prefix}{code}", label) for code, (label, _) in validity.items()
    )


def _valid(validity: Mapping[str, tuple[str, frozenset[int]]], region: str, year: int) -> bool:
    code = region[-4:]
    if len(region) < 4 or code not in validity:
        return True  # country and counties: every year
    return year in validity[code][1]


def employment_workplace_table(
    municipalities: Municipalities | None = None,
    *,
    years: Iterable[int] = range(2015, 2025),
    table_id: str = "13470",
    suppressed: tuple[str, str] = ("0301", "05-09"),
    updated: str = "2025-06-18T06:00:00Z",
) -> Cube:
    """A 13470-like table (see the module docstring); ``Tid`` codes are years (4th quarter)."""
    year_list = [int(y) for y in years]
    validity = municipality_validity(municipalities, year_list)
    order = ("Region", "NACE2007", "ContentsCode", "Tid")

    def cell(codes: dict[str, str]) -> Cell:
        if not _valid(validity, codes["Region"], int(codes["Tid"])):
            return None, "."
        if (codes["Region"][-4:], codes["NACE2007"]) == suppressed:
            return None, ":"
        return cell_value([codes[k] for k in order]), None

    return Cube(
        id=table_id,
        label=(
            f"{table_id}: Sysselsatte per 4. kvartal, etter arbeidsstedskommune, næring (SN2007), "
            "statistikkvariabel og år"
        ),
        updated=updated,
        dims=(
            Dimension("Region", "arbeidsstedsregion", _region_values(validity, "")),
            Dimension("NACE2007", "næring (SN2007)", INDUSTRIES_13470, elimination=True),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                (WORKPLACE,),
                units={WORKPLACE[0]: ("personer", 0)},
            ),
            Dimension("Tid", "år", tuple((str(y), str(y)) for y in year_list), time=True),
        ),
        cell=cell,
        subject="al",
    )


def employment_earlier_table(
    municipalities: Municipalities | None = None,
    *,
    years: Iterable[int] = range(2008, 2016),
    table_id: str = "07984",
    by_workplace: bool = True,
    region_prefix: str = "",
    suppressed: tuple[str, str] = ("0301", "05-09"),
    updated: str = "2016-03-10T07:00:00Z",
) -> Cube:
    """A 07984-like table for earlier years (see the module docstring).

    ``region_prefix`` (e.g. ``"K."``) is put before the municipality codes, as statbank
    aggregation codes carry it; ``by_workplace=False`` serves only the residence contents.
    """
    year_list = [int(y) for y in years]
    validity = municipality_validity(municipalities, year_list)
    contents = (WORKPLACE, RESIDENCE) if by_workplace else (RESIDENCE,)
    order = ("Region", "NACE2007", "Kjonn", "Alder", "ContentsCode", "Tid")

    def cell(codes: dict[str, str]) -> Cell:
        if not _valid(validity, codes["Region"], int(codes["Tid"])):
            return None, "."
        if (codes["Region"][-4:], codes["NACE2007"]) == suppressed:
            return None, ":"
        return cell_value([codes[k] for k in order]), None

    title = "arbeidssted og bosted" if by_workplace else "bosted"
    return Cube(
        id=table_id,
        label=(
            f"{table_id}: Sysselsatte per 4. kvartal, etter {title}, næring (SN2007), kjønn, "
            "alder, statistikkvariabel og år"
        ),
        updated=updated,
        dims=(
            Dimension("Region", "region", _region_values(validity, region_prefix)),
            Dimension("NACE2007", "næring (SN2007)", INDUSTRIES_EARLIER, elimination=True),
            Dimension("Kjonn", "kjønn", SEXES, elimination=True),
            Dimension("Alder", "alder", AGES_EARLIER, elimination=True),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                contents,
                units={c: ("personer", 0) for c, _ in contents},
            ),
            Dimension("Tid", "år", tuple((str(y), str(y)) for y in year_list), time=True),
        ),
        cell=cell,
        subject="al",
    )


def population_inputs_table(
    municipalities: Municipalities | None = None,
    *,
    years: Iterable[int] = range(2008, 2026),
    ages: Sequence[tuple[str, str]] = POP_AGES,
    absent: Cell = (0.0, None),
    suppressed_region: str = "0301",
    table_id: str = "07459",
    updated: str = "2025-02-25T07:00:00Z",
) -> Cube:
    """A 07459-like table (see the module docstring).

    ``absent`` is the cell of a municipality in a year it did not exist: ``(0.0, None)`` (a zero
    that is not data, default) or e.g. ``(None, ".")``.
    """
    year_list = [int(y) for y in years]
    validity = municipality_validity(municipalities, year_list)
    order = ("Region", "Kjonn", "Alder", "ContentsCode", "Tid")
    odd_year = str(year_list[1]) if len(year_list) > 1 else str(year_list[0])

    def cell(codes: dict[str, str]) -> Cell:
        if not _valid(validity, codes["Region"], int(codes["Tid"])):
            return absent
        if (
            codes["Region"] == suppressed_region
            and codes["Kjonn"] == "2"
            and codes["Alder"] == ages[0][0]
            and codes["Tid"] == odd_year
        ):
            return None, ":"
        return cell_value([codes[k] for k in order]), None

    return Cube(
        id=table_id,
        label=f"{table_id}: Befolkning, etter region, kjønn, alder, statistikkvariabel og år",
        updated=updated,
        dims=(
            Dimension("Region", "region", _region_values(validity, ""), elimination=True),
            Dimension("Kjonn", "kjønn", SEXES, elimination=True),
            Dimension("Alder", "alder", tuple(ages), elimination=True),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                (("Personer1", "Personer"),),
                units={"Personer1": ("antall", 0)},
            ),
            Dimension("Tid", "år", tuple((str(y), str(y)) for y in year_list), time=True),
        ),
        cell=cell,
    )


def input_tables(municipalities: Municipalities | None = None) -> dict[str, Cube]:
    """The three tables above (13470, 07984, 07459) on one municipality list, by id."""
    tables = (
        employment_workplace_table(municipalities),
        employment_earlier_table(municipalities),
        population_inputs_table(municipalities),
    )
    return {t.id: t for t in tables}


# ---------------------------------------------------------------------------------------------
# KLASS fixtures from frames
# ---------------------------------------------------------------------------------------------

LAST_MODIFIED = "2025-01-02T10:00:00.000+0000"


def _runs(years: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive years: ``[2008, 2009, 2012] -> [(2008, 2009), (2012, 2012)]``."""
    out: list[tuple[int, int]] = []
    for y in sorted(set(years)):
        if out and y == out[-1][1] + 1:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return out


def _classification(
    cid: str, name: str, unit: str, version_years: Sequence[int], version_name: str
) -> dict[str, Any]:
    years = sorted(set(version_years))
    versions = [
        {
            "id": int(f"9{cid}{y}"),
            "name": f"{version_name} {y}",
            "validFrom": f"{y}-01-01",
            "validTo": f"{years[i + 1]}-01-01" if i + 1 < len(years) else None,
        }
        for i, y in enumerate(years)
    ]
    return {
        "name": name,
        "classificationType": "Klassifikasjon",
        "lastModified": LAST_MODIFIED,
        "description": "Hand-made loopback fixture built by tests/loopback/tables_inputs.py.",
        "primaryLanguage": "nb",
        "copyrighted": False,
        "includeShortName": False,
        "includeNotes": True,
        "contactPerson": {"name": "Fixture", "email": "fixture@example.invalid", "phone": ""},
        "owningSection": "000 Test",
        "statisticalUnits": [unit],
        "versions": versions,
    }


def _code_list_items(code_lists: pd.DataFrame) -> list[dict[str, Any]]:
    """KLASS items with validity from a code-list frame (``code``, ``name``, ``year``)."""
    frame = code_lists.astype({"code": "str", "name": "str"})
    last = int(frame["year"].max())
    items = []
    for code, part in frame.groupby("code", sort=True):
        by_year = dict(zip(part["year"].astype(int), part["name"], strict=True))
        for start, end in _runs(by_year):
            items.append(
                {
                    "code": str(code),
                    "name": by_year[end],
                    "level": "1",
                    "parentCode": None,
                    "validFrom": f"{start}-01-01",
                    "validTo": None if end == last else f"{end + 1}-01-01",
                    "notes": "",
                }
            )
    return items


def _changes(changes: pd.DataFrame | None) -> list[dict[str, Any]]:
    if changes is None:
        return []
    rows = []
    for rec in changes.to_dict("records"):
        rows.append(
            {
                key: (None if rec.get(key) in (None, "") or pd.isna(rec.get(key)) else rec[key])
                for key in ("oldCode", "oldName", "newCode", "newName", "changeOccurred")
            }
        )
    return rows


def _version_years(code_lists: pd.DataFrame, changes: pd.DataFrame | None) -> list[int]:
    years = {int(code_lists["year"].min())}
    if changes is not None and len(changes):
        years |= {int(str(d)[:4]) for d in changes["changeOccurred"]}
    return sorted(years)


def klass_fixtures(
    *,
    municipalities: pd.DataFrame | None = None,
    municipality_changes: pd.DataFrame | None = None,
    counties: pd.DataFrame | None = None,
    county_changes: pd.DataFrame | None = None,
    centrality: Mapping[int, pd.DataFrame] | None = None,
    centrality_municipality_level: bool = True,
    correspondence: bool = True,
) -> dict[str, Any]:
    """KLASS fixtures for ``LoopbackServer(klass=...)`` built from frames.

    Parameters
    ----------
    municipalities, counties
        Code lists (``code``, ``name``, ``year``: the codes valid on 1 January of each year) of
        classifications 131 and 104; each code becomes one item per run of consecutive years
        (``validTo`` open when the run reaches the last year listed).
    municipality_changes, county_changes
        ``codeChanges`` rows (``oldCode``, ``oldName``, ``newCode``, ``newName``,
        ``changeOccurred``; empty codes become ``null``).
    centrality
        ``edition -> frame`` shaped like
        :func:`regionstats.sources.regions_files.read_centrality_codes` (``code``,
        ``parentCode``, ``level``, ``name``, ``notes``); one KLASS 128 version per edition, valid
        until the next. Level 1 rows (the classes) are taken from the first edition.
    centrality_municipality_level
        Serve the level 2 rows (municipality -> class, notes = index) as KLASS 128 items; with
        ``False`` only the classes are items and the municipality mapping is served only as the
        131 -> 128 correspondence.
    correspondence
        Serve the 131 -> 128 correspondence built from the level 2 rows.
    """
    if centrality and correspondence and municipalities is None:
        raise ValueError("the 131 -> 128 correspondence is served under 131: pass municipalities")
    classes: dict[str, Any] = {}
    corr: dict[str, list[dict[str, Any]]] = {}
    if municipalities is not None:
        classes["131"] = {
            "classification": _classification(
                "131",
                "Standard for kommuneinndeling",
                "Kommune",
                _version_years(municipalities, municipality_changes),
                "Kommuneinndeling",
            ),
            "items": _code_list_items(municipalities),
            "changes": _changes(municipality_changes),
        }
    if counties is not None:
        classes["104"] = {
            "classification": _classification(
                "104",
                "Standard for fylkesinndeling",
                "Fylke",
                _version_years(counties, county_changes),
                "Fylkesinndeling",
            ),
            "items": _code_list_items(counties),
            "changes": _changes(county_changes),
        }
    if centrality:
        editions = sorted(int(e) for e in centrality)
        items: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        first = centrality[editions[0]].astype("str")
        for rec in first[first["level"] == "1"].to_dict("records"):
            items.append(
                {
                    "code": rec["code"],
                    "name": rec["name"],
                    "level": "1",
                    "parentCode": None,
                    "validFrom": f"{editions[0]}-01-01",
                    "validTo": None,
                    "notes": rec.get("notes", ""),
                }
            )
        for i, edition in enumerate(editions):
            start = f"{edition}-01-01"
            end = f"{editions[i + 1]}-01-01" if i + 1 < len(editions) else None
            frame = centrality[edition].astype("str")
            for rec in frame[frame["level"] == "2"].to_dict("records"):
                if centrality_municipality_level:
                    items.append(
                        {
                            "code": rec["code"],
                            "name": rec["name"],
                            "level": "2",
                            "parentCode": rec["parentCode"],
                            "validFrom": start,
                            "validTo": end,
                            "notes": rec.get("notes", ""),
                        }
                    )
                rows.append(
                    {
                        "sourceCode": rec["code"],
                        "targetCode": rec["parentCode"],
                        "validFrom": start,
                        "validTo": end,
                    }
                )
        classes["128"] = {
            "classification": _classification(
                "128", "Standard for sentralitet", "Kommune", editions, "Sentralitet"
            ),
            "items": items,
            "changes": [],
        }
        if correspondence:
            corr["131->128"] = rows
    return {"classifications": classes, "correspondences": corr}
