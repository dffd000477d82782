"""Consistency checks of the regional accounts, as tidy frames (pure).

They let a notebook assert, and a reader see, that the numbers add up the way SSB publishes them:
industries sum to "Totalt for næringer", and counties sum to the whole country less the
continental shelf and Svalbard (*sokkelen og Svalbard*), which are only in the national figure.
"""

from __future__ import annotations

import pandas as pd

from regionstats.model import STATUS, VALUE
from regionstats.sources.ssb_quirks import TOP_LEVEL_INDUSTRIES


def industry_sum_check(accounts: pd.DataFrame, measure: str = "value_added") -> pd.DataFrame:
    """Per region and year: the published total, the sum of the 24 top-level industries, and
    their difference, for the region-years where no industry cell lacks a number (``complete``).
    """
    rows = accounts[(accounts["measure"] == measure) & (accounts[STATUS].fillna("") != ".")]
    parts = rows[rows["industry"].isin(TOP_LEVEL_INDUSTRIES)]
    summed = parts.groupby(["region", "year"]).agg(
        sum_industries=(VALUE, lambda s: s.sum(min_count=1)),
        n_industries=("industry", "nunique"),
        n_missing=(VALUE, lambda s: int(s.isna().sum())),
    )
    total = rows[rows["industry"] == "TOTAL"].set_index(["region", "year"])[VALUE].rename("total")
    out = summed.join(total, how="inner").reset_index()
    out["complete"] = (out["n_missing"] == 0) & (out["n_industries"] == len(TOP_LEVEL_INDUSTRIES))
    out["difference"] = out["total"] - out["sum_industries"]
    out.loc[~out["complete"], "difference"] = float("nan")
    return out[["region", "year", "total", "sum_industries", "difference", "complete"]]


def offshore_remainder(accounts: pd.DataFrame, measure: str = "value_added") -> pd.DataFrame:
    """Per year: the national total, the sum over the counties that existed, and the remainder
    (continental shelf, Svalbard and anything not allocated to a county)."""
    rows = accounts[(accounts["measure"] == measure) & (accounts["industry"] == "TOTAL")]
    rows = rows[rows[STATUS].fillna("") != "."]
    national = rows[rows["region"] == "0"].set_index("year")[VALUE].rename("national")
    counties = rows[rows["region"] != "0"]
    summed = counties.groupby("year").agg(
        counties_sum=(VALUE, lambda s: s.sum(min_count=1)),
        n_counties=("region", "nunique"),
        n_missing=(VALUE, lambda s: int(s.isna().sum())),
    )
    out = summed.join(national, how="inner").reset_index()
    out["remainder"] = out["national"] - out["counties_sum"]
    out["remainder_share"] = out["remainder"] / out["national"]
    return out[
        [
            "year",
            "national",
            "counties_sum",
            "remainder",
            "remainder_share",
            "n_counties",
            "n_missing",
        ]
    ]
