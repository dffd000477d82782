"""The ``regionstats`` command: ``report`` renders the analysis as one HTML file."""

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


def build_parser() -> argparse.ArgumentParser:
    from regionstats import __version__

    parser = argparse.ArgumentParser(
        prog="regionstats",
        description="Value creation and productivity by county and centrality class (SSB data).",
    )
    parser.add_argument("--version", action="version", version=f"regionstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="run the notebooks and write one HTML report")
    rep.add_argument("--out", default="reports", help="output folder (default: reports/)")
    rep.add_argument("--notebooks", default=None, help="notebook folder (default: notebooks/)")
    rep.add_argument(
        "--snapshot",
        default=os.environ.get("REGIONSTATS_SNAPSHOT"),
        help="offline snapshot folder (default: ../shared/data/snapshot)",
    )
    rep.add_argument(
        "--online",
        action="store_true",
        help="use the live SSB APIs instead of the offline snapshot",
    )
    rep.add_argument("--show-code", action="store_true", help="include code cells in the report")
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
