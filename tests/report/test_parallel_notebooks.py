"""Notebooks run side by side in kernels from a warm pool, and see what a fresh kernel shows.

Each notebook here is written for the test: what it prints is what its kernel saw (names in
its namespace, execution counts, working directory, environment), so the expectations come from
the notebook's own code, not from ``regionstats.report``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from regionstats import report


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


def _printed(run: report.NotebookRun) -> list[str]:
    return [
        o["text"].strip()
        for c in run.notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    ]


SEEN = (
    "import json, os, sys\n"
    "print(json.dumps({'names': sorted(k for k in globals() if not k.startswith('_')),"
    " 'hidden': '_regionstats_preload' in globals(), 'count': get_ipython().execution_count,"
    " 'cwd': os.getcwd(), 'env': os.environ.get('RS_TEST_MARK'),"
    " 'preloaded': 'regionstats' in sys.modules}))"
)


def _seen(run: report.NotebookRun) -> dict:
    return json.loads(_printed(run)[0])


def test_a_pooled_kernel_shows_the_notebook_a_fresh_namespace(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "01_seen.ipynb", SEEN)
    work = tmp_path / "work"
    work.mkdir()
    with report.KernelPool(env={"RS_TEST_MARK": "pooled"}, cwd=work) as pool:
        pooled = report.execute_notebook(path, kernel=pool.take())
    with report.KernelPool(env={"RS_TEST_MARK": "plain"}, cwd=work, preload=None) as pool:
        plain = report.execute_notebook(path, kernel=pool.take())
    warm, cold = _seen(pooled), _seen(plain)
    assert warm["names"] == cold["names"]  # the preload left no name behind
    assert not warm["hidden"] and not cold["hidden"]
    assert warm["count"] == cold["count"]  # the preload ran no counted cell
    counts = [[c.execution_count for c in r.notebook.cells] for r in (pooled, plain)]
    assert counts == [[1], [1]]  # the first cell is In[1], as in a fresh kernel
    assert Path(warm["cwd"]) == Path(cold["cwd"]) == work.resolve()
    assert (warm["env"], cold["env"]) == ("pooled", "plain")
    assert warm["preloaded"] and not cold["preloaded"]  # the pool did its work ahead of time


def test_notebooks_run_side_by_side_and_come_back_in_order(tmp_path: Path) -> None:
    """Two notebooks that can only finish together: each writes its mark, then waits for the
    other's (bounded). One after another, the first would time out."""
    wait = (
        "import pathlib, time\n"
        "here, there = pathlib.Path({mine!r}), pathlib.Path({theirs!r})\n"
        "here.write_text('x')\n"
        "deadline = time.monotonic() + 60\n"
        "while not there.exists():\n"
        "    assert time.monotonic() < deadline, 'the other notebook never ran alongside'\n"
        "    time.sleep(0.05)\n"
        "print('met', {mine!r})"
    )
    a, b = str(tmp_path / "a.mark"), str(tmp_path / "b.mark")
    first = _notebook(tmp_path / "01_a.ipynb", wait.format(mine=a, theirs=b))
    second = _notebook(tmp_path / "02_b.ipynb", wait.format(mine=b, theirs=a))
    third = _notebook(tmp_path / "03_c.ipynb", "print('third')")
    lines: list[str] = []
    runs = report.run_notebooks([first, second, third], jobs=2, progress=lines.append)
    assert [r.path.name for r in runs] == ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]
    assert _printed(runs[0]) == [f"met {a}"] and _printed(runs[1]) == [f"met {b}"]
    assert _printed(runs[2]) == ["third"]
    assert sum("done in" in line for line in lines) == 3
    assert not [p for p in report._LIVE_KERNELS if p.poll() is None]  # every kernel shut down


def test_a_failing_notebook_stops_the_run_and_leaves_no_kernel(tmp_path: Path) -> None:
    ok = _notebook(tmp_path / "01_ok.ipynb", "import time\ntime.sleep(1)\nprint('ok')")
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    later = [_notebook(tmp_path / f"0{k}_later.ipynb", "print('later')") for k in range(3, 6)]
    lines: list[str] = []
    with pytest.raises(report.ReportError, match=r"02_bad\.ipynb failed in cell #1.*broken"):
        report.run_notebooks([ok, bad, *later], jobs=2, progress=lines.append)
    started = [line for line in lines if "running" in line]
    assert len(started) < 5  # no notebook starts after the failure is known
    assert not [p for p in report._LIVE_KERNELS if p.poll() is None]


def test_jobs_come_from_the_argument_the_environment_or_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGIONSTATS_JOBS", "3")
    assert report.notebook_jobs(None, notebooks=5) == 3
    assert report.notebook_jobs(1, notebooks=5) == 1
    monkeypatch.setenv("REGIONSTATS_JOBS", "many")
    with pytest.raises(report.ReportError, match="REGIONSTATS_JOBS"):
        report.notebook_jobs(None, notebooks=5)
    monkeypatch.delenv("REGIONSTATS_JOBS")
    assert 1 <= report.notebook_jobs(None, notebooks=2) <= 2


def test_a_kernel_dead_before_the_first_cell_is_replaced_once(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "01_seen.ipynb", SEEN)
    with report.KernelPool(env={"RS_TEST_MARK": "again"}, cwd=tmp_path) as pool:
        dead = pool.take()
        report._kill(dead.processes)
        for process in dead.processes:
            process.wait(timeout=30)
        run = report.execute_notebook(path, kernel=dead)
    seen = _seen(run)
    assert seen["env"] == "again" and Path(seen["cwd"]) == tmp_path.resolve()  # same settings
    assert not [p for p in report._LIVE_KERNELS if p.poll() is None]


def test_no_second_kernel_while_the_kernels_are_being_stopped(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "01_seen.ipynb", SEEN)
    with report.KernelPool(cwd=tmp_path) as pool:
        dead = pool.take()
        report.kill_kernels()  # as Ctrl-C does
        for process in dead.processes:
            process.wait(timeout=30)
        try:
            with pytest.raises(report.ReportError, match="the kernel failed"):
                report.execute_notebook(path, kernel=dead)
        finally:
            report._STOPPING.clear()
    assert not [p for p in report._LIVE_KERNELS if p.poll() is None]
