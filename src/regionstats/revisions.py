"""Revisions between two releases of a table: what changed, and by how much (pure).

SSB revises published figures when a new release of a table comes out (the regional accounts
11713 are revised every year back to the last benchmark revision, *hovedrevisjon*). Comparing the
tidy frames of two releases cell by cell (cells matched on the identity columns ``keys``) gives:

* **revised cells**: in both releases, with a different number or a different status symbol
  (``1234.0`` -> ``":"`` is a revision: the number was withdrawn). For a cell with a number in
  both, the revision is

  .. math:: r = v_{new} - v_{old}, \\qquad r_{rel} = \\frac{v_{new} - v_{old}}{|v_{old}|}

  (:math:`r_{rel}` is NaN where :math:`v_{old} = 0` or either number is missing). Numbers equal
  within ``atol`` count as unrevised (floating-point noise of a file round trip);
* **new periods** / **removed periods**: values of the time column in only one release;
* **new cells** / **removed cells**: identities in only one release (the cells of new periods
  among them);
* **changed codes**: for every other identity column, codes that appeared or disappeared (a new
  county after a regional reform, a discontinued industry).

Also :func:`apply_release` (lay a partial release, e.g. an extract of revised cells, over a full
one) and :func:`compare_tables` (which tables advanced, from two run manifests).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regionstats.model import STATUS, VALUE

__all__ = [
    "RevisionReport",
    "apply_release",
    "compare",
    "compare_tables",
    "revision_document",
    "revision_html",
    "revision_markdown",
]


def _key_frame(frame: pd.DataFrame, keys: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in (*keys, VALUE) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} release lacks columns {missing} (has {list(frame.columns)}); "
            f"cells are matched on {list(keys)}"
        )
    cols = [*keys, VALUE] + ([STATUS] if STATUS in frame.columns else [])
    work = frame[cols].copy()
    if STATUS not in work.columns:
        work[STATUS] = pd.array([pd.NA] * len(work), dtype="string")
    dup = work.duplicated(list(keys))
    if dup.any():
        example = work.loc[dup, list(keys)].iloc[0].to_dict()
        raise ValueError(
            f"{what} release has {int(dup.sum())} duplicate identities on {list(keys)}, "
            f"e.g. {example}"
        )
    work[VALUE] = work[VALUE].astype("float64")
    work[STATUS] = work[STATUS].astype("string")
    return work


def _as_list(values: pd.Series | pd.Index | np.ndarray | Sequence[Any]) -> list[Any]:
    out = []
    for v in values:
        out.append(v.item() if isinstance(v, np.generic) else v)
    return sorted(out, key=lambda v: (str(type(v)), v))


@dataclass
class RevisionReport:
    """What changed from one release of a table to the next (see :func:`compare`).

    Attributes
    ----------
    keys : list of str
        Identity columns the cells were matched on.
    time_key : str or None
        The time column (periods), if any.
    revised : DataFrame
        One row per revised cell: ``keys``, ``value_old``, ``value_new``, ``status_old``,
        ``status_new``, ``revision`` (new - old), ``relative_revision`` ((new - old) / |old|)
        and ``kind`` (``"value"`` or ``"status"``), sorted by absolute revision, largest first
        (status-only changes last).
    new_cells, removed_cells : DataFrame
        Cells (``keys``, ``value``, ``status``) in only the new / only the old release.
    new_periods, removed_periods : list
        Values of ``time_key`` in only the new / only the old release.
    codes_appeared, codes_disappeared : dict
        Per identity column other than ``time_key``: codes in only the new / only the old one.
    cells_old, cells_new, cells_compared : int
        Cells in each release and cells in both.
    """

    keys: list[str]
    time_key: str | None
    revised: pd.DataFrame
    new_cells: pd.DataFrame
    removed_cells: pd.DataFrame
    new_periods: list[Any]
    removed_periods: list[Any]
    codes_appeared: dict[str, list[str]]
    codes_disappeared: dict[str, list[str]]
    cells_old: int
    cells_new: int
    cells_compared: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_revised(self) -> int:
        """Number of revised cells (value or status)."""
        return len(self.revised)

    @property
    def has_changes(self) -> bool:
        """True when anything differs between the releases."""
        return bool(
            self.n_revised
            or len(self.new_cells)
            or len(self.removed_cells)
            or any(self.codes_appeared.values())
            or any(self.codes_disappeared.values())
        )

    def summary(self) -> dict[str, Any]:
        """Counts and the median and largest absolute and relative revisions.

        The medians and maxima are over cells with a number in both releases (``kind ==
        "value"``); ``largest_*`` name the cell.
        """
        numeric = self.revised[self.revised["kind"] == "value"]
        out: dict[str, Any] = {
            "cells_old": self.cells_old,
            "cells_new": self.cells_new,
            "cells_compared": self.cells_compared,
            "revised": self.n_revised,
            "revised_value": int(len(numeric)),
            "revised_status": int((self.revised["kind"] == "status").sum()),
            "new_cells": int(len(self.new_cells)),
            "removed_cells": int(len(self.removed_cells)),
            "new_periods": list(self.new_periods),
            "removed_periods": list(self.removed_periods),
            "codes_appeared": {k: list(v) for k, v in self.codes_appeared.items() if v},
            "codes_disappeared": {k: list(v) for k, v in self.codes_disappeared.items() if v},
            "median_abs_revision": None,
            "median_abs_relative_revision": None,
            "largest_abs_revision": None,
            "largest_relative_revision": None,
        }
        if len(numeric):
            absolute = numeric["revision"].abs()
            out["median_abs_revision"] = float(absolute.median())
            out["largest_abs_revision"] = _cell_record(numeric.loc[absolute.idxmax()], self.keys)
            rel = numeric["relative_revision"].abs()
            if rel.notna().any():
                out["median_abs_relative_revision"] = float(rel.median())
                out["largest_relative_revision"] = _cell_record(
                    numeric.loc[rel.idxmax()], self.keys
                )
        return out

    def top(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` largest revisions by absolute size (status-only changes after them)."""
        return self.revised.head(n)

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        """A JSON-ready form: :meth:`summary` plus the top ``top`` revised cells."""
        out = self.summary()
        out["keys"] = list(self.keys)
        out["time_key"] = self.time_key
        out["top_revisions"] = [_cell_record(row, self.keys) for _, row in self.top(top).iterrows()]
        return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _cell_record(row: pd.Series, keys: Sequence[str]) -> dict[str, Any]:
    names = [*keys, "value_old", "value_new", "status_old", "status_new"]
    names += ["revision", "relative_revision", "kind"]
    return {name: _plain(row[name]) for name in names if name in row.index}


def compare(
    old: pd.DataFrame,
    new: pd.DataFrame,
    keys: Sequence[str],
    *,
    time_key: str | None = "year",
    atol: float = 1e-9,
) -> RevisionReport:
    """Compare two releases of a table cell by cell.

    Parameters
    ----------
    old, new : DataFrame
        Tidy frames (identity columns ``keys``, ``value``, optionally ``status``) of the earlier
        and the later release.
    keys : sequence of str
        Identity columns, e.g. ``["region", "industry", "measure", "year"]`` for 11713.
    time_key : str or None
        The period column among ``keys`` (``None``: no periods are reported).
    atol : float
        Numbers closer than this count as equal.

    Returns
    -------
    RevisionReport

    Examples
    --------
    >>> old = pd.DataFrame({"region": ["0", "0"], "year": [2019, 2020], "value": [10.0, 5.0],
    ...                     "status": pd.array([pd.NA, pd.NA], dtype="string")})
    >>> new = pd.DataFrame({"region": ["0", "0", "0"], "year": [2019, 2020, 2021],
    ...                     "value": [12.0, 5.0, 7.0],
    ...                     "status": pd.array([pd.NA, pd.NA, pd.NA], dtype="string")})
    >>> rep = compare(old, new, ["region", "year"])
    >>> rep.revised[["year", "revision", "relative_revision"]].to_dict("records")
    [{'year': 2019, 'revision': 2.0, 'relative_revision': 0.2}]
    >>> rep.new_periods
    [2021]
    """
    keys = list(keys)
    if time_key is not None and time_key not in keys:
        raise ValueError(f"time_key {time_key!r} is not one of the keys {keys}")
    a = _key_frame(old, keys, "old")
    b = _key_frame(new, keys, "new")
    merged = a.merge(b, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
    both = merged[merged["_merge"] == "both"].drop(columns="_merge")
    only_old = merged[merged["_merge"] == "left_only"]
    only_new = merged[merged["_merge"] == "right_only"]

    v_old = both[f"{VALUE}_old"].to_numpy(dtype="float64")
    v_new = both[f"{VALUE}_new"].to_numpy(dtype="float64")
    s_old = both[f"{STATUS}_old"].fillna("").to_numpy(dtype=object)
    s_new = both[f"{STATUS}_new"].fillna("").to_numpy(dtype=object)
    nan_old, nan_new = np.isnan(v_old), np.isnan(v_new)
    with np.errstate(invalid="ignore"):
        value_changed = (nan_old != nan_new) | (
            ~nan_old & ~nan_new & ~np.isclose(v_old, v_new, rtol=0.0, atol=atol)
        )
    status_changed = s_old != s_new
    changed = value_changed | status_changed
    revised = both.loc[changed].copy()
    revised["revision"] = revised[f"{VALUE}_new"] - revised[f"{VALUE}_old"]
    denominator = revised[f"{VALUE}_old"].abs().replace(0.0, np.nan)
    revised["relative_revision"] = revised["revision"] / denominator
    revised["kind"] = np.where(revised["revision"].notna(), "value", "status")
    revised = revised.rename(
        columns={
            f"{VALUE}_old": "value_old",
            f"{VALUE}_new": "value_new",
            f"{STATUS}_old": "status_old",
            f"{STATUS}_new": "status_new",
        }
    )
    revised["_abs"] = revised["revision"].abs()
    revised = revised.sort_values(
        ["_abs", *keys], ascending=[False] + [True] * len(keys), na_position="last"
    ).drop(columns="_abs")
    columns = [*keys, "value_old", "value_new", "status_old", "status_new"]
    revised = revised[[*columns, "revision", "relative_revision", "kind"]].reset_index(drop=True)

    def cells(part: pd.DataFrame, side: str) -> pd.DataFrame:
        out = part[[*keys, f"{VALUE}_{side}", f"{STATUS}_{side}"]]
        out = out.rename(columns={f"{VALUE}_{side}": VALUE, f"{STATUS}_{side}": STATUS})
        return out.sort_values(keys).reset_index(drop=True)

    new_periods: list[Any] = []
    removed_periods: list[Any] = []
    if time_key is not None:
        t_old, t_new = set(a[time_key].tolist()), set(b[time_key].tolist())
        new_periods = _as_list(list(t_new - t_old))
        removed_periods = _as_list(list(t_old - t_new))
    appeared: dict[str, list[str]] = {}
    disappeared: dict[str, list[str]] = {}
    for key in keys:
        if key == time_key:
            continue
        c_old, c_new = set(a[key].tolist()), set(b[key].tolist())
        appeared[key] = _as_list(list(c_new - c_old))
        disappeared[key] = _as_list(list(c_old - c_new))
    return RevisionReport(
        keys=keys,
        time_key=time_key,
        revised=revised,
        new_cells=cells(only_new, "new"),
        removed_cells=cells(only_old, "old"),
        new_periods=new_periods,
        removed_periods=removed_periods,
        codes_appeared=appeared,
        codes_disappeared=disappeared,
        cells_old=len(a),
        cells_new=len(b),
        cells_compared=len(both),
        attrs={"old_vintage": old.attrs.get("vintage"), "new_vintage": new.attrs.get("vintage")},
    )


def apply_release(base: pd.DataFrame, release: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Lay a partial release over a full one: its cells replace or extend ``base``.

    Every cell of ``release`` (matched on ``keys``) replaces the cell of ``base`` with the same
    identity, or is added when ``base`` has none (a new period or code). Cells of ``base`` that
    ``release`` does not carry are kept. Used to build "what the table looks like after a new
    release" when only an extract of the new release is at hand.

    Returns
    -------
    DataFrame
        Columns of ``base`` (label columns missing in ``release`` left empty for its new rows),
        sorted by ``keys``; ``attrs`` of ``base`` with ``vintage`` and ``release_source`` taken
        from ``release``.
    """
    keys = list(keys)
    _key_frame(base, keys, "base")
    _key_frame(release, keys, "overriding")
    index_base = pd.MultiIndex.from_frame(base[keys])
    index_release = pd.MultiIndex.from_frame(release[keys])
    kept = base.loc[~index_base.isin(index_release)]
    extra = release.reindex(columns=base.columns)
    for column in base.columns:
        if extra[column].dtype != base[column].dtype:
            with contextlib.suppress(TypeError, ValueError):
                extra[column] = extra[column].astype(base[column].dtype)
    out = pd.concat([kept, extra], ignore_index=True).sort_values(keys, ignore_index=True)
    out.attrs = dict(base.attrs)
    out.attrs["vintage"] = release.attrs.get("vintage", "overriding release")
    out.attrs["release_source"] = release.attrs.get("source")
    # A partial release laid over a full one mixes two releases in one table: sums across cells
    # from different releases (industries vs total, counties vs country) need not add up.
    out.attrs["mixed_releases"] = True
    return out


def _same_stamp(a: str, b: str) -> bool:
    if a == b:
        return True
    from datetime import datetime

    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def compare_tables(
    old: Mapping[str, Mapping[str, Any]] | None, new: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Which tables advanced between two runs, from the ``tables`` sections of two manifests.

    Each table entry carries ``updated`` (the table's own "last updated" stamp; ``None`` when
    unknown) and optionally ``status`` (``"discontinued"`` when the API no longer has it).

    Returns
    -------
    list of dict
        One per table: ``table``, ``updated_old``, ``updated_new`` and ``change``, one of
        ``"advanced"`` (a new ``updated``), ``"not advanced"`` (same ``updated``), ``"new"``
        (not in the previous run), ``"discontinued"`` (gone from the API, or from this run),
        ``"not available"`` (no ``updated`` known in either run: not stored, offline),
        ``"unknown"`` (no ``updated`` known in one of the runs).

    >>> compare_tables({"11713": {"updated": "2024-03-13T07:00:00Z"}},
    ...                {"11713": {"updated": "2025-03-12T07:00:00Z"}})[0]["change"]
    'advanced'
    """
    old = old or {}
    out = []
    for table in sorted(set(old) | set(new)):
        before, after = old.get(table), new.get(table)
        u_old = before.get("updated") if before else None
        u_new = after.get("updated") if after else None
        if after is None or after.get("status") == "discontinued":
            change = "discontinued"
        elif before is None:
            change = "new"
        elif u_old is None and u_new is None:
            change = "not available"
        elif u_old is None or u_new is None:
            change = "unknown"
        elif _same_stamp(str(u_old), str(u_new)):
            change = "not advanced"
        else:
            change = "advanced"
        out.append({"table": table, "updated_old": u_old, "updated_new": u_new, "change": change})
    return out


REVISION_FORMAT = "regionstats-revision-report/1"


def revision_document(
    datasets: Mapping[str, RevisionReport],
    tables: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    previous_run_id: str | None,
    status: str = "compared",
    note: str | None = None,
    top: int = 20,
) -> dict[str, Any]:
    """The revision report of a run as a JSON-ready dict.

    ``status`` is ``"compared"``, or ``"first run"`` / ``"previous data missing"`` (then
    ``datasets`` is empty). ``has_revisions`` is true when any dataset changed (revised, new or
    removed cells, changed codes); tables that merely advanced do not count.
    """
    docs = {name: rep.to_dict(top=top) for name, rep in datasets.items()}
    return {
        "format": REVISION_FORMAT,
        "run_id": run_id,
        "previous_run_id": previous_run_id,
        "status": status,
        "note": note,
        "has_revisions": any(rep.has_changes for rep in datasets.values()),
        "tables": [dict(t) for t in tables],
        "datasets": docs,
    }


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:+.2f} %"


def _shown(cell: Mapping[str, Any], side: str) -> str:
    """A cell's number, or its status symbol when it has one."""
    symbol = cell.get(f"status_{side}")
    return _fmt(cell.get(f"value_{side}")) if symbol is None else str(symbol)


def _cell_name(cell: Mapping[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={cell.get(k)}" for k in keys)


def revision_markdown(doc: Mapping[str, Any], top: int = 20) -> str:
    """The revision report as Markdown (``revision-report.md``)."""
    lines = [f"# Revision report, run {doc['run_id']}", ""]
    previous = doc.get("previous_run_id")
    if doc.get("status") != "compared":
        lines += [
            f"No comparison: {doc.get('status')}." + (f" {doc['note']}" if doc.get("note") else "")
        ]
        lines.append("")
    else:
        verdict = "changes found" if doc.get("has_revisions") else "no revisions"
        lines += [f"Compared with run {previous}: **{verdict}**.", ""]
    if doc.get("tables"):
        lines += ["## Tables", "", "| table | updated before | updated now | change |"]
        lines.append("|---|---|---|---|")
        for t in doc["tables"]:
            lines.append(
                f"| {t['table']} | {_fmt(t.get('updated_old'))} | {_fmt(t.get('updated_new'))} "
                f"| {t['change']} |"
            )
        lines.append("")
    for name, d in (doc.get("datasets") or {}).items():
        keys = d.get("keys", [])
        lines += [f"## {name}", ""]
        lines += [
            f"- cells: {d['cells_old']} before, {d['cells_new']} now, "
            f"{d['cells_compared']} in both",
            f"- revised cells: {d['revised']} ({d['revised_value']} numbers, "
            f"{d['revised_status']} status only)",
            f"- median absolute revision: {_fmt(d['median_abs_revision'])}; median absolute "
            f"relative revision: {_pct(d['median_abs_relative_revision'])}",
        ]
        big = d.get("largest_abs_revision")
        if big:
            lines.append(
                f"- largest absolute revision: {_fmt(big['revision'])} at "
                f"{_cell_name(big, keys)} ({_fmt(big['value_old'])} -> {_fmt(big['value_new'])})"
            )
        rel = d.get("largest_relative_revision")
        if rel:
            lines.append(
                f"- largest relative revision: {_pct(rel['relative_revision'])} at "
                f"{_cell_name(rel, keys)}"
            )
        lines.append(
            f"- new periods: {_fmt(d['new_periods'] or None)}; removed periods: "
            f"{_fmt(d['removed_periods'] or None)}"
        )
        lines.append(f"- new cells: {d['new_cells']}; removed cells: {d['removed_cells']}")
        for key, codes in d.get("codes_appeared", {}).items():
            lines.append(f"- codes appeared in {key}: {', '.join(map(str, codes))}")
        for key, codes in d.get("codes_disappeared", {}).items():
            lines.append(f"- codes disappeared from {key}: {', '.join(map(str, codes))}")
        cells = d.get("top_revisions") or []
        if cells:
            lines += ["", f"Largest revisions (top {min(top, len(cells))}):", ""]
            lines.append("| " + " | ".join([*keys, "old", "new", "revision", "relative"]) + " |")
            lines.append("|" + "---|" * (len(keys) + 4))
            for c in cells[:top]:
                old, new = _shown(c, "old"), _shown(c, "new")
                lines.append(
                    "| "
                    + " | ".join(str(c.get(k)) for k in keys)
                    + f" | {old} | {new} | {_fmt(c['revision'])} | {_pct(c['relative_revision'])} |"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def revision_html(doc: Mapping[str, Any], top: int = 10) -> str:
    """A short HTML section for the report footer: verdict, counts, the largest revisions."""
    import html as _html

    esc = _html.escape
    parts = ["<section id='regionstats-revisions'><h3>Revisions since the previous run</h3>"]
    if doc.get("status") != "compared":
        parts.append(f"<p>No comparison: {esc(str(doc.get('status')))}.</p>")
    else:
        verdict = "changes found" if doc.get("has_revisions") else "no revisions"
        parts.append(
            f"<p>Compared with run {esc(str(doc.get('previous_run_id')))}: "
            f"<strong>{verdict}</strong>.</p>"
        )
    moved = [
        t for t in doc.get("tables") or [] if t["change"] not in {"not advanced", "not available"}
    ]
    still = [t["table"] for t in doc.get("tables") or [] if t["change"] == "not advanced"]
    if moved:
        items = "".join(
            f"<li>{esc(t['table'])}: {esc(t['change'])} ({esc(_fmt(t.get('updated_old')))} → "
            f"{esc(_fmt(t.get('updated_new')))})</li>"
            for t in moved
        )
        parts.append(f"<ul>{items}</ul>")
    if still:
        parts.append(f"<p>Tables that did not advance: {esc(', '.join(still))}.</p>")
    for name, d in (doc.get("datasets") or {}).items():
        keys = d.get("keys", [])
        parts.append(
            f"<p><code>{esc(name)}</code>: {d['revised']} revised cells "
            f"(median absolute revision {esc(_fmt(d['median_abs_revision']))}), "
            f"{d['new_cells']} new and {d['removed_cells']} removed cells; new periods: "
            f"{esc(_fmt(d['new_periods'] or None))}.</p>"
        )
        cells = (d.get("top_revisions") or [])[:top]
        if cells:
            head = "".join(f"<th>{esc(k)}</th>" for k in [*keys, "old", "new", "revision"])
            num = "<td style='text-align:right;padding:1px 8px'>"
            rows = "".join(
                "<tr>"
                + "".join(f"<td style='padding:1px 8px'>{esc(str(c.get(k)))}</td>" for k in keys)
                + f"{num}{esc(_shown(c, 'old'))}</td>{num}{esc(_shown(c, 'new'))}</td>"
                + f"{num}{esc(_fmt(c['revision']))}</td></tr>"
                for c in cells
            )
            parts.append(
                "<table class='regionstats-revisions' style='border-collapse:collapse'><thead><tr>"
                f"{head}</tr></thead><tbody>{rows}</tbody></table>"
            )
    parts.append(
        "<p>Full list: <code>revision-report.md</code> / <code>revision-report.json</code>.</p>"
        "</section>"
    )
    return "".join(parts)
