"""Where regionstats reads and writes: every path in one place, resolved when asked, not at import.

Environment variables (all optional):

* ``REGIONSTATS_SNAPSHOT``: folder of the offline snapshot (default: ``../shared/data/snapshot``
  relative to the project root or the current directory);
* ``REGIONSTATS_DATA``: folder holding ``raw/`` and ``processed/`` (default: ``./data``);
* ``REGIONSTATS_OFFLINE``: ``1`` never touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
