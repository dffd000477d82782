"""Benchmark: ``regionstats update --offline`` end to end, as a user runs it.

Runs the command as a subprocess on the project's ``notebooks/`` (the fixture notebooks of
``tests/fixtures/report/pipeline`` when that folder has no numbered notebook yet) into a
temporary report and data folder, twice (the second run compares with the first).

Prints:

* ``update_offline_seconds`` (first run), ``update_offline_second_run_seconds``;
* ``update_offline_peak_rss_mb``: ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the peak
  resident memory of the *largest single process* among the update and its descendants (the
  notebook kernels are grandchildren, counted once they have been waited for);
* ``update_offline_peak_tree_rss_sum_mb`` and ``update_offline_peak_tree_pss_mb``: the peaks of
  the *sums* over the process tree (update + the kernels running or waiting at that moment),
  sampled from ``/proc`` every 0.2 s (Linux only). The RSS sum counts the libraries every
  kernel maps once per kernel; the PSS sum counts each page once, shared out, and is the
  figure held against the 1 GB target;
* ``report_size_mb``.

Targets (issue 13, 2 cores): the first (cold) run <= 20 s, the process tree's peak <= 1 GB
(figures to watch, not tests). Needs the offline
snapshot (``REGIONSTATS_SNAPSHOT`` or ``../shared/data/snapshot``). No network.

Run: ``python benchmarks/bench_update.py`` or ``python -m benchmarks.run update``.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    from benchmarks.targets import target
except ImportError:  # run as a script from benchmarks/
    from targets import target  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 20.0  # issue 13: cold, 2 cores
TARGET_TREE_MB = 1024.0  # issue 13: peak memory of the process tree
NOTEBOOK = re.compile(r"^\d{2}_[A-Za-z0-9_]+\.ipynb$")


def notebooks_folder() -> Path:
    real = ROOT / "notebooks"
    if real.is_dir() and any(NOTEBOOK.match(p.name) for p in real.iterdir()):
        return real
    return ROOT / "tests" / "fixtures" / "report" / "pipeline"


def _tree_memory_kb(root: int) -> tuple[int, int]:
    """Sums over ``root`` and all its descendants, from /proc: (VmRSS, Pss) in kB.

    RSS counts a shared page (a library mapped by every kernel) once per process; PSS
    (proportional set size, ``/proc/<pid>/smaps_rollup``) shares it out among them, so the sum of
    PSS is the memory the tree actually holds.
    """
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
        vm = re.search(r"^VmRSS:\s+(\d+)", text, re.M)
        if ppid:
            parents[int(entry)] = int(ppid.group(1))
            rss[int(entry)] = int(vm.group(1)) if vm else 0
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as fh:
                found = re.search(r"^Pss:\s+(\d+)", fh.read(), re.M)
        except OSError:
            continue
        pss += int(found.group(1)) if found else 0
    return sum(rss.get(pid, 0) for pid in tree), pss


def run_update(out: Path, data: Path, notebooks: Path) -> tuple[float, int, int]:
    """Run the command once; return seconds and the sampled peaks of the tree's RSS and PSS
    sums (kB)."""
    command = [
        sys.executable,
        "-m",
        "regionstats.cli",
        "update",
        "--offline",
        "--out",
        str(out),
        "--data",
        str(data),
        "--notebooks",
        str(notebooks),
    ]
    peak = [0, 0]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            if os.path.isdir("/proc"):
                rss, pss = _tree_memory_kb(process.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, err = process.communicate(timeout=900)
    finally:
        stop.set()
        sampler.join(timeout=5)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"regionstats update failed ({process.returncode}):\n{err.decode()}")
    return seconds, peak[0], peak[1]


def main() -> None:
    notebooks = notebooks_folder()
    with tempfile.TemporaryDirectory(prefix="regionstats-bench-update-") as tmp:
        out, data = Path(tmp) / "out", Path(tmp) / "data"
        first, rss_first, pss_first = run_update(out, data, notebooks)
        second, rss_second, pss_second = run_update(out, data, notebooks)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux
        report = out / "regionstats-report.html"
        print(f"notebooks_folder: {notebooks.relative_to(ROOT)}")
        print(f"update_offline_seconds: {first:.1f}")
        print(f"update_offline_second_run_seconds: {second:.1f}")
        print(f"update_offline_peak_rss_mb: {peak_kb / 1024:.0f}")
        print(f"update_offline_peak_tree_rss_sum_mb: {max(rss_first, rss_second) / 1024:.0f}")
        print(f"update_offline_peak_tree_pss_mb: {max(pss_first, pss_second) / 1024:.0f}")
        print(f"report_size_mb: {report.stat().st_size / 1e6:.1f}")
        target("update_offline_cold_seconds", first, "<=", TARGET_SECONDS, "s")
        target(
            "update_offline_peak_tree_pss_mb",
            max(pss_first, pss_second) / 1024,
            "<=",
            TARGET_TREE_MB,
            "MB",
        )


if __name__ == "__main__":
    main()
