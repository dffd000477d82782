"""Centrality editions and boundaries from the snapshot (skipped when it is absent)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from regionstats.regions import (
    CentralityVintageWarning,
    UnknownEditionError,
    attach_centrality,
    centrality_table,
    dissolve_to,
    harmonise,
)
from regionstats.sources import regions_files as rf

pytestmark = pytest.mark.snapshot


@pytest.fixture(scope="module")
def setup(offline_history, snapshot_dir):
    return offline_history, rf.read_centrality_codes(snapshot_dir)


def test_centrality_2024_counts(setup):
    history, codes = setup
    c = centrality_table(2024, 2024, codes=codes, history=history)
    assert len(c) == 357 and c["region"].is_unique
    # class counts as PROVENANCE states KLASS publishes them
    assert c["centrality_class"].value_counts().sort_index().tolist() == [5, 21, 54, 65, 104, 108]
    oslo = c.set_index("region").loc["0301"]
    assert oslo["centrality_class"] == 1 and oslo["centrality_index"] == 1000


def test_centrality_2020_covers_356(setup):
    history, codes = setup
    c = centrality_table(2020, 2020, codes=codes, history=history)
    assert len(c) == 356
    counts = c["centrality_class"].value_counts().sort_index()
    assert counts.sum() == 356
    # 2020 differs from 2024 only by Ålesund 1507 -> Ålesund 1508 (class 3) + Haram 1580 (class 5)
    assert counts.tolist() == [5, 21, 54, 65, 103, 108]
    # class bounds from the level-1 rows: index 925-1000 is class 1, 0-564 class 6
    assert (c.loc[c["centrality_class"] == 1, "centrality_index"] >= 925).all()
    assert (c.loc[c["centrality_class"] == 6, "centrality_index"] <= 564).all()


def test_edition_2018_not_offline_and_unknown_edition(setup):
    history, codes = setup
    import regionstats as rs

    with pytest.raises(rs.InputUnavailable, match="edition 2018 is not in the offline data"):
        rs.centrality_codes(2018, offline=True)
    with pytest.raises(UnknownEditionError, match=r"\[2018, 2020, 2024\]"):
        centrality_table(2022, codes=codes, history=history)


def test_attach_time_varying_and_warning(setup):
    history, codes = setup
    frame = pd.DataFrame(
        {
            "region": pd.array(["3001", "3101"], dtype="str"),
            "year": [2023, 2024],
            "value": [1.0, 2.0],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CentralityVintageWarning)
        out = attach_centrality(frame, mode="time-varying", codes=codes, history=history)
    assert out.set_index("region")["centrality_edition"].to_dict() == {"3001": 2020, "3101": 2024}
    with pytest.warns(CentralityVintageWarning, match="2024"):
        attach_centrality(frame.iloc[:1], 2024, codes=codes, history=history)


def test_boundaries_codes_are_strings(snapshot_dir):
    m20 = rf.read_boundaries("municipality", 2020, snapshot_dir=snapshot_dir)
    assert "0301" in set(m20["region"]) and m20["region"].str.len().eq(4).all()
    f20 = rf.read_boundaries("county", 2020, snapshot_dir=snapshot_dir)
    assert set(f20["region"]) >= {"03", "30", "54"} and len(f20) == 11
    with pytest.raises(ValueError, match=r"2020, 2024"):
        rf.read_boundaries("county", 2019, snapshot_dir=snapshot_dir)


def test_dissolve_to_exact_counties(setup, snapshot_dir):
    history, _ = setup
    geo = rf.read_boundaries("county", 2024, snapshot_dir=snapshot_dir)
    frame = pd.DataFrame(
        {"region": pd.array(["30", "38"], dtype="str"), "year": 2023, "value": [1.0, 2.0]}
    )
    audit = harmonise(frame, "county", 2024, exact=True, history=history).attrs["audit"]
    mapping = pd.DataFrame(
        {"region": audit["target"].str.split("+"), "target": audit["target"]}
    ).explode("region")
    out = dissolve_to(geo, mapping)
    assert len(out) == 15 - 5 + 2
    assert {"31+32+33", "39+40"} <= set(out["region"])
