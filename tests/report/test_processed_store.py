"""Processed datasets: round trip, sidecar checksums, atomic writes (hand-made frames)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from regionstats.sources.processed import (
    ProcessedDataError,
    copy_processed,
    read_processed,
    write_processed,
)


def tiny() -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "region": pd.array(["0", "03", "03"], dtype="str"),
            "year": np.array([2019, 2019, 2020], dtype="int64"),
            "value": [1.5, np.nan, 2.0],
            "status": pd.array([pd.NA, ":", pd.NA], dtype="string"),
        }
    )
    out.attrs = {"table": "11713", "units": {"value_added": "NOK million"}}
    return out


def test_round_trip_keeps_codes_symbols_and_attrs(tmp_path) -> None:
    meta = write_processed(
        tiny(), "demo", folder=tmp_path, keys=["region", "year"], inputs=[{"kind": "hand-made"}]
    )
    back = read_processed("demo", tmp_path)
    pd.testing.assert_frame_equal(back, tiny(), check_dtype=False)
    assert back["region"].tolist() == ["0", "03", "03"]  # codes stay strings
    assert back["status"].tolist()[1] == ":"
    assert back.attrs["units"] == {"value_added": "NOK million"}
    data = (tmp_path / "demo.parquet").read_bytes()
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    sidecar = json.loads((tmp_path / "demo.json").read_text())
    assert sidecar["rows"] == 3 and sidecar["keys"] == ["region", "year"]
    assert sidecar["inputs"] == [{"kind": "hand-made"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files


def test_a_changed_file_is_refused(tmp_path) -> None:
    write_processed(tiny(), "demo", folder=tmp_path)
    other = tiny()
    other.loc[0, "value"] = 99.0
    other.to_parquet(tmp_path / "demo.parquet")  # written behind the sidecar's back
    with pytest.raises(ProcessedDataError, match="sha256"):
        read_processed("demo", tmp_path)


def test_missing_dataset_names_the_command(tmp_path) -> None:
    with pytest.raises(ProcessedDataError, match="regionstats update"):
        read_processed("regional_accounts", tmp_path)


def test_copy(tmp_path) -> None:
    write_processed(tiny(), "demo", folder=tmp_path / "a")
    copy_processed("demo", tmp_path / "a", tmp_path / "b")
    assert read_processed("demo", tmp_path / "b")["value"].iloc[0] == 1.5
