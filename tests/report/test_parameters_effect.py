"""Run parameters reach the notebooks (papermill) and change their numbers.

Runs the real notebook 02 on the offline data (snapshot, else the embedded default) with papermill,
as a user would with ``papermill notebooks/02_... out.ipynb -p scope all``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import regionstats as rs
from regionstats.report import execute_notebook, find_notebooks

NOTEBOOK = "02_peripheral_vs_central.ipynb"


@pytest.fixture(scope="module")
def inputs_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rs.InputFallbackWarning)
        rs.save_inputs(rs.load_inputs(offline=True), folder)
    return folder


def _run(folder: Path, **parameters):
    path = next(p for p in find_notebooks() if p.name == NOTEBOOK)
    run = execute_notebook(
        path,
        parameters={"inputs_from": str(folder), **parameters},
        env={"PLOTLY_RENDERER": "plotly_mimetype"},
    )
    return run.notebook


def _text(output) -> str:
    data = output.get("data", {})
    return "".join(data.get(k, "") for k in ("text/html", "text/markdown", "text/plain")) + (
        output.get("text", "")
    )


def _slopes_text(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "code" and "slopes = regressions" in cell.source:
            return "".join(_text(o) for o in cell.outputs)
    raise AssertionError("no slopes cell in the notebook")


def test_scope_changes_the_nou_numbers(inputs_folder: Path) -> None:
    default = _run(inputs_folder)
    everything = _run(inputs_folder, scope="all")
    a, b = _slopes_text(default), _slopes_text(everything)
    assert "business_excl_finance" in a and "business_excl_finance" not in b
    assert "all" in b
    assert a != b


def test_another_window_runs_and_is_used(inputs_folder: Path) -> None:
    nb = _run(inputs_folder, start_year=2010, end_year=2015)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "start_year = 2010" in injected[0].source
    text = "".join(_text(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "2010" in text and "2015" in text
