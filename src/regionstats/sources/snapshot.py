"""Locating the offline snapshot of real SSB/KLASS/Kartverket data (read-only)."""

from __future__ import annotations

from pathlib import Path

from regionstats import config


class SnapshotNotFound(FileNotFoundError):
    """No offline snapshot where regionstats looked."""


def snapshot_dir(path: str | Path | None = None) -> Path:
    """The snapshot folder: ``path``, ``$REGIONSTATS_SNAPSHOT`` or ``../shared/data/snapshot``.

    Raises :class:`SnapshotNotFound` naming every folder tried.
    """
    candidates = [Path(path)] if path is not None else config.snapshot_candidates()
    for candidate in candidates:
        if (candidate / "PROVENANCE.md").is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise SnapshotNotFound(
        f"no offline snapshot found (looked for PROVENANCE.md in: {tried}). "
        "Set REGIONSTATS_SNAPSHOT to the snapshot folder, or run online."
    )


def snapshot_file(relative: str, path: str | Path | None = None) -> Path:
    """A file inside the snapshot, with an error naming it when it is missing."""
    full = snapshot_dir(path) / relative
    if not full.is_file():
        raise SnapshotNotFound(f"snapshot file {full} is missing (expected {relative!r})")
    return full


def find_snapshot(path: str | Path | None = None) -> Path | None:
    """The snapshot folder, or None when there is none where regionstats looks by default.

    An explicit ``path`` that holds no snapshot raises :class:`SnapshotNotFound`: it was asked
    for. Without one, ``$REGIONSTATS_SNAPSHOT`` and ``../shared/data/snapshot`` are tried, and
    their absence is not an error (the embedded default serves instead).
    """
    try:
        return snapshot_dir(path)
    except SnapshotNotFound:
        if path is not None:
            raise
        return None
