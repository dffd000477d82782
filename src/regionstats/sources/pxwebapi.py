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
3. **Call** with :func:`regionstats.sources.http.request` (timeouts, an overall deadline per
   call, retries, ``Retry-After``, optional shared
   :class:`~regionstats.sources.ratelimit.RateLimiter` taken before every request, ``/config`` and
   retries included). If the server answers "too many cells" (403 per the spec, 400 "Too many
   cells selected" in the server code; a 403 counts only when its body says so, any other 403 is
   an error at once), the client lowers its cell limit, re-plans the calls not yet made and goes
   on; after eight calls in a row pass it tries larger calls again (see :class:`_CellLimit`).
   The calls of a split query go ``workers`` at a time (default 4) in threads sharing the
   session and the limiter: a call larger than any that passed (the first, the first after a
   refusal or after the limit grew) goes alone, so the limit is learned before the others go
   out; each body is decoded and checked in its worker while the others download; an error in
   one call cancels the calls not started and is raised, typed, once those in flight are done.
4. **Check and reassemble** (:func:`check_bodies`, the one validation path, also used by
   :class:`regionstats.sources.fetch.Fetcher` before it stores anything): every body is decoded
   with :func:`regionstats.sources.jsonstat.read_jsonstat`, the decoder that will read it from
   the raw store, and must answer exactly its own selection (the same codes per variable, so the
   same cells); all chunks must carry one ``updated``, and together they must hold every cell of
   the query exactly once. Anything else is :class:`InvalidResponse` and nothing is returned.
   :meth:`PxWebApi.get_data` puts the rows back in the order of the unsplit query (metadata
   order, row-major, as PxWeb answers).

Identifiers are checked before any call: table and codelist ids must be in PxWeb's alphabet
(:data:`ID_PATTERN`: letters, digits and ``_ . + -``, starting with a letter or digit) and are
percent-encoded in URL paths; value codes given by the caller must be letters, digits and
``_ . + -`` (:data:`CODE_PATTERN`; every code in the repository's fixtures and SSB examples is:
``0301``, ``K-3103``, ``F00-04``, ``2025U01``, ``01-03``, ``Personer1``, ``105+``), expressions
``*``/``?`` patterns of those or the functions above. A bad one is :class:`InvalidId` or
:class:`InvalidSelection`.

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
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any
from urllib.parse import quote

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import requests

from regionstats import config
from regionstats.sources import http
from regionstats.sources.http import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    Offline,
    RetryPolicy,
    SourceError,
)
from regionstats.sources.jsonstat import JsonStatError, read_jsonstat
from regionstats.sources.ratelimit import BOOTSTRAP_LIMITS, RateLimiter, default_limiter_path

__all__ = [
    "CODE_PATTERN",
    "ID_PATTERN",
    "MAX_GET_URL",
    "SCB_BASE_URL",
    "SSB_BASE_URL",
    "DeadlineExceeded",
    "InvalidId",
    "InvalidResponse",
    "InvalidSelection",
    "Offline",
    "PxWebApi",
    "PxWebApiError",
    "RateLimited",
    "ServiceUnavailable",
    "TableNotFound",
    "Variable",
    "check_bodies",
    "check_code",
    "check_id",
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


class DeadlineExceeded(ServiceUnavailable, http.DeadlineExceeded):
    """A call did not finish within the client's ``deadline`` (retries and waits included)."""


class InvalidId(PxWebApiError, ValueError):
    """A table or codelist id outside PxWeb's alphabet (:data:`ID_PATTERN`); refused before any
    call, so it can never reach a URL path."""


class InvalidResponse(PxWebApiError):
    """A complete answer that does not decode as JSON-stat 2.0 or does not answer the query asked
    (other codes, other cells, several ``updated``); nothing of it is returned or stored.

    ``updated`` is the answer's own ``updated`` when it decoded (else None).
    """

    def __init__(self, message: str, *, updated: Any = None) -> None:
        super().__init__(message)
        self.updated = None if updated is None else str(updated)


class _TooManyCells(PxWebApiError):
    """The server refused a call as too many cells (handled inside the client)."""


#: Table and codelist ids: ``07459``, ``TAB638``, ``agg_KommSummer``, ``vs_RegionKommun07``.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")

#: Value codes a caller may name: ``0301``, ``K-3103``, ``F00-04``, ``2025U01``, ``105+``.
CODE_PATTERN = re.compile(r"[\w.+-]{1,200}")

_PATTERN_CHARS = re.compile(r"[\w.+*?-]{1,200}")


def check_id(value: object, what: str = "table id") -> str:
    """``value`` as a string if it is a PxWeb id (:data:`ID_PATTERN`), else :class:`InvalidId`.

    >>> check_id("07459"), check_id("agg_KommSummer", "codelist id")
    ('07459', 'agg_KommSummer')
    >>> check_id("../../etc/passwd")
    Traceback (most recent call last):
    ...
    regionstats.sources.pxwebapi.InvalidId: table id '../../etc/passwd' is not a PxWeb id ...
    """
    text = str(value)
    if not ID_PATTERN.fullmatch(text):
        raise InvalidId(
            f"{what} {text!r} is not a PxWeb id (letters, digits and _ . + -, starting with a "
            "letter or digit, at most 100 characters)"
        )
    return text


def check_code(value: object, where: str = "") -> str:
    """``value`` as a string if it is a valid value code (:data:`CODE_PATTERN`), else
    :class:`InvalidSelection`.

    >>> check_code("K-3103")
    'K-3103'
    """
    text = str(value)
    if not CODE_PATTERN.fullmatch(text):
        raise InvalidSelection(f"{where}{text!r} is not a value code (letters, digits, _ . + -)")
    return text


def _segment(value: str, what: str) -> str:
    """A checked id, percent-encoded for a URL path segment."""
    return quote(check_id(value, what), safe="")


def _check_expression(expr: str, where: str) -> None:
    """Refuse a value expression that is neither a code, a ``*``/``?`` pattern nor a function."""
    text = expr.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    m = _FUNC.match(text)
    if m:
        func = m.group(1).lower()
        args = [a.strip() for a in m.group(2).split(",")]
        if func in {"top", "bottom"}:
            if not all(re.fullmatch(r"[+-]?\d{1,9}", a) for a in args) or len(args) > 2:
                raise InvalidSelection(
                    f"{where}{expr!r}: {func}(n[,offset]) takes one or two whole numbers"
                )
            if int(args[0]) < 1 or (len(args) == 2 and int(args[1]) < 0):
                raise InvalidSelection(
                    f"{where}{expr!r} selects nothing or counts backwards: {func}(n[,offset]) "
                    "needs n >= 1 and offset >= 0"
                )
            return
        for arg in args:
            check_code(arg, f"{where}{expr!r}: ")
        return
    if "*" in text or "?" in text:
        if not _PATTERN_CHARS.fullmatch(text) or text.count("*") > 2:
            raise InvalidSelection(
                f"{where}{expr!r} is not a valid pattern (codes with at most two '*' and any '?')"
            )
        return
    check_code(text, where)


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
            if n < 1 or offset < 0 or len(args) > 2:
                raise InvalidSelection(
                    f"table {table_id}, variable {var.code}: {expr!r} selects nothing or counts "
                    f"backwards: {func}(n[,offset]) needs n >= 1 and offset >= 0"
                )
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


class _CellLimit:
    """The most cells a client puts in one data call, learned from the server's refusals.

    It starts at ``maxDataCells`` (from ``/config``). A call refused as too many cells of size
    :math:`c` lowers the limit to :math:`\\max(\\lfloor \\min(L, c) / 2 \\rfloor, g)`, where
    :math:`g` is the largest call that passed (when smaller than :math:`c`), and remembers
    :math:`r`, the smallest refused size. After :data:`GROW_AFTER` calls in a row pass, the limit
    grows again: to :math:`\\lfloor (L + r) / 2 \\rfloor` (a binary search between the largest
    size known to pass and the smallest known to fail, stopping once they are within 5 % of each
    other), or, when no refusal bounds it (a call of at least :math:`r` cells has passed since,
    so that refusal was transient), doubles up to ``maxDataCells``. Calls not made yet are
    re-planned at the new limit. So a server stricter than it announces is met near its real
    limit, and one odd refusal does not halve every later call.
    """

    #: Calls in a row that must pass before the limit is raised.
    GROW_AFTER = 8
    #: The search stops when the refused and passing sizes are this close (relative).
    CLOSE = 0.05

    def __init__(self) -> None:
        self.limit: int | None = None
        self.refused: int | None = None
        self.good = 0
        self.streak = 0

    def current(self, announced: int) -> int:
        return announced if self.limit is None else min(announced, self.limit)

    def refuse(self, cells: int, announced: int) -> None:
        self.refused = cells if self.refused is None else min(self.refused, cells)
        new = min(self.current(announced), cells) // 2
        if 0 < self.good < cells:
            new = max(new, self.good)
        self.limit = max(1, new)
        self.streak = 0

    def succeed(self, cells: int, announced: int) -> bool:
        """Record a call that passed; whether the limit grew."""
        self.good = max(self.good, cells)
        if self.refused is not None and cells >= self.refused:
            self.refused = None  # a call as large as the refused one passed: it was transient
        current = self.current(announced)
        if current >= announced:
            return False
        self.streak += 1
        if self.streak < self.GROW_AFTER:
            return False
        self.streak = 0
        if self.refused is None:
            new = min(announced, 2 * current)
        elif self.refused - current <= max(1, int(self.refused * self.CLOSE)):
            return False
        else:
            new = (current + self.refused) // 2
        if new <= current:
            return False
        self.limit = new
        return True


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
        A :class:`~regionstats.sources.ratelimit.RateLimiter` taken before every request;
        ``"auto"``: the machine-wide one for this host (file in the user cache dir), obeying the
        limits ``/config`` announces; its first request (``/config`` itself) takes a slot under
        :data:`~regionstats.sources.ratelimit.BOOTSTRAP_LIMITS` unless another process has
        recorded the limits already. ``None`` (default) relies on the server's 429 +
        ``Retry-After`` only.
    max_retries
        Retries after the first attempt (5xx, 429, timeouts, resets, cut-off bodies).
    max_wait
        Seconds of backoff/``Retry-After`` waiting allowed per call.
    max_url_length
        Longest GET URL; longer queries are POSTed.
    deadline
        Seconds one request may take in all (limiter slot, connect, the whole body, waits and
        retries), default :data:`~regionstats.sources.http.DEFAULT_DEADLINE`; past it
        :class:`DeadlineExceeded`. ``None``: only the per-operation ``timeout``.
    offline
        ``True``: every call that would use the network raises
        :class:`~regionstats.sources.http.Offline` before any DNS lookup or connection;
        ``False``: never offline; ``None`` (default): offline while ``REGIONSTATS_OFFLINE=1``
        (:func:`regionstats.config.offline`, checked at every call).
    workers
        Data calls of a split query in flight at once (default 4; ``1``: one after another).
        The first call is made alone (so a cell limit stricter than announced is learned
        before the others go out), the rest concurrently, each decoded and checked in its
        worker thread while others download; every call still takes a slot of ``limiter``.
        The session's connection pool should hold at least ``workers`` connections
        (:func:`~regionstats.sources.http.make_session`'s does).

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
        deadline: float | None = DEFAULT_DEADLINE,
        offline: bool | None = None,
        workers: int = 4,
    ) -> None:
        if isinstance(limiter, str) and limiter != "auto":
            raise ValueError(f"limiter must be a RateLimiter, 'auto' or None, got {limiter!r}")
        if deadline is not None and deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds or None, got {deadline}")
        if int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
        self.workers = int(workers)
        self._lock = threading.Lock()  # the lazily built limiter, shared by worker threads
        # One body decoded at a time: under the GIL decodes cannot run in parallel anyway, and
        # threads taking turns mid-decode cost more CPU than they save (measured on loopback,
        # 25 chunks of 1,000 cells, 4 workers: 0.138 s without this lock, 0.111 s with it);
        # downloads still overlap the decoding.
        self._decoding = threading.Lock()
        self.base_url = (base_url if base_url is not None else config.pxweb_url()).rstrip("/")
        self._offline = offline
        self.session = session if session is not None else http.make_session()
        self.lang = lang
        self.timeout = timeout
        self.limiter = limiter
        self._auto_limiter = limiter == "auto"
        self.deadline = deadline
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1, backoff_base=backoff_base, max_total_wait=max_wait
        )
        self.max_url_length = max_url_length
        self._config: dict[str, Any] | None = None
        self._metadata: dict[str, dict[str, Any]] = {}
        self._codelists: dict[str, dict[str, Any]] = {}
        self._cells = _CellLimit()

    def __repr__(self) -> str:
        return f"PxWebApi({self.base_url!r}, lang={self.lang!r})"

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """Whether calls are refused (``offline=`` given, else ``REGIONSTATS_OFFLINE`` now)."""
        return config.offline() if self._offline is None else bool(self._offline)

    @property
    def _learned_max_cells(self) -> int | None:
        return self._cells.limit

    def _limiter(self) -> RateLimiter | None:
        if self.limiter == "auto":  # built before the first request, which it throttles too
            with self._lock:
                if self.limiter == "auto":
                    calls, window = BOOTSTRAP_LIMITS
                    self.limiter = RateLimiter(
                        calls, window, path=default_limiter_path(self.base_url), shared_limits=True
                    )
        return self.limiter if isinstance(self.limiter, RateLimiter) else None

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        if self.offline:  # before the limiter and any connection
            raise http.Offline(method, url)
        limiter = self._limiter()
        if self._auto_limiter and self._config is None and path != "/config":
            self.config()  # learn (and share) the host's limits first; that call takes a slot too
        try:
            return http.request(
                self.session,
                method,
                url,
                params=params,
                json=json,
                timeout=self.timeout,
                policy=self.retry,
                limiter=limiter,
                deadline=self.deadline,
            )
        except http.RateLimited as err:
            raise RateLimited(str(err)) from err
        except http.DeadlineExceeded as err:
            raise DeadlineExceeded(str(err)) from err
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
        """``GET /config`` (cached): limits, languages, formats. Checks ``apiVersion`` is 2.x.

        With ``limiter="auto"`` the limits it announces (``maxCallsPerTimeWindow`` per
        ``timeWindow`` seconds) are recorded in the shared limiter file for every process.
        """
        if self._config is None:
            response = self._call("GET", "/config")
            self._raise_for(response)
            cfg = _parse_json(response, f"GET {response.url}")
            if not isinstance(cfg, dict):
                raise PxWebApiError(f"GET {response.url}: /config is not a JSON object")
            version = str(cfg.get("apiVersion", ""))
            if not version.startswith("2."):
                raise PxWebApiError(
                    f"{self.base_url} is not a PxWebApi 2.0 server (/config apiVersion "
                    f"{version!r}); use a /v2 base URL"
                )
            limiter = self._limiter()
            if self._auto_limiter and limiter is not None:
                try:
                    calls = int(cfg.get("maxCallsPerTimeWindow") or 30)
                    window = float(cfg.get("timeWindow") or 60)
                except (TypeError, ValueError) as err:
                    raise PxWebApiError(
                        f"GET {response.url}: /config limits are not numbers ({err})"
                    ) from err
                limiter.record_limits(max(1, calls), window if window > 0 else 60.0)
            self._config = cfg
        return self._config

    @property
    def max_cells(self) -> int:
        """Cells allowed per call: ``maxDataCells``, or less while the server proves stricter."""
        return self._cells.current(self._announced_cells())

    def _announced_cells(self) -> int:
        return int(self.config().get("maxDataCells") or 0) or 10**12

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
        """``GET /tables/{id}``: ``label``, ``updated``, ``firstPeriod``, ... (never cached).

        When its ``updated`` differs from that of the table's cached :meth:`metadata`, the cache
        is dropped (a new release may have new codes, e.g. a new year). Raises :class:`InvalidId`
        (before any call) for an id outside :data:`ID_PATTERN`.
        """
        path = f"/tables/{_segment(table_id, 'table id')}"
        response = self._call("GET", path, params={"lang": self.lang})
        self._raise_for(response, table_id)
        info = _parse_json(response, f"GET {response.url}")
        cached = self._metadata.get(str(table_id))
        if isinstance(info, dict) and cached is not None:
            new, old = info.get("updated"), cached.get("updated")
            if new is not None and old is not None and not _same_instant(new, old):
                del self._metadata[str(table_id)]  # a new release: its codes may differ
        return info

    def metadata(self, table_id: str) -> dict[str, Any]:
        """``GET /tables/{id}/metadata?outputFormat=json-stat2`` (cached per client).

        Each dimension's ``extension`` exposes the available codelists under both
        ``codelists`` (spec) and ``codeLists`` (SSB beta output), whichever the server used.
        """
        table_id = str(table_id)
        if table_id not in self._metadata:
            response = self._call(
                "GET",
                f"/tables/{_segment(table_id, 'table id')}/metadata",
                params={"lang": self.lang, "outputFormat": "json-stat2"},
            )
            self._raise_for(response, table_id)
            doc = _parse_json(response, f"GET {response.url}")
            if not isinstance(doc, dict) or not isinstance(doc.get("dimension") or {}, dict):
                raise PxWebApiError(f"GET {response.url}: the metadata is not a JSON-stat object")
            for dim in (doc.get("dimension") or {}).values():
                if not isinstance(dim, dict):
                    continue
                ext = dim.setdefault("extension", {}) or {}
                lists = ext.get("codelists", ext.get("codeLists")) or []
                ext["codelists"] = ext["codeLists"] = lists
            self._metadata[table_id] = doc
        return self._metadata[table_id]

    def codelist(self, codelist_id: str) -> dict[str, Any]:
        """``GET /codelists/{id}`` (cached): ``values[{code, label, valueMap}]``, ``type``."""
        if codelist_id not in self._codelists:
            path = f"/codelists/{_segment(codelist_id, 'codelist id')}"
            response = self._call("GET", path, params={"lang": self.lang})
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
        table_id = check_id(table_id, "table id")
        where = f"table {table_id}: "
        for name, values in selection.items():  # syntax first: before any call
            for expr in _as_list(values):
                _check_expression(expr, f"{where}variable {name}: ")
        for name, cl_id in (codelists or {}).items():
            check_id(cl_id, f"{where}codelist id for {name}:")
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
            codes = [c for c in universe if c in picked]  # table order, as PxWeb answers
            if not codes:
                raise InvalidSelection(
                    f"table {table_id}, variable {var.code}: {chosen[var.code]} selects no value"
                )
            q_vars.append(var)
            q_codes.append(codes)
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
        path = f"/tables/{_segment(table_id, 'table id')}/data"
        url = f"{self.base_url}{path}"
        prepared = requests.Request("GET", url, params=get_params).prepare()
        if len(prepared.url or "") <= self.max_url_length:
            return self._call("GET", path, params=get_params)
        body = {
            "selection": [
                {"variableCode": var, "valueCodes": list(codes)}
                | ({"codelist": codelists[var]} if var in codelists else {})
                for var, codes in values.items()
            ]
        }
        return self._call("POST", path, params=params, json=body)

    def _fetch_chunk(
        self,
        query: _Query,
        values: Mapping[str, Sequence[str]],
        asked: Mapping[str, Sequence[str]],
        *,
        labels: bool,
    ) -> tuple[bytes, pd.DataFrame, _Layout]:
        response = self._request_data(query.table_id, values, query.codelists)
        status = response.status_code
        if status >= 400:
            detail = http.problem_detail(response)
            if status in (400, 403) and _is_too_many_cells(detail):
                raise _TooManyCells(detail)
            if status == 403:
                raise PxWebApiError(
                    f"table {query.table_id}: the server refused the data call (HTTP 403: "
                    f"{detail}); the answer does not say 'too many cells', so smaller calls "
                    "would not help"
                )
            self._raise_for(response, query.table_id)
        body = response.content
        what = f"{response.request.method} {response.url}"
        with self._decoding:
            [frame], [layout] = _check_bodies(
                [body],
                table_id=query.table_id,
                chunks=[asked],
                labels=labels,
                names=[what],
                categorical=True,
            )
        return body, frame, layout

    def _try_chunk(
        self, query: _Query, box: Box, whole: Box, labels: bool
    ) -> tuple[bytes, pd.DataFrame, _Layout] | _TooManyCells:
        """One data call (in a worker thread or the caller's): its checked result, or the
        server's too-many-cells refusal as a value (every other error is raised)."""
        asked = query.chunk(box)
        # one call: send the selection as written (expressions kept)
        values: Mapping[str, Sequence[str]] = query.as_sent if box == whole else asked
        try:
            return self._fetch_chunk(query, values, asked, labels=labels)
        except _TooManyCells as err:
            return err

    def get_data_bytes(
        self,
        table_id: str,
        selection: Selection,
        *,
        codelists: Mapping[str, str] | None = None,
    ) -> list[bytes]:
        """Raw JSON-stat 2.0 bodies of the data, one per call, in plan order.

        Every body has been decoded and checked against its call's selection
        (:func:`check_bodies`) before it is returned.

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
        InvalidId, TableNotFound, InvalidSelection
            Before any data call, from the ids, the expressions and the metadata.
        RateLimited, ServiceUnavailable, DeadlineExceeded
            When retries are exhausted or the deadline passed.
        Offline
            In offline mode, before any connection (see the ``offline`` parameter).
        InvalidResponse
            A body is not a JSON-stat 2.0 dataset, does not decode, does not answer its own
            selection (other codes or cells), or the chunks carry different ``updated`` values.
        PxWebApiError
            Any other refusal (e.g. an HTTP 403 that is not "too many cells").
        """
        return self._fetch(table_id, selection, codelists, labels=True)[1]

    def _fetch(
        self,
        table_id: str,
        selection: Selection,
        codelists: Mapping[str, str] | None,
        *,
        labels: bool,
    ) -> tuple[_Query, list[bytes], list[pd.DataFrame], list[_Layout], np.ndarray]:
        """Fetch and check; once more with fresh metadata if an answer that failed the checks
        came from a newer release than the cached metadata (a new year makes ``*`` wider)."""
        try:
            return self._fetch_once(table_id, selection, codelists, labels=labels)
        except InvalidResponse as err:
            cached = (self._metadata.get(str(table_id)) or {}).get("updated")
            seen = err.updated
            if seen is None or cached is None or _same_instant(seen, cached):
                raise
            del self._metadata[str(table_id)]
            if _same_instant(self.metadata(table_id).get("updated"), cached):
                raise  # the metadata was current: the answer was wrong
        return self._fetch_once(table_id, selection, codelists, labels=labels)

    def _fetch_once(
        self,
        table_id: str,
        selection: Selection,
        codelists: Mapping[str, str] | None,
        *,
        labels: bool,
    ) -> tuple[_Query, list[bytes], list[pd.DataFrame], list[_Layout], np.ndarray]:
        """Make the planned calls: the first alone, then the rest ``workers`` at a time
        (:meth:`_wave`).

        ``slots`` is the plan as it stands, in order; a refused call's boxes are replaced in
        place by their new plan, so the results come back in plan order whatever order the
        calls finished in, and with ``workers=1`` the calls are exactly the sequential ones.
        """
        query = self._validate(table_id, selection, codelists)
        order = query.priority()
        announced = self._announced_cells()
        whole = tuple((0, n) for n in query.sizes)
        slots: list[Box] = plan_split(query.sizes, self.max_cells, priority=order)
        done: dict[Box, tuple[bytes, pd.DataFrame, _Layout]] = {}
        first_updated: Any = None
        executor: ThreadPoolExecutor | None = None
        try:
            while pending := [b for b in slots if b not in done]:
                wave = self._wave(pending, announced)
                if len(wave) == 1:
                    outcomes = [self._try_chunk(query, wave[0], whole, labels)]
                else:
                    if executor is None:
                        executor = ThreadPoolExecutor(
                            max_workers=min(self.workers, len(wave)),
                            thread_name_prefix="regionstats-pxwebapi",
                        )
                    outcomes = _run_all(
                        executor,
                        [partial(self._try_chunk, query, b, whole, labels) for b in wave],
                    )
                refused = grew = False
                for box, outcome in zip(wave, outcomes, strict=True):
                    cells = math.prod(e - s for s, e in box)
                    if isinstance(outcome, _TooManyCells):
                        if cells <= 1:
                            raise PxWebApiError(
                                f"table {table_id}: the server refuses even a one-cell call as "
                                f"too many cells ({outcome})"
                            ) from outcome
                        self._cells.refuse(cells, announced)
                        refused = True
                        continue
                    updated = outcome[1].attrs.get("updated")
                    if not done:
                        first_updated = updated
                    elif updated != first_updated:
                        raise InvalidResponse(
                            f"table {table_id} was updated while its chunks were fetched "
                            f"(updated {first_updated!r} in call 1, {updated!r} in call "
                            f"{len(done) + 1}); fetch again",
                            updated=updated,
                        )
                    done[box] = outcome
                    grew = self._cells.succeed(cells, announced) or grew
                rest = [b for b in slots if b not in done]
                if refused:  # every box left split on its own, or the remaining block anew
                    slots = _replan(slots, rest, self.max_cells, order)
                elif grew:  # fewer, larger calls for what is left
                    slots = _regroup_slots(slots, rest, self.max_cells, order)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        results = [done[b] for b in slots]
        bodies = [r[0] for r in results]
        frames = [r[1] for r in results]
        layouts = [r[2] for r in results]
        keys = _flat_keys(layouts, [v.code for v in query.variables], query.codes, table_id)
        return query, bodies, frames, layouts, keys

    def _wave(self, pending: Sequence[Box], announced: int) -> list[Box]:
        """The next calls to send together: the first pending box alone when it is larger
        than any call that passed (it probes the server's limit: the very first call, the
        first after a refusal or after the limit grew), else the pending boxes up to the next
        such box, and while the limit is below the announced one only as many as are left
        before it may grow (:attr:`_CellLimit.GROW_AFTER` in a row), so the plan changes at
        the same calls as when they are made one by one."""
        if self.workers == 1:
            return list(pending[:1])
        good = self._cells.good
        wave: list[Box] = []
        for box in pending:
            if math.prod(e - s for s, e in box) > good:
                break
            wave.append(box)
        if not wave:
            return list(pending[:1])
        if self._cells.current(announced) < announced:
            wave = wave[: max(1, _CellLimit.GROW_AFTER - self._cells.streak)]
        return wave

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
        would have (metadata order, row-major). Code and label columns are plain strings
        (pandas' default ``str`` dtype), ``value`` float64, ``status`` ``string``. ``attrs``
        are the first chunk's with ``units`` merged over chunks, plus ``table``, ``source``
        (data URL), ``vintage`` (``updated``), ``calls`` (number of data calls) and
        ``selection``.

        Raises as :meth:`get_data_bytes` (:class:`InvalidResponse` also when the table's
        ``updated`` changed between chunks: fetch again).
        """
        query, bodies, frames, layouts, keys = self._fetch(
            table_id, selection, codelists, labels=labels
        )
        url = f"{self.base_url}/tables/{table_id}/data"
        attrs = dict(frames[0].attrs)
        units: dict[str, Any] = {}
        for f in frames:
            units.update(f.attrs.get("units") or {})
        frame = _reassemble([layout.arrays for layout in layouts], keys)
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


def _run_all(executor: ThreadPoolExecutor, calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on ``executor``; their results in order.

    The first exception stops the rest: calls not started are cancelled, those in flight are
    waited for (each bounded by its own deadline), and the first failure in call order is
    raised, as raised in its worker (typed).
    """
    futures: list[Future[Any]] = [executor.submit(call) for call in calls]
    _, running = wait(futures, return_when=FIRST_EXCEPTION)
    if running:  # something failed before all finished
        for future in futures:
            future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]


def _replace(slots: Sequence[Box], old: Sequence[Box], new: Sequence[Box]) -> list[Box]:
    """``slots`` with the boxes ``old`` removed and ``new`` put where the first of them was."""
    gone = set(old)
    out: list[Box] = []
    placed = False
    for box in slots:
        if box not in gone:
            out.append(box)
        elif not placed:
            out.extend(new)
            placed = True
    return out


def _replan(
    slots: Sequence[Box], rest: Sequence[Box], limit: int, order: Sequence[int]
) -> list[Box]:
    """After a refusal: every box not fetched yet (``rest``, in plan order) split to
    ``limit`` on its own, or, when fewer calls come of it, the trailing run of them that tiles
    one block planned anew as that block (the boxes before it split on their own); the new
    boxes take the place of the old ones in ``slots``."""
    out = list(slots)
    tail = _tail_block(rest)
    if tail is not None:
        k, bounds = tail
        block = _resplit([bounds], limit, order)
        if len(_resplit(rest[:k], limit, order)) + len(block) < len(_resplit(rest, limit, order)):
            out = _replace(out, rest[k:], block)
            rest = rest[:k]
    for box in rest:
        split = _resplit([box], limit, order)
        if split != [box]:
            out = _replace(out, [box], split)
    return out


def _regroup_slots(
    slots: Sequence[Box], rest: Sequence[Box], limit: int, order: Sequence[int]
) -> list[Box]:
    """:func:`_regroup` of the boxes not fetched, in place in ``slots``."""
    tail = _tail_block(rest)
    if tail is None:
        return list(slots)
    k, bounds = tail
    return _replace(slots, rest[k:], _resplit([bounds], limit, order))


@cache
def _default_str_dtype() -> Any:
    """pandas' default dtype for strings (``str`` on pandas 3, ``object`` before)."""
    return pd.Series([""]).dtype


def _strings(categories: Sequence[Any], codes: np.ndarray) -> Any:
    """``categories[codes]`` as an array of pandas' default string dtype, built in pyarrow."""
    texts = pa.array([str(c) for c in categories], type=pa.large_string()).take(codes)
    str_dtype = _default_str_dtype()
    if isinstance(str_dtype, pd.StringDtype):
        return pd.array(texts, dtype=str_dtype)
    return texts.to_numpy(zero_copy_only=False)


def _arrays(frame: pd.DataFrame) -> dict[str, Any]:
    """The frame's columns as arrays (``attrs`` left out: pandas deep-copies them on every
    column access)."""
    saved = frame.attrs
    frame.attrs = {}
    try:
        return {str(name): frame[name].array for name in frame.columns}
    finally:
        frame.attrs = saved


def _union_codes(columns: Sequence[pd.Categorical]) -> tuple[list[Any], np.ndarray] | None:
    """The chunks' Categoricals as one: the union of their categories (first seen first) and
    every row's position in it (integer work only: a chunk whose categories are the union's
    first ones keeps its codes, another is mapped through a small lookup); None if a row has
    no category."""
    where: dict[Any, int] = {}
    parts = []
    for column in columns:
        codes = np.asarray(column.codes)
        if codes.size and int(codes.min()) < 0:
            return None
        lut = np.array([where.setdefault(c, len(where)) for c in column.categories], np.int32)
        identity = bool((lut == np.arange(lut.size, dtype=np.int32)).all())
        parts.append(codes if identity else lut[codes])
    joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return list(where), joined


def _reassemble(parts: Sequence[Mapping[str, Any]], keys: np.ndarray) -> pd.DataFrame:
    """The chunks' columns as one frame in query (row-major) order, Categoricals as strings.

    Each Categorical column is joined as integer positions in the union of the chunks'
    categories (:func:`_union_codes`), reordered, and turned into strings once, from those
    categories (:func:`_strings`); other columns are concatenated and reordered. Chunks that
    are already in query order (slabs of the first variable split) are not reordered.
    """
    order = None
    if len(parts) > 1 and not bool((keys[1:] > keys[:-1]).all()):
        order = np.argsort(keys, kind="stable")
    columns: dict[str, Any] = {}
    for name in parts[0]:
        arrays = [p[name] for p in parts]
        union = _union_codes(arrays) if all(isinstance(a, pd.Categorical) for a in arrays) else None
        if union is not None:
            categories, codes = union
            columns[name] = _strings(categories, codes if order is None else codes[order])
            continue
        if len(arrays) == 1:
            series = pd.Series(arrays[0], copy=False)
        else:
            series = pd.concat([pd.Series(a, copy=False) for a in arrays], ignore_index=True)
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(_default_str_dtype())
        columns[name] = series.array if order is None else series.array.take(order)
    return pd.DataFrame(columns, copy=False)


def _resplit(boxes: Sequence[Box], limit: int, order: Sequence[int]) -> list[Box]:
    """Every box over ``limit`` cells replaced by its own plan at ``limit`` (order kept)."""
    out: list[Box] = []
    for b in boxes:
        sizes = [e - s for s, e in b]
        if math.prod(sizes) <= limit:
            out.append(b)
            continue
        for sub in plan_split(sizes, limit, priority=order):
            out.append(tuple((s0 + s, s0 + e) for (s0, _), (s, e) in zip(b, sub, strict=True)))
    return out


def _regroup(boxes: Sequence[Box], limit: int, order: Sequence[int]) -> list[Box]:
    """The calls not made yet, re-planned at a larger ``limit`` where they tile one box.

    Split plans are made in order, so what is left is usually one block (e.g. the regions not
    fetched yet), perhaps after a box or two of a slab begun: the longest run of pending boxes
    at the end that exactly fills its bounding box is planned afresh, with fewer and larger
    calls. Otherwise nothing changes.
    """
    tail = _tail_block(boxes)
    if tail is None:
        return list(boxes)
    k, bounds = tail
    return [*boxes[:k], *_resplit([bounds], limit, order)]


def _tail_block(boxes: Sequence[Box]) -> tuple[int, Box] | None:
    """``(k, bounds)`` for the longest run ``boxes[k:]`` (two boxes or more) that exactly fills
    its bounding box ``bounds``, or None."""
    for k in range(len(boxes) - 1):
        tail = boxes[k:]
        bounds = tuple(
            (min(b[d][0] for b in tail), max(b[d][1] for b in tail)) for d in range(len(tail[0]))
        )
        total = sum(math.prod(e - s for s, e in b) for b in tail)
        if total == math.prod(e - s for s, e in bounds):
            return k, bounds
    return None


@dataclass(frozen=True)
class _Layout:
    """Where a decoded body's cells are: its dimension ids, their codes in cube order (each code
    column is the row-major repetition of these), and the number of rows."""

    dims: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]
    rows: int
    #: The frame's columns (:func:`_arrays`), for :func:`_reassemble`.
    arrays: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def of(frame: pd.DataFrame, doc: Mapping[str, Any]) -> _Layout:
        """Read from the decoded frame (string or Categorical code columns): the code of
        every ``stride``-th row of each dimension's column."""
        dims = tuple(str(d) for d in doc["id"])
        sizes = [int(n) for n in doc["size"]]
        arrays = _arrays(frame)
        codes: list[tuple[str, ...]] = []
        for k, dim in enumerate(dims):
            if not len(frame):
                codes.append(())
                continue
            stride = math.prod(sizes[k + 1 :])
            picked = slice(0, sizes[k] * stride, stride)
            column = arrays[dim]
            if isinstance(column, pd.Categorical):
                values: Any = column.categories.take(np.asarray(column.codes[picked]))
            else:
                values = column[picked]
            codes.append(tuple(str(c) for c in values))
        return _Layout(dims, tuple(codes), len(frame), arrays)

    def codes_of(self, dim: str) -> tuple[str, ...]:
        return self.codes[self.dims.index(dim)]


def check_bodies(
    bodies: Sequence[bytes],
    *,
    table_id: str,
    expected: Mapping[str, Sequence[str]] | None = None,
    chunks: Sequence[Mapping[str, Sequence[str]] | None] | None = None,
    labels: bool = True,
    names: Sequence[str] | None = None,
    categorical: bool = False,
) -> list[pd.DataFrame]:
    """Decode data bodies and check they answer the query; the one validation path.

    :meth:`PxWebApi.get_data_bytes` calls it on every body as it arrives (with that call's
    selection), :class:`regionstats.sources.fetch.Fetcher` on all of them before it stores a
    vintage (with the whole query), and :meth:`regionstats.sources.store.RawStore.load` when it
    reads them back, so nothing is stored that the store cannot read back as asked.

    Parameters
    ----------
    bodies
        The raw bodies (one per call).
    table_id
        For messages.
    expected
        ``{variable: codes}`` of the whole query (every selected variable); the bodies together
        must hold each cell of that cube exactly once. ``None``: they must hold a full cube of
        the codes they contain, with no cell twice.
    chunks
        Per body, ``{variable: codes}`` asked in that call (or ``None``): the body must have
        exactly these codes for each of them, and nothing more than single-code dimensions
        besides.
    labels
        Passed to :func:`~regionstats.sources.jsonstat.read_jsonstat` (the frames returned).
    names
        Per body, what it is (URL), for messages.
    categorical
        Code and label columns of the frames returned as :class:`pandas.Categorical`
        (``True``, what :class:`PxWebApi` uses) or as strings (``False``, the default, kept
        for :meth:`regionstats.sources.store.RawStore.load`); passed to
        :func:`~regionstats.sources.jsonstat.read_jsonstat` explicitly either way.

    Returns
    -------
    list of DataFrame
        The decoded bodies, in order.

    Raises
    ------
    InvalidResponse
        A body is not a JSON-stat 2.0 dataset or does not decode; a body's codes differ from its
        call's selection; the bodies carry different ``updated`` values; a cell is missing,
        repeated or not asked for.

    Examples
    --------
    >>> body = (b'{"version": "2.0", "class": "dataset", "updated": "2025-01-01", '
    ...         b'"id": ["Region", "Tid"], "size": [1, 2], "dimension": {'
    ...         b'"Region": {"category": {"index": {"0301": 0}}}, '
    ...         b'"Tid": {"category": {"index": {"2023": 0, "2024": 1}}}}, "value": [1, 2]}')
    >>> query = {"Region": ["0301"], "Tid": ["2023", "2024"]}
    >>> [float(f["value"].sum()) for f in check_bodies([body], table_id="x", expected=query)]
    [3.0]
    >>> check_bodies([body], table_id="x", chunks=[{"Region": ["0301", "4601"]}])
    Traceback (most recent call last):
    ...
    regionstats.sources.pxwebapi.InvalidResponse: table x (body 1): asked for Region ...
    """
    frames, layouts = _check_bodies(
        bodies,
        table_id=table_id,
        chunks=chunks,
        labels=labels,
        names=names,
        categorical=categorical,
    )
    if expected is not None:
        _flat_keys(layouts, list(expected), [list(v) for v in expected.values()], table_id)
    else:
        dims = layouts[0].dims
        for layout in layouts[1:]:
            if layout.dims != dims:
                raise InvalidResponse(
                    f"table {table_id}: the chunks have different dimensions "
                    f"({list(dims)} and {list(layout.dims)})"
                )
        seen = [
            list(dict.fromkeys(c for layout in layouts for c in layout.codes_of(d))) for d in dims
        ]
        _flat_keys(layouts, list(dims), seen, table_id)
    return frames


def _check_bodies(
    bodies: Sequence[bytes],
    *,
    table_id: str,
    chunks: Sequence[Mapping[str, Sequence[str]] | None] | None,
    labels: bool,
    names: Sequence[str] | None,
    categorical: bool,
) -> tuple[list[pd.DataFrame], list[_Layout]]:
    """Decode, check each body against its own selection and all for one ``updated``."""
    if not bodies:
        raise InvalidResponse(f"table {table_id}: no data bodies")
    frames: list[pd.DataFrame] = []
    layouts: list[_Layout] = []
    for i, body in enumerate(bodies):
        what = names[i] if names is not None else f"table {table_id} (body {i + 1})"
        doc = _check_dataset(bytes(body), what)
        try:
            frame = read_jsonstat(doc, labels=labels, name=what, categorical=categorical)
        except JsonStatError as err:
            raise InvalidResponse(f"table {table_id}: {err}") from err
        layout = _Layout.of(frame, doc)
        asked = chunks[i] if chunks is not None else None
        if asked is not None:
            try:
                _match(layout, asked, what)
            except InvalidResponse as err:
                err.updated = frame.attrs.get("updated")
                raise
        frames.append(frame)
        layouts.append(layout)
    updated = sorted({str(f.attrs.get("updated")) for f in frames})
    if len(updated) > 1:
        raise InvalidResponse(
            f"table {table_id} was updated while its {len(frames)} chunks were fetched "
            f"(updated values {updated}); fetch again"
        )
    return frames, layouts


def _match(layout: _Layout, asked: Mapping[str, Sequence[str]], what: str) -> None:
    """Refuse a decoded body whose codes are not exactly those asked (per variable)."""
    for var, codes in asked.items():
        if var not in layout.dims:
            raise InvalidResponse(
                f"{what}: asked for variable {var} but the answer has only {list(layout.dims)}"
            )
        got = list(layout.codes_of(var)) if layout.rows else []
        if len(got) != len(codes) or set(got) != set(codes):
            missing = [c for c in codes if c not in set(got)]
            extra = [c for c in got if c not in set(codes)]
            raise InvalidResponse(
                f"{what}: asked for {var} {list(codes)[:6]} but the answer has {got[:6]} "
                f"(missing {missing[:6]}, not asked {extra[:6]}); the server answered another "
                "selection"
            )
    cells = math.prod(len(c) for c in asked.values())
    if layout.rows != cells:
        others = [d for d in layout.dims if d not in asked]
        raise InvalidResponse(
            f"{what}: {layout.rows} cells where {cells} were asked for (dimensions not asked: "
            f"{others})"
        )


def _flat_keys(
    layouts: Sequence[_Layout], dims: Sequence[str], codes: Sequence[Sequence[str]], table: str
) -> np.ndarray:
    """Row-major cell number, in the cube ``dims`` x ``codes``, of every row of the bodies (in
    order); refuses a code not asked for, and a cell missing or there twice."""
    total = math.prod(len(c) for c in codes)
    # the cell number is sum_d position_d * weight_d, weight_d the cells of the dims after d
    weights = [math.prod(len(c) for c in codes[k + 1 :]) for k in range(len(codes))]
    wheres = [{c: i for i, c in enumerate(dim_codes)} for dim_codes in codes]
    parts = []
    for layout in layouts:
        terms: dict[str, np.ndarray] = {}
        for dim, where, weight in zip(dims, wheres, weights, strict=True):
            if dim not in layout.dims:
                raise InvalidResponse(
                    f"table {table}: a chunk lacks variable {dim}; it has {list(layout.dims)}"
                )
            lut = np.array([where.get(c, -1) for c in layout.codes_of(dim)], dtype=np.int64)
            if (lut < 0).any():
                odd = layout.codes_of(dim)[int(np.argmax(lut < 0))]
                raise InvalidResponse(
                    f"table {table}: the server returned code {odd!r} for {dim}, "
                    "which was not asked for"
                )
            terms[dim] = lut * weight
        parts.append(_outer_sum(layout, terms, table))
    keys = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    once = len(keys) == total and (
        total == 0 or bool((np.bincount(keys, minlength=total) == 1).all())
    )
    if not once:
        repeated = len(keys) - int(np.unique(keys).size)
        raise InvalidResponse(
            f"table {table}: the answers hold {len(keys)} rows ({repeated} repeated) for "
            f"{total} cells asked (chunks overlap or miss cells)"
        )
    return keys


def _outer_sum(layout: _Layout, terms: Mapping[str, np.ndarray], table: str) -> np.ndarray:
    """Per row of ``layout`` (row-major over its own dimensions), the sum of its codes' terms
    (0 for a dimension without one): one broadcast per dimension, no per-row arithmetic."""
    if not layout.rows:
        return np.zeros(0, dtype=np.int64)
    flat = np.zeros(1, dtype=np.int64)
    for dim, dim_codes in zip(layout.dims, layout.codes, strict=True):
        term = terms.get(dim)
        if term is None:
            term = np.zeros(len(dim_codes), dtype=np.int64)
        flat = (flat[:, None] + term[None, :]).ravel()
    if flat.size != layout.rows:
        raise InvalidResponse(
            f"table {table}: a chunk has {layout.rows} rows for {flat.size} code combinations"
        )
    return flat


def _same_instant(a: Any, b: Any) -> bool:
    """Whether two ``updated`` stamps name the same time (ISO 8601; else compared as text).

    >>> _same_instant("2025-03-12T07:00:00Z", "2025-03-12T08:00:00+01:00")
    True
    """
    if a is None or b is None:
        return a is b
    if str(a) == str(b):
        return True
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(a)) == datetime.fromisoformat(str(b))
    except ValueError:
        return False


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


def _check_dataset(body: bytes, what: str) -> dict[str, Any]:
    """The parsed body if it looks like a JSON-stat 2.0 dataset, else :class:`InvalidResponse`."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidResponse(
            f"{what}: malformed JSON-stat (not valid JSON: {err}); {len(body)} bytes, "
            f"first bytes {body[:60]!r}"
        ) from err
    if not isinstance(doc, dict) or doc.get("class") != "dataset":
        raise InvalidResponse(f"{what}: malformed JSON-stat (not a 'dataset' object)")
    missing = [k for k in ("id", "size", "dimension", "value") if k not in doc]
    if missing:
        raise InvalidResponse(f"{what}: malformed JSON-stat (lacks {', '.join(missing)})")
    try:
        cells = math.prod(int(n) for n in doc["size"])
    except (TypeError, ValueError) as err:
        raise InvalidResponse(f"{what}: malformed JSON-stat (bad 'size')") from err
    if isinstance(doc["value"], list) and len(doc["value"]) != cells:
        raise InvalidResponse(
            f"{what}: malformed JSON-stat ({len(doc['value'])} values for size {doc['size']})"
        )
    return doc
