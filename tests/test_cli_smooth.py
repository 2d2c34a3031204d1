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
        {
            "district": ids,
            "x": range(len(ids)),
            "y": 0,
            "cases": d["y"],
            "E": d["E"],
            "aff": [0.1 * v for v in d["x"]],
        }
    ).to_csv(root / "scotland.csv", index=False)
    gal = [str(len(ids))]
    for k in ids:
        nbs = d["neighbours"][str(k)]
        gal += [f"{k} {len(nbs)}", " ".join(map(str, nbs))]
    (root / "scotland.gal").write_text("\n".join(gal) + "\n")
    return root


def test_smooth_with_a_gal_file(scotland_files, capsys):
    r = scotland_files
    code = main(
        [
            "smooth",
            str(r / "scotland.csv"),
            "--count",
            "cases",
            "--expected",
            "E",
            "--covariate",
            "aff",
            "--id",
            "district",
            "--weights",
            str(r / "scotland.gal"),
            "--out",
            str(r / "out.csv"),
            "--summary",
            str(r / "summary.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = pd.read_csv(r / "out.csv", encoding="utf-8-sig")
    assert list(out.columns) == ["district", "rr_mean", "rr_low", "rr_high", "p_exceed_1"]
    assert len(out) == 56 and (out["rr_low"] <= out["rr_high"]).all()
    s = json.loads((r / "summary.json").read_text())
    assert {"fixed_effects", "hyperparameters", "diagnostics"} <= set(s)
    assert set(s["fixed_effects"]["aff"]) == {"mean", "sd", "q05", "q95"}
    assert s["diagnostics"]["engine"] == "laplace" and s["diagnostics"]["ok"]  # the default
    # on the covariate's own scale (0.1 × AFF), as R-INLA reports it: intercept −0.2215,
    # AFF/10 0.3707 (Moraga 2019, ch. 6; the issue's R-INLA numbers); the standardised
    # effect beside it is the same per SD
    fe = s["fixed_effects"]
    assert fe["aff"]["mean"] == pytest.approx(0.37, abs=0.02)
    assert fe["intercept"]["mean"] == pytest.approx(-0.22, abs=0.03)
    sd = pd.read_csv(r / "scotland.csv")["aff"].std()
    assert s["fixed_effects_standardised"]["aff"]["mean"] / sd == pytest.approx(0.365, abs=0.03)


def test_smooth_reads_a_plain_table_with_a_gal_file(scotland_files, capsys):
    """A GAL file needs no geometry: a table without x and y is read as it is (here with the
    reference engine, NUTS)."""
    r = scotland_files
    pd.read_csv(r / "scotland.csv").drop(columns=["x", "y"]).to_csv(r / "plain.csv", index=False)
    code = main(
        [
            "smooth",
            str(r / "plain.csv"),
            "--count",
            "cases",
            "--expected",
            "E",
            "--id",
            "district",
            "--weights",
            str(r / "scotland.gal"),
            "--draws",
            "300",
            "--warmup",
            "300",
            "--engine",
            "nuts",
            "--out",
            str(r / "plain_out.csv"),
            "--summary",
            str(r / "plain.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "BYM2 (nuts) on 56 areas" in capsys.readouterr().out
    assert len(pd.read_csv(r / "plain_out.csv", encoding="utf-8-sig")) == 56
    assert {"rhat_max", "ess_bulk_min"} <= set(
        json.loads((r / "plain.json").read_text())["diagnostics"]
    )


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


@pytest.fixture(scope="module")
def panel_files(tmp_path_factory):
    """A 6 × 6 lattice over 10 quarters (expected 10 a quarter each): a 2 × 2 block rises to
    2.5 times its rate over the last four quarters; the rest stays as it was."""
    import numpy as np

    from dv_analysis.synth.worlds import lattice_adjacency

    root = tmp_path_factory.mktemp("panel")
    k, periods = 6, [f"{y}Q{q}" for y in (2018, 2019, 2020) for q in (1, 2, 3, 4)][:10]
    a = lattice_adjacency(k).tolil()
    block = {7, 8, 13, 14}
    rng = np.random.default_rng(5)
    rows = []
    for t, p in enumerate(periods):
        for i in range(k * k):
            mu = 10.0 * (2.5 if i in block and t >= 6 else 1.0)
            rows.append({"area": f"a{i}", "quarter": p, "cases": rng.poisson(mu), "pop": 1000})
    pd.DataFrame(rows).to_csv(root / "panel.csv", index=False)
    gal = [str(k * k)] + [
        x
        for i in range(k * k)
        for x in (f"a{i} {len(a.rows[i])}", " ".join(f"a{j}" for j in a.rows[i]))
    ]
    (root / "panel.gal").write_text("\n".join(gal) + "\n")
    return root


def test_smooth_with_time_fits_the_space_time_model(panel_files, capsys):
    """``--time`` gives each area its present risk and direction: the block that rose reads
    as rising and high now; an area far from it stays level near 1."""
    r = panel_files
    code = main(
        [
            "smooth",
            str(r / "panel.csv"),
            "--count",
            "cases",
            "--population",
            "pop",
            "--id",
            "area",
            "--time",
            "quarter",
            "--weights",
            str(r / "panel.gal"),
            "--out",
            str(r / "st.csv"),
            "--summary",
            str(r / "st.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = pd.read_csv(r / "st.csv", encoding="utf-8-sig").set_index("area")
    assert {
        "rr_now_mean",
        "rr_now_low",
        "rr_now_high",
        "p_now_exceed_1",
        "p_rising",
        "trend",
        "rr_mean",
        "p_exceed_1",
    } <= set(out.columns)
    block = [f"a{i}" for i in (7, 8, 13, 14)]
    assert (out.loc[block, "trend"] == "rising").all(), out.loc[block]
    assert (out.loc[block, "rr_now_mean"] > 1.5).all() and (out.loc[block, "p_rising"] > 0.9).all()
    assert out.loc["a35", "trend"] == "level" and 0.7 < out.loc["a35", "rr_now_mean"] < 1.3
    s = json.loads((r / "st.json").read_text())
    assert s["periods"][0] == "2018Q1" and len(s["periods"]) == 10 and s["now_periods"] == 4
    assert s["diagnostics"]["ok"], s["diagnostics"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda df: df.drop(index=5), "area 'a5' has no row for period '2018Q1'"),
        (lambda df: pd.concat([df, df.head(1)]), "row 362: area 'a0' has period '2018Q1' twice"),
        (lambda df: df.assign(cases=df["cases"].where(df.index != 3, -1)), "row 5, column 'cases'"),
    ],
)
def test_smooth_with_time_names_bad_panels(panel_files, capsys, edit, message):
    r = panel_files
    edit(pd.read_csv(r / "panel.csv")).to_csv(r / "bad_panel.csv", index=False)
    code = main(
        [
            "smooth",
            str(r / "bad_panel.csv"),
            "--count",
            "cases",
            "--population",
            "pop",
            "--id",
            "area",
            "--time",
            "quarter",
            "--weights",
            str(r / "panel.gal"),
            "--out",
            str(r / "bad.csv"),
        ]
    )
    assert code != 0
    assert message in capsys.readouterr().err


def test_smooth_with_time_refuses_the_nuts_engine_in_words(panel_files, capsys):
    r = panel_files
    code = main(
        [
            "smooth",
            str(r / "panel.csv"),
            "--count",
            "cases",
            "--population",
            "pop",
            "--id",
            "area",
            "--time",
            "quarter",
            "--weights",
            str(r / "panel.gal"),
            "--engine",
            "nuts",
            "--out",
            str(r / "st_nuts.csv"),
        ]
    )
    assert code != 0
    assert "--engine nuts is not supported with --time" in capsys.readouterr().err


def _covariate_panel(root, income_unit=1.0):
    """``panel.csv`` of :func:`panel_files`' lattice with two covariates of known effect: an
    area's income (the same every quarter; rate ratio 0.8 per 10,000) and the quarter's rain
    (area × quarter; 1.3 per 100 mm). No random effects: a Poisson GLM is the right model."""
    import numpy as np

    rng = np.random.default_rng(11)
    df = pd.read_csv(root / "panel.csv")
    income = dict(zip(df["area"].unique(), rng.normal(50_000, 10_000, 36), strict=True))
    df["income"] = df["area"].map(income)
    df["rain"] = rng.gamma(4.0, 50.0, len(df))
    mu = 10.0 * 0.8 ** ((df["income"] - 50_000) / 10_000) * 1.3 ** (df["rain"] / 100)
    df["cases"] = rng.poisson(mu)
    df["income"] = df["income"] / income_unit
    df.to_csv(root / f"cov_{income_unit}.csv", index=False)
    return df


def _smooth_covariates(r, name, capsys, extra=()):
    code = main(
        ["smooth", str(r / name), "--count", "cases", "--population", "pop", "--id", "area"]
        + ["--time", "quarter", "--weights", str(r / "panel.gal"), "--covariate", "income"]
        + ["--covariate", "rain", "--out", str(r / "cov.csv"), "--summary", str(r / "cov.json")]
        + list(extra)
    )
    return code, capsys.readouterr()


@pytest.mark.slow(seconds=15, why="two space-time fits of 36 areas × 10 quarters")
def test_smooth_with_time_and_covariates_reports_rate_ratios_per_unit(panel_files, capsys):
    """Each covariate's rate ratio per unit of its own scale, with its 90 % interval: the
    interval holds the true ratio, the estimate is within a posterior sd of statsmodels'
    Poisson GLM (no random effects in these data), and a covariate given in other units
    changes its ratio per unit by that factor and nothing else."""
    import numpy as np
    import statsmodels.api as sm

    r = panel_files
    df = _covariate_panel(r)
    code, out = _smooth_covariates(r, "cov_1.0.csv", capsys)
    assert code == 0, out.err
    assert "income: rate ratio per unit" in out.out and "90 % interval" in out.out
    fixed = json.loads((r / "cov.json").read_text())["fixed_effects"]
    true = {"income": np.log(0.8) / 10_000, "rain": np.log(1.3) / 100}
    x = sm.add_constant(df[["income", "rain"]])
    offset = np.log(df["pop"] * df["cases"].sum() / df["pop"].sum())
    glm = sm.GLM(df["cases"], x, family=sm.families.Poisson(), offset=offset).fit()
    for name, beta in true.items():
        f = fixed[name]
        assert f["interval"] == "90 %"
        assert f["irr"]["q05"] < np.exp(beta) < f["irr"]["q95"], (name, f["irr"])
        assert abs(f["per_unit"]["mean"] - glm.params[name]) < f["per_unit"]["sd"], name
    _covariate_panel(r, income_unit=1000.0)
    code, out = _smooth_covariates(r, "cov_1000.0.csv", capsys)
    assert code == 0, out.err
    thousands = json.loads((r / "cov.json").read_text())["fixed_effects"]
    assert thousands["income"]["per_unit"]["mean"] == pytest.approx(
        1000 * fixed["income"]["per_unit"]["mean"], rel=1e-6
    )
    assert thousands["rain"]["standardised"]["mean"] == pytest.approx(
        fixed["rain"]["standardised"]["mean"], rel=1e-6
    )


def test_smooth_with_time_names_a_covariate_that_is_not_a_number(panel_files, capsys):
    r = panel_files
    df = _covariate_panel(r).astype({"rain": object})
    df.loc[4, "rain"] = "lots"
    df.loc[7, "income"] = None
    df.to_csv(r / "cov_bad.csv", index=False)
    code, out = _smooth_covariates(r, "cov_bad.csv", capsys)
    assert code != 0
    assert "row 9, column 'income': the value is missing" in out.err
    df.loc[7, "income"] = 1.0
    df.to_csv(r / "cov_bad.csv", index=False)
    code, out = _smooth_covariates(r, "cov_bad.csv", capsys)
    assert "row 6, column 'rain': 'lots' is not a number" in out.err
