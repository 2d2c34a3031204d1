"""dv-analysis overlay (stages.overlay, layers.any_rows, layers.addresses, pages.overlay): the
real burglary file accounted for row by row, the road-band inference's held-out accuracy,
the welfare layer against a planted risk, the covariate, the open data and the page."""

import json

import numpy as np
import pandas as pd
import pytest

from dv_analysis.errors import ParameterError
from dv_analysis.layers import load_boundaries
from dv_analysis.layers.addresses import RoadBands, Rule, parse_address, roc_dates
from dv_analysis.stages.overlay import OUTPUTS, OverlayParams, covariate, publish, run

BURGLARY = "crime/taipei_residential_burglary_2015-2022.csv"
WELFARE = "welfare/village_welfare_recipients_2023.csv"


def test_addresses_are_parsed_into_district_village_street_and_band():
    p = parse_address("臺北市士林區天福里1鄰忠誠路2段130巷1~30號")
    assert (p["district"], p["village"], p["street"], p["band"]) == (
        "士林區",
        "天福里",
        "忠誠路2段130巷",
        1,
    )
    assert parse_address("臺北市萬華區糖?里大理街159巷1~30號")["village"] == "糖?里"
    p = parse_address("臺北市中山區南京東路三段181~210號")  # a section in Chinese numerals
    assert (p["road"], p["band"], p["village"]) == ("南京東路3段", 181, "")
    assert parse_address("臺北市大同區長順街")["problem"] == ""  # a road without a number
    assert parse_address("")["problem"] == "no district in the address"
    assert roc_dates(pd.Series(["1021219"])).iloc[0] == pd.Timestamp("2013-12-19")


def test_road_bands_predict_only_where_confident():
    rows = pd.DataFrame(
        {
            "district": ["大安區"] * 6,
            "street": ["A路"] * 3 + ["B路"] * 3,
            "road": ["A路"] * 3 + ["B路"] * 3,
            "band": [1] * 6,
            "position": [1] * 6,
            "villcode": ["1", "1", "1", "1", "2", None],
        }
    )
    pred = RoadBands(rows, Rule(2, 0.8)).predict(rows)
    assert pred["villcode"].tolist()[:3] == ["1", "1", "1"]
    assert pd.isna(pred["villcode"].iloc[5])  # B路 names two villages: not confident


@pytest.fixture(scope="module")
def burglary(tmp_path_factory):
    from tests.conftest import make_settings

    s = make_settings(tmp_path_factory.mktemp("ov"))
    out = tmp_path_factory.mktemp("out")
    res = run(s, s.public_dir / BURGLARY, out, OverlayParams(permutations=999))
    return s, out, res


@pytest.mark.slow(seconds=25, why="the road-band rule chosen by cross-validation on 3,415 rows")
def test_real_burglary_file_is_accounted_for_row_by_row(burglary):
    _, out, res = burglary
    m = json.loads((out / OUTPUTS["match"]).read_text(encoding="utf-8"))
    assert m["rows"] == 3415 and m["accounted"]
    assert sum(m["matched"].values()) + sum(m["unmatched"].values()) == 3415
    assert m["matched"]["village_name"] >= 1800  # 糖?里 included (the '?' wildcard)
    assert sum(m["district_only"].values()) == m["matched"]["district_only"]
    # the road-band inference is used only where its held-out accuracy is ≥ 90 %
    held = m["road_band"]["held_out"]
    assert held and all(r["accuracy"] >= 0.9 for r in held)
    assert m["matched"].get("road_band", 0) > 0
    # dated: the window ends at the last complete quarter (the file ends 2022-07-29)
    assert m["period"]["last_complete_quarter"] == "2022Q2"
    assert m["period"]["after_window"] > 0
    assert any("2021-03" in n for n in m["notes"])  # the registers end 2021-03: said
    v = pd.read_csv(out / OUTPUTS["villages"], dtype={"villcode": str})
    assert len(v) == 456 and {"villcode", "count", "rate", "rate_eb"} <= set(v.columns)
    # districts whose police rarely name the village get no village rate, never a false zero
    assert v.loc[v["townname"] == "中山區", "rate"].isna().all()


def test_window_past_the_layers_last_complete_quarter_is_refused(burglary):
    s, out, _ = burglary
    with pytest.raises(ParameterError, match="2022Q2"):
        run(s, s.public_dir / BURGLARY, out, OverlayParams(period="2022Q3", permutations=99))


def _planted_dv(settings, rate: pd.Series, period="2020Q4"):
    """A fake quarter of domestic-violence outputs whose risk follows the layer's rate."""
    clean = settings.period(period).clean
    clean.mkdir(parents=True)
    rng = np.random.default_rng(0)
    z = (rate - rate.mean()) / rate.std()
    risk = pd.DataFrame(
        {"villcode": rate.index, "rr_now_mean": np.exp(0.3 * z + 0.1 * rng.normal(size=len(z)))}
    )
    risk.to_parquet(clean / "village_risk.parquet")
    tier = np.where(risk["rr_now_mean"].rank(ascending=False) <= 20, 2, 0)
    pd.DataFrame({"villcode": rate.index, "tier": tier}).to_parquet(
        clean / "village_priority.parquet"
    )


@pytest.mark.slow(seconds=15, why="9,999 spectral surrogates and permutations on 456 villages")
def test_welfare_layer_against_a_planted_risk_and_the_page(settings, tmp_path):
    from dv_analysis.pages.overlay import overlay_page

    w = pd.read_csv(settings.public_dir / WELFARE, dtype={"VILLCODE": str}).set_index("VILLCODE")
    _planted_dv(settings, w["cnt_total"].astype(float))
    params = OverlayParams(kind="villages", count="cnt_total")
    res = run(settings, settings.public_dir / WELFARE, tmp_path, params)
    assert res.match["matched"] == {"village_code": 456}
    bv = res.summary["bivariate"]
    assert bv["I"] > 0 and bv["p_spatial"] <= 0.05 and res.bivariate["cluster"].eq("HH").any()
    assert res.summary["covariate"]["note"].startswith("no village_features")
    assert len(res.colocation) == 2  # tiers 2 and 0
    path = publish(res, tmp_path)
    pub = pd.read_csv(path)
    assert (pub["layer_count"].dropna() % 5 == 0).all()
    assert path.with_name("overlay_districts_dictionary.csv").exists()
    page = overlay_page(res, load_boundaries(settings), "福利人口")
    assert "不表示一個造成另一個" in page and "http" not in page.replace("http-equiv", "")


def test_covariate_irr_of_a_layer_that_drives_incidents():
    rng = np.random.default_rng(1)
    n = 300
    feats = pd.DataFrame(
        {
            "villcode": [f"v{i}" for i in range(n)],
            "density_per_km2": rng.uniform(1e3, 5e4, n),
            "low_income_per_1000": rng.normal(20, 5, n),
            "person_quarters_w": rng.uniform(2e4, 6e4, n),
        }
    )
    layer = pd.DataFrame({"villcode": feats["villcode"], "rate_eb": rng.normal(10, 3, n)})
    mu = feats["person_quarters_w"] * 1e-3 * np.exp(0.1 * (layer["rate_eb"] - 10))
    feats["incidents_w"] = rng.poisson(mu * rng.gamma(5.0, 1 / 5.0, n))  # NB2, α = 0.2
    acc = pd.DataFrame({"villcode": feats["villcode"], "access_index": rng.normal(size=n)})
    cov = covariate(layer, {"village_features": feats, "accessibility": acc})
    # true IRR per SD: exp(0.1 × 3) ≈ 1.35
    assert cov["ci_low"] < np.exp(0.1 * layer["rate_eb"].std()) < cov["ci_high"]
    assert cov["ci_low"] > 1 and cov["aic_with"] < cov["aic_without"]
