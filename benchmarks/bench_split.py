"""Query splitting: calls made against a loopback PxWebApi server vs the lower bound.

For each query shape and cell limit, the client fetches the data from an in-process loopback
server (``tests/loopback``, 127.0.0.1 only) and the server counts the data calls. Prints
``name: value`` lines: per case ``split_calls_made[<case>]`` and ``split_calls_minimum[<case>]``
(the lower bound :math:`\\lceil C/M \\rceil`), then the totals ``split_calls_made`` and
``split_calls_minimum`` and the slowest planning time over large synthetic shapes.

Run: ``python -m benchmarks.run split`` (or ``python -m benchmarks.bench_split``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"

POP_ALL = {"Region": "*", "Kjonn": "*", "Alder": "*", "ContentsCode": "*", "Tid": "*"}
FNR_ALL = {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "*"}
CASES = [
    ("07459_all@300", "07459", POP_ALL, 300),
    ("07459_all@1100", "07459", POP_ALL, 1100),
    (
        "07459_7x3@5",
        "07459",
        {
            "Region": "range(0301,1129)",
            "Kjonn": "1",
            "Alder": "000",
            "ContentsCode": "*",
            "Tid": "from(2022)",
        },
        5,
    ),
    ("07459_all@7", "07459", POP_ALL, 7),
    ("11713_all@100", "11713", FNR_ALL, 100),
    ("11713_all@37", "11713", FNR_ALL, 37),
]
SYNTHETIC = [
    ((357, 2, 106, 1, 40), 800_000),
    ((357, 2, 106, 1, 40), 100_003),
    ((357, 2, 106, 1, 40), 7_919),
    ((356, 27, 5, 14), 10_007),
]


def main() -> None:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from loopback import LoopbackOnlySession, LoopbackServer, ServerSettings

    from regionstats.sources.pxwebapi import PxWebApi, minimum_calls, plan_split

    made_total = minimum_total = 0
    for name, table, query, max_cells in CASES:
        with LoopbackServer(settings=ServerSettings(max_cells=max_cells)) as server:
            api = PxWebApi(server.pxweb_url, session=LoopbackOnlySession(), timeout=(5, 30))
            sizes = [len(v) for v in api.resolve(table, query).values()]
            api.get_data(table, query)
            made = len(server.data_calls())
        minimum = minimum_calls(sizes, max_cells)
        made_total += made
        minimum_total += minimum
        print(f"split_calls_made[{name}]: {made}")
        print(f"split_calls_minimum[{name}]: {minimum}")
    print(f"split_calls_made: {made_total}")
    print(f"split_calls_minimum: {minimum_total}")
    slowest = 0.0
    for sizes, max_cells in SYNTHETIC:
        start = time.perf_counter()
        plan = plan_split(sizes, max_cells)
        slowest = max(slowest, time.perf_counter() - start)
        label = "x".join(map(str, sizes)) + f"@{max_cells}"
        print(f"plan_calls[{label}]: {len(plan)}")
        print(f"plan_calls_minimum[{label}]: {minimum_calls(sizes, max_cells)}")
    print(f"plan_split_seconds_max: {slowest:.4f}")


if __name__ == "__main__":
    main()
