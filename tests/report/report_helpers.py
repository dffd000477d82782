"""Helpers shared by the tests in tests/report (importable: pytest puts this folder on
``sys.path``): the 11713-like loopback table, and reading the raw snapshot CSVs with ``csv``."""

from __future__ import annotations

import csv
import dataclasses
import socket
from pathlib import Path

import pytest
from loopback import LoopbackServer
from loopback.tables import Cube, Dimension, cell_value

ACCOUNT_REGIONS = (("0", "Hele landet"), ("03", "Oslo - Oslove"), ("11", "Rogaland"))
ACCOUNT_INDUSTRIES = (
    ("00-99", "Totalt for næringer"),
    ("10-33", "Industri"),
    ("41-43", "Bygge- og anleggsvirksomhet"),
)
ACCOUNT_CONTENTS = (
    ("BruttoprodBasis", "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)"),
    ("Sysselsatte", "Sysselsatte personer (1 000 personer)"),
)
ORDER = ("Region", "NACE2007", "ContentsCode", "Tid")
#: The selection of the 11713-like table refreshed in the online tests.
ACCOUNTS_SELECTION = {"Region": "*", "NACE2007": "*", "ContentsCode": "*", "Tid": "*"}


def accounts_value(codes: dict[str, str]) -> float:
    """The first release's value of a cell (loopback rule: crc32 of the codes, one decimal)."""
    return cell_value([codes[k] for k in ORDER], decimals=1)


def accounts_cube(
    years: range = range(2016, 2022),
    updated: str = "2024-03-13T07:00:00Z",
    revise_year: int | None = None,
    revision: float = 1000.0,
) -> Cube:
    """The 11713-like table; ``revise_year``'s numbers raised by ``revision`` (a new release)."""

    def cell(codes: dict[str, str]) -> tuple[float | None, str | None]:
        if codes["Region"] == "03" and codes["NACE2007"] == "41-43" and codes["Tid"] == "2016":
            return None, ":"
        value = accounts_value(codes)
        if revise_year is not None and int(codes["Tid"]) == revise_year:
            value += revision
        return value, None

    return Cube(
        id="11713",
        label="11713: Fylkesfordelt nasjonalregnskap, etter region, næring og år",
        updated=updated,
        dims=(
            Dimension("Region", "region", ACCOUNT_REGIONS),
            Dimension("NACE2007", "næring (SN2007)", ACCOUNT_INDUSTRIES),
            Dimension(
                "ContentsCode",
                "statistikkvariabel",
                ACCOUNT_CONTENTS,
                units={"BruttoprodBasis": ("mill. kr", 0), "Sysselsatte": ("1 000 personer", 1)},
            ),
            Dimension("Tid", "år", tuple((str(y), str(y)) for y in years), time=True),
        ),
        cell=cell,
        subject="nr",
    )


def publish(server: LoopbackServer, cube: Cube) -> None:
    """Replace a table on the server (a new release)."""
    server.tables[cube.id] = dataclasses.replace(cube)


OLD_CSV = "ssb_11713/ssb11713_fylke_naering_2008-2019_long.csv"
NEW_CSV = "ssb_11713/ssb11713_new_vintage_extract_2011-2023.csv"
VA_LABEL = "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)"


def raw_national_total(snapshot: Path, year: int) -> tuple[float, float]:
    """Hele landet, all industries, value added in ``year``: (old release, newer release),
    read straight from the two raw CSV files of the snapshot."""
    with open(snapshot / OLD_CSV, encoding="utf-8", newline="") as fh:
        old = [
            float(r[VA_LABEL])
            for r in csv.DictReader(fh)
            if r["Region"] == "0 Hele landet"
            and r["Næring"] == "Totalt for næringer"
            and r["År"] == str(year)
        ]
    with open(snapshot / NEW_CSV, encoding="utf-8", newline="") as fh:
        new = [
            float(r["verdi"])
            for r in csv.DictReader(fh)
            if r["region"] == "0 Hele landet"
            and r["naering"] == "Totalt for næringer"
            and r["aar"] == str(year)
            and r["statistikkvariabel"] == VA_LABEL
        ]
    assert len(old) == 1 and len(new) == 1, (old, new)
    return old[0], new[0]


class NetworkGuard:
    """Records connection attempts; refuses those to non-loopback hosts."""

    def __init__(self) -> None:
        self.attempts: list[object] = []
        self.refused: list[object] = []

    @staticmethod
    def loopback(address: object) -> bool:
        if isinstance(address, tuple) and address:
            host = str(address[0])
            return host.startswith("127.") or host in {"localhost", "::1"}
        return isinstance(address, str | bytes)  # a Unix socket path is local

    def install(self, mp: pytest.MonkeyPatch) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        guard = self

        def connect(sock: socket.socket, address: object) -> None:
            guard.attempts.append(address)
            if not guard.loopback(address):
                guard.refused.append(address)
                raise OSError(f"test network guard: connection to {address!r} refused")
            return real_connect(sock, address)  # type: ignore[arg-type]

        def connect_ex(sock: socket.socket, address: object) -> int:
            guard.attempts.append(address)
            if not guard.loopback(address):
                guard.refused.append(address)
                return 111
            return real_connect_ex(sock, address)  # type: ignore[arg-type]

        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
