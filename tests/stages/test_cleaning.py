"""Cleaning: field parsing, clear errors for unreadable files, and the synthetic ground truth."""

from datetime import date

import openpyxl
import pandas as pd
import pytest

from dv_analysis.stages import clean as cleaning
from dv_analysis.stages.clean import RawInputError, clean_period, parse_date, read_raw_file
from dv_analysis.stages.clean.read import _read_csv_text
from dv_analysis.synth import RAW_COLUMNS
from dv_analysis.synth import truth as synth_truth


@pytest.mark.parametrize(
    "text, expected",
    [
        ("105/03/07", date(2016, 3, 7)),
        ("105.3.7", date(2016, 3, 7)),
        ("1050307", date(2016, 3, 7)),
        ("2016-03-07", date(2016, 3, 7)),
        ("2016/3/7", date(2016, 3, 7)),
        ("１０５／０３／０７", date(2016, 3, 7)),
        ("42436", date(2016, 3, 7)),  # Excel serial
        ("2016-03-07 00:00:00", date(2016, 3, 7)),
        ("105年3月7日", date(2016, 3, 7)),
        ("105/13/07", None),
        ("", None),
        ("abc", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_field_normalisers():
    assert cleaning.norm_sex("M") == cleaning.norm_sex("1") == "男"
    assert cleaning.norm_sex("２") == "女" and cleaning.norm_sex("?") == "不詳"
    assert (
        cleaning.parse_age("12歲") == 12
        and pd.isna(cleaning.parse_age(""))
        and pd.isna(cleaning.parse_age("150"))
    )
    assert cleaning.norm_case_type("婚姻/離婚/同居關係暴力") == "親密關係暴力"
    assert cleaning.norm_case_type("兒少") == "兒少保護" and cleaning.norm_case_type("搶劫") is None
    assert cleaning.norm_unit("警察局") == "警政" and cleaning.norm_unit("保護專線") == "113專線"
    assert cleaning.norm_forms("身體、精神") == cleaning.norm_forms("精神;身體") == "精神;身體"


def test_coordinates_both_systems():
    x, y, system = cleaning.coordinates_to_twd97(
        [302000.0, 121.5654, float("nan")], [2770000.0, 25.0330, float("nan")]
    )
    assert list(system) == ["twd97", "lonlat", ""]
    assert x[0] == 302000.0 and 300_000 < x[1] < 310_000 and 2_765_000 < y[1] < 2_775_000


def _write_csv(path, rows, header=RAW_COLUMNS, encoding="utf-8"):
    df = pd.DataFrame(rows, columns=list(header))
    path.write_bytes(df.to_csv(index=False).encode(encoding))
    return path


def _row(**kw):
    base = dict.fromkeys(RAW_COLUMNS, "")
    base.update(
        {
            "通報編號": "DV1091234567",
            "被害人代碼": "ABC",
            "通報日期": "109/11/02",
            "案件類型": "兒少保護",
            "發生地縣市": "臺北市",
            "發生地行政區": "萬華區",
            "發生地村里": "青山里",
        }
    )
    base.update(kw)
    return base


def test_error_empty_file(tmp_path):
    f = tmp_path / "empty.csv"
    f.write_bytes(b"")
    with pytest.raises(RawInputError, match=r"empty\.csv: file is empty"):
        read_raw_file(f)


def test_error_missing_required_column(tmp_path):
    cols = [c for c in RAW_COLUMNS if c != "通報日期"]
    f = _write_csv(
        tmp_path / "nodate.csv", [{k: v for k, v in _row().items() if k in cols}], header=cols
    )
    with pytest.raises(RawInputError, match=r"nodate\.csv: missing required column\(s\) 通報日期"):
        read_raw_file(f)


def test_error_unreadable_encoding(tmp_path):
    f = tmp_path / "garbled.csv"
    f.write_bytes("通報編號,通報日期,案件類型,發生地村里\n".encode() + b"\xff\xfe\xfa\x80\x81\n")
    with pytest.raises(RawInputError, match=r"garbled\.csv: unreadable encoding.*line 2"):
        read_raw_file(f)


def test_error_xlsx_without_header(tmp_path):
    f = tmp_path / "noheader.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["DV1091234567", "109/11/02", "兒少保護"])
    wb.save(f)
    with pytest.raises(RawInputError, match=r"noheader\.xlsx: no header row"):
        read_raw_file(f)


def test_cp950_and_unknown_columns(tmp_path):
    f = _write_csv(
        tmp_path / "big5.csv", [_row(發生地村里="糖蔀里", 發生地行政區="萬華區")], encoding="cp950"
    )
    rf = read_raw_file(f)
    assert rf.encoding == "cp950" and rf.frame.loc[0, "village_raw"] == "糖蔀里"
    df = pd.DataFrame([_row()])
    df["備註"] = "x"
    (tmp_path / "extra.csv").write_text(df.to_csv(index=False), encoding="utf-8")
    rf = read_raw_file(tmp_path / "extra.csv")
    assert list(rf.extra.columns) == ["source_row", "備註"]


def test_bad_rows_are_quarantined_not_fatal(settings):
    folder = settings.period("2020Q4").raw
    folder.mkdir(parents=True)
    rows = [
        _row(通報編號="DV1", 發生地村里="糖蔀里"),  # variant spelling of 萬華區糖廍里
        _row(通報編號="DV2", 通報日期="not a date"),
        _row(通報編號="", 被害人代碼="X"),
        _row(通報編號="DV3", 案件類型="搶劫"),
        _row(通報編號="DV4", 發生地縣市="新北市", 發生地行政區="板橋區", 發生地村里="留侯里"),
        _row(通報編號="DV5", 發生地行政區="", 發生地村里=""),
        _row(
            通報編號="DV6", 發生地村里="", 發生地X="121.5654", 發生地Y="25.0330"
        ),  # lon/lat in 信義區
        _row(通報編號="DV7", 通報日期="109/05/02"),
        _row(通報編號="DV8", 村里代碼="63000050-012", 發生地行政區="", 發生地村里=""),
        _row(通報編號="DV8", 村里代碼="63000050-012", 發生地行政區="", 發生地村里=""),
        _row(通報編號="DV9", 通報日期="109/11/03", 被害人代碼="Y"),
        _row(通報編號="DV9", 通報日期="109/11/09", 被害人代碼="Z"),
    ]
    _write_csv(folder / "a.csv", rows)
    r = clean_period(settings.period("2020Q4"), progress=False)
    t = r.summary["totals"]
    assert t == {"rows_read": 12, "clean": 3, "duplicate": 1, "quarantined": 8}
    reasons = r.summary["quarantine_reasons"]
    assert reasons == {
        "bad_notification_date": 1,
        "missing_notification_id": 1,
        "unknown_case_type": 1,
        "out_of_area": 1,
        "unlocatable": 1,
        "outside_period": 1,
        "conflicting_id": 2,
    }
    clean = r.notifications.set_index("notification_id")
    assert clean.loc["DV1", "villname"] == "糖廍里" and clean.loc["DV1", "locate_method"] == "names"
    assert clean.loc["DV6", "townname"] == "信義區" and clean.loc["DV6", "locate_method"] == "xy"
    assert clean.loc["DV8", "villcode"] == "63000050012"
    q = r.quarantine.set_index("source_row")
    assert q.loc[2, "reason"] == "bad_notification_date" and q.loc[2, "reason_column"] == "通報日期"
    assert r.duplicates["source_row"].tolist() == [10]


def test_no_raw_folder(settings):
    with pytest.raises(FileNotFoundError, match="no raw folder for 2020Q4"):
        clean_period(settings.period("2020Q4"), progress=False)


# --- against the synthetic ground truth -------------------------------------
def _joined(s, q, r):
    truth = synth_truth.read_rows(s, q)
    got = pd.concat(
        [
            r.notifications.assign(bucket="clean", reason="")[
                ["source_file", "source_row", "bucket", "reason", "villcode"]
            ],
            r.duplicates.assign(bucket="duplicate")[
                ["source_file", "source_row", "bucket", "reason"]
            ],
            r.quarantine.assign(bucket="quarantine")[
                ["source_file", "source_row", "bucket", "reason"]
            ],
        ]
    )
    m = truth.merge(
        got,
        left_on=["file", "row"],
        right_on=["source_file", "source_row"],
        how="left",
        validate="1:1",
    )
    assert m["bucket"].notna().all(), "every raw row must come out in a bucket"
    return m


@pytest.mark.parametrize("q", ["2020Q1", "2020Q2", "2020Q3", "2020Q4"])
def test_every_row_accounted_for(year_of_data, q):
    s, summary, results = year_of_data
    r = results[q]
    assert r.summary["balanced"]
    for f in r.summary["files"]:
        assert f["rows_read"] == f["clean"] + f["duplicate"] + f["quarantined"]
    assert r.summary["totals"]["rows_read"] == summary["periods"][q]["raw_rows"]


@pytest.mark.parametrize("q", ["2020Q1", "2020Q4"])
def test_villages_assigned_correctly(year_of_data, q):
    s, _, results = year_of_data
    m = _joined(s, q, results[q])
    ok = m[(m["bucket"] == "clean") & (m["expected_bucket"] == "clean")]
    accuracy = (ok["villcode"] == ok["true_villcode"]).mean()
    assert accuracy >= 0.99, accuracy
    locatable = m[m["expected_bucket"] == "clean"]
    assert (locatable["bucket"] == "clean").mean() >= 0.99


@pytest.mark.parametrize("q", ["2020Q1", "2020Q2", "2020Q3", "2020Q4"])
def test_every_injected_problem_in_the_right_bucket(year_of_data, q):
    s, _, results = year_of_data
    m = _joined(s, q, results[q])
    expected = m["expected_reason"].where(m["expected_reason"] != "", "clean")
    got = m["reason"].where(m["reason"] != "", "clean")
    # a re-exported notification is a duplicate when the previous quarter's clean table has it;
    # when that original was itself quarantined there, the copy is outside this period
    prev_ok = (expected == "previous_period") & got.isin(["previous_period", "outside_period"])
    wrong = m[(expected != got) & ~prev_ok]
    assert wrong.empty, (
        wrong[["file", "row", "expected_reason", "reason", "injected"]].head().to_string()
    )
    if q != "2020Q1":
        prev_ids = set(
            results[{"2020Q2": "2020Q1", "2020Q3": "2020Q2", "2020Q4": "2020Q3"}[q]].notifications[
                "notification_id"
            ]
        )
        re = m[expected == "previous_period"]
        in_prev = re["notification_id"].isin(prev_ids)
        assert (re.loc[in_prev, "reason"] == "previous_period").all()
        assert (re.loc[~in_prev, "reason"] == "outside_period").all()
        assert in_prev.mean() > 0.8


def test_incidents_match_truth(year_of_data):
    s, _, results = year_of_data
    r = results["2020Q3"]
    truth = synth_truth.read_rows(s, "2020Q3")
    clean = truth[truth["expected_bucket"] == "clean"]
    n_true = clean["incident_id"].nunique()
    assert abs(len(r.incidents) - n_true) / n_true < 0.02
    assert r.summary["counts"]["victims"] == r.notifications["victim_key"].nunique()


def test_build_incidents_by_hand():
    """One victim and case type within 14 days of the previous notification is one incident;
    the village is the most frequent (ties: the smallest code); opened and danger as any."""
    rows = [
        # id, victim, type, date, village, unit, tipvda, opened
        ("N1", "V1", "親密關係暴力", "2020-10-01", "B", "警政", 9.0, "否"),
        ("N2", "V1", "親密關係暴力", "2020-10-10", "A", "醫院", float("nan"), "是"),
        ("N3", "V1", "親密關係暴力", "2020-10-20", "A", "警政", 3.0, None),  # 10 days later: same
        ("N4", "V1", "親密關係暴力", "2020-11-20", "B", None, float("nan"), "否"),  # 31 days: new
        ("N5", "V1", "兒少保護", "2020-10-02", "C", "教育", float("nan"), None),  # other type
        ("N6", "", "兒少保護", "2020-10-02", "C", "教育", float("nan"), None),  # no victim key
        ("N7", "", "兒少保護", "2020-10-02", "C", "教育", float("nan"), None),
    ]
    notes = pd.DataFrame(
        rows,
        columns=[
            "notification_id",
            "victim_key",
            "case_type",
            "notified_date",
            "villcode",
            "reporter_unit",
            "tipvda",
            "opened",
        ],
    )
    notes["notified_date"] = pd.to_datetime(notes["notified_date"])
    notes = notes.iloc[::-1].reset_index(drop=True)  # order of the rows does not matter
    inc = cleaning.build_incidents(notes, 14)
    assert len(inc) == 5
    assert inc["incident_id"].is_monotonic_increasing and inc["incident_id"].is_unique
    by_id = notes.set_index("notification_id")["incident_id"]
    assert by_id["N1"] == by_id["N2"] == by_id["N3"] != by_id["N4"]
    assert len({by_id["N5"], by_id["N6"], by_id["N7"], by_id["N1"]}) == 4
    first = inc.set_index("incident_id").loc[by_id["N1"]]
    assert first["villcode"] == "A"  # A twice, B once
    assert first["n_notifications"] == 3 and first["n_units"] == 2
    assert first["opened"] == "是" and bool(first["high_danger"])
    assert first["first_notified"] == pd.Timestamp("2020-10-01")
    assert first["last_notified"] == pd.Timestamp("2020-10-20")
    later = inc.set_index("incident_id").loc[by_id["N4"]]
    assert later["n_units"] == 0 and later["opened"] == "否" and not later["high_danger"]
    tied = notes.copy()
    tied["villcode"] = tied["notification_id"].map({"N1": "C", "N2": "B", "N3": "A"}).fillna("D")
    tie = cleaning.build_incidents(tied, 14)
    assert tie.set_index("incident_id").loc[by_id["N1"], "villcode"] == "A"  # 1 each: smallest
    assert pd.isna(inc.set_index("incident_id").loc[by_id["N5"], "opened"])


@pytest.mark.parametrize(
    "text",
    [
        "a,b,c\n1,2,3\n4,,6\n",
        "a,b,c\r\n1,2,3\r\n\r\n4,5,6\r\n",  # a blank line
        'a,b,c\n"x, y","line\nbreak",3\n',  # quoted comma and newline
        'a,b,c\n"say ""hi""", 2 ,\n',  # doubled quotes, spaces, empty last
        "a,b,c\n1,2\n",  # a short row
        "a,b,a\n1,2,3\n",  # a repeated header name
        "a,,c\n1,2,3\n",  # a blank header name
        "a,b,c\nNA,null,NaN\n",  # words other readers take as missing
        "a,b,c\n   \n1,2,3\n",  # a line of spaces
        "a,b,c\r1,2,3\r4,5,6\r",  # lines ended by a bare CR
        'a,b,c\n1,ab"c,\n',  # a quote inside an unquoted field
    ],
)
def test_csv_reader_matches_pandas_parser(text):
    """Arrow's reader (or its fallback) gives what pandas' C parser gives, cell for cell."""
    import io

    ref = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    got = _read_csv_text(text)
    pd.testing.assert_frame_equal(got.astype(str), ref.astype(str))


def test_csv_reader_ragged_row_names_the_line(tmp_path):
    f = tmp_path / "bad.csv"
    head = ",".join(RAW_COLUMNS)
    good, long = ",".join(["x"] * len(RAW_COLUMNS)), ",".join(["x"] * (len(RAW_COLUMNS) + 2))
    f.write_text(f"{head}\n{good}\n{long}\n", encoding="utf-8")
    with pytest.raises(RawInputError, match=r"bad\.csv: not a readable CSV .*line 3"):
        read_raw_file(f)
