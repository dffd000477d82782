"""The embedded default dataset: readable without the snapshot, checked, and equal to the snapshot.

The first group runs on the committed files alone (``REGIONSTATS_SNAPSHOT`` pointed at an empty
folder). Expected facts come from SSB's and Kartverket's published structure (357 municipalities
and 15 counties in 2024, 356 municipalities in 2020, the KLASS 128 class counts of 2024, the 2024
population 5,550,203) or from the snapshot's PROVENANCE.md, not from the build's output. The
second group (marked ``snapshot``, skipped without it) compares every dataset with the snapshot
reader's frame and rebuilds the files to check the build is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regionstats
from regionstats.sources import embedded
from regionstats.sources.embedded import EmbeddedDataError

NAMES = {
    "accounts_11713",
    "employment_13470_telemark",
    "employment_13470_aquaculture_2017",
    "population_07459_2024",
    "centrality_128_codes",
    "municipality_changes_131",
    "municipality_code_lists_131",
    "split_weights_2020",
    "boundaries_municipality_2024",
    "boundaries_county_2024",
    "boundaries_municipality_2020",
    "boundaries_county_2020",
}

#: The 15 counties of 2024 (KLASS 104, 1 January 2024).
COUNTIES_2024 = {"03", "11", "15", "18", "31", "32", "33", "34", "39", "40", "42", "46", "50",
                 "55", "56"}  # fmt: skip


@pytest.fixture
def no_snapshot(tmp_path, monkeypatch):
    """Point the snapshot lookup at an empty folder: nothing may come from the snapshot."""
    empty = tmp_path / "no-snapshot"
    empty.mkdir()
    monkeypatch.setenv("REGIONSTATS_SNAPSHOT", str(empty))
    return empty


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A copy of the package's data folder."""
    with resources.as_file(embedded.data_folder()) as folder:
        return Path(shutil.copytree(folder, tmp_path / "data"))


def _package_files() -> dict[str, bytes]:
    folder = embedded.data_folder()
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


# --- without the snapshot --------------------------------------------------------------------


def test_every_dataset_reads_with_provenance(no_snapshot):
    assert embedded.available()
    assert set(embedded.datasets()) == NAMES
    meta = embedded.provenance()
    files = _package_files()
    for name in NAMES:
        frame = embedded.read(name)
        prov = frame.attrs["provenance"]
        file = f"{name}.parquet"
        assert prov["source"] == "embedded"
        assert prov["location"] == f"embedded/{file}"
        assert prov["sha256"] == hashlib.sha256(files[file]).hexdigest()
        assert prov["as_of"] == meta["built"]
        assert pd.Timestamp(prov["as_of"]).strftime("%Y-%m-%d") == prov["as_of"]
        assert prov["built_from"] and all(isinstance(f, str) for f in prov["built_from"])
        assert prov["vintage"] and prov["licence"]
        assert meta["datasets"][name]["rows"] == len(frame)


def test_sidecar_names_sources_licences_and_that_it_is_derived():
    meta = embedded.provenance()
    text = meta["statement"].lower()
    assert "derived" in text and "live api" in text and "real source" in text
    assert meta["regionstats"] == regionstats.__version__
    ds = meta["datasets"]
    expected_tables = {
        "accounts_11713": "11713",
        "employment_13470_telemark": "13470",
        "employment_13470_aquaculture_2017": "13470",
        "population_07459_2024": "07459",
        "centrality_128_codes": "KLASS 128",
        "municipality_changes_131": "KLASS 131",
        "municipality_code_lists_131": "KLASS 131",
    }
    for name, table in expected_tables.items():
        assert ds[name]["table"] == table
        assert "SSB" in ds[name]["organisation"]
        assert ds[name]["licence"].startswith("CC BY 4.0")
    assert ds["accounts_11713"]["vintage"].startswith("statbank release of 2021-12-13 08:00")
    assert "FHI" in ds["split_weights_2020"]["organisation"]
    assert ds["split_weights_2020"]["licence"].startswith("MIT")
    assert "fhidata" in ds["split_weights_2020"]["licence"]
    for name in (n for n in NAMES if n.startswith("boundaries_")):
        assert "Kartverket" in ds[name]["organisation"]
        assert ds[name]["licence"].startswith("CC BY 4.0")
    for entry in ds.values():
        for item in entry["inputs"]:
            assert not item["file"].startswith("/") and len(item["sha256"]) == 64
    # no local path is committed
    raw = json.dumps(meta)
    assert "/work/" not in raw and "/shared/data" not in raw and "/tmp/" not in raw


def test_total_size_within_budget():
    total = sum(len(b) for b in _package_files().values())
    assert total <= 3 * 1024 * 1024


def test_accounts(no_snapshot):
    acc = embedded.read("accounts_11713")
    assert sorted(acc["year"].unique()) == list(range(2008, 2020))
    assert acc["region"].nunique() == 21 and "0" in set(acc["region"])
    assert set(acc["measure"]) == {
        "value_added", "value_added_volume_change", "gross_investment", "employed_persons",
        "compensation",
    }  # fmt: skip
    assert str(acc["status"].dtype) == "string" and acc["year"].dtype == "int64"
    assert set(acc["status"].dropna()) <= {":", "..", "."}
    assert acc.loc[acc["status"].notna(), "value"].isna().all()  # symbols are not turned into 0
    assert acc.attrs["units"]["value_added"] == "NOK million"
    assert acc.attrs["footnotes"] and "11713" in acc.attrs["title"]
    assert acc.attrs["vintage"].startswith("statbank release of 2021-12-13")


def test_population(no_snapshot):
    pop = embedded.read("population_07459_2024")
    assert pop["region"].nunique() == 357
    assert sorted(pop["year"].unique()) == list(range(1986, 2027))
    assert len(pop) == 357 * 41
    assert pop.loc[pop["year"] == 2024, "value"].sum() == 5_550_203  # SSB's published figure
    assert not (pop["value"] == 0).any()
    missing = pop[pop["value"].isna()]
    assert (missing["status"] == "..").all()
    # PROVENANCE.md: five municipalities 1986-2019 and Haram 2020-2023
    assert len(missing) == 5 * 34 + 4
    assert set(missing["region"]) == {"1806", "1875", "5055", "5056", "5059", "1580"}
    note = " ".join(pop.attrs["notes"])
    assert "174" in note and "1580" in note and "5059" in note


def test_centrality_classes_2024(no_snapshot):
    codes = embedded.read("centrality_128_codes")
    municipalities = set(embedded.read("boundaries_municipality_2024")["region"])
    rows = codes[(codes["level"] == "2") & codes["code"].isin(municipalities)]
    assert rows["code"].nunique() == 357 == len(rows)
    counts = rows["parentCode"].value_counts().sort_index().tolist()
    assert counts == [5, 21, 54, 65, 104, 108]
    assert set(codes.loc[codes["level"] == "1", "code"]) == {"01", "02", "03", "04", "05", "06"}


def test_boundaries(no_snapshot):
    import shapely

    expected = {("municipality", 2024): 357, ("county", 2024): 15,
                ("municipality", 2020): 354, ("county", 2020): 11}  # fmt: skip
    for (level, vintage), n in expected.items():
        gdf = embedded.read(f"boundaries_{level}_{vintage}")
        assert type(gdf).__name__ == "GeoDataFrame"
        assert list(gdf.columns) == ["region", "name", "geometry"]
        assert len(gdf) == n and gdf["region"].is_unique
        width = 4 if level == "municipality" else 2
        assert gdf["region"].str.fullmatch(rf"\d{{{width}}}").all()
        assert gdf.crs.to_epsg() == 4326
        assert gdf.is_valid.all() and not gdf.is_empty.any()
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
        xy = shapely.get_coordinates(np.asarray(gdf.geometry.values))
        assert np.allclose(xy * 1000, np.round(xy * 1000), atol=1e-6)  # 3 decimals
        assert xy[:, 0].min() > 4 and xy[:, 0].max() < 32  # Norway's longitudes
        assert xy[:, 1].min() > 57 and xy[:, 1].max() < 72
    counties = embedded.read("boundaries_county_2024")
    assert set(counties["region"]) == COUNTIES_2024
    municipalities = set(embedded.read("boundaries_municipality_2024")["region"])
    assert municipalities == set(embedded.read("population_07459_2024")["region"])


def test_employment_history_and_weights(no_snapshot):
    tele = embedded.read("employment_13470_telemark")
    assert tele["region"].nunique() == 17 and tele["region"].str.startswith("40").all()
    assert sorted(tele["year"].unique()) == list(range(2016, 2026))
    assert tele["industry"].nunique() == 17 and len(tele) == 17 * 17 * 10
    aqua = embedded.read("employment_13470_aquaculture_2017")
    assert aqua["region"].nunique() == 357 and set(aqua["year"]) == {2017}
    assert set(aqua["industry"]) == {"TOTAL", "03.2"}

    lists = embedded.read("municipality_code_lists_131")
    # municipalities on 1 January of each year (SSB)
    counts = {2013: 428, 2017: 426, 2018: 422, 2019: 422, 2020: 356}
    assert lists.groupby("year").size().to_dict() == counts
    changes = embedded.read("municipality_changes_131")
    kristiansand = changes[(changes["newCode"] == "4204")]
    assert set(kristiansand["oldCode"]) == {"1001", "1017", "1018"}
    assert set(kristiansand["changeOccurred"]) == {"2020-01-01"}
    alesund = changes[changes["oldCode"] == "1507"]
    assert set(alesund["newCode"]) == {"1508", "1580"}
    assert set(alesund["changeOccurred"]) == {"2024-01-01"}

    weights = embedded.read("split_weights_2020")
    parts = weights.groupby("source_region")["region"].apply(set).to_dict()
    assert parts == {"1850": {"1806", "1875"}, "5012": {"5055", "5056", "5059"}}
    assert weights.groupby("source_region")["weight"].sum().tolist() == pytest.approx([1, 1])


def test_tampered_copy_is_refused(data_copy):
    assert embedded.read("split_weights_2020", folder=data_copy).shape == (5, 3)
    target = data_copy / "population_07459_2024.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(EmbeddedDataError, match="population_07459_2024.parquet"):
        embedded.read("population_07459_2024", folder=data_copy)
    assert embedded.available(data_copy)  # present, though one file no longer matches


def test_unknown_and_missing(data_copy, tmp_path):
    with pytest.raises(EmbeddedDataError, match="known: accounts_11713, boundaries_county_2020"):
        embedded.read("accounts")
    (data_copy / "centrality_128_codes.parquet").unlink()
    assert not embedded.available(data_copy)
    with pytest.raises(EmbeddedDataError, match="centrality_128_codes.parquet is missing"):
        embedded.read("centrality_128_codes", folder=data_copy)
    assert not embedded.available(tmp_path / "nowhere")
    with pytest.raises(EmbeddedDataError, match="provenance.json"):
        embedded.provenance(tmp_path / "nowhere")


# --- against the snapshot --------------------------------------------------------------------


def _snapshot_frames(snapshot_dir: Path) -> dict[str, pd.DataFrame]:
    from regionstats.sources import employment_files as ef
    from regionstats.sources import regions_files as rf
    from regionstats.sources.accounts import regional_accounts

    changes, code_lists = rf.offline_history_inputs(snapshot_dir)
    return {
        "accounts_11713": regional_accounts("snapshot", snapshot=snapshot_dir),
        "employment_13470_telemark": ef.read_13470_telemark(snapshot_dir),
        "employment_13470_aquaculture_2017": ef.read_13470_aquaculture_2017(snapshot_dir),
        "population_07459_2024": rf.read_population_2024_boundaries(snapshot_dir),
        "centrality_128_codes": rf.read_centrality_codes(snapshot_dir),
        "municipality_changes_131": changes,
        "municipality_code_lists_131": code_lists,
        "split_weights_2020": rf.read_fhi_split_weights(snapshot_dir),
    }


def _without_root(value, root: str):
    if isinstance(value, str):
        return value.replace(root, "")
    if isinstance(value, dict):
        return {k: _without_root(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_root(v, root) for v in value]
    return value


@pytest.mark.snapshot
def test_tables_equal_the_snapshot_readers(snapshot_dir):
    meta = embedded.provenance()["datasets"]
    for name, expected in _snapshot_frames(snapshot_dir).items():
        got = embedded.read(name)
        keys = meta[name]["sorted_by"]
        assert got.equals(got.sort_values(keys, ignore_index=True)), name
        want = expected.sort_values(keys, kind="mergesort", ignore_index=True)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)
        attrs = _without_root(dict(expected.attrs), f"{snapshot_dir}/")
        mine = {k: v for k, v in got.attrs.items() if k not in ("provenance", "source_kind")}
        if "source_kind" in attrs:  # says where the frame came from: here, the embedded set
            assert got.attrs["source_kind"].startswith("embedded"), name
            del attrs["source_kind"]
        assert mine == attrs, name


@pytest.mark.snapshot
def test_boundaries_close_to_the_snapshot(snapshot_dir):
    import shapely

    from regionstats.sources.regions_files import read_boundaries

    for level, vintage in (("municipality", 2024), ("county", 2024),
                           ("municipality", 2020), ("county", 2020)):  # fmt: skip
        original = read_boundaries(level, vintage, snapshot_dir=snapshot_dir)
        original = original.sort_values("region", ignore_index=True)
        got = embedded.read(f"boundaries_{level}_{vintage}")
        assert got["region"].tolist() == original["region"].tolist()
        assert got["name"].tolist() == original["name"].tolist()
        orig = shapely.make_valid(np.asarray(original.geometry.values))
        emb = np.asarray(got.geometry.values)
        # every vertex kept lies on the original boundary up to the rounding (half a 0.001
        # degree grid cell diagonally: 0.00071)
        for o, e, code in zip(orig, emb, got["region"], strict=True):
            points = shapely.points(shapely.get_coordinates(e))
            assert shapely.distance(points, o.boundary).max() < 0.001, code
        # simplified at 0.01 degree: no point of either is far from the other
        assert shapely.hausdorff_distance(orig, emb).max() < 0.05
        # nothing but islets smaller than the tolerance was dropped
        lost = shapely.area(shapely.difference(orig, shapely.buffer(emb, 0.011))).sum()
        assert lost / shapely.area(orig).sum() < 1e-4


@pytest.mark.snapshot
def test_build_command_is_deterministic(snapshot_dir, tmp_path):
    out = tmp_path / "built"
    run = subprocess.run(
        [sys.executable, "-m", "regionstats.sources.embedded.build",
         "--snapshot", str(snapshot_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    committed = embedded.provenance()
    rebuilt = embedded.provenance(out)
    for name, entry in committed["datasets"].items():
        assert rebuilt["datasets"][name]["sha256"] == entry["sha256"], (
            f"{name}: the committed file differs from a fresh build; rebuild with "
            "'python -m regionstats.sources.embedded.build'"
        )
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    committed.pop("built")
    rebuilt.pop("built")
    assert rebuilt == committed
    assert sorted(p.name for p in out.iterdir()) == sorted(_package_files())
