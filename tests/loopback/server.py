"""A loopback HTTP server speaking PxWebApi 2.0 and KLASS v1 for tests (127.0.0.1, port 0).

PxWebApi 2.0 under ``/api/pxwebapi/v2`` (per ``shared/reference/pxwebapi-2.0-openapi.yml`` and
API-NOTES §1.2/§8): ``/config``, ``/tables``, ``/tables/{id}``, ``/tables/{id}/metadata``,
``/tables/{id}/data`` (GET with ``valuecodes[VAR]=``/``codelist[VAR]=``, parameter names
case-insensitive; POST with ``{"selection": [...]}``), ``/codelists/{id}``. Selection expressions:
``*``/``?`` wildcards, ``top(n[,offset])``, ``bottom(n[,offset])``, ``from(x)``, ``to(x)``,
``range(x,y)``; omitted eliminable variables are summed away. Errors are RFC 7807
``application/problem+json``. Calls to the PxWebApi are counted in a sliding window of
``time_window`` seconds; over ``max_calls`` the answer is 429 with ``Retry-After``.

KLASS v1 under ``/klass/v1`` from the hand-made fixtures in ``tests/fixtures/loopback/klass``:
``classifications/{id}`` and its ``codes``, ``codesAt``, ``changes``, ``corresponds``,
``correspondsAt``; ``versions/{id}``. JSON only with ``Accept: application/json`` (XML otherwise,
like KLASS); unknown ids give a 404 with a text body.

Faults on demand (:attr:`LoopbackServer.faults`): ``"503"``, ``"500"``, ``"429"``
(``retry_after``), ``"slow"`` (``delay`` seconds before answering), ``"truncate"`` (a
``Content-Length`` larger than the body sent, then close), ``"malformed"`` (a 200 whose body is
not JSON-stat), ``"reset"`` (TCP reset instead of an answer). Every request is recorded.

Faults that answer, wrongly, with a complete 200 (data calls; see :data:`CONTENT_FAULTS`):
``"poison"`` (a JSON-stat body that passes a download check, right cells and ``size``, but has a
``status`` index out of range, so a decoder refuses it), ``"updated"`` (the body carries another
``updated``, option ``updated``), ``"drop_code"`` (the first code asked for ``variable`` is left
out of the answer), ``"swap_codes"`` (``variable``'s codes are replaced by as many codes that were
not asked), ``"default_selection"`` (the selection sent is ignored and the table's default
selection answered, as PxWeb does when it drops a selection). And: ``"trickle"`` (a correct body
sent one byte every ``delay`` seconds), ``"forbidden"`` (HTTP 403 whose body does not speak of
cells), ``"too_many_cells"`` (HTTP 403 with PxWeb's too-many-cells text, once, whatever the size).

Random faults for soak tests: set :attr:`LoopbackServer.chaos` to a :class:`Chaos` (each request
draws at most one fault by its rates; ``None``, the default, draws none). The request log can be
replayed against a call limit: :meth:`LoopbackServer.calls_over_limit` counts requests that
arrived when ``max_calls`` had already arrived within the last ``time_window`` seconds, faults
included (the server's own 429 counter leaves injected faults out).

The server is written independently of ``regionstats.sources`` (it shares no code with the
client), so a test comparing the two can fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import itertools
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from .tables import MISSING, Codelist, Cube, default_codelists, default_tables

PXWEB_PREFIX = "/api/pxwebapi/v2"
KLASS_PREFIX = "/klass/v1"
KLASS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "loopback" / "klass"
#: Faults answering a data call with a complete but wrong 200 (applied to ``/data`` only).
CONTENT_FAULTS = frozenset({"poison", "updated", "drop_code", "swap_codes", "default_selection"})
FAULT_KINDS = frozenset(
    {"500", "503", "429", "slow", "truncate", "malformed", "reset"}
    | CONTENT_FAULTS
    | {"trickle", "forbidden", "too_many_cells"}
)


@dataclass
class ServerSettings:
    """What the server announces in ``/config`` and how it enforces it (mutable at run time).

    ``enforced_max_cells`` lets a test make the server stricter than it announces (to exercise
    the client's halving fallback); ``None`` enforces ``max_cells``.
    """

    max_cells: int = 1_000_000
    max_calls: int = 10_000
    time_window: int = 10
    too_many_cells_status: int = 403
    enforced_max_cells: int | None = None
    corresponds_at_empty: bool = False
    api_version: str = "2.0.0"
    retry_after_http_date: bool = False


@dataclass
class Fault:
    """One injected fault, applied to the next ``count`` requests whose path contains ``path``
    (after letting the first ``skip`` of them through untouched)."""

    kind: str
    count: int = 1
    path: str | None = None
    retry_after: float = 1
    delay: float = 2.0
    variable: str | None = None  # drop_code / swap_codes: the variable (default: the first)
    updated: str = "2099-12-31T07:00:00Z"  # updated: the value the answer carries
    skip: int = 0


@dataclass
class Chaos:
    """Random faults for soak tests: each request draws one fault kind with probability
    ``rates[kind]`` (content faults only on data calls). Seeded and thread-safe."""

    rates: Mapping[str, float]
    seed: int = 0
    retry_after: float = 1
    delay: float = 0.3
    api: str = "pxweb"

    def __post_init__(self) -> None:
        unknown = set(self.rates) - FAULT_KINDS
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.drawn: dict[str, int] = {}

    def draw(self, path: str, api: str) -> Fault | None:
        if api != self.api:
            return None
        with self._lock:
            u = self._rng.random()
        data = path.rstrip("/").endswith("/data")
        total = 0.0
        for kind, rate in self.rates.items():
            total += rate
            if u < total:
                if kind in CONTENT_FAULTS and not data:
                    return None
                with self._lock:
                    self.drawn[kind] = self.drawn.get(kind, 0) + 1
                return Fault(kind, retry_after=self.retry_after, delay=self.delay)
        return None


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server saw it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    time: float
    status: int
    fault: str | None
    api: str  # "pxweb", "klass" or "other"

    @property
    def is_data(self) -> bool:
        return self.api == "pxweb" and self.path.rstrip("/").endswith("/data")

    @property
    def is_metadata(self) -> bool:
        return self.api == "pxweb" and self.path.rstrip("/").endswith("/metadata")


class FaultQueue:
    """Thread-safe queue of faults; :meth:`push` adds, the server takes them in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def push(self, kind: str, count: int = 1, *, path: str | None = None, **options: Any) -> None:
        """Inject ``kind`` into the next ``count`` requests (whose path contains ``path``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(Fault(kind, count, path, **options))

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path in path:
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(f.count for f in self._faults)


class ProblemError(Exception):
    """Raised inside the handler to answer with an RFC 7807 problem."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


class LoopbackServer:
    """The server object tests use: start/stop, settings, faults and the request log."""

    def __init__(
        self,
        tables: Mapping[str, Cube] | None = None,
        codelists: Mapping[str, Codelist] | None = None,
        settings: ServerSettings | None = None,
        klass_dir: Path = KLASS_FIXTURES,
        klass: Mapping[str, Any] | None = None,
    ) -> None:
        self.tables = dict(tables if tables is not None else default_tables())
        self.codelists = dict(codelists if codelists is not None else default_codelists())
        self.settings = settings or ServerSettings()
        self.faults = FaultQueue()
        self.chaos: Chaos | None = None
        # ``klass``: a dict shaped like _load_klass's (e.g. from loopback.tables_inputs), else
        # the fixture files of ``klass_dir``
        self.klass = dict(klass) if klass is not None else _load_klass(klass_dir)
        self._log: list[RecordedRequest] = []
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("loopback server not started")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def pxweb_url(self) -> str:
        return self.url + PXWEB_PREFIX

    @property
    def klass_url(self) -> str:
        return self.url + KLASS_PREFIX

    # -- request log --------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def data_calls(self, table_id: str | None = None) -> list[RecordedRequest]:
        """Answered-or-not calls to ``/tables/{id}/data`` (optionally of one table)."""
        return [
            r
            for r in self.requests
            if r.is_data and (table_id is None or f"/tables/{table_id}/" in r.path)
        ]

    def count(self, *, status: int | None = None, api: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if (status is None or r.status == status) and (api is None or r.api == api)
        )

    def calls_over_limit(
        self, max_calls: int | None = None, window: float | None = None, api: str = "pxweb"
    ) -> int:
        """Requests (to ``api``, faults included) that arrived when ``max_calls`` others had
        arrived within the ``window`` seconds before (default: the settings)."""
        limit = self.settings.max_calls if max_calls is None else max_calls
        span = self.settings.time_window if window is None else window
        times = sorted(r.time for r in self.requests if r.api == api)
        over, lo = 0, 0
        for i, t in enumerate(times):
            while times[lo] <= t - span:
                lo += 1
            if i - lo + 1 > limit:
                over += 1
        return over

    def reset(self) -> None:
        """Forget the request log, the rate window and pending faults."""
        with self._lock:
            self._log.clear()
            self._window.clear()
        self.faults.clear()

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._log.append(req)

    def _admit(self, now: float) -> float | None:
        """Count a PxWebApi call in the sliding window; seconds to wait when over the limit."""
        with self._lock:
            window = self.settings.time_window
            while self._window and self._window[0] <= now - window:
                self._window.popleft()
            if len(self._window) >= self.settings.max_calls:
                return self._window[0] + window - now
            self._window.append(now)
            return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the log
        return

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # -- plumbing -----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        app = self.server.app
        started = time.time()
        parts = urlsplit(self.path)
        path = parts.path
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        api = (
            "pxweb"
            if path.startswith(PXWEB_PREFIX)
            else "klass"
            if path.startswith(KLASS_PREFIX)
            else "other"
        )
        fault = app.faults.take(path)
        if fault is None and app.chaos is not None:
            fault = app.chaos.draw(path, api)
        self._pending: RecordedRequest | None = RecordedRequest(
            method, path, query, body, started, 0, fault.kind if fault else None, api
        )
        status = -1
        try:
            status = self._respond(app, method, path, query, body, api, fault, started)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timeout)
            status = -1
        finally:
            self._commit(status)

    def _commit(self, status: int) -> None:
        """Log the request (once), before its answer is written so tests never race the log."""
        pending, self._pending = getattr(self, "_pending", None), None
        if pending is not None:
            self.server.app._record(dataclasses.replace(pending, status=status))

    def _respond(
        self,
        app: LoopbackServer,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...],
        body: bytes,
        api: str,
        fault: Fault | None,
        started: float,
    ) -> int:
        if fault is not None:
            if fault.kind == "reset":
                self._reset()
                return -2
            if fault.kind in {"500", "503"}:
                return self._problem(
                    int(fault.kind), "Service Unavailable", "injected fault: service unavailable"
                )
            if fault.kind == "429":
                return self._too_many(fault.retry_after)
            if fault.kind == "forbidden":
                return self._problem(403, "Forbidden", "Access to this resource is denied.")
            if fault.kind == "too_many_cells":
                return self._problem(
                    403,
                    "Forbiden",
                    "The query resulted in cell that exceeds the number of allowed. (injected)",
                )
            if fault.kind == "slow":
                app.stopping.wait(fault.delay)
        if api == "pxweb":
            wait = app._admit(started)
            if wait is not None:
                return self._too_many(max(1, math.ceil(wait)))
        try:
            if api == "pxweb":
                distort = fault if fault is not None and fault.kind in CONTENT_FAULTS else None
                payload, ctype = _pxweb(
                    app, method, path[len(PXWEB_PREFIX) :], query, body, distort
                )
            elif api == "klass":
                payload, ctype = _klass(
                    app, path[len(KLASS_PREFIX) :], query, self.headers.get("Accept", "")
                )
            else:
                raise ProblemError(404, "Not Found", f"Node with id, {path} can not be found")
        except ProblemError as err:
            if api == "klass":
                return self._send(err.status, err.detail.encode(), "text/plain;charset=UTF-8")
            return self._problem(err.status, err.title, err.detail)
        if fault is not None and fault.kind == "malformed":
            payload = b'{"version": "2.0", "class": "dataset", "id": ["Region"], "size": [3], "val'
        if fault is not None and fault.kind == "truncate":
            return self._send(200, payload, ctype, truncate=True)
        if fault is not None and fault.kind == "trickle":
            return self._send(200, payload, ctype, trickle=fault.delay)
        return self._send(200, payload, ctype)

    def _send(
        self,
        status: int,
        payload: bytes,
        ctype: str,
        headers: Mapping[str, str] | None = None,
        *,
        truncate: bool = False,
        trickle: float | None = None,
    ) -> int:
        self._commit(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload) + (1000 if truncate else 0)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if trickle is not None:  # one byte at a time: never idle for a whole read timeout
            self.wfile.flush()
            for k in range(len(payload)):
                self.wfile.write(payload[k : k + 1])
                self.wfile.flush()
                if self.server.app.stopping.wait(trickle):
                    break
            return status
        self.wfile.write(payload[: len(payload) // 2] if truncate else payload)
        self.wfile.flush()
        if truncate:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        return status

    def _problem(
        self, status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> int:
        doc = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        return self._send(status, json.dumps(doc).encode(), "application/problem+json", headers)

    def _too_many(self, retry_after: float) -> int:
        app = self.server.app
        if app.settings.retry_after_http_date:
            value = formatdate(time.time() + retry_after, usegmt=True)
        else:
            value = str(int(math.ceil(retry_after)))
        detail = (
            "You have reach the threshold for request limiting. "
            f"{app.settings.max_calls} request per {app.settings.time_window} seconds."
        )
        return self._problem(429, "Too many requests", detail, {"Retry-After": value})

    def _reset(self) -> None:
        self._commit(-2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


# ---------------------------------------------------------------------------------------------
# PxWebApi 2.0
# ---------------------------------------------------------------------------------------------


def _params(query: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters with lower-cased names (SSB binds them case-insensitively)."""
    return {k.lower(): v for k, v in query}


def _json(doc: Any) -> tuple[bytes, str]:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/json; charset=UTF-8"


def _pxweb(
    app: LoopbackServer,
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...],
    body: bytes,
    distort: Fault | None = None,
) -> tuple[bytes, str]:
    params = _params(query)
    lang = params.get("lang", "no")
    segments = [s for s in path.split("/") if s]
    if segments == ["config"]:
        return _json(_config(app))
    if segments == ["tables"]:
        return _json(_search(app, params, lang))
    if len(segments) == 2 and segments[0] == "codelists":
        cl = app.codelists.get(segments[1])
        if cl is None:
            raise ProblemError(
                404, "Not Found", f"Codelist with id, {segments[1]} can not be found"
            )
        return _json(_codelist_doc(cl, lang))
    if len(segments) >= 2 and segments[0] == "tables":
        table = _find_table(app, segments[1])
        rest = segments[2:]
        if not rest:
            return _json(_table_doc(table, lang, app.pxweb_url))
        if rest == ["metadata"]:
            fmt = params.get("outputformat", "json-stat2").lower()
            if fmt != "json-stat2":
                raise ProblemError(400, "Unsupported output format", f"{fmt} is not supported")
            return _json(_metadata_doc(table, app, lang))
        if rest == ["data"]:
            fmt = params.get("outputformat", "json-stat2").lower()
            if fmt != "json-stat2":
                raise ProblemError(400, "Unsupported output format", f"{fmt} is not supported")
            if method == "POST":
                selection = _selection_from_body(body)
            else:
                selection = _selection_from_query(query)
            if distort is None:
                return _json(_data_doc(app, table, selection))
            return _json(_distorted(app, table, selection, distort))
    raise ProblemError(404, "Non-existent page", f"Node with id, {path} can not be found")


def _find_table(app: LoopbackServer, table_id: str) -> Cube:
    for key, table in app.tables.items():
        if key.lower() == table_id.lower():
            return table
    raise ProblemError(404, "Non-existent table", f"Node with id, {table_id} can not be found")


def _config(app: LoopbackServer) -> dict[str, Any]:
    s = app.settings
    return {
        "apiVersion": s.api_version,
        "appVersion": "2.0.1+loopback",
        "languages": [{"id": "no", "label": "Norsk"}, {"id": "en", "label": "English"}],
        "defaultLanguage": "no",
        "maxDataCells": s.max_cells,
        "maxCallsPerTimeWindow": s.max_calls,
        "timeWindow": s.time_window,
        "license": "https://www.ssb.no/en/diverse/lisens",
        "sourceReferences": [{"language": "no", "text": "Kilde: Loopback"}],
        "defaultDataFormat": "json-stat2",
        "dataFormats": ["json-stat2"],
        "features": [{"id": "CORS", "params": [{"key": "enabled", "value": "True"}]}],
    }


def _table_doc(table: Cube, lang: str, base: str) -> dict[str, Any]:
    times = table.time_dim.codes
    return {
        "type": "Table",
        "id": table.id,
        "label": table.label,
        "description": "",
        "sortCode": "000010",
        "updated": table.updated,
        "firstPeriod": times[0],
        "lastPeriod": times[-1],
        "category": "public",
        "variableNames": [d.label for d in table.dims],
        "discontinued": table.discontinued,
        "source": "Loopback",
        "subjectCode": table.subject,
        "timeUnit": "Annual",
        "links": [
            {"rel": "self", "hreflang": lang, "href": f"{base}/tables/{table.id}?lang={lang}"},
            {
                "rel": "data",
                "hreflang": lang,
                "href": f"{base}/tables/{table.id}/data?lang={lang}&outputFormat=json-stat2",
            },
        ],
        "language": lang,
    }


def _search(app: LoopbackServer, params: dict[str, str], lang: str) -> dict[str, Any]:
    words = [w.lower() for w in params.get("query", "").split() if w]
    hits = [
        t
        for t in app.tables.values()
        if all(w in t.label.lower() or w == t.id.lower() for w in words)
    ]
    size = int(params.get("pagesize", "20"))
    number = int(params.get("pagenumber", "1"))
    pages = max(1, math.ceil(len(hits) / size))
    page = hits[(number - 1) * size : number * size]
    return {
        "language": lang,
        "tables": [_table_doc(t, lang, app.pxweb_url) for t in page],
        "page": {
            "pageNumber": number,
            "pageSize": size,
            "totalElements": len(hits),
            "totalPages": pages,
            "links": [],
        },
        "links": [],
    }


def _codelist_doc(cl: Codelist, lang: str) -> dict[str, Any]:
    return {
        "id": cl.id,
        "label": cl.label,
        "language": lang,
        "languages": ["no", "en"],
        "elimination": False,
        "type": cl.type,
        "values": [{"code": c, "label": lab, "valueMap": list(m)} for c, lab, m in cl.values],
        "links": [],
    }


def _dimension_doc(
    table: Cube, dim_code: str, codes: list[str], labels: Mapping[str, str]
) -> dict[str, Any]:
    dim = table.dim(dim_code)
    category: dict[str, Any] = {
        "index": {c: i for i, c in enumerate(codes)},
        "label": {c: labels[c] for c in codes},
    }
    if dim.units:
        category["unit"] = {
            c: {"base": dim.units[c][0], "decimals": dim.units[c][1]} for c in codes
        }
    return {
        "label": dim.label,
        "category": category,
        "extension": {"elimination": dim.elimination, "show": "value"},
    }


def _role(table: Cube, present: Iterable[str]) -> dict[str, list[str]]:
    present = set(present)
    role = {"time": [table.time_dim.code]}
    if "Region" in present:
        role["geo"] = ["Region"]
    if "ContentsCode" in present:
        role["metric"] = ["ContentsCode"]
    return role


def _metadata_doc(table: Cube, app: LoopbackServer, lang: str) -> dict[str, Any]:
    dims: dict[str, Any] = {}
    for d in table.dims:
        doc = _dimension_doc(table, d.code, d.codes, d.labels)
        doc["extension"][table.codelists_key] = [
            {
                "id": cid,
                "label": app.codelists[cid].label,
                "type": app.codelists[cid].type,
                "links": [{"rel": "self", "hreflang": lang, "href": f"/codelists/{cid}"}],
            }
            for cid in d.codelists
        ]
        dims[d.code] = doc
    return {
        "version": "2.0",
        "class": "dataset",
        "label": table.label,
        "source": "Loopback",
        "updated": table.updated,
        "role": _role(table, [d.code for d in table.dims]),
        "id": [d.code for d in table.dims],
        "size": [len(d.values) for d in table.dims],
        "dimension": dims,
        "extension": {"px": {"tableid": table.id, "language": lang}},
        "href": f"{app.pxweb_url}/tables/{table.id}/metadata",
    }


Selection = dict[str, tuple[list[str], str | None]]  # lower-cased var -> (value expressions, cl)


def _split_values(text: str) -> list[str]:
    """Split ``a,b,[RANGE(1,12)]`` at commas outside brackets and parentheses."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [v.strip() for v in out if v.strip()]


_BRACKET = re.compile(r"^(valuecodes|codelist)\[(.+)\]$", re.IGNORECASE)


def _selection_from_query(query: Iterable[tuple[str, str]]) -> Selection:
    values: dict[str, list[str]] = {}
    codelists: dict[str, str] = {}
    for key, value in query:
        m = _BRACKET.match(key)
        if not m:
            continue
        kind, var = m.group(1).lower(), m.group(2)
        if kind == "valuecodes":
            values.setdefault(var.lower(), []).extend(_split_values(value))
        else:
            codelists[var.lower()] = value
    return {var: (vals, codelists.get(var)) for var, vals in values.items()} | {
        var: ([], cl) for var, cl in codelists.items() if var not in values
    }


def _selection_from_body(body: bytes) -> Selection:
    try:
        doc = json.loads(body or b"{}")
    except json.JSONDecodeError as err:
        raise ProblemError(400, "Bad Request", f"Body is not JSON: {err}") from err
    out: Selection = {}
    for item in doc.get("selection", []):
        var = item.get("variableCode")
        if not isinstance(var, str):
            raise ProblemError(400, "Bad Request", "selection item lacks variableCode")
        out[var.lower()] = (list(item.get("valueCodes") or []), item.get("codelist"))
    return out


_FUNC = re.compile(r"^(top|bottom|from|to|range)\((.*)\)$", re.IGNORECASE)


def _resolve(expr: str, codes: list[str], is_time: bool, var: str) -> list[str]:
    """Codes selected by one value expression (server's own reading of the spec)."""
    if expr.startswith("[") and expr.endswith("]"):
        expr = expr[1:-1]
    m = _FUNC.match(expr)
    if m:
        func, args = m.group(1).lower(), [a.strip() for a in m.group(2).split(",")]
        try:
            if func in {"top", "bottom"}:
                n = int(args[0])
                offset = int(args[1]) if len(args) > 1 else 0
                ordered = list(reversed(codes)) if is_time else list(codes)
                if func == "bottom":
                    ordered.reverse()
                return ordered[offset : offset + n]
            if func == "from":
                return codes[codes.index(args[0]) :]
            if func == "to":
                return codes[: codes.index(args[0]) + 1]
            lo, hi = codes.index(args[0]), codes.index(args[1])
            return codes[lo : hi + 1]
        except (ValueError, IndexError) as err:
            raise ProblemError(
                400, "Illegal selection expression", f"{expr} is not valid for variable {var}"
            ) from err
    if "*" in expr or "?" in expr:
        return [c for c in codes if fnmatch.fnmatchcase(c, expr)]
    if expr in codes:
        return [expr]
    raise ProblemError(
        400, "Non-existent value", f"Value, {expr} is not a valid value code for variable {var}"
    )


def _data_doc(app: LoopbackServer, table: Cube, selection: Selection) -> dict[str, Any]:
    known = {d.code.lower(): d for d in table.dims}
    for var in selection:
        if var not in known:
            raise ProblemError(
                400,
                "Non-existent variable",
                f"Variable, {var} is not a valid variable for table {table.id}",
            )
    if not selection:  # the default selection: the latest period, first value of the rest
        selection = {
            d.code.lower(): ([d.codes[-1]] if d.time else [d.codes[0]], None)
            for d in table.dims
            if d.time or not d.elimination
        }
    out_codes: dict[str, list[str]] = {}
    out_labels: dict[str, dict[str, str]] = {}
    members: dict[str, dict[str, tuple[str, ...]]] = {}
    for d in table.dims:
        if d.code.lower() not in selection:
            if not d.elimination:
                raise ProblemError(
                    400,
                    "Missing selection for mandantory variable",
                    f"Variable {d.code} is mandatory and must be selected",
                )
            members[d.code] = {"*": tuple(d.codes)}
            continue
        exprs, cl_id = selection[d.code.lower()]
        if cl_id:
            cl = app.codelists.get(cl_id)
            if cl is None or cl.variable != d.code:
                raise ProblemError(
                    400, "Non-existent codelist", f"Codelist {cl_id} is not valid for {d.code}"
                )
            universe = cl.codes
            labels = {c: lab for c, lab, _ in cl.values}
            mapping = {c: m for c, _, m in cl.values}
        else:
            universe, labels, mapping = d.codes, d.labels, {c: (c,) for c in d.codes}
        if not exprs:
            raise ProblemError(
                400, "Illegal selection for mandantory variable", f"No values for {d.code}"
            )
        chosen: set[str] = set()
        for expr in exprs:
            chosen.update(_resolve(expr, universe, d.time, d.code))
        codes = [c for c in universe if c in chosen]  # table order, like PxWeb
        out_codes[d.code] = codes
        out_labels[d.code] = labels
        members[d.code] = {c: mapping[c] for c in codes}
    cells = math.prod(len(v) for v in out_codes.values())
    limit = app.settings.enforced_max_cells
    if limit is None:
        limit = app.settings.max_cells
    if cells > limit:
        refuse = app.settings.too_many_cells_status
        if refuse == 403:
            raise ProblemError(
                403,
                "Forbiden",
                "The query resulted in cell that exceeds the number of allowed. "
                f"({cells} > {limit})",
            )
        raise ProblemError(400, "Too many cells selected", f"{cells} cells > {limit}")
    ids = [d.code for d in table.dims if d.code in out_codes]
    values: list[float | None] = []
    status: dict[str, str] = {}
    for flat, combo in enumerate(itertools.product(*(out_codes[i] for i in ids))):
        chosen_codes = dict(zip(ids, combo, strict=True))
        parts = [
            members[d.code][chosen_codes[d.code]]
            if d.code in chosen_codes
            else members[d.code]["*"]
            for d in table.dims
        ]
        value, symbol = _aggregate(table, parts)
        values.append(value)
        if symbol is not None:
            status[str(flat)] = symbol
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "label": table.label,
        "source": "Loopback",
        "updated": table.updated,
        "role": _role(table, ids),
        "id": ids,
        "size": [len(out_codes[i]) for i in ids],
        "dimension": {i: _dimension_doc(table, i, out_codes[i], out_labels[i]) for i in ids},
        "extension": {"px": {"tableid": table.id, "decimals": 1}},
        "value": values,
    }
    if status:
        doc["status"] = status
    return doc


def _distorted(
    app: LoopbackServer, table: Cube, selection: Selection, fault: Fault
) -> dict[str, Any]:
    """A complete, self-consistent answer to another question than the one asked."""
    if fault.kind == "default_selection":
        return _data_doc(app, table, {})
    if fault.kind in {"drop_code", "swap_codes"}:
        changed = dict(selection)
        for d in table.dims:
            key = d.code.lower()
            if key not in changed or (fault.variable and key != fault.variable.lower()):
                continue
            exprs, cl_id = changed[key]
            universe = app.codelists[cl_id].codes if cl_id else d.codes
            asked: set[str] = set()
            for expr in exprs:
                asked.update(_resolve(expr, universe, d.time, d.code))
            codes = [c for c in universe if c in asked]
            others = [c for c in universe if c not in asked]
            if fault.kind == "drop_code" and len(codes) >= 2:
                changed[key] = (codes[1:], cl_id)
                break
            if fault.kind == "swap_codes" and len(others) >= len(codes):
                changed[key] = (others[: len(codes)], cl_id)
                break
        return _data_doc(app, table, changed)
    doc = _data_doc(app, table, selection)
    if fault.kind == "updated":
        doc["updated"] = fault.updated
    elif fault.kind == "poison":  # right size and value count; a status cell past the end
        doc["status"] = {**doc.get("status", {}), str(math.prod(doc["size"]) + 7): ":"}
    return doc


def _aggregate(table: Cube, parts: list[tuple[str, ...]]) -> tuple[float | None, str | None]:
    """Sum the table's cells over the member codes of each dimension (KommSummer-style).

    Cells marked ``"."`` (not applicable, e.g. a municipality before it existed) are left out;
    any ``":"`` or ``".."`` makes the sum that symbol; all parts ``"."`` gives ``"."``. A cell
    with no number and no symbol (``(None, None)``) is left out too; when every part is such a
    cell the answer is a ``null`` value with no status (never a 0).
    """
    total, symbols, numbers, nulls = 0.0, set(), 0, 0
    for combo in itertools.product(*parts):
        value, symbol = table.cell(dict(zip((d.code for d in table.dims), combo, strict=True)))
        if symbol in MISSING:
            symbols.add(symbol)
            continue
        if value is None and symbol is None:
            nulls += 1
            continue
        total += value or 0.0
        numbers += 1
    for sym in (":", "..", "..."):
        if sym in symbols:
            return None, sym
    if numbers == 0:
        return (None, None) if nulls and not symbols else (None, ".")
    return round(total, 6), None


# ---------------------------------------------------------------------------------------------
# KLASS v1
# ---------------------------------------------------------------------------------------------


def _load_klass(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = {"classifications": {}, "correspondences": {}}
    if not folder.is_dir():
        return data
    for file in sorted(folder.glob("*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        if file.stem == "correspondences":
            data["correspondences"] = {k: v for k, v in doc.items() if "->" in k}
        else:
            data["classifications"][file.stem] = doc
    return data


def _klass(
    app: LoopbackServer, path: str, query: tuple[tuple[str, str], ...], accept: str
) -> tuple[bytes, str]:
    params = dict(query)
    segments = [s for s in path.split("/") if s]
    doc = _klass_doc(app, segments, params)
    if "application/json" not in accept:
        return b"<?xml version='1.0' encoding='UTF-8'?><klass/>", "application/xml;charset=UTF-8"
    return _json(doc)


def _need(params: Mapping[str, str], name: str) -> str:
    if not params.get(name):
        raise ProblemError(400, "Bad Request", f"Required String parameter '{name}' is not present")
    return params[name]


def _overlaps(item: Mapping[str, Any], start: str, end: str | None) -> bool:
    return (end is None or item["validFrom"] < end) and (
        item["validTo"] is None or item["validTo"] > start
    )


def _valid_at(item: Mapping[str, Any], date: str) -> bool:
    return item["validFrom"] <= date and (item["validTo"] is None or item["validTo"] > date)


def _klass_doc(app: LoopbackServer, segments: list[str], params: Mapping[str, str]) -> Any:
    classes = app.klass["classifications"]
    if len(segments) == 2 and segments[0] == "versions":
        for cid, cls in classes.items():
            for v in cls["classification"]["versions"]:
                if str(v["id"]) == segments[1]:
                    items = [i for i in cls["items"] if _overlaps(i, v["validFrom"], v["validTo"])]
                    return {
                        "name": v["name"],
                        "validFrom": v["validFrom"],
                        "validTo": v["validTo"],
                        "classificationId": cid,
                        "levels": [{"levelNumber": 1, "levelName": "Nivå 1"}],
                        "classificationItems": [
                            {k: i[k] for k in ("code", "parentCode", "level", "name", "notes")}
                            | {"shortName": ""}
                            for i in items
                        ],
                    }
        raise ProblemError(404, "Not Found", f"Version not found with id = {segments[1]}")
    if len(segments) < 2 or segments[0] != "classifications":
        raise ProblemError(404, "Not Found", f"No handler for /{'/'.join(segments)}")
    cid = segments[1]
    if cid not in classes:
        raise ProblemError(404, "Not Found", f"Classification not found with id = {cid}")
    cls = classes[cid]
    action = segments[2] if len(segments) > 2 else None
    if action is None:
        info = dict(cls["classification"])
        info["versions"] = [
            v | {"_links": {"self": {"href": f"{app.klass_url}/versions/{v['id']}"}}}
            for v in info["versions"]
        ]
        return info
    if action == "codesAt":
        date = _need(params, "date")
        return {"codes": [_code_item(i) for i in cls["items"] if _valid_at(i, date)]}
    if action == "codes":
        start, end = _need(params, "from"), params.get("to")
        return {
            "codes": [
                _code_item(i)
                | {
                    "validFromInRequestedRange": max(i["validFrom"], start),
                    "validToInRequestedRange": _min_date(i["validTo"], end),
                }
                for i in cls["items"]
                if _overlaps(i, start, end)
            ]
        }
    if action == "changes":
        start, end = _need(params, "from"), params.get("to")
        rows = [
            c | {"oldShortName": "", "newShortName": ""}
            for c in cls["changes"]
            if c["changeOccurred"] >= start and (end is None or c["changeOccurred"] < end)
        ]
        return {"codeChanges": rows}
    if action in {"corresponds", "correspondsAt"}:
        target = _need(params, "targetClassificationId")
        rows = app.klass["correspondences"].get(f"{cid}->{target}")
        if rows is None:
            raise ProblemError(
                404, "Not Found", f"Correspondence not found between {cid} and {target}"
            )
        if action == "correspondsAt":
            date = _need(params, "date")
            chosen = (
                [] if app.settings.corresponds_at_empty else [r for r in rows if _valid_at(r, date)]
            )
        else:
            start, end = _need(params, "from"), params.get("to")
            chosen = [r for r in rows if _overlaps(r, start, end)]
        names_s = {i["code"]: i["name"] for i in cls["items"]}
        names_t = {i["code"]: i["name"] for i in classes.get(target, {"items": []})["items"]}
        return {
            "correspondenceItems": [
                {
                    "sourceCode": r["sourceCode"],
                    "sourceName": names_s.get(r["sourceCode"], ""),
                    "sourceShortName": "",
                    "targetCode": r["targetCode"],
                    "targetName": names_t.get(r["targetCode"], ""),
                    "targetShortName": "",
                    "validFrom": r["validFrom"],
                    "validTo": r["validTo"],
                }
                for r in chosen
            ]
        }
    raise ProblemError(404, "Not Found", f"No handler for /{'/'.join(segments)}")


def _code_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": item["code"],
        "parentCode": item["parentCode"],
        "level": item["level"],
        "name": item["name"],
        "shortName": "",
        "presentationName": "",
        "validFrom": None,
        "validTo": None,
        "notes": item.get("notes", ""),
    }


def _min_date(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class LoopbackOnlySession(requests.Session):
    """A session that refuses any URL not on 127.0.0.1/localhost (tests cannot leak out)."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        host = urlsplit(str(url)).hostname
        if host not in {"127.0.0.1", "localhost"}:
            raise RuntimeError(f"test session refuses non-loopback URL {url!r}")
        return super().request(method, url, *args, **kwargs)
