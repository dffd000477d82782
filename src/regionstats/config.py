"""Where regionstats reads and writes: every path in one place, resolved when asked, not at import.

Environment variables (all optional):

* ``REGIONSTATS_SNAPSHOT``: folder of the offline snapshot (default: ``../shared/data/snapshot``
  relative to the project root or the current directory);
* ``REGIONSTATS_DATA``: folder holding ``raw/`` and ``processed/`` (default: ``./data``);
* ``REGIONSTATS_OFFLINE``: ``1`` never touches the network;
* ``REGIONSTATS_PXWEB_URL``: PxWebApi 2.0 root (default :data:`DEFAULT_PXWEB_URL`, SSB);
* ``REGIONSTATS_KLASS_URL``: KLASS v1 root (default :data:`DEFAULT_KLASS_URL`, SSB).

The API roots are read when a client is made (``PxWebApi()``, ``KlassClient()``), never at import,
so a test or a mirror can point the clients elsewhere by setting the variable first.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: SSB's PxWebApi 2.0 root, used when ``REGIONSTATS_PXWEB_URL`` is not set.
DEFAULT_PXWEB_URL = "https://data.ssb.no/api/pxwebapi/v2"
#: SSB's KLASS v1 root, used when ``REGIONSTATS_KLASS_URL`` is not set.
DEFAULT_KLASS_URL = "https://data.ssb.no/api/klass/v1"


def snapshot_candidates() -> list[Path]:
    """Folders searched for the offline snapshot, in order."""
    env = os.environ.get("REGIONSTATS_SNAPSHOT")
    if env:
        return [Path(env).expanduser()]
    rel = Path("..") / "shared" / "data" / "snapshot"
    return [Path.cwd() / rel, Path.cwd().parent / rel, PROJECT_ROOT / rel]


def data_dir() -> Path:
    """The project's data folder (``raw/`` and ``processed/`` below it)."""
    env = os.environ.get("REGIONSTATS_DATA")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / "data" if (Path.cwd() / "data").is_dir() else PROJECT_ROOT / "data"


def raw_dir() -> Path:
    return data_dir() / "raw"


def processed_dir() -> Path:
    return data_dir() / "processed"


def offline() -> bool:
    """True when ``REGIONSTATS_OFFLINE`` asks never to touch the network."""
    return os.environ.get("REGIONSTATS_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _url(variable: str, default: str) -> str:
    value = os.environ.get(variable, "").strip()
    return (value or default).rstrip("/")


def pxweb_url() -> str:
    """The PxWebApi 2.0 root: ``$REGIONSTATS_PXWEB_URL`` or SSB's (trailing ``/`` stripped).

    >>> import os
    >>> "REGIONSTATS_PXWEB_URL" in os.environ or pxweb_url() == DEFAULT_PXWEB_URL
    True
    """
    return _url("REGIONSTATS_PXWEB_URL", DEFAULT_PXWEB_URL)


def klass_url() -> str:
    """The KLASS v1 root: ``$REGIONSTATS_KLASS_URL`` or SSB's (trailing ``/`` stripped)."""
    return _url("REGIONSTATS_KLASS_URL", DEFAULT_KLASS_URL)
