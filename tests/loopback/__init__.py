"""A loopback PxWebApi 2.0 + KLASS server for tests and benchmarks (127.0.0.1 only).

:class:`~loopback.server.LoopbackServer` serves small hand-made tables (:mod:`loopback.tables`)
and hand-made KLASS fixtures (``tests/fixtures/loopback/klass/``), counts calls per time window
like SSB does, and injects faults on demand. Nothing here reaches any other host.
"""

from __future__ import annotations

from .server import Fault, LoopbackOnlySession, LoopbackServer, RecordedRequest, ServerSettings
from .tables import Codelist, Cube, Dimension, default_codelists, default_tables

__all__ = [
    "Codelist",
    "Cube",
    "Dimension",
    "Fault",
    "LoopbackOnlySession",
    "LoopbackServer",
    "RecordedRequest",
    "ServerSettings",
    "default_codelists",
    "default_tables",
]
