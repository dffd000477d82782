"""The public statistical functions document themselves: formula, citation, runnable example."""

from __future__ import annotations

import re

import pytest

import regionstats as rs

PUBLIC = ("beta_convergence", "sigma_convergence", "shift_share", "class_estimates", "nou_check")


@pytest.mark.parametrize("name", PUBLIC)
def test_public_method_has_formula_citation_and_example(name):
    doc = getattr(rs, name).__doc__ or ""
    module_doc = __import__(getattr(rs, name).__module__, fromlist=["x"]).__doc__ or ""
    assert "Parameters\n" in doc and "Returns\n" in doc, f"{name}: numpydoc sections"
    assert ".. math::" in doc + module_doc, f"{name}: formula"
    assert re.search(r"\b(19|20)\d\d\b", doc + module_doc), f"{name}: a dated citation"
    assert "Examples\n" in doc and ">>> " in doc, f"{name}: a runnable example (run as doctest)"
