"""The service plan's location models under three solvers, side by side (issue 40).

Solves the MCLP of a plan on every posterior draw of demand with

* ``cbc``: spopt's model, PuLP's bundled CBC binary (an MPS file in the temporary folder
  per solve; the solver the suite used before issue 40; each draw builds a fresh model,
  since a re-used one fails after an all-zero draw);
* ``pulp-highs``: spopt's model, PuLP's in-process HiGHS (highspy), fresh per draw;
* ``scipy``: :func:`dv_analysis.stats.planning.location.robust_mclp` as shipped: per draw the
  villages without demand and the candidates that cannot be optimal leave, and the rest
  is solved by ``scipy.optimize.milp`` (HiGHS in-process);

and checks that all three reach the same optimum (covered demand) on every draw. Instances:
a city's plan on a synthetic world (its 200 draws of excess demand; 2 new sites, 30
minutes, existing centres fixed; New Taipei and Taoyuan have none in the public layers)
and all of Taiwan's 7,701 villages (village points as candidates, no existing sites,
gamma draws of demand; ``--national``).

    python benchmarks/timing/solvers.py --world W [--city 63000] [--period 2019Q4] [--national] [--draws 200]

``W`` is a folder holding ``raw/``, ``clean/`` and ``reports/`` of a run
(``dv-analysis run --period P --raw-dir W/raw --clean-dir W/clean --reports-dir W/reports``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _spopt_mclp(reach_sub: np.ndarray, w: np.ndarray, new: int, solver) -> tuple[float, list]:
    from spopt.locate import MCLP

    cost = np.where(reach_sub, 0.0, 2.0)
    model = MCLP.from_cost_matrix(cost, np.clip(w, 0, None), service_radius=1.0, p_facilities=new)
    model = model.solve(solver)
    picked = [j for j, v in enumerate(model.fac_vars) if v.varValue > 0.5]
    return float(w[reach_sub[:, picked].any(axis=1)].sum()), picked


def _city(world: str, period: str, city: str):
    from dv_analysis import layers
    from dv_analysis.config import Settings
    from dv_analysis.stages import plan

    s = Settings.from_args("", f"{world}/raw", f"{world}/clean", f"{world}/reports", city=city)
    paths = s.period(period)
    villages = layers.load_boundaries(s)
    excess, _ = plan.demand_draws(paths, villages["villcode"].to_numpy())
    sites = plan.sites_for(paths, villages, plan.PlanParams())
    minutes = plan.travel(paths, villages, sites)
    return excess, minutes, (sites["kind"] == "existing").to_numpy()


def _national(draws: int):
    from dv_analysis import layers
    from dv_analysis.config import Settings
    from dv_analysis.stages import plan

    villages = layers.load_boundaries(Settings.from_args("", "", "", "", city="all"))
    sites = villages[["geometry"]].copy()
    sites["geometry"] = villages.geometry.representative_point()
    minutes = plan.travel_minutes_plain(villages, sites)
    rng = np.random.default_rng(7)
    mean = rng.gamma(0.5, 2.0, len(villages))
    return (
        rng.gamma(2.0, mean / 2.0, (draws, len(villages))) - mean,
        minutes,
        np.zeros(len(villages), bool),
    )


def compare(excess, minutes, existing, new=2, threshold=30.0) -> dict:
    """Seconds of each solver over all draws and the largest gap between their optima."""
    import pulp

    from dv_analysis.stats.planning import location

    w = np.clip(excess, 0, None)
    reach = minutes <= threshold
    t = time.perf_counter()
    ours = location.robust_mclp(excess, minutes, threshold, new, existing)
    out = {"scipy": {"seconds": round(time.perf_counter() - t, 2)}}
    # the same reduced problem for spopt (rows not yet reached with demand, undominated columns)
    problem = location._Coverage(reach, existing, (w > 0).any(axis=0), new)
    before = reach[:, existing].any(axis=1)
    sub = reach[np.ix_(problem.rows, problem.cols)]
    for name, solver in (
        ("cbc", pulp.PULP_CBC_CMD(msg=False)),
        ("pulp-highs", pulp.HiGHS(msg=False)),
    ):
        t, gains = time.perf_counter(), []
        for d in w:
            if len(problem.cols) <= new or d[problem.rows].sum() <= 0:
                gains.append(
                    float(d[problem.rows][sub.any(axis=1)].sum())
                    if len(problem.cols) <= new
                    else 0.0
                )
                continue
            gains.append(_spopt_mclp(sub, d[problem.rows], new, solver)[0])
        out[name] = {
            "seconds": round(time.perf_counter() - t, 2),
            "max_gap": float(np.abs(np.array(gains) - ours.gain).max()),
        }
    out["instance"] = {
        "villages": int(len(w[0])),
        "sites": int(reach.shape[1]),
        "draws": int(len(w)),
        "rows_kept": int(len(problem.rows)),
        "columns_kept": int(len(problem.cols)),
        "villages_reached_today": int(before.sum()),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", help="folder with raw/, clean/, reports/ of a Taipei run")
    ap.add_argument("--period", default="2019Q4")
    ap.add_argument("--city", default="63000")
    ap.add_argument("--national", action="store_true", help="also all of Taiwan")
    ap.add_argument("--draws", type=int, default=200, help="the first N draws (national: N drawn)")
    args = ap.parse_args()
    results = {}
    if args.world:
        excess, minutes, existing = _city(args.world, args.period, args.city)
        results["city"] = compare(excess[: args.draws], minutes, existing)
        print(json.dumps(results["city"]), flush=True)
    if args.national:
        results["taiwan"] = compare(*_national(args.draws))
        print(json.dumps(results["taiwan"]), flush=True)


if __name__ == "__main__":
    main()
