"""``dv-analysis smooth``: BYM2 for any layer, with its own GAL adjacency; bad input named."""

import json
from pathlib import Path

import pandas as pd
import pytest

from dv_analysis.cli import main

SCOTLAND = Path(__file__).parent / "data" / "scotland_lip_cancer.json"


@pytest.fixture(scope="module")
def scotland_files(tmp_path_factory):
    d = json.loads(SCOTLAND.read_text())
    root = tmp_path_factory.mktemp("scot")
    ids = sorted(int(k) for k in d["neighbours"])
    pd.DataFrame(
        {"district": ids, "x": range(len(ids)), "y": 0, "cases": d["y"], "E": d["E"],
         "aff": [0.1 * v for v in d["x"]]}
    ).to_csv(root / "scotland.csv", index=False)  # fmt: skip
    gal = [str(len(ids))]
    for k in ids:
        nbs = d["neighbours"][str(k)]
        gal += [f"{k} {len(nbs)}", " ".join(map(str, nbs))]
    (root / "scotland.gal").write_text("\n".join(gal) + "\n")
    return root


def test_smooth_with_a_gal_file(scotland_files, capsys):
    r = scotland_files
    code = main(["smooth", str(r / "scotland.csv"), "--count", "cases", "--expected", "E",
                 "--covariate", "aff", "--id", "district", "--weights", str(r / "scotland.gal"),
                 "--out", str(r / "out.csv"), "--summary", str(r / "summary.json")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = pd.read_csv(r / "out.csv", encoding="utf-8-sig")
    assert list(out.columns) == ["district", "rr_mean", "rr_low", "rr_high", "p_exceed_1"]
    assert len(out) == 56 and (out["rr_low"] <= out["rr_high"]).all()
    s = json.loads((r / "summary.json").read_text())
    assert {"fixed_effects", "hyperparameters", "diagnostics"} <= set(s)
    assert set(s["fixed_effects"]["aff"]) == {"mean", "sd", "q05", "q95"}
    assert {"rhat_max", "ess_bulk_min"} <= set(s["diagnostics"])
    # on the covariate's own scale (0.1 × AFF), as R-INLA reports it: intercept −0.2215,
    # AFF/10 0.3707 (Moraga 2019, ch. 6; the issue's R-INLA numbers); the standardised
    # effect beside it is the same per SD
    fe = s["fixed_effects"]
    assert fe["aff"]["mean"] == pytest.approx(0.37, abs=0.03)
    assert fe["intercept"]["mean"] == pytest.approx(-0.22, abs=0.06)
    sd = pd.read_csv(r / "scotland.csv")["aff"].std()
    assert s["fixed_effects_standardised"]["aff"]["mean"] / sd == pytest.approx(0.365, abs=0.03)


def test_smooth_reads_a_plain_table_with_a_gal_file(scotland_files, capsys):
    """A GAL file needs no geometry: a table without x and y is read as it is."""
    r = scotland_files
    pd.read_csv(r / "scotland.csv").drop(columns=["x", "y"]).to_csv(r / "plain.csv", index=False)
    code = main(["smooth", str(r / "plain.csv"), "--count", "cases", "--expected", "E",
                 "--id", "district", "--weights", str(r / "scotland.gal"), "--draws", "300",
                 "--warmup", "300", "--out", str(r / "plain_out.csv")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert len(pd.read_csv(r / "plain_out.csv", encoding="utf-8-sig")) == 56


@pytest.mark.parametrize(
    "change, message",
    [
        (["--count", "nope"], "no column 'nope'"),
        (["--expected", "zero"], "row 2, column 'zero': expected count must be positive"),
        (["--weights", "scotland.gal"], "ids not in the GAL file: 57"),
    ],
)
def test_smooth_names_bad_input(scotland_files, capsys, change, message):
    r = scotland_files
    df = pd.read_csv(r / "scotland.csv")
    df = df.assign(zero=0.0)
    if "--weights" in change:  # an area the GAL file does not know
        df = pd.concat([df, df.tail(1).assign(district=57)], ignore_index=True)
    df.to_csv(r / "bad.csv", index=False)
    args = {
        "--count": "cases",
        "--expected": "E",
        "--id": "district",
        "--weights": str(r / "scotland.gal"),
    }
    for k, v in zip(change[::2], change[1::2], strict=True):
        args[k] = str(r / v) if v.endswith(".gal") else v
    argv = [
        "smooth",
        str(r / "bad.csv"),
        "--out",
        str(r / "x.csv"),
        "--draws",
        "50",
        "--warmup",
        "50",
    ]
    for k, v in args.items():
        argv += [k, v]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
