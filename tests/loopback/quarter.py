"""One loopback server that holds every input of a quarter's run, in the real API shapes.

11713 carries the embedded default's real cells (2008-2019; :func:`new_release` adds a synthetic
2020 and revises 2019, clearly made up); 13470, 07984 and 07459 carry synthetic cells
(:mod:`loopback.tables_inputs`) on every municipality of the embedded KLASS 131 history, 2008-2026
(before 2013, the first listed year's codes); KLASS 131 and 128 are built from the same history
and the real KLASS 128 codes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from regionstats.regions.crosswalk import CodeHistory, build_history
from regionstats.sources import embedded

from .from_frames import cube_from_frame, dims_11713
from .server import LoopbackServer, ServerSettings
from .tables import Cube
from .tables_inputs import input_tables, klass_fixtures

YEARS = range(2008, 2027)


def embedded_history() -> CodeHistory:
    """The municipality history of the embedded default (as the offline seam builds it)."""
    changes = embedded.read("municipality_changes_131")
    lists = embedded.read("municipality_code_lists_131")
    return build_history(changes, lists, last_year=2026)


def code_lists(history: CodeHistory) -> pd.DataFrame:
    """Codes valid on 1 January of each year of :data:`YEARS` (before the history starts, its
    first year's)."""
    rows = [
        (code, history.names.get(code, code), year)
        for year in YEARS
        for code in sorted(history.codes[max(year, history.first_year)])
    ]
    return pd.DataFrame(rows, columns=["code", "name", "year"])


def accounts_cube(accounts: pd.DataFrame, updated: str = "2021-12-13T07:00:00Z") -> Cube:
    return cube_from_frame(
        accounts,
        dims_11713(accounts),
        table_id="11713",
        label="11713: Fylkesfordelt nasjonalregnskap",
        updated=updated,
    )


def new_release(accounts: pd.DataFrame) -> pd.DataFrame:
    """A made-up next release: every 2019 value added cell doubled (a revision that keeps every
    sum of industries and regions exact) and a 2020 equal to the revised 2019 (a new period)."""
    out = accounts.copy()
    revise = (out["year"] == 2019) & (out["measure"] == "value_added") & out["value"].notna()
    out.loc[revise, "value"] = 2.0 * out.loc[revise, "value"]
    year_2020 = out[out["year"] == 2019].assign(year=2020)
    return pd.concat([out, year_2020], ignore_index=True)


def quarter_server(settings: ServerSettings | None = None) -> dict[str, Any]:
    """A (not yet started) server with every input, and what it was built from."""
    history = embedded_history()
    lists = code_lists(history)
    changes = embedded.read("municipality_changes_131")
    codes_128 = embedded.read("centrality_128_codes")
    accounts = embedded.read("accounts_11713")
    tables = input_tables(lists)
    tables["11713"] = accounts_cube(accounts)
    klass = klass_fixtures(
        municipalities=lists,
        municipality_changes=changes[changes["changeOccurred"] >= "2013-01-01"],
        centrality={2024: codes_128},
    )
    server = LoopbackServer(
        tables=tables, klass=klass, settings=settings or ServerSettings(max_calls=1000)
    )
    return {
        "server": server,
        "history": history,
        "tables": tables,
        "codes_128": codes_128,
        "accounts": accounts,
    }


def publish(server: LoopbackServer, cube: Cube) -> None:
    """Replace a table on the server (a new release)."""
    server.tables[cube.id] = dataclasses.replace(cube)
