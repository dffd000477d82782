"""The run manifest of ``regionstats update``: what a report was made from, and how.

A manifest is a plain dict (written as ``run-manifest.json`` beside the report and shown as a
table in the report's footer):

* ``run_id``, ``started_at``, ``finished_at`` (UTC, ISO 8601), ``seconds``, ``mode``
  (``"offline"``/``"online"``);
* ``parameters``: every notebook parameter as the notebooks ran with it (the value given or the
  notebook's default; :func:`regionstats.report.parameters_used`), ``parameters_given`` the
  values passed to the run;
* ``tables``: per statbank table, its ``updated`` stamp, the raw vintage or snapshot it came from,
  and the refresh outcome (``unchanged``, ``new vintage``, ``stored``, ``discontinued``...);
* ``refresh``: metadata and data calls made (``0``/``0`` offline);
* ``inputs``: every input: ``dataset`` (what it is), ``kind`` (the source that served it: raw
  vintage, snapshot file, embedded...), ``table``, ``vintage``, ``url`` or ``path`` (relative to
  the data folder, the snapshot or the package; never absolute), ``sha256`` of what was read and
  ``frame_sha256`` of the frame the notebooks read (``runs/<run_id>/inputs``);
* ``processed``: per processed dataset, its rows, sha256 and the copy kept for the next run's
  revision report (``runs/<run_id>/<name>.parquet``, relative to the report folder);
* ``notebooks``: names and seconds; ``versions`` (python, pandas, numpy, plotly, statsmodels,
  pyarrow, nbclient, regionstats...); ``git`` (commit and whether the tree had local changes);
* ``code``: sha256 of the package's files and of every source notebook; ``fingerprint``: sha256
  of everything that decides the report (:func:`run_fingerprint`); ``report``: sha256 of the
  report and of its body (without the footer); ``reused``: the run whose executed notebooks and
  report body this run reused, when nothing changed (else ``None``).

No absolute path is written (:func:`portable`). Everything here is pure (dicts in, dicts or HTML
out) apart from reading package versions and hashing the package's files.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import platform
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "MANIFEST_FORMAT",
    "code_sha256",
    "file_sha256",
    "manifest_html",
    "new_run_id",
    "package_versions",
    "portable",
    "portable_tree",
    "run_fingerprint",
    "utc_now",
]

MANIFEST_FORMAT = "regionstats-run-manifest/1"

#: Packages whose versions every manifest records.
TRACKED_PACKAGES: tuple[str, ...] = (
    "regionstats",
    "pandas",
    "numpy",
    "pyarrow",
    "plotly",
    "statsmodels",
    "geopandas",
    "shapely",
    "pyproj",
    "scipy",
    "openpyxl",
    "nbclient",
    "nbconvert",
    "nbformat",
    "papermill",
    "ipykernel",
)


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """``ts`` as ISO 8601 UTC with seconds (``2026-03-12T07:00:00Z``)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: ``<UTC time>-<4 random hex digits>``.

    >>> rid = new_run_id(datetime(2026, 3, 12, 7, 0, 1, tzinfo=UTC))
    >>> rid.startswith("20260312T070001Z-"), len(rid)
    (True, 21)
    """
    now = now or utc_now()
    return f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


def package_versions() -> dict[str, str]:
    """Versions of Python and of :data:`TRACKED_PACKAGES` (``"not installed"`` if absent)."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


#: An absolute POSIX path inside a text: a ``/`` at the start or after a space, comma, bracket,
#: quote or ``=`` (not a URL's ``//host/path``, not a relative ``a/b``).
_ABSOLUTE = re.compile(r"(?<![\w:/.~-])/[^\s,;'\"()<>|]+")


def portable(text: str, roots: Mapping[str, str | Path]) -> str:
    """``text`` with every absolute path in it made relative: to the first of ``roots``
    (``label -> folder``) holding it, as ``label/relative`` (``relative`` for an empty label),
    else the path's file name alone. URLs and relative paths are kept.

    >>> roots = {"data": "/srv/rs/data", "": "/srv/snap"}
    >>> portable("/srv/rs/data/raw/11713/v1.json", roots)
    'data/raw/11713/v1.json'
    >>> portable("/srv/snap/geo/a.geojson, /home/me/x.csv", roots)
    'geo/a.geojson, x.csv'
    >>> portable("https://data.ssb.no/api/v2/tables/11713 and ssb_11713/a.xlsx", roots)
    'https://data.ssb.no/api/v2/tables/11713 and ssb_11713/a.xlsx'
    """
    folders = []
    for label, root in roots.items():
        for variant in {str(Path(root)), str(Path(root).resolve())}:
            folders.append((label, PurePosixPath(variant)))

    def fix(match: re.Match[str]) -> str:
        found = PurePosixPath(match.group(0))
        for label, folder in folders:
            try:
                relative = found.relative_to(folder)
            except ValueError:
                continue
            rel = relative.as_posix()
            return (f"{label}/{rel}" if rel != "." else label) if label else rel
        return found.name or "."

    return _ABSOLUTE.sub(fix, text)


def portable_tree(value: Any, roots: Mapping[str, str | Path]) -> Any:
    """``value`` (dicts, lists, scalars) with :func:`portable` strings and JSON-safe scalars:
    NaN and NA become ``None``, other objects their text.

    >>> portable_tree({"a": [float("nan"), "/x/y/z.csv"], "b": 2}, {"": "/x"})
    {'a': [None, 'y/z.csv'], 'b': 2}
    """
    if isinstance(value, Mapping):
        return {str(k): portable_tree(v, roots) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable_tree(v, roots) for v in value]
    if isinstance(value, str):
        return portable(value, roots)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError, ImportError):
        pass
    if hasattr(value, "item"):  # numpy scalars
        return portable_tree(value.item(), roots)
    return portable(str(value), roots)


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def code_sha256(root: str | Path | None = None) -> str:
    """sha256 over the files of the regionstats package (``root``, default the installed
    package folder): each file's path relative to it and its bytes, in sorted order; caches
    (``__pycache__``, ``*.pyc``) left out. Any change to the code or its data changes it."""
    base = Path(root) if root is not None else Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(base.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(path.relative_to(base).as_posix().encode("utf-8") + b"\0")
        digest.update(file_sha256(path).encode("ascii") + b"\0")
    return digest.hexdigest()


def run_fingerprint(
    *,
    parameters: Mapping[str, Any],
    inputs: Iterable[Mapping[str, Any]],
    processed: Mapping[str, Any],
    versions: Mapping[str, str],
    code: Mapping[str, Any],
    show_code: bool = False,
) -> str:
    """sha256 of everything that decides what the notebooks compute and the report shows: the
    parameters as used, every input's checksums and vintage, the processed data's checksums,
    the package versions, the code and notebooks (``code``) and ``show_code``. Two runs with
    the same fingerprint make the same report body.

    >>> same = dict(parameters={"scope": "all"}, inputs=[{"dataset": "a", "sha256": "1"}],
    ...             processed={}, versions={"pandas": "2.2"}, code={"package": "c"})
    >>> run_fingerprint(**same) == run_fingerprint(**same)
    True
    >>> run_fingerprint(**{**same, "parameters": {"scope": "business"}}) == run_fingerprint(**same)
    False
    """
    keys = ("dataset", "kind", "table", "vintage", "updated", "url", "path", "sha256")
    document = {
        "parameters": dict(parameters),
        "inputs": sorted(
            (
                {k: i.get(k) for k in (*keys, "frame_sha256") if i.get(k) is not None}
                for i in inputs
            ),
            key=lambda i: json.dumps(i, sort_keys=True, default=str),
        ),
        "processed": {n: p.get("sha256") for n, p in processed.items()},
        "versions": dict(versions),
        "code": dict(code),
        "show_code": bool(show_code),
    }
    text = json.dumps(portable_tree(document, {}), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, Mapping):
        return "; ".join(f"{html.escape(str(k))}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return html.escape(str(value))


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return (
        "<table class='regionstats-manifest' style='border-collapse:collapse;margin:0.5em 0'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _short(digest: Any) -> str:
    text = str(digest or "")
    return text[:16] + "…" if len(text) > 16 else text


def manifest_html(manifest: Mapping[str, Any]) -> str:
    """The manifest as readable HTML tables (for the report footer)."""
    reused = manifest.get("reused") or {}
    run = [
        ["run id", manifest.get("run_id")],
        ["mode", manifest.get("mode")],
        ["started", manifest.get("started_at")],
        ["finished", manifest.get("finished_at")],
        ["parameters", manifest.get("parameters") or "notebook defaults"],
        ["refresh calls", manifest.get("refresh")],
        ["git commit", manifest.get("git")],
        ["versions", manifest.get("versions")],
    ]
    if reused:
        run.insert(
            1,
            [
                "reused",
                f"nothing changed since run {reused.get('run_id')}: its executed notebooks and "
                "report were reused (same fingerprint "
                f"{_short(manifest.get('fingerprint'))})",
            ],
        )
    parts = [
        "<section id='regionstats-manifest'><h3>Run manifest</h3>",
        _table(run, ["", ""]),
    ]
    tables = manifest.get("tables") or {}
    if tables:
        rows = [
            [tid, t.get("updated"), t.get("source"), t.get("vintage"), t.get("status")]
            for tid, t in tables.items()
        ]
        parts.append(_table(rows, ["table", "updated", "from", "vintage", "refresh"]))
    inputs = manifest.get("inputs") or []
    if inputs:
        rows = [
            [
                i.get("dataset"),
                i.get("kind"),
                i.get("vintage") or i.get("updated"),
                i.get("url") or i.get("path"),
                _short(i.get("sha256") or i.get("frame_sha256")),
            ]
            for i in inputs
        ]
        parts.append(_table(rows, ["dataset", "source", "vintage", "url / file", "sha256"]))
    processed = manifest.get("processed") or {}
    if processed:
        rows = [
            [n, p.get("rows"), _short(p.get("sha256")), p.get("run_copy")]
            for n, p in processed.items()
        ]
        parts.append(_table(rows, ["processed dataset", "rows", "sha256", "kept as"]))
    notebooks = manifest.get("notebooks") or []
    if notebooks:
        rows = [
            [n.get("name"), f"{n.get('seconds', 0):.1f} s", _short(n.get("sha256"))]
            for n in notebooks
        ]
        parts.append(_table(rows, ["notebook", "run time", "sha256 (executed)"]))
    parts.append(
        "<p>The same manifest is in <code>run-manifest.json</code> beside this report.</p>"
        "</section>"
    )
    return "".join(parts)
