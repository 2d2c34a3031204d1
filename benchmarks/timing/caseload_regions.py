"""Responsibility areas by five methods, side by side (issue 42).

Partitions a city's villages into ``--workers`` contiguous areas of expected caseload (the
mean of the risk model's 200 draws of next quarter's expected incidents, 03b) by

* ``shipped``: :func:`dv_analysis.stats.planning.regions.balanced_regions` as the stage
  calls it (Hess's assignment, contiguity repair, annealed boundary moves, each area's mean
  trip held under 0.97 × the city's 95th percentile of today's trips);
* ``shipped-no-travel``: the same without the travel term;
* spopt's ``WardSpatial`` (the villages' points, ``n_clusters`` = workers), ``Skater`` (the
  same attributes, ``n_clusters`` = workers) and ``AZP`` (the same; ``--azp`` only: minutes);
* spopt's ``MaxPHeuristic`` with the band's floor (0.8 × the mean caseload per worker) as its
  threshold: as many areas as it can make that each hold at least the floor;

and reports, for each: the areas made, the share of areas whose caseload is inside ±20 % of
the mean (of its own areas) in at least 80 % of the draws, the longest caseload-weighted
mean trip from an area's best centre against the city's 95th percentile of today's, and
the seconds.

    python benchmarks/timing/caseload_regions.py --world W [--period 2020Q4] [--workers 97] [--azp] [--only NAME ...]

``W`` is a folder holding ``raw/``, ``clean/`` and ``reports/`` of a run
(``dv-analysis run --period P --raw-dir W/raw --clean-dir W/clean --reports-dir W/reports``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _inputs(world: str, period: str):
    from dv_analysis import layers
    from dv_analysis.config import Settings
    from dv_analysis.stages import caseload, plan
    from dv_analysis.stats.planning import regions
    from dv_analysis.stats.weights import build_weights, representative_xy

    s = Settings.from_args("", f"{world}/raw", f"{world}/clean", f"{world}/reports")
    paths = s.period(period)
    villages = layers.load_boundaries(s)
    _, draws = plan.demand_draws(paths, villages["villcode"].to_numpy())
    _, minutes = caseload.centres_of(paths, villages)
    xy = representative_xy(villages)
    w, _ = build_weights(villages, "queen")
    nb, _ = regions.connected_neighbours(w.neighbors, xy)
    return villages, draws, minutes, xy, nb


def _score(labels, draws, minutes, p95) -> dict:
    from dv_analysis.stats.planning import regions

    labels = np.unique(labels, return_inverse=True)[1]
    load = draws.mean(axis=0)
    shares, _ = regions.band_shares(labels, draws, 0.2)
    centre = regions.area_centres(labels, load, minutes)
    trip = minutes[np.arange(len(labels)), centre[labels]]
    w = load + 1e-9
    area_trip = np.bincount(labels, weights=w * trip) / np.bincount(labels, weights=w)
    return {
        "areas": int(labels.max() + 1),
        "share_in_band": round(float((shares >= 0.8).mean()), 3),
        "max_travel_min": round(float(area_trip.max()), 1),
        "travel_p95_today_min": round(float(p95), 1),
    }


def _spopt(name, villages, xy, nb, load, k):
    import libpysal
    from spopt.region import AZP, MaxPHeuristic, Skater, WardSpatial

    gdf = villages[["geometry"]].copy()
    gdf["x"], gdf["y"], gdf["load"] = xy[:, 0], xy[:, 1], load
    w = libpysal.weights.W(dict(enumerate(nb)), silence_warnings=True)
    attrs = ["x", "y"]
    if name == "WardSpatial":
        model = WardSpatial(gdf, w, attrs, n_clusters=k)
    elif name == "Skater":
        model = Skater(gdf, w, attrs, n_clusters=k, floor=1, islands="ignore")
    elif name == "AZP":
        model = AZP(gdf, w, attrs, n_clusters=k)
    else:
        floor = 0.8 * load.sum() / k
        model = MaxPHeuristic(gdf, w, attrs, "load", floor, top_n=2)
    model.solve()
    return np.asarray(model.labels_)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", required=True)
    ap.add_argument("--period", default="2020Q4")
    ap.add_argument("--workers", type=int, default=97)
    ap.add_argument("--azp", action="store_true", help="also spopt's AZP (minutes)")
    ap.add_argument("--only", nargs="*", default=None, help="these methods alone, by name")
    args = ap.parse_args()
    from dv_analysis.stages.caseload import TRAVEL_MARGIN
    from dv_analysis.stats.planning import regions

    villages, draws, minutes, xy, nb = _inputs(args.world, args.period)
    load, k = draws.mean(axis=0), args.workers
    p95 = float(np.percentile(minutes.min(axis=1), 95))
    out = {}
    runs = {
        "shipped": lambda: (
            regions.balanced_regions(
                nb, xy, load, k, band=0.2, seed=42, travel=(minutes, TRAVEL_MARGIN * p95)
            ).labels
        ),
        "shipped-no-travel": lambda: (
            regions.balanced_regions(nb, xy, load, k, band=0.2, seed=42).labels
        ),
    }
    spopt = ["WardSpatial", "Skater", "MaxPHeuristic"] + (["AZP"] if args.azp else [])
    for name in spopt:
        runs[name] = lambda name=name: _spopt(name, villages, xy, nb, load, k)
    for name, solve in runs.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        labels = solve()
        seconds = time.perf_counter() - t0
        out[name] = {**_score(labels, draws, minutes, p95), "seconds": round(seconds, 1)}
        print(name, json.dumps(out[name]), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
