"""Centrality on a hand-made KLASS 128 export (tests/fixtures/regions/klass128_codes_small.csv)."""

from __future__ import annotations

import pandas as pd
import pytest

from regionstats.regions import (
    CentralityVintageWarning,
    UnknownEditionError,
    attach_centrality,
    build_history,
    centrality_table,
)


@pytest.fixture()
def toy(fixtures_dir):
    d = fixtures_dir / "regions"
    changes = pd.read_csv(d / "klass131_changes_small.csv", dtype=str, comment="#")
    codes = pd.read_csv(d / "klass131_codes_small.csv", dtype=str, comment="#")
    codes["year"] = codes["year"].astype(int)
    history = build_history(changes, codes, last_year=2020)
    export = pd.read_csv(d / "klass128_codes_small.csv", dtype=str, keep_default_na=False)
    return history, export


def test_centrality_table(toy):
    history, export = toy
    c = centrality_table(2020, 2020, codes=export, history=history).set_index("region")
    assert list(c.index) == ["3001", "3002", "3003", "3004"]
    assert c.loc["3001", "centrality_class"] == 1 and c.loc["3001", "centrality_index"] == 990
    assert c.loc["3003", "centrality_label_en"] == "6 least central"
    assert c.loc["3003", "centrality_label_no"] == "6 – minst sentrale kommuner"


def test_unknown_edition_lists_editions(toy):
    history, export = toy
    with pytest.raises(UnknownEditionError, match=r"2018, 2020, 2024"):
        centrality_table(2021, codes=export, history=history)


def test_attach_warns_on_vintage_mismatch(toy):
    history, export = toy
    frame = pd.DataFrame({"region": ["0101"], "year": [2019], "value": [1.0]})
    with pytest.warns(CentralityVintageWarning):
        out = attach_centrality(frame, 2020, codes=export, history=history)
    assert out["centrality_class"].tolist() == [1]
    same = pd.DataFrame({"region": ["3002"], "year": [2020], "value": [1.0]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CentralityVintageWarning)
        out = attach_centrality(same, 2020, codes=export, history=history)
    assert out["centrality_class"].tolist() == [3]
