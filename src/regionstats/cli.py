"""The ``regionstats`` command.

* ``regionstats report`` renders the analysis as one HTML file;
* ``regionstats update`` is the quarterly job: refresh the sources, build the processed data,
  run the notebooks, render the report with its run manifest and revision report
  (:func:`regionstats.pipeline.update`). When nothing changed since the previous run it reuses
  that run's executed notebooks and report, and says so.

Manners: every problem with the arguments is reported at once, before anything runs (an
unwritable ``--out`` too); Ctrl-C prints one line and exits 130, leaving the previous report
and no partial run; the kernels' own log never reaches the terminal; ``--quiet`` prints only
errors and the report's path; on a terminal a progress bar names the notebook and the cell
running.

Exit codes: 0 success, 1 the run failed (the previous report was kept), 2 unusable arguments or
parameters (nothing ran), 130 interrupted (the previous report was kept).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

#: Set by the SIGINT handler: the run was interrupted (whatever exception that surfaced as).
_INTERRUPTED = threading.Event()


class Display:
    """Progress on stderr: messages, and on a terminal a bar per notebook naming the cell that
    runs (``tqdm``). ``quiet`` shows nothing; away from a terminal (a log) only the messages."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self.bars: dict[str, Any] = {}  # one per notebook running (several run side by side)
        self.lines: dict[str, int] = {}  # the terminal line (tqdm position) of each bar
        self._lock = threading.Lock()

    def say(self, message: str) -> None:
        if self.quiet:
            return
        with self._lock:
            for bar in self.bars.values():
                bar.clear()
            print(message, file=self.stream, flush=True)
            for bar in self.bars.values():
                bar.refresh()

    def cell(self, event: Any) -> None:
        """A :class:`regionstats.report.CellProgress` (possibly from a worker thread)."""
        if self.quiet or not self.tty:
            return
        with self._lock:
            if event.done:
                bar = self.bars.pop(event.notebook, None)
                self.lines.pop(event.notebook, None)
                if bar is not None:
                    bar.close()
                return
            bar = self.bars.get(event.notebook)
            if bar is None:
                from tqdm import tqdm

                used = set(self.lines.values())
                slot = next(k for k in range(len(used) + 1) if k not in used)
                bar = tqdm(
                    total=event.cells,
                    desc=f"[{event.position}/{event.notebooks}] {event.notebook}",
                    unit="cell",
                    leave=False,
                    position=slot,
                    file=self.stream,
                    dynamic_ncols=True,
                    bar_format="{desc} {n_fmt}/{total_fmt} cells {elapsed} {postfix}",
                )
                self.bars[event.notebook] = bar
                self.lines[event.notebook] = slot
            bar.total = max(bar.total or 0, event.cells)
            bar.n = event.cell - 1
            source = event.source if len(event.source) <= 50 else event.source[:49] + "…"
            bar.set_postfix_str(f"cell {event.cell}: {source}", refresh=True)

    def close(self) -> None:
        with self._lock:
            for bar in self.bars.values():
                bar.close()
            self.bars.clear()
            self.lines.clear()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _on_sigint(_signum: int, _frame: Any) -> None:
    """First Ctrl-C: kill the kernels and raise ``KeyboardInterrupt``; later ones are ignored
    (the run is already cleaning up)."""
    if _INTERRUPTED.is_set():
        return
    _INTERRUPTED.set()
    report = sys.modules.get("regionstats.report")
    if report is not None:
        report.kill_kernels()
    raise KeyboardInterrupt


def _silence() -> None:
    """After an interrupt: nothing more from loggers, dying threads or unraisable exceptions
    (the kernel client's sockets close under it)."""
    logging.disable(logging.CRITICAL)
    sys.unraisablehook = lambda _u: None
    threading.excepthook = lambda _a: None


def _cmd_report(args: argparse.Namespace, display: Display) -> int:
    import warnings

    from regionstats.report import ReportError, build_report, output_problem
    from regionstats.sources.inputs import InputFallbackWarning
    from regionstats.sources.snapshot import SnapshotNotFound

    problem = output_problem(args.out)
    if problem is not None:
        _say(f"regionstats report: {problem}. Nothing was run.")
        return 2
    _set_urls(args)
    offline = not args.online
    display.say(
        "offline run: stored vintages, then the snapshot, then the embedded default"
        if offline
        else "online run: the live APIs first"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InputFallbackWarning)  # the sources are listed instead
            target = build_report(
                args.out,
                notebooks=args.notebooks,
                show_code=args.show_code,
                progress=display.say,
                on_cell=display.cell,
                offline=offline,
                snapshot=args.snapshot,
            )
    except SnapshotNotFound as exc:
        _interrupted_check()
        _say(f"regionstats report: {exc}")
        return 2
    except ReportError as exc:
        _interrupted_check()
        _say(f"regionstats report: {exc}\nThe previous report (if any) was left unchanged.")
        return 1
    print(target)
    return 0


def _interrupted_check() -> None:
    """An error that surfaced because of Ctrl-C is the interrupt."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _set_urls(args: argparse.Namespace) -> None:
    """``--pxweb-url`` / ``--klass-url`` set the API base URLs for this process, ``--jobs``
    how many notebooks run side by side."""
    if getattr(args, "jobs", None):
        os.environ["REGIONSTATS_JOBS"] = str(args.jobs)
    if getattr(args, "pxweb_url", None):
        os.environ["REGIONSTATS_PXWEB_URL"] = args.pxweb_url
    if getattr(args, "klass_url", None):
        os.environ["REGIONSTATS_KLASS_URL"] = args.klass_url


def _problems_line(command: str, problems: Sequence[str]) -> str:
    """One line for one problem; a heading and one indented line per problem otherwise."""
    if len(problems) == 1:
        return f"regionstats {command}: {problems[0]}. Nothing was run."
    listed = "\n".join(f"  - {p}" for p in problems)
    return f"regionstats {command}: {len(problems)} problems. Nothing was run.\n{listed}"


def _cmd_update(args: argparse.Namespace, display: Display) -> int:
    from regionstats.pipeline import (
        ParameterError,
        UpdateError,
        parse_parameters,
        preflight,
        update,
    )
    from regionstats.report import ReportError
    from regionstats.sources.snapshot import SnapshotNotFound

    parameters: dict[str, Any] = {}
    malformed: list[str] = []
    for text in args.param or []:
        try:
            parameters.update(parse_parameters([text]))
        except ParameterError as exc:
            malformed.extend(exc.problems)
    if malformed:  # reported with every other problem found
        _, others = preflight(
            args.out, parameters, notebooks=args.notebooks, release_override=args.release_override
        )
        _say(_problems_line("update", [*malformed, *others]))
        return 2
    offline = True if args.offline else None
    _set_urls(args)
    try:
        result = update(
            args.out,
            offline=offline,
            notebooks=args.notebooks,
            snapshot=args.snapshot,
            parameters=parameters,
            data_dir=args.data,
            release_override=args.release_override,
            show_code=args.show_code,
            progress=display.say,
            on_cell=display.cell,
            reuse=not args.rerun,
        )
    except ParameterError as exc:
        _interrupted_check()
        _say(_problems_line("update", exc.problems))
        return 2
    except SnapshotNotFound as exc:
        _interrupted_check()
        _say(f"regionstats update: {exc}")
        return 2
    except (UpdateError, ReportError) as exc:
        _interrupted_check()
        _say(
            f"regionstats update failed: {exc}\n"
            "The previous report, manifest and revision report (if any) were left unchanged."
        )
        return 1
    rev = result.revisions
    verdict = (
        rev["status"]
        if rev["status"] != "compared"
        else ("revisions found" if rev["has_revisions"] else "no revisions")
    )
    reused = f"; reused the notebooks and report of run {result.reused}" if result.reused else ""
    display.say(f"run {result.run_id}: {verdict}{reused}; manifest {result.manifest_path}")
    print(result.report)
    return 0


def _add_common(sub: argparse.ArgumentParser) -> None:
    """Options that ``report`` and ``update`` share."""
    sub.add_argument("--out", default="reports", help="output folder (default: reports/)")
    sub.add_argument("--notebooks", default=None, help="notebook folder (default: notebooks/)")
    sub.add_argument(
        "--snapshot",
        default=None,
        help=(
            "offline snapshot folder (default: $REGIONSTATS_SNAPSHOT or ../shared/data/snapshot "
            "when present; without one the embedded default is used)"
        ),
    )
    sub.add_argument(
        "--pxweb-url",
        default=None,
        help="PxWebApi 2.0 base URL (default: $REGIONSTATS_PXWEB_URL or SSB's)",
    )
    sub.add_argument(
        "--klass-url",
        default=None,
        help="KLASS base URL (default: $REGIONSTATS_KLASS_URL or SSB's)",
    )
    sub.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="notebooks run side by side (default: $REGIONSTATS_JOBS or the CPUs available)",
    )
    sub.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only errors (and the report's path on stdout)",
    )


def build_parser() -> argparse.ArgumentParser:
    from regionstats import __version__
    from regionstats.pipeline import parameter_help

    parser = argparse.ArgumentParser(
        prog="regionstats",
        description="Value creation and productivity by county and centrality class (SSB data).",
    )
    parser.add_argument("--version", action="version", version=f"regionstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="run the notebooks and write one HTML report")
    _add_common(rep)
    rep.add_argument(
        "--online",
        action="store_true",
        help="use the live APIs first (default: stored vintages, snapshot, embedded default)",
    )
    rep.add_argument("--show-code", action="store_true", help="include code cells in the report")
    rep.set_defaults(func=_cmd_report)

    upd = sub.add_parser(
        "update",
        help="quarterly job: refresh sources, build data, run notebooks, report + manifest",
        description=(
            "Refresh the SSB tables (only those whose 'updated' changed), build "
            "data/processed/*.parquet, run the notebooks with the parameters, and write the "
            "HTML report, run-manifest.json and revision-report.{json,md} into --out. When no "
            "input, parameter, code or package version changed since the previous run, its "
            "executed notebooks and report are reused (and the run says so). A failing or "
            "interrupted run leaves the previous report in place."
        ),
    )
    upd.add_argument(
        "--offline",
        action="store_true",
        help="no network at all (raw store, snapshot, embedded default)",
    )
    _add_common(upd)
    upd.add_argument(
        "--data",
        default=None,
        help="data folder with raw/ and processed/ (default: $REGIONSTATS_DATA or ./data)",
    )
    upd.add_argument("--param", action="append", metavar="KEY=VALUE", help=parameter_help())
    upd.add_argument(
        "--release-override",
        default=None,
        metavar="CSV",
        help="lay a newer (partial) 11713 release, a long statbank CSV, over the data",
    )
    upd.add_argument("--show-code", action="store_true", help="include code cells in the report")
    upd.add_argument(
        "--rerun",
        action="store_true",
        help="execute the notebooks even when nothing changed since the previous run",
    )
    upd.set_defaults(func=_cmd_update)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    display = Display(quiet=args.quiet)
    _INTERRUPTED.clear()
    install = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    )
    previous = signal.signal(signal.SIGINT, _on_sigint) if install else None
    try:
        return int(args.func(args, display))
    except BaseException as exc:
        if not (_INTERRUPTED.is_set() or isinstance(exc, KeyboardInterrupt)):
            raise
        _silence()
        display.close()
        _say(f"regionstats {args.command}: interrupted; the previous report was left unchanged.")
        return 130
    finally:
        display.close()
        if install:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
