"""Benchmark: a quarterly refresh of 3 tables, twice, against the in-process loopback server.

The first refresh fetches everything (split into chunks: the server announces 1 000 cells per
call); the second, from a fresh client as a new quarterly run would be, finds every table's
``updated`` unchanged and must make no data call, only one metadata call per table. Counts are
taken from the server's request log (not from the refresh report), times with
:func:`time.perf_counter`.

Run: ``python benchmarks/bench_refresh.py`` (127.0.0.1 only; no other network).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from loopback import LoopbackServer, ServerSettings  # noqa: E402
from loopback.tables import accounts_table, population_table  # noqa: E402

from regionstats.sources.fetch import Fetcher  # noqa: E402
from regionstats.sources.pxwebapi import PxWebApi  # noqa: E402
from regionstats.sources.store import RawStore  # noqa: E402

MAX_CELLS = 1_000


def _tables() -> dict:
    accounts = accounts_table()
    third = dataclasses.replace(
        accounts,
        id="09391",
        label="09391: Fylkesfordelt nasjonalregnskap (loopback copy for the benchmark)",
        updated="2023-11-30T07:00:00Z",
    )
    return {t.id: t for t in (accounts, population_table(), third)}


QUERIES = [
    ("11713", {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "*"}, None),
    ("07459", {"Region": "*", "Kjonn": "*", "Alder": "*", "ContentsCode": "*", "Tid": "*"}, None),
    ("09391", {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "from(2015)"}, None),
]


def _counts(server: LoopbackServer) -> tuple[int, int]:
    """(data calls, other PxWebApi calls) in the server's log."""
    requests = [r for r in server.requests if r.api == "pxweb"]
    data = sum(r.is_data for r in requests)
    return data, len(requests) - data


def main() -> dict[str, float]:
    settings = ServerSettings(max_cells=MAX_CELLS)
    with (
        tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp,
        LoopbackServer(tables=_tables(), settings=settings) as server,
    ):
        store = RawStore(Path(tmp) / "raw")

        def run() -> tuple[float, object]:
            client = PxWebApi(server.pxweb_url, timeout=(2, 10), max_retries=1)
            fetcher = Fetcher(client, store, offline=False)
            start = time.perf_counter()
            report = fetcher.refresh(QUERIES)
            return time.perf_counter() - start, report

        first_s, first = run()
        first_data, first_meta = _counts(server)
        server.reset()
        second_s, second = run()
        second_data, second_meta = _counts(server)
        vintages = sum(len(store.vintages(t)) for t, _, _ in QUERIES)

    results = {
        "refresh_tables": len(QUERIES),
        "refresh_first_data_calls": first_data,
        "refresh_first_metadata_calls": first_meta,
        "refresh_first_seconds": round(first_s, 3),
        "refresh_unchanged_data_calls": second_data,
        "refresh_unchanged_metadata_calls": second_meta,
        "refresh_unchanged_seconds": round(second_s, 3),
        "refresh_vintages_stored": vintages,
    }
    for key, value in results.items():
        print(f"{key}: {value}")
    print(f"first:  {first}".replace("\n", "\n        "))
    print(f"second: {second}".replace("\n", "\n        "))
    return results


if __name__ == "__main__":
    main()
