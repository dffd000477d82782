"""regionstats clients on a loopback server: loopback-only session, short timeouts, fast
retries, and ``offline=False`` (the test session sets ``REGIONSTATS_OFFLINE=1`` for notebooks, and
these clients may talk to 127.0.0.1 only)."""

from __future__ import annotations

from typing import Any

from regionstats.sources.klass import KlassClient
from regionstats.sources.pxwebapi import PxWebApi

from .server import LoopbackOnlySession, LoopbackServer

_DEFAULTS: dict[str, Any] = {"timeout": (2.0, 5.0), "backoff_base": 0.02, "max_wait": 10.0}


def pxweb_client(server: LoopbackServer, **options: Any) -> PxWebApi:
    """A :class:`PxWebApi` on ``server``; ``options`` override the defaults."""
    kwargs = {**_DEFAULTS, "session": LoopbackOnlySession(), "offline": False, **options}
    return PxWebApi(server.pxweb_url, **kwargs)


def klass_client(server: LoopbackServer, **options: Any) -> KlassClient:
    """A :class:`KlassClient` on ``server``; ``options`` override the defaults."""
    kwargs = {**_DEFAULTS, "session": LoopbackOnlySession(), "offline": False, **options}
    return KlassClient(server.klass_url, **kwargs)


def go_online_against(mp: Any, *, pxweb_url: str, klass_url: str, nowhere: Any) -> None:
    """Set up, on a ``pytest.MonkeyPatch``, the environment of a user online against these
    (loopback) API base URLs with no snapshot: ``nowhere`` is a folder that holds none."""
    mp.setenv("REGIONSTATS_PXWEB_URL", pxweb_url)
    mp.setenv("REGIONSTATS_KLASS_URL", klass_url)
    mp.setenv("REGIONSTATS_SNAPSHOT", str(nowhere))
    mp.delenv("REGIONSTATS_OFFLINE", raising=False)
