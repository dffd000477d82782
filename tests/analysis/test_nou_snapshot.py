"""The NOU 2020:12 check on the real snapshot (skips without it)."""

from __future__ import annotations

import numpy as np
import pytest

from regionstats.analysis import beta_convergence, merge_trondelag, nou_check, shift_share
from regionstats.indicators import productivity
from regionstats.indicators.allocation import municipality_counties
from regionstats.regions import centrality_table
from regionstats.sources import regions_files as rf
from regionstats.sources.accounts import regional_accounts
from regionstats.sources.employment_files import read_13470_telemark
from regionstats.sources.regions_files import read_population_2024_boundaries

pytestmark = pytest.mark.snapshot


@pytest.fixture(scope="module")
def inputs(snapshot_dir, code_history):
    acc = regional_accounts(source="snapshot", snapshot=snapshot_dir)
    pop = read_population_2024_boundaries(snapshot_dir)
    cen = centrality_table(2024, codes=rf.read_centrality_codes(snapshot_dir), history=code_history)
    cty = municipality_counties(pop["region"].unique(), 2024, history=code_history)
    return acc, pop, cen, cty


def test_nou_check(inputs, snapshot_dir):
    acc, pop, cen, cty = inputs
    emp = read_13470_telemark(snapshot_dir)
    out = nou_check(acc, pop, cen, cty, employment=emp)
    s = out["summary"]
    res = s["county_results"]["business_excl_finance:productivity"]
    # 19 counties of 2008-2019 with Sør- and Nord-Trøndelag as one (18), less Nordland (18) and
    # Trøndelag (50): the snapshot's population file has no 2008 number for 1806 Narvik, 5055 Heim,
    # 5056 Hitra and 5059 Orkland (PROVENANCE.md), so their counties' shares are missing, not 0
    assert res["n"] == 16
    assert sorted(res["dropped"]) == ["18", "50"]
    assert res["ci95"][0] < res["slope"] < res["ci95"][1]
    assert any("cannot separate municipalities" in c for c in s["caveats"])
    assert any("accounts counties 08" in c for c in s["caveats"])  # Telemark only offline
    assert s["class_results"]["counties"] == ["08"]
    assert s["class_results"]["window"] == (2016, 2019)
    # the regression prints its n and uses t: the CI is wider than a z interval would be
    assert res["ci"].startswith("t with")
    assert 0 < res["p_perm"] <= 1
    # the regression slope is the OLS slope of the returned growth on the returned shares
    g = out["county_growth"]
    g = g[(g["scope"] == "business_excl_finance") & (g["outcome"] == "productivity")]
    x = out["peripherality"]
    x = x[x["measure"] == "share_class_5_6"].set_index("region")["value"].dropna()
    g = g[g["region"].isin(x.index)]
    slope = np.polyfit(x.loc[g["region"]].to_numpy(), g["value"].to_numpy(), 1)[0]
    assert res["slope"] == pytest.approx(slope)
    assert out["classes"]["summary"]["estimate"] is True
    reg = out["regressions"]
    assert (reg["n"] == reg["df"] + 2).all()


def test_peripherality_oslo_zero_finnmark_high(inputs):
    _acc, pop, cen, cty = inputs
    out = nou_check(*inputs)["peripherality"]
    share = out[out["measure"] == "share_class_5_6"].set_index("region")["value"]
    assert share["03"] == 0.0
    assert share["20"] > 0.3
    assert out.attrs["centrality_edition"] == 2024


def test_convergence_and_shift_share_run(inputs):
    acc = merge_trondelag(inputs[0])
    p = productivity(acc, "business_excl_finance")
    p = p[~p["region"].isin(["0", "16", "17"])]
    _table, s = beta_convergence(p, 2008, 2019)
    assert s["n"] == 18
    ss = shift_share(acc, 2008, 2019)
    wide = ss.pivot(index="region", columns="component", values="value")
    total = wide["national"] + wide["industry_mix"] + wide["regional"]
    assert np.allclose(total, wide["actual_change"], rtol=0, atol=1e-6)
    assert "50" in wide.index


def test_nou_check_in_volume_uses_exact_2019_counties(inputs, code_history):
    acc, pop, cen, cty = inputs
    out = nou_check(acc, pop, cen, cty, price="volume", history=code_history)
    res = out["summary"]["county_results"]["business_excl_finance:productivity"]
    # 19 counties of 2008-2019: 16+17 (Trøndelag) and 15 (Rindal's move in 2019) form one region
    # ... less Nordland (18) and 15+50, whose 2008 population shares are missing because the
    # snapshot's population file has no 2008 number for 1806 Narvik and 5055/5056/5059
    assert res["n"] == 15
    assert sorted(res["dropped"]) == ["15+50", "18"]
    assert "volume" in res["outcome"]
    g = out["county_growth"]
    assert "15+50" in set(g["region"]) and not {"15", "16", "17", "50"} & set(g["region"])
    x = out["peripherality"]
    share = x[x["measure"] == "share_class_5_6"].set_index("region")["value"]
    assert "15+50" in share.index
    # a group with a missing part is missing (status propagated), never a partial sum
    parts = nou_check(acc, pop, cen, cty)["peripherality"]
    parts = parts[parts["measure"] == "share_class_5_6"].set_index("region")["value"]
    assert np.isnan(parts["50"]) and np.isnan(share["15+50"]) and not np.isnan(parts["15"])
    assert any("volume" in c for c in out["summary"]["caveats"])
    with pytest.raises(ValueError, match="price"):
        nou_check(acc, pop, cen, cty, price="real")  # type: ignore[arg-type]
