"""Shared test fixtures: where the offline snapshot is, and where hand-made fixtures are."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionstats import config

FIXTURES = Path(__file__).parent / "fixtures"


def _find_snapshot() -> Path | None:
    for candidate in config.snapshot_candidates():
        if (candidate / "PROVENANCE.md").is_file():
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    """The real offline snapshot (``../shared/data/snapshot`` or ``$REGIONSTATS_SNAPSHOT``).

    Tests using it skip, with the reason, when it is absent: it is never copied into this repo.
    """
    found = _find_snapshot()
    if found is None:
        tried = ", ".join(str(p) for p in config.snapshot_candidates())
        pytest.skip(f"offline snapshot not found (tried {tried}); set REGIONSTATS_SNAPSHOT")
    return found


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Small hand-made fixtures in the real formats (committed)."""
    return FIXTURES


@pytest.fixture(scope="session")
def code_history():
    """The municipality code history from the offline data: the snapshot's KLASS lists when the
    snapshot is here, else the package's embedded default (derived from the same lists)."""
    import regionstats as rs

    source = "snapshot" if _find_snapshot() is not None else "embedded"
    return rs.municipality_history(source, offline=True)
