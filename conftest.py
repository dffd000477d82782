"""Project-wide pytest set-up: tests never reach the network.

The notebooks run under nbval with or without the offline snapshot: without it they read the
package's embedded default dataset (``regionstats.sources.embedded``).
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Notebooks run under nbval in kernels that inherit this environment: keep them offline.
    os.environ.setdefault("REGIONSTATS_OFFLINE", "1")
