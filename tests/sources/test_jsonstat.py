"""Tests for the JSON-stat 2.0 decoder.

Expected values are worked out by hand from the fixtures in ``tests/fixtures/jsonstat/`` using the
row-major rule of the JSON-stat 2.0 spec (flat index ``f = sum_k i_k * prod_{j>k} size_j``), or
from an independent slow decoder and pyjstat for the real snapshot response.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from regionstats.model import validate_tidy
from regionstats.sources.jsonstat import JsonStatError, read_jsonstat, read_jsonstat_collection

REAL_03024 = Path("api_examples") / "ssb_v2_03024_data_jsonstat2.json"


@pytest.fixture(scope="module")
def jdir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "jsonstat"


def load(jdir: Path, name: str) -> dict[str, Any]:
    return json.loads((jdir / name).read_text(encoding="utf-8"))


def cell(frame: pd.DataFrame, **codes: str) -> pd.Series:
    """The single row of ``frame`` with these codes."""
    mask = np.ones(len(frame), dtype=bool)
    for col, code in codes.items():
        mask &= (frame[col] == code).to_numpy(dtype=bool)
    assert mask.sum() == 1, f"expected exactly one row for {codes}, got {mask.sum()}"
    return frame.loc[mask].iloc[0]


def is_na(x: object) -> bool:
    return x is pd.NA or (isinstance(x, float) and math.isnan(x))


# --------------------------------------------------------------------------------------------
# Hand-made fixtures
# --------------------------------------------------------------------------------------------


def test_ssb_style_cells_by_code(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "ssb_style_3dims.json").read_bytes())
    assert len(frame) == 12
    row = cell(frame, Region="0301", ContentsCode="X", Tid="2020")
    assert row["value"] == 12.0
    assert row["status"] is pd.NA
    suppressed = cell(frame, Region="0301", ContentsCode="Y", Tid="2021")
    assert math.isnan(suppressed["value"]) and suppressed["status"] == ":"
    missing = cell(frame, Region="4601", ContentsCode="Y", Tid="2020")
    assert math.isnan(missing["value"]) and missing["status"] == ".."
    provisional = cell(frame, Region="4601", ContentsCode="Y", Tid="2021")
    assert provisional["value"] == 300.0 and provisional["status"] == "*"
    null_without_symbol = cell(frame, Region="4601", ContentsCode="Z", Tid="2021")
    assert math.isnan(null_without_symbol["value"]) and null_without_symbol["status"] is pd.NA
    assert cell(frame, Region="4601", ContentsCode="Z", Tid="2020")["value"] == 1.25


def test_ssb_style_row_major_order_and_columns(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "ssb_style_3dims.json").read_bytes())
    assert list(frame.columns) == [
        "Region",
        "ContentsCode",
        "Tid",
        "value",
        "status",
        "Region_label",
        "ContentsCode_label",
        "Tid_label",
    ]
    # Index objects list keys out of position order ({"4601": 1, "0301": 0}, {"Z": 2, ...}):
    # the order must come from the positions. Last dimension fastest.
    assert frame["Region"].tolist() == ["0301"] * 6 + ["4601"] * 6
    assert frame["ContentsCode"].tolist() == ["X", "X", "Y", "Y", "Z", "Z"] * 2
    assert frame["Tid"].tolist() == ["2020", "2021"] * 6
    expected = [12.0, 13.5, 100, np.nan, 0.5, 0.75, 20, 21, np.nan, 300, 1.25, np.nan]
    np.testing.assert_array_equal(frame["value"].to_numpy(), np.array(expected))
    assert frame["value"].dtype == np.float64
    assert frame["status"].dtype == pd.StringDtype(na_value=pd.NA)
    status = frame["status"].tolist()
    assert [s for s in status if s is not pd.NA] == [":", "..", "*"]
    assert [i for i, s in enumerate(status) if s is not pd.NA] == [3, 8, 9]
    assert frame["Region_label"].tolist() == ["Oslo"] * 6 + ["Bergen"] * 6
    assert frame["ContentsCode_label"].iloc[4] == "Andel (prosent)"
    for col in ("Region", "ContentsCode", "Tid"):
        assert pd.api.types.is_string_dtype(frame[col])
        assert all(isinstance(v, str) for v in frame[col])
    validate_tidy(frame, ["Region", "ContentsCode", "Tid"])


def test_ssb_style_attrs(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "ssb_style_3dims.json").read_bytes())
    attrs = frame.attrs
    assert attrs["label"].startswith("99999: Hand-made test table")
    assert attrs["source"] == "Statistisk sentralbyrå"
    assert attrs["updated"] == "2024-06-01T06:00:00Z"
    assert attrs["units"] == {
        "X": {"base": "mill. kr", "decimals": 0},
        "Y": {"base": "personer", "decimals": 0},
        "Z": {"base": "prosent", "decimals": 2},
    }
    assert attrs["role"] == {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]}
    assert attrs["note"] == [
        "Hand-made fixture in the shape of an SSB PxWebApi v2 json-stat2 response."
    ]
    assert attrs["extension"]["px"]["tableid"] == "99999"
    assert attrs["dimension_labels"] == {
        "Region": "region",
        "ContentsCode": "statistikkvariabel",
        "Tid": "år",
    }


def test_input_kinds_agree(jdir: Path) -> None:
    path = jdir / "ssb_style_3dims.json"
    from_bytes = read_jsonstat(path.read_bytes())
    from_str = read_jsonstat(path.read_text(encoding="utf-8"))
    from_dict = read_jsonstat(load(jdir, "ssb_style_3dims.json"))
    pd.testing.assert_frame_equal(from_bytes, from_str)
    pd.testing.assert_frame_equal(from_bytes, from_dict)


def test_labels_false_and_categorical(jdir: Path) -> None:
    data = (jdir / "ssb_style_3dims.json").read_bytes()
    plain = read_jsonstat(data, labels=False)
    assert list(plain.columns) == ["Region", "ContentsCode", "Tid", "value", "status"]
    cat = read_jsonstat(data, categorical=True)
    assert isinstance(cat["Region"].dtype, pd.CategoricalDtype)
    assert list(cat["Region"].cat.categories) == ["0301", "4601"]
    assert cat["Region"].astype(str).tolist() == plain["Region"].tolist()
    assert cat["ContentsCode_label"].astype(str).tolist()[:2] == ["Bruttoprodukt (mill. kr)"] * 2


def test_array_index_fhi_style(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "array_index.json").read_bytes())
    # GEO index is ["46", "03"]: 46 comes first.
    assert frame["GEO"].tolist() == ["46", "46", "03", "03"]
    assert frame["AAR"].tolist() == ["2019_2021", "2020_2022"] * 2
    assert frame["MEASURE_TYPE"].tolist() == ["RATE"] * 4
    assert frame["value"].tolist() == [1.1, 2.2, 3.3, 4.4]
    assert cell(frame, GEO="03", AAR="2020_2022")["value"] == 4.4
    assert frame["GEO_label"].tolist() == ["Vestland", "Vestland", "Oslo", "Oslo"]
    # No category.label: the code is the label.
    assert frame["AAR_label"].tolist() == frame["AAR"].tolist()
    assert frame["status"].isna().all()
    assert frame.attrs["units"] == {}


def test_sparse_value_object(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "sparse_value.json").read_bytes())
    # value {"0": 1.5, "5": 3, "2": 7} over 3 regions x 2 years.
    np.testing.assert_array_equal(
        frame["value"].to_numpy(), np.array([1.5, np.nan, 7.0, np.nan, np.nan, 3.0])
    )
    assert cell(frame, region="11", year="2021")["value"] == 7.0
    assert cell(frame, region="46", year="2022")["value"] == 3.0
    gap = cell(frame, region="03", year="2022")
    assert math.isnan(gap["value"]) and gap["status"] == ".."
    assert frame["status"].isna().sum() == 5


def test_status_array(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "status_array.json").read_bytes())
    # status [null, ":", "", ".."]: null and "" mean no symbol.
    assert [None if is_na(s) else s for s in frame["status"]] == [None, ":", None, ".."]
    assert frame["status"].dtype == pd.StringDtype(na_value=pd.NA)
    assert frame["year"].tolist() == ["2019", "2020", "2021", "2022"]
    assert frame["region_label"].tolist() == ["Hele landet"] * 4


def test_status_single_string_and_one_element_array(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "status_string.json").read_bytes())
    assert frame["status"].tolist() == ["*"] * 4
    data = load(jdir, "status_string.json")
    data["status"] = ["e"]
    assert read_jsonstat(data)["status"].tolist() == ["e"] * 4


def test_collection_of_two_datasets(jdir: Path) -> None:
    frames = read_jsonstat_collection((jdir / "collection.json").read_bytes())
    assert len(frames) == 2
    a, b = frames
    assert a.attrs["label"] == "Dataset A"
    assert a.attrs["href"] == "https://example.invalid/a.json"
    assert a["region"].tolist() == ["03", "46"]
    assert a["value"].tolist() == [10.0, 20.0]
    assert b.attrs["label"] == "Dataset B"
    assert b["sex"].tolist() == ["T", "M", "F"]
    assert b["sex_label"].tolist() == ["total", "male", "female"]
    # "year" has only a label (single category, no index).
    assert b["year"].tolist() == ["2021"] * 3
    assert b["value"].tolist() == [5.0, 2.0, 3.0]
    assert cell(b, sex="F")["status"] == "e"
    assert cell(b, sex="M")["status"] is pd.NA


def test_collection_reader_accepts_a_dataset(jdir: Path) -> None:
    frames = read_jsonstat_collection((jdir / "array_index.json").read_bytes())
    assert len(frames) == 1 and len(frames[0]) == 4


def test_oecd_style_single_category_without_index(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "oecd_small.json").read_bytes())
    assert frame["concept"].tolist() == ["UNR"] * 6
    assert frame["concept_label"].tolist() == ["unemployment rate"] * 6
    assert frame["area"].tolist() == ["AU", "AU", "AT", "AT", "BE", "BE"]
    assert cell(frame, area="AT", year="2004")["value"] == 5.0
    assert cell(frame, area="BE", year="2003")["value"] == 8.2
    estimated = cell(frame, area="BE", year="2004")
    assert math.isnan(estimated["value"]) and estimated["status"] == "e"
    assert frame.attrs["units"]["UNR"]["label"] == "%"
    assert frame.attrs["dimension_labels"]["area"] == "OECD countries, EU15 and total"


def test_canada_style_five_dimensions(jdir: Path) -> None:
    frame = read_jsonstat((jdir / "canada_small.json").read_bytes())
    assert len(frame) == 12
    assert frame["country"].tolist() == ["CA"] * 12
    assert frame["country_label"].tolist() == ["Canada"] * 12
    # f = age*6 + concept*3 + sex
    assert cell(frame, age="0-4", concept="POP", sex="F")["value"] == 14.0  # f = 8
    assert cell(frame, age="T", concept="PERC", sex="M")["value"] == 100.0  # f = 4
    assert cell(frame, age="0-4", concept="PERC", sex="M")["value"] == 11.4  # f = 10
    total = frame[(frame["age"] == "T") & (frame["concept"] == "POP")]
    by_sex = dict(zip(total["sex"], total["value"], strict=True))
    assert by_sex["T"] == by_sex["M"] + by_sex["F"]
    assert set(frame.attrs["units"]) == {"POP", "PERC"}


def test_zero_size_dimension_gives_empty_frame(jdir: Path) -> None:
    data = load(jdir, "status_string.json")
    data["size"] = [2, 0]
    data["dimension"]["year"]["category"]["index"] = []
    data["value"] = []
    del data["status"]
    frame = read_jsonstat(data)
    assert len(frame) == 0
    assert list(frame.columns)[:4] == ["region", "year", "value", "status"]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_truncated_body(jdir: Path) -> None:
    body = (jdir / "ssb_style_3dims.json").read_bytes()
    with pytest.raises(JsonStatError, match="not valid JSON") as info:
        read_jsonstat(body[: len(body) // 2])
    assert isinstance(info.value, ValueError)
    with pytest.raises(JsonStatError, match="not valid JSON"):
        read_jsonstat(body[:-3].decode("utf-8"))


def test_html_body_is_not_json() -> None:
    with pytest.raises(JsonStatError, match="not valid JSON"):
        read_jsonstat(b"<html><body>503 Service Unavailable</body></html>")


def test_size_mismatch(jdir: Path) -> None:
    with pytest.raises(JsonStatError, match="gives 4 cells but 'value' has 3"):
        read_jsonstat((jdir / "bad_size_mismatch.json").read_bytes())


def test_jsonstat_1_bundle_refused(jdir: Path) -> None:
    with pytest.raises(JsonStatError, match="1.x bundle"):
        read_jsonstat((jdir / "jsonstat1_bundle.json").read_bytes())


def test_missing_version_refused(jdir: Path) -> None:
    data = load(jdir, "array_index.json")
    del data["version"]
    with pytest.raises(JsonStatError, match="1.x response"):
        read_jsonstat(data)
    data["version"] = "1.02"
    with pytest.raises(JsonStatError, match="only JSON-stat 2.x"):
        read_jsonstat(data)


def test_wrong_class(jdir: Path) -> None:
    with pytest.raises(JsonStatError, match="class 'dimension'"):
        read_jsonstat((jdir / "wrong_class.json").read_bytes())
    with pytest.raises(JsonStatError, match="read_jsonstat_collection"):
        read_jsonstat((jdir / "collection.json").read_bytes())


def test_collection_with_link_only_item(jdir: Path) -> None:
    data = load(jdir, "collection.json")
    data["link"]["item"][1] = {"class": "dataset", "href": "https://example.invalid/c.json"}
    with pytest.raises(JsonStatError, match=r"item 1 .*c\.json.* is a link"):
        read_jsonstat_collection(data)


def test_id_size_length_mismatch(jdir: Path) -> None:
    data = load(jdir, "ssb_style_3dims.json")
    data["size"] = [2, 6]
    with pytest.raises(JsonStatError, match="'id' has 3 dimensions .* 'size' has 2"):
        read_jsonstat(data)


def test_index_position_out_of_range(jdir: Path) -> None:
    data = load(jdir, "ssb_style_3dims.json")
    data["dimension"]["Region"]["category"]["index"] = {"0301": 0, "4601": 2}
    with pytest.raises(JsonStatError, match="'4601' has position 2, outside 0..1"):
        read_jsonstat(data)


def test_index_duplicate_position_and_count(jdir: Path) -> None:
    data = load(jdir, "ssb_style_3dims.json")
    bad = copy.deepcopy(data)
    bad["dimension"]["Region"]["category"]["index"] = {"0301": 0, "4601": 0}
    with pytest.raises(JsonStatError, match="share a position"):
        read_jsonstat(bad)
    bad = copy.deepcopy(data)
    bad["dimension"]["Tid"]["category"]["index"] = {"2020": 0}
    with pytest.raises(JsonStatError, match="'Tid'.*'size' says 2 categories"):
        read_jsonstat(bad)


def test_undescribed_dimension(jdir: Path) -> None:
    data = load(jdir, "ssb_style_3dims.json")
    del data["dimension"]["Tid"]
    with pytest.raises(JsonStatError, match="'Tid' is listed in 'id' but not described"):
        read_jsonstat(data)


def test_non_numeric_value_and_bad_sparse_keys(jdir: Path) -> None:
    data = load(jdir, "bad_size_mismatch.json")
    data["value"] = [1, ":", 3, 4]
    with pytest.raises(JsonStatError, match="non-number: ':'"):
        read_jsonstat(data)
    data["value"] = {"0": 1, "4": 2}
    with pytest.raises(JsonStatError, match="cell index 4, outside 0..3"):
        read_jsonstat(data)


def test_status_array_wrong_length(jdir: Path) -> None:
    data = load(jdir, "status_array.json")
    data["status"] = [None, ":"]
    with pytest.raises(JsonStatError, match="'status' array has 2 entries for 4 cells"):
        read_jsonstat(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (42, "expected a parsed dict, str or bytes, got int"),
        (b"[1, 2, 3]", "top level is list"),
        (b'{"error": "Parameter error"}', "server returned an error"),
        (
            b'{"title": "Too many cells selected", "status": 400, "detail": "x"}',
            "Too many cells selected",
        ),
        (b'{"foo": 1}', "not JSON-stat"),
    ],
)
def test_not_jsonstat(data: object, message: str) -> None:
    with pytest.raises(JsonStatError, match=message):
        read_jsonstat(data)  # type: ignore[arg-type]


def test_error_names_the_source(jdir: Path) -> None:
    body = (jdir / "bad_size_mismatch.json").read_bytes()
    with pytest.raises(JsonStatError, match="^table 99999: "):
        read_jsonstat(body, name="table 99999")


# --------------------------------------------------------------------------------------------
# Real SSB response (offline snapshot): independent reference decoder and pyjstat
# --------------------------------------------------------------------------------------------


def reference_decode(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Slow, obvious JSON-stat 2.0 decoder: a Python loop over every cell, row-major per spec."""
    ids, sizes = doc["id"], doc["size"]
    codes: list[list[str]] = []
    labels: list[list[str]] = []
    for dim_id, n in zip(ids, sizes, strict=True):
        category = doc["dimension"][dim_id]["category"]
        index = category.get("index")
        if index is None:
            ordered = list(category["label"])
        elif isinstance(index, list):
            ordered = list(index)
        else:
            ordered = [""] * n
            for code, pos in index.items():
                ordered[pos] = code
        codes.append(ordered)
        labels.append([category.get("label", {}).get(c, c) for c in ordered])
    strides = [math.prod(sizes[k + 1 :]) for k in range(len(sizes))]
    status = doc.get("status") or {}
    rows = []
    for flat, value in enumerate(doc["value"]):
        row: dict[str, Any] = {}
        for k, dim_id in enumerate(ids):
            pos = (flat // strides[k]) % sizes[k]
            row[dim_id] = codes[k][pos]
            row[f"{dim_id}_label"] = labels[k][pos]
        row["value"] = float("nan") if value is None else float(value)
        row["status"] = status.get(str(flat)) if isinstance(status, dict) else None
        rows.append(row)
    return rows


@pytest.mark.snapshot
def test_real_03024_against_reference_decoder(snapshot_dir: Path) -> None:
    body = (snapshot_dir / REAL_03024).read_bytes()
    frame = read_jsonstat(body)
    doc = json.loads(body)
    expected = reference_decode(doc)
    assert doc["size"] == [2, 2, 48]
    assert len(frame) == len(expected) == 192
    records = frame.to_dict(orient="records")
    for flat, (got, want) in enumerate(zip(records, expected, strict=True)):
        for key, want_value in want.items():
            got_value = got[key]
            if key == "value":
                assert got_value == want_value or (
                    math.isnan(got_value) and math.isnan(want_value)
                ), (flat, key)
            elif key == "status":
                assert (got_value is pd.NA and want_value is None) or got_value == want_value
            else:
                assert got_value == want_value, (flat, key, got_value, want_value)


@pytest.mark.snapshot
def test_real_03024_first_values_from_api_notes(snapshot_dir: Path) -> None:
    frame = read_jsonstat((snapshot_dir / REAL_03024).read_bytes())
    # API-NOTES §8.3: 11364 and 15939 tonnes of fresh salmon in weeks 2025U01 and 2025U02.
    assert cell(frame, VareGrupper2="01", ContentsCode="Vekt", Tid="2025U01")["value"] == 11364
    assert cell(frame, VareGrupper2="01", ContentsCode="Vekt", Tid="2025U02")["value"] == 15939
    assert frame["VareGrupper2_label"].iloc[0] == "Fersk oppalen laks"
    assert frame.attrs["units"]["Vekt"] == {"base": "tonn", "decimals": 0}
    assert frame.attrs["role"]["metric"] == ["ContentsCode"]


@pytest.mark.snapshot
@pytest.mark.filterwarnings("ignore:Shouldn't use this function anymore:DeprecationWarning")
def test_real_03024_against_pyjstat(snapshot_dir: Path) -> None:
    pyjstat = pytest.importorskip("pyjstat.pyjstat")
    text = (snapshot_dir / REAL_03024).read_text(encoding="utf-8")
    theirs = pyjstat.Dataset.read(text).write("dataframe", naming="id")
    ours = read_jsonstat(text)
    dims = ["VareGrupper2", "ContentsCode", "Tid"]
    assert len(theirs) == len(ours)
    for dim in dims:
        assert theirs[dim].astype(str).tolist() == ours[dim].tolist(), dim
    np.testing.assert_array_equal(
        theirs["value"].to_numpy(dtype=float), ours["value"].to_numpy(dtype=float)
    )


# --------------------------------------------------------------------------------------------
# Categorical default, string output, and the byte scan for booleans
# --------------------------------------------------------------------------------------------

#: 3 regions x 2 years. ``index`` lists the codes out of position order; two region codes share
#: the label "Trøndelag"; the years have no labels. Cell f = 2 * region + year.
OUT_OF_ORDER = {
    "version": "2.0",
    "class": "dataset",
    "id": ["Region", "Tid"],
    "size": [3, 2],
    "dimension": {
        "Region": {
            "label": "Region",
            "category": {
                "index": {"50": 2, "16": 0, "17": 1},
                "label": {"16": "Trøndelag", "17": "Trøndelag", "50": "Trøndelag - Trööndelage"},
            },
            "extension": {"elimination": True, "show": "value"},
        },
        "Tid": {"category": {"index": {"2018": 1, "2017": 0}}},
    },
    "value": [1, 2.5, None, 4, 5, 6],
    "status": {"2": ".."},
}
CODE_COLUMNS = ["Region", "Tid", "Region_label", "Tid_label"]


def test_default_is_categorical_in_cube_order() -> None:
    frame = read_jsonstat(json.dumps(OUT_OF_ORDER).encode())
    assert list(frame.columns) == ["Region", "Tid", "value", "status", *CODE_COLUMNS[2:]]
    region, year = frame["Region"], frame["Tid"]
    assert isinstance(region.dtype, pd.CategoricalDtype)
    assert isinstance(year.dtype, pd.CategoricalDtype)
    # Categories follow the positions (16 -> 0, 17 -> 1, 50 -> 2), not the order of the keys.
    assert region.cat.categories.tolist() == ["16", "17", "50"]
    assert year.cat.categories.tolist() == ["2017", "2018"]
    assert pd.api.types.is_string_dtype(region.cat.categories)
    # Row-major, last dimension fastest: the codes are the positions.
    assert region.cat.codes.tolist() == [0, 0, 1, 1, 2, 2]
    assert year.cat.codes.tolist() == [0, 1, 0, 1, 0, 1]
    assert region.tolist() == ["16", "16", "17", "17", "50", "50"]
    assert frame["value"].dtype == np.float64
    np.testing.assert_array_equal(frame["value"], [1.0, 2.5, np.nan, 4.0, 5.0, 6.0])
    assert frame["status"].dtype == pd.StringDtype(na_value=pd.NA)
    assert frame["status"].isna().tolist() == [True, True, False, True, True, True]
    assert frame["status"].iloc[2] == ".."
    # Selecting by code works on the Categorical as on strings.
    selected = frame.loc[frame["Region"] == "17", "value"].tolist()
    assert math.isnan(selected[0]) and selected[1] == 4.0
    validate_tidy(frame, ["Region", "Tid"])


def test_repeated_labels_are_one_category() -> None:
    frame = read_jsonstat(json.dumps(OUT_OF_ORDER))
    labels = frame["Region_label"]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert labels.cat.categories.tolist() == ["Trøndelag", "Trøndelag - Trööndelage"]
    assert labels.tolist() == ["Trøndelag"] * 4 + ["Trøndelag - Trööndelage"] * 2
    # No labels: the code is the label.
    assert frame["Tid_label"].tolist() == ["2017", "2018"] * 3


def test_categorical_false_gives_the_same_values_as_strings() -> None:
    strings = read_jsonstat(json.dumps(OUT_OF_ORDER), categorical=False)
    for col in CODE_COLUMNS:
        assert not isinstance(strings[col].dtype, pd.CategoricalDtype), col
        assert pd.api.types.is_string_dtype(strings[col]), col
        assert all(isinstance(v, str) for v in strings[col]), col
    assert strings["Region"].tolist() == ["16", "16", "17", "17", "50", "50"]
    assert strings["Tid"].tolist() == ["2017", "2018"] * 3
    assert strings["Region_label"].tolist()[3:5] == ["Trøndelag", "Trøndelag - Trööndelage"]
    np.testing.assert_array_equal(strings["value"], [1.0, 2.5, np.nan, 4.0, 5.0, 6.0])


def test_astype_str_of_the_default_equals_the_string_output(jdir: Path) -> None:
    for body in (json.dumps(OUT_OF_ORDER).encode(), (jdir / "ssb_style_3dims.json").read_bytes()):
        default = read_jsonstat(body)
        strings = read_jsonstat(body, categorical=False)
        columns = [c for c in default.columns if c not in ("value", "status")]
        converted = default.astype(dict.fromkeys(columns, str))
        pd.testing.assert_frame_equal(converted, strings)
        assert converted.attrs == strings.attrs


def test_collection_default_is_categorical_too(jdir: Path) -> None:
    a, b = read_jsonstat_collection((jdir / "collection.json").read_bytes())
    assert isinstance(b["sex"].dtype, pd.CategoricalDtype)
    assert b["sex"].cat.categories.tolist() == ["T", "M", "F"]
    [plain, _] = read_jsonstat_collection(
        (jdir / "collection.json").read_bytes(), categorical=False
    )
    assert not isinstance(plain["region"].dtype, pd.CategoricalDtype)
    assert plain["region"].tolist() == a["region"].tolist() == ["03", "46"]


def test_columns_do_not_share_memory() -> None:
    frame = read_jsonstat(json.dumps(OUT_OF_ORDER))
    # Labels are distinct for the years, so their codes equal the positions: still two arrays.
    frame.loc[0, "Tid"] = "2018"
    frame.loc[1, "value"] = 9.0
    assert frame["Tid"].tolist()[:2] == ["2018", "2018"]
    assert frame["Tid_label"].tolist()[:2] == ["2017", "2018"]
    assert frame["value"].tolist()[:2] == [1.0, 9.0]


def _body(value: str, *, before: str = "", label: str = "Oslo") -> bytes:
    """A 1 x 2 dataset as text, with ``value`` spelled as given (raw JSON)."""
    return (
        '{"version": "2.0", "class": "dataset", ' + before + '"id": ["region", "year"], '
        '"size": [1, 2], "dimension": {"region": {"category": {"index": {"03": 0}, '
        '"label": {"03": "' + label + '"}}, "extension": {"elimination": true}}, '
        '"year": {"category": {"index": ["2020", "2021"]}}}, "value": ' + value + "}"
    ).encode()


@pytest.mark.parametrize(
    ("label", "before"),
    [
        ("true or false", ""),  # the words in a label
        ('the \\"value\\": [true] text', ""),  # a key-like text inside a string
        ("Oslo", '"extension": {"value": [true, false], "flag": true}, '),  # another "value" key
        ("Oslo", '"note": ["value"], '),
    ],
)
def test_true_elsewhere_in_the_body_is_fine(label: str, before: str) -> None:
    body = _body("[1, 2.5]", before=before, label=label)
    for data in (body, body.decode("utf-8"), bytearray(body), memoryview(body)):
        frame = read_jsonstat(data)
        assert frame["value"].tolist() == [1.0, 2.5]
    assert read_jsonstat(body, categorical=False)["region_label"].iloc[0] == json.loads(
        f'"{label}"'
    )


@pytest.mark.parametrize(
    "value",
    [
        "[1, true]",
        "[false, 2]",
        "[ true , null ]",
        '{"1": true}',  # sparse
    ],
)
def test_a_boolean_value_is_refused_as_bytes_and_as_a_dict(value: str) -> None:
    body = _body(value)
    for data in (body, body.decode("utf-8"), bytearray(body), memoryview(body), json.loads(body)):
        with pytest.raises(JsonStatError, match="boolean"):
            read_jsonstat(data)


@pytest.mark.parametrize(
    "spelling",
    [
        '"value" : [1, true]',  # blanks around the colon
        '"value":\n[\ntrue, 1]',
        '"\\u0076alue": [1, true]',  # the key with an escaped letter
        '"valu\\u0065": [1, true]',
        '"VALUE": [0], "value": [1, true]',
        '"extension": {"value": [0]}, "value": [1, true]',  # a numeric "value" array first
    ],
)
def test_a_boolean_value_is_refused_however_the_key_is_written(spelling: str) -> None:
    head = _body("[0, 0]")[: -len(b'"value": [0, 0]}')]
    body = head + spelling.encode() + b"}"
    assert json.loads(body)["value"][1] is True or json.loads(body)["value"][0] is True
    with pytest.raises(JsonStatError, match="boolean"):
        read_jsonstat(body)


def test_a_boolean_in_a_collection_item_is_refused(jdir: Path) -> None:
    doc = load(jdir, "collection.json")
    doc["link"]["item"][1]["value"][1] = True
    with pytest.raises(JsonStatError, match="item 1: 'value' holds a boolean"):
        read_jsonstat_collection(json.dumps(doc).encode())


def test_non_numbers_and_nested_arrays_are_refused() -> None:
    with pytest.raises(JsonStatError, match="non-number: 'x'"):
        read_jsonstat(_body('["x", 2]'))
    with pytest.raises(JsonStatError, match="must be flat"):
        read_jsonstat(_body("[[1], [2]]"))
    with pytest.raises(JsonStatError, match="must be flat"):
        read_jsonstat(_body("[1, [2]]"))
    with pytest.raises(JsonStatError, match="non-number: {'a': 2}"):
        read_jsonstat(_body('[1, {"a": 2}]'))


def test_numeric_strings_are_read_as_before() -> None:
    # The decoder has always let numpy convert "1.5" (pyarrow refuses it; numpy takes over).
    assert read_jsonstat(_body('["1.5", null]'))["value"].tolist()[0] == 1.5


def test_integers_beyond_64_bits_are_read_as_floats() -> None:
    # 2**70 = 1180591620717411303424 (exactly representable as a float64), and -1
    frame = read_jsonstat(_body("[1180591620717411303424, -1]"))
    assert frame["value"].tolist() == [2.0**70, -1.0]


def test_the_byte_scan_clears_an_ssb_shaped_body(jdir: Path) -> None:
    """The fast path is taken on a real-shaped body (``elimination: true``, ``"show": "value"``)
    and refused where a value array holds a letter t or f."""
    from regionstats.sources.jsonstat import _value_arrays_lack_booleans

    body = (jdir / "ssb_style_3dims.json").read_bytes()
    assert b"true" in body and b'"show": "value"' in body
    assert _value_arrays_lack_booleans(body)
    assert _value_arrays_lack_booleans(body.decode("utf-8"))
    assert not _value_arrays_lack_booleans(body.replace(b"[12.0,", b"[true,"))
    assert not _value_arrays_lack_booleans(body.replace(b"13.5", b"false"))
    assert not _value_arrays_lack_booleans(body.replace(b'"source"', b'"\\u0076alue"'))
