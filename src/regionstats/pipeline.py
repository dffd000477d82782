"""The quarterly job ``regionstats update``: refresh -> build -> execute -> report -> manifest.

:func:`update` does, in order:

1. **validate** the report folder and the notebook parameters (before anything runs or is
   written; every problem reported at once): :func:`preflight` (the report folder can be
   written, the notebooks and the release override exist, :func:`validate_parameters`: names,
   types, editions, scope) and, once the data are read, :func:`validate_years`
   (``start_year``/``end_year`` within the data, start < end);
2. **refresh** the statbank tables the project uses (:data:`PROJECT_TABLES`: 11713, 13470,
   07459). Online: :meth:`regionstats.sources.fetch.Fetcher.refresh`, one metadata call per
   table and data calls only for tables whose ``updated`` changed. Offline: no network at all;
   the raw store and the offline snapshot are read as they are;
3. **build** the processed datasets (``data/processed/regional_accounts.parquet`` with a sidecar
   of inputs and checksums), from the newest raw vintage of 11713 when the raw store has one,
   else from the offline snapshot. ``release_override`` lays a partial newer release (a long
   11713 CSV such as the snapshot's ``ssb11713_new_vintage_extract_2011-2023.csv``) over it,
   to rehearse a new release offline;
4. **execute** the numbered notebooks with the parameters (kernels get ``REGIONSTATS_DATA``
   pointing at the data folder and ``REGIONSTATS_OFFLINE=1``: they read what step 3 built);
5. **render** one HTML report whose footer carries the run manifest and the revision summary;
6. write ``run-manifest.json`` (:mod:`regionstats.manifest`) and ``revision-report.json`` /
   ``revision-report.md`` (:mod:`regionstats.revisions`) against the previous run, whose
   processed data are kept in ``<out>/runs/<run_id>/``.

**An unchanged rerun is fast**: when the run's fingerprint
(:func:`regionstats.manifest.run_fingerprint`: parameters as used, every input's checksums,
package versions, the code and the notebooks) equals the previous run's, and the previous
executed notebooks and report body still have the checksums its manifest recorded, steps 4-5
are skipped: the previous executed notebooks are kept and the report keeps its body, with a
footer naming this run and the reuse (the manifest's ``reused``).

The notebooks run with the run folder as working directory and ``inputs_from="inputs"``, so
no absolute path reaches a notebook, the report or the manifest.

Everything is written into a staging folder ``<out>/.staging-<run_id>/`` and moved into place
only when every step succeeded (the manifest last). A failing notebook leaves the previous report,
manifest and run folders untouched; a run that was killed leaves at most a staging folder, which
the next run removes (runs take a lock file ``<out>/.update.lock``).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from regionstats import config
from regionstats.manifest import (
    MANIFEST_FORMAT,
    iso,
    manifest_html,
    new_run_id,
    package_versions,
    utc_now,
)
from regionstats.revisions import (
    RevisionReport,
    apply_release,
    compare,
    compare_tables,
    revision_document,
    revision_html,
    revision_markdown,
)
from regionstats.sources.live import EMPLOYMENT_QUERY, POPULATION_QUERY

__all__ = [
    "PARAMETER_NAMES",
    "PROJECT_TABLES",
    "ParameterError",
    "UpdateError",
    "UpdateResult",
    "known_scopes",
    "parameter_help",
    "parse_parameter",
    "parse_parameters",
    "preflight",
    "update",
    "validate_parameters",
    "validate_years",
]

#: Parameters every notebook understands (others must be assigned in a notebook's
#: ``parameters`` cell to be accepted).
PARAMETER_NAMES: tuple[str, ...] = (
    "start_year",
    "end_year",
    "centrality_edition",
    "municipality_vintage",
    "scope",
)
#: Centrality editions available offline (2018 exists only in the live KLASS API).
CENTRALITY_EDITIONS: tuple[int, ...] = (2020, 2024)
MUNICIPALITY_VINTAGES: tuple[int, ...] = (2020, 2024)
FALLBACK_SCOPES: tuple[str, ...] = (
    "all",
    "business",
    "business_excl_finance",
    "excl_petroleum",
    "business_excl_finance_petroleum",
)

#: The statbank queries the project keeps up to date: ``(table, selection, codelists)``, written
#: by role and label (symbolic, resolved from each table's metadata) and the same queries the
#: live readers use, so a refresh fills the vintages the data seam reads.
#: 11713 is asked whole (as :func:`regionstats.sources.accounts.regional_accounts` does, so the
#: vintages are shared); 13470 employed persons by place of work for current municipalities and
#: 11 industry groups; 07459 population on 1 January for current municipalities, sexes and ages
#: summed away.
PROJECT_TABLES: tuple[tuple[str, dict[str, str], dict[str, str] | None], ...] = (
    ("11713", {"@all": "*"}, None),
    ("13470", dict(EMPLOYMENT_QUERY), None),
    ("07984", dict(EMPLOYMENT_QUERY), None),
    ("07459", dict(POPULATION_QUERY), None),
)

ACCOUNTS = "regional_accounts"
ACCOUNTS_KEYS: tuple[str, ...] = ("region", "industry", "measure", "year")
MANIFEST_NAME = "run-manifest.json"
REVISION_JSON = "revision-report.json"
REVISION_MD = "revision-report.md"
STAGING_PREFIX = ".staging-"
LOCK_NAME = ".update.lock"


class ParameterError(ValueError):
    """Parameters of ``regionstats update`` that cannot be used (nothing was run).

    ``problems`` lists every problem found (the message names them all).
    """

    def __init__(self, message: str | Sequence[str]) -> None:
        problems = [message] if isinstance(message, str) else list(message)
        self.problems: list[str] = problems
        if len(problems) == 1:
            text = problems[0]
        else:
            text = "invalid parameters:\n  " + "\n  ".join(problems)
        super().__init__(text)


class UpdateError(RuntimeError):
    """The update failed; the previous report, manifest and runs were left as they were."""


@dataclass
class UpdateResult:
    """What :func:`update` wrote; ``reused`` names the run whose executed notebooks and report
    body this run reused (nothing had changed), else ``None``."""

    run_id: str
    out_dir: Path
    report: Path
    manifest_path: Path
    revision_json: Path
    revision_md: Path
    manifest: dict[str, Any] = field(repr=False)
    revisions: dict[str, Any] = field(repr=False)
    reused: str | None = None


# ----------------------------------------------------------------------------------------------
# parameters


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"key=value"`` -> ``(key, value)``; the value as a Python literal if it is one.

    >>> parse_parameter("start_year=2012")
    ('start_year', 2012)
    >>> parse_parameter("scope=business")
    ('scope', 'business')
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ParameterError(f"parameter {text!r} is not of the form key=value")
    raw = raw.strip()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key, value


def parse_parameters(texts: Iterable[str]) -> dict[str, Any]:
    """Every ``key=value`` of ``texts`` (:func:`parse_parameter`); raises
    :class:`ParameterError` naming every one that is not of that form.

    >>> parse_parameters(["start_year=2012", "scope=all"])
    {'start_year': 2012, 'scope': 'all'}
    """
    found: dict[str, Any] = {}
    problems: list[str] = []
    for text in texts:
        try:
            key, value = parse_parameter(text)
        except ParameterError as exc:
            problems.extend(exc.problems)
            continue
        found[key] = value
    if problems:
        raise ParameterError(problems)
    return found


def parameter_help() -> str:
    """The ``--param`` help: every parameter with its valid values."""
    scopes = ", ".join(known_scopes())
    editions = "|".join(str(e) for e in CENTRALITY_EDITIONS)
    vintages = "|".join(str(v) for v in MUNICIPALITY_VINTAGES)
    return (
        "notebook parameter (repeatable): start_year=YEAR and end_year=YEAR (start < end, "
        "within the years of table 11713: 2008-2019 in the offline snapshot); "
        f"centrality_edition={editions} (2018 only online); municipality_vintage={vintages}; "
        f"scope=one of {scopes}. Default: the notebooks' own values."
    )


def known_scopes() -> list[str]:
    """Scope names of :mod:`regionstats.indicators.scopes` (its ``SCOPES``, or the table of
    ``list_scopes()``/``scopes()``), else :data:`FALLBACK_SCOPES`."""
    try:
        from regionstats.indicators import scopes as module
    except ImportError:
        return list(FALLBACK_SCOPES)
    named = getattr(module, "SCOPES", None)
    if isinstance(named, Mapping) and named:
        return [str(name) for name in named]
    lister = getattr(module, "list_scopes", None) or getattr(module, "scopes", None)
    if callable(lister):
        found = lister()
        if isinstance(found, pd.DataFrame):
            return [str(s) for s in found["scope"]]
        return [str(s) for s in found]
    return list(FALLBACK_SCOPES)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_parameters(
    parameters: Mapping[str, Any], *, extra_names: Iterable[str] = ()
) -> dict[str, Any]:
    """Check parameter names, types and allowed values; return them as a dict.

    Every problem is collected and reported at once (:class:`ParameterError`). Years are
    checked against the data later (:func:`validate_years`), but ``start_year < end_year``
    here.
    """
    problems = parameter_problems(parameters, extra_names=extra_names)
    if problems:
        raise ParameterError(problems)
    return dict(parameters)


def parameter_problems(
    parameters: Mapping[str, Any], *, extra_names: Iterable[str] = ()
) -> list[str]:
    """Every problem of :func:`validate_parameters`, as a list (empty when none).

    >>> parameter_problems({"scope": "nonsense", "start_year": "twenty"})[0]
    "start_year must be a year (integer), got 'twenty'"
    >>> len(parameter_problems({"scope": "nonsense", "start_year": "twenty"}))
    2
    """
    params = dict(parameters)
    problems: list[str] = []
    allowed = set(PARAMETER_NAMES) | set(extra_names)
    for name in params:
        if name not in allowed:
            problems.append(f"unknown parameter {name!r}; known: {', '.join(sorted(allowed))}")
    for name in ("start_year", "end_year"):
        if name in params and not _is_int(params[name]):
            problems.append(f"{name} must be a year (integer), got {params[name]!r}")
    if (
        _is_int(params.get("start_year"))
        and _is_int(params.get("end_year"))
        and params["start_year"] >= params["end_year"]
    ):
        problems.append(
            f"start_year ({params['start_year']}) must be before end_year ({params['end_year']})"
        )
    if "centrality_edition" in params and params["centrality_edition"] not in CENTRALITY_EDITIONS:
        hint = (
            " (the 2018 edition exists only in the live KLASS API)"
            if str(params["centrality_edition"]) == "2018"
            else ""
        )
        problems.append(
            f"centrality_edition must be one of {list(CENTRALITY_EDITIONS)}, got "
            f"{params['centrality_edition']!r}{hint}"
        )
    if (
        "municipality_vintage" in params
        and params["municipality_vintage"] not in MUNICIPALITY_VINTAGES
    ):
        problems.append(
            f"municipality_vintage must be one of {list(MUNICIPALITY_VINTAGES)}, got "
            f"{params['municipality_vintage']!r}"
        )
    if "scope" in params:
        names = known_scopes()
        if params["scope"] not in names:
            problems.append(f"scope must be one of {names}, got {params['scope']!r}")
    return problems


def preflight(
    out_dir: str | Path,
    parameters: Mapping[str, Any],
    *,
    notebooks: str | Path | None = None,
    release_override: str | Path | None = None,
) -> tuple[list[Path], list[str]]:
    """Everything :func:`update` checks before it runs or writes anything: the report folder
    can be written (:func:`regionstats.report.output_problem`), the notebooks exist, the
    release override exists, and the parameters (:func:`parameter_problems`, with the names
    the notebooks declare). Returns the notebooks and every problem found."""
    from regionstats import report as rep

    problems: list[str] = []
    out_problem = rep.output_problem(out_dir)
    if out_problem is not None:
        problems.append(out_problem)
    paths: list[Path] = []
    try:
        paths = rep.find_notebooks(notebooks)
    except rep.ReportError as exc:
        problems.append(str(exc))
    declared: set[str] = set()
    for path in paths:
        try:
            declared |= rep.parameter_names(path)
        except rep.ReportError as exc:
            problems.append(str(exc))
    if release_override is not None and not Path(release_override).is_file():
        problems.append(f"release override {release_override} does not exist")
    problems.extend(parameter_problems(parameters, extra_names=declared))
    return paths, problems


def validate_years(parameters: Mapping[str, Any], years: Iterable[int], what: str) -> None:
    """Check ``start_year``/``end_year`` against the years the data cover."""
    ys = sorted({int(y) for y in years})
    if not ys:
        raise ParameterError(f"{what} holds no years")
    low, high = ys[0], ys[-1]
    problems = []
    start, end = parameters.get("start_year"), parameters.get("end_year")
    if start is not None and not low <= start < high:
        problems.append(f"start_year {start} is outside the data ({what}: {low}-{high})")
    if end is not None and not low < end <= high:
        problems.append(f"end_year {end} is outside the data ({what}: {low}-{high})")
    if problems:
        raise ParameterError(problems)


# ----------------------------------------------------------------------------------------------
# sources and processed data


def _git_info() -> dict[str, Any]:
    """The project's git commit and whether tracked files have local changes (if git is here)."""
    root = config.PROJECT_ROOT
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit, "local_changes": bool(dirty)}


def _table_states_offline(
    store: Any, tables: Sequence[tuple[str, Mapping[str, Any], Mapping[str, str] | None]]
) -> dict[str, dict[str, Any]]:
    """What the raw store holds for each table (newest vintage of the project's query)."""
    from regionstats.sources.store import query_hash

    states: dict[str, dict[str, Any]] = {}
    for table_id, selection, codelists in tables:
        found = store.latest(table_id, query_hash(selection, codelists), source="ssb")
        if found is None:
            states[table_id] = {
                "updated": None,
                "source": None,
                "vintage": None,
                "status": "not stored (offline)",
            }
        else:
            states[table_id] = {
                "updated": found.updated,
                "source": "raw store",
                "vintage": found.vintage_id,
                "status": "stored (offline, not refreshed)",
            }
    return states


def _table_states_online(report: Any) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    for t in report.tables:
        if t.status == "failed":
            gone = bool(t.error) and t.error.startswith("TableNotFound")
            states[t.table_id] = {
                "updated": None,
                "source": None,
                "vintage": None,
                "status": "discontinued" if gone else "failed",
                "error": t.error,
            }
        else:
            states[t.table_id] = {
                "updated": t.updated,
                "source": "raw store",
                "vintage": t.vintage_id,
                "status": t.status,
                "metadata_calls": t.metadata_calls,
                "data_calls": t.data_calls,
            }
    return states


def _build_accounts(
    fetcher: Any,
    item: tuple[str, Mapping[str, Any], Mapping[str, str] | None] | None,
    snapshot: Path | None,
    release_override: Path | None,
    say: Callable[[str], None],
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """Regional accounts (11713) from the newest raw vintage, else the snapshot."""
    from regionstats.sources import accounts as acc
    from regionstats.sources.fetch import Fetcher, OfflineDataMissing
    from regionstats.sources.processed import sha256_file

    frame = None
    inputs: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    if item is not None:
        reader = Fetcher(
            store=fetcher.store, offline=True, snapshot_dir=None, source=fetcher.source
        )
        try:
            decoded = reader.fetch(item[0], item[1], item[2])
        except OfflineDataMissing:
            decoded = None
        if decoded is not None:
            frame = acc.normalise_11713(decoded)
            inputs.append(
                {
                    "dataset": ACCOUNTS,
                    "kind": "raw vintage",
                    "table": "11713",
                    "vintage": decoded.attrs.get("vintage"),
                    "url": decoded.attrs.get("source"),
                    "path": decoded.attrs.get("raw_path"),
                    "updated": decoded.attrs.get("updated"),
                    "sha256": decoded.attrs.get("sha256"),
                }
            )
            state = {
                "updated": decoded.attrs.get("updated"),
                "source": "raw store",
                "url": decoded.attrs.get("source"),
                "vintage": decoded.attrs.get("vintage"),
            }
            say(f"11713: raw vintage {decoded.attrs.get('vintage')}")
    if frame is None:
        import warnings

        from regionstats.sources.inputs import (
            InputFallbackWarning,
            InputUnavailable,
            regional_accounts,
        )

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputFallbackWarning)
                frame = regional_accounts(
                    offline=True, snapshot=snapshot, data_dir=fetcher.store.root.parent
                )
        except InputUnavailable as exc:
            raise UpdateError(str(exc)) from None
        prov = frame.attrs.get("provenance") or {}
        if prov.get("source") == "snapshot" and snapshot is not None:
            for relative in (acc.WORKBOOK_11713, acc.EXPORT_11713):
                inputs.append(
                    {
                        "dataset": ACCOUNTS,
                        "kind": "snapshot file",
                        "table": "11713",
                        "path": relative,
                        "sha256": sha256_file(snapshot / relative),
                    }
                )
        else:
            inputs.append(
                {
                    "dataset": ACCOUNTS,
                    "kind": f"{prov.get('source')} data",
                    "table": "11713",
                    "path": prov.get("location"),
                    "sha256": prov.get("sha256"),
                }
            )
        state = {
            "updated": frame.attrs.get("vintage"),
            "source": f"offline {prov.get('source')}",
            "vintage": prov.get("source"),
            "status": f"{prov.get('source')} (no raw vintage stored)",
        }
        say(f"11713: {prov.get('source')} ({frame.attrs.get('vintage')})")
    if release_override is not None:
        from regionstats.sources.statbank_files import read_11713_csv

        release = read_11713_csv(release_override)
        frame = apply_release(frame, release, ACCOUNTS_KEYS)
        digest = sha256_file(release_override)
        inputs.append(
            {
                "dataset": ACCOUNTS,
                "kind": "release override",
                "table": "11713",
                "path": str(release_override),
                "sha256": digest,
            }
        )
        state = {
            "updated": f"release override {digest[:12]}",
            "source": f"{state['source']} + release override",
            "vintage": str(release_override),
        }
        say(f"11713: laid the release in {release_override} over it ({len(release)} cells)")
    return frame, inputs, state


def _load_seam(
    params: Mapping[str, Any],
    accounts: pd.DataFrame,
    offline: bool,
    snapshot: Path | None,
    data: Path,
    say: Callable[[str], None],
) -> Any:
    """Every input of the notebooks (:func:`regionstats.load_inputs`), with ``accounts`` as
    built by the update; fallbacks between sources are reported, never silent."""
    import warnings

    from regionstats.sources.inputs import InputFallbackWarning, InputUnavailable, load_inputs

    say("loading the other inputs ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputFallbackWarning)
        try:
            seam = load_inputs(
                params, offline=offline, snapshot=snapshot, data_dir=data, accounts=accounts
            )
        except InputUnavailable as exc:
            raise UpdateError(str(exc)) from None
    for w in caught:
        if issubclass(w.category, InputFallbackWarning):
            say(f"  note: {w.message}")
    for line in seam.describe().splitlines():
        say(f"  {line}")
    return seam


# ----------------------------------------------------------------------------------------------
# staging and promotion


def _clean_stale(out: Path, say: Callable[[str], None]) -> None:
    for stale in out.glob(f"{STAGING_PREFIX}*"):
        if stale.is_dir():
            say(f"removing {stale.name} left by an interrupted run")
            shutil.rmtree(stale, ignore_errors=True)


def _replace_dir(source: Path, target: Path) -> None:
    """Put folder ``source`` at ``target``, replacing any folder there."""
    if target.exists():
        old = target.with_name(f"{STAGING_PREFIX}old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def _promote(staging: Path, out: Path, run_id: str, report_name: str) -> None:
    """Move the staged files into ``out``; the manifest last (it marks a complete run)."""
    _replace_dir(staging / "runs" / run_id, out / "runs" / run_id)
    if (staging / "notebooks").is_dir():
        _replace_dir(staging / "notebooks", out / "notebooks")
    for name in (REVISION_JSON, REVISION_MD, report_name, MANIFEST_NAME):
        os.replace(staging / name, out / name)


def _prune_runs(out: Path, keep: int, protect: set[str]) -> None:
    runs = sorted(p for p in (out / "runs").iterdir() if p.is_dir())
    for old in runs[: max(0, len(runs) - keep)]:
        if old.name not in protect:
            shutil.rmtree(old, ignore_errors=True)


def _previous_run(out: Path) -> tuple[dict[str, Any] | None, str | None]:
    from regionstats.sources.processed import read_json

    path = out / MANIFEST_NAME
    if not path.is_file():
        return None, None
    try:
        manifest = read_json(path)
    except (OSError, ValueError) as exc:
        return None, f"previous manifest {path} unreadable: {exc}"
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None, f"{path} is not a regionstats run manifest"
    return manifest, None


# ----------------------------------------------------------------------------------------------
# the job


def update(
    out_dir: str | Path = "reports",
    *,
    offline: bool | None = None,
    notebooks: str | Path | None = None,
    snapshot: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    data_dir: str | Path | None = None,
    release_override: str | Path | None = None,
    tables: Sequence[tuple[str, Mapping[str, Any], Mapping[str, str] | None]] | None = None,
    fetcher: Any = None,
    show_code: bool = False,
    keep_runs: int = 10,
    lock_timeout: float = 5.0,
    progress: Callable[[str], None] | None = None,
    on_cell: Callable[[Any], None] | None = None,
    reuse: bool = True,
) -> UpdateResult:
    """Run the quarterly job end to end (see the module docstring).

    Parameters
    ----------
    out_dir : path
        Report folder: ``regionstats-report.html``, ``run-manifest.json``,
        ``revision-report.{json,md}``, ``notebooks/`` (executed copies), ``runs/<run_id>/``.
    offline : bool, optional
        No network at all (default :func:`regionstats.config.offline`).
    notebooks : path, optional
        Folder of numbered notebooks (default ``notebooks/``).
    snapshot : path, optional
        Offline snapshot folder (default ``$REGIONSTATS_SNAPSHOT`` or ``../shared/data/snapshot``);
        used for 11713 when the raw store has no vintage of it.
    parameters : mapping, optional
        Notebook parameters (injected after each notebook's ``parameters`` cell).
    data_dir : path, optional
        Folder holding ``raw/`` and ``processed/`` (default :func:`regionstats.config.data_dir`).
    release_override : path, optional
        A long 11713 CSV of a newer (partial) release laid over the data (rehearse a release).
    tables : sequence, optional
        Queries to refresh, ``(table, selection, codelists)`` (default :data:`PROJECT_TABLES`).
    fetcher : Fetcher, optional
        Online fetcher (default one on ``<data_dir>/raw``); ignored offline.
    keep_runs : int
        Run folders kept in ``<out>/runs`` (the newest; never the current one).
    lock_timeout : float
        Seconds to wait for another update writing into ``out_dir`` before giving up.
    progress : callable, optional
        Called with progress messages.
    on_cell : callable, optional
        Called with a :class:`regionstats.report.CellProgress` as each notebook cell starts.
    reuse : bool
        Reuse the previous run's executed notebooks and report when nothing changed (the
        module docstring); ``False`` always executes the notebooks.

    Returns
    -------
    UpdateResult

    Raises
    ------
    ParameterError
        Before anything ran or was written; it names every problem found.
    UpdateError
        Something failed (a notebook: the message names it and the cell); nothing in
        ``out_dir`` was replaced.
    """
    from filelock import FileLock, Timeout

    from regionstats import report as rep
    from regionstats.manifest import (
        code_sha256,
        file_sha256,
        portable_tree,
        run_fingerprint,
    )
    from regionstats.sources.fetch import Fetcher
    from regionstats.sources.processed import (
        ProcessedDataError,
        copy_processed,
        read_processed,
        write_json_atomic,
        write_processed,
    )
    from regionstats.sources.snapshot import find_snapshot
    from regionstats.sources.store import RawStore

    say = progress or (lambda _msg: None)
    started = utc_now()
    clock = time.perf_counter()
    run_id = new_run_id(started)
    offline = config.offline() if offline is None else bool(offline)

    # 1. the report folder and the parameters, every problem at once, before anything runs
    paths, problems = preflight(
        out_dir, parameters or {}, notebooks=notebooks, release_override=release_override
    )
    if problems:
        raise ParameterError(problems)
    params = dict(parameters or {})
    out = Path(out_dir).resolve()
    data = Path(data_dir).resolve() if data_dir is not None else config.data_dir().resolve()
    items = [
        (t[0], dict(t[1]), dict(t[2]) if len(t) > 2 and t[2] else None)
        for t in (tables if tables is not None else PROJECT_TABLES)
    ]
    override = Path(release_override).resolve() if release_override is not None else None
    snap = find_snapshot(snapshot)
    roots: dict[str, Path] = {"report": out, "data": data}
    if snap is not None:
        roots["snapshot"] = Path(snap)
    roots["regionstats"] = Path(__file__).resolve().parent
    roots["project"] = config.PROJECT_ROOT

    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / LOCK_NAME), timeout=lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        raise UpdateError(
            f"another 'regionstats update' is writing into {out} (lock {out / LOCK_NAME}); "
            "wait for it to finish"
        ) from None
    pool: Any = None
    staging = out / f"{STAGING_PREFIX}{run_id}"
    try:
        _clean_stale(out, say)
        say(f"run {run_id}: {'offline' if offline else 'online'}, data in {data}")
        # The notebooks' kernels boot now, while the data is refreshed and built (they run in
        # the run folder, the staging copy of runs/<run_id>, when the notebooks read inputs).
        wants_inputs = any("inputs_from" in rep.parameter_names(p) for p in paths)
        run_folder = staging / "runs" / run_id
        (run_folder if wants_inputs else staging).mkdir(parents=True)
        kernel_env = {
            "REGIONSTATS_OFFLINE": "1",
            "REGIONSTATS_DATA": str(data),
            "REGIONSTATS_SOURCE": "processed",
        }
        if snap is not None:
            kernel_env["REGIONSTATS_SNAPSHOT"] = str(snap)
        pool = rep.KernelPool(
            env=kernel_env, cwd=run_folder if wants_inputs else paths[0].resolve().parent
        )
        if not (reuse and (out / MANIFEST_NAME).exists()):  # a rerun may reuse the last run's
            pool.start(rep.notebook_jobs(None, len(paths)))

        # 2. refresh
        store = RawStore(data / "raw")
        if offline:
            fetch = Fetcher(store=store, offline=True, snapshot_dir=None)
            states = _table_states_offline(store, items)
            refresh = {"mode": "offline", "metadata_calls": 0, "data_calls": 0}
            say("offline: no refresh, no network; reading the raw store and the snapshot")
        else:
            fetch = fetcher if fetcher is not None else Fetcher(store=store, offline=False)
            say(f"refreshing {len(items)} tables ...")

            def tell(t: Any) -> None:
                say(f"  {t.table_id}: {t.status}" + (f" ({t.error})" if t.error else ""))

            result = fetch.refresh(items, progress=tell)
            states = _table_states_online(result)
            refresh = {
                "mode": "online",
                "metadata_calls": result.metadata_calls,
                "data_calls": result.data_calls,
            }

        # 3. build the processed data (in memory first: years are validated before writing)
        item = next((i for i in items if i[0] == "11713"), None)
        say("building regional_accounts ...")
        frame, inputs, acc_state = _build_accounts(fetch, item, snap, override, say)
        states.setdefault("11713", {}).update(acc_state)
        validate_years(params, frame["year"].unique(), "table 11713 (regional accounts)")
        processed_dir = data / "processed"
        meta = write_processed(
            frame, ACCOUNTS, folder=processed_dir, keys=ACCOUNTS_KEYS, inputs=inputs
        )
        say(f"wrote {processed_dir / (ACCOUNTS + '.parquet')} ({meta['rows']} rows)")

        # every other input through the one seam (the accounts just built are handed in)
        seam = None
        if any("inputs_from" in rep.parameter_names(p) for p in paths):
            seam = _load_seam(params, frame, offline, snap, data, say)

        try:
            copy_processed(ACCOUNTS, processed_dir, run_folder)
            notebook_params = dict(params)
            if seam is not None:
                from regionstats.sources.inputs import save_inputs

                saved = save_inputs(seam, run_folder / "inputs")
                # kept with the run (runs/<run_id>/inputs) once the run is promoted; the
                # kernels run in the run folder, so the notebooks get a relative path
                notebook_params["inputs_from"] = "inputs"
                inputs.extend(_seam_inputs(seam, saved))
                _states_from_seam(states, seam)
            processed = {
                ACCOUNTS: {
                    "rows": meta["rows"],
                    "sha256": meta["sha256"],
                    "path": f"processed/{meta['file']}",
                    "run_copy": f"runs/{run_id}/{meta['file']}",
                }
            }
            used = rep.parameters_used(paths, params)
            versions = package_versions()
            code = {
                "package": code_sha256(),
                "notebooks": {p.name: file_sha256(p) for p in paths},
            }
            fingerprint = run_fingerprint(
                parameters=used,
                inputs=inputs,
                processed=processed,
                versions=versions,
                code=code,
                show_code=show_code,
            )

            # revisions against the previous run
            previous, problem = _previous_run(out)
            datasets: dict[str, RevisionReport] = {}
            status, note = "first run", problem
            previous_id = previous.get("run_id") if previous else None
            if previous is not None:
                copy = (previous.get("processed") or {}).get(ACCOUNTS, {}).get("run_copy")
                try:
                    if not copy:
                        raise ProcessedDataError("the previous manifest names no copy")
                    old = read_processed(ACCOUNTS, (out / copy).parent)
                    datasets[ACCOUNTS] = compare(old, frame, ACCOUNTS_KEYS, time_key="year")
                    status = "compared"
                except (ProcessedDataError, OSError, ValueError) as exc:
                    status, note = "previous data missing", str(exc)
            tables_change = compare_tables(previous.get("tables") if previous else None, states)
            revisions = portable_tree(
                revision_document(
                    datasets,
                    tables_change if previous is not None else [],
                    run_id=run_id,
                    previous_run_id=previous_id,
                    status=status,
                    note=note,
                ),
                roots,
            )
            if datasets:
                found = datasets[ACCOUNTS]
                say(
                    f"revisions since {previous_id}: {found.n_revised} revised cells, "
                    f"{len(found.new_cells)} new, {len(found.removed_cells)} removed"
                )

            # What the report needs of the seam, then the frames go: the kernels read the saved
            # inputs, and this process need not hold a copy of them while they run.
            seam_folder = f"runs/{run_id}/inputs" if seam is not None else None
            seam_sources = seam.sources if seam is not None else None
            seam_params = seam.params.as_dict() if seam is not None else None
            del seam, frame
            _release_memory()

            # 4. notebooks, unless the previous run made them from the same everything
            reused, why_not = (
                _reusable(previous, fingerprint, out) if reuse else (None, "reuse switched off")
            )
            previous_report = ""
            if reused is not None:
                previous_report = (out / rep.REPORT_NAME).read_text(encoding="utf-8")
                say(
                    f"nothing changed since run {previous_id} (same inputs, parameters, code, "
                    f"notebooks and package versions): reusing the executed notebooks and the "
                    f"report of run {reused['run_id']}"
                )
                runs: list[Any] = []
                notebook_rows = [
                    {**n, "reused_from": reused["run_id"]}
                    for n in (previous or {}).get("notebooks", [])
                ]
            else:
                if previous is not None and why_not:
                    say(f"running the notebooks: {why_not}")
                try:
                    runs = rep.run_notebooks(
                        paths,
                        parameters=notebook_params,
                        progress=say,
                        on_cell=on_cell,
                        pool=pool,
                    )
                except rep.ReportError as exc:
                    raise UpdateError(str(exc)) from exc
                import nbformat

                notebook_rows = []
                for r in runs:
                    text = nbformat.writes(r.notebook)
                    rep.atomic_write_text(staging / "notebooks" / r.path.name, text)
                    notebook_rows.append(
                        {
                            "name": r.path.name,
                            "seconds": round(r.seconds, 2),
                            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                        }
                    )

            # 5. manifest, report
            finished = utc_now()
            manifest: dict[str, Any] = {
                "format": MANIFEST_FORMAT,
                "run_id": run_id,
                "started_at": iso(started),
                "finished_at": iso(finished),
                "seconds": round(time.perf_counter() - clock, 2),
                "mode": "offline" if offline else "online",
                "parameters": used,
                "parameters_given": params,
                "tables": states,
                "refresh": refresh,
                "inputs": inputs,
                "inputs_folder": seam_folder,
                "processed": processed,
                "notebooks": notebook_rows,
                "versions": versions,
                "git": _git_info(),
                "code": code,
                "fingerprint": fingerprint,
                "reused": reused,
                "release_override": (
                    {"file": override.name, "sha256": file_sha256(override)} if override else None
                ),
                "revisions": {
                    "status": status,
                    "previous_run_id": previous_id,
                    "has_revisions": revisions["has_revisions"],
                },
            }
            manifest = portable_tree(manifest, roots)
            say("rendering the HTML report ..." if reused is None else "updating its footer ...")
            labels = [str(i.get("dataset")) for i in inputs] + [
                f"SSB {t}" for t, st in states.items() if st.get("source")
            ]
            footer = rep.default_footer(
                revision_html(revisions) + manifest_html(manifest), sources=labels
            )
            if reused is not None:
                document = rep.replace_footer(previous_report, footer)
                figures = int((previous or {}).get("figures") or 0)
            else:
                document, figures = rep.render_report(
                    runs,
                    footer_html=footer,
                    show_code=show_code,
                    sources=seam_sources,
                    parameters=seam_params,
                )
            manifest["figures"] = figures
            manifest["report"] = {
                "file": rep.REPORT_NAME,
                "sha256": hashlib.sha256(document.encode("utf-8")).hexdigest(),
                "body_sha256": rep.body_sha256(document),
                "bytes": len(document.encode("utf-8")),
            }
            rep.atomic_write_text(staging / rep.REPORT_NAME, document)
            write_json_atomic(staging / REVISION_JSON, revisions)
            rep.atomic_write_text(staging / REVISION_MD, revision_markdown(revisions))
            write_json_atomic(staging / MANIFEST_NAME, manifest)
            _promote(staging, out, run_id, rep.REPORT_NAME)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune_runs(out, keep_runs, {run_id, previous_id or ""})
        say(f"wrote {out / rep.REPORT_NAME} ({len(document) / 1e6:.1f} MB, {figures} figures)")
    finally:
        if pool is not None:
            pool.close()
        shutil.rmtree(staging, ignore_errors=True)
        lock.release()
    return UpdateResult(
        run_id=run_id,
        out_dir=out,
        report=out / rep.REPORT_NAME,
        manifest_path=out / MANIFEST_NAME,
        revision_json=out / REVISION_JSON,
        revision_md=out / REVISION_MD,
        manifest=manifest,
        revisions=revisions,
        reused=reused["run_id"] if reused else None,
    )


#: Which statbank table or classification each input of the seam is (from its label).
_TABLE_IN_LABEL = re.compile(r"\b(?:SSB|KLASS) (\d+)\b")


def _release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc's ``malloc_trim``;
    elsewhere only the collection), so the kernels that run next have the memory."""
    import ctypes
    import ctypes.util

    gc.collect()
    with contextlib.suppress(Exception):  # Arrow's allocator keeps freed blocks otherwise
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(name).malloc_trim(0)


def _seam_inputs(seam: Any, saved: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One manifest row per input of the seam: the source that served it, its vintage, where
    from (a URL, or a file relative to the snapshot or the data folder), the checksum of what
    was read and of the frame the notebooks read (``frame_sha256``)."""
    from regionstats.sources.inputs import Inputs

    rows = []
    frames = saved.get("inputs", {})
    for (attr, _label), row in zip(Inputs.FRAMES, seam.sources.itertuples(), strict=True):
        location = row.location if isinstance(row.location, str) else None
        found = _TABLE_IN_LABEL.search(str(row.input))
        entry: dict[str, Any] = {
            "dataset": row.input,
            "kind": row.source,
            "table": found.group(1) if found else None,
            "vintage": row.vintage if isinstance(row.vintage, str) else None,
            "sha256": row.sha256 if isinstance(row.sha256, str) else None,
            "frame_sha256": (frames.get(attr) or {}).get("sha256"),
            "rows": (frames.get(attr) or {}).get("rows"),
        }
        if location and re.match(r"^[a-z][a-z0-9+.-]*://", location):
            entry["url"] = location
        else:
            entry["path"] = location
        rows.append(entry)
    return rows


def _states_from_seam(states: dict[str, dict[str, Any]], seam: Any) -> None:
    """Tables the raw store does not hold offline but the seam served from the snapshot or
    the embedded default: say so in ``states`` (instead of "not stored")."""
    for row in seam.sources.itertuples():
        found = re.search(r"\bSSB (\d{5})\b", str(row.input))
        if not found:
            continue
        state = states.get(found.group(1))
        if state is None or state.get("source") is not None:
            continue
        vintage = row.vintage if isinstance(row.vintage, str) else None
        state.update(
            {
                "updated": vintage,
                "source": f"offline {row.source}",
                "vintage": row.source,
                "status": f"{row.source} (no raw vintage stored)",
            }
        )


def _reusable(
    previous: Mapping[str, Any] | None, fingerprint: str, out: Path
) -> tuple[dict[str, Any] | None, str | None]:
    """``(reused, None)`` when the previous run had this ``fingerprint`` and its executed
    notebooks and report body are in ``out`` with the checksums its manifest recorded; else
    ``(None, why not)``."""
    from regionstats import report as rep
    from regionstats.manifest import file_sha256

    if previous is None:
        return None, "no previous run"
    if previous.get("fingerprint") != fingerprint:
        return None, "inputs, parameters, code, notebooks or package versions changed"
    report = previous.get("report") or {}
    notebooks = previous.get("notebooks") or []
    if not report.get("body_sha256") or not notebooks:
        return None, "the previous manifest records no report or notebook checksums"
    path = out / rep.REPORT_NAME
    try:
        if rep.body_sha256(path.read_text(encoding="utf-8")) != report["body_sha256"]:
            return None, f"{rep.REPORT_NAME} is not the one the previous run wrote"
        for n in notebooks:
            if file_sha256(out / "notebooks" / str(n.get("name"))) != n.get("sha256"):
                return None, f"notebooks/{n.get('name')} is not the one the previous run wrote"
    except OSError as exc:
        return None, f"the previous outputs cannot be read ({exc.strerror or exc})"
    executed = (previous.get("reused") or {}).get("run_id") or previous.get("run_id")
    return {
        "run_id": executed,
        "previous_run_id": previous.get("run_id"),
        "report_body_sha256": report["body_sha256"],
        "notebooks": {str(n.get("name")): n.get("sha256") for n in notebooks},
    }, None
