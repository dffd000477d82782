"""regionstats: value creation and productivity by county and by centrality class (SSB).

See :mod:`regionstats.model` for the tidy data model every source yields.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regionstats")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
