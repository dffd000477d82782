"""Live checks against SSB (marked ``network``: deselected by default; run with ``-m network``).

They check the facts the clients rely on (API-NOTES §9 open items), not numbers.
"""

from __future__ import annotations

import pytest

from regionstats.sources.klass import KlassClient
from regionstats.sources.pxwebapi import PxWebApi

pytestmark = pytest.mark.network


def test_ssb_config_limits():
    cfg = PxWebApi().config()
    assert cfg["apiVersion"].startswith("2.")
    assert cfg["maxDataCells"] > 0
    assert cfg["maxCallsPerTimeWindow"] > 0 and cfg["timeWindow"] > 0


def test_ssb_11713_metadata():
    api = PxWebApi()
    variables = {v.code: v for v in api.variables("11713")}
    assert "Region" in variables and "ContentsCode" in variables and "Tid" in variables
    assert variables["Tid"].time
    assert all(isinstance(c, str) for c in variables["Region"].codes)
    info = api.table_info("11713")
    assert info["updated"]


def test_klass_131_codes_at():
    frame = KlassClient().codes_at(131, "2024-01-01")
    assert "0301" in set(frame["code"])
    assert frame["code"].str.len().eq(4).all()
    assert 350 <= len(frame) <= 370
