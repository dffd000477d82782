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
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock

__all__ = ["RateLimiter", "default_limiter_path"]


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
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be >= 1, got {max_calls}")
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.max_calls = int(max_calls)
        self.window_s = float(window_s)
        self.margin_s = max(0.1, 0.02 * window_s) if margin_s is None else float(margin_s)
        self.path = Path(path) if path is not None else default_limiter_path(host)
        self.lock_timeout = lock_timeout
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RateLimiter({self.max_calls} calls / {self.window_s:g} s, path={str(self.path)!r})"

    @property
    def _lock(self) -> FileLock:
        return FileLock(str(self.path) + ".lock", timeout=self.lock_timeout)

    def _read(self, now: float) -> list[float]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            calls = [float(t) for t in doc.get("calls", [])]
        except (OSError, ValueError, TypeError, AttributeError):
            return []
        span = self.window_s + self.margin_s
        # drop calls out of the window, and any from the future (a clock set back)
        return sorted(t for t in calls if now - span < t <= now + span)

    def _write(self, calls: list[float]) -> None:
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"window_s": self.window_s, "calls": calls}), encoding="utf-8")
        os.replace(tmp, self.path)

    def acquire(self, timeout: float | None = None) -> float:
        """Block until a call may be made, record it, and return the seconds slept.

        Raises :class:`TimeoutError` if ``timeout`` seconds pass without a free slot.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                calls = self._read(now)
                if len(calls) < self.max_calls:
                    calls.append(now)
                    self._write(calls)
                    return waited
                oldest = calls[-self.max_calls]
                wait = max(oldest + self.window_s + self.margin_s - now, 0.001)
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
        with self._lock:
            now = self._clock()
            span = self.window_s + self.margin_s
            return sum(1 for t in self._read(now) if t > now - span)
