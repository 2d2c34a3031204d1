from datetime import date
from pathlib import Path

import pytest

from dv_analysis.config import Period, Settings, period_range


def test_period_parse_and_calendar():
    p = Period.parse("2020Q4")
    assert (p.year, p.quarter) == (2020, 4)
    assert str(p) == "2020Q4"
    assert p.start == date(2020, 10, 1) and p.end == date(2020, 12, 31)
    assert p.end_month == "2020-12"
    assert p.months() == ["2020-10", "2020-11", "2020-12"]
    assert p.next() == Period(2021, 1) and p.previous() == Period(2020, 3)
    assert Period(2020, 1).previous() == Period(2019, 4)
    assert Period(2020, 1).back(4) == Period(2019, 1) and Period(2020, 4).back(1) == Period(2020, 3)
    assert Period(2020, 2).back(5) == Period(2019, 1) and Period(2020, 2).back(0) == Period(2020, 2)
    assert Period.parse("2016-q1") == Period(2016, 1)
    assert Period(2016, 1).end == date(2016, 3, 31)
    assert Period.of_date(date(2016, 5, 2)) == Period(2016, 2)


@pytest.mark.parametrize("bad", ["2020Q5", "2020", "Q4 2020", "", "20Q1"])
def test_period_rejects_bad_text(bad):
    with pytest.raises(ValueError, match="quarter"):
        Period.parse(bad)


def test_period_range():
    r = period_range("2019Q3", "2020Q2")
    assert [str(p) for p in r] == ["2019Q3", "2019Q4", "2020Q1", "2020Q2"]
    with pytest.raises(ValueError):
        period_range("2020Q2", "2019Q1")


def test_settings_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("DV_PUBLIC_DIR", raising=False)
    default = Settings.from_args()
    assert default.public_dir.parts[-3:] == ("shared", "data", "public")
    monkeypatch.setenv("DV_PUBLIC_DIR", str(tmp_path / "env"))
    assert Settings.from_args().public_dir == (tmp_path / "env").resolve()
    assert (
        Settings.from_args(public_dir=tmp_path / "flag").public_dir == (tmp_path / "flag").resolve()
    )
    with pytest.raises(ValueError, match="city"):
        Settings.from_args(city="99999")


def test_period_paths(tmp_path):
    s = Settings.from_args(
        raw_dir=tmp_path / "r", clean_dir=tmp_path / "c", reports_dir=tmp_path / "o"
    )
    pp = s.period("2020Q4")
    assert pp.raw == (tmp_path / "r" / "2020Q4").resolve()
    assert pp.notifications.name == "notifications.parquet" and pp.notifications.parent == pp.clean
    assert (
        pp.staff == pp.reports / "staff"
        and pp.internal.name == "internal"
        and pp.public.name == "public"
    )
    assert pp.manifest == pp.reports / "manifest.json"
    assert pp.previous().period == Period(2020, 3)


def test_check_public_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="boundaries"):
        Settings.from_args(public_dir=tmp_path).check_public_dir()


def test_no_literal_paths_outside_config():
    """Only config.py builds paths to the data folders."""
    src = Path(__file__).parents[1] / "src" / "dv_analysis"
    for f in src.rglob("*.py"):  # every module, subpackages included
        if f.name == "config.py":
            continue
        text = f.read_text(encoding="utf-8")
        for literal in (
            '"data_raw',
            '"data_clean',
            '"reports/',
            'shared/data/public"',
            '"data_truth',
        ):
            assert literal not in text, f"{f.name} hard-codes {literal}"


def test_period_paths_are_one_table_and_one_accessor(tmp_path):
    import pickle

    from dv_analysis.config import CLEAN_FILES, REPORT_FILES, Period, PeriodPaths, Settings

    paths = PeriodPaths(
        Settings.from_args(clean_dir=tmp_path / "c", reports_dir=tmp_path / "r"),
        Period.parse("2020Q4"),
    )
    assert paths.village_risk == paths.clean / "village_risk.parquet"
    assert paths.open_data == paths.reports / "public" / "open_data"
    assert len(set(CLEAN_FILES.values())) == len(CLEAN_FILES)
    assert not set(CLEAN_FILES) & set(REPORT_FILES)
    with pytest.raises(AttributeError, match="no file or folder 'village_rsk'"):
        _ = paths.village_rsk
    assert pickle.loads(pickle.dumps(paths)).village_risk == paths.village_risk
