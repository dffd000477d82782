"""``regionstats`` behaves like a well-made command-line tool.

* Ctrl-C (SIGINT) while a notebook runs: exit 130, one short line on stderr, no traceback, the
  previous report and manifest byte-identical, no staging folder, no run folder, no kernel left;
* an unwritable ``--out`` is refused before anything runs, in one line;
* every bad parameter is reported at once; ``--param`` help lists the valid values;
* the kernels' own log (``Kernel is running over TCP without encryption``) never reaches the
  terminal; ``--quiet`` prints nothing on stderr;
* the progress display names the notebook and the cell running.

The runs use the small fixture notebooks of ``tests/fixtures/report`` on the snapshot.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from regionstats import cli
from regionstats.pipeline import update
from regionstats.report import REPORT_NAME, CellProgress

pytestmark = pytest.mark.snapshot


@pytest.fixture(scope="module")
def previous(tmp_path_factory, snapshot_dir: Path, report_fixtures: Path) -> dict[str, Any]:
    """One finished run (the "previous report"), with its progress messages and cell events."""
    base = tmp_path_factory.mktemp("manners")
    out, data = base / "out", base / "data"
    messages: list[str] = []
    events: list[CellProgress] = []
    result = update(
        out,
        offline=True,
        notebooks=report_fixtures / "pipeline",
        snapshot=snapshot_dir,
        data_dir=data,
        progress=messages.append,
        on_cell=events.append,
    )
    return {"out": out, "data": data, "result": result, "messages": messages, "events": events}


def _command(out: Path, data: Path, snapshot: Path, notebooks: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "regionstats.cli",
        "update",
        "--offline",
        "--out",
        str(out),
        "--data",
        str(data),
        "--snapshot",
        str(snapshot),
        "--notebooks",
        str(notebooks),
        *extra,
    ]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".update.lock"
    }


def _kernels_of(pid: int) -> list[int]:
    """Processes started with ``JPY_PARENT_PID=<pid>`` (the kernels of that process)."""
    found = []
    marker = f"JPY_PARENT_PID={pid}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux) to find kernels")
def test_ctrl_c_exits_130_with_one_line_and_keeps_the_previous_report(
    previous, tmp_path, snapshot_dir, report_fixtures
) -> None:
    out = tmp_path / "out"
    shutil.copytree(previous["out"], out)
    before = _files(out)
    err_path = tmp_path / "stderr.txt"
    command = _command(out, previous["data"], snapshot_dir, report_fixtures / "slow")
    with open(err_path, "w", encoding="utf-8") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            text = err_path.read_text(encoding="utf-8")
            if "running 01_slow.ipynb" in text and _kernels_of(process.pid):
                break
            time.sleep(0.2)
        assert process.poll() is None, err_path.read_text(encoding="utf-8")
        assert _kernels_of(process.pid), "no kernel was started"
        time.sleep(1.5)  # the kernel is in the notebook's sleeping cell
        kernels = _kernels_of(process.pid)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = err_path.read_text(encoding="utf-8")
    assert code == 130, stderr
    after_start = stderr.split("running 01_slow.ipynb ...", 1)[1].strip().splitlines()
    assert len(after_start) == 1, stderr  # one line after the interrupt, nothing else
    assert "interrupted" in after_start[0] and len(after_start[0]) < 100
    assert "Traceback" not in stderr and "Error" not in stderr and "[IPKernelApp]" not in stderr
    assert _files(out) == before  # report, manifest, revisions, notebooks, runs: as they were
    assert not list(out.glob(".staging-*"))
    time.sleep(0.5)
    alive = [k for k in kernels if Path(f"/proc/{k}").exists() and _not_zombie(k)]
    assert alive == [], "the kernel outlived the interrupted run"


def _not_zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_unwritable_out_is_refused_before_anything_runs(
    tmp_path, snapshot_dir, report_fixtures
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    out, data = blocker / "reports", tmp_path / "data"
    command = _command(out, data, snapshot_dir, report_fixtures / "pipeline")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(out) in lines[0] and "is a file" in lines[0] and "Nothing was run" in lines[0]
    assert "running" not in done.stderr and done.stdout == ""
    assert not data.exists()  # no data built, no notebook executed


def test_unwritable_out_is_refused_by_report_too(tmp_path, report_fixtures, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = cli.main(
        ["report", "--out", str(blocker), "--notebooks", str(report_fixtures / "figures")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and "is a file" in err and "running" not in err


def test_every_bad_parameter_is_reported_at_once(tmp_path, report_fixtures, capsys) -> None:
    out = tmp_path / "out"
    code = cli.main(
        ["update", "--offline", "--out", str(out), "--notebooks", str(report_fixtures / "pipeline")]
        + ["--param", "scope=nonsense", "--param", "centrality_edition=2018"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "2 problems" in err and "Nothing was run" in err
    assert "scope must be one of" in err and "centrality_edition must be one of" in err
    assert not out.exists()


def test_a_malformed_parameter_is_reported_with_the_others(
    tmp_path, report_fixtures, capsys
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = cli.main(
        ["update", "--offline", "--out", str(blocker / "o")]
        + ["--notebooks", str(report_fixtures / "pipeline")]
        + ["--param", "colour", "--param", "scope=nonsense"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "3 problems" in err
    assert "'colour' is not of the form key=value" in err
    assert "is a file" in err
    assert "scope must be one of" in err and "'nonsense'" in err  # not hidden by the others


def test_param_help_lists_the_valid_values(capsys) -> None:
    from regionstats.indicators import scopes

    with pytest.raises(SystemExit) as stop:
        cli.main(["update", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "centrality_edition=2020|2024" in text and "municipality_vintage=2020|2024" in text
    for name in scopes.SCOPES:  # the scopes the indicators module defines
        assert name in text, name
    assert "start_year" in text and "end_year" in text


def test_quiet_run_prints_nothing_but_the_report_path(
    previous, tmp_path, snapshot_dir, report_fixtures
) -> None:
    """``--rerun`` makes the kernel start: its TCP warning would land on stderr if it leaked."""
    out = tmp_path / "out"
    shutil.copytree(previous["out"], out)
    command = _command(
        out, previous["data"], snapshot_dir, report_fixtures / "pipeline", "--quiet", "--rerun"
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == str(out.resolve() / REPORT_NAME)


def test_a_run_shows_no_kernel_log(previous) -> None:
    assert not any("without encryption" in m or "IPKernelApp" in m for m in previous["messages"])


def test_progress_events_name_the_notebook_and_each_code_cell(previous, report_fixtures) -> None:
    nb = nbformat.read(report_fixtures / "pipeline" / "01_data.ipynb", as_version=4)
    first_lines = [c.source.strip().splitlines()[0] for c in nb.cells if c.cell_type == "code"]
    started = [e for e in previous["events"] if not e.done]
    assert [e.notebook for e in started] == ["01_data.ipynb"] * len(first_lines)
    assert [e.cell for e in started] == list(range(1, len(first_lines) + 1))
    assert [e.source for e in started] == first_lines
    assert all(e.cells == len(first_lines) and (e.position, e.notebooks) == (1, 1) for e in started)
    assert previous["events"][-1].done  # the notebook's end closes its bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_on_a_terminal_names_notebook_and_cell() -> None:
    screen = _Terminal()
    display = cli.Display(stream=screen)
    display.cell(CellProgress("02_peripheral_vs_central.ipynb", 3, 5, 4, 9, "growth = rs.cagr(x)"))
    shown = screen.getvalue()
    assert "[3/5] 02_peripheral_vs_central.ipynb" in shown
    assert "cell 4: growth = rs.cagr(x)" in shown and "3/9" in shown
    display.say("a message")
    display.cell(CellProgress("02_peripheral_vs_central.ipynb", 3, 5, 0, 0, done=True))
    assert display.bars == {} and "a message" in screen.getvalue()


def test_display_keeps_a_bar_per_notebook_running_side_by_side() -> None:
    screen = _Terminal()
    display = cli.Display(stream=screen)
    display.cell(CellProgress("01_a.ipynb", 1, 3, 1, 4, "a = 1"))
    display.cell(CellProgress("02_b.ipynb", 2, 3, 1, 6, "b = 2"))
    display.cell(CellProgress("01_a.ipynb", 1, 3, 2, 4, "a = a + 1"))
    assert set(display.bars) == {"01_a.ipynb", "02_b.ipynb"}
    assert display.lines == {"01_a.ipynb": 0, "02_b.ipynb": 1}  # two lines, not one redrawn
    display.cell(CellProgress("01_a.ipynb", 1, 3, 0, 0, done=True))
    display.cell(CellProgress("03_c.ipynb", 3, 3, 1, 2, "c = 3"))
    assert display.lines == {"02_b.ipynb": 1, "03_c.ipynb": 0}  # the freed line is taken again
    shown = screen.getvalue()
    assert "cell 2: a = a + 1" in shown and "cell 1: b = 2" in shown and "cell 1: c = 3" in shown
    display.close()
    assert display.bars == {}


def test_display_quiet_or_in_a_log_shows_no_bar() -> None:
    log = io.StringIO()  # not a terminal: messages only
    display = cli.Display(stream=log)
    display.cell(CellProgress("01.ipynb", 1, 1, 1, 2, "x = 1"))
    display.say("[1/1] running 01.ipynb ...")
    assert log.getvalue() == "[1/1] running 01.ipynb ...\n"
    quiet = _Terminal()
    display = cli.Display(quiet=True, stream=quiet)
    display.cell(CellProgress("01.ipynb", 1, 1, 1, 2, "x = 1"))
    display.say("hello")
    assert quiet.getvalue() == ""
