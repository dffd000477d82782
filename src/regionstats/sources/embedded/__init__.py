"""The embedded default dataset: compact Parquet files shipped in the package.

So that ``regionstats report`` can run with neither network nor the offline snapshot, the package
carries a small dataset *derived* from the snapshot's real data by committed code
(``python -m regionstats.sources.embedded.build``, :mod:`regionstats.sources.embedded.build`).
It is the last fallback of :mod:`regionstats.sources.inputs`; the live APIs are the real source.

``data/`` holds one zstd Parquet file per dataset (GeoParquet for boundaries) and
``provenance.json`` (:data:`SIDECAR`): for each dataset its file, sha256, rows, columns, the
frame's ``attrs``, the snapshot files it came from (with their sha256), the source organisation
and table, the data vintage and the licence; and the build date and regionstats version.

:func:`read` checks the file's sha256 against the sidecar before parsing the same bytes, restores
the reader's ``attrs`` and adds ``attrs["provenance"]``::

    {"source": "embedded", "location": "embedded/<file>", "vintage": <data vintage>,
     "sha256": <of the parquet bytes>, "as_of": <build date>,
     "built_from": [<snapshot files>], "licence": <licence>}

Datasets: ``accounts_11713``, ``employment_13470_telemark``,
``employment_13470_aquaculture_2017``, ``population_07459_2024``, ``centrality_128_codes``,
``municipality_changes_131``, ``municipality_code_lists_131``, ``split_weights_2020`` and the
boundaries ``boundaries_{municipality,county}_{2024,2020}`` (:func:`datasets` lists what the
sidecar has). Nothing is read at import and nothing is cached.
"""

from __future__ import annotations

import hashlib
import io
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FORMAT",
    "SIDECAR",
    "EmbeddedDataError",
    "available",
    "data_folder",
    "datasets",
    "provenance",
    "read",
]

#: The sidecar's file name in the data folder.
SIDECAR = "provenance.json"

#: The sidecar's ``format`` value.
FORMAT = "regionstats-embedded/1"


class EmbeddedDataError(ValueError):
    """The embedded dataset is missing, unknown, or does not match its sidecar."""


def data_folder(folder: str | Path | None = None) -> Traversable:
    """The data folder: ``folder`` if given, else the package's ``sources/embedded/data/``."""
    if folder is not None:
        return Path(folder)
    return resources.files(__name__).joinpath("data")


def available(folder: str | Path | None = None) -> bool:
    """True when the sidecar is readable and every file it lists is present (not hashed)."""
    try:
        meta = provenance(folder)
    except EmbeddedDataError:
        return False
    base = data_folder(folder)
    return all(base.joinpath(e["file"]).is_file() for e in meta["datasets"].values())


def provenance(folder: str | Path | None = None) -> dict[str, Any]:
    """The parsed ``provenance.json`` (raises :class:`EmbeddedDataError` if missing or not one)."""
    ref = data_folder(folder).joinpath(SIDECAR)
    try:
        meta = json.loads(ref.read_bytes().decode("utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise EmbeddedDataError(
            f"embedded dataset: no {SIDECAR} in {ref}; build it with "
            "'python -m regionstats.sources.embedded.build'"
        ) from None
    except ValueError as exc:
        raise EmbeddedDataError(f"embedded/{SIDECAR} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EmbeddedDataError(f"embedded/{SIDECAR} is not a {FORMAT} sidecar")
    if not isinstance(meta.get("datasets"), dict):
        raise EmbeddedDataError(f"embedded/{SIDECAR} lists no datasets")
    return meta


def datasets(folder: str | Path | None = None) -> list[str]:
    """Names of the embedded datasets, sorted."""
    return sorted(provenance(folder)["datasets"])


def read(name: str, *, folder: str | Path | None = None) -> pd.DataFrame:
    """One embedded dataset, checked against the sidecar's sha256.

    Returns the snapshot reader's frame (same columns, dtypes and ``attrs``; rows sorted by
    the identity columns), a GeoDataFrame for boundaries, with ``attrs["provenance"]``.

    Raises
    ------
    EmbeddedDataError
        ``name`` is unknown (the message lists the known names), or its file is missing, or its
        sha256 or columns differ from the sidecar's (the message names the file).
    """
    meta = provenance(folder)
    entries = meta["datasets"]
    if name not in entries:
        raise EmbeddedDataError(
            f"unknown embedded dataset {name!r}; known: {', '.join(sorted(entries))}"
        )
    entry = entries[name]
    file = str(entry["file"])
    location = f"embedded/{file}"
    try:
        data = data_folder(folder).joinpath(file).read_bytes()
    except FileNotFoundError:
        raise EmbeddedDataError(f"{location} is missing (listed in {SIDECAR})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["sha256"]:
        raise EmbeddedDataError(
            f"{location}: sha256 is {actual}, {SIDECAR} records {entry['sha256']}; the file was "
            "changed after it was built (rebuild with 'python -m regionstats.sources.embedded."
            "build')"
        )
    if entry.get("kind") == "boundaries":
        import geopandas as gpd

        frame: pd.DataFrame = gpd.read_parquet(io.BytesIO(data))
        epsg = frame.crs.to_epsg() if frame.crs is not None else None
        if epsg is not None:  # GeoParquet stores PROJJSON; give back the plain EPSG code
            frame = frame.set_crs(f"EPSG:{epsg}", allow_override=True)
    else:
        frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    columns = {str(c): str(t) for c, t in frame.dtypes.items()}
    if columns != entry["columns"]:
        raise EmbeddedDataError(
            f"{location}: columns {columns} differ from {SIDECAR}'s {entry['columns']}"
        )
    frame.attrs = json.loads(json.dumps(entry.get("attrs") or {}))
    frame.attrs["provenance"] = {
        "source": "embedded",
        "location": location,
        "vintage": entry["vintage"],
        "sha256": actual,
        "as_of": meta["built"],
        "built_from": [str(i["file"]) for i in entry["inputs"]],
        "licence": entry["licence"],
    }
    return frame
