"""Statistical comparisons (pure): regressions, convergence, shift-share, class estimates, NOU."""

from regionstats.analysis.classes import class_estimates, class_findings
from regionstats.analysis.convergence import beta_convergence, sigma_convergence
from regionstats.analysis.errors import InsufficientData
from regionstats.analysis.nou import nou_check
from regionstats.analysis.regression import growth_regression
from regionstats.analysis.shiftshare import shift_share
from regionstats.regions.accounts_counties import merge_trondelag

__all__ = [
    "InsufficientData",
    "beta_convergence",
    "class_estimates",
    "class_findings",
    "growth_regression",
    "merge_trondelag",
    "nou_check",
    "shift_share",
    "sigma_convergence",
]
