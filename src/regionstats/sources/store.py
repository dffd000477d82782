"""The raw store: every API response kept as an immutable, checksummed *vintage*.

Layout below the store root (default :func:`regionstats.config.raw_dir`)::

    <root>/<source>/<table_id>/<vintage_id>/
        chunk-000.json      the response body exactly as received (one file per request)
        chunk-001.json      ...
        meta.json           the sidecar (see below)

``vintage_id`` is ``<fetched-at>-<table updated>-<query hash[:8]>``, e.g.
``20261123T120301.482913Z-20251203T070000Z-3fa9c2d1``: it sorts by fetch time and is unique
(a clash gets a ``-1``, ``-2`` … suffix; an existing vintage is never overwritten).

The sidecar ``meta.json`` records: ``source`` (short name, e.g. ``"ssb"``), ``url`` (the data
endpoint asked), ``base_url``, ``table_id``, ``query`` (``{"selection": …, "codelists": …}``,
canonicalised: see :func:`canonical_query`), ``query_hash`` (sha256 of the canonical query JSON),
``updated`` (the table's own "last updated" time as published), ``fetched_at`` (UTC, ISO 8601),
``files`` (name, sha256 and size in bytes of every body file, in chunk order), ``client_version``
(``regionstats.__version__``), ``vintage_id`` and ``meta_sha256`` (sha256 of the sidecar's own
canonical JSON without that key, so an edited sidecar is caught too). A vintage fetched with a
symbolic query (:func:`regionstats.sources.fetch.resolve_selection`) also records
``resolved_query``, the query actually sent, in the same canonical form.

Writes are atomic: the vintage is written into a temporary folder ``<root>/.incoming-*``, every
file and the folder are fsynced, and only then is the folder renamed to its final name. A process
killed mid-write leaves at most a temporary folder, which listings never see and the next write
removes. Writers take a lock file ``<root>/.write.lock`` so concurrent writers cannot clash.

Every read verifies every body's sha256 against the sidecar; a mismatch raises
:class:`CorruptVintage` naming the file and both hashes. :meth:`RawStore.load` also decodes every
body and checks the chunks fit together (one ``updated``, every cell once, a full cube); a vintage
that fails is :class:`UndecodableVintage`, a :class:`CorruptVintage`, so every reader that skips
corrupt vintages skips it too and falls back to an older one. :func:`check_stored_codes` (used by
the fetcher) also refuses a vintage whose codes are not those of its stored query. (Vintages are
written only after the same decoder has read them, see :class:`regionstats.sources.fetch.Fetcher`;
these checks guard stores written before that.)

Names and paths: ``source`` and ``table_id`` must be plain folder names (no ``/``, ``\\``, no
leading ``.``), and every folder the store reads or writes must resolve inside the root, so a
table id such as ``"../../outside"`` is refused (:class:`UnsafeStorePath`) rather than served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock

from regionstats import config

__all__ = [
    "CorruptVintage",
    "CorruptVintageWarning",
    "RawStore",
    "UndecodableVintage",
    "UnsafeStorePath",
    "Vintage",
    "canonical_query",
    "check_stored_codes",
    "query_hash",
]

META_FILE = "meta.json"
META_FORMAT = "regionstats-raw-vintage/1"
INCOMING_PREFIX = ".incoming-"
LOCK_FILE = ".write.lock"

#: ``selection`` as given by callers: variable code -> value code(s) / selection expressions.
Selection = Mapping[str, str | Sequence[str]]


class CorruptVintage(Exception):
    """A stored vintage does not match its sidecar (flipped byte, truncated or missing file).

    Attributes
    ----------
    path : Path
        The file that failed the check.
    expected, actual : str
        The sha256 recorded in the sidecar and the sha256 of the file as read (``"missing"``
        when the file is gone, ``"unreadable"`` when the sidecar itself cannot be parsed).
    """

    def __init__(self, path: Path, expected: str, actual: str, detail: str = "") -> None:
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        msg = (
            f"corrupt raw vintage file {self.path}: sha256 is {actual}, "
            f"the sidecar records {expected}"
        )
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class UndecodableVintage(CorruptVintage, ValueError):
    """A stored vintage whose checksums hold but whose bodies do not decode as JSON-stat 2.0, or
    decode to chunks that do not fit together or do not match the stored query (a vintage
    stored before responses were checked). Skipped like any :class:`CorruptVintage`."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = Path(path)
        self.expected = "a decodable JSON-stat 2.0 vintage"
        self.actual = "undecodable"
        self.detail = detail
        Exception.__init__(self, f"raw vintage {self.path} cannot be used: {detail}")


class UnsafeStorePath(ValueError):
    """A ``source`` or ``table_id`` that is not a plain folder name, or a path that would lead
    outside the store root (e.g. ``"../../outside"``)."""


class CorruptVintageWarning(UserWarning):
    """A corrupt vintage was found and skipped (the message names the file)."""


# --------------------------------------------------------------------------------------------
# queries


def _split_codes(text: str) -> list[str]:
    """Split ``"a,b,[RANGE(1,12)]"`` at commas outside brackets/parentheses (PxWeb GET syntax)."""
    from regionstats.sources.pxwebapi import split_values

    return split_values(text)


def _codes(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return _split_codes(value)
    if isinstance(value, Sequence):
        out = []
        for v in value:
            if not isinstance(v, str):
                raise TypeError(f"{where}: value codes must be strings, got {v!r}")
            out.append(v)
        return out
    raise TypeError(f"{where}: expected a string or a list of strings, got {value!r}")


def canonical_query(
    selection: Selection | None, codelists: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The canonical form of a data query, used for the sidecar and the query hash.

    ``{"selection": {var: [codes…]}, "codelists": {var: codelist_id}}``. A string of codes is
    split at commas outside brackets and parentheses, as in a PxWeb GET (``"03,11"`` ->
    ``["03", "11"]``; ``"[RANGE(1,12)]"`` stays whole). Variables end up sorted (the JSON is
    written with ``sort_keys``); the order of value codes is kept, as it is the order of the
    response.

    >>> canonical_query({"Tid": "2022,2023", "Region": ["03", "11"]})
    {'selection': {'Tid': ['2022', '2023'], 'Region': ['03', '11']}, 'codelists': {}}
    """
    sel = {str(k): _codes(v, f"selection[{k!r}]") for k, v in (selection or {}).items()}
    cls = {}
    for k, v in (codelists or {}).items():
        if not isinstance(v, str):
            raise TypeError(f"codelists[{k!r}]: expected a codelist id string, got {v!r}")
        cls[str(k)] = v
    return {"selection": sel, "codelists": cls}


def _canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def query_hash(selection: Selection | None, codelists: Mapping[str, str] | None = None) -> str:
    """sha256 (hex) of the canonical query JSON (sorted keys, no spaces, UTF-8).

    ``sha256(json.dumps(canonical_query(selection, codelists), sort_keys=True,
    separators=(",", ":"), ensure_ascii=False).encode())``.
    """
    return hashlib.sha256(_canonical_json(canonical_query(selection, codelists))).hexdigest()


def _query_hash_of(query: Mapping[str, Any] | str) -> str:
    if isinstance(query, str):
        return query
    if "selection" not in query:
        raise ValueError(
            "query must be a query hash or a mapping with keys 'selection' (and optionally "
            f"'codelists'), got keys {sorted(query)}"
        )
    return query_hash(query["selection"], query.get("codelists"))


# --------------------------------------------------------------------------------------------
# vintages


def _utc_iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _compact(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _compact_updated(updated: str | None) -> str:
    if not updated:
        return "unknown"
    try:
        parsed = datetime.fromisoformat(updated)
    except ValueError:
        return "".join(c for c in updated if c.isalnum())[:20] or "unknown"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Vintage:
    """One stored response: where it is and what its sidecar says.

    Attributes
    ----------
    source : str
        Short source name (folder below the store root), e.g. ``"ssb"``.
    table_id : str
        The statbank table id, e.g. ``"11713"``.
    vintage_id : str
        The folder name, sortable by fetch time.
    path : Path
        The vintage folder.
    meta : dict
        The parsed sidecar ``meta.json``.
    """

    source: str
    table_id: str
    vintage_id: str
    path: Path
    meta: dict[str, Any] = field(compare=False, repr=False)

    @property
    def updated(self) -> str | None:
        """The table's "last updated" time as the source published it."""
        return self.meta.get("updated")

    @property
    def fetched_at(self) -> str:
        """When the response was fetched (UTC, ISO 8601)."""
        return str(self.meta["fetched_at"])

    @property
    def query(self) -> dict[str, Any]:
        """The canonical query (``selection`` and ``codelists``)."""
        return dict(self.meta["query"])

    @property
    def query_hash(self) -> str:
        return str(self.meta["query_hash"])

    @property
    def url(self) -> str:
        return str(self.meta.get("url", ""))

    @property
    def files(self) -> list[Path]:
        """The body files, in chunk order."""
        return [self.path / f["name"] for f in self.meta["files"]]


def _meta_checksum(meta: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(_canonical_json(rest)).hexdigest()


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsynced on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # read-only: raw is immutable


class RawStore:
    """Immutable store of raw API responses, one folder per vintage (see module docstring).

    Parameters
    ----------
    root : Path, optional
        Store root; default :func:`regionstats.config.raw_dir` (resolved now, created only at the
        first write).
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else config.raw_dir()

    def __repr__(self) -> str:
        return f"RawStore({str(self.root)!r})"

    def _inside(self, path: Path) -> Path:
        """``path`` if it resolves inside the root, else :class:`UnsafeStorePath`."""
        root = self.root.resolve()
        resolved = Path(path).resolve()
        if resolved != root and root not in resolved.parents:
            raise UnsafeStorePath(f"{path} is outside the raw store {self.root}")
        return Path(path)

    # ---- writing -------------------------------------------------------------------------

    def write(
        self,
        table_id: str,
        bodies: Sequence[bytes],
        *,
        selection: Selection | None,
        codelists: Mapping[str, str] | None = None,
        updated: str | None,
        url: str,
        base_url: str,
        source: str = "ssb",
        fetched_at: datetime | None = None,
        resolved_query: Mapping[str, Any] | None = None,
    ) -> Vintage:
        """Store response bodies as a new vintage and return it.

        Parameters
        ----------
        table_id : str
            Table id (kept as given, e.g. ``"07459"``).
        bodies : sequence of bytes
            The raw response bodies, one per request ("chunk"), stored byte for byte.
        selection, codelists
            The query that produced them (see :func:`canonical_query`).
        updated : str or None
            The table's "last updated" time reported by the source.
        url, base_url : str
            The data endpoint asked and the API base URL.
        source : str
            Short source name, the first folder level (default ``"ssb"``).
        fetched_at : datetime, optional
            Fetch time (default: now, UTC).
        resolved_query : mapping, optional
            When ``selection``/``codelists`` are symbolic (``"@time"``, ``"@all"``, ...), the
            query actually sent, ``{"selection": …, "codelists": …}``; recorded in the sidecar
            as ``resolved_query`` (canonicalised). The vintage is still stored, hashed and found
            under ``selection``/``codelists``.

        Returns
        -------
        Vintage
            The new vintage (its folder exists only once every file is on disk).
        """
        _check_name(table_id, "table_id")
        _check_name(source, "source")
        self._inside(self.root / source / table_id)
        if not bodies:
            raise ValueError(f"table {table_id}: no response bodies to store")
        for i, body in enumerate(bodies):
            if not isinstance(body, bytes | bytearray | memoryview):
                raise TypeError(f"table {table_id}: body {i} is {type(body).__name__}, not bytes")
        fetched = fetched_at or datetime.now(UTC)
        if fetched.tzinfo is None:
            raise ValueError("fetched_at must be timezone-aware")
        query = canonical_query(selection, codelists)
        qhash = hashlib.sha256(_canonical_json(query)).hexdigest()
        files: list[dict[str, Any]] = []
        for i, body in enumerate(bodies):
            data = bytes(body)
            files.append(
                {
                    "name": f"chunk-{i:03d}.json",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
            )
        from regionstats import __version__  # here, not at import: __init__ may re-export us

        base_id = f"{_compact(fetched)}-{_compact_updated(updated)}-{qhash[:8]}"
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / LOCK_FILE), timeout=120):
            self._clean_incoming()
            parent = self.root / source / table_id
            vintage_id = base_id
            n = 0
            while (parent / vintage_id).exists():
                n += 1
                vintage_id = f"{base_id}-{n}"
            meta: dict[str, Any] = {
                "format": META_FORMAT,
                "source": source,
                "url": url,
                "base_url": base_url,
                "table_id": table_id,
                "query": query,
                "query_hash": qhash,
                "updated": updated,
                "fetched_at": _utc_iso(fetched),
                "files": files,
                "client_version": __version__,
                "vintage_id": vintage_id,
            }
            if resolved_query is not None:
                meta["resolved_query"] = canonical_query(
                    resolved_query.get("selection"), resolved_query.get("codelists")
                )
            meta["meta_sha256"] = _meta_checksum(meta)
            tmp = self.root / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
            tmp.mkdir()
            try:
                for spec, body in zip(files, bodies, strict=True):
                    _write_file(tmp / spec["name"], bytes(body))
                text = json.dumps(meta, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
                _write_file(tmp / META_FILE, text.encode())
                _fsync_dir(tmp)
                parent.mkdir(parents=True, exist_ok=True)
                final = parent / vintage_id
                if final.exists():  # pragma: no cover - guarded above, under the lock
                    raise FileExistsError(f"vintage {final} exists; vintages are never overwritten")
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _fsync_dir(parent)
        return Vintage(source, table_id, vintage_id, final, meta)

    def _clean_incoming(self) -> None:
        """Remove temporary folders left by writers that died (called under the write lock)."""
        for tmp in self.root.glob(f"{INCOMING_PREFIX}*"):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)

    # ---- listing -------------------------------------------------------------------------

    def sources(self) -> list[str]:
        """Source folders present in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _visible(p.name))

    def vintages(
        self,
        table_id: str,
        query: Mapping[str, Any] | str | None = None,
        *,
        source: str | None = None,
    ) -> list[Vintage]:
        """Stored vintages of a table, oldest first (newest last).

        Parameters
        ----------
        table_id : str
            Table id.
        query : mapping or str, optional
            Keep only vintages of this query: ``{"selection": …, "codelists": …}`` or its
            :func:`query_hash`.
        source : str, optional
            Keep only this source (default: all sources).

        Folders whose sidecar cannot be read are reported with a :class:`CorruptVintageWarning`
        and left out; temporary folders of unfinished writes are never listed.
        """
        _check_name(table_id, "table_id")
        if source is not None:
            _check_name(source, "source")
        wanted = _query_hash_of(query) if query is not None else None
        sources = [source] if source is not None else self.sources()
        found: list[Vintage] = []
        for src in sources:
            folder = self._inside(self.root / src / table_id)
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if not path.is_dir() or not _visible(path.name):
                    continue
                try:
                    meta = _read_meta(path)
                except CorruptVintage as exc:
                    warnings.warn(str(exc), CorruptVintageWarning, stacklevel=2)
                    continue
                if wanted is not None and meta.get("query_hash") != wanted:
                    continue
                found.append(Vintage(src, table_id, path.name, path, meta))
        found.sort(key=lambda v: (_parse_ts(v.fetched_at), v.vintage_id, v.source))
        return found

    def latest(
        self,
        table_id: str,
        query: Mapping[str, Any] | str | None = None,
        *,
        source: str | None = None,
        verify: bool = False,
    ) -> Vintage | None:
        """The newest vintage of a table (and query), or None.

        With ``verify=True`` every candidate is read and checked, newest first; corrupt ones are
        reported with a :class:`CorruptVintageWarning` naming the file and skipped.
        """
        candidates = self.vintages(table_id, query, source=source)
        if not verify:
            return candidates[-1] if candidates else None
        for vintage in reversed(candidates):
            try:
                self.read_bytes(vintage)
            except CorruptVintage as exc:
                warnings.warn(f"skipped: {exc}", CorruptVintageWarning, stacklevel=2)
                continue
            return vintage
        return None

    # ---- reading -------------------------------------------------------------------------

    def read_bytes(self, vintage: Vintage) -> list[bytes]:
        """The stored bodies, in chunk order, each verified against its sha256 and size.

        Raises
        ------
        CorruptVintage
            If the sidecar was altered or a body file is missing or differs from its record.
        """
        self._inside(vintage.path)
        meta = _read_meta(vintage.path)  # re-read: the sidecar is checked as well
        out = []
        for spec in meta["files"]:
            name = str(spec.get("name", ""))
            if not name or name.startswith(".") or "/" in name or "\\" in name:
                raise CorruptVintage(
                    vintage.path / META_FILE, "plain file names", repr(name), "bad file name"
                )
            path = vintage.path / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise CorruptVintage(path, spec["sha256"], "missing", "file is gone") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != spec["sha256"] or len(data) != spec["size"]:
                raise CorruptVintage(
                    path, spec["sha256"], actual, f"{len(data)} bytes, recorded {spec['size']}"
                )
            out.append(data)
        return out

    def load(self, vintage: Vintage) -> pd.DataFrame:
        """Decode a vintage into a tidy frame (chunks concatenated in order).

        Bodies are verified (:meth:`read_bytes`) and decoded with
        :func:`regionstats.sources.jsonstat.read_jsonstat` through
        :func:`regionstats.sources.pxwebapi.check_bodies` (the chunks must carry one ``updated``
        and hold a full cube with no cell twice; :func:`check_stored_codes` compares them with
        the stored query). ``attrs`` carry ``table``, ``vintage``
        (the vintage id), ``updated``, ``source`` (the data URL), ``fetched_at``, ``sha256`` (hex
        digest of the body; for several chunks the digests joined by ``","``) and ``raw_path``
        (the vintage folder), on top of what the decoder sets (e.g. ``units``).

        Raises
        ------
        CorruptVintage
            As :meth:`read_bytes`.
        UndecodableVintage
            The checksums hold but the bodies do not decode or do not fit together (a
            :class:`CorruptVintage` and a :class:`ValueError`).
        """
        bodies = self.read_bytes(vintage)  # verify before decoding

        from regionstats.sources.pxwebapi import PxWebApiError, check_bodies

        names = [str(vintage.path / spec["name"]) for spec in vintage.meta["files"]]
        try:
            frames = check_bodies(bodies, table_id=vintage.table_id, names=names)
        except PxWebApiError as exc:
            raise UndecodableVintage(vintage.path, str(exc)) from exc
        attrs: dict[str, Any] = {}
        units: dict[str, Any] = {}
        for frame in frames:
            for key, value in frame.attrs.items():
                if key == "units" and isinstance(value, Mapping):
                    units.update(value)
                else:
                    attrs.setdefault(key, value)
        out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        out.attrs = attrs
        if units:
            out.attrs["units"] = units
        out.attrs.update(
            {
                "table": vintage.table_id,
                "vintage": vintage.vintage_id,
                "updated": vintage.updated,
                "source": vintage.url,
                "fetched_at": vintage.fetched_at,
                "sha256": ",".join(spec["sha256"] for spec in vintage.meta["files"]),
                "raw_path": str(vintage.path),
            }
        )
        return out


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _check_name(name: str, what: str) -> None:
    text = str(name)
    if (
        not text
        or text.startswith(".")
        or any(c in text for c in "/\\\0")
        or text in {".", ".."}
        or len(text) > 200
    ):
        raise UnsafeStorePath(f"{what} {text!r} cannot be used as a folder name in the raw store")


_EXPRESSION_CHARS = frozenset("*?()[],")


def check_stored_codes(frames: Sequence[pd.DataFrame], vintage: Vintage) -> None:
    """Refuse decoded data whose codes differ from the plain codes of the vintage's query.

    For every variable the stored query (``resolved_query`` when there is one) selects by plain
    codes (no ``*``, ``?`` or function), the decoded frames must hold exactly those codes; a
    variable selected by an expression is not checked (its codes are known only to the server's
    metadata). Raises :class:`UndecodableVintage` otherwise: a vintage that answers another query
    than its sidecar says (stored before responses were checked).
    """
    query = vintage.meta.get("resolved_query") or vintage.meta.get("query") or {}
    selection = query.get("selection") if isinstance(query, Mapping) else None
    if not isinstance(selection, Mapping):
        return
    dims = {str(d).lower(): str(d) for d in frames[0].attrs.get("dimension_labels") or {}}
    for var, codes in selection.items():
        if str(var).startswith("@") or not isinstance(codes, list) or not codes:
            continue
        if any(_EXPRESSION_CHARS & set(str(c)) for c in codes):
            continue  # an expression: its codes are known only to the server's metadata
        dim = dims.get(str(var).lower())
        if dim is None:
            raise UndecodableVintage(
                vintage.path,
                f"the stored query selects {var} but the bodies have no such dimension "
                f"({sorted(dims.values())})",
            )
        got: set[str] = set()
        for frame in frames:
            got.update(str(c) for c in pd.unique(frame[dim].astype(str)))
        if got != {str(c) for c in codes}:
            raise UndecodableVintage(
                vintage.path,
                f"the stored query asks {var} {sorted(map(str, codes))[:6]} but the bodies hold "
                f"{sorted(got)[:6]}",
            )


def _parse_ts(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / META_FILE
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise CorruptVintage(meta_path, "a sidecar", "missing", "no meta.json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptVintage(meta_path, "valid JSON", "unreadable", str(exc)) from None
    if not isinstance(meta, dict) or "meta_sha256" not in meta or "files" not in meta:
        raise CorruptVintage(meta_path, "a regionstats sidecar", "unreadable", "fields missing")
    actual = _meta_checksum(meta)
    if actual != meta["meta_sha256"]:
        raise CorruptVintage(meta_path, meta["meta_sha256"], actual, "sidecar was altered")
    return meta
