"""Fetch tables through the raw store: refresh only what changed, and work offline.

:class:`Fetcher` puts an API client (:class:`regionstats.sources.pxwebapi.PxWebApi` by default) in
front of the :class:`~regionstats.sources.store.RawStore`:

* **online** (default): one metadata call per table (``client.table_info``) tells the table's
  ``updated`` time. If the newest stored vintage of the same query has that same ``updated``, it
  is served from disk with **no data call**; otherwise the data is fetched
  (``client.get_data_bytes``), stored as a new immutable vintage and served from the store.
  A stored vintage that fails its checksum, or does not decode (or not to the cells of its own
  query), is reported (:class:`CorruptVintageWarning` naming the file) and fetched again; it is
  never used, and it never blocks a later fetch or :meth:`Fetcher.refresh`.
* **nothing unchecked is stored**: the bodies are decoded with the decoder that will read them
  back and checked against the query (:func:`regionstats.sources.pxwebapi.check_bodies`: the
  codes the client resolves the query to, when it can, every cell exactly once, one
  ``updated``) before the vintage is written; a body that fails is
  :class:`~regionstats.sources.pxwebapi.InvalidResponse` and the store is left as it was.
* **offline** (``REGIONSTATS_OFFLINE=1`` or ``offline=True``): the network is never touched (no
  client is even created). The newest valid stored vintage of the query is served (a newer one
  that fails its checksum or does not decode is skipped with a :class:`CorruptVintageWarning`),
  looking in the store and then in ``snapshot_dir`` (a read-only raw store laid out the same
  way, e.g. one shipped with a release); with none, :class:`OfflineDataMissing` says which table
  and query are missing and how to get them.

:meth:`Fetcher.refresh` does this for a list of queries (the quarterly job) and returns a
:class:`RefreshReport` saying, per query, whether the data were unchanged, a new vintage was
written, or the refresh failed, with the calls made.

**Symbolic queries.** Dimension ids differ between tables and releases (11713's industry may be
``NACE2007`` or ``Naering``), so a selection (and its codelists) may name dimensions by role or
label instead: ``@time``, ``@metric``, ``@geo``, ``@industry`` and ``{"@all": "*"}`` (see
:func:`resolve_selection`). They are resolved against the table's metadata
(``client.metadata``) only when data are fetched; the vintage is stored, hashed and found under
the **symbolic** query (so an offline run, which has no metadata, finds it by the same query), and
its sidecar records the query actually sent as ``resolved_query``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from regionstats import config
from regionstats.sources.pxwebapi import InvalidResponse, InvalidSelection, check_bodies
from regionstats.sources.store import (
    CorruptVintage,
    CorruptVintageWarning,
    RawStore,
    Selection,
    Vintage,
    canonical_query,
    check_stored_codes,
    query_hash,
)

__all__ = [
    "SYMBOLIC_KEYS",
    "Fetcher",
    "InvalidResponse",
    "InvalidSelection",
    "OfflineDataMissing",
    "RefreshReport",
    "TableClient",
    "TableRefresh",
    "is_symbolic",
    "resolve_dimension",
    "resolve_selection",
]


class TableClient(Protocol):
    """What :class:`Fetcher` needs from an API client (``PxWebApi`` provides it).

    For symbolic queries (:func:`resolve_selection`) the client must also have
    ``metadata(table_id) -> dict`` (the table's JSON-stat 2.0 metadata, as ``PxWebApi`` has).
    A client with ``resolve(table_id, selection, codelists=...) -> {variable: codes}`` (as
    ``PxWebApi`` has) has its bodies checked against those codes before they are stored; for
    any other client they must at least form one full cube with no cell twice.
    """

    base_url: str

    def table_info(self, table_id: str) -> dict[str, Any]:
        """Basic table information; must include ``"updated"`` (ISO 8601)."""
        ...

    def get_data_bytes(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
    ) -> list[bytes]:
        """Raw JSON-stat 2.0 response bodies, one per request ("chunk")."""
        ...


class OfflineDataMissing(LookupError):
    """Offline, and no valid stored vintage of the table and query exists."""

    def __init__(self, table_id: str, query: Mapping[str, Any], where: Sequence[Path]) -> None:
        self.table_id = table_id
        self.query = dict(query)
        places = ", ".join(str(p) for p in where)
        super().__init__(
            f"offline mode: no stored data for table {table_id} with query "
            f"{json.dumps(self.query, ensure_ascii=False, sort_keys=True)} (looked in {places}). "
            "Run the same fetch once online (unset REGIONSTATS_OFFLINE, or pass offline=False) "
            "to store it."
        )


Status = Literal["unchanged", "new vintage", "failed"]


@dataclass
class TableRefresh:
    """The outcome of refreshing one table and query.

    ``metadata_calls`` counts the ``updated`` checks (``client.table_info``, one HTTP request
    each, at most one per table per refresh); ``data_calls`` the bodies returned by
    ``client.get_data_bytes`` (one HTTP request per chunk). A client may make further requests
    of its own the first time it sees a table (``PxWebApi`` reads ``/config`` and the table's
    ``/metadata`` once, to validate and split the query); those are not counted here.
    """

    table_id: str
    query_hash: str
    status: Status
    vintage_id: str | None = None
    updated: str | None = None
    metadata_calls: int = 0
    data_calls: int = 0
    error: str | None = None


@dataclass
class RefreshReport:
    """Per-query outcomes of :meth:`Fetcher.refresh`, in the order asked."""

    tables: list[TableRefresh] = field(default_factory=list)

    @property
    def metadata_calls(self) -> int:
        return sum(t.metadata_calls for t in self.tables)

    @property
    def data_calls(self) -> int:
        return sum(t.data_calls for t in self.tables)

    def count(self, status: Status) -> int:
        """How many queries ended with this status."""
        return sum(t.status == status for t in self.tables)

    @property
    def ok(self) -> bool:
        """True when no query failed."""
        return self.count("failed") == 0

    def to_frame(self) -> pd.DataFrame:
        """The report as a table (one row per query)."""
        columns = [
            "table_id",
            "query_hash",
            "status",
            "vintage_id",
            "updated",
            "metadata_calls",
            "data_calls",
            "error",
        ]
        return pd.DataFrame(
            [[getattr(t, c) for c in columns] for t in self.tables], columns=columns
        )

    def __str__(self) -> str:
        lines = [
            f"refresh: {len(self.tables)} queries, {self.count('new vintage')} new vintage(s), "
            f"{self.count('unchanged')} unchanged, {self.count('failed')} failed; "
            f"{self.metadata_calls} metadata + {self.data_calls} data calls"
        ]
        for t in self.tables:
            detail = t.error if t.status == "failed" else t.vintage_id
            lines.append(f"  {t.table_id} [{t.query_hash[:8]}] {t.status}: {detail}")
        return "\n".join(lines)


#: A refresh request: ``(table_id, selection)`` or ``(table_id, selection, codelists)``.
RefreshItem = tuple[str, Selection] | tuple[str, Selection, Mapping[str, str] | None]


@dataclass
class _Outcome:
    vintage: Vintage
    frame: pd.DataFrame | None
    status: Status
    metadata_calls: int
    data_calls: int
    updated: str | None


# ---- symbolic selections ----------------------------------------------------------------------

#: The symbolic keys :func:`resolve_selection` understands.
SYMBOLIC_KEYS: tuple[str, ...] = ("@time", "@metric", "@geo", "@industry", "@all")


def is_symbolic(selection: Selection | None, codelists: Mapping[str, str] | None = None) -> bool:
    """Whether a query names any dimension by a symbolic ``@`` key (needs the metadata).

    >>> is_symbolic({"@all": "*"}), is_symbolic({"Region": "03"}, {"@geo": "agg_KommSummer"})
    (True, True)
    >>> is_symbolic({"Region": "03", "Tid": "2020"})
    False
    """
    keys = [*(selection or {}), *(codelists or {})]
    return any(str(k).startswith("@") for k in keys)


def _table_name(metadata: Mapping[str, Any], table_id: str | None) -> str:
    if table_id:
        return str(table_id)
    ext = metadata.get("extension")
    px = ext.get("px") if isinstance(ext, Mapping) else None
    if isinstance(px, Mapping) and px.get("tableid"):
        return str(px["tableid"])
    return str(metadata.get("label") or "?")


def _dimensions(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``[(id, label), ...]`` in table order."""
    dims = metadata.get("dimension")
    ids = metadata.get("id")
    if not isinstance(ids, list) or not isinstance(dims, Mapping):
        raise TypeError("metadata must be a JSON-stat 2.0 document with 'id' and 'dimension'")
    out = []
    for dim_id in ids:
        dim = dims.get(dim_id)
        label = dim.get("label", dim_id) if isinstance(dim, Mapping) else dim_id
        out.append((str(dim_id), str(label)))
    return out


def _describe(dims: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{d} ({label!r})" for d, label in dims)


def resolve_dimension(key: str, metadata: Mapping[str, Any], *, table_id: str | None = None) -> str:
    """The dimension id a symbolic key (``@time``, ``@metric``, ``@geo``, ``@industry``) names.

    Resolved against JSON-stat 2.0 metadata (a table's ``/metadata`` document, or any document
    with ``id``, ``dimension`` labels and ``role``):

    * ``@time`` -> ``role["time"][0]``; ``@metric`` -> ``role["metric"][0]``;
    * ``@geo`` -> ``role["geo"][0]`` when given, else the one dimension labelled ``region``
      (case-insensitive);
    * ``@industry`` -> the one dimension whose label contains ``næring`` or whose id starts with
      ``NACE`` or ``Naering`` (case-insensitive).

    A plain key (no ``@``) is returned as it is.

    Raises
    ------
    InvalidSelection
        No such role, no candidate or several, or an unknown ``@`` key; the message names the
        table, the key and the dimensions (ids and labels) the metadata has.

    Examples
    --------
    >>> meta = {"id": ["Region", "NACE2007", "Tid"], "role": {"time": ["Tid"]},
    ...         "dimension": {"Region": {"label": "region"}, "NACE2007": {"label": "næring"},
    ...                       "Tid": {"label": "år"}}}
    >>> [resolve_dimension(k, meta) for k in ("@geo", "@industry", "@time", "Tid")]
    ['Region', 'NACE2007', 'Tid', 'Tid']
    """
    if not key.startswith("@"):
        return key
    dims = _dimensions(metadata)
    table = _table_name(metadata, table_id)
    role = metadata.get("role")
    role = role if isinstance(role, Mapping) else {}

    def fail(why: str) -> InvalidSelection:
        return InvalidSelection(
            f"table {table}: cannot resolve {key!r}: {why}; the metadata has dimensions "
            f"{_describe(dims)} and roles {dict(role) or 'none'}"
        )

    def from_role(name: str) -> str | None:
        ids = role.get(name)
        if not ids:
            return None
        if not isinstance(ids, list) or str(ids[0]) not in {d for d, _ in dims}:
            raise fail(f"role {name!r} is {ids!r}, not a dimension of the table")
        return str(ids[0])

    def one(candidates: list[tuple[str, str]], what: str) -> str:
        if len(candidates) == 1:
            return candidates[0][0]
        if not candidates:
            raise fail(f"no dimension {what}")
        raise fail(f"{len(candidates)} dimensions {what}: {_describe(candidates)}")

    if key in ("@time", "@metric"):
        found = from_role(key[1:])
        if found is None:
            raise fail(f"the metadata has no role {key[1:]!r}")
        return found
    if key == "@geo":
        found = from_role("geo")
        if found is not None:
            return found
        return one(
            [(d, lab) for d, lab in dims if lab.strip().lower() == "region"],
            "labelled 'region' (and there is no role 'geo')",
        )
    if key == "@industry":
        hits = [
            (d, lab)
            for d, lab in dims
            if "næring" in lab.lower() or d.lower().startswith(("nace", "naering"))
        ]
        return one(hits, "whose label mentions 'næring' or whose id starts with NACE/Naering")
    raise fail(f"unknown symbolic key (known: {', '.join(SYMBOLIC_KEYS)})")


def resolve_selection(
    selection: Selection,
    codelists: Mapping[str, str] | None,
    metadata: Mapping[str, Any],
    *,
    table_id: str | None = None,
) -> tuple[dict[str, str | Sequence[str]], dict[str, str] | None]:
    """A query with symbolic keys turned into the table's own dimension ids.

    Parameters
    ----------
    selection : mapping
        Dimension -> value codes / expressions; keys may be plain dimension ids or symbolic:
        ``@time``, ``@metric``, ``@geo``, ``@industry`` (see :func:`resolve_dimension`) and
        ``@all`` with value ``"*"`` (every dimension not otherwise named gets ``"*"``).
    codelists : mapping or None
        Dimension -> codelist id; keys as in ``selection`` (``@all`` excepted).
    metadata : mapping
        The table's JSON-stat 2.0 metadata (``/tables/{id}/metadata``).
    table_id : str, optional
        For messages (default: ``extension.px.tableid`` of the metadata).

    Returns
    -------
    (dict, dict or None)
        The selection keyed by dimension id, in table order, and the codelists likewise (None
        when ``codelists`` was None). Plain keys are kept as given.

    Raises
    ------
    InvalidSelection
        A key cannot be resolved (see :func:`resolve_dimension`), two keys name the same
        dimension, ``@all`` has another value than ``"*"``, or a dimension left out cannot be
        eliminated (its ``extension.elimination`` is not true): the message names the
        dimension and the table.

    Examples
    --------
    >>> meta = {"id": ["Region", "Kjonn", "Tid"], "role": {"time": ["Tid"], "geo": ["Region"]},
    ...         "dimension": {"Region": {"label": "region"},
    ...                       "Kjonn": {"label": "kjønn", "extension": {"elimination": True}},
    ...                       "Tid": {"label": "år"}}}
    >>> resolve_selection({"@time": "top(1)", "@geo": "0301"}, {"@geo": "vs_Fylker"}, meta)
    ({'Region': '0301', 'Tid': 'top(1)'}, {'Region': 'vs_Fylker'})
    >>> resolve_selection({"@all": "*", "@time": "2020"}, None, meta)
    ({'Region': '*', 'Kjonn': '*', 'Tid': '2020'}, None)
    """
    dims = _dimensions(metadata)
    table = _table_name(metadata, table_id)
    by_lower = {d.lower(): d for d, _ in dims}

    def dimension_of(key: str, where: str) -> str:
        name = resolve_dimension(key, metadata, table_id=table_id)
        found = by_lower.get(name.lower())
        if found is None:
            raise InvalidSelection(
                f"table {table}: {where} key {key!r} is not a dimension of the table; "
                f"its dimensions are {_describe(dims)}"
            )
        return found

    def place(key: str, value: Any, out: dict[str, Any], named: dict[str, str], where: str) -> None:
        dim = dimension_of(key, where)
        if dim in named:
            raise InvalidSelection(
                f"table {table}: {where} keys {named[dim]!r} and {key!r} both name dimension {dim}"
            )
        named[dim] = key
        out[key if not key.startswith("@") else dim] = value

    chosen: dict[str, Any] = {}
    named: dict[str, str] = {}
    fill_all = False
    for key, value in selection.items():
        key = str(key)
        if key == "@all":
            values = [value] if isinstance(value, str) else list(value)
            if [str(v).strip() for v in values] != ["*"]:
                raise InvalidSelection(
                    f"table {table}: '@all' takes the value '*' only, got {value!r}"
                )
            fill_all = True
            continue
        place(key, value, chosen, named, "selection")
    if fill_all:
        for dim, _ in dims:
            if dim not in named:
                chosen[dim] = "*"
                named[dim] = "@all"
    dim_doc = metadata.get("dimension") or {}
    for dim, label in dims:
        if dim in named:
            continue
        ext = (dim_doc.get(dim) or {}).get("extension") or {}
        if ext.get("elimination") is not True:
            raise InvalidSelection(
                f"table {table}: dimension {dim} ({label!r}) is not selected and cannot be "
                "eliminated (its metadata says elimination is not true); select values for it "
                "(e.g. '*') or use {'@all': '*'}"
            )
    order = {d.lower(): i for i, (d, _) in enumerate(dims)}
    resolved = dict(sorted(chosen.items(), key=lambda kv: order[kv[0].lower()]))
    if codelists is None:
        return resolved, None
    lists: dict[str, str] = {}
    list_named: dict[str, str] = {}
    for key, cl_id in codelists.items():
        key = str(key)
        if key == "@all":
            raise InvalidSelection(f"table {table}: '@all' cannot be used for codelists")
        place(key, cl_id, lists, list_named, "codelists")
    return resolved, dict(sorted(lists.items(), key=lambda kv: order[kv[0].lower()]))


class Fetcher:
    """Fetch statbank tables through the raw store (see the module docstring).

    Parameters
    ----------
    client : TableClient, optional
        API client; default a :class:`~regionstats.sources.pxwebapi.PxWebApi`, created on first
        use (never when offline).
    store : RawStore, optional
        Raw store; default ``RawStore()`` (``regionstats.config.raw_dir()``).
    offline : bool, optional
        Never touch the network; default :func:`regionstats.config.offline`
        (``REGIONSTATS_OFFLINE=1``).
    snapshot_dir : Path, optional
        A read-only raw store (same layout) consulted after ``store`` when serving stored data
        offline or with ``refresh=False``.
    source : str
        Source name, the store's first folder level (default ``"ssb"``).
    """

    def __init__(
        self,
        client: TableClient | None = None,
        store: RawStore | None = None,
        *,
        offline: bool | None = None,
        snapshot_dir: Path | str | None = None,
        source: str = "ssb",
    ) -> None:
        self._client = client
        self.store = store if store is not None else RawStore()
        self.offline = config.offline() if offline is None else bool(offline)
        self.snapshot = RawStore(snapshot_dir) if snapshot_dir is not None else None
        self.source = source

    def __repr__(self) -> str:
        mode = "offline" if self.offline else "online"
        return f"Fetcher({mode}, store={self.store!r}, source={self.source!r})"

    @property
    def client(self) -> TableClient:
        """The API client (created on first use; refused when offline)."""
        if self.offline:
            raise RuntimeError("Fetcher is offline (REGIONSTATS_OFFLINE=1): no API client is used")
        if self._client is None:
            from regionstats.sources.pxwebapi import PxWebApi

            self._client = PxWebApi()
        return self._client

    # ---- public API ----------------------------------------------------------------------

    def fetch(
        self,
        table_id: str,
        selection: Selection,
        codelists: Mapping[str, str] | None = None,
        *,
        refresh: bool = True,
    ) -> pd.DataFrame:
        """A table query as a tidy frame, from the store or the API.

        Parameters
        ----------
        table_id : str
            Statbank table id, e.g. ``"11713"``.
        selection : mapping
            Variable code -> value code(s) or selection expressions (``"*"``, ``"from(2015)"``).
            Keys may be symbolic (``"@time"``, ``"@metric"``, ``"@geo"``, ``"@industry"``,
            ``"@all": "*"``), resolved against the table's metadata before data are fetched
            (:func:`resolve_selection`); stored vintages are found by the symbolic query.
        codelists : mapping, optional
            Variable code (or symbolic key) -> codelist id (``"agg_KommSummer"``).
        refresh : bool
            Online, check the table's ``updated`` time (one metadata call) and fetch data if it
            changed. With ``False`` a valid stored vintage is served without any call; the API
            is asked only when nothing is stored. Ignored offline.

        Returns
        -------
        DataFrame
            Decoded from the stored vintage; ``attrs`` name the table, vintage, ``updated``,
            source URL, fetch time and sha256 (see :meth:`RawStore.load`).

        Raises
        ------
        OfflineDataMissing
            Offline and nothing valid is stored for this table and query.
        InvalidSelection
            A symbolic key cannot be resolved, or a dimension left out cannot be eliminated
            (before any data call).
        """
        if self.offline or not refresh:
            stored = self._newest_valid(table_id, selection, codelists)
            if stored is not None:
                return stored
            if self.offline:
                raise OfflineDataMissing(
                    table_id, canonical_query(selection, codelists), self._places()
                )
        outcome = self._fetch_online(table_id, selection, codelists, updated=None)
        return outcome.frame if outcome.frame is not None else _load(self.store, outcome.vintage)

    def refresh(
        self,
        tables: Iterable[RefreshItem],
        *,
        progress: bool | Callable[[TableRefresh], None] = False,
    ) -> RefreshReport:
        """Bring every query up to date; one metadata call per table, data only where changed.

        Parameters
        ----------
        tables : iterable of tuples
            ``(table_id, selection)`` or ``(table_id, selection, codelists)``; selections may
            be symbolic, as in :meth:`fetch`.
        progress : bool or callable
            ``True`` shows a ``tqdm`` bar on stderr; a callable is called with each
            :class:`TableRefresh` as it finishes. Default: quiet.

        Returns
        -------
        RefreshReport
            Never raises for a single failing table: the error is recorded and the rest go on.
        """
        items = [_normalise_item(item) for item in tables]
        report = RefreshReport()
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc="refresh", unit="table")
        updated_cache: dict[str, str | None] = {}
        try:
            for table_id, selection, codelists in items:
                qhash = query_hash(selection, codelists)
                if self.offline:
                    result = TableRefresh(
                        table_id,
                        qhash,
                        "failed",
                        error="offline (REGIONSTATS_OFFLINE=1): refresh needs the network",
                    )
                else:
                    result = self._refresh_one(table_id, selection, codelists, updated_cache)
                report.tables.append(result)
                if bar is not None:
                    bar.set_postfix_str(f"{table_id}: {result.status}")
                    bar.update(1)
                if callable(progress):
                    progress(result)
        finally:
            if bar is not None:
                bar.close()
        return report

    # ---- internals -----------------------------------------------------------------------

    def _places(self) -> list[Path]:
        places = [self.store.root]
        if self.snapshot is not None:
            places.append(self.snapshot.root)
        return places

    def _stores(self) -> list[RawStore]:
        return [self.store] + ([self.snapshot] if self.snapshot is not None else [])

    def _newest_valid(
        self, table_id: str, selection: Selection, codelists: Mapping[str, str] | None
    ) -> pd.DataFrame | None:
        """Newest stored vintage that passes its checksums, decoded; corrupt ones reported."""
        qhash = query_hash(selection, codelists)
        for store in self._stores():
            for vintage in reversed(store.vintages(table_id, qhash, source=self.source)):
                try:
                    return _load(store, vintage)
                except CorruptVintage as exc:
                    warnings.warn(f"skipped: {exc}", CorruptVintageWarning, stacklevel=3)
        return None

    def _refresh_one(
        self,
        table_id: str,
        selection: Selection,
        codelists: Mapping[str, str] | None,
        updated_cache: dict[str, str | None],
    ) -> TableRefresh:
        qhash = query_hash(selection, codelists)
        metadata_calls = 0
        try:
            if table_id not in updated_cache:
                metadata_calls += 1
                updated_cache[table_id] = _updated_of(self.client.table_info(table_id), table_id)
            outcome = self._fetch_online(
                table_id, selection, codelists, updated=updated_cache[table_id], decode=False
            )
        except Exception as exc:  # a batch job records the failure and goes on
            return TableRefresh(
                table_id,
                qhash,
                "failed",
                metadata_calls=metadata_calls,
                error=f"{type(exc).__name__}: {exc}",
            )
        return TableRefresh(
            table_id,
            qhash,
            outcome.status,
            vintage_id=outcome.vintage.vintage_id,
            updated=outcome.updated,
            metadata_calls=metadata_calls + outcome.metadata_calls,
            data_calls=outcome.data_calls,
        )

    def _fetch_online(
        self,
        table_id: str,
        selection: Selection,
        codelists: Mapping[str, str] | None,
        *,
        updated: str | None,
        decode: bool = True,
    ) -> _Outcome:
        """Check ``updated`` (unless given), reuse the newest vintage if current, else fetch."""
        metadata_calls = 0
        if updated is None:
            metadata_calls = 1
            updated = _updated_of(self.client.table_info(table_id), table_id)
        qhash = query_hash(selection, codelists)
        candidates = self.store.vintages(table_id, qhash, source=self.source)
        if candidates and _same_time(candidates[-1].updated, updated):
            newest = candidates[-1]
            try:
                loaded = _load(self.store, newest)  # decoded even for refresh: a vintage that
                frame = loaded if decode else None  # does not decode is not "unchanged"
            except CorruptVintage as exc:
                warnings.warn(
                    f"refetching table {table_id}: {exc}", CorruptVintageWarning, stacklevel=3
                )
            else:
                return _Outcome(newest, frame, "unchanged", metadata_calls, 0, updated)
        client = self.client
        sent_selection, sent_codelists = selection, codelists
        resolved_query = None
        if is_symbolic(selection, codelists):
            sent_selection, sent_codelists = resolve_selection(
                selection, codelists, _metadata_of(client, table_id), table_id=table_id
            )
            resolved_query = canonical_query(sent_selection, sent_codelists)
        bodies = client.get_data_bytes(table_id, sent_selection, codelists=sent_codelists)
        if not bodies:
            raise InvalidResponse(f"table {table_id}: the API returned no data bodies")
        check_bodies(  # the decoder that will read the vintage, before anything is stored
            bodies,
            table_id=table_id,
            expected=_resolved_codes(client, table_id, sent_selection, sent_codelists),
        )
        base_url = str(getattr(client, "base_url", "")).rstrip("/")
        vintage = self.store.write(
            table_id,
            bodies,
            selection=selection,
            codelists=codelists,
            updated=updated,
            url=f"{base_url}/tables/{table_id}/data",
            base_url=base_url,
            source=self.source,
            resolved_query=resolved_query,
        )
        frame = _load(self.store, vintage) if decode else None
        return _Outcome(vintage, frame, "new vintage", metadata_calls, len(bodies), updated)


def _metadata_of(client: object, table_id: str) -> Mapping[str, Any]:
    """The table's JSON-stat metadata from a client that can give it (for symbolic queries)."""
    metadata = getattr(client, "metadata", None)
    if not callable(metadata):
        raise TypeError(
            f"table {table_id}: a symbolic query needs the table's metadata, but the client "
            f"{type(client).__name__} has no metadata(table_id) method"
        )
    doc = metadata(table_id)
    if not isinstance(doc, Mapping):
        raise TypeError(f"table {table_id}: metadata() returned {type(doc).__name__}, not a dict")
    return doc


def _resolved_codes(
    client: object,
    table_id: str,
    selection: Selection,
    codelists: Mapping[str, str] | None,
) -> dict[str, list[str]] | None:
    """The explicit codes per variable the client resolves a query to (``PxWebApi.resolve``,
    from metadata it has already read), or None when the client cannot tell."""
    resolve = getattr(client, "resolve", None)
    if not callable(resolve):
        return None
    codes = resolve(table_id, selection, codelists=codelists)
    return {str(k): [str(c) for c in v] for k, v in dict(codes).items()}


def _load(store: RawStore, vintage: Vintage) -> pd.DataFrame:
    """:meth:`RawStore.load` (checksums, decoding), checked against the vintage's own query
    (:func:`~regionstats.sources.store.check_stored_codes`), plus the query actually sent
    (``attrs["resolved_query"]``) when the vintage was fetched with a symbolic query.

    Raises :class:`~regionstats.sources.store.CorruptVintage` (or its subclass
    ``UndecodableVintage``) for a vintage that must not be used."""
    frame = store.load(vintage)
    check_stored_codes([frame], vintage)
    resolved = vintage.meta.get("resolved_query")
    if resolved is not None:
        frame.attrs["resolved_query"] = resolved
    return frame


def _normalise_item(
    item: RefreshItem,
) -> tuple[str, Selection, Mapping[str, str] | None]:
    if len(item) == 2:
        table_id, selection = item
        return str(table_id), selection, None
    if len(item) == 3:
        table_id, selection, codelists = item
        return str(table_id), selection, codelists
    raise ValueError(f"refresh item must be (table_id, selection[, codelists]), got {item!r}")


def _updated_of(info: Mapping[str, Any], table_id: str) -> str | None:
    if not isinstance(info, Mapping):
        raise TypeError(f"table {table_id}: table_info returned {type(info).__name__}, not a dict")
    updated = info.get("updated")
    return None if updated is None else str(updated)


def _same_time(a: str | None, b: str | None) -> bool:
    """Whether two ``updated`` stamps are the same instant (``None`` never matches)."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except (TypeError, ValueError):
        return False
