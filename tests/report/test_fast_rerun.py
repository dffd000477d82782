"""An unchanged ``regionstats update`` reuses the previous run's executed notebooks and report.

The behaviour, not the time (the time is a benchmark figure: ``python -m benchmarks.run rerun``):
the second run says it reused, its report body is the first's byte for byte (the footer names
the new run), the executed notebooks are not rewritten, and the manifest names the reuse with the
checksums that prove it. A changed parameter, notebook, report or ``--rerun`` runs the notebooks
again. The fixture notebook of ``tests/fixtures/report/pipeline`` runs on the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from regionstats import cli
from regionstats.pipeline import update
from regionstats.report import REPORT_NAME

pytestmark = pytest.mark.snapshot

FOOTER = '<footer id="regionstats-footer"'


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _body(html: bytes) -> bytes:
    return html[: html.rindex(FOOTER.encode())]


@pytest.fixture(scope="module")
def reruns(tmp_path_factory, snapshot_dir: Path, report_fixtures: Path) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rerun")
    notebooks = base / "notebooks"
    shutil.copytree(report_fixtures / "pipeline", notebooks)
    common = {
        "offline": True,
        "notebooks": notebooks,
        "snapshot": snapshot_dir,
        "data_dir": base / "data",
    }
    out = base / "out"
    found: dict[str, Any] = {"out": out, "common": common, "notebooks": notebooks}
    found["first"] = update(out, **common)
    found["first_html"] = (out / REPORT_NAME).read_bytes()
    executed = out / "notebooks" / "01_data.ipynb"
    found["first_notebook"] = (executed.read_bytes(), executed.stat().st_mtime_ns)
    messages: list[str] = []
    found["second"] = update(out, progress=messages.append, **common)
    found["second_messages"] = messages
    found["second_html"] = (out / REPORT_NAME).read_bytes()
    found["second_notebook"] = (executed.read_bytes(), executed.stat().st_mtime_ns)
    found["second_manifest"] = json.loads((out / "run-manifest.json").read_text())
    return found


def test_second_unchanged_run_says_it_reused(reruns) -> None:
    first, second = reruns["first"], reruns["second"]
    assert first.reused is None
    assert second.reused == first.run_id
    said = " ".join(reruns["second_messages"])
    assert f"reusing the executed notebooks and the report of run {first.run_id}" in said
    assert "running 01_data.ipynb" not in said  # no notebook was executed


def test_the_report_body_is_identical_and_the_footer_names_the_new_run(reruns) -> None:
    first, second = reruns["first_html"], reruns["second_html"]
    assert _body(second) == _body(first)
    footer = second[second.rindex(FOOTER.encode()) :].decode("utf-8")
    assert reruns["second"].run_id in footer
    assert f"nothing changed since run {reruns['first'].run_id}" in footer
    assert "no revisions" in footer


def test_the_executed_notebooks_are_not_rewritten(reruns) -> None:
    assert reruns["second_notebook"] == reruns["first_notebook"]  # same bytes, same mtime


def test_the_manifest_names_the_reuse_with_the_checksums_that_prove_it(reruns) -> None:
    out, m = reruns["out"], reruns["second_manifest"]
    first = reruns["first"].manifest
    assert m["reused"]["run_id"] == reruns["first"].run_id
    assert m["fingerprint"] == first["fingerprint"]
    executed = (out / "notebooks" / "01_data.ipynb").read_bytes()
    assert m["reused"]["notebooks"] == {"01_data.ipynb": _sha(executed)}
    assert [n["sha256"] for n in m["notebooks"]] == [_sha(executed)]
    html = (out / REPORT_NAME).read_bytes()
    assert m["reused"]["report_body_sha256"] == _sha(_body(html)) == m["report"]["body_sha256"]
    assert m["report"]["sha256"] == _sha(html)
    assert m["revisions"]["has_revisions"] is False
    # the inputs and the processed data have the checksums of the first run
    sha = m["processed"]["regional_accounts"]["sha256"]
    assert sha == first["processed"]["regional_accounts"]["sha256"]
    assert [i["sha256"] for i in m["inputs"]] == [i["sha256"] for i in first["inputs"]]


def test_the_command_says_so(reruns, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    shutil.copytree(reruns["out"], out)
    common = reruns["common"]
    args = ["update", "--offline", "--out", str(out), "--data", str(common["data_dir"])]
    args += ["--snapshot", str(common["snapshot"]), "--notebooks", str(common["notebooks"])]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "no revisions; reused the notebooks and report of run" in err
    assert "running 01_data.ipynb" not in err
    assert cli.main([*args, "--rerun"]) == 0  # --rerun executes them all the same
    err = capsys.readouterr().err
    assert "running 01_data.ipynb" in err and "reused" not in err


def test_a_changed_parameter_runs_the_notebooks(reruns, tmp_path) -> None:
    out = tmp_path / "out"
    shutil.copytree(reruns["out"], out)
    messages: list[str] = []
    result = update(
        out, parameters={"start_year": 2013}, progress=messages.append, **reruns["common"]
    )
    assert result.reused is None
    assert any("running 01_data.ipynb" in m for m in messages)
    assert result.manifest["fingerprint"] != reruns["second_manifest"]["fingerprint"]


def test_a_changed_notebook_runs_again(reruns, tmp_path) -> None:
    out, notebooks = tmp_path / "out", tmp_path / "notebooks"
    shutil.copytree(reruns["out"], out)
    shutil.copytree(reruns["notebooks"], notebooks)
    path = notebooks / "01_data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\nA sentence added by the test."
    nbformat.write(nb, path)
    result = update(out, **{**reruns["common"], "notebooks": notebooks})
    assert result.reused is None
    assert "A sentence added by the test." in (out / REPORT_NAME).read_text(encoding="utf-8")


def test_a_report_that_was_edited_is_not_reused(reruns, tmp_path) -> None:
    out = tmp_path / "out"
    shutil.copytree(reruns["out"], out)
    report = out / REPORT_NAME
    report.write_bytes(report.read_bytes().replace(b"<body", b"<!-- edited --><body", 1))
    messages: list[str] = []
    result = update(out, progress=messages.append, **reruns["common"])
    assert result.reused is None
    assert any("is not the one the previous run wrote" in m for m in messages), messages
    assert b"<!-- edited -->" not in report.read_bytes()
