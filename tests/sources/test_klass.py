"""KLASS client against the loopback server and the hand-made fixtures in
``tests/fixtures/loopback/klass`` (expected values read off those fixture files by hand)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import requests

from regionstats.sources.klass import KlassClient, KlassError, KlassNotFound


def test_codes_at_with_string_codes(klass):
    frame = klass.codes_at(131, "2020-01-01")
    assert frame["code"].tolist() == [
        "0301",
        "3002",
        "4204",
        "1108",
        "1130",
        "1103",
        "5001",
        "9999",
    ]
    assert pd.api.types.is_string_dtype(frame["code"])
    assert frame["level"].tolist() == [1] * 8
    assert frame.attrs["source"].endswith("/classifications/131/codesAt?date=2020-01-01")


def test_codes_over_a_range(klass):
    frame = klass.codes(131, "2019-01-01", dt.date(2021, 1, 1)).set_index("code")
    # Søgne existed 2000-2020: inside [2019, 2021) it is valid from 2019-01-01 to 2020-01-01
    assert frame.loc["1018", "valid_from_in_requested_range"] == pd.Timestamp("2019-01-01")
    assert frame.loc["1018", "valid_to_in_requested_range"] == pd.Timestamp("2020-01-01")
    assert frame.loc["0301", "valid_to_in_requested_range"] == pd.Timestamp("2021-01-01")
    assert "1601" not in frame.index  # Trondheim 1601 ended 2018
    assert {"4204", "1001", "1002", "1018"} <= set(frame.index)


def test_changes(klass):
    frame = klass.changes(131, "2020-01-01", "2020-12-31")
    to_4204 = frame.loc[frame["new_code"] == "4204", "old_code"].tolist()
    assert sorted(to_4204) == ["1001", "1002", "1018"]
    forsand = frame.loc[frame["old_code"] == "1129", "new_code"].tolist()
    assert sorted(forsand) == ["1108", "1130"]  # a split: two rows with the same old code
    assert set(frame["change_occurred"]) == {pd.Timestamp("2020-01-01")}
    assert "3103" not in set(frame["new_code"])  # 2024 change is outside the range


def test_corresponds_131_to_128(klass):
    frame = klass.corresponds(131, 128, "2024-01-01", "2025-01-01")
    mapping = dict(zip(frame["source_code"], frame["target_code"], strict=True))
    assert mapping["0301"] == "01"  # leading zero kept
    assert mapping["1130"] == "03"  # the 2024 edition, not the 2020 one ("04")
    assert mapping["3103"] == "02"
    assert "1001" not in mapping
    assert frame.loc[frame["source_code"] == "0301", "source_name"].item() == "Oslo"
    assert frame.attrs["target_classification"] == "128"


def test_corresponds_at_direct(loopback_server, klass):
    frame = klass.corresponds_at(131, 128, "2020-06-01")
    assert frame.attrs["fallback"] is False
    assert dict(zip(frame["source_code"], frame["target_code"], strict=True))["1130"] == "04"
    assert [r.path.rsplit("/", 1)[-1] for r in loopback_server.requests] == ["correspondsAt"]


def test_corresponds_at_empty_falls_back_to_range(loopback_server, klass):
    direct = klass.corresponds_at(131, 128, "2020-06-01")
    loopback_server.reset()
    loopback_server.settings.corresponds_at_empty = True
    fallback = klass.corresponds_at(131, 128, "2020-06-01")
    assert fallback.attrs["fallback"] is True
    assert [r.path.rsplit("/", 1)[-1] for r in loopback_server.requests] == [
        "correspondsAt",
        "corresponds",
    ]
    key = ["source_code", "target_code"]
    pd.testing.assert_frame_equal(
        fallback[key].sort_values(key).reset_index(drop=True),
        direct[key].sort_values(key).reset_index(drop=True),
    )


def test_corresponds_at_fallback_keeps_only_rows_valid_on_the_date(loopback_server, klass):
    loopback_server.settings.corresponds_at_empty = True
    frame = klass.corresponds_at(131, 104, "2019-12-31")
    mapping = dict(zip(frame["source_code"], frame["target_code"], strict=True))
    assert mapping["1001"] == "10" and mapping["5001"] == "50"
    assert "4204" not in mapping and "1601" not in mapping


def test_classification_and_version(klass):
    info = klass.classification(131)
    assert info["name"] == "Standard for kommuneinndeling"
    assert info["versions_frame"]["id"].tolist() == ["91018", "91020", "91024"]
    items = klass.version(91024)
    assert "3103" in set(items["code"]) and "3002" not in set(items["code"])
    assert items.attrs["valid_from"] == "2024-01-01"


def test_raw_json_is_available(klass):
    doc = klass.codes_at_json(128, "2024-01-01")
    assert [c["code"] for c in doc["codes"]] == ["01", "02", "03", "04", "05", "06"]


def test_unknown_classification(klass):
    with pytest.raises(KlassNotFound, match="Classification not found with id = 99999"):
        klass.codes_at(99999, "2024-01-01")


def test_json_needs_the_accept_header(loopback_server, klass):
    # Without the header KLASS answers XML; the client always asks for JSON.
    raw = requests.get(
        loopback_server.klass_url + "/classifications/131/codesAt",
        params={"date": "2024-01-01"},
        timeout=5,
    )
    assert raw.headers["Content-Type"].startswith("application/xml")
    # 0301, 3103, 4204, 1108, 1130, 1103, 5001, 9999 are valid on 2024-01-01
    assert len(klass.codes_at(131, "2024-01-01")) == 8


def test_bad_date_is_refused_before_any_call(loopback_server, klass):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        klass.codes_at(131, "01.01.2024")
    assert loopback_server.requests == []


def test_klass_retries_then_errors(loopback_server):
    from loopback import LoopbackOnlySession

    client = KlassClient(
        loopback_server.klass_url,
        session=LoopbackOnlySession(),
        timeout=(2, 5),
        max_retries=1,
        backoff_base=0.01,
        offline=False,
    )
    loopback_server.faults.push("503", count=1)
    assert len(client.codes_at(104, "2024-01-01")) == 5
    loopback_server.faults.push("503", count=5)
    with pytest.raises(KlassError, match="gave up after 2 attempt"):
        client.codes_at(104, "2024-01-01")
