"""Hand-made tidy 11713 frames for indicator tests (numbers chosen to be worked by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def accounts_frame(rows: list[tuple[str, str, str, int, float | None, str | None]]) -> pd.DataFrame:
    """Rows ``(region, industry, measure, year, value, status)`` as a tidy 11713 frame."""
    frame = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value", "status"])
    for col in ("region", "industry", "measure"):
        frame[col] = frame[col].astype("str")
    frame["year"] = frame["year"].astype("int64")
    frame["value"] = frame["value"].astype(float).where(frame["value"].notna(), np.nan)
    frame["status"] = pd.array(
        [s if isinstance(s, str) else pd.NA for s in frame["status"]], dtype="string"
    )
    frame.attrs = {"table": "11713", "vintage": "hand-made", "units": {}}
    return frame


#: One region-year of value added and employment where every scope is easy to work by hand.
#: TOTAL 100, GOV_CENTRAL 10, GOV_LOCAL 20, dwellings 5, finance 7, petroleum 3, pipelines 1.
SCOPE_PARTS = {
    "TOTAL": (100.0, 50.0),
    "GOV_CENTRAL": (10.0, 6.0),
    "GOV_LOCAL": (20.0, 14.0),
    "68.2b": (5.0, None),  # no employment by definition: ".." in 11713
    "64-66": (7.0, 2.0),
    "06_09.1": (3.0, 1.0),
    "49.5": (1.0, 0.5),
}


def scope_accounts(region: str = "01", year: int = 2019) -> pd.DataFrame:
    rows = []
    for industry, (va, emp) in SCOPE_PARTS.items():
        rows.append((region, industry, "value_added", year, va, None))
        rows.append(
            (region, industry, "employed_persons", year, emp, None if emp is not None else "..")
        )
    return accounts_frame(rows)


@pytest.fixture()
def make_accounts():
    """The :func:`accounts_frame` builder."""
    return accounts_frame


@pytest.fixture()
def scoped():
    """:func:`scope_accounts`: one region-year with the parts of every named scope."""
    return scope_accounts()


@pytest.fixture(scope="module")
def real_accounts(snapshot_dir):
    """The snapshot's 11713 via the project reader (loaded once per module)."""
    from regionstats.sources.accounts import regional_accounts

    return regional_accounts(source="snapshot", snapshot=snapshot_dir)
