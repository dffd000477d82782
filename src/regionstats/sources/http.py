"""HTTP plumbing shared by the API clients: sessions, timeouts, retries with backoff.

Every call goes through :func:`request`, which

* always passes a timeout (``(connect, read)`` seconds, default :data:`DEFAULT_TIMEOUT`);
* reads the whole body inside the retry loop, so a body cut short (``Content-Length`` larger
  than what arrived) is retried like a connection reset or a timeout;
* retries 5xx answers and transport errors with bounded exponential backoff and jitter, and
  429 answers after the server's ``Retry-After`` (seconds or an HTTP date);
* gives up after :attr:`RetryPolicy.max_attempts` attempts or when the next wait would push the
  total waiting past :attr:`RetryPolicy.max_total_wait`, raising :class:`RateLimited` or
  :class:`ServiceUnavailable` with the URL, the attempts made and the last answer;
* takes a slot from an optional rate limiter (:class:`regionstats.sources.ratelimit.RateLimiter`)
  before every attempt, retries included, so no request is ever sent without one;
* holds the whole call to an overall **deadline** (default :data:`DEFAULT_DEADLINE` seconds):
  waiting for a limiter slot, connecting, waiting for the answer, reading the whole body, backoff
  and ``Retry-After`` waits and every retry all count. Connect and read timeouts are clipped to
  the time left, and a watchdog (one thread for all calls) shuts the socket down when the
  deadline passes while the body is still arriving (a server trickling one byte a second under
  the read timeout cannot hold the call). Past the deadline :class:`DeadlineExceeded` is raised.

Other answers (2xx, 3xx, 4xx except 429) are returned as they are: the client modules decide
what a 400/403/404 means for their API.

Backoff before retry :math:`a` (0-based) is "equal jitter" (Brooker, *Exponential Backoff And
Jitter*, AWS Architecture Blog, 2015):

.. math::

    d_a = \\min(c, b \\cdot 2^a), \\qquad \\text{wait}_a = d_a / 2 + U(0, d_a / 2)

with base :math:`b` = ``backoff_base`` and cap :math:`c` = ``backoff_cap``: it grows like plain
exponential backoff but spreads out clients that failed together.

Sessions (:func:`make_session`) keep connections alive in a pool large enough for concurrent
chunk fetching (:data:`POOL_MAXSIZE`), and **acknowledge every answer at once** (Linux
``TCP_QUICKACK``, set on the socket after the request is sent, before the answer is read; see
:class:`QuickAckAdapter`). Without it, a server that writes its headers and its body in two
``send`` calls with Nagle's algorithm on (Python's ``http.server``, many others) waits for the
client's ACK of the headers before sending the rest of the body, while the client, on a
kept-alive connection, delays that ACK by its delayed-ACK timer (40 ms on Linux): measured on a
loopback PxWebApi server, 44-48 ms per call instead of 0.7 ms (RFC 1122 §4.2.3.2, RFC 896;
Nagle and delayed ACK together are the classic "write-write-read" stall).
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import itertools
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "POOL_MAXSIZE",
    "RETRY_STATUSES",
    "DeadlineExceeded",
    "HTTPStatusError",
    "Offline",
    "QuickAckAdapter",
    "RateLimited",
    "RetryPolicy",
    "ServiceUnavailable",
    "SourceError",
    "backoff_delay",
    "make_session",
    "parse_retry_after",
    "problem_detail",
    "request",
]

log = logging.getLogger(__name__)

#: ``(connect, read)`` timeout in seconds used when a caller gives none.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 60.0)

#: Seconds one call may take in all (limiter slot, connect, answer, whole body, waits, retries)
#: when a caller gives no ``deadline``.
DEFAULT_DEADLINE: float = 120.0

#: Connections kept per host by :func:`make_session` (at least the workers of a concurrent fetch).
POOL_MAXSIZE = 16

#: Answers retried with backoff (429 is retried after ``Retry-After``).
RETRY_STATUSES = frozenset({500, 502, 503, 504})

#: Transport failures retried with backoff: timeouts, resets, bodies cut short.
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

Timeout = float | tuple[float, float]


class SourceError(RuntimeError):
    """Base class of errors raised by the network clients in :mod:`regionstats.sources`."""


class Offline(SourceError):
    """Offline mode (``REGIONSTATS_OFFLINE=1`` or ``offline=True``): a client was asked to call
    the network and refused before any DNS lookup or connection."""

    def __init__(self, method: str, url: str) -> None:
        super().__init__(
            f"offline mode: refused {method} {url} before any connection (REGIONSTATS_OFFLINE=1 "
            "or offline=True); unset REGIONSTATS_OFFLINE or pass offline=False to go online"
        )
        self.method = method
        self.url = url


class RateLimited(SourceError):
    """The server kept answering 429 (too many requests) beyond the retry budget."""


class ServiceUnavailable(SourceError):
    """The server kept failing (5xx, timeouts, resets, cut-off bodies) beyond the retry budget."""


class DeadlineExceeded(ServiceUnavailable):
    """A call did not finish within its overall deadline (connect, answer, whole body, waits and
    retries included); raised as soon as the deadline passes."""


class HTTPStatusError(SourceError):
    """A non-retryable HTTP error answer (4xx) that the caller did not expect."""

    def __init__(self, message: str, status: int, url: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.detail = detail


class Limiter(Protocol):
    """Anything with ``acquire(timeout=None)`` blocking until a call may be made (and raising
    :class:`TimeoutError` when ``timeout`` seconds pass without a slot)."""

    def acquire(self, timeout: float | None = None) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How hard :func:`request` tries.

    Attributes
    ----------
    max_attempts
        Attempts in total, the first included (``1`` = never retry).
    backoff_base, backoff_cap
        Seconds; the backoff before retry ``a`` is drawn from ``[d/2, d]`` with
        ``d = min(cap, base * 2**a)``.
    max_total_wait
        Seconds of waiting (backoff and ``Retry-After``) allowed over all retries of one call.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_total_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.max_total_wait < 0:
            raise ValueError("backoff_base, backoff_cap and max_total_wait must be >= 0")


def _quick_ack(sock: Any) -> None:
    """Ask the kernel to acknowledge what arrives on ``sock`` at once (Linux; no-op elsewhere)."""
    option = getattr(socket, "TCP_QUICKACK", None)
    if option is None or sock is None:
        return
    with contextlib.suppress(OSError, AttributeError, ValueError):  # closed or odd socket
        sock.setsockopt(socket.IPPROTO_TCP, option, 1)


class _QuickAckHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        _quick_ack(self.sock)  # the request is sent: ACK the answer's first segment at once
        return super().getresponse()


class _QuickAckHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        _quick_ack(self.sock)
        return super().getresponse()


class _QuickAckHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _QuickAckHTTPConnection


class _QuickAckHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _QuickAckHTTPSConnection


class QuickAckAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` whose connections acknowledge answers at once.

    Before reading each answer it sets ``TCP_QUICKACK`` on the socket (Linux; elsewhere nothing
    changes). Linux re-enters delayed-ACK ("pingpong") mode whenever the client sends soon after
    it received, which is every call on a kept-alive connection; the request has just been sent
    when the option is set, so the answer's first segment is acknowledged at once and a server
    holding the rest of its body under Nagle's algorithm sends it without waiting 40 ms. Costs
    one ``setsockopt`` per call and a few more ACK packets. Proxied connections are unchanged.

    Parameters are those of :class:`~requests.adapters.HTTPAdapter`; ``pool_maxsize`` defaults
    to :data:`POOL_MAXSIZE`.

    Examples
    --------
    >>> session = requests.Session()
    >>> session.mount("http://", QuickAckAdapter())
    >>> session.mount("https://", QuickAckAdapter())
    >>> session.get_adapter("https://data.ssb.no/").poolmanager.connection_pool_kw["maxsize"]
    16
    """

    def __init__(
        self,
        pool_connections: int = 10,
        pool_maxsize: int = POOL_MAXSIZE,
        max_retries: Any = 0,
        pool_block: bool = False,
    ) -> None:
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=max_retries,
            pool_block=pool_block,
        )

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _QuickAckHTTPConnectionPool,
            "https": _QuickAckHTTPSConnectionPool,
        }


def make_session(
    user_agent: str | None = None, *, pool_maxsize: int = POOL_MAXSIZE
) -> requests.Session:
    """A :class:`requests.Session` identifying regionstats (no retries of its own).

    Connections are kept alive, up to ``pool_maxsize`` per host (one per concurrent call), and
    answers are acknowledged at once (:class:`QuickAckAdapter`). One session may be shared by
    threads: urllib3's pool hands each request its own connection.

    Parameters
    ----------
    user_agent
        The ``User-Agent`` header; default ``regionstats/<version> python-requests/<version>``.
    pool_maxsize
        Connections kept per host.

    Examples
    --------
    >>> make_session("me/1.0").headers["User-Agent"]
    'me/1.0'
    """
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, QuickAckAdapter(pool_maxsize=pool_maxsize))
    if user_agent is None:
        from regionstats import __version__

        user_agent = f"regionstats/{__version__} python-requests/{requests.__version__}"
    session.headers["User-Agent"] = user_agent
    return session


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """The wait before retry ``attempt`` (0-based): equal jitter in ``[d/2, d]``."""
    d = min(policy.backoff_cap, policy.backoff_base * (2**attempt))
    r = (rng or random).uniform(0.0, d / 2)
    return d / 2 + r


def problem_detail(response: requests.Response) -> str:
    """A one-line description of an error answer (RFC 7807 ``title: detail`` when present)."""
    try:
        doc = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:300]
    if isinstance(doc, Mapping):
        title, detail = doc.get("title"), doc.get("detail")
        parts = [str(p) for p in (title, detail) if p]
        if parts:
            return ": ".join(parts)
    return str(doc)[:300]


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    params: Any = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    policy: RetryPolicy | None = None,
    limiter: Limiter | None = None,
    deadline: float | None = DEFAULT_DEADLINE,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> requests.Response:
    """Make one HTTP call with retries; return the final answer with its body read.

    Parameters
    ----------
    session
        The session to use (see :func:`make_session`).
    method, url, params, json, headers
        As for :meth:`requests.Session.request`.
    timeout
        ``(connect, read)`` seconds or one number; never ``None``.
    policy
        Retry policy (default :class:`RetryPolicy()`).
    limiter
        Optional rate limiter; ``acquire()`` is called before every attempt (retries included),
        so every request that leaves holds a slot.
    deadline
        Seconds the whole call may take: the limiter slots, every attempt (connect, answer and
        the whole body), the waits between attempts. ``None``: no overall deadline (only the
        per-operation ``timeout``).
    sleep, rng
        Injected for tests.

    Returns
    -------
    requests.Response
        Any answer that is not retried (2xx-4xx except 429), body already read.

    Raises
    ------
    RateLimited
        Still 429 after the retries, or a ``Retry-After`` longer than the wait budget left.
    ServiceUnavailable
        Still 5xx or a transport error (timeout, reset, cut-off body) after the retries.
    DeadlineExceeded
        The deadline passed (a :class:`ServiceUnavailable`).
    """
    if timeout is None:
        raise ValueError("a timeout is required for every HTTP call")
    if deadline is not None and deadline <= 0:
        raise ValueError(f"deadline must be > 0 seconds or None, got {deadline}")
    policy = policy or RetryPolicy()
    started = time.monotonic()
    end = None if deadline is None else started + deadline

    def left() -> float:
        return math.inf if end is None else end - time.monotonic()

    def too_late(what: str, attempts: int) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{method} {url}: deadline of {deadline:g} s passed {what} "
            f"(after {attempts} attempt(s), {time.monotonic() - started:.1f} s)"
        )

    waited = 0.0
    last: str = ""
    last_was_429 = False
    attempt = 0
    for attempt in range(policy.max_attempts):
        if limiter is not None:
            if end is None:
                limiter.acquire()
            else:
                try:
                    limiter.acquire(timeout=max(0.0, left()))
                except TimeoutError:
                    raise too_late("waiting for a rate-limit slot", attempt) from None
        if left() <= 0:
            raise too_late("before the request was sent", attempt)
        try:
            response = _attempt(
                session, method, url, params, json, headers, _clip(timeout, left()), end
            )
        except _DeadlineHit as hit:
            raise too_late(f"while reading the answer ({hit})", attempt + 1) from None
        except RETRY_EXCEPTIONS as err:
            if left() <= 0:
                raise too_late(f"({type(err).__name__}: {err})", attempt + 1) from err
            last, last_was_429 = f"{type(err).__name__}: {err}", False
            wait = backoff_delay(attempt, policy, rng)
        else:
            if response.status_code == 429:
                last_was_429 = True
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                last = f"HTTP 429 ({problem_detail(response)}), Retry-After {retry_after}"
                if retry_after is None:
                    wait = backoff_delay(attempt, policy, rng)
                else:
                    wait = retry_after
                    if waited + wait > policy.max_total_wait:
                        raise RateLimited(
                            f"{method} {url}: rate limited (HTTP 429) and Retry-After "
                            f"{retry_after:.0f} s exceeds the wait budget left "
                            f"({policy.max_total_wait - waited:.0f} s of "
                            f"{policy.max_total_wait:.0f} s)"
                        )
                    if wait >= left():
                        raise RateLimited(
                            f"{method} {url}: rate limited (HTTP 429) and Retry-After "
                            f"{retry_after:.0f} s exceeds the deadline left "
                            f"({max(0.0, left()):.1f} s of {deadline:g} s)"
                        )
            elif response.status_code in RETRY_STATUSES:
                last, last_was_429 = (
                    f"HTTP {response.status_code} ({problem_detail(response)})",
                    False,
                )
                wait = backoff_delay(attempt, policy, rng)
            else:
                return response
        if attempt + 1 >= policy.max_attempts:
            break
        if waited + wait > policy.max_total_wait:
            wait = policy.max_total_wait - waited
            if wait <= 0:
                break
        if wait >= left():
            break  # the retry could not start before the deadline: give up with the last answer
        log.debug("retrying %s %s in %.2f s after %s", method, url, wait, last)
        sleep(wait)
        waited += wait
    cls = RateLimited if last_was_429 else ServiceUnavailable
    raise cls(
        f"{method} {url}: gave up after {attempt + 1} attempt(s) and {waited:.1f} s of waiting; "
        f"last answer: {last}"
    )


class _DeadlineHit(Exception):
    """Internal: the watchdog cut a body off at the deadline."""


def _clip(timeout: Timeout, left: float) -> Timeout:
    """``timeout`` with every part at most ``left`` seconds (and at least a millisecond)."""
    if math.isinf(left):
        return timeout
    cap = max(0.001, left)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (min(float(connect), cap), min(float(read), cap))
    return min(float(timeout), cap)


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket an answer's body is read from (urllib3 2 / http.client), if it can be found."""
    fp = getattr(getattr(response, "raw", None), "_fp", None)
    buffered = getattr(fp, "fp", None)
    raw = getattr(buffered, "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _Watchdog:
    """One daemon thread running cut-off actions at their deadlines, for every call.

    A :class:`threading.Timer` per call started and stopped a thread each time (measured: about
    0.6 ms of CPU per call on the loopback benchmark); this thread is started once, sleeps until
    the nearest deadline, and ends after :attr:`IDLE_S` seconds with nothing to watch (it is
    started again when needed, also in a forked child).
    """

    IDLE_S = 5.0

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._live: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, when: float, action: Callable[[], None]) -> int:
        """Run ``action`` at monotonic time ``when`` unless :meth:`cancel` comes first."""
        with self._cond:
            token = next(self._tokens)
            heapq.heappush(self._heap, (when, token, action))
            self._live.add(token)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="regionstats-http-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._live.discard(token)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][1] not in self._live:
                        heapq.heappop(self._heap)  # cancelled
                    if not self._heap:
                        if not self._cond.wait(self.IDLE_S) and not self._heap:
                            self._thread = None
                            return
                        continue
                    when, token, action = self._heap[0]
                    delay = when - time.monotonic()
                    if delay <= 0:
                        heapq.heappop(self._heap)
                        self._live.discard(token)
                        break
                    self._cond.wait(delay)
            action()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG._reset)


def _attempt(
    session: requests.Session,
    method: str,
    url: str,
    params: Any,
    json: Any,
    headers: Mapping[str, str] | None,
    timeout: Timeout,
    end: float | None,
) -> requests.Response:
    """One request, its whole body read before returning, cut off at ``end`` (monotonic)."""
    response = session.request(
        method, url, params=params, json=json, headers=headers, timeout=timeout, stream=True
    )
    if end is None:
        _ = response.content  # read it all here so a cut-off body is retried
        return response
    fired = threading.Event()
    guard = threading.Lock()
    read = False

    def cut() -> None:
        with guard:  # never after the body was read (its connection may serve another call)
            if read:
                return
            fired.set()
            sock = _socket_of(response)
            try:
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                else:  # pragma: no cover - other transports: closing is the best we can do
                    response.close()
            except OSError:
                pass

    token = _WATCHDOG.schedule(end, cut)
    try:
        _ = response.content
    except RETRY_EXCEPTIONS as err:
        response.close()
        if fired.is_set():
            raise _DeadlineHit(f"{type(err).__name__}: {err}") from None
        raise
    finally:
        _WATCHDOG.cancel(token)
        with guard:
            read = True
    return response
