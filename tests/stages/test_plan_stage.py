"""The service plan's inputs: candidate and staffing files checked row by row (issue 26)."""

import pytest

from dv_analysis import public
from dv_analysis.config import Settings
from dv_analysis.stages import plan


@pytest.fixture(scope="module")
def villages():
    return public.load_boundaries(Settings.from_args())


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "name,lon,lat\nA,121.55,25.03\nB,,25.04\n",
            "row 3, column 'lon': missing or not a number",
        ),
        ("name,lon,lat\nA,121.55,25.03\nA,121.56,25.04\n", "row 3, column 'name': 'A' repeats"),
        ("name,lon,lat\nA,121.55,25.03\n海上,122.5,24.0\n", "row 3: '海上' lies outside the city"),
        ("name,x,y\nA,121.55,25.03\n", "need columns name, lon, lat"),
    ],
)
def test_bad_candidate_files_name_the_row(villages, tmp_path, text, message):
    f = tmp_path / "c.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan.read_candidates(f, villages)


def test_good_candidates_are_projected_into_the_city(villages, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("name,lon,lat\n信義據點,121.565,25.033\n北投據點,121.50,25.13\n", encoding="utf-8")
    c = plan.read_candidates(f, villages)
    assert list(c["name"]) == ["信義據點", "北投據點"] and (c["kind"] == "candidate").all()
    assert c.crs == villages.crs and c.geometry.within(villages.union_all()).all()


def test_staffing_file_names_an_unknown_district(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("townname,staff\n中正區,8\n火星區,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 3, column 'townname': '火星區'"):
        plan.read_staffing(f, ["中正區", "大安區"])
    f.write_text("townname,staff\n中正區,8\n大安區,-1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 3, column 'staff'"):
        plan.read_staffing(f, ["中正區", "大安區"])
    f.write_text("townname,staff\n中正區,8\n大安區,5\n", encoding="utf-8")
    assert plan.read_staffing(f, ["中正區", "大安區"]).to_dict() == {"中正區": 8, "大安區": 5}
