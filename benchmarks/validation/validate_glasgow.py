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
quasi-Poisson standard errors the vignette prints) and compares both with the vignette's
published numbers::

    .venv/bin/python benchmarks/validation/validate_glasgow.py fit /tmp/glasgow
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


def glm(panel: pd.DataFrame) -> dict:
    """Poisson GLM with offset log(expected): estimates and quasi-Poisson standard errors."""
    import statsmodels.api as sm

    x = sm.add_constant(panel[list(COVARIATES)])
    res = sm.GLM(
        panel["observed"], x, family=sm.families.Poisson(), offset=np.log(panel["expected"])
    ).fit(scale="X2")
    return {c: (float(res.params[c]), float(res.bse[c])) for c in COVARIATES} | {
        "dispersion": float(res.scale)
    }


def fit(data: Path) -> dict:
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
    ours = summary["fixed_effects"]
    return {
        "zones": int(panel["IZ"].nunique()),
        "years": int(panel["year"].nunique()),
        "queen_edges": edges,
        "seconds": round(seconds, 1),
        "diagnostics_ok": summary["diagnostics"]["ok"],
        "hyperparameters": {k: v["mean"] for k, v in summary["hyperparameters"].items()},
        "ours": {c: ours[c]["per_unit"] for c in COVARIATES},
        "glm": glm(panel),
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
    args = ap.parse_args(argv)
    if args.command == "convert":
        convert(args.data_dir, args.out)
        return
    r = fit(args.data)
    report(r)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    sys.exit(main())
