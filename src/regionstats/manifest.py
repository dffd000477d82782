"""The run manifest of ``regionstats update``: what a report was made from, and how.

A manifest is a plain dict (written as ``run-manifest.json`` beside the report and shown as a
table in the report's footer):

* ``run_id``, ``started_at``, ``finished_at`` (UTC, ISO 8601), ``seconds``, ``mode``
  (``"offline"``/``"online"``);
* ``parameters``: the notebook parameters of the run (as injected);
* ``tables``: per statbank table, its ``updated`` stamp, the raw vintage or snapshot it came from,
  and the refresh outcome (``unchanged``, ``new vintage``, ``stored``, ``discontinued``...);
* ``refresh``: metadata and data calls made (``0``/``0`` offline);
* ``inputs``: every input file or raw vintage with its sha256;
* ``processed``: per processed dataset, its rows, sha256 and the copy kept for the next run's
  revision report (``runs/<run_id>/<name>.parquet``, relative to the report folder);
* ``notebooks``: names and seconds; ``versions`` (python, pandas, numpy, plotly, statsmodels,
  pyarrow, nbclient, regionstats); ``git`` (commit and whether the tree had local changes).

Everything here is pure (dicts in, dicts or HTML out) apart from reading package versions.
"""

from __future__ import annotations

import html
import platform
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = [
    "MANIFEST_FORMAT",
    "manifest_html",
    "new_run_id",
    "package_versions",
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
    "nbclient",
    "nbconvert",
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
                i.get("path") or i.get("vintage"),
                _short(i.get("sha256")),
            ]
            for i in inputs
        ]
        parts.append(_table(rows, ["dataset", "input", "path / vintage", "sha256"]))
    processed = manifest.get("processed") or {}
    if processed:
        rows = [
            [n, p.get("rows"), _short(p.get("sha256")), p.get("run_copy")]
            for n, p in processed.items()
        ]
        parts.append(_table(rows, ["processed dataset", "rows", "sha256", "kept as"]))
    notebooks = manifest.get("notebooks") or []
    if notebooks:
        rows = [[n.get("name"), f"{n.get('seconds', 0):.1f} s"] for n in notebooks]
        parts.append(_table(rows, ["notebook", "run time"]))
    parts.append(
        "<p>The same manifest is in <code>run-manifest.json</code> beside this report.</p>"
        "</section>"
    )
    return "".join(parts)
