"""Fixtures for the network clients: a loopback PxWebApi/KLASS server and clients bound to it.

Everything runs on 127.0.0.1; clients use :class:`loopback.LoopbackOnlySession`, which refuses
any other host, and short timeouts/backoffs so fault tests finish in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import LoopbackServer, ServerSettings
from loopback.clients import klass_client, pxweb_client

from regionstats.sources.klass import KlassClient
from regionstats.sources.pxwebapi import PxWebApi


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A started loopback server (generous limits; tests tighten ``settings``); stopped after."""
    server = LoopbackServer(settings=ServerSettings(max_cells=100_000, max_calls=1000))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_pxweb(loopback_server: LoopbackServer):
    """Factory of :class:`PxWebApi` clients on the loopback server (fast retries)."""

    def make(**kwargs: object) -> PxWebApi:
        return pxweb_client(loopback_server, **kwargs)

    return make


@pytest.fixture
def pxweb(make_pxweb) -> PxWebApi:
    """A :class:`PxWebApi` client on the loopback server."""
    return make_pxweb()


@pytest.fixture
def klass(loopback_server: LoopbackServer) -> KlassClient:
    """A :class:`KlassClient` on the loopback server."""
    return klass_client(loopback_server)
