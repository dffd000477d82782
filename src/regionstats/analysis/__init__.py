"""Statistical comparisons (pure): growth regressions, convergence, shift-share, NOU check."""

from regionstats.analysis.compare import (
    beta_convergence,
    class_growth_difference,
    growth_regression,
    shift_share,
    sigma_convergence,
)
from regionstats.analysis.nou import merge_trondelag, nou_check

__all__ = [
    "beta_convergence",
    "class_growth_difference",
    "growth_regression",
    "merge_trondelag",
    "nou_check",
    "shift_share",
    "sigma_convergence",
]
