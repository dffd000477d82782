"""regional_accounts(): live responses normalised to the same codes, and a fallback when the API
cannot be reached."""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path

import pytest

from regionstats.sources.accounts import ApiFallbackWarning, normalise_11713, regional_accounts
from regionstats.sources.fetch import Fetcher
from regionstats.sources.jsonstat import read_jsonstat
from regionstats.sources.pxwebapi import PxWebApi
from regionstats.sources.store import RawStore

VA = "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)"
EMP = "Sysselsatte personer (1 000 personer)"


def _response() -> dict:
    """A hand-made JSON-stat 2.0 answer shaped like PxWebApi's for 11713 (2 x 2 x 2 x 1)."""
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "11713: Fylkesfordelt nasjonalregnskap",
        "source": "Statistisk sentralbyrå",
        "updated": "2024-03-13T07:00:00Z",
        "role": {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]},
        "id": ["Region", "Naering", "ContentsCode", "Tid"],
        "size": [2, 2, 2, 1],
        "dimension": {
            "Region": {"category": {"index": {"0": 0, "03": 1},
                                    "label": {"0": "Hele landet", "03": "Oslo - Oslove"}}},
            "Naering": {"category": {"index": {"A": 0, "B": 1},
                                     "label": {"A": "Totalt for næringer",
                                               "B": "Finansierings- og forsikringsvirksomhet"}}},
            "ContentsCode": {"category": {"index": {"BNP": 0, "SYSS": 1},
                                          "label": {"BNP": VA, "SYSS": EMP}}},
            "Tid": {"category": {"index": {"2021": 0}, "label": {"2021": "2021"}}},
        },
        "value": [3500000, 2900.5, 300000, 50.1, 700000, 520.0, None, 30.0],
        "status": {"6": ":"},
    }  # fmt: skip


def test_live_answer_gets_the_same_codes_as_statbank_files() -> None:
    frame = normalise_11713(read_jsonstat(json.dumps(_response())))
    cell = frame.set_index(["region", "industry", "measure", "year"])
    assert cell.loc[("0", "TOTAL", "value_added", 2021), "value"] == 3_500_000
    assert cell.loc[("03", "64-66", "employed_persons", 2021), "value"] == 30.0
    suppressed = cell.loc[("03", "64-66", "value_added", 2021)]
    assert suppressed["status"] == ":" and suppressed["value"] != suppressed["value"]  # NaN
    assert frame.attrs["vintage"] == "2024-03-13T07:00:00Z"
    assert frame.attrs["units"]["employed_persons"] == "1000 persons"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_auto_falls_back_to_the_snapshot_when_the_api_is_unreachable(
    snapshot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)
    client = PxWebApi(f"http://127.0.0.1:{_closed_port()}/api/v2", max_retries=0, timeout=(1, 1))
    fetcher = Fetcher(client=client, store=RawStore(tmp_path / "raw"), offline=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = regional_accounts("auto", fetcher=fetcher, snapshot=snapshot_dir)
    assert any(issubclass(w.category, ApiFallbackWarning) for w in caught)
    assert frame.attrs["source_kind"] == "offline snapshot"
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").rglob("meta.json"))


def test_offline_auto_never_builds_a_client(snapshot_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")
    frame = regional_accounts(snapshot=snapshot_dir)
    assert frame.attrs["source_kind"] == "offline snapshot"


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        regional_accounts("excel")  # type: ignore[arg-type]


def test_processed_source_reads_what_update_wrote(tmp_path: Path, monkeypatch) -> None:
    from regionstats.sources.processed import write_processed

    frame = normalise_11713(read_jsonstat(json.dumps(_response())))
    frame.attrs["source_kind"] = "offline snapshot"
    monkeypatch.setenv("REGIONSTATS_DATA", str(tmp_path))
    write_processed(frame, "regional_accounts", keys=["region", "industry", "measure", "year"])
    monkeypatch.setenv("REGIONSTATS_SOURCE", "processed")
    back = regional_accounts()
    assert back.attrs["source_kind"].startswith("processed dataset built by 'regionstats update'")
    assert back.attrs["source_kind"].endswith("offline snapshot")
    cell = back.set_index(["region", "industry", "measure", "year"])
    assert cell.loc[("0", "TOTAL", "value_added", 2021), "value"] == 3_500_000
    assert cell.loc[("03", "64-66", "value_added", 2021), "status"] == ":"
