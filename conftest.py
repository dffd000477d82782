"""Project-wide pytest set-up: tests never reach the network, notebooks need the snapshot."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Notebooks run under nbval in kernels that inherit this environment: keep them offline.
    os.environ.setdefault("REGIONSTATS_OFFLINE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from regionstats.sources.snapshot import SnapshotNotFound, snapshot_dir

    try:
        snapshot_dir()
        return
    except SnapshotNotFound as exc:
        reason = f"notebooks need the offline snapshot: {exc}"
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.skip(reason=reason))
