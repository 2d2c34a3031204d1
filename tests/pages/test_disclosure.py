"""Tests that try to leak small counts or case-level fields through published files."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis import disclosure as D


def _villages(counts, districts):
    return pd.DataFrame(
        {"incidents": counts}, index=[f"V{i}" for i in range(len(counts))]
    ), pd.Series(districts, index=[f"V{i}" for i in range(len(counts))])


@pytest.mark.parametrize("small", range(1, 10))
def test_small_counts_never_shown(small):
    t, g = _villages([small, 40, 57, 0], ["A", "A", "A", "A"])
    p = D.protect(t, g)
    assert (
        np.isnan(p.values.loc["V0", "incidents"])
        and p.status.loc["V0", "incidents"] == "suppressed"
    )
    shown = p.values["incidents"].dropna()
    assert ((shown == 0) | (shown >= 10)).all() and (shown % 5 == 0).all()
    assert p.values.loc["V3", "incidents"] == 0 and p.status.loc["V3", "incidents"] == "zero"


def test_district_total_cannot_reveal_a_lone_suppressed_village():
    t, g = _villages([3, 40, 57, 12], ["A", "A", "A", "B"])
    p = D.protect(t, g)
    withheld = p.status["incidents"].isin(["suppressed", "secondary"])
    assert withheld[["V0", "V1"]].all(), (
        "the smallest other village of the district is withheld too"
    )
    tot = D.totals(p, g)
    # total minus the shown villages gives only the rounded sum of two withheld villages
    shown_sum = p.values.loc[["V2"], "incidents"].sum()
    assert tot.values.loc["A", "incidents"] - shown_sum == D._round(np.array([3.0]), 5)[0] + 40


def test_district_with_one_village_and_one_suppressed_cell():
    t, g = _villages([4, 30], ["A", "B"])
    p = D.protect(t, g)
    tot = D.totals(p, g)
    assert tot.status.loc["A", "incidents"] == "suppressed"  # total of 4 → rounded 5 < 10
    assert np.isnan(tot.values.loc["A", "incidents"])
    t2, g2 = _villages([4, 30], ["A", "A"])
    p2 = D.protect(t2, g2)
    assert p2.status.loc["V1", "incidents"] == "secondary"
    assert D.totals(p2, g2).values.loc["A", "incidents"] == 35  # 5 + 30: the parts stay hidden


def test_row_parts_protected():
    t = pd.DataFrame(
        {"incidents_ipv": [30], "incidents_child": [2], "incidents_elder": [15]}, index=["V0"]
    )
    p = D.protect(t)
    st = p.status.loc["V0"]
    assert st["incidents_child"] == "suppressed" and st["incidents_elder"] == "secondary"


def test_two_quarters_differing_by_one_case():
    for a in range(0, 60):
        q1, _ = _villages([a, 100], ["A", "A"])
        q2, _ = _villages([a + 1, 100], ["A", "A"])
        v1 = D.protect(q1).values.loc["V0", "incidents"]
        v2 = D.protect(q2).values.loc["V0", "incidents"]
        for v in (v1, v2):
            assert np.isnan(v) or v == 0 or (v >= 10 and v % 5 == 0)
        if not (np.isnan(v1) or np.isnan(v2)):
            assert v2 - v1 in (0, 5), "the difference never shows a single case"


def test_publish_frame_labels():
    t, g = _villages([0, 3, 25], ["A", "A", "A"])
    out = D.protect(t, g).to_publish()
    assert out["incidents_status"].tolist() == ["", D.SUPPRESSED_LABEL, D.SUPPRESSED_LABEL]
    assert out["incidents"].isna().tolist() == [False, True, True]


# --- audit -------------------------------------------------------------------
def _period(tmp_path):
    for tier in ("staff", "public"):
        (tmp_path / tier).mkdir(parents=True)
    return tmp_path


def test_audit_passes_clean_files(tmp_path):
    p = _period(tmp_path)
    pd.DataFrame({"villcode": ["63000010001"], "incidents": [15], "incidents_status": [""]}).to_csv(
        p / "public" / "v.csv", index=False
    )
    (p / "staff" / "page.html").write_text(
        "<html><body><table><tr><th>里</th><th>事件</th></tr><tr><td>青山里</td><td>3</td></tr></table></body></html>"
    )
    assert D.audit(p, public_level="village") == []


def test_audit_finds_village_rows_in_public_unless_chosen(tmp_path):
    p = _period(tmp_path)
    t = pd.DataFrame({"townname": ["大安區"], "villname": ["青山里"], "incidents": [15]})
    t.to_csv(p / "staff" / "v.csv", index=False)
    t.to_csv(p / "public" / "v.csv", index=False)
    (p / "public" / "index.html").write_text(
        "<table><tr><th>行政區</th><th>事件</th></tr><tr><td>大安區</td><td>15</td></tr></table>"
    )
    findings = [str(f) for f in D.audit(p)]
    assert len(findings) == 1 and findings[0].startswith("public/v.csv: column 'villname'")
    assert "--public-level village" in findings[0]
    assert D.audit(p, public_level="village") == []


@pytest.mark.parametrize(
    "column, value, problem",
    [
        ("notification_id", "DV1091234567", "case-level field"),
        ("note", "DV1091234567", "notification id"),
        ("note", "9F86D081884C7D65", "victim key"),
        ("note", "2020-11-03", "exact date"),
        ("note", "109/11/03", "exact date"),
        ("note", "304512.3, 2771234.5", "coordinates"),
        ("victim_age", "37", "case-level field"),
    ],
)
def test_audit_finds_case_level_fields(tmp_path, column, value, problem):
    p = _period(tmp_path)
    pd.DataFrame({"villcode": ["63000010001"], column: [value]}).to_csv(
        p / "staff" / "leak.csv", index=False
    )
    findings = D.audit(p)
    assert findings and findings[0].file == "staff/leak.csv" and problem in findings[0].problem
    with pytest.raises(D.AuditFailed, match=r"staff/leak\.csv"):
        D.check(p)


def test_audit_finds_small_counts_in_public_only(tmp_path):
    p = _period(tmp_path)
    t = pd.DataFrame({"villcode": ["a", "b"], "incidents": [3, 15]})
    t.to_csv(p / "staff" / "v.csv", index=False)
    t.to_csv(p / "public" / "v.csv", index=False)
    findings = D.audit(p, public_level="village")
    assert [str(f) for f in findings] == [
        "public/v.csv: row 2, column 'incidents': count 3 below the threshold 10"
    ]


def test_audit_html_tables_and_images(tmp_path):
    p = _period(tmp_path)
    (p / "public" / "index.html").write_text(
        "<table><tr><th>事件數</th></tr><tr><td>4</td></tr></table>"
    )
    (p / "public" / "map.png").write_bytes(b"\x89PNG")
    problems = [f.problem for f in D.audit(p)]
    assert any("below the threshold" in x for x in problems)
    assert any("no data table beside it" in x for x in problems)


def test_cli_audit(tmp_path, capsys):
    from dv_analysis.cli import main

    p = _period(tmp_path)
    assert main(["audit", str(p)]) == 0
    pd.DataFrame({"villcode": ["a"], "incidents": [2]}).to_csv(p / "public" / "v.csv", index=False)
    assert main(["audit", str(p)]) == 1
    assert (
        "public/v.csv: row 2, column 'incidents': count 2 below the threshold 10"
        in capsys.readouterr().err
    )
