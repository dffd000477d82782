"""Fixtures shared by the region tests."""

from __future__ import annotations

import pytest

from regionstats.regions import build_history
from regionstats.regions.crosswalk import OFFLINE_LAST_YEAR
from regionstats.sources import regions_files as rf


@pytest.fixture(scope="session")
def offline_history(snapshot_dir):
    """The municipality code history built from the snapshot's KLASS change lists."""
    changes, lists = rf.offline_history_inputs(snapshot_dir)
    return build_history(changes, lists, last_year=OFFLINE_LAST_YEAR)
