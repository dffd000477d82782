"""County structures of the regional accounts (11713); county crosswalks from municipalities.

Structures (KLASS 104, *Standard for fylkesinndeling*):

* **19 counties** to 2019 (01 Østfold ... 20 Finnmark; 16 Sør- and 17 Nord-Trøndelag merged into
  50 Trøndelag on 1 January 2018);
* **11 counties** 2020-2023 (30 Viken = 01+02+06, 34 Innlandet = 04+05, 38 Vestfold og Telemark,
  42 Agder, 46 Vestland, 54 Troms og Finnmark, ...);
* **15 counties** from 2024 (30 -> 31/32/33, 38 -> 39/40, 54 -> 55/56).

A municipality's county is the first two digits of its code in that year, so county crosswalks
are derived from the municipality history: county *c* of year *y* goes to county *C* of the target
vintage with share

.. math:: s_{c \\to C} = \\frac{\\sum_{m \\in c} a_m \\, f(m \\to C)}{\\sum_{m \\in c} a_m}

where :math:`f(m \\to C)` is the share of municipality *m* ending in *C* and :math:`a_m` its
weight (population or employment of the data year). Counties whose municipalities all end in one
county need no weights; the others -- those losing municipalities to another county, e.g. Oppland
(Jevnaker 0532, Lunner 0533 -> Viken 2020), Sogn og Fjordane (Hornindal 1444 -> Volda, Møre og
Romsdal 2020), Møre og Romsdal (Halsa 1571 -> Heim, Trøndelag 2020; Rindal 1567 -> 5061 in 2019),
Nordland (Tjeldsund 1852 -> Troms og Finnmark 2020), Vestfold (Svelvik 0711 -> Drammen 2020), and
every split of 2024 -- are apportioned and reported in the audit, or merged exactly.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regionstats.regions.crosswalk import CodeHistory, SplitWeights, compose
from regionstats.regions.errors import MissingWeightsError, UnknownCodeError

#: County codes and names of each structure (KLASS 104).
COUNTY_STRUCTURES: dict[str, dict[str, str]] = {
    "19 (-2019)": {
        "01": "Østfold", "02": "Akershus", "03": "Oslo", "04": "Hedmark", "05": "Oppland",
        "06": "Buskerud", "07": "Vestfold", "08": "Telemark", "09": "Aust-Agder",
        "10": "Vest-Agder", "11": "Rogaland", "12": "Hordaland", "14": "Sogn og Fjordane",
        "15": "Møre og Romsdal", "16": "Sør-Trøndelag (-2017)", "17": "Nord-Trøndelag (-2017)",
        "18": "Nordland", "19": "Troms", "20": "Finnmark", "50": "Trøndelag (2018-)",
    },
    "11 (2020-2023)": {
        "03": "Oslo", "11": "Rogaland", "15": "Møre og Romsdal", "18": "Nordland",
        "30": "Viken", "34": "Innlandet", "38": "Vestfold og Telemark", "42": "Agder",
        "46": "Vestland", "50": "Trøndelag", "54": "Troms og Finnmark",
    },
    "15 (2024-)": {
        "03": "Oslo", "11": "Rogaland", "15": "Møre og Romsdal", "18": "Nordland",
        "31": "Østfold", "32": "Akershus", "33": "Buskerud", "34": "Innlandet",
        "39": "Vestfold", "40": "Telemark", "42": "Agder", "46": "Vestland",
        "50": "Trøndelag", "55": "Troms", "56": "Finnmark",
    },
}  # fmt: skip

_LABEL = re.compile(r"^\s*(\d{1,2})\s+(.*?)\s*$")


def county_structure(year: int) -> str:
    """Name of the county structure in force on 1 January ``year``."""
    if year >= 2024:
        return "15 (2024-)"
    if year >= 2020:
        return "11 (2020-2023)"
    return "19 (-2019)"


def parse_region_label(label: str) -> tuple[str, str]:
    """Code and name from an 11713 region label.

    ``"01 Østfold (-2019)" -> ("01", "Østfold (-2019)")``, ``"0 Hele landet" -> ("0", "Hele
    landet")``. County codes come back as 2-char strings.
    """
    match = _LABEL.match(str(label))
    if match is None:
        raise ValueError(f"region label {label!r} does not start with a code")
    code = match.group(1)
    return (code if code == "0" else code.zfill(2)), match.group(2)


def counties_in(history: CodeHistory, year: int) -> frozenset[str]:
    """County codes of ``year``: the first two digits of its municipality codes."""
    return frozenset(code[:2] for code in history.codes[year])


def county_validity(history: CodeHistory, county: str) -> str:
    years = [y for y in sorted(history.codes) if county in counties_in(history, y)]
    if not years:
        return f"not a county code in {history.first_year}-{history.last_year}"
    span = f"{history.first_year}-{history.last_year}"
    return f"county {county} is valid in {years[0]}-{years[-1]} (history {span})"


@dataclass
class CountyEdge:
    weight: float
    kind: str
    moved: str
    basis: str


def county_mapping(
    history: CodeHistory,
    code_year: int,
    data_year: int,
    to: int,
    *,
    weights: pd.DataFrame | None,
    split_weights: SplitWeights,
    exact: bool,
    sources: set[str] | None = None,
) -> dict[str, dict[str, CountyEdge]]:
    """Counties of ``code_year`` -> counties of vintage ``to`` with shares (see module docstring).

    ``weights``: municipal weights (``region`` 4-char codes of ``code_year``, ``weight``,
    optional ``year`` = data year) or county shares (``source_region``, ``region`` 2-char,
    ``weight``, optional ``year``). Raises :class:`MissingWeightsError` naming the moving
    municipalities when a county is split and no weights cover it (unless ``exact``).
    """
    valid = counties_in(history, code_year)
    for c in sorted(sources or set()):
        if c not in valid:
            raise UnknownCodeError(
                f"county code {c!r} is not valid in {data_year}: {county_validity(history, c)}"
            )
    muni = compose(history, code_year, to, split_weights, require_weights=False)
    by_county: dict[str, list[str]] = defaultdict(list)
    for m in sorted(muni):
        by_county[m[:2]].append(m)
    # f(m -> C)
    frac: dict[str, dict[str, float]] = {}
    for m, m_targets in muni.items():
        shares_m: dict[str, float] = defaultdict(float)
        for t, edge in m_targets.items():
            shares_m[t[:2]] += edge.weight
        frac[m] = {next(iter(shares_m)): 1.0} if len(shares_m) == 1 else dict(shares_m)
    preds: dict[str, set[str]] = defaultdict(set)
    for c, munis in by_county.items():
        for m in munis:
            preds.update({C: preds[C] | {c} for C in frac[m]})
    is_muni_weights = weights is not None and weights["region"].astype("str").str.len().eq(4).all()
    out: dict[str, dict[str, CountyEdge]] = {}
    for c in sorted(sources if sources is not None else by_county):
        munis = by_county[c]
        targets = sorted({C for m in munis for C in frac[m]})
        if len(targets) == 1:
            C = targets[0]
            kind = "merged" if len(preds[C]) > 1 else ("unchanged" if c == C else "renumbered")
            out[c] = {C: CountyEdge(1.0, kind, "", "identity")}
            continue
        main = {m: max(frac[m], key=lambda k: frac[m][k]) for m in munis}
        counts: dict[str, int] = defaultdict(int)
        for m in munis:
            counts[main[m]] += 1
        home = max(counts, key=lambda k: counts[k])
        moved = "; ".join(
            f"{m} {history.names.get(m, '')}->{'/'.join(sorted(frac[m]))}".replace("  ", " ")
            for m in munis
            if set(frac[m]) != {home}
        )
        shares: dict[str, float] = {}
        basis = ""
        if exact:
            shares = {C: np.nan for C in targets}
        elif weights is not None and not is_muni_weights:
            rows = weights[weights["source_region"] == c]
            if "year" in weights.columns:
                rows = rows[rows["year"] == data_year]
            if set(rows["region"]) == set(targets):
                total = float(rows["weight"].sum())
                shares = {
                    r: float(w) / total for r, w in zip(rows["region"], rows["weight"], strict=True)
                }
                basis = weights.attrs.get("weight_basis", "user county shares")
        elif weights is not None:
            rows = weights
            if "year" in weights.columns:
                rows = rows[rows["year"] == data_year]
            a = dict(zip(rows["region"], rows["weight"].astype(float), strict=False))
            lacking = [m for m in munis if m not in a or not np.isfinite(a[m])]
            nan_frac = [m for m in munis if any(np.isnan(v) for v in frac[m].values())]
            if not lacking and not nan_frac:
                total = sum(a[m] for m in munis)
                for m in munis:
                    for county, share in frac[m].items():
                        shares[county] = shares.get(county, 0.0) + a[m] * share / total
                basis = weights.attrs.get("weight_basis", "user municipal weights")
            elif nan_frac:
                raise MissingWeightsError(
                    f"county {c} ({data_year}): municipalities {nan_frac} are split across "
                    "counties and need split weights (a 'source_region' weights frame)"
                )
            else:
                raise MissingWeightsError(
                    f"county {c} is split in {data_year} between counties {targets} (moving: "
                    f"{moved}); the weights lack municipalities {lacking[:8]}"
                    f"{' ...' if len(lacking) > 8 else ''} for year {data_year} "
                    f"(codes of {code_year}). Pass municipal weights for them, or exact=True"
                )
        if not shares:
            raise MissingWeightsError(
                f"county {c} is split in {data_year} between counties {targets} (moving: {moved}); "
                "pass weights= (municipal population/employment of that year: 'region', 'year', "
                "'weight'; or county shares: 'source_region', 'region', 'weight'), or exact=True"
            )
        out[c] = {C: CountyEdge(shares[C], "split", moved, basis) for C in targets}
    return out
