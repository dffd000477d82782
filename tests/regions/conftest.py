"""Fixtures shared by the region tests."""

from __future__ import annotations

import pandas as pd
import pytest

from regionstats.regions import build_history
from regionstats.regions.crosswalk import OFFLINE_LAST_YEAR
from regionstats.sources import regions_files as rf


@pytest.fixture(scope="session")
def offline_history(snapshot_dir):
    """The municipality code history built from the snapshot's KLASS change lists."""
    changes, lists = rf.offline_history_inputs(snapshot_dir)
    return build_history(changes, lists, last_year=OFFLINE_LAST_YEAR)


@pytest.fixture()
def toy_history(fixtures_dir):
    """The hand-made toy country's code history (tests/fixtures/regions): 0101 -> 3001,
    0102 + 0103 -> 3002, 0104 -> 3003 + 3004 on 1 January 2020."""
    changes = pd.read_csv(
        fixtures_dir / "regions" / "klass131_changes_small.csv", dtype=str, comment="#"
    )
    codes = pd.read_csv(
        fixtures_dir / "regions" / "klass131_codes_small.csv", dtype=str, comment="#"
    )
    codes["year"] = codes["year"].astype(int)
    return build_history(changes, codes, last_year=2020, source="toy")
