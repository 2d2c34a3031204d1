"""The open-data layers (dv_analysis.layers), checked against facts of the published files."""

import pandas as pd
import pytest

from dv_analysis import layers
from dv_analysis.config import Settings


@pytest.fixture(scope="module")
def s():
    st = Settings.from_args()
    st.check_public_dir()
    return st


def test_boundaries_taipei(s):
    b = layers.load_boundaries(s)
    assert len(b) == 456
    assert b.crs.to_epsg() == 3826
    assert b.is_valid.all(), "the invalid Taipei polygon must be repaired"
    assert b["villcode"].is_unique and b["villcode"].str.len().eq(11).all()
    assert set(b["countyname"]) == {"臺北市"}
    assert b["townname"].nunique() == 12
    # in metres: Taipei is about 272 km², villages sum to it
    assert 2.6e8 < b.area.sum() < 2.8e8


@pytest.mark.parametrize("city, n", [("65000", 1009), ("68000", 504)])
def test_boundaries_other_cities(s, city, n):
    assert len(layers.load_boundaries(s, city)) == n


def test_boundaries_all_taiwan(s):
    b = layers.load_boundaries(s, "all")
    assert len(b) == 7701 and b.is_valid.all()


def test_population_quarter_end(s):
    p = layers.load_population(s, "2020Q4")
    assert p["month"].iloc[0] == "2020-12"
    assert len(p) == 456 and p["in_boundaries"].all()
    assert p.attrs["join_report"].n_unmatched == 0
    # published total of Taipei, December 2020: 2,602,418
    assert p["pop_total"].sum() == 2_602_418
    assert (p["pop_male"] + p["pop_female"] == p["pop_total"]).all()


def test_population_mismatch_is_reported_not_dropped(s):
    p = layers.load_population(s, "2020Q4", city="65000")
    rep = p.attrs["join_report"]
    assert len(p) == 1032, "every register village is kept"
    assert rep.n_matched == 1009 and rep.n_unmatched == 23
    assert (~p["in_boundaries"]).sum() == 23
    assert rep.unmatched_examples and "65000" in rep.unmatched_examples[0]
    assert "23 unmatched" in str(rep)


@pytest.mark.parametrize("city,period", [("65000", "2020Q4"), ("all", "2014Q2"), ("all", "2020Q4")])
def test_unmatched_register_population_stays_in_its_district(s, city, period):
    """The documented rule: nobody is lost; people move only within their own district."""
    raw = pd.read_csv(
        s.population_file(layers.population_month_for(s, period)), dtype={"村里代碼": str}
    )
    raw["code"] = raw["村里代碼"].str.replace("-", "")
    if city != "all":
        raw = raw[raw["code"].str[:5] == city]
    p = layers.load_population(s, period, city=city)
    kept = p[p["in_boundaries"]]
    assert kept["villcode"].is_unique
    rep = p.attrs["join_report"]
    left_out = rep.methods.get("people_in_districts_without_polygons", 0)
    assert kept["pop_total"].sum() + left_out == raw["人口"].sum()
    assert kept["pop_reassigned"].sum() == rep.methods["reassigned_people"] > 0
    # district totals are kept exactly (first 8 digits of the code: county and district)
    by_raw = raw.groupby(raw["code"].str[:8])["人口"].sum()
    by_kept = kept.groupby(kept["villcode"].str[:8])["pop_total"].sum()
    common = by_kept.index.intersection(by_raw.index)
    assert (by_kept[common] == by_raw[common]).all()
    for col in ("pop_0_14", "pop_65plus", "households"):
        assert kept[col].sum() <= raw[layers.POPULATION_COLUMNS_INV[col]].sum()


def test_reassignment_rule_on_a_small_case():
    b = pd.DataFrame({"villcode": ["63000010001", "63000010002", "63000010003", "63000020001"]})
    counts = {c: [0, 0, 0] for c in layers.POPULATION_COUNTS}
    df = pd.DataFrame(
        {
            "register_code": ["63000010001", "63000010002", "63000010009"],
            "area": "臺北市松山區",
            "village": ["甲里", "乙里", "舊里"],
            **counts,
        }
    )
    df["pop_total"] = [100, 300, 41]
    df["villcode"] = ["63000010001", "63000010002", None]
    df["in_boundaries"] = df["villcode"].notna()
    df["match_method"] = ["code", "code", None]
    # 63000010003 has no register row: the retired village's people go there
    out = layers.reassign_unmatched_population(df, b)
    got = out[out["in_boundaries"]].set_index("villcode")["pop_total"].to_dict()
    assert got == {"63000010001": 100, "63000010002": 300, "63000010003": 41}
    # every polygon has a row: split in proportion to population, integers adding up
    out = layers.reassign_unmatched_population(df, b[b["villcode"] != "63000010003"])
    got = out[out["in_boundaries"]].set_index("villcode")["pop_total"]
    assert got.sum() == 441 and got["63000010002"] > got["63000010001"] > 100


def test_population_period_outside_files(s):
    with pytest.raises(FileNotFoundError, match="population"):
        layers.load_population(s, "2010Q1")


@pytest.mark.parametrize(
    "month",
    ["2014-04", "2014-05", "2015-12", "2018-01", "2020-09", "2024-06", "2024-07"],
)
def test_vital_events_every_header_generation(s, month):
    df = layers.read_vital_events_file(s.vital_events_file(month))
    assert (df["month"] == month).all()
    assert {"births", "deaths", "marriages", "divorces"} <= set(df.columns)
    assert df["divorces"].sum() > 0 and df["births"].sum() > 0
    assert not df["village"].isin(["村里", "村里名稱", "village"]).any(), (
        "second header row must be dropped"
    )


def test_roc_month():
    assert layers.roc_month("10506") == "2016-06"
    assert layers.roc_month("9912") == "2010-12"
    assert layers.roc_month("10513") is None


def test_vital_events_match_taipei_by_names_and_code(s):
    old = layers.load_vital_events(s, ["2016-01", "2016-02", "2016-03"])  # names only
    new = layers.load_vital_events(s, ["2020-01", "2020-02", "2020-03"])  # with codes
    assert old.attrs["join_report"].methods == {"names": 456 * 3}
    assert new.attrs["join_report"].methods == {"code": 456 * 3}
    assert len(old) == len(new) == 456 and old["in_boundaries"].all()
    assert (old["n_months"] == 3).all()


def test_vital_events_taoyuan_county_name(s):
    v = layers.load_vital_events(s, ["2014-06"], city="68000")
    rep = v.attrs["join_report"]
    assert rep.n_matched == rep.n_rows > 400  # 桃園縣 rows matched to 桃園市 polygons


def test_welfare_and_children(s):
    w = layers.load_welfare_recipients(s)
    assert len(w) == 456 and w["in_boundaries"].all()
    assert {"low_income", "disabled"} <= set(w.columns)
    c = layers.load_children_0to5(s)
    assert (c["children_0_5"] >= 0).all() and c["children_0_5"].sum() > 50_000


@pytest.mark.parametrize(
    "loader, n",
    [
        (layers.load_metro_stations, 135),
        (layers.load_metro_exits, 490),
        (layers.load_bus_stops, 4788),
        (layers.load_youbike, 1503),
        (layers.load_police, 113),
        (layers.load_welfare_facilities, 578),
        (layers.load_medical, 3657),
    ],
)
def test_point_layers(s, loader, n):
    g = loader(s)
    assert g.crs.to_epsg() == 3826
    assert len(g) == n
    b = layers.load_boundaries(s, "all").total_bounds
    assert (g.geometry.x.between(b[0], b[2])).all()


def test_welfare_facility_types(s):
    g = layers.load_welfare_facilities(s)
    assert (g["sub_type"] == "社會福利服務中心").sum() == 12
    assert (g["sub_type"] == "婦女暨家庭服務中心").sum() == 16


def test_match_villages_by_names_with_variants(s):
    b = layers.load_boundaries(s)
    # 萬華 without 區; 富臺 for the boundaries' 富台里; 文北 without 里; no such village
    df = pd.DataFrame(
        {"d": ["萬華", "信義區", "中正區", "某區"], "v": ["青山", "富臺里", "文北", "無此里"]}
    )
    out = layers.match_villages(df, b, layer="t", district_col="d", village_col="v")
    code = b.set_index(["townname", "villname"])["villcode"]
    expected = [code["萬華區", "青山里"], code["信義區", "富台里"], code["中正區", "文北里"], None]
    assert out["villcode"].tolist() == expected
    assert out["in_boundaries"].tolist() == [True, True, True, False]
    rep = out.attrs["join_report"]
    assert (rep.n_matched, rep.n_unmatched) == (3, 1)
    assert rep.unmatched_examples == ["某區 無此里"]


def test_staff_page_reports_the_register_mismatch():
    from dv_analysis.pages import summaries

    note = summaries.population_note(
        layers.load_population(Settings.from_args(city="65000"), "2020Q4")
    )
    assert "23 個里不在 2021 年村里界圖中" in note and "42,744 人" in note
    assert (
        summaries.population_note(
            layers.load_population(Settings.from_args(city="63000"), "2020Q4")
        )
        == ""
    )


def test_one_village_name_matcher_for_cleaning_and_the_loaders():
    """VillageNames: as written before 里-stripped, district-less names, '?', ambiguity."""
    from dv_analysis.layers.names import VillageNames

    b = pd.DataFrame(
        {
            "countyname": ["臺北市", "臺北市", "臺北市", "新北市", "新北市", "臺北市"],
            "townname": ["萬華區", "萬華區", "士林區", "板橋區", "板橋區", "大安區"],
            "villname": ["義村里", "義里", "青山里", "青山里", "文化里", "龍門里"],
            "villcode": ["A", "B", "C", "D", "E", "F"],
        }
    )
    by_city = VillageNames(b)
    assert by_city.lookup("臺北", "萬華", "義村") == "A"  # as written first, not 義里
    assert by_city.lookup("臺北", "萬華區", "義里") == "B"
    assert by_city.lookup("臺北", "", "青山") == "C"  # unique in its city without a district
    assert by_city.lookup("臺北", "士林", "青?里") == "C"  # CP950's '?'
    assert by_city.lookup("臺北", "", "文化") is None  # 新北's, not 臺北's
    assert by_city.lookup("新北", "", "文化") == "E"
    nationwide = VillageNames(b, by_city=False)
    assert nationwide.lookup("", "", "青山") is None  # two cities have one
    assert nationwide.lookup("", "", "文化") == "E"
    assert nationwide.lookup("", "大安", "龍門") == "F"
    got = by_city.codes(
        pd.Series(["臺北", "新北", "臺北"]),
        pd.Series(["士林", "板橋", None]),
        pd.Series(["青山"] * 3),
    )
    assert got.tolist() == ["C", "D", "C"]
