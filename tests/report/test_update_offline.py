"""``regionstats update --offline`` end to end on the snapshot with the small fixture notebooks.

Three runs share one report folder (module fixture, ~10 s each): a first run with parameters, an
unchanged second run (no revisions, no network: a guard refuses any non-loopback connection of
this process, and the raw store stays empty) and a third with the snapshot's newer 11713 extract
laid over the data as a "new release". Expected revisions come from the raw CSV files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from report_helpers import NEW_CSV, NetworkGuard, raw_national_total

from regionstats import cli
from regionstats.pipeline import UpdateError, update
from regionstats.report import REPORT_NAME

pytestmark = pytest.mark.snapshot

PARAMS = {"start_year": 2012, "end_year": 2019, "scope": "business", "centrality_edition": 2024}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, snapshot_dir: Path, report_fixtures: Path) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("update")
    out, data = base / "out", base / "data"
    common = {
        "offline": True,
        "notebooks": report_fixtures / "pipeline",
        "snapshot": snapshot_dir,
        "data_dir": data,
    }
    found: dict[str, Any] = {"out": out, "data": data, "messages": []}
    with pytest.MonkeyPatch.context() as mp:
        guard = NetworkGuard()
        guard.install(mp)
        found["first"] = update(out, parameters=PARAMS, progress=found["messages"].append, **common)
        found["first_html"] = (out / REPORT_NAME).read_text(encoding="utf-8")
        found["second"] = update(out, parameters=PARAMS, **common)
        found["second_html"] = (out / REPORT_NAME).read_text(encoding="utf-8")
        found["guard"] = guard
    found["third"] = update(
        out, parameters=PARAMS, release_override=snapshot_dir / NEW_CSV, **common
    )
    found["third_html"] = (out / REPORT_NAME).read_text(encoding="utf-8")
    return found


def test_first_run_writes_report_manifest_and_data(runs) -> None:
    first, out, data = runs["first"], runs["out"], runs["data"]
    assert (data / "processed" / "regional_accounts.parquet").is_file()
    assert (data / "processed" / "regional_accounts.json").is_file()
    manifest = json.loads((out / "run-manifest.json").read_text())  # the third run's now
    assert manifest["run_id"] == runs["third"].run_id
    m = first.manifest
    assert m["parameters_given"] == PARAMS
    # every parameter as used: the fixture notebook's own default for the one not given
    assert m["parameters"] == {**PARAMS, "municipality_vintage": 2024}
    assert m["mode"] == "offline"
    assert set(m["versions"]) >= {"python", "pandas", "plotly", "statsmodels", "regionstats"}
    kinds = {i["kind"] for i in m["inputs"]}
    assert kinds == {"snapshot file"}
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert m["tables"]["11713"]["updated"].startswith("statbank release of 2021-12-13")
    assert m["started_at"] <= m["finished_at"]
    assert first.revisions["status"] == "first run"
    # the run's data were kept for the next run's revision report
    assert (out / "runs" / first.run_id / "regional_accounts.parquet").is_file()
    # the parameters reached the kernel: the fixture notebook prints them
    html = runs["first_html"]
    assert "years 2012-2019, scope business" in html
    # the manifest is in the footer as a table
    footer = html[html.index('<footer id="regionstats-footer"') :]
    assert "Run manifest" in footer and first.run_id in footer
    assert m["inputs"][0]["sha256"][:16] in footer
    assert "regionstats-revisions" in footer
    assert any("running 01_data.ipynb" in msg for msg in runs["messages"])


def test_second_unchanged_run_has_no_revisions_and_no_network(runs) -> None:
    second, data = runs["second"], runs["data"]
    rev = second.revisions
    assert rev["status"] == "compared" and rev["previous_run_id"] == runs["first"].run_id
    assert rev["has_revisions"] is False
    d = rev["datasets"]["regional_accounts"]
    assert d["revised"] == 0 and d["new_cells"] == 0 and d["removed_cells"] == 0
    changes = {t["table"]: t["change"] for t in rev["tables"]}
    assert changes["11713"] == "not advanced"
    assert second.manifest["refresh"] == {"mode": "offline", "metadata_calls": 0, "data_calls": 0}
    guard: NetworkGuard = runs["guard"]
    assert guard.refused == []
    assert all(guard.loopback(a) for a in guard.attempts)
    assert not (data / "raw").exists() or not any((data / "raw").rglob("meta.json"))
    assert "no revisions" in runs["second_html"]


def test_release_override_reports_national_2019_revision(runs, snapshot_dir: Path) -> None:
    third = runs["third"]
    old, new = raw_national_total(snapshot_dir, 2019)
    rev = json.loads((runs["out"] / "revision-report.json").read_text())
    assert rev["run_id"] == third.run_id and rev["has_revisions"] is True
    d = rev["datasets"]["regional_accounts"]
    top = d["top_revisions"][0]
    assert (top["region"], top["industry"], top["measure"], top["year"]) == (
        "0",
        "TOTAL",
        "value_added",
        2019,
    )
    assert top["value_old"] == old and top["value_new"] == new
    assert top["revision"] == new - old
    assert d["largest_abs_revision"]["revision"] == new - old
    assert d["new_periods"] == [2020, 2021, 2022, 2023]
    assert set(d["codes_appeared"]["region"]) >= {"30", "34", "38", "42", "46", "54"}
    changes = {t["table"]: t["change"] for t in rev["tables"]}
    assert changes["11713"] == "advanced"
    md = (runs["out"] / "revision-report.md").read_text()
    assert "region=0, industry=TOTAL, measure=value_added, year=2019" in md
    assert f"{new - old:,.1f}" in md
    assert f"{new - old:,.1f}" in runs["third_html"]
    assert {i["kind"] for i in third.manifest["inputs"]} == {"snapshot file", "release override"}


def test_runs_folder_and_no_staging_left(runs) -> None:
    out = runs["out"]
    kept = sorted(p.name for p in (out / "runs").iterdir())
    assert kept == sorted(runs[k].run_id for k in ("first", "second", "third"))
    assert not list(out.glob(".staging-*"))


def _snapshot_of(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".update")
    }


def test_failing_notebook_keeps_previous_report(
    runs, tmp_path, snapshot_dir, report_fixtures, capsys
) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs["out"], out)
    before = _snapshot_of(out)
    code = cli.main(
        [
            "update",
            "--offline",
            "--out",
            str(out),
            "--data",
            str(tmp_path / "data"),
            "--snapshot",
            str(snapshot_dir),
            "--notebooks",
            str(report_fixtures / "failing"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "02_fails.ipynb" in err and "cell #2" in err
    assert "deliberate failure in cell 2" in err
    assert "left unchanged" in err
    assert _snapshot_of(out) == before  # report, manifest, revisions, runs: all as they were
    assert not list(out.glob(".staging-*"))


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("scope=nonsense", "scope must be one of"),
        ("centrality_edition=2018", "only in the live KLASS API"),
        ("municipality_vintage=2019", "municipality_vintage must be one of"),
        ("start_year=twenty", "start_year must be a year"),
        ("colour=red", "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_refused_before_anything_runs(
    tmp_path, report_fixtures, param, message, capsys
) -> None:
    out = tmp_path / "out"
    code = cli.main(
        ["update", "--offline", "--out", str(out), "--data", str(tmp_path / "data")]
        + ["--notebooks", str(report_fixtures / "pipeline"), "--param", param]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Nothing was run" in err
    assert not out.exists() and not (tmp_path / "data").exists()


def test_start_after_end_refused(tmp_path, report_fixtures, capsys) -> None:
    code = cli.main(
        ["update", "--offline", "--out", str(tmp_path / "o"), "--notebooks"]
        + [str(report_fixtures / "pipeline"), "--param", "start_year=2019"]
        + ["--param", "end_year=2012"]
    )
    assert code == 2
    assert "start_year (2019) must be before end_year (2012)" in capsys.readouterr().err


def test_years_outside_the_data_refused_before_writing(
    tmp_path, snapshot_dir, report_fixtures, capsys
) -> None:
    data = tmp_path / "data"
    code = cli.main(
        ["update", "--offline", "--out", str(tmp_path / "o"), "--data", str(data)]
        + ["--snapshot", str(snapshot_dir), "--notebooks", str(report_fixtures / "pipeline")]
        + ["--param", "start_year=1990"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "start_year 1990 is outside the data" in err and "2008-2019" in err
    assert not (data / "processed").exists()
    assert not (tmp_path / "o" / REPORT_NAME).exists()


def test_killed_run_leaves_no_trace_and_next_run_starts_cleanly(
    tmp_path, snapshot_dir, report_fixtures
) -> None:
    out, data = tmp_path / "out", tmp_path / "data"
    args = [sys.executable, "-m", "regionstats.cli", "update", "--offline", "--out", str(out)]
    args += ["--data", str(data), "--snapshot", str(snapshot_dir)]
    slow = subprocess.Popen(
        [*args, "--notebooks", str(report_fixtures / "slow")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kernel is killed with it
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".staging-*")) and time.monotonic() < deadline:
            assert slow.poll() is None, "the slow run ended by itself"
            time.sleep(0.2)
        assert list(out.glob(".staging-*")), "the run never reached its staging step"
        time.sleep(1.0)
    finally:
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait(timeout=10)
    assert list(out.glob(".staging-*"))  # the killed run left its staging folder
    assert not (out / REPORT_NAME).exists()
    result = update(
        out,
        offline=True,
        notebooks=report_fixtures / "pipeline",
        snapshot=snapshot_dir,
        data_dir=data,
    )
    assert result.report.is_file()
    assert not list(out.glob(".staging-*"))
    assert result.revisions["status"] == "first run"  # the killed run left no manifest


def test_concurrent_update_is_refused(tmp_path, report_fixtures) -> None:
    from filelock import FileLock

    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".update.lock")), pytest.raises(UpdateError, match="another"):
        update(
            out,
            offline=True,
            notebooks=report_fixtures / "pipeline",
            data_dir=tmp_path / "d",
            lock_timeout=0.2,
        )
    assert not (tmp_path / "d").exists()
