from dv_analysis.layers import names


def test_city_keys():
    assert names.city_key("台北市") == names.city_key("臺北市") == names.city_key("臺北") == "臺北"
    assert names.city_key("桃園縣") == names.city_key("桃園市") == "桃園"
    assert names.city_key(" 新北市 ") == "新北"
    assert names.city_key(None) == ""


def test_district_and_village_keys():
    assert names.district_key("萬華區") == names.district_key("萬華") == "萬華"
    assert names.district_key("東區") == names.district_key("東") == "東"  # Hsinchu, Tainan…
    assert names.district_key("平鎮區") == names.district_key("平鎮") == "平鎮"
    assert names.village_key("青山里") == names.village_key("青山") == "青山"
    assert names.village_key("糖蔀里") == names.village_key("糖廍里")
    assert names.village_key("臺安里") == names.village_key("台安")


def test_villcode():
    assert names.villcode("63000050-012") == "63000050012"
    assert names.villcode("63000050012") == "63000050012"
    assert names.villcode("６３０００ ０５００１２") == "63000050012"
    assert names.villcode("63000050012.0") == "63000050012"
    assert names.villcode("6300005001") is None
    assert names.villcode("") is None and names.villcode(float("nan")) is None


def test_split_county_district():
    assert names.split_county_district("臺北市松山區") == ("臺北", "松山")
    assert names.split_county_district("桃園縣桃園市") == ("桃園", "桃園")
    assert names.split_county_district("新北市板橋區") == ("新北", "板橋")


def test_nfkc_values_equals_nfkc_of_each_value():
    import numpy as np
    import pandas as pd

    values = pd.Series(
        [
            "DV 105 0001",
            "ＤＶ１０５０００１",
            None,
            np.nan,
            "",
            "a\x1cb\tc\r\n",
            "x\u3000y",
            "é é ",
            "ab\x85c",
            "a\u2028b",
            "dv\u00a0001",
            "abc",
        ]
        * 3,
        dtype=object,
    )
    got = names.nfkc_values(values)
    assert got.tolist() == [names.nfkc(v) for v in values]
    assert got.index.equals(values.index)
    upper = names.nfkc_values(values, upper=True)
    assert upper.tolist() == [names.nfkc(v).upper() for v in values]
    assert names.nfkc_values(pd.Series(["a b", "c"], dtype="str")).tolist() == ["ab", "c"]
