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
    import warnings

    from regionstats.report import ReportError, build_report
    from regionstats.sources.inputs import InputFallbackWarning
    from regionstats.sources.snapshot import SnapshotNotFound

    _set_urls(args)
    offline = not args.online
    _say(
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
                progress=_say,
                offline=offline,
                snapshot=args.snapshot,
            )
    except SnapshotNotFound as exc:
        _say(f"regionstats report: {exc}")
        return 2
    except ReportError as exc:
        _say(f"regionstats report: {exc}\nThe previous report (if any) was left unchanged.")
        return 1
    print(target)
    return 0


def _set_urls(args: argparse.Namespace) -> None:
    """``--pxweb-url`` / ``--klass-url`` set the API base URLs for this process."""
    if getattr(args, "pxweb_url", None):
        os.environ["REGIONSTATS_PXWEB_URL"] = args.pxweb_url
    if getattr(args, "klass_url", None):
        os.environ["REGIONSTATS_KLASS_URL"] = args.klass_url


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
            "HTML report, run-manifest.json and revision-report.{json,md} into --out. A failing "
            "run leaves the previous report in place."
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
