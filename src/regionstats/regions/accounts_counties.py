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

from regionstats.model import STATUS, VALUE, aggregate
from regionstats.regions.counties import COUNTY_STRUCTURES, county_structure
from regionstats.regions.crosswalk import CodeHistory
from regionstats.regions.harmonise import harmonise


def _group_label(code: str, names: dict[str, str], fallback: dict[str, str]) -> str:
    parts = code.split("+")
    return " + ".join(names.get(p, fallback.get(p, p)) for p in parts)


VOLUME = "value_added_volume_change"
_W, _VW = "_volume_weight", "_volume_weighted_change"


def _volume_weights(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace volume changes by two additive helper measures: weight and weight x change."""
    vol = frame[frame["measure"] == VOLUME]
    if vol.empty:
        return frame
    keys = ["region", "industry", "year"]
    va = frame[frame["measure"] == "value_added"].set_index(keys)[VALUE]
    v = vol.set_index(keys)
    previous = va.copy()
    previous.index = previous.index.set_levels(previous.index.levels[2] + 1, level=2)
    weight = previous.reindex(v.index)
    proxy = va.reindex(v.index) / (1 + v[VALUE] / 100)
    weight = weight.where(weight.notna(), proxy)
    usable = v[VALUE].notna() & weight.notna()
    parts = []
    for name, values in ((_W, weight), (_VW, weight * v[VALUE])):
        part = v.copy()
        part["measure"] = name
        part[VALUE] = values.where(usable)
        part.loc[~usable & part[STATUS].isna(), STATUS] = ".."
        parts.append(part.reset_index())
    rest = frame[frame["measure"] != VOLUME]
    out = pd.concat([rest, *parts], ignore_index=True)
    out[STATUS] = out[STATUS].astype("string")
    return out


def _volume_change_from_weights(frame: pd.DataFrame) -> pd.DataFrame:
    if not (frame["measure"] == _W).any():
        return frame
    keys = [c for c in frame.columns if c not in (VALUE, STATUS, "measure")]
    w = frame[frame["measure"] == _W].set_index(keys)
    vw = frame[frame["measure"] == _VW].set_index(keys)
    vol = vw.copy()
    vol["measure"] = VOLUME
    vol[VALUE] = vw[VALUE] / w[VALUE].reindex(vw.index)
    rest = frame[~frame["measure"].isin([_W, _VW])]
    out = pd.concat([rest, vol.reset_index()[frame.columns]], ignore_index=True)
    out[STATUS] = out[STATUS].astype("string")
    return out


def harmonise_accounts(
    accounts: pd.DataFrame,
    to: int = 2019,
    *,
    exact: bool = True,
    weights: pd.DataFrame | None = None,
    history: CodeHistory,
) -> pd.DataFrame:
    """Regional accounts (tidy 11713) on the county structure of year ``to``.

    ``history`` is the municipality code history (:func:`regionstats.municipality_history` or
    ``load_inputs(...).history``): it says which counties existed in which year.

    Levels (value added, investment, employment, compensation) are summed. The annual volume
    change of a merged group is the average of its parts' changes weighted by their value added
    of the previous year (current prices), which is how volume changes aggregate:

    .. math:: v_{G,t} = \\frac{\\sum_i VA_{i,t-1}\\, v_{i,t}}{\\sum_i VA_{i,t-1}}

    Where a part's code did not exist the year before (Trøndelag "50" in 2018) its weight is
    approximated by its value added deflated by its own volume change, :math:`VA_{i,t}/(1+v_{i,t})`
    (exact when the parts' price changes are equal).

    County-years that did not exist (status ``"."``) are dropped first; the whole country
    (``"0"``) passes unchanged. Merged groups get a code like ``"15+50"`` and a label naming
    their counties ("Møre og Romsdal + Trøndelag"). Status symbols propagate: a group with a
    suppressed part is suppressed.
    """
    existing = accounts[accounts[STATUS].fillna("") != "."]
    existing.attrs = {}  # pandas deep-copies attrs on every operation; they are put back below
    existing = _volume_weights(existing)
    labels = [c for c in existing.columns if c.endswith("_label")]
    industry_labels = (
        existing.drop_duplicates("industry").set_index("industry")["industry_label"]
        if "industry_label" in existing.columns
        else None
    )
    published = existing.drop_duplicates("region").set_index("region")["region_label"].to_dict()
    frame = existing.drop(columns=labels)
    frame.attrs = {}
    out = harmonise(frame, level="county", to=to, exact=exact, weights=weights, history=history)
    audit = out.attrs.get("audit")
    out = _volume_change_from_weights(out)
    names = COUNTY_STRUCTURES[county_structure(to)]
    group_labels = {
        code: "Hele landet" if code == "0" else _group_label(code, names, published)
        for code in out["region"].unique().tolist()
    }
    out["region_label"] = out["region"].map(group_labels)
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


ADDITIVE = ("value_added", "gross_investment", "employed_persons", "compensation")


def merge_trondelag(accounts: pd.DataFrame) -> pd.DataFrame:
    """Fill Trøndelag (``"50"``) before 2018 with Sør- + Nord-Trøndelag (``"16"`` + ``"17"``).

    Additive measures are summed; the volume change of ``"50"`` in 2009-2017 is aggregated from
    16's and 17's at previous-year prices (:func:`_trondelag_volume`). Rows of ``"16"`` and
    ``"17"`` are kept. Rindal (1567) moved from Møre og Romsdal to
    Trøndelag on 1 January 2019: the 2019 figures include it, earlier ones do not.
    """
    old = accounts[
        accounts["region"].isin(["16", "17"])
        & accounts["measure"].isin(ADDITIVE)
        & (accounts["year"] < 2018)
    ]
    summed = aggregate(old, ["industry", "measure", "year"])
    summed.insert(0, "region", "50")
    summed["region"] = summed["region"].astype("str")
    replace = (
        (accounts["region"] == "50")
        & accounts["measure"].isin(ADDITIVE)
        & (accounts["year"] < 2018)
    )
    kept = accounts[~replace]
    filled = summed.merge(
        accounts[replace].drop(columns=[VALUE, STATUS]),
        on=["region", "industry", "measure", "year"],
        how="left",
    )
    out = pd.concat([kept, filled[kept.columns]], ignore_index=True)
    out = _trondelag_volume(out, accounts)
    out = out.sort_values(["region", "industry", "measure", "year"], ignore_index=True)
    out.attrs = dict(accounts.attrs)
    out.attrs["trondelag"] = (
        "50 before 2018 = 16 + 17 (additive measures); its volume change aggregated at "
        "previous-year prices from 16's and 17's"
    )
    return out


def _trondelag_volume(merged: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    r"""The volume change of "50" in 2009-2017 from Sør- and Nord-Trøndelag's, exactly as SSB
    aggregates volumes (at previous-year prices, which add up):

    .. math:: v_{50,t} = \frac{\sum_{p} VA_{p,t-1}(1 + v_{p,t})}{\sum_p VA_{p,t-1}} - 1,
              \quad p \in \{16, 17\}

    A cell stays as it was (``"."``) where a part's value or volume change is missing."""
    va = accounts[(accounts["measure"] == "value_added") & accounts["region"].isin(["16", "17"])]
    vc = accounts[
        (accounts["measure"] == "value_added_volume_change") & accounts["region"].isin(["16", "17"])
    ]
    if va.empty or vc.empty:
        return merged
    lag = va.assign(year=va["year"] + 1)[["region", "industry", "year", VALUE]]
    both = vc[["region", "industry", "year", VALUE]].merge(
        lag, on=["region", "industry", "year"], suffixes=("_v", "_lag")
    )
    both = both[(both["year"] < 2018)]
    both["q"] = both[f"{VALUE}_lag"] * (1 + both[f"{VALUE}_v"] / 100)
    grouped = both.groupby(["industry", "year"])
    agg = pd.DataFrame(
        {
            "q": grouped["q"].sum(min_count=2),
            "lag": grouped[f"{VALUE}_lag"].sum(min_count=2),
            "parts": grouped["q"].count(),
        }
    )
    agg = agg[(agg["parts"] == 2) & agg["lag"].gt(0)]
    change = (100 * (agg["q"] / agg["lag"] - 1)).rename("_new").reset_index()
    target = (
        (merged["region"] == "50")
        & (merged["measure"] == "value_added_volume_change")
        & (merged["year"] < 2018)
    )
    sub = merged[target].merge(change, on=["industry", "year"], how="left")
    has = sub["_new"].notna().to_numpy()
    idx = merged.index[target][has]
    out = merged.copy()
    out.loc[idx, VALUE] = sub.loc[has, "_new"].to_numpy()
    out.loc[idx, STATUS] = pd.NA
    return out
