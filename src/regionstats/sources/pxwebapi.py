"""Client for PxWebApi 2.0 (SSB, SCB, any PxWeb 2 host): metadata, validation, splitting.

SSB: ``https://data.ssb.no/api/pxwebapi/v2`` (default); SCB:
``https://statistikdatabasen.scb.se/api/v2`` with ``lang="sv"`` or ``"en"``. API facts:
``shared/reference/API-NOTES.md`` §1.2 and the PxWebApi 2.0 OpenAPI spec.

What :class:`PxWebApi` does for a data query (``get_data`` / ``get_data_bytes``):

1. **Validate** the selection against the table's json-stat2 metadata (fetched once per client):
   an unknown table raises :class:`TableNotFound` naming the id; an unknown variable or value
   code raises :class:`InvalidSelection` listing the closest valid codes
   (:func:`difflib.get_close_matches`); a mandatory variable left out (e.g. ``Tid``, which can
   no longer be eliminated in v2) is refused. Expressions (``*``/``?`` wildcards,
   ``top(n[,offset])``, ``bottom(n[,offset])``, ``from(x)``, ``to(x)``, ``range(x,y)``) are
   resolved against the metadata (or codelist) codes so the number of cells is known.
   ``top``/``bottom`` on the time variable count from the newest period [unverified against SSB;
   API-NOTES §1.2 "for time, newest first"].
2. **Split** a query over ``maxDataCells`` (from ``/config``) into the fewest calls
   (:func:`plan_split`), each a sub-cube with explicit codes; a query that fits is sent as written
   (expressions kept). GET while the URL stays under :data:`MAX_GET_URL` characters, else POST
   ``{"selection": [{"variableCode", "valueCodes", "codelist"}]}``.
3. **Call** with :func:`regionstats.sources.http.request` (timeouts, retries, ``Retry-After``,
   optional shared :class:`~regionstats.sources.ratelimit.RateLimiter`). If the server still
   answers "too many cells" (403 per the spec, 400 "Too many cells selected" in the server code),
   the client halves its cell limit, re-plans the calls not yet made and goes on: a 403 for too
   many cells never reaches the caller.
4. **Check and reassemble**: every body must be a JSON-stat 2.0 dataset with as many cells as
   asked for; :meth:`PxWebApi.get_data` decodes the chunks with
   :func:`regionstats.sources.jsonstat.read_jsonstat` and puts the rows back in the order of the
   unsplit query (metadata order, row-major, as PxWeb answers).

The split algorithm (:func:`plan_split`)
----------------------------------------
A query is a cube of sizes :math:`n_1, \\dots, n_K` with :math:`C = \\prod n_k` cells; each call
may return at most :math:`M` cells and must itself be a sub-cube (a product of one subset of codes
per variable). No plan can use fewer than

.. math::  L = \\lceil C / M \\rceil

calls, since each call holds at most :math:`M` cells. :func:`plan_split` searches *guillotine*
plans (cut one variable's codes into two blocks, recurse on both halves) for a plan of exactly
:math:`L` calls, then :math:`L+1`, ... Within a search it first tries a *slab* plan on each
variable in priority order (keep every other variable whole and take
:math:`b = \\lfloor M / (C / n_d) \\rfloor` codes of variable :math:`d` per call, giving
:math:`\\lceil n_d / b \\rceil` calls), then two-way cuts ordered by the cells they waste, pruning
any cut whose halves' lower bounds already exceed the budget, with memoisation on the shape.
Variables are tried largest first and the time variable last, so time is split only when needed.
A plan of :math:`L` calls is provably minimal; when the search (bounded by a node budget, so
always fast and deterministic) finds none, the best plan found is used (never worse than the
simple grid plan). Example: sizes ``(7, 3)`` with :math:`M = 5` need :math:`L = 5` calls; slabs
alone give 7, the guillotine plan ``{5x1, 5x1, 2x2, 5x1+2x1}`` gives 5.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import requests

from regionstats import config
from regionstats.sources import http
from regionstats.sources.http import DEFAULT_TIMEOUT, Offline, RetryPolicy, SourceError
from regionstats.sources.ratelimit import RateLimiter, default_limiter_path

__all__ = [
    "MAX_GET_URL",
    "SCB_BASE_URL",
    "SSB_BASE_URL",
    "InvalidSelection",
    "Offline",
    "PxWebApi",
    "PxWebApiError",
    "RateLimited",
    "ServiceUnavailable",
    "TableNotFound",
    "Variable",
    "minimum_calls",
    "plan_split",
]

SSB_BASE_URL = config.DEFAULT_PXWEB_URL  # "https://data.ssb.no/api/pxwebapi/v2"
SCB_BASE_URL = "https://statistikdatabasen.scb.se/api/v2"

#: Longest GET URL sent; longer selections go by POST (API-NOTES §1.2: ~2,000 characters).
MAX_GET_URL = 2000

Selection = Mapping[str, str | Sequence[str]]
Box = tuple[tuple[int, int], ...]  # (start, stop) per variable


class PxWebApiError(SourceError):
    """An error from (or about) a PxWebApi 2.0 server."""


class TableNotFound(PxWebApiError, LookupError):
    """The table id does not exist on the server."""

    def __init__(self, table_id: str, base_url: str, detail: str = "") -> None:
        msg = f"table {table_id!r} not found at {base_url}"
        super().__init__(msg + (f" ({detail})" if detail else ""))
        self.table_id = table_id


class InvalidSelection(PxWebApiError, ValueError):
    """The selection names a variable, value code, expression or codelist the table lacks."""


class RateLimited(PxWebApiError, http.RateLimited):
    """The server kept answering 429 beyond the retry budget."""


class ServiceUnavailable(PxWebApiError, http.ServiceUnavailable):
    """The server kept failing (5xx, timeouts, resets, cut-off bodies) beyond the retry budget."""


class _TooManyCells(PxWebApiError):
    """The server refused a call as too many cells (handled inside the client)."""


@dataclass(frozen=True)
class Variable:
    """One variable (dimension) of a table, read from json-stat2 metadata."""

    code: str
    label: str
    codes: tuple[str, ...]
    labels: Mapping[str, str]
    time: bool
    elimination: bool
    codelists: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Splitting (pure)
# ---------------------------------------------------------------------------------------------


def minimum_calls(sizes: Sequence[int], max_cells: int) -> int:
    """The lower bound :math:`\\lceil \\prod n_k / M \\rceil` on the calls any split needs.

    >>> minimum_calls([357, 2, 106, 1, 40], 800_000)
    4
    """
    if max_cells < 1:
        raise ValueError(f"max_cells must be >= 1, got {max_cells}")
    return max(1, math.ceil(math.prod(sizes) / max_cells))


def plan_split(
    sizes: Sequence[int],
    max_cells: int,
    *,
    priority: Sequence[int] | None = None,
    budget: int = 20_000,
) -> list[Box]:
    """Split a cube of ``sizes`` into the fewest sub-cubes of at most ``max_cells`` cells.

    Parameters
    ----------
    sizes
        Number of codes per variable.
    max_cells
        The most cells one call may return (``maxDataCells``).
    priority
        Variable positions in the order they should be split (first = split first); default
        ``0, 1, ...``. Put the time variable last.
    budget
        Search nodes allowed before settling for the best plan found (keeps it fast).

    Returns
    -------
    list of Box
        Per call, ``(start, stop)`` per variable: the call takes codes ``start:stop`` of each
        variable. The boxes partition the cube. When ``len(result) == minimum_calls(...)`` the
        plan is provably minimal (see the module docstring for the algorithm).

    Examples
    --------
    >>> len(plan_split([7, 3], 5)), minimum_calls([7, 3], 5)
    (5, 5)
    >>> plan_split([4, 2], 4, priority=[1, 0])
    [((0, 4), (0, 1)), ((0, 4), (1, 2))]
    """
    shape = tuple(int(n) for n in sizes)
    if any(n < 1 for n in shape):
        raise ValueError(f"every variable needs at least one code, got sizes {list(shape)}")
    order = tuple(range(len(shape))) if priority is None else tuple(priority)
    if sorted(order) != list(range(len(shape))):
        raise ValueError(f"priority {list(order)} is not a permutation of 0..{len(shape) - 1}")
    lower = minimum_calls(shape, max_cells)
    fallback = _grid_plan(shape, max_cells, order)
    if len(fallback) == lower:
        return fallback
    search = _Search(max_cells, order, budget)
    for k in range(lower, len(fallback)):
        found = search.solve(shape, k)
        if found is not None:
            return found
        if search.exhausted:
            break
    return fallback


def _slabs(shape: tuple[int, ...], d: int, per_call: int) -> list[Box]:
    boxes = []
    for start in range(0, shape[d], per_call):
        stop = min(shape[d], start + per_call)
        boxes.append(tuple((start, stop) if i == d else (0, n) for i, n in enumerate(shape)))
    return boxes


def _grid_plan(shape: tuple[int, ...], max_cells: int, order: Sequence[int]) -> list[Box]:
    """Always-feasible plan: slabs along the first variable whose slab fits, else singletons."""
    cells = math.prod(shape)
    if cells <= max_cells:
        return [tuple((0, n) for n in shape)]
    for d in order:
        n = shape[d]
        if n > 1 and cells // n <= max_cells:
            return _slabs(shape, d, max_cells // (cells // n))
    d = next(i for i in order if shape[i] > 1)
    inner = _grid_plan(tuple(1 if i == d else n for i, n in enumerate(shape)), max_cells, order)
    return [
        tuple((j, j + 1) if i == d else rng for i, rng in enumerate(box))
        for j in range(shape[d])
        for box in inner
    ]


class _Search:
    """Depth-first search for a guillotine plan with at most ``k`` boxes (memoised)."""

    def __init__(self, max_cells: int, order: Sequence[int], budget: int) -> None:
        self.m = max_cells
        self.order = order
        self.budget = budget
        self.nodes = 0
        self.exhausted = False
        self.best: dict[tuple[int, ...], list[Box]] = {}
        self.failed: dict[tuple[int, ...], int] = {}

    def lb(self, cells: int) -> int:
        return max(1, -(-cells // self.m))

    def solve(self, shape: tuple[int, ...], k: int) -> list[Box] | None:
        cells = math.prod(shape)
        if cells <= self.m:
            return [tuple((0, n) for n in shape)]
        if self.lb(cells) > k:
            return None
        known = self.best.get(shape)
        if known is not None and len(known) <= k:
            return known
        if self.failed.get(shape, 0) >= k:
            return None
        for d in self.order:
            n = shape[d]
            rest = cells // n
            if n > 1 and rest <= self.m:
                per_call = self.m // rest
                if -(-n // per_call) <= k:
                    plan = _slabs(shape, d, per_call)
                    self.best[shape] = plan
                    return plan
        self.nodes += 1
        if self.nodes > self.budget:
            self.exhausted = True
            return None
        for d in self.order:
            n = shape[d]
            if n == 1:
                continue
            rest = cells // n
            cuts = []
            for a in range(1, n // 2 + 1):
                lb_a, lb_b = self.lb(a * rest), self.lb((n - a) * rest)
                if lb_a + lb_b <= k:
                    waste = (lb_a + lb_b) * self.m - cells
                    cuts.append((waste, a, lb_a, lb_b))
            cuts.sort()
            for _, a, lb_a, lb_b in cuts:
                part_a = shape[:d] + (a,) + shape[d + 1 :]
                part_b = shape[:d] + (n - a,) + shape[d + 1 :]
                plan_a = None
                for k_a in range(lb_a, k - lb_b + 1):
                    plan_a = self.solve(part_a, k_a)
                    if plan_a is not None or self.exhausted:
                        break
                if plan_a is None:
                    if self.exhausted:
                        return None
                    continue
                plan_b = self.solve(part_b, k - len(plan_a))
                if plan_b is None:
                    if self.exhausted:
                        return None
                    continue
                shifted = [
                    tuple((s + a, e + a) if i == d else (s, e) for i, (s, e) in enumerate(box))
                    for box in plan_b
                ]
                plan = plan_a + shifted
                self.best[shape] = plan
                return plan
        self.failed[shape] = max(self.failed.get(shape, 0), k)
        return None


def _halve(box: Box, order: Sequence[int]) -> list[Box]:
    """Split a box in two along the first variable (in priority order) with >1 code."""
    for d in order:
        s, e = box[d]
        if e - s > 1:
            mid = s + (e - s) // 2
            return [
                tuple((s, mid) if i == d else r for i, r in enumerate(box)),
                tuple((mid, e) if i == d else r for i, r in enumerate(box)),
            ]
    raise ValueError("a one-cell box cannot be halved")


# ---------------------------------------------------------------------------------------------
# Selection expressions (client side: resolve to codes to count cells)
# ---------------------------------------------------------------------------------------------

_FUNC = re.compile(r"^\s*(top|bottom|from|to|range)\s*\((.*)\)\s*$", re.IGNORECASE)


def split_values(text: str) -> list[str]:
    """Split ``"a,b,[RANGE(1,12)]"`` at commas outside brackets/parentheses (GET syntax)."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [v for v in out if v]


def _as_list(values: str | Sequence[str]) -> list[str]:
    if isinstance(values, str):
        return split_values(values)
    out = [str(v) for v in values]
    if not out:
        raise InvalidSelection("an empty list of value codes selects nothing")
    return out


def _resolve_expression(
    expr: str, codes: Sequence[str], var: Variable, table_id: str, universe: str
) -> list[str]:
    text = expr.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    m = _FUNC.match(text)
    if m:
        func = m.group(1).lower()
        args = [a.strip() for a in m.group(2).split(",")]

        def index(code: str) -> int:
            if code not in codes:
                raise _unknown_code(code, codes, var, table_id, universe, expr)
            return codes.index(code)

        if func in {"top", "bottom"}:
            try:
                n = int(args[0])
                offset = int(args[1]) if len(args) > 1 else 0
            except (ValueError, IndexError) as err:
                raise InvalidSelection(
                    f"table {table_id}, variable {var.code}: {expr!r} is not a valid "
                    f"{func}(n[,offset]) expression"
                ) from err
            ordered = list(reversed(codes)) if var.time else list(codes)
            if func == "bottom":
                ordered.reverse()
            return ordered[offset : offset + n]
        if func == "from" and len(args) == 1:
            return list(codes[index(args[0]) :])
        if func == "to" and len(args) == 1:
            return list(codes[: index(args[0]) + 1])
        if func == "range" and len(args) == 2:
            return list(codes[index(args[0]) : index(args[1]) + 1])
        raise InvalidSelection(
            f"table {table_id}, variable {var.code}: {expr!r} is not a valid expression"
        )
    if "*" in text or "?" in text:
        hits = [c for c in codes if fnmatch.fnmatchcase(c, text)]
        if not hits:
            raise InvalidSelection(
                f"table {table_id}, variable {var.code}: pattern {expr!r} matches none of the "
                f"{len(codes)} {universe} codes (e.g. {', '.join(list(codes)[:5])})"
            )
        return hits
    if text in codes:
        return [text]
    raise _unknown_code(text, codes, var, table_id, universe, expr)


def _unknown_code(
    code: str, codes: Sequence[str], var: Variable, table_id: str, universe: str, expr: str
) -> InvalidSelection:
    close = difflib.get_close_matches(code, list(codes), n=5, cutoff=0.5)
    hint = (
        f"closest valid codes: {', '.join(close)}"
        if close
        else (f"valid codes include {', '.join(list(codes)[:8])}")
    )
    where = f" (in {expr!r})" if expr.strip() != code else ""
    return InvalidSelection(
        f"table {table_id}, variable {var.code}: {code!r}{where} is not a valid {universe} "
        f"value code; {hint}"
    )


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


@dataclass
class _Query:
    """A validated query: per selected variable (table order) its codes and codelist."""

    table_id: str
    variables: list[Variable]
    codes: list[list[str]]
    codelists: dict[str, str]
    as_sent: dict[str, list[str]]  # the user's expressions per variable (normalised names)

    @property
    def sizes(self) -> list[int]:
        return [len(c) for c in self.codes]

    @property
    def cells(self) -> int:
        return math.prod(self.sizes)

    def priority(self) -> list[int]:
        """Split order: non-time variables largest first, then time."""
        idx = range(len(self.variables))
        non_time = sorted(
            (i for i in idx if not self.variables[i].time), key=lambda i: -len(self.codes[i])
        )
        return non_time + [i for i in idx if self.variables[i].time]

    def chunk(self, box: Box) -> dict[str, list[str]]:
        return {
            v.code: list(codes[s:e])
            for v, codes, (s, e) in zip(self.variables, self.codes, box, strict=True)
        }


class PxWebApi:
    """A PxWebApi 2.0 client. No network in the constructor; ``/config`` is read lazily once.

    Parameters
    ----------
    base_url
        API root, e.g. :data:`SSB_BASE_URL` or :data:`SCB_BASE_URL`; default
        :func:`regionstats.config.pxweb_url` (``$REGIONSTATS_PXWEB_URL`` or SSB's), read when
        the client is made.
    session
        A :class:`requests.Session` (default :func:`regionstats.sources.http.make_session`).
    lang
        Language of labels (``"no"``/``"en"`` at SSB, ``"sv"``/``"en"`` at SCB).
    timeout
        ``(connect, read)`` seconds for every call.
    limiter
        A :class:`~regionstats.sources.ratelimit.RateLimiter` taken before every call;
        ``"auto"`` builds the machine-wide one from ``/config`` (file in the user cache dir);
        ``None`` (default) relies on the server's 429 + ``Retry-After`` only.
    max_retries
        Retries after the first attempt (5xx, 429, timeouts, resets, cut-off bodies).
    max_wait
        Seconds of backoff/``Retry-After`` waiting allowed per call.
    max_url_length
        Longest GET URL; longer queries are POSTed.
    offline
        ``True``: every call that would use the network raises
        :class:`~regionstats.sources.http.Offline` before any DNS lookup or connection;
        ``False``: never offline; ``None`` (default): offline while ``REGIONSTATS_OFFLINE=1``
        (:func:`regionstats.config.offline`, checked at every call).

    Examples
    --------
    >>> api = PxWebApi("https://data.ssb.no/api/pxwebapi/v2/")  # no network here
    >>> api.base_url
    'https://data.ssb.no/api/pxwebapi/v2'
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        lang: str = "no",
        timeout: http.Timeout = DEFAULT_TIMEOUT,
        limiter: RateLimiter | str | None = None,
        max_retries: int = 4,
        max_wait: float = 120.0,
        max_url_length: int = MAX_GET_URL,
        backoff_base: float = 0.5,
        offline: bool | None = None,
    ) -> None:
        if isinstance(limiter, str) and limiter != "auto":
            raise ValueError(f"limiter must be a RateLimiter, 'auto' or None, got {limiter!r}")
        self.base_url = (base_url if base_url is not None else config.pxweb_url()).rstrip("/")
        self._offline = offline
        self.session = session if session is not None else http.make_session()
        self.lang = lang
        self.timeout = timeout
        self.limiter = limiter
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1, backoff_base=backoff_base, max_total_wait=max_wait
        )
        self.max_url_length = max_url_length
        self._config: dict[str, Any] | None = None
        self._metadata: dict[str, dict[str, Any]] = {}
        self._codelists: dict[str, dict[str, Any]] = {}
        self._learned_max_cells: int | None = None

    def __repr__(self) -> str:
        return f"PxWebApi({self.base_url!r}, lang={self.lang!r})"

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """Whether calls are refused (``offline=`` given, else ``REGIONSTATS_OFFLINE`` now)."""
        return config.offline() if self._offline is None else bool(self._offline)

    def _limiter(self) -> RateLimiter | None:
        if self.limiter == "auto":
            cfg = self.config()
            self.limiter = RateLimiter(
                int(cfg.get("maxCallsPerTimeWindow") or 30),
                float(cfg.get("timeWindow") or 60),
                path=default_limiter_path(self.base_url),
            )
            self.limiter.acquire()  # the /config call just made counts against the window
        return self.limiter if isinstance(self.limiter, RateLimiter) else None

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        limited: bool = True,
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        if self.offline:  # before the limiter (which may read /config) and any connection
            raise http.Offline(method, url)
        try:
            return http.request(
                self.session,
                method,
                url,
                params=params,
                json=json,
                timeout=self.timeout,
                policy=self.retry,
                limiter=self._limiter() if limited else None,
            )
        except http.RateLimited as err:
            raise RateLimited(str(err)) from err
        except http.ServiceUnavailable as err:
            raise ServiceUnavailable(str(err)) from err

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self._call("GET", path, params=dict(params or {}))
        self._raise_for(response)
        return _parse_json(response, f"GET {response.url}")

    def _raise_for(self, response: requests.Response, table_id: str | None = None) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = http.problem_detail(response)
        if status == 404 and table_id is not None:
            raise TableNotFound(table_id, self.base_url, detail)
        if status == 400 and table_id is not None:
            raise InvalidSelection(f"table {table_id}: the server refused the query: {detail}")
        raise PxWebApiError(f"{response.request.method} {response.url}: HTTP {status}: {detail}")

    # -- endpoints ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """``GET /config`` (cached): limits, languages, formats. Checks ``apiVersion`` is 2.x."""
        if self._config is None:
            response = self._call("GET", "/config", limited=isinstance(self.limiter, RateLimiter))
            self._raise_for(response)
            cfg = _parse_json(response, f"GET {response.url}")
            version = str(cfg.get("apiVersion", ""))
            if not version.startswith("2."):
                raise PxWebApiError(
                    f"{self.base_url} is not a PxWebApi 2.0 server (/config apiVersion "
                    f"{version!r}); use a /v2 base URL"
                )
            self._config = cfg
        return self._config

    @property
    def max_cells(self) -> int:
        """Cells allowed per call: ``maxDataCells`` or less if the server proved stricter."""
        announced = int(self.config().get("maxDataCells") or 0) or 10**12
        if self._learned_max_cells is not None:
            return min(announced, self._learned_max_cells)
        return announced

    def search_tables(
        self,
        query: str = "",
        *,
        past_days: int | None = None,
        include_discontinued: bool = False,
        page_size: int = 100,
        max_pages: int = 20,
    ) -> pd.DataFrame:
        """``GET /tables?query=...``, all pages (up to ``max_pages``) as one DataFrame.

        Columns: ``id`` (string), ``label``, ``updated``, ``firstPeriod``, ``lastPeriod``,
        ``discontinued`` and the other fields the server gives.
        """
        rows: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            params: dict[str, Any] = {
                "lang": self.lang,
                "query": query,
                "pageSize": page_size,
                "pageNumber": page,
            }
            if past_days is not None:
                params["pastDays"] = past_days
            if include_discontinued:
                params["includeDiscontinued"] = "true"
            doc = self._get_json("/tables", params)
            rows.extend(doc.get("tables", []))
            info = doc.get("page") or {}
            if page >= int(info.get("totalPages") or 1):
                break
        frame = pd.DataFrame(rows)
        if "id" in frame:
            frame["id"] = frame["id"].astype(str)
        frame.attrs["source"] = f"{self.base_url}/tables?query={query}"
        return frame

    def table_info(self, table_id: str) -> dict[str, Any]:
        """``GET /tables/{id}``: ``label``, ``updated``, ``firstPeriod``, ... (never cached)."""
        response = self._call("GET", f"/tables/{table_id}", params={"lang": self.lang})
        self._raise_for(response, table_id)
        return _parse_json(response, f"GET {response.url}")

    def metadata(self, table_id: str) -> dict[str, Any]:
        """``GET /tables/{id}/metadata?outputFormat=json-stat2`` (cached per client).

        Each dimension's ``extension`` exposes the available codelists under both
        ``codelists`` (spec) and ``codeLists`` (SSB beta output), whichever the server used.
        """
        if table_id not in self._metadata:
            response = self._call(
                "GET",
                f"/tables/{table_id}/metadata",
                params={"lang": self.lang, "outputFormat": "json-stat2"},
            )
            self._raise_for(response, table_id)
            doc = _parse_json(response, f"GET {response.url}")
            for dim in (doc.get("dimension") or {}).values():
                ext = dim.setdefault("extension", {}) or {}
                lists = ext.get("codelists", ext.get("codeLists")) or []
                ext["codelists"] = ext["codeLists"] = lists
            self._metadata[table_id] = doc
        return self._metadata[table_id]

    def codelist(self, codelist_id: str) -> dict[str, Any]:
        """``GET /codelists/{id}`` (cached): ``values[{code, label, valueMap}]``, ``type``."""
        if codelist_id not in self._codelists:
            response = self._call("GET", f"/codelists/{codelist_id}", params={"lang": self.lang})
            if response.status_code == 404:
                raise InvalidSelection(
                    f"codelist {codelist_id!r} not found at {self.base_url} "
                    f"({http.problem_detail(response)})"
                )
            self._raise_for(response)
            self._codelists[codelist_id] = _parse_json(response, f"GET {response.url}")
        return self._codelists[codelist_id]

    def variables(self, table_id: str) -> list[Variable]:
        """The table's variables in table order, from :meth:`metadata`."""
        meta = self.metadata(table_id)
        ids = meta.get("id") or []
        dims = meta.get("dimension") or {}
        time_ids = set((meta.get("role") or {}).get("time") or [])
        out = []
        for dim_id in ids:
            dim = dims.get(dim_id) or {}
            cat = dim.get("category") or {}
            index = cat.get("index")
            if isinstance(index, Mapping):
                codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
            elif isinstance(index, list):
                codes = [str(c) for c in index]
            else:
                codes = list((cat.get("label") or {}).keys())
            ext = dim.get("extension") or {}
            out.append(
                Variable(
                    code=dim_id,
                    label=str(dim.get("label", dim_id)),
                    codes=tuple(str(c) for c in codes),
                    labels=dict(cat.get("label") or {}),
                    time=dim_id in time_ids or (not time_ids and dim_id == "Tid"),
                    elimination=bool(ext.get("elimination", False)),
                    codelists=tuple(
                        str(c.get("id")) for c in ext.get("codelists") or [] if c.get("id")
                    ),
                )
            )
        return out

    # -- queries ------------------------------------------------------------------------------
    def resolve(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
    ) -> dict[str, list[str]]:
        """Validate ``selection`` and return the explicit codes per selected variable.

        Raises :class:`TableNotFound` or :class:`InvalidSelection` (with close matches).
        """
        query = self._validate(table_id, selection, codelists)
        return {v.code: list(c) for v, c in zip(query.variables, query.codes, strict=True)}

    def plan(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
    ) -> list[dict[str, list[str]]]:
        """The calls :meth:`get_data_bytes` would make: explicit codes per call."""
        query = self._validate(table_id, selection, codelists)
        boxes = plan_split(query.sizes, self.max_cells, priority=query.priority())
        return [query.chunk(b) for b in boxes]

    def _validate(
        self, table_id: str, selection: Selection, codelists: Mapping[str, str] | None
    ) -> _Query:
        table_id = str(table_id)
        variables = self.variables(table_id)
        by_lower = {v.code.lower(): v for v in variables}
        chosen: dict[str, list[str]] = {}
        for name, values in selection.items():
            var = by_lower.get(str(name).lower())
            if var is None:
                close = difflib.get_close_matches(str(name), [v.code for v in variables], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise InvalidSelection(
                    f"table {table_id} has no variable {name!r}; its variables are "
                    f"{', '.join(v.code for v in variables)}{hint}"
                )
            chosen[var.code] = _as_list(values)
        lists: dict[str, str] = {}
        for name, cl_id in (codelists or {}).items():
            var = by_lower.get(str(name).lower())
            if var is None:
                raise InvalidSelection(
                    f"table {table_id} has no variable {name!r} to apply codelist {cl_id!r} to; "
                    f"its variables are {', '.join(v.code for v in variables)}"
                )
            if var.codelists and cl_id not in var.codelists:
                raise InvalidSelection(
                    f"table {table_id}, variable {var.code}: codelist {cl_id!r} is not offered; "
                    f"available: {', '.join(var.codelists)}"
                )
            lists[var.code] = str(cl_id)
        missing = [
            v.code for v in variables if v.code not in chosen and (v.time or not v.elimination)
        ]
        if missing:
            raise InvalidSelection(
                f"table {table_id}: variable(s) {', '.join(missing)} cannot be eliminated; "
                f"select values for them (e.g. '*', 'top(1)')"
            )
        q_vars, q_codes = [], []
        for var in variables:
            if var.code not in chosen:
                continue
            if var.code in lists:
                doc = self.codelist(lists[var.code])
                universe = [str(v["code"]) for v in doc.get("values", [])]
                what = f"codelist {lists[var.code]}"
            else:
                universe, what = list(var.codes), "metadata"
            picked: set[str] = set()
            for expr in chosen[var.code]:
                picked.update(_resolve_expression(expr, universe, var, table_id, what))
            q_vars.append(var)
            q_codes.append([c for c in universe if c in picked])  # table order, as PxWeb answers
        return _Query(table_id, q_vars, q_codes, lists, chosen)

    def _request_data(
        self, table_id: str, values: Mapping[str, Sequence[str]], codelists: Mapping[str, str]
    ) -> requests.Response:
        params: dict[str, str] = {"lang": self.lang, "outputFormat": "json-stat2"}
        get_params = dict(params)
        for var, codes in values.items():
            get_params[f"valuecodes[{var}]"] = ",".join(
                f"[{c}]" if "," in c and not c.startswith("[") else c for c in codes
            )
        for var, cl_id in codelists.items():
            get_params[f"codelist[{var}]"] = cl_id
        url = f"{self.base_url}/tables/{table_id}/data"
        prepared = requests.Request("GET", url, params=get_params).prepare()
        if len(prepared.url or "") <= self.max_url_length:
            return self._call("GET", f"/tables/{table_id}/data", params=get_params)
        body = {
            "selection": [
                {"variableCode": var, "valueCodes": list(codes)}
                | ({"codelist": codelists[var]} if var in codelists else {})
                for var, codes in values.items()
            ]
        }
        return self._call("POST", f"/tables/{table_id}/data", params=params, json=body)

    def _fetch_chunk(
        self,
        query: _Query,
        values: Mapping[str, Sequence[str]],
        expected_cells: int | None,
    ) -> bytes:
        response = self._request_data(query.table_id, values, query.codelists)
        status = response.status_code
        if status >= 400:
            detail = http.problem_detail(response)
            if status == 403 or (status == 400 and _is_too_many_cells(detail)):
                raise _TooManyCells(detail)
            self._raise_for(response, query.table_id)
        body = response.content
        _check_dataset(body, f"{response.request.method} {response.url}", expected_cells)
        return body

    def get_data_bytes(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
    ) -> list[bytes]:
        """Raw JSON-stat 2.0 bodies of the data, one per call, in plan order.

        Parameters
        ----------
        table_id
            Table id as a string (``"07459"``; SCB ``"TAB638"``).
        selection
            ``{variable: codes}``; codes a list, or a string of comma-separated codes or
            expressions (``"*"``, ``"from(2015)"``, ``"top(3)"``, ``"K-*"``).
        codelists
            ``{variable: codelist id}`` (``agg_``/``vs_``), e.g. ``{"Region": "agg_KommSummer"}``.

        Raises
        ------
        TableNotFound, InvalidSelection
            Before any data call, from the metadata.
        RateLimited, ServiceUnavailable
            When retries are exhausted.
        Offline
            In offline mode, before any connection (see the ``offline`` parameter).
        PxWebApiError
            A body is not a JSON-stat 2.0 dataset (malformed, or not the cells asked for).
        """
        return self._fetch(table_id, selection, codelists)[1]

    def _fetch(
        self, table_id: str, selection: Selection, codelists: Mapping[str, str] | None
    ) -> tuple[_Query, list[bytes]]:
        query = self._validate(table_id, selection, codelists)
        order = query.priority()
        limit = self.max_cells
        pending: list[Box] = plan_split(query.sizes, limit, priority=order)
        whole = tuple((0, n) for n in query.sizes)
        bodies: list[bytes] = []
        while pending:
            box = pending.pop(0)
            cells = math.prod(e - s for s, e in box)
            if box == whole:  # one call: send the selection as written (expressions kept)
                values: Mapping[str, Sequence[str]] = query.as_sent
                expected = None
            else:
                values, expected = query.chunk(box), cells
            try:
                bodies.append(self._fetch_chunk(query, values, expected))
            except _TooManyCells as err:
                if cells <= 1:
                    raise PxWebApiError(
                        f"table {table_id}: the server refuses even a one-cell call as too many "
                        f"cells ({err})"
                    ) from err
                limit = max(1, min(limit, cells) // 2)
                self._learned_max_cells = limit
                rest = [box, *pending]
                pending = []
                for b in rest:
                    sizes = [e - s for s, e in b]
                    if math.prod(sizes) <= limit:
                        pending.append(b)
                        continue
                    for sub in plan_split(sizes, limit, priority=order):
                        pending.append(
                            tuple((s0 + s, s0 + e) for (s0, _), (s, e) in zip(b, sub, strict=True))
                        )
        return query, bodies

    def get_data(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
        labels: bool = True,
    ) -> pd.DataFrame:
        """The data as a tidy DataFrame (see :func:`regionstats.sources.jsonstat.read_jsonstat`).

        Chunks of a split query are concatenated and put back in the order the unsplit query
        would have (metadata order, row-major). ``attrs`` are the first chunk's with ``units``
        merged over chunks, plus ``table``, ``source`` (data URL), ``vintage`` (``updated``),
        ``calls`` (number of data calls) and ``selection``.

        Raises as :meth:`get_data_bytes`; also :class:`PxWebApiError` if the table's
        ``updated`` changed between chunks (fetch again).
        """
        from regionstats.sources.jsonstat import JsonStatError, read_jsonstat

        query, bodies = self._fetch(table_id, selection, codelists)
        url = f"{self.base_url}/tables/{table_id}/data"
        frames = []
        for i, body in enumerate(bodies):
            try:
                frames.append(read_jsonstat(body, labels=labels, name=f"{url} (call {i + 1})"))
            except JsonStatError as err:
                raise PxWebApiError(f"table {table_id}: {err}") from err
        updated = {f.attrs.get("updated") for f in frames}
        if len(updated) > 1:
            raise PxWebApiError(
                f"table {table_id} was updated while its {len(frames)} chunks were fetched "
                f"(updated values {sorted(map(str, updated))}); fetch again"
            )
        attrs = dict(frames[0].attrs)
        units: dict[str, Any] = {}
        for f in frames:
            units.update(f.attrs.get("units") or {})
        if len(frames) == 1:
            frame = frames[0]
        else:
            frame = pd.concat(frames, ignore_index=True)
            frame = _reorder(frame, query)
        attrs.update(
            units=units,
            table=str(table_id),
            source=url,
            vintage=attrs.get("updated"),
            calls=len(bodies),
            selection={k: list(v) for k, v in query.as_sent.items()},
        )
        if query.codelists:
            attrs["codelists"] = dict(query.codelists)
        frame.attrs = attrs
        return frame


def _reorder(frame: pd.DataFrame, query: _Query) -> pd.DataFrame:
    """Rows in row-major order of the unsplit query; checks every cell came exactly once."""
    keys = []
    for var, codes in zip(query.variables, query.codes, strict=True):
        if var.code not in frame.columns:
            raise PxWebApiError(
                f"table {query.table_id}: a chunk lacks variable {var.code}; "
                f"columns {list(frame.columns)}"
            )
        position = {c: i for i, c in enumerate(codes)}
        pos = frame[var.code].astype(str).map(position)
        if pos.isna().any():
            odd = frame.loc[pos.isna(), var.code].iloc[0]
            raise PxWebApiError(
                f"table {query.table_id}: the server returned code {odd!r} for {var.code}, "
                "which was not asked for"
            )
        keys.append(pos.to_numpy(dtype="int64"))
    flat = keys[0] * 0
    for k, codes in zip(keys, query.codes, strict=True):
        flat = flat * len(codes) + k
    if len(set(flat.tolist())) != len(flat) or len(flat) != query.cells:
        raise PxWebApiError(
            f"table {query.table_id}: reassembled {len(flat)} rows for {query.cells} cells "
            "(chunks overlap or miss cells)"
        )
    return frame.iloc[flat.argsort(kind="stable")].reset_index(drop=True)


def _is_too_many_cells(detail: str) -> bool:
    text = detail.lower()
    return "too many cells" in text or "exceeds the number of allowed" in text


def _parse_json(response: requests.Response, what: str) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as err:
        raise PxWebApiError(
            f"{what}: the answer is not valid JSON ({err}); first bytes: {response.content[:80]!r}"
        ) from err


def _check_dataset(body: bytes, what: str, expected_cells: int | None) -> None:
    """Refuse a body that is not a JSON-stat 2.0 dataset with the cells asked for."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise PxWebApiError(
            f"{what}: malformed JSON-stat (not valid JSON: {err}); {len(body)} bytes, "
            f"first bytes {body[:60]!r}"
        ) from err
    if not isinstance(doc, dict) or doc.get("class") != "dataset":
        raise PxWebApiError(f"{what}: malformed JSON-stat (not a 'dataset' object)")
    missing = [k for k in ("id", "size", "dimension", "value") if k not in doc]
    if missing:
        raise PxWebApiError(f"{what}: malformed JSON-stat (lacks {', '.join(missing)})")
    try:
        cells = math.prod(int(n) for n in doc["size"])
    except (TypeError, ValueError) as err:
        raise PxWebApiError(f"{what}: malformed JSON-stat (bad 'size')") from err
    if isinstance(doc["value"], list) and len(doc["value"]) != cells:
        raise PxWebApiError(
            f"{what}: malformed JSON-stat ({len(doc['value'])} values for size {doc['size']})"
        )
    if expected_cells is not None and cells != expected_cells:
        raise PxWebApiError(
            f"{what}: the server returned {cells} cells where {expected_cells} were asked for"
        )
