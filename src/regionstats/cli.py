"""The ``regionstats`` command.

* ``regionstats report`` renders the analysis as one HTML file;
* ``regionstats update`` is the quarterly job: refresh the sources, build the processed data,
  run the notebooks, render the report with its run manifest and revision report
  (:func:`regionstats.pipeline.update`).

Exit codes: 0 success, 1 the run failed (the previous report was kept), 2 unusable arguments or
parameters (nothing ran).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_report(args: argparse.Namespace) -> int:
    from regionstats.report import ReportError, build_report
    from regionstats.sources.snapshot import SnapshotNotFound, snapshot_dir

    env = {}
    if not args.online:
        env["REGIONSTATS_OFFLINE"] = "1"
        try:
            found = snapshot_dir(args.snapshot)
        except SnapshotNotFound as exc:
            _say(f"regionstats report: {exc}")
            return 2
        env["REGIONSTATS_SNAPSHOT"] = str(found)
        _say(f"offline run: reading the snapshot in {found}")
    try:
        target = build_report(
            args.out, notebooks=args.notebooks, env=env, show_code=args.show_code, progress=_say
        )
    except ReportError as exc:
        _say(f"regionstats report: {exc}\nThe previous report (if any) was left unchanged.")
        return 1
    print(target)
    return 0


def _cmd_update(args: argparse.Namespace) -> int:
    from regionstats.pipeline import ParameterError, UpdateError, parse_parameter, update
    from regionstats.report import ReportError
    from regionstats.sources.snapshot import SnapshotNotFound

    try:
        parameters = dict(parse_parameter(p) for p in args.param or [])
    except ParameterError as exc:
        _say(f"regionstats update: {exc}")
        return 2
    offline = True if args.offline else None
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
            progress=_say,
        )
    except ParameterError as exc:
        _say(f"regionstats update: {exc}\nNothing was run.")
        return 2
    except SnapshotNotFound as exc:
        _say(f"regionstats update: {exc}")
        return 2
    except (UpdateError, ReportError) as exc:
        _say(
            f"regionstats update failed: {exc}\n"
            "The previous report, manifest and revision report (if any) were left unchanged."
        )
        return 1
    except KeyboardInterrupt:
        _say("regionstats update: interrupted; the previous report was left unchanged.")
        return 130
    rev = result.revisions
    verdict = (
        rev["status"]
        if rev["status"] != "compared"
        else ("revisions found" if rev["has_revisions"] else "no revisions")
    )
    _say(f"run {result.run_id}: {verdict}; manifest {result.manifest_path}")
    print(result.report)
    return 0


def _add_common(sub: argparse.ArgumentParser) -> None:
    """Options that ``report`` and ``update`` share."""
    sub.add_argument("--out", default="reports", help="output folder (default: reports/)")
    sub.add_argument("--notebooks", default=None, help="notebook folder (default: notebooks/)")
    sub.add_argument(
        "--snapshot",
        default=os.environ.get("REGIONSTATS_SNAPSHOT"),
        help="offline snapshot folder (default: ../shared/data/snapshot)",
    )


def build_parser() -> argparse.ArgumentParser:
    from regionstats import __version__

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
        help="use the live SSB APIs instead of the offline snapshot",
    )
    rep.add_argument("--show-code", action="store_true", help="include code cells in the report")
    rep.set_defaults(func=_cmd_report)

    upd = sub.add_parser(
        "update",
        help="quarterly job: refresh sources, build data, run notebooks, report + manifest",
        description=(
            "Refresh the SSB tables (only those whose 'updated' changed), build "
            "data/processed/*.parquet, run the notebooks with the parameters, and write the "
            "HTML report, run-manifest.json and revision-report.{json,md} into --out. A failing "
            "run leaves the previous report in place."
        ),
    )
    upd.add_argument(
        "--offline", action="store_true", help="no network at all (raw store + snapshot)"
    )
    _add_common(upd)
    upd.add_argument(
        "--data",
        default=None,
        help="data folder with raw/ and processed/ (default: $REGIONSTATS_DATA or ./data)",
    )
    upd.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help=(
            "notebook parameter (repeatable): start_year, end_year, centrality_edition "
            "(2020|2024), municipality_vintage (2020|2024), scope"
        ),
    )
    upd.add_argument(
        "--release-override",
        default=None,
        metavar="CSV",
        help="lay a newer (partial) 11713 release, a long statbank CSV, over the data",
    )
    upd.add_argument("--show-code", action="store_true", help="include code cells in the report")
    upd.set_defaults(func=_cmd_update)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
