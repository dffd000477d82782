"""Hand-made statbank tables for the loopback server: cubes built from dimension lists.

Every cell value comes from a deterministic function of the cell's codes (a CRC32 of the codes),
so two servers with the same tables answer identically and a test can recompute any cell
independently with :func:`cell_value`. A few cells carry SSB status symbols:

* 07459-like population: municipalities that ceased at the 2020 reform (1001, 1002, 1018, 1102,
  1129) are ``"."`` (not applicable) from 2020, their successors (4204, 1108) are ``"."`` before
  2020; Oslo, age 010, women, 2016 is ``":"`` (suppressed);
* 11713-like regional accounts: Oslo ``"03"`` x ``"05-09"`` (mining) is ``":"`` in every year,
  and ``"50"`` (Trøndelag) is ``".."`` before 2018.

The codes and names are real-looking (real municipality and county numbers), the numbers are not.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Cell = tuple[float | None, str | None]

#: SSB symbols meaning "no number in this cell".
MISSING = frozenset({":", "..", "...", "."})


@dataclass(frozen=True)
class Dimension:
    """One variable of a table: its code, label and ordered values ``[(code, label), ...]``."""

    code: str
    label: str
    values: tuple[tuple[str, str], ...]
    time: bool = False
    elimination: bool = False
    units: dict[str, tuple[str, int]] = field(default_factory=dict)
    codelists: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        return [c for c, _ in self.values]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class Codelist:
    """An ``agg_`` (aggregation) or ``vs_`` (value set) codelist of one variable."""

    id: str
    label: str
    variable: str
    values: tuple[tuple[str, str, tuple[str, ...]], ...]  # (code, label, member codes)

    @property
    def type(self) -> str:
        return "Valueset" if self.id.startswith("vs_") else "Aggregation"

    @property
    def codes(self) -> list[str]:
        return [c for c, _, _ in self.values]


@dataclass
class Cube:
    """A statbank table: dimensions in table order and a function giving each cell."""

    id: str
    label: str
    dims: tuple[Dimension, ...]
    updated: str
    cell: Callable[[dict[str, str]], Cell]
    codelists_key: str = "codelists"  # SSB's beta output spelled it "codeLists"
    discontinued: bool = False
    subject: str = "be"

    def dim(self, code: str) -> Dimension:
        for d in self.dims:
            if d.code.lower() == code.lower():
                return d
        raise KeyError(code)

    @property
    def time_dim(self) -> Dimension:
        return next(d for d in self.dims if d.time)


def cell_value(codes: Sequence[str], decimals: int = 0) -> float:
    """The deterministic value of the cell with these codes (in table dimension order).

    ``crc32("|".join(codes)) % 100000``, divided by ``10**decimals``.
    """
    raw = zlib.crc32("|".join(codes).encode("utf-8")) % 100_000
    return raw / 10**decimals if decimals else float(raw)


# ---------------------------------------------------------------------------------------------
# 07459-like: population by region, sex, age, contents and year
# ---------------------------------------------------------------------------------------------

POP_REGIONS: tuple[tuple[str, str], ...] = (
    ("0301", "Oslo"),
    ("1001", "Kristiansand (-2019)"),
    ("1002", "Mandal (-2019)"),
    ("1018", "Søgne (-2019)"),
    ("4204", "Kristiansand"),
    ("1102", "Sandnes (-2019)"),
    ("1129", "Forsand (-2019)"),
    ("1108", "Sandnes"),
    ("1103", "Stavanger"),
    ("5001", "Trondheim"),
)
CEASED_2020 = frozenset({"1001", "1002", "1018", "1102", "1129"})
NEW_2020 = frozenset({"4204", "1108"})
POP_YEARS = tuple(str(y) for y in range(2015, 2025))
POP_AGES = tuple((f"{a:03d}", f"{a} år") for a in range(11))


def _population_cell(codes: dict[str, str]) -> Cell:
    region, year = codes["Region"], int(codes["Tid"])
    if (region in CEASED_2020 and year >= 2020) or (region in NEW_2020 and year < 2020):
        return None, "."
    if region == "0301" and codes["Alder"] == "010" and codes["Kjonn"] == "2" and year == 2016:
        return None, ":"
    order = ("Region", "Kjonn", "Alder", "ContentsCode", "Tid")
    return cell_value([codes[k] for k in order]), None


def population_table() -> Cube:
    """A 07459-like table: Region x Kjonn x Alder x ContentsCode x Tid (10x2x11x1x10 = 2,200)."""
    return Cube(
        id="07459",
        label="07459: Befolkning, etter region, kjønn, alder, statistikkvariabel og år",
        updated="2025-02-25T07:00:00Z",
        dims=(
            Dimension(
                "Region",
                "region",
                POP_REGIONS,
                elimination=True,
                codelists=("agg_KommSummer", "vs_Fylker"),
            ),
            Dimension("Kjonn", "kjønn", (("1", "Menn"), ("2", "Kvinner")), elimination=True),
            Dimension(
                "Alder", "alder", POP_AGES, elimination=True, codelists=("agg_FemAarigGruppering",)
            ),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                (("Personer1", "Personer"),),
                units={"Personer1": ("antall", 0)},
            ),
            Dimension("Tid", "år", tuple((y, y) for y in POP_YEARS), time=True),
        ),
        cell=_population_cell,
        codelists_key="codelists",
    )


# ---------------------------------------------------------------------------------------------
# 11713-like: regional accounts by county, industry, contents and year
# ---------------------------------------------------------------------------------------------

FNR_REGIONS: tuple[tuple[str, str], ...] = (
    ("0", "Hele landet"),
    ("03", "Oslo"),
    ("11", "Rogaland"),
    ("42", "Agder"),
    ("46", "Vestland"),
    ("50", "Trøndelag"),
)
FNR_INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("01-03", "Jordbruk, skogbruk og fiske"),
    ("05-09", "Bergverksdrift og utvinning"),
    ("10-33", "Industri"),
    ("35-39", "Elektrisitet, vann og renovasjon"),
    ("41-43", "Bygge- og anleggsvirksomhet"),
    ("45-47", "Varehandel, reparasjon av motorvogner"),
    ("49-53", "Transport og lagring"),
    ("84", "Offentlig administrasjon og forsvar"),
)
FNR_CONTENTS: tuple[tuple[str, str], ...] = (
    ("BruttoprodBasis", "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)"),
    ("Sysselsatte", "Sysselsatte personer (1 000 personer)"),
    ("Lonnskost", "Lønnskostnader. Løpende priser (mill. kr)"),
)
FNR_YEARS = tuple(str(y) for y in range(2008, 2022))


def _accounts_cell(codes: dict[str, str]) -> Cell:
    if codes["Region"] == "03" and codes["NACE2007"] == "05-09":
        return None, ":"
    if codes["Region"] == "50" and int(codes["Tid"]) < 2018:
        return None, ".."
    order = ("Region", "NACE2007", "ContentsCode", "Tid")
    return cell_value([codes[k] for k in order], decimals=1), None


def accounts_table() -> Cube:
    """An 11713-like table: Region x NACE2007 x ContentsCode x Tid (6x8x3x14 = 2,016 cells)."""
    return Cube(
        id="11713",
        label=(
            "11713: Fylkesfordelt nasjonalregnskap, etter region, næring, statistikkvariabel og år"
        ),
        updated="2024-03-13T07:00:00Z",
        dims=(
            Dimension("Region", "region", FNR_REGIONS),
            Dimension(
                "NACE2007", "næring (SN2007)", FNR_INDUSTRIES, codelists=("agg_NACE2007Hoved",)
            ),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                FNR_CONTENTS,
                units={
                    "BruttoprodBasis": ("mill. kr", 0),
                    "Sysselsatte": ("1 000 personer", 1),
                    "Lonnskost": ("mill. kr", 0),
                },
            ),
            Dimension("Tid", "år", tuple((y, y) for y in FNR_YEARS), time=True),
        ),
        cell=_accounts_cell,
        codelists_key="codeLists",
        subject="nr",
    )


def default_tables() -> dict[str, Cube]:
    """The tables the loopback server serves by default, by id."""
    return {t.id: t for t in (population_table(), accounts_table())}


def default_codelists() -> dict[str, Codelist]:
    """The codelists the loopback server serves by default, by id."""
    lists = (
        Codelist(
            "agg_KommSummer",
            "Kommunesummer, gjeldende kommuner",
            "Region",
            (
                ("K-0301", "Oslo", ("0301",)),
                ("K-4204", "Kristiansand", ("1001", "1002", "1018", "4204")),
                ("K-1108", "Sandnes", ("1102", "1129", "1108")),
                ("K-1103", "Stavanger", ("1103",)),
                ("K-5001", "Trondheim", ("5001",)),
            ),
        ),
        Codelist(
            "vs_Fylker",
            "Utvalgte kommuner",
            "Region",
            (("0301", "Oslo", ("0301",)), ("5001", "Trondheim", ("5001",))),
        ),
        Codelist(
            "agg_FemAarigGruppering",
            "Femårige aldersgrupper",
            "Alder",
            (
                ("F00-04", "0-4 år", ("000", "001", "002", "003", "004")),
                ("F05-09", "5-9 år", ("005", "006", "007", "008", "009")),
                ("F10-14", "10-14 år", ("010",)),
            ),
        ),
        Codelist(
            "agg_NACE2007Hoved",
            "Hovednæringer",
            "NACE2007",
            (
                (
                    "VARE",
                    "Vareproduserende næringer",
                    ("01-03", "05-09", "10-33", "35-39", "41-43"),
                ),
                ("TJEN", "Tjenesteytende næringer", ("45-47", "49-53", "84")),
            ),
        ),
    )
    return {c.id: c for c in lists}
