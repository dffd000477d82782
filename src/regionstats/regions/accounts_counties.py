"""The regional accounts on one county structure for a whole period (pure).

11713 publishes each year on the county structure of its time: Sør- and Nord-Trøndelag (16, 17)
until 2017 and Trøndelag (50) from 2018; Rindal moved from Møre og Romsdal to Trøndelag in 2019,
and 2020 and 2024 redrew most counties. A growth rate across such a break compares different
territories, so :func:`harmonise_accounts` maps every year to the counties of ``to``, exactly
(coarsest common groups, e.g. "15+50" when Rindal's move must be absorbed) or apportioned with
weights (see :func:`regionstats.regions.harmonise`); the audit of what moved is kept in
``attrs["audit"]``.
"""

from __future__ import annotations

import pandas as pd

from regionstats.model import STATUS
from regionstats.regions.counties import COUNTY_STRUCTURES, county_structure
from regionstats.regions.harmonise import harmonise


def _group_label(code: str, names: dict[str, str], fallback: dict[str, str]) -> str:
    parts = code.split("+")
    return " + ".join(names.get(p, fallback.get(p, p)) for p in parts)


def harmonise_accounts(
    accounts: pd.DataFrame,
    to: int = 2019,
    *,
    exact: bool = True,
    weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Regional accounts (tidy 11713) on the county structure of year ``to``.

    County-years that did not exist (status ``"."``) are dropped first; the whole country
    (``"0"``) passes unchanged. Merged groups get a code like ``"15+50"`` and a label naming
    their counties ("Møre og Romsdal + Trøndelag"). Status symbols propagate: a group with a
    suppressed part is suppressed.
    """
    existing = accounts[accounts[STATUS].fillna("") != "."]
    labels = [c for c in existing.columns if c.endswith("_label")]
    industry_labels = (
        existing.drop_duplicates("industry").set_index("industry")["industry_label"]
        if "industry_label" in existing.columns
        else None
    )
    published = existing.drop_duplicates("region").set_index("region")["region_label"].to_dict()
    frame = existing.drop(columns=labels)
    frame.attrs = {}
    out = harmonise(frame, level="county", to=to, exact=exact, weights=weights)
    audit = out.attrs.get("audit")
    names = COUNTY_STRUCTURES[county_structure(to)]
    out["region_label"] = out["region"].map(
        lambda code: "Hele landet" if code == "0" else _group_label(code, names, published)
    )
    if industry_labels is not None:
        out["industry_label"] = out["industry"].map(industry_labels)
    out = out.sort_values(["region", "industry", "measure", "year"], ignore_index=True)
    out.attrs = dict(accounts.attrs)
    out.attrs.update(
        {
            "county_structure": county_structure(to),
            "harmonised_to": int(to),
            "harmonisation": "exact (coarsest common counties)" if exact else "weighted",
            "audit": audit,
        }
    )
    return out
