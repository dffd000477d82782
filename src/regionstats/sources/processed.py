"""Processed datasets (``data/processed/*.parquet``) and run files, written atomically.

A processed dataset is reproducible from the raw store (or the offline snapshot) and the code:
``<folder>/<name>.parquet`` holds the tidy frame and ``<folder>/<name>.json`` its sidecar:

``format``, ``name``, ``file``, ``sha256`` and ``size`` of the parquet file, ``rows``,
``columns`` (name -> dtype), ``keys`` (identity columns), ``attrs`` (the frame's ``attrs``,
JSON-safe), ``inputs`` (what it was built from: raw vintages or snapshot files with their
sha256), ``built_at`` (UTC) and ``regionstats`` (the version that built it).

Writes go to a temporary file in the same folder, are fsynced and then renamed over the target,
the parquet file first and the sidecar last: a reader never sees a half-written file, and
:func:`read_processed` checks the parquet file against the sidecar's sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from regionstats import config
from regionstats.sources.store import _fsync_dir

__all__ = [
    "ProcessedDataError",
    "copy_processed",
    "processed_path",
    "read_json",
    "read_processed",
    "read_processed_meta",
    "sha256_file",
    "write_json_atomic",
    "write_processed",
]

SIDECAR_FORMAT = "regionstats-processed/1"


class ProcessedDataError(RuntimeError):
    """A processed dataset is missing, or does not match its sidecar."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and a rename (mode 0644): a reader
    never sees a half-written file, and a failed write leaves the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are for reading
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_safe(value: Any) -> Any:
    """``value`` with anything JSON cannot carry turned into text."""
    return json.loads(json.dumps(value, default=str))


def write_json_atomic(path: str | Path, payload: Mapping[str, Any] | Sequence[Any]) -> Path:
    """Write ``payload`` as indented UTF-8 JSON via a temporary file and a rename."""
    path = Path(path)
    text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))
    return path


def read_json(path: str | Path) -> Any:
    """Read a JSON file (raises ``FileNotFoundError`` / ``ValueError`` naming the file)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


def processed_path(name: str, folder: str | Path | None = None) -> Path:
    """``<folder>/<name>.parquet`` (default folder :func:`regionstats.config.processed_dir`)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"processed dataset name {name!r} cannot be used as a file name")
    base = Path(folder) if folder is not None else config.processed_dir()
    return base / f"{name}.parquet"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def write_processed(
    frame: pd.DataFrame,
    name: str,
    *,
    folder: str | Path | None = None,
    keys: Sequence[str] = (),
    inputs: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write ``frame`` as ``<folder>/<name>.parquet`` with its sidecar; return the sidecar.

    Parameters
    ----------
    frame : DataFrame
        A tidy frame (its ``attrs`` go into the sidecar; parquet keeps the dtypes).
    name : str
        Dataset name, e.g. ``"regional_accounts"``.
    folder : path, optional
        Default :func:`regionstats.config.processed_dir`.
    keys : sequence of str
        Identity columns (recorded for readers and revision reports).
    inputs : sequence of mapping
        What the frame was built from (kind, path or vintage, sha256, ``updated``...).
    """
    from regionstats import __version__

    path = processed_path(name, folder)
    plain = frame.copy()
    plain.attrs = {}
    data = plain.to_parquet(index=False, engine="pyarrow")
    assert isinstance(data, bytes)
    atomic_write_bytes(path, data)
    meta: dict[str, Any] = {
        "format": SIDECAR_FORMAT,
        "name": name,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "rows": len(frame),
        "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
        "keys": list(keys),
        "attrs": _json_safe(dict(frame.attrs)),
        "inputs": _json_safe([dict(i) for i in inputs]),
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "regionstats": __version__,
    }
    write_json_atomic(_sidecar(path), meta)
    return meta


def read_processed_meta(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """The sidecar of a processed dataset."""
    path = processed_path(name, folder)
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        raise ProcessedDataError(
            f"processed dataset {name!r}: no sidecar {sidecar}; run 'regionstats update' first"
        )
    meta = read_json(sidecar)
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise ProcessedDataError(f"{sidecar} is not a regionstats processed-data sidecar")
    return meta


def read_processed(name: str, folder: str | Path | None = None) -> pd.DataFrame:
    """Read a processed dataset, checked against its sidecar's sha256.

    ``attrs`` are restored from the sidecar, plus ``processed_path`` and ``processed_sha256``.

    Raises
    ------
    ProcessedDataError
        The file or its sidecar is missing, or the file's sha256 differs from the sidecar's.
    """
    path = processed_path(name, folder)
    meta = read_processed_meta(name, folder)
    if not path.is_file():
        raise ProcessedDataError(f"processed dataset {name!r}: {path} is missing")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta["sha256"]:
        raise ProcessedDataError(
            f"processed dataset {path}: sha256 is {actual}, its sidecar records {meta['sha256']}"
        )
    import io

    frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    frame.attrs = dict(meta.get("attrs") or {})
    frame.attrs["processed_path"] = str(path)
    frame.attrs["processed_sha256"] = actual
    return frame


def copy_processed(name: str, source: str | Path, target: str | Path) -> Path:
    """Copy a processed dataset and its sidecar from folder ``source`` to folder ``target``."""
    src = processed_path(name, source)
    dst = processed_path(name, target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    for a, b in ((src, dst), (_sidecar(src), _sidecar(dst))):
        if not a.is_file():
            raise ProcessedDataError(f"cannot copy processed dataset {name!r}: {a} is missing")
        atomic_write_bytes(b, a.read_bytes())
    return dst


def remove_tree(path: str | Path) -> None:
    """Remove a folder and everything in it (missing is fine)."""
    shutil.rmtree(path, ignore_errors=True)
