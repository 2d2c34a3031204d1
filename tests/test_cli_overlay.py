"""dv-analysis overlay from the command line: the files it writes, and its staff page in a
real browser at desktop and phone width, with no network request."""

import json

import pandas as pd
import pytest

from dv_analysis.browser import find_chromium
from dv_analysis.cli import main
from tests.stages.test_overlay_stage import WELFARE, _planted_dv


@pytest.mark.slow(seconds=20, why="9,999 surrogates and permutations, then Chromium twice")
def test_overlay_command_writes_its_files_and_a_page_that_works_offline(settings, tmp_path):
    w = pd.read_csv(settings.public_dir / WELFARE, dtype={"VILLCODE": str}).set_index("VILLCODE")
    _planted_dv(settings, w["cnt_total"].astype(float))
    out = tmp_path / "out"
    argv = ["overlay", str(settings.public_dir / WELFARE), "--kind", "villages"]
    argv += ["--count", "cnt_total", "--clean-dir", str(settings.clean_dir), "--out", str(out)]
    assert main(argv) == 0
    for name in ("overlay_villages.csv", "overlay_match.json", "overlay_bivariate.csv"):
        assert (out / name).exists(), name
    m = json.loads((out / "overlay_match.json").read_text(encoding="utf-8"))
    assert m["rows"] == 456 and m["accounted"]
    assert (out / "open_data" / "overlay_districts.csv").exists()
    if not find_chromium():
        pytest.skip("no Chromium")
    from dv_analysis.browser import Browser

    with Browser() as b:
        for width, mobile in ((1280, False), (390, True)):
            b.set_width(width, mobile)
            r = b.check(out / "overlay.html", screenshot=tmp_path / f"overlay_{width}.png")
            assert r.ok, (width, r.requests, r.console_errors)
            assert b.evaluate("document.querySelectorAll('.ivmap').length") == 2
            assert b.evaluate("document.documentElement.scrollWidth") <= width + 1


def test_bad_column_is_one_line_naming_the_file(settings, tmp_path, capsys):
    argv = ["overlay", str(settings.public_dir / WELFARE), "--kind", "villages", "--count", "nope"]
    assert main([*argv, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "village_welfare_recipients_2023.csv" in err and "'nope'" in err


def test_a_district_table_is_compared_at_district_level_only(settings, tmp_path):
    table = tmp_path / "districts.csv"
    table.write_text("dist,count\n中山區,5\n大安,7\n板橋區,3\n", encoding="utf-8")
    argv = [
        "overlay",
        str(table),
        "--kind",
        "districts",
        "--count",
        "count",
        "--permutations",
        "99",
    ]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    m = json.loads((tmp_path / "out" / "overlay_match.json").read_text(encoding="utf-8"))
    assert m["matched"] == {"district_only": 2} and m["unmatched"] == {
        "district not in the city": 1
    }
    assert "行政區層級" in (tmp_path / "out" / "overlay.html").read_text(encoding="utf-8")
