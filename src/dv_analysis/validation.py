"""Recovery of the synthetic ground truth by the pipeline's statistics.

Used by ``benchmarks/validate_recovery.py`` (numbers in ``docs/validation.md``) and by
a test that holds a measured floor.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from . import public
from .config import Period, Settings
from .stages import features
from .stats.areas import analyse_areas


def planted_hot(
    settings: Settings, periods: list[Period], threshold: float = 1.5
) -> tuple[set[str], set[str]]:
    """Villages of planted clusters whose mean multiplier over ``periods`` is ≥ threshold (hot) or ≤ 1/threshold (cold)."""
    params = json.loads((settings.truth_city_dir / "params.json").read_text())
    hot, cold = set(), set()
    for c in params["clusters"]:
        m = np.mean([c["multiplier"][str(p)] for p in periods])
        if m >= threshold:
            hot |= set(c["villcodes"])
        elif m <= 1 / threshold:
            cold |= set(c["villcodes"])
    return hot, cold


def gi_recovery(
    settings: Settings, period: str, window: int = 4, permutations: int = 9999, seed: int = 42
) -> dict:
    """Precision and recall of Gi* hot villages (gi_bin > 0, after FDR) against the planted hot clusters.

    ``precision_adjacent`` also counts as right a hot village that touches a planted
    cluster (Gi* includes each village's neighbours, so the halo is expected).
    """
    p = Period.parse(period)
    feats = features.village_features(settings, p, window)
    villages = public.load_boundaries(settings)
    g = villages.merge(feats[["villcode", "incidents_w", "person_quarters_w"]], on="villcode")
    res = analyse_areas(
        g,
        "incidents_w",
        "person_quarters_w",
        "villcode",
        permutations=permutations,
        seed=seed,
        scan_simulations=99,
    )
    hot, cold = planted_hot(settings, features.window_periods(p, window))
    found = set(g.loc[res.table["gi_bin"] > 0, "villcode"])
    found_cold = set(g.loc[res.table["gi_bin"] < 0, "villcode"])
    from .synth import neighbours

    nb = neighbours(villages)
    halo = hot | {n for v in hot for n in nb[v]}
    tp = len(found & hot)
    return {
        "period": str(p),
        "planted_hot": len(hot),
        "found_hot": len(found),
        "true_positive": tp,
        "precision": tp / len(found) if found else float("nan"),
        "precision_adjacent": len(found & halo) / len(found) if found else float("nan"),
        "recall": tp / len(hot) if hot else float("nan"),
        "planted_cold": len(cold),
        "found_cold": len(found_cold),
        "recall_cold": len(found_cold & cold) / len(cold) if cold else float("nan"),
        "moran_eb": res.moran_eb.I,
    }


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Per-seed rows plus mean and minimum."""
    df = pd.DataFrame(rows)
    num = df.select_dtypes("number")
    return pd.concat([df, num.mean().to_frame("mean").T, num.min().to_frame("min").T])
