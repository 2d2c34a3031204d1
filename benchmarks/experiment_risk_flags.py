"""Experiment (issue 11): would another flag find the weak worlds' planted villages?

The planted worlds of ``validate_risk.py`` (synthetic Taipei years, clusters ×1.8 or ×2.6),
each scored with four flags from two fits of the risk stage's model (``stats.bym2``):

- ``plain P(RR > 1)``: the stage's flag (no covariates): risk above the city's rate;
- ``plain P(b > 0)``: the same fit, the village's own effect above zero, i.e. risk above the
  typical village's (``exp(β0)``, below the city's rate when a few villages are very high);
- ``covariates P(RR > 1)`` and ``covariates P(b > 0)``: BYM2 with the low-income, divorce
  and over-64 rates (standardised) as covariates; ``b`` is then the risk left unexplained
  by them, the "unexplained excess" flag.

Precision is against the true relative risk of a reported incident (> 1), recall of the
planted villages, as in ``validate_risk.py``. The draws are read from NumPyro's MCMC object
(the stage does not keep the area effects), so this is an experiment, not a product path.

    .venv/bin/python benchmarks/experiment_risk_flags.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import numpyro.infer
import pandas as pd

from dv_analysis import validation as V
from dv_analysis.config import Settings
from dv_analysis.stages import clean, features, risk
from dv_analysis.stats import bym2, icar
from dv_analysis.stats.weights import contiguity
from dv_analysis.synth import SynthConfig, generate

COVARIATES = ["low_income_per_1000", "divorces_per_1000", "share_over_64"]
LAST: dict = {}


class _KeepDraws(numpyro.infer.MCMC):
    def get_samples(self, *args, **kwargs):
        LAST["draws"] = super().get_samples(*args, **kwargs)
        return LAST["draws"]


def _flags(gf, expected, adjacency, x) -> pd.DataFrame:
    """P(RR > 1) and P(b > 0) of every village from one fit (with covariates ``x`` or None)."""
    fit = bym2.fit_bym2(gf["observed"], expected, adjacency, x, ids=gf["villcode"])
    n, chains = len(gf), fit.sampler["chains"]
    size = icar.padded_size(n)
    basis, inverse_eigen, alone = icar.dense_basis(icar.prepare_graph(adjacency), size)
    xp = None if x is None else np.vstack([x.to_numpy(float), np.zeros((size - n, x.shape[1]))])
    draws = {k: np.asarray(v) for k, v in LAST["draws"].items()}
    by_chain = {k: v.reshape((chains, -1) + v.shape[1:]) for k, v in draws.items()}
    log_rr = bym2._log_rr(by_chain, xp, basis, inverse_eigen, alone, n).reshape(-1, n)
    fixed = draws["beta0"].reshape(-1, 1)
    if x is not None:
        fixed = fixed + draws["beta"].reshape(-1, x.shape[1]) @ x.to_numpy(float).T
    return pd.DataFrame(
        {"villcode": gf["villcode"], "rr": (log_rr > 0).mean(0), "b": (log_rr > fixed).mean(0)}
    )


def world(seed: int, strength: float, root: Path, flag: float) -> dict:
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    generate(s, SynthConfig(start="2020Q1", end="2020Q4", seed=seed,
                            model=V.risk_world(strength)), progress=False)  # fmt: skip
    for q in ("2020Q1", "2020Q2", "2020Q3", "2020Q4"):
        clean.write_outputs(s.period(q), clean.clean_period(s.period(q), progress=False))
    p = s.period("2020Q4")
    features.build(p)
    g, _ = risk.window_table(p, "incidents", 4)  # the year these numbers were measured on
    gf = g[g["person_quarters"] > 0].reset_index(drop=True)
    expected = risk.expected_counts(gf["observed"].to_numpy(float), gf["person_quarters"])
    neighbours, _ = contiguity(gf, "queen", ids="villcode")
    adjacency = icar.adjacency_matrix(neighbours, gf["villcode"])
    feats = pd.read_parquet(p.village_features).set_index("villcode").loc[gf["villcode"]]
    x = feats[COVARIATES].astype(float)
    x = ((x - x.mean()) / x.std()).fillna(0.0).reset_index(drop=True)
    truth = V._truth(s, V.window_periods(p.period, 4))
    row = {"strength": strength, "seed": seed}
    for name, cov in (("plain", None), ("covariates", x)):
        t = _flags(gf, expected, adjacency, cov)
        for col in ("rr", "b"):
            scores = V._scores(set(t.loc[t[col] >= flag, "villcode"]), truth)
            row[f"{name} {col} precision"] = scores["precision"]
            row[f"{name} {col} recall"] = scores["recall"]
            row[f"{name} {col} isolated"] = scores["isolated_found"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--flag", type=float, default=0.9)
    args = ap.parse_args()
    numpyro.infer.MCMC = _KeepDraws  # bym2._sampler makes its MCMC from here
    rows = []
    for strength in (1.8, 2.6):
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(world(seed, strength, Path(tmp), args.flag))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    scored = [c for c in df.columns if c.endswith(("precision", "recall"))]
    print(df.groupby("strength")[scored].agg(["mean", "min"]).T.to_string(float_format="%.3f"))
    iso = [c for c in df.columns if c.endswith("isolated")]
    print(df.groupby("strength")[iso].sum().T.to_string())


if __name__ == "__main__":
    main()
