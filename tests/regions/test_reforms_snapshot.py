"""Real reforms, checked against the offline snapshot (skipped when it is absent).

Expected values come from public knowledge of the reforms (which municipalities merged) and are
summed in the tests from the raw rows, never from the code's output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regionstats.regions import (
    MissingWeightsError,
    UnknownCodeError,
    harmonise,
)
from regionstats.sources import regions_files as rf

pytestmark = pytest.mark.snapshot


@pytest.fixture(scope="module")
def history(offline_history):
    return offline_history


@pytest.fixture(scope="module")
def population(snapshot_dir):
    return rf.read_population_2024_boundaries(snapshot_dir)


def _frame_of_year(history, year, value=lambda code: float(int(code))):
    codes = sorted(history.codes[year])
    return pd.DataFrame(
        {
            "region": pd.array(codes, dtype="str"),
            "year": year,
            "value": [value(c) for c in codes],
            "status": pd.array([pd.NA] * len(codes), dtype="string"),
        }
    )


def test_history_matches_every_code_list(history):
    # build_history checks 2017-2020 against the lists; the counts are SSB's published ones
    assert len(history.codes[2019]) == 422
    assert len(history.codes[2020]) == 356
    assert len(history.codes[2024]) == 357


def test_2024_changes_match_population_and_map_codes(history, population, snapshot_dir):
    assert set(population["region"]) == history.codes[2024]
    geo = rf.read_boundaries("municipality", 2024, snapshot_dir=snapshot_dir)
    assert set(geo["region"]) == history.codes[2024]


def test_2024_changes_match_third_party_mapping(snapshot_dir):
    ours = rf.read_changes_2024()
    theirs = rf.read_historic_to_2024(snapshot_dir)
    theirs = theirs[theirs["end_year"] == 2023].set_index("code")["code_2024"]
    renumbered = ours[ours["oldCode"] != "1507"].set_index("oldCode")["newCode"]
    assert set(renumbered.index) <= set(theirs.index)
    assert (renumbered == theirs.loc[renumbered.index]).all()
    # the split: the third party keeps one successor, ours has both
    assert theirs["1507"] in set(ours.loc[ours["oldCode"] == "1507", "newCode"])


def test_2020_mergers_kristiansand_and_lindesnes(history):
    frame = _frame_of_year(history, 2019)
    out = harmonise(frame, "municipality", 2020, exact=True, history=history).set_index("region")
    v = frame.set_index("region")["value"]
    # Kristiansand 4204 = Kristiansand 1001 + Songdalen 1017 + Søgne 1018
    assert out.loc["4204", "value"] == v["1001"] + v["1017"] + v["1018"]
    # Lindesnes 4205 = Mandal 1002 + Marnardal 1021 + Lindesnes 1029
    assert out.loc["4205", "value"] == v["1002"] + v["1021"] + v["1029"]
    assert out["value"].sum() == v.sum()
    audit = out.attrs["audit"]
    assert set(audit.loc[audit["target"] == "4204", "region"]) == {"1001", "1017", "1018"}


def test_2020_split_of_snillfjord(history, snapshot_dir):
    frame = _frame_of_year(history, 2019)
    no_tysfjord = frame[frame["region"] != "1850"]
    with pytest.raises(MissingWeightsError, match=r"5012 .*5055, 5056, 5059.*source_region"):
        harmonise(no_tysfjord, "municipality", 2020, history=history)
    fhi = rf.read_fhi_split_weights(snapshot_dir)
    out = harmonise(frame, "municipality", 2020, weights=fhi, history=history).set_index("region")
    v = frame.set_index("region")["value"]
    w = fhi.set_index(["source_region", "region"])["weight"]
    # Heim 5055 = Hemne 5011 + Halsa 1571 + its part of Snillfjord 5012
    assert out.loc["5055", "value"] == pytest.approx(
        v["5011"] + v["1571"] + v["5012"] * w[("5012", "5055")], rel=1e-12
    )
    assert out.loc["5056", "value"] == pytest.approx(v["5013"] + v["5012"] * w[("5012", "5056")])
    assert out["value"].sum() == pytest.approx(v.sum(), rel=1e-15)
    audit = out.attrs["audit"]
    snill = audit[audit["region"] == "5012"]
    assert set(snill["target"]) == {"5055", "5056", "5059"} and (snill["kind"] == "split").all()
    assert snill["share"].sum() == pytest.approx(1.0)


def test_2020_snillfjord_exact(history):
    frame = _frame_of_year(history, 2019)
    out = harmonise(frame, "municipality", 2020, exact=True, history=history).set_index("region")
    v = frame.set_index("region")["value"]
    # Heim (Hemne, Halsa), Hitra, Orkland (Orkdal, Meldal, Agdenes) and Snillfjord
    members = ["5011", "1571", "5013", "5024", "5023", "5016", "5012"]
    assert out.loc["5055+5056+5059", "value"] == v[members].sum()


def test_2024_split_of_alesund_and_haram(history, population):
    frame = _frame_of_year(history, 2023)
    with pytest.raises(MissingWeightsError, match="1507"):
        harmonise(frame, "municipality", 2024, history=history)
    # 1580 Haram has no population for 2023 (it was part of Ålesund): the weights of
    # 1 January 2024 apportion the split
    weights = population.dropna(subset=["value"]).rename(columns={"value": "weight"})
    weights = weights[["region", "year", "weight"]]
    out = harmonise(frame, "municipality", 2024, weights=weights, history=history).set_index(
        "region"
    )
    p = population.set_index(["region", "year"])["value"]
    share = p[("1508", 2024)] / (p[("1508", 2024)] + p[("1580", 2024)])
    assert out.loc["1508", "value"] == pytest.approx(1507 * share, rel=1e-12)
    assert out.loc["1508", "value"] + out.loc["1580", "value"] == 1507.0
    assert out.loc["3101", "value"] == 3001.0  # Halden renumbered
    assert out["value"].sum() == frame["value"].sum()
    audit = out.attrs["audit"]
    row = audit[(audit["region"] == "1507") & (audit["target"] == "1580")].iloc[0]
    assert row["weight_year"] == 2024 and row["share"] == pytest.approx(1 - share)


@pytest.mark.parametrize("to", [2020, 2024])
def test_population_keeps_national_totals(population, history, to):
    out = harmonise(population, "municipality", to, history=history)
    assert out["region"].nunique() == len(history.codes[to])
    raw = population.groupby("year")["value"].sum()
    got = out.groupby("year")["value"].sum()
    p = population.set_index(["region", "year"])["value"]
    if to == 2020:
        # 1507 Ålesund = 1508 + 1580 is missing where 1580 Haram is (2020-2023)
        alesund, haram = p.xs("1508", level="region"), p.xs("1580", level="region")
        raw = raw - alesund.where(haram.isna(), 0.0).reindex(raw.index, fill_value=0.0)
    assert (raw == got).all()
    if to == 2020:
        o = out.set_index(["region", "year"])["value"]
        assert o[("1507", 2010)] == p[("1508", 2010)] + p[("1580", 2010)]


def test_unknown_and_expired_codes(history):
    frame = pd.DataFrame(
        {"region": pd.array(["1001"], dtype="str"), "year": [2021], "value": [1.0]}
    )
    with pytest.raises(UnknownCodeError, match=r"'1001' is not valid in 2021.*-2019"):
        harmonise(frame, "municipality", 2024, history=history)
    frame["region"] = pd.array(["9876"], dtype="str")
    with pytest.raises(UnknownCodeError, match="9876"):
        harmonise(frame, "municipality", 2024, history=history)


# --- counties --------------------------------------------------------------------------------


def _counties(codes, year):
    return pd.DataFrame(
        {
            "region": pd.array(codes, dtype="str"),
            "year": year,
            "value": [float(int(c)) for c in codes],
            "status": pd.array([pd.NA] * len(codes), dtype="string"),
        }
    )


COUNTIES_2019 = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "14",
                 "15", "18", "19", "20", "50"]  # fmt: skip


def test_counties_2019_exact_to_2020(history):
    out = harmonise(_counties(COUNTIES_2019, 2019), "county", 2020, exact=True, history=history)
    groups = set(out["region"])
    # Jevnaker/Lunner (05 -> 30), Svelvik (07 -> Drammen, 30) tie Viken, Innlandet, V. og T.;
    # Hornindal (14 -> 15), Halsa (15 -> 50) tie Vestland, Møre og Romsdal, Trøndelag;
    # Tjeldsund (18 -> 54) ties Nordland to Troms og Finnmark
    assert groups == {"03", "11", "42", "30+34+38", "15+46+50", "18+54"}
    assert out["value"].sum() == sum(float(int(c)) for c in COUNTIES_2019)


def test_counties_weighted_need_weights_and_name_the_moves(history):
    with pytest.raises(MissingWeightsError, match=r"0532 .*0533 "):
        harmonise(_counties(["05"], 2019), "county", 2020, history=history)


def test_county_splits_2024_with_population(history, population):
    pop2023 = harmonise(population, "municipality", 2023, history=history)
    weights = pop2023[pop2023["year"] == 2023].rename(columns={"value": "weight"})
    frame = _counties(["30", "38", "54", "03"], 2023)
    out = harmonise(frame, "county", 2024, weights=weights, history=history).set_index("region")
    p = population[population["year"] == 2023]
    by_county = p.groupby(p["region"].str[:2])["value"].sum()
    viken = by_county[["31", "32", "33"]].sum()
    assert out.loc["31", "value"] == pytest.approx(30 * by_county["31"] / viken, rel=1e-12)
    assert out.loc["40", "value"] == pytest.approx(
        38 * by_county["40"] / (by_county["39"] + by_county["40"]), rel=1e-12
    )
    assert out.loc[["31", "32", "33"], "value"].sum() == pytest.approx(30.0, rel=1e-15)
    assert out["value"].sum() == pytest.approx(frame["value"].sum(), rel=1e-15)
    audit = out.attrs["audit"]
    assert set(audit.loc[audit["region"] == "54", "target"]) == {"55", "56"}
    exact = harmonise(frame, "county", 2024, exact=True, history=history)
    assert set(exact["region"]) == {"03", "31+32+33", "39+40", "55+56"}


def test_national_total_passes_through(history):
    frame = _counties(["0", "03"], 2019)
    out = harmonise(frame, "county", 2024, exact=True, history=history)
    assert set(out["region"]) == {"0", "03"}
    assert np.isclose(out.set_index("region").loc["0", "value"], 0.0)


def test_rebuild_crosswalks_writes_versioned_files(snapshot_dir, tmp_path):
    paths = rf.rebuild_crosswalks(tmp_path, snapshot_dir=snapshot_dir)
    assert sorted(p.name for p in paths) == [
        "municipality_crosswalk_2020.csv",
        "municipality_crosswalk_2024.csv",
    ]
    cw = pd.read_csv(paths[1], dtype={"region": str, "target": str})
    rows = cw[(cw["region"] == "0532") & (cw["year"] == 2019)]  # Jevnaker: 0532 -> 3053 -> 3236
    assert rows["target"].tolist() == ["3236"] and rows["weight"].tolist() == [1.0]
