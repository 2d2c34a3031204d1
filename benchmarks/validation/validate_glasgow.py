"""The space-time model with covariates on CARBayesST's worked example (docs/validation.md).

The data are CARBayesdata's ``pollutionhealthdata`` (respiratory hospitalisations of the 271
Intermediate Zones of Greater Glasgow and Clyde, 2007–2011, with expected counts, PM10, the
share on Job Seekers Allowance and property price) and ``GGHB.IZ`` (their polygons). They
ship as R data files; ``convert`` turns them into a CSV and a GeoJSON with the ``rdata``
package (pure Python, not a dependency of dv_analysis: install it in a scratch environment)::

    git clone <CARBayesdata> && python -m venv /tmp/rd && /tmp/rd/bin/pip install rdata shapely
    /tmp/rd/bin/python benchmarks/validation/validate_glasgow.py convert CARBayesdata/data /tmp/glasgow

``fit`` then fits the space-time model with the three covariates through the command line's
own path (``dv-analysis smooth --time --covariate …``: queen neighbours of the polygons, as
CARBayesST's vignette builds ``W`` with ``poly2nb``), a Poisson GLM (statsmodels; the
quasi-Poisson standard errors the vignette prints; also with a level per year, and with a
level per zone and per year) and compares them with the vignette's published numbers::

    .venv/bin/python benchmarks/validation/validate_glasgow.py fit /tmp/glasgow [--nuts]

``--nuts`` also fits the same model by NUTS (2 chains × 1,000 draws after 1,000 of warm-up,
about 6 minutes): a check that the gap to the vignette is the model's, not the engine's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

COVARIATES = ("jsa", "price", "pm10")
#: CARBayesST's vignette (Lee, Rushworth & Napier 2018, J. Stat. Softw. 84(9), section 5.1):
#: ST.CARar (AR(1) in time), one chain, posterior median and 95 % interval per unit.
PUBLISHED_ST_CARAR = {
    "jsa": (0.0646, 0.0547, 0.0753),
    "price": (-0.1961, -0.2389, -0.1525),
    "pm10": (0.0357, 0.0231, 0.0469),
}
#: The same vignette's quasi-Poisson GLM: estimate and standard error (dispersion 4.3996).
PUBLISHED_GLM = {
    "jsa": (0.06041994, 0.003231475),
    "price": (-0.28293191, 0.018292049),
    "pm10": (0.04174701, 0.003282156),
}


def convert(data_dir: Path, out: Path) -> None:
    """pollutionhealthdata.rda and GGHB.IZ.rda → pollutionhealthdata.csv, gghb_iz.geojson."""
    import rdata
    from shapely.geometry import MultiPolygon, Polygon, mapping

    out.mkdir(parents=True, exist_ok=True)
    panel = rdata.read_rda(str(data_dir / "pollutionhealthdata.rda"))["pollutionhealthdata"]
    panel.to_csv(out / "pollutionhealthdata.csv", index=False)
    zones = rdata.read_rda(str(data_dir / "GGHB.IZ.rda"))["GGHB.IZ"]
    features = [
        {
            "type": "Feature",
            "properties": {"IZ": str(iz)},
            "geometry": mapping(MultiPolygon([Polygon(p[0], p[1:]) for p in geom])),
        }
        for iz, geom in zip(zones["IZ"], zones["geometry"], strict=True)
    ]
    (out / "gghb_iz.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )


def queen_gal(geojson: Path, gal: Path) -> int:
    """Queen neighbours of the zones (shared border or corner), written as a GAL file."""
    import geopandas as gpd
    import libpysal

    zones = gpd.read_file(geojson)
    w = libpysal.weights.Queen.from_dataframe(zones, ids=zones["IZ"].tolist(), use_index=False)
    lines = [str(w.n)]
    for i in w.id_order:
        lines += [f"{i} {len(w.neighbors[i])}", " ".join(map(str, w.neighbors[i]))]
    gal.write_text("\n".join(lines) + "\n")
    return int(w.s0 / 2)


def glm(panel: pd.DataFrame, extra: str = "") -> dict:
    """Poisson GLM with offset log(expected) (and ``extra`` terms, e.g. ``C(year)``):
    estimates and quasi-Poisson standard errors."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    formula = "observed ~ " + " + ".join([*COVARIATES, *filter(None, [extra])])
    res = smf.glm(
        formula, panel, family=sm.families.Poisson(), offset=np.log(panel["expected"])
    ).fit(scale="X2")
    return {c: (float(res.params[c]), float(res.bse[c])) for c in COVARIATES} | {
        "dispersion": float(res.scale)
    }


def variance_shares(panel: pd.DataFrame) -> dict:
    """Each covariate's variance split into between zones, between years and the rest."""
    out = {}
    for c in COVARIATES:
        zone = panel.groupby("IZ")[c].transform("mean")
        year = panel.groupby("year")[c].transform("mean")
        rest = panel[c] - zone - year + panel[c].mean()
        total = panel[c].var()
        out[c] = {
            k: float(v.var() / total) for k, v in (("zone", zone), ("year", year), ("rest", rest))
        }
    return out


def nuts_check(panel: pd.DataFrame, gal: Path) -> dict:
    """The same model by NUTS (2 chains × 1,000 draws after 1,000 of warm-up): β per unit
    (mean, sd) and the worst R-hat. The panel is arranged as ``smooth --time`` does it."""
    from dv_analysis.cli.any_layer import read_gal
    from dv_analysis.stats.disease_mapping import spacetime
    from dv_analysis.stats.disease_mapping.icar import adjacency_matrix, prepare_graph

    raw = panel[list(COVARIATES)]
    z = panel.assign(**((raw - raw.mean()) / raw.std()))
    columns = ("observed", "expected", *COVARIATES)
    wide = {c: z.pivot(index="IZ", columns="year", values=c).sort_index() for c in columns}
    ids = wide["observed"].index.astype(str)
    x = np.stack([wide[c].to_numpy(float) for c in COVARIATES], axis=-1)
    graph = prepare_graph(adjacency_matrix(read_gal(gal), ids))
    st_panel = spacetime.prepare_panel(wide["observed"], wide["expected"], graph, x)
    options = spacetime.EngineOptions(chains=2, warmup=1000, nuts_draws=1000, seed=1)
    fit = spacetime.fit(st_panel, "nuts", options=options)
    per_unit = fit.beta / raw.std().to_numpy()
    return {
        "beta": {
            c: (float(per_unit[:, k].mean()), float(per_unit[:, k].std(ddof=1)))
            for k, c in enumerate(COVARIATES)
        },  # fmt: skip
        "rhat_max": fit.diagnostics["rhat_max"],
        "rhat_worst": fit.diagnostics["rhat_worst"],
        "seconds": round(fit.seconds),
    }


def fit(data: Path, nuts: bool = False) -> dict:
    """The space-time fit through ``smooth_panel_file`` and the GLM, against the vignette."""
    from dv_analysis.cli.any_layer import smooth_panel_file

    panel = pd.read_csv(data / "pollutionhealthdata.csv")
    with tempfile.TemporaryDirectory() as tmp:
        gal = Path(tmp) / "gghb_iz.gal"
        edges = queen_gal(data / "gghb_iz.geojson", gal)
        csv = Path(tmp) / "panel.csv"
        panel.to_csv(csv, index=False)
        t0 = time.perf_counter()
        _, summary = smooth_panel_file(
            csv, "observed", "IZ", "year", expected="expected", weights=str(gal),
            covariates=COVARIATES,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        nuts_result = nuts_check(panel, gal) if nuts else None
    ours = summary["fixed_effects"]
    return {
        "zones": int(panel["IZ"].nunique()),
        "years": int(panel["year"].nunique()),
        "queen_edges": edges,
        "seconds": round(seconds, 1),
        "diagnostics_ok": summary["diagnostics"]["ok"],
        "hyperparameters": {k: v["mean"] for k, v in summary["hyperparameters"].items()},
        "ours": {c: ours[c]["per_unit"] for c in COVARIATES},
        "irr": {c: ours[c]["irr"] for c in COVARIATES},
        "glm": glm(panel),
        "glm_year": glm(panel, "C(year)"),
        "glm_zone_year": glm(panel, "C(IZ) + C(year)"),
        "variance_shares": variance_shares(panel),
        "nuts": nuts_result,
    }


def report(r: dict) -> None:
    """The comparison table: ours (mean, 90 % interval), ST.CARar (median, 95 %), GLM."""
    print(f"{r['zones']} zones × {r['years']} years, {r['queen_edges']} queen pairs;"
          f" fit {r['seconds']} s, checks ok {r['diagnostics_ok']}")  # fmt: skip
    print("hyperparameters:", {k: round(v, 4) for k, v in r["hyperparameters"].items()})
    print(f"{'':6} {'ours mean (90 %)':>30} {'sd':>7} {'ST.CARar median (95 %)':>30}"
          f" {'GLM (se)':>20} {'|ours−CARar|/sd':>16}")  # fmt: skip
    for c in COVARIATES:
        o, (m, lo, hi), (g, se) = r["ours"][c], PUBLISHED_ST_CARAR[c], r["glm"][c]
        print(
            f"{c:6} {o['mean']:>10.4f} ({o['q05']:.4f}, {o['q95']:.4f})"
            f" {o['sd']:>7.4f} {m:>10.4f} ({lo:.4f}, {hi:.4f}) {g:>11.5f} ({se:.5f})"
            f" {abs(o['mean'] - m) / o['sd']:>16.2f}"
        )
    for c in COVARIATES:
        i, v = r["irr"][c], r["variance_shares"][c]
        print(
            f"{c:6} rate ratio per unit {i['median']:.4f} (90 % {i['q05']:.4f}, {i['q95']:.4f});"
            f" GLM + year {r['glm_year'][c][0]:.4f} ({r['glm_year'][c][1]:.4f});"
            f" GLM + zone + year {r['glm_zone_year'][c][0]:.4f} ({r['glm_zone_year'][c][1]:.4f});"
            f" variance: zones {v['zone']:.0%}, years {v['year']:.0%}, rest {v['rest']:.0%}"
        )
    if r["nuts"]:
        n = r["nuts"]
        print(f"NUTS ({n['seconds']} s; worst R-hat {n['rhat_max']:.3f}, {n['rhat_worst']}):",
              {c: tuple(round(v, 4) for v in m) for c, m in n["beta"].items()})  # fmt: skip
    glm_err = max(abs(r["glm"][c][0] - PUBLISHED_GLM[c][0]) for c in COVARIATES)
    print(f"GLM vs the vignette's glm(): largest difference {glm_err:.2e};"
          f" dispersion {r['glm']['dispersion']:.4f} (vignette 4.3996)")  # fmt: skip


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="R data files → CSV + GeoJSON (needs rdata)")
    c.add_argument("data_dir", type=Path)
    c.add_argument("out", type=Path)
    f = sub.add_parser("fit", help="fit and compare with the vignette")
    f.add_argument("data", type=Path)
    f.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    f.add_argument("--nuts", action="store_true", help="also fit the same model by NUTS (6 min)")
    args = ap.parse_args(argv)
    if args.command == "convert":
        convert(args.data_dir, args.out)
        return
    r = fit(args.data, args.nuts)
    report(r)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    sys.exit(main())
