"""Build the embedded default dataset from the offline snapshot.

Usage::

    python -m regionstats.sources.embedded.build [--snapshot DIR] [--out DIR]

Load -> Process -> Save, once per dataset:

* **Load** with the project's own snapshot readers (:mod:`regionstats.sources.accounts`,
  :mod:`~regionstats.sources.employment_files`, :mod:`~regionstats.sources.regions_files`);
  nothing is parsed here.
* **Process**: rows sorted by the dataset's identity columns (then by every other column), the
  reader's column order and dtypes kept; the boundaries are simplified for a national map (see
  :func:`simplify_for_national_map`). ``attrs`` that name a snapshot file are made relative to the
  snapshot folder (no local path is committed).
* **Save** one zstd-compressed Parquet file per dataset (GeoParquet for the boundaries;
  dictionary-encoded text columns), the frame's ``attrs`` in the sidecar, and last
  ``provenance.json`` (:data:`regionstats.sources.embedded.SIDECAR`): for each dataset the
  snapshot files it came from with their sha256, the source organisation and table, the data
  vintage, the licence, the output's sha256, size and rows; the build date and the regionstats
  version.

The Parquet bytes depend only on the snapshot, the readers and the library versions, not on the
date or the machine: building twice gives the same sha256s (the sidecar differs in ``built``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from regionstats.sources import embedded

#: Simplification tolerance of the boundaries, in degrees (EPSG:4326): the value the notebooks
#: pass to :func:`regionstats.maps.simplify`. On a national map of Norway (about 13 degrees of
#: latitude in some 700 pixels) one pixel is about 0.02 degrees, so the error is below a pixel.
SIMPLIFY_TOLERANCE = 0.01

#: Grid the boundary coordinates are rounded to, in degrees (3 decimals: about 110 m north-south,
#: 50 m east-west at 63 degrees north).
COORDINATE_GRID = 0.001

_SSB = "Statistics Norway (SSB)"
_SSB_LICENCE = "CC BY 4.0 (Kilde: Statistisk sentralbyrå / Statistics Norway)"
_KARTVERKET_LICENCE = "CC BY 4.0 (Kartverket)"
_FHI_LICENCE = "MIT (fhidata, Norwegian Institute of Public Health, FHI)"

STATEMENT = (
    "Derived data. These files were built by 'python -m regionstats.sources.embedded.build' "
    "from the project's offline snapshot of real official statistics (its PROVENANCE.md "
    "describes each file), with no number changed except where a dataset's 'derivation' says so. "
    "They are a compact offline default so that 'regionstats report' runs without network: the "
    "live APIs (SSB's PxWebApi 2.0 and KLASS, Kartverket) are the product's real source, and "
    "a run on this dataset covers only what the snapshot holds."
)

Kind = Literal["table", "boundaries"]


@dataclass(frozen=True)
class Dataset:
    """How one embedded dataset is made and described."""

    name: str
    reader: str  #: the snapshot reader, as text for the sidecar
    load: Callable[[Path], pd.DataFrame]
    inputs: tuple[str, ...]  #: snapshot files read, relative to the snapshot folder
    organisation: str
    table: str
    title: str
    vintage: str | Callable[[dict[str, Any]], str]  #: text, or read from the frame's attrs
    licence: str
    sort_by: tuple[str, ...]
    kind: Kind = "table"
    derivation: str = "none: the reader's frame, rows sorted"
    package_inputs: tuple[str, ...] = field(default=())  #: files of the regionstats package


# --- loaders: the project's snapshot readers -------------------------------------------------


def _accounts(root: Path) -> pd.DataFrame:
    from regionstats.sources.accounts import regional_accounts

    return regional_accounts("snapshot", snapshot=root)


def _telemark(root: Path) -> pd.DataFrame:
    from regionstats.sources.employment_files import read_13470_telemark

    return read_13470_telemark(root)


def _aquaculture(root: Path) -> pd.DataFrame:
    from regionstats.sources.employment_files import read_13470_aquaculture_2017

    return read_13470_aquaculture_2017(root)


def _population(root: Path) -> pd.DataFrame:
    from regionstats.sources.regions_files import read_population_2024_boundaries

    return read_population_2024_boundaries(root)


def _centrality(root: Path) -> pd.DataFrame:
    from regionstats.sources.regions_files import read_centrality_codes

    return read_centrality_codes(root)


def _changes(root: Path) -> pd.DataFrame:
    from regionstats.sources.regions_files import offline_history_inputs

    return offline_history_inputs(root)[0]


def _code_lists(root: Path) -> pd.DataFrame:
    from regionstats.sources.regions_files import offline_history_inputs

    return offline_history_inputs(root)[1]


def _weights(root: Path) -> pd.DataFrame:
    from regionstats.sources.regions_files import read_fhi_split_weights

    return read_fhi_split_weights(root)


Level = Literal["municipality", "county"]

#: The boundary datasets: (level, vintage), in build order.
BOUNDARIES: tuple[tuple[Level, int], ...] = (
    ("municipality", 2024),
    ("county", 2024),
    ("municipality", 2020),
    ("county", 2020),
)


def _boundaries(level: Level, vintage: int) -> Callable[[Path], pd.DataFrame]:
    def load(root: Path) -> pd.DataFrame:
        from regionstats.sources.regions_files import read_boundaries

        return read_boundaries(level, vintage, snapshot_dir=root)

    return load


def dataset_specs() -> list[Dataset]:
    """Every embedded dataset, in the order they are built (the input file names come from the
    readers' own modules)."""
    from regionstats.sources import accounts as acc
    from regionstats.sources import employment_files as emp
    from regionstats.sources import regions_files as rf

    klass_dir = rf._KLASS_DIR.as_posix()
    change_lists = tuple(f"{klass_dir}/{name}" for name in rf.SNAPSHOT_CHANGE_LISTS.values())
    code_lists = tuple(
        f"{klass_dir}/ssb_kommunekoder_{year}.csv" for year in rf.SNAPSHOT_CODE_LIST_YEARS
    )
    specs = [
        Dataset(
            name="accounts_11713",
            reader="regionstats.sources.accounts.regional_accounts('snapshot')",
            load=_accounts,
            inputs=(acc.WORKBOOK_11713, acc.EXPORT_11713),
            organisation=_SSB,
            table="11713",
            title="Fylkesfordelt nasjonalregnskap (regional accounts), 2008-2019, 21 regions",
            vintage=lambda attrs: str(attrs["vintage"]),
            licence=_SSB_LICENCE,
            sort_by=("region", "industry", "measure", "year"),
        ),
        Dataset(
            name="employment_13470_telemark",
            reader="regionstats.sources.employment_files.read_13470_telemark()",
            load=_telemark,
            inputs=(emp.TELEMARK_FILE,),
            organisation=_SSB,
            table="13470",
            title="Employed persons by place of work, Telemark's 17 municipalities, 2016-2025",
            vintage="13470 extract, 4th quarter 2016-2025, 2024 municipality codes (release "
            "date not recorded in the snapshot)",
            licence=_SSB_LICENCE,
            sort_by=("region", "industry", "year"),
        ),
        Dataset(
            name="employment_13470_aquaculture_2017",
            reader="regionstats.sources.employment_files.read_13470_aquaculture_2017()",
            load=_aquaculture,
            inputs=(emp.AQUACULTURE_FILE,),
            organisation=_SSB,
            table="13470",
            title="Employed persons by place of work: total and aquaculture, 357 municipalities",
            vintage="13470, 4th quarter 2017, 2024 municipality codes (release date not "
            "recorded in the snapshot)",
            licence=_SSB_LICENCE,
            sort_by=("region", "industry", "year"),
        ),
        Dataset(
            name="population_07459_2024",
            reader="regionstats.sources.regions_files.read_population_2024_boundaries()",
            load=_population,
            inputs=(rf._POPULATION_FILE.as_posix(),),
            organisation=f"{_SSB}; harmonised to 2024 boundaries by a third-party analyst",
            table="07459",
            title="Population 1 January per municipality on 2024 boundaries, 1986-2026",
            vintage="07459 population 1 January 1986-2026 on 2024 boundaries, third-party "
            "harmonisation (release date not recorded in the snapshot)",
            licence=_SSB_LICENCE,
            sort_by=("region", "year"),
            derivation="the reader's frame, rows sorted; the reader turns the file's zeros "
            "(not data) into missing values, see attrs['notes']",
        ),
        Dataset(
            name="centrality_128_codes",
            reader="regionstats.sources.regions_files.read_centrality_codes()",
            load=_centrality,
            inputs=(rf._CENTRALITY_FILE.as_posix(),),
            organisation=_SSB,
            table="KLASS 128",
            title="Sentralitet (centrality index): classes and municipality codes with scores",
            vintage="KLASS 128 codes export over a date range (historic, 2020 and 2024 codes; "
            "export date not recorded in the snapshot)",
            licence=_SSB_LICENCE,
            sort_by=("level", "code", "parentCode", "name", "notes"),
        ),
        Dataset(
            name="municipality_changes_131",
            reader="regionstats.sources.regions_files.offline_history_inputs()[0]",
            load=_changes,
            inputs=change_lists,
            package_inputs=("regionstats/data/kommune_endringer_2024.csv",),
            organisation=_SSB,
            table="KLASS 131",
            title="Municipality code changes 2013-2024 (KLASS 131 codeChanges rows)",
            vintage="SSB's change lists 2013-2020 as in the snapshot and KLASS 131's changes of "
            "2024-01-01 (the package's hand-written file)",
            licence=_SSB_LICENCE,
            sort_by=("changeOccurred", "oldCode", "newCode", "oldName", "newName"),
        ),
        Dataset(
            name="municipality_code_lists_131",
            reader="regionstats.sources.regions_files.offline_history_inputs()[1]",
            load=_code_lists,
            inputs=code_lists,
            organisation=_SSB,
            table="KLASS 131",
            title="Municipality code lists valid on 1 January 2013, 2017, 2018, 2019, 2020",
            vintage="KLASS 131 code lists of 2013 and 2017-2020 as in the snapshot",
            licence=_SSB_LICENCE,
            sort_by=("year", "code", "name"),
        ),
        Dataset(
            name="split_weights_2020",
            reader="regionstats.sources.regions_files.read_fhi_split_weights()",
            load=_weights,
            inputs=(rf._FHI_WEIGHTS_FILE.as_posix(),),
            organisation="Norwegian Institute of Public Health (FHI), fhidata",
            table="fhidata norway_municip_merging_b2020",
            title="Weights of the municipalities split in the 2020 reform",
            vintage="fhidata norway_municip_merging_b2020 (2020 borders)",
            licence=_FHI_LICENCE,
            sort_by=("source_region", "region", "weight"),
        ),
    ]
    for level, vintage in BOUNDARIES:
        file, _ = rf.SNAPSHOT_BOUNDARIES[(level, vintage)]
        specs.append(
            Dataset(
                name=f"boundaries_{level}_{vintage}",
                reader=f"regionstats.sources.regions_files.read_boundaries({level!r}, {vintage})",
                load=_boundaries(level, vintage),
                inputs=(f"geo/{file}",),
                organisation="Kartverket (Norwegian Mapping Authority)",
                table=f"administrative units ({level} boundaries of {vintage})",
                title=f"{level.capitalize()} boundaries of {vintage}, EPSG:4326",
                vintage=f"Kartverket {level} boundaries of {vintage}, the snapshot's "
                "simplified file",
                licence=_KARTVERKET_LICENCE,
                sort_by=("region",),
                kind="boundaries",
                derivation=(
                    "made valid (shapely.make_valid), simplified with "
                    f"regionstats.maps.simplify(tolerance={SIMPLIFY_TOLERANCE}) for a "
                    f"national map, coordinates rounded to a {COORDINATE_GRID} degree grid "
                    "(shapely.set_precision), non-polygon parts dropped"
                ),
            )
        )
    return specs


# --- process ---------------------------------------------------------------------------------


def simplify_for_national_map(gdf: pd.DataFrame) -> pd.DataFrame:
    """Boundaries light enough to ship and draw a national map with, still valid polygons.

    1. :func:`shapely.make_valid`: the snapshot's simplified files have self-intersections;
    2. :func:`regionstats.maps.simplify` with :data:`SIMPLIFY_TOLERANCE` (Douglas-Peucker per
       geometry, keeping each geometry's topology; neighbours may part or overlap by up to the
       tolerance, below a pixel at national scale);
    3. :func:`shapely.set_precision` to :data:`COORDINATE_GRID` (3 decimals), which keeps the
       output valid and drops islets smaller than the grid;
    4. only the (multi)polygon parts are kept.

    Raises ``ValueError`` if a geometry comes out empty or invalid.
    """
    import shapely

    from regionstats.maps import simplify

    out = gdf.copy()
    out["geometry"] = shapely.make_valid(np.asarray(out.geometry.values))
    out = simplify(out, tolerance=SIMPLIFY_TOLERANCE)
    rounded = shapely.set_precision(np.asarray(out.geometry.values), COORDINATE_GRID)
    out["geometry"] = [_polygonal(g) for g in rounded]
    bad = out.geometry.is_empty | ~out.geometry.is_valid
    if bad.any():
        raise ValueError(
            f"simplified boundaries of {list(out.loc[bad, 'region'])[:10]} are empty or invalid"
        )
    return out


def _polygonal(geometry: Any) -> Any:
    import shapely

    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]


def _relative_attrs(attrs: dict[str, Any], root: Path) -> dict[str, Any]:
    """``attrs`` with every mention of the snapshot folder removed (paths become relative)."""
    prefixes = sorted({f"{root}/", f"{root.resolve()}/"}, key=len, reverse=True)

    def strip(value: Any) -> Any:
        if isinstance(value, str):
            for prefix in prefixes:
                value = value.replace(prefix, "")
            return value
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    return {k: strip(v) for k, v in attrs.items()}


def _check_json_attrs(name: str, attrs: dict[str, Any]) -> None:
    try:
        back = json.loads(json.dumps(attrs, ensure_ascii=False))
    except TypeError as exc:
        raise ValueError(f"{name}: attrs cannot be stored as JSON ({exc})") from None
    if back != attrs:
        raise ValueError(f"{name}: attrs do not survive a JSON round trip: {attrs}")


def prepare(spec: Dataset, root: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load one dataset with its reader and make it ready to write: (frame, attrs for the
    sidecar). Checks loudly that the sort keys exist and are unique and that every snapshot file
    the frame's ``attrs["source"]`` names is among ``spec.inputs``."""
    frame = spec.load(root)
    attrs = _relative_attrs(dict(frame.attrs), root)
    if "source_kind" in attrs:
        attrs["source_kind"] = "embedded default dataset (derived from the offline snapshot)"
    attrs.pop("provenance", None)
    _check_json_attrs(spec.name, attrs)
    source = str(attrs.get("source", ""))
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel in source and rel not in spec.inputs:
            raise ValueError(f"{spec.name}: the reader read {rel}, not listed in its inputs")
    missing = [c for c in spec.sort_by if c not in frame.columns]
    if missing:
        raise ValueError(f"{spec.name}: sort columns {missing} not in {list(frame.columns)}")
    if frame.duplicated(list(spec.sort_by)).any():
        raise ValueError(f"{spec.name}: rows are not unique by {list(spec.sort_by)}")
    if spec.kind == "boundaries":
        frame = simplify_for_national_map(frame)
    frame = frame.sort_values(list(spec.sort_by), kind="mergesort", ignore_index=True)
    frame.attrs = {}
    return frame, attrs


def to_parquet_bytes(frame: pd.DataFrame, kind: Kind) -> bytes:
    """The frame as zstd-compressed (Geo)Parquet bytes, without the index or ``attrs``."""
    plain = frame.copy()
    plain.attrs = {}
    buffer = io.BytesIO()
    if kind == "boundaries":
        plain.to_parquet(buffer, index=False, compression="zstd")
    else:
        plain.to_parquet(buffer, index=False, compression="zstd", engine="pyarrow")
    return buffer.getvalue()


# --- save ------------------------------------------------------------------------------------


def _package_file_sha256(relative: str) -> str:
    package, _, rest = relative.partition("/")
    ref = resources.files(package).joinpath(rest)
    return hashlib.sha256(ref.read_bytes()).hexdigest()


def build(
    snapshot: str | Path | None = None,
    out: str | Path | None = None,
    *,
    specs: Sequence[Dataset] | None = None,
    today: str | None = None,
) -> dict[str, Any]:
    """Build every dataset from the snapshot into ``out`` and return the sidecar written.

    Parameters
    ----------
    snapshot : path, optional
        The snapshot folder (default :func:`regionstats.sources.snapshot.snapshot_dir`).
    out : path, optional
        Output folder (default: the package's ``sources/embedded/data/``).
    specs : sequence of Dataset, optional
        Default :func:`dataset_specs`.
    today : str, optional
        Build date (ISO); default today (UTC).
    """
    from regionstats import __version__
    from regionstats.sources.processed import atomic_write_bytes, sha256_file, write_json_atomic
    from regionstats.sources.snapshot import snapshot_dir

    root = snapshot_dir(snapshot)
    out_dir = Path(out) if out is not None else Path(str(embedded.data_folder()))
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(out_dir)
    entries: dict[str, Any] = {}
    for spec in specs if specs is not None else dataset_specs():
        frame, attrs = prepare(spec, root)
        data = to_parquet_bytes(frame, spec.kind)
        file = f"{spec.name}.parquet"
        atomic_write_bytes(out_dir / file, data)
        vintage = spec.vintage(attrs) if callable(spec.vintage) else spec.vintage
        entries[spec.name] = {
            "file": file,
            "kind": spec.kind,
            "organisation": spec.organisation,
            "table": spec.table,
            "title": spec.title,
            "vintage": vintage,
            "licence": spec.licence,
            "reader": spec.reader,
            "derivation": spec.derivation,
            "inputs": [{"file": rel, "sha256": sha256_file(root / rel)} for rel in spec.inputs],
            "package_inputs": [
                {"file": rel, "sha256": _package_file_sha256(rel)} for rel in spec.package_inputs
            ],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "rows": len(frame),
            "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
            "sorted_by": list(spec.sort_by),
            "attrs": attrs,
        }
    sidecar = {
        "format": embedded.FORMAT,
        "statement": STATEMENT,
        "built": today or datetime.now(UTC).date().isoformat(),
        "regionstats": __version__,
        "build_command": "python -m regionstats.sources.embedded.build",
        "snapshot": "the offline snapshot of real data (shared/data/snapshot); input names are "
        "relative to it, as in its PROVENANCE.md",
        "datasets": entries,
    }
    for stale in previous - {e["file"] for e in entries.values()}:
        (out_dir / stale).unlink(missing_ok=True)
    write_json_atomic(out_dir / embedded.SIDECAR, sidecar)
    return sidecar


def _previous_files(out_dir: Path) -> set[str]:
    """Files listed by an earlier sidecar in ``out_dir`` (removed if no longer built)."""
    path = out_dir / embedded.SIDECAR
    if not path.is_file():
        return set()
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return {str(e["file"]) for e in meta["datasets"].values() if "/" not in str(e["file"])}
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build, then print one line per file written and the total size."""
    parser = argparse.ArgumentParser(
        prog="python -m regionstats.sources.embedded.build",
        description="Build the package's embedded default dataset from the offline snapshot.",
    )
    parser.add_argument("--snapshot", type=Path, default=None, help="snapshot folder")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the package's data/)"
    )
    args = parser.parse_args(argv)
    from regionstats.sources.snapshot import SnapshotNotFound

    try:
        sidecar = build(args.snapshot, args.out)
    except SnapshotNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = 0
    for name, entry in sidecar["datasets"].items():
        total += entry["size"]
        print(f"{entry['size']:>10,d}  {entry['rows']:>7,d} rows  {name}")
    print(f"{total:>10,d}  bytes of Parquet in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
