"""Benchmark: an unchanged ``regionstats update --offline`` rerun, against the full run before it.

Runs the command as a user does (a subprocess) on the project's ``notebooks/`` into a temporary
report and data folder: once in full (the baseline, measured in this same process), then again
with nothing changed, when it reuses the first run's executed notebooks and report. A third
figure is the bare start-up of the command (``regionstats --version``), the floor of any run.

Prints:

* ``update_full_run_seconds`` (the baseline) and ``update_unchanged_rerun_seconds``;
* ``update_unchanged_rerun_ratio``: rerun / full run (machine-independent);
* ``update_unchanged_rerun_reused``: whether the rerun said it reused (it must);
* ``command_startup_seconds``; ``update_unchanged_rerun_target_seconds: 5`` (2-core machine).

A figure to watch, not a test. Needs the offline snapshot (``REGIONSTATS_SNAPSHOT`` or
``../shared/data/snapshot``). No network.

Run: ``python benchmarks/bench_rerun.py`` or ``python -m benchmarks.run rerun``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.targets import target
except ImportError:  # run as a script from benchmarks/
    from targets import target  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stderr


def main() -> None:
    notebooks = ROOT / "notebooks"
    with tempfile.TemporaryDirectory(prefix="regionstats-bench-rerun-") as tmp:
        out, data = Path(tmp) / "out", Path(tmp) / "data"
        command = [sys.executable, "-m", "regionstats.cli", "update", "--offline"]
        command += ["--out", str(out), "--data", str(data), "--notebooks", str(notebooks)]
        full, _ = _timed(command)
        rerun, said = _timed(command)
        startup, _ = _timed([sys.executable, "-m", "regionstats.cli", "--version"])
    print(f"update_full_run_seconds: {full:.1f}")
    print(f"update_unchanged_rerun_seconds: {rerun:.1f}")
    print(f"update_unchanged_rerun_ratio: {rerun / full:.2f}")
    print(f"update_unchanged_rerun_reused: {'yes' if 'reused the notebooks' in said else 'no'}")
    why = [line for line in said.splitlines() if line.startswith("running the notebooks:")]
    if why:  # e.g. the code changed between the two runs (someone editing the checkout)
        print(f"update_unchanged_rerun_note: {why[0]}")
    print(f"command_startup_seconds: {startup:.1f}")
    print(f"update_unchanged_rerun_target_seconds: {TARGET_SECONDS:.0f}")
    target("update_unchanged_rerun_seconds", rerun, "<=", TARGET_SECONDS, "s")


if __name__ == "__main__":
    main()
