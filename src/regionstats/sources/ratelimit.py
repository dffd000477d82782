"""A rate limiter shared by every process of the user on this machine.

SSB limits PxWebApi calls **per IP address** (``/config``: 30 calls per 60 s). Two notebooks, a
test run and a CLI refresh on the same machine share that budget, so the limiter cannot live in
one process's memory. :class:`RateLimiter` keeps a *sliding-window log* of call timestamps in a
small JSON file guarded by a :class:`filelock.FileLock`:

* :meth:`RateLimiter.acquire` takes the lock, drops timestamps older than the window, and if
  fewer than ``max_calls`` remain appends "now" and returns; otherwise it releases the lock,
  sleeps until the oldest call leaves the window, and tries again.
* A call is thus admitted at time :math:`t` only if fewer than :math:`N` calls were admitted in
  :math:`(t - W - m, t]`, where :math:`W` is the window and :math:`m` a small safety margin
  (default :math:`\\max(0.1, 0.02 W)` s) absorbing the delay between taking a slot and the
  request reaching the server.

The file lives in the user cache dir (``$XDG_CACHE_HOME`` or ``~/.cache``, then
``regionstats/ratelimit-<host>.json``), one per API host; tests pass their own ``path``. Nothing is
created until the first :meth:`~RateLimiter.acquire`. An unreadable file (e.g. left half-written
by a killed process) counts as empty.

**Limits learned from the server.** The file can also carry the host's limits as a server
announced them (:meth:`RateLimiter.record_limits`, e.g. from PxWebApi's ``/config``). A limiter made
with ``shared_limits=True`` obeys those limits whenever the file has them and its own
(``max_calls``, ``window_s``) only until then. That is how ``PxWebApi(limiter="auto")`` takes a slot
*before* its very first request: it starts from :data:`BOOTSTRAP_LIMITS` (one call per two
seconds, within any published PxWeb limit), sends ``/config`` under that slot, and records what
``/config`` says for every process; a process that finds the limits already in the file never
uses the bootstrap ones. While the file has no limits a waiting limiter re-reads it every
:data:`POLL_S` seconds, so processes started together go on as soon as the first one learned.

**Threads.** Threads of one process (e.g. :class:`~regionstats.sources.pxwebapi.PxWebApi`'s
workers) take a process-wide :class:`threading.Lock` per log file before the file lock: the file
lock excludes them too (each acquisition opens its own descriptor, and ``flock`` locks
conflict between descriptors), but a thread finding it held polls every 50 ms, while one
waiting on the thread lock goes on the moment it is free.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock

__all__ = ["BOOTSTRAP_LIMITS", "POLL_S", "RateLimiter", "default_limiter_path"]

#: ``(max_calls, window_s)`` a ``shared_limits`` limiter starts from before the server's own
#: limits are known: one call per two seconds (SSB allows 30 per 60 s, SCB 30 per 10 s).
BOOTSTRAP_LIMITS: tuple[int, float] = (1, 2.0)

#: Longest sleep of a limiter waiting while the shared file has no learned limits yet.
POLL_S = 0.05

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    """The process-wide lock of one log file (every limiter on it in this process shares it)."""
    key = os.path.abspath(path)
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(key)
        if lock is None:
            lock = _THREAD_LOCKS[key] = threading.Lock()
        return lock


def default_limiter_path(host: str) -> Path:
    """The shared log file for API host ``host`` (a host name or a URL).

    >>> default_limiter_path("https://data.ssb.no/api/pxwebapi/v2").name
    'ratelimit-data.ssb.no.json'
    """
    name = urlsplit(host).netloc or host
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "default"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "regionstats" / f"ratelimit-{safe}.json"


class RateLimiter:
    """At most ``max_calls`` calls per ``window_s`` seconds, across processes.

    Parameters
    ----------
    max_calls
        Calls allowed in any window (SSB: ``maxCallsPerTimeWindow`` from ``/config``).
    window_s
        Window length in seconds (SSB: ``timeWindow``).
    path
        The shared log file; default :func:`default_limiter_path` of ``host``.
    host
        API host used for the default path (ignored when ``path`` is given).
    margin_s
        Extra seconds added to the window; default ``max(0.1, 0.02 * window_s)``.
    lock_timeout
        Seconds to wait for the file lock before raising :class:`filelock.Timeout`.
    shared_limits
        Obey the limits recorded in the file (:meth:`record_limits`) when it has them;
        ``max_calls`` and ``window_s`` apply only until then.
    clock, sleep
        Injected for tests (wall-clock seconds, shared by all processes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "rl.json"
    >>> limiter = RateLimiter(2, 60, path=tmp)
    >>> limiter.acquire() == 0.0 and limiter.acquire() == 0.0
    True
    >>> limiter.calls_in_window()
    2
    """

    def __init__(
        self,
        max_calls: int,
        window_s: float,
        path: str | os.PathLike[str] | None = None,
        *,
        host: str = "default",
        margin_s: float | None = None,
        lock_timeout: float = 60.0,
        shared_limits: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be >= 1, got {max_calls}")
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.max_calls = int(max_calls)
        self.window_s = float(window_s)
        self._margin = None if margin_s is None else float(margin_s)
        self.path = Path(path) if path is not None else default_limiter_path(host)
        self.lock_timeout = lock_timeout
        self.shared_limits = bool(shared_limits)
        self._clock = clock
        self._sleep = sleep

    @property
    def margin_s(self) -> float:
        """Seconds added to the window (``max(0.1, 0.02 * window_s)`` unless given)."""
        return max(0.1, 0.02 * self.window_s) if self._margin is None else self._margin

    def __repr__(self) -> str:
        return f"RateLimiter({self.max_calls} calls / {self.window_s:g} s, path={str(self.path)!r})"

    @property
    def _lock(self) -> FileLock:
        return FileLock(str(self.path) + ".lock", timeout=self.lock_timeout)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's thread lock of the file, then the file lock (other processes)."""
        with _thread_lock(self.path), self._lock:
            yield

    def _load(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _limits_in(doc: dict[str, Any]) -> tuple[int, float] | None:
        limits = doc.get("limits")
        if not isinstance(limits, dict):
            return None
        try:
            calls, window = int(limits["max_calls"]), float(limits["window_s"])
        except (TypeError, KeyError, ValueError):
            return None
        return (calls, window) if calls >= 1 and window > 0 else None

    def _adopt(self, doc: dict[str, Any]) -> bool:
        """Take the file's learned limits (``shared_limits`` only); whether it had any."""
        if not self.shared_limits:
            return True
        found = self._limits_in(doc)
        if found is not None:
            self.max_calls, self.window_s = found
        return found is not None

    def _calls(self, doc: dict[str, Any], now: float) -> list[float]:
        try:
            calls = [float(t) for t in doc.get("calls", [])]
        except (TypeError, ValueError):
            return []
        span = self.window_s + self.margin_s
        # drop calls out of the window, and any from the future (a clock set back)
        return sorted(t for t in calls if now - span < t <= now + span)

    def _read(self, now: float) -> list[float]:
        return self._calls(self._load(), now)

    def _write(self, calls: list[float], limits: Any = None) -> None:
        doc: dict[str, Any] = {"window_s": self.window_s, "calls": calls}
        if limits is not None:
            doc["limits"] = limits
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)

    def record_limits(self, max_calls: int, window_s: float) -> None:
        """Record the host's limits in the shared file (and obey them here).

        Every limiter on the same file made with ``shared_limits=True`` uses them from its next
        :meth:`acquire` on.
        """
        if max_calls < 1 or window_s <= 0:
            raise ValueError(f"bad limits: {max_calls} calls per {window_s} s")
        self.max_calls, self.window_s = int(max_calls), float(window_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            doc = self._load()
            calls = self._calls(doc, self._clock())
            self._write(calls, {"max_calls": self.max_calls, "window_s": self.window_s})

    def learned_limits(self) -> tuple[int, float] | None:
        """``(max_calls, window_s)`` recorded in the shared file, or None."""
        return self._limits_in(self._load())

    def acquire(self, timeout: float | None = None) -> float:
        """Block until a call may be made, record it, and return the seconds slept.

        Raises :class:`TimeoutError` if ``timeout`` seconds pass without a free slot.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        waited = 0.0
        while True:
            with self._locked():
                now = self._clock()
                doc = self._load()
                learned = self._adopt(doc)
                calls = self._calls(doc, now)
                if len(calls) < self.max_calls:
                    calls.append(now)
                    self._write(calls, doc.get("limits"))
                    return waited
                oldest = calls[-self.max_calls]
                wait = max(oldest + self.window_s + self.margin_s - now, 0.001)
            if not learned:  # another process may be learning the limits right now
                wait = min(wait, POLL_S)
            if timeout is not None and waited + wait > timeout:
                raise TimeoutError(
                    f"rate limiter {self.path}: no free slot within {timeout:g} s "
                    f"({self.max_calls} calls per {self.window_s:g} s)"
                )
            self._sleep(wait)
            waited += wait

    def calls_in_window(self) -> int:
        """Calls recorded in the current window (by any process)."""
        if not self.path.exists():
            return 0
        with self._locked():
            now = self._clock()
            doc = self._load()
            self._adopt(doc)
            span = self.window_s + self.margin_s
            return sum(1 for t in self._calls(doc, now) if t > now - span)
