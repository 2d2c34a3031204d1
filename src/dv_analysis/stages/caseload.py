"""Stage of ``07_caseload``: one responsible social worker per village (1里1主責社工):
the city's villages in contiguous areas, one per worker, of balanced expected caseload
and short travel from a service centre (issue 42; ``docs/caseload.md``).

Reads the risk model's posterior predictive draws of next quarter's expected incidents
(03b, the service plan's ``demand_draws``), today's hard-to-reach villages (04) and the
service centres standing today (社會福利服務中心 and 婦女暨家庭服務中心 of the public
welfare layer, as the plan's existing sites); writes ``caseload_areas.parquet`` (one row
per village) and ``caseload_summary.json``. An add-on, run after the plan: its failure
never withholds the quarter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import PeriodPaths
from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.stages import params as check
from dv_analysis.stages import plan
from dv_analysis.stats.planning import regions
from dv_analysis.stats.weights import build_weights, representative_xy

#: Share of draws an area's caseload must lie inside the band in to count as "in band".
STABLE_SHARE = 0.8
#: The areas' mean trip is held under this share of the city's 95th percentile of today's
#: trips (a margin: the search penalises a trip over its cap, it does not forbid it).
TRAVEL_MARGIN = 0.97


@dataclass(frozen=True)
class CaseloadParams:
    """Settings of the responsibility areas (the ``parameters`` cell of ``07_caseload``)."""

    workers: int = (
        97  # social workers, one area each (the plan's staff); a staffing file overrides it
    )
    ceiling: float = 0.0  # most expected cases a quarter one worker should hold; 0: the band's top
    band: float = 0.2  # each area's expected caseload within this share of the mean (±20 %)
    centre_staffing: str = ""  # CSV of workers per service centre (centre, workers); empty: none
    seed: int = 42  # seed of the partition's search (same seed, same areas)

    def __post_init__(self):
        check.at_least("workers", self.workers, 1)
        check.at_least("ceiling", self.ceiling, 0)
        check.between("band", self.band, 0.01, 0.99)


@dataclass
class CaseloadOutputs:
    villages: pd.DataFrame  # caseload_areas: one row per village
    areas: pd.DataFrame  # one row per area (for the page)
    summary: dict
    centres: pd.DataFrame  # the service centres holding an area (name, geometry)


def read_centre_staffing(path, centres) -> pd.Series:
    """Workers per service centre from a CSV (``centre, workers``), in the order of
    ``centres``; an unknown or repeated centre, or a count that is not a whole number ≥ 0,
    is an error naming the file, the row (the header is row 1) and the column."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such staffing file")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("centre", "workers") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: staffing needs columns centre, workers; missing {missing}")
    known, seen = set(centres), set()
    for k, (name, count) in enumerate(zip(df["centre"], df["workers"], strict=True)):
        where = f"{path}, row {k + 2}"
        if name not in known:
            raise InputError(
                f"{where}, column 'centre': {name!r} is not a service centre of the city"
            )
        if name in seen:
            raise InputError(f"{where}, column 'centre': {name!r} repeats")
        seen.add(name)
        if not count.strip().isdigit():
            raise InputError(
                f"{where}, column 'workers': {count!r} is not a whole number of workers"
            )
    out = pd.Series(df["workers"].astype(int).to_numpy(), index=df["centre"])
    if out.sum() < 1:
        raise InputError(f"{path}, column 'workers': no workers in all")
    return out.reindex(list(centres)).fillna(0).astype(int)


def centres_of(paths: PeriodPaths, villages) -> tuple[pd.DataFrame, np.ndarray]:
    """The service centres (name, geometry) and ``(n, m)`` travel minutes to them. A city
    whose public layers hold no centre: every village's point stands in, and an area's
    centre is then its own best-placed village."""
    sites = plan.public_sites(paths.settings, villages)
    centres = sites[sites["kind"] == "existing"].reset_index(drop=True)
    if not len(centres):
        centres = sites[sites["source"] == "village"].reset_index(drop=True)
    return centres, plan.travel(paths, villages, centres)


def run(
    paths: PeriodPaths, params: CaseloadParams = CaseloadParams(), progress: bool = True
) -> CaseloadOutputs:
    """Partition the villages into responsibility areas; written (module docstring). For
    all of Taiwan nothing is made: workers belong to a city (``summary['skipped']``)."""
    if paths.settings.city == "all":
        return _skipped(paths, params)
    villages = layers.load_boundaries(paths.settings)
    ids = villages["villcode"].to_numpy()
    _, draws = plan.demand_draws(paths, ids)
    load = draws.mean(axis=0)
    centres, minutes = centres_of(paths, villages)
    names = centres["name"].astype(str).to_numpy()
    capacity = None
    if params.centre_staffing:
        capacity = read_centre_staffing(params.centre_staffing, names).to_numpy()
    k = int(capacity.sum()) if capacity is not None else params.workers
    if k > len(ids):
        raise InputError(f"{k} workers for {len(ids)} villages: at most one area per village")
    xy = representative_xy(villages)
    w, _ = build_weights(villages, "queen")
    nb, links = regions.connected_neighbours(w.neighbors, xy)
    p95 = float(np.percentile(minutes.min(axis=1), 95))
    if progress:
        print(f"  caseload: {len(ids)} villages, {k} areas, {len(centres)} centres", flush=True)
    part = regions.balanced_regions(
        nb, xy, load, k, band=params.band, seed=params.seed, travel=(minutes, TRAVEL_MARGIN * p95)
    )
    labels = _ordered(part.labels, xy)
    centre = regions.area_centres(labels, load, minutes, capacity)
    shares, mean = regions.band_shares(labels, draws, params.band)
    ceiling = params.ceiling or (1 + params.band) * mean
    needed, _ = regions.workers_needed(nb, xy, load, ceiling, band=params.band, seed=params.seed)
    areas = _area_table(labels, draws, load, minutes, centre, names, shares)
    table = _village_table(villages, labels, load, draws, minutes, centre, names, areas, nb, params)
    summary = _summary(paths, params, areas, table, mean, p95, ceiling, needed)
    summary["contiguity_links"] = [[str(ids[i]), str(ids[j])] for i, j in links]
    summary["centres"] = int(len(np.unique(centre)))
    summary["no_centres"] = bool(not (centres["kind"] == "existing").any())
    summary["draws"] = int(len(draws))
    table.to_parquet(paths.caseload_areas, index=False)
    paths.caseload_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return CaseloadOutputs(table, areas, summary, centres.iloc[np.unique(centre)])


def _ordered(labels: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Areas renumbered north to south (by their mean point's y, then x), so numbers are
    stable to read on a map."""
    k = int(labels.max()) + 1
    cy = np.bincount(labels, weights=xy[:, 1], minlength=k) / np.bincount(labels, minlength=k)
    cx = np.bincount(labels, weights=xy[:, 0], minlength=k) / np.bincount(labels, minlength=k)
    order = np.lexsort((cx, -cy))
    rank = np.empty(k, int)
    rank[order] = np.arange(k)
    return rank[labels]


def area_ids(k: int) -> list[str]:
    """Names of ``k`` areas: A01, A02, … (three digits from 100 areas)."""
    width = max(2, len(str(k)))
    return [f"A{a + 1:0{width}d}" for a in range(k)]


def _area_table(labels, draws, load, minutes, centre, names, shares) -> pd.DataFrame:
    """One row per area: centre, villages, caseload mean and 90 % range over the draws,
    share of draws inside the band, the caseload-weighted mean and longest trip."""
    k = int(labels.max()) + 1
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    per_area = draws @ onehot
    trip = minutes[np.arange(len(labels)), centre[labels]]
    w = np.clip(load, 0.0, None) + 1e-9
    return pd.DataFrame(
        {
            "area_id": area_ids(k),
            "centre": names[centre],
            "villages": np.bincount(labels, minlength=k),
            "expected_cases_mean": per_area.mean(axis=0).round(2),
            "expected_cases_low": np.quantile(per_area, 0.05, axis=0).round(2),
            "expected_cases_high": np.quantile(per_area, 0.95, axis=0).round(2),
            "share_in_band": shares.round(3),
            "travel_min": (
                np.bincount(labels, weights=w * trip) / np.bincount(labels, weights=w)
            ).round(1),
            "travel_max_min": pd.Series(trip).groupby(labels).max().round(1).to_numpy(),
        }
    )


def _village_table(
    villages, labels, load, draws, minutes, centre, names, areas, nb, params
) -> pd.DataFrame:
    """``caseload_areas``: each village, its area and centre, the area's expected caseload
    (mean, 90 % range), the village's trip to the centre, and whether its area is uncertain
    (the other area it could belong to: ``docs/caseload.md``)."""
    ids = np.array(area_ids(int(labels.max()) + 1))
    other = regions.uncertain_villages(labels, nb, draws, params.band, STABLE_SHARE)
    a = areas.set_index("area_id").loc[ids[labels]]
    return pd.DataFrame(
        {
            "villcode": villages["villcode"].to_numpy(),
            "townname": villages["townname"].to_numpy(),
            "villname": villages["villname"].to_numpy(),
            "area_id": ids[labels],
            "centre": names[centre[labels]],
            "expected_cases_mean": a["expected_cases_mean"].to_numpy(),
            "expected_cases_low": a["expected_cases_low"].to_numpy(),
            "expected_cases_high": a["expected_cases_high"].to_numpy(),
            "travel_min": minutes[np.arange(len(labels)), centre[labels]].round(1),
            "village_cases_mean": np.round(load, 2),
            "area_share_in_band": a["share_in_band"].to_numpy(),
            "uncertain": other >= 0,
            "could_join": np.where(other >= 0, ids[np.maximum(other, 0)], ""),
        }
    )


def _summary(paths, params, areas, table, mean, p95, ceiling, needed) -> dict:
    return {
        "period": str(paths.period),
        "parameters": asdict(params),
        "n_areas": int(len(areas)),
        "band": {
            "relative": params.band,
            "mean": round(mean, 2),
            "low": round((1 - params.band) * mean, 2),
            "high": round((1 + params.band) * mean, 2),
        },
        "share_in_band": round(float((areas["share_in_band"] >= STABLE_SHARE).mean()), 4),
        "stable_share": STABLE_SHARE,
        "area_draws_in_band": round(float(areas["share_in_band"].mean()), 4),
        "max_travel_min": float(areas["travel_min"].max()),
        "travel_p95_today_min": round(p95, 1),
        "ceiling": round(float(ceiling), 2),
        "workers_needed_at_ceiling": int(needed),
        "uncertain_villages": int(table["uncertain"].sum()),
        "method": "Hess assignment + contiguity repair + annealed boundary moves (stats.planning.regions)",
    }


def _skipped(paths: PeriodPaths, params: CaseloadParams) -> CaseloadOutputs:
    """The empty outputs of a run for all of Taiwan, the reason in the summary."""
    cols = [
        "villcode",
        "area_id",
        "centre",
        "expected_cases_mean",
        "expected_cases_low",
        "expected_cases_high",
        "travel_min",
    ]
    table = pd.DataFrame(columns=cols)
    summary = {
        "period": str(paths.period),
        "parameters": asdict(params),
        "skipped": "all_of_taiwan",
    }
    table.to_parquet(paths.caseload_areas, index=False)
    paths.caseload_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return CaseloadOutputs(table, pd.DataFrame(), summary, pd.DataFrame())
