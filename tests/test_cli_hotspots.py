"""dv-analysis hotspots on any layer: published datasets from files."""

from pathlib import Path

import pandas as pd
import pytest
from libpysal import examples

from dv_analysis.cli import main

VALIDATION = Path(__file__).parents[2] / "shared" / "data" / "validation"
COLUMNS = {"gi_z", "gi_p", "gi_bin", "lisa_q", "lisa_p", "lisa_cluster", "lisa_I"}


def test_polygons_without_population(tmp_path, capsys):
    out = tmp_path / "columbus.csv"
    code = main(
        [
            "hotspots",
            examples.get_path("columbus.shp"),
            "--count",
            "CRIME",
            "--id",
            "POLYID",
            "--permutations",
            "499",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "global Moran's I = 0.500189" in capsys.readouterr().out
    t = pd.read_csv(out)
    assert len(t) == 49 and COLUMNS <= set(t.columns) and t["POLYID"].is_unique


def test_polygons_with_population(tmp_path, capsys):
    out = tmp_path / "auckland.csv"
    code = main(
        [
            "hotspots",
            str(VALIDATION / "auckland.gpkg"),
            "--count",
            "M77_85",
            "--population",
            "Und5_81",
            "--permutations",
            "499",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "EB-standardised Moran's I" in capsys.readouterr().out
    t = pd.read_csv(out)
    assert len(t) == 167 and {"rate_raw", "rate_eb", "rate_seb"} <= set(t.columns)


def test_point_csv(tmp_path):
    out = tmp_path / "grid.csv"
    code = main(
        [
            "hotspots",
            str(VALIDATION / "getis_ord_grid.csv"),
            "--count",
            "value",
            "--weights",
            "distance:30",
            "--permutations",
            "99",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert pd.read_csv(out)["gi_z"].iloc[119] == pytest.approx(1.45078, abs=1e-5)


def test_clear_errors(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert (
        main(
            [
                "hotspots",
                str(VALIDATION / "getis_ord_grid.csv"),
                "--count",
                "value",
                "--weights",
                "queen",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "contiguity needs polygons" in capsys.readouterr().err
    assert (
        main(["hotspots", str(VALIDATION / "auckland.gpkg"), "--count", "nope", "--out", str(out)])
        == 1
    )
    assert "no column 'nope'" in capsys.readouterr().err
