"""Stage of ``06_service_plan``: where new service centres should stand, and how social
workers are shared across districts (issue 26; ``docs/service_plan.md``).

Reads the period's village risk and its posterior draws (03b), the outreach list's tiers
(04b), accessibility (04) and the public facility layers; writes ``service_plan.parquet``
(one row per site), ``staff_allocation.parquet`` (one row per district) and
``plan_summary.json``.

Demand is next quarter's excess incidents of each village, ``E_next · (RR now − 1)`` (0
where the draw is below the city's risk), in each of the risk model's kept posterior
draws; the staff split also uses the expected incidents ``E_next · RR now``. Existing sites
are the city's 社會福利服務中心 and 婦女暨家庭服務中心; candidates are the other welfare
facilities, the police precincts and every village's representative point, or the sites
of a CSV the analyst gives (name, lon, lat).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import PeriodPaths
from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.stages import access
from dv_analysis.stages import params as check
from dv_analysis.stats.planning import location

#: Welfare facility kinds that are the service sites standing today.
EXISTING_KINDS = ("社會福利服務中心", "婦女暨家庭服務中心")
#: Candidates the p-median chooses among: those that, each added alone, save the most
#: excess-weighted minutes (with the MCLP plan's sites). On Taipei all 1,097 took CBC 28 s;
#: 40 keep the default run quick (docs/service_plan.md).
P_MEDIAN_CANDIDATES = 40


@dataclass(frozen=True)
class PlanParams:
    """Settings of the service plan (the ``parameters`` cell of ``06_service_plan``)."""

    new_sites: int = 2  # new service centres to place
    threshold_min: float = 30.0  # minutes within which a village counts as reached
    staff: int = 97  # social workers to share across districts
    candidates: str = ""  # CSV of candidate sites (name, lon, lat); empty: the public layers
    staffing: str = ""  # CSV of today's staff per district (townname, staff); empty: none
    seed: int = 42  # (the draws are the risk model's; kept for the CLI and the notebook)

    def __post_init__(self):
        check.at_least("new_sites", self.new_sites, 0)
        check.above("threshold_min", self.threshold_min, 0)
        check.at_least("staff", self.staff, 0)


@dataclass
class PlanOutputs:
    sites: pd.DataFrame  # service_plan
    staff: pd.DataFrame  # staff_allocation
    villages: pd.DataFrame  # per village: reached before, after, tier
    summary: dict


def demand_draws(paths: PeriodPaths, ids) -> tuple[np.ndarray, np.ndarray]:
    """``(D, n)`` draws of next quarter's excess and expected incidents of each village (in
    the order of ``ids``): the risk model's posterior predictive draws of next quarter's
    expected count (its risk, the path's step and the quarter's noise; not the count's own
    Poisson noise, which no plan can prepare for) and their excess over the count expected
    at the city's rates."""
    risk = pd.read_parquet(paths.village_risk).set_index("villcode").reindex(ids)
    draws = pd.read_parquet(paths.village_risk_draws)
    wide = draws.pivot(index="draw", columns="villcode", values="next_expected")
    e_next = risk["expected_next"].fillna(0).to_numpy(float)
    # a village without a fit (no population): what the city's rate expects
    counts = wide.reindex(columns=ids).to_numpy(float)
    counts = np.where(np.isnan(counts), e_next[None, :], counts)
    return np.clip(counts - e_next[None, :], 0.0, None), counts


def public_sites(settings, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Existing sites and candidates from the public layers: site_id, name, kind, source,
    geometry (EPSG:3826). Without the welfare layer (cities other than Taipei) there are no
    existing sites and the candidates are the villages' representative points."""
    layers = access.facilities(settings)
    parts = []
    welfare = layers.get("welfare")
    if welfare is not None and len(welfare):
        is_centre = welfare["sub_type"].isin(EXISTING_KINDS)
        parts.append(
            _sites(
                welfare, welfare["name"], np.where(is_centre, "existing", "candidate"), "welfare"
            )
        )
    police = layers.get("police_precinct")
    if police is not None and len(police):
        parts.append(_sites(police, police["STATION_NAME"], "candidate", "police"))
    rep = villages.geometry.representative_point()
    names = villages["townname"] + villages["villname"]
    parts.append(
        _sites(gpd.GeoDataFrame(geometry=rep, crs=villages.crs), names, "candidate", "village")
    )
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "site_id", [f"S{k:04d}" for k in range(len(out))])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=villages.crs)


def _sites(layer, names, kind, source) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": np.asarray(names, dtype=object),
            "kind": kind,
            "source": source,
            "geometry": layer.geometry.to_numpy(),
        }
    )


def read_candidates(path, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidate sites from a CSV (name, lon, lat in WGS84), checked: a missing column,
    missing coordinates, a repeated name or a site outside the city is an error naming the
    row (rows counted as in a spreadsheet, the header being row 1)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such candidate file")
    df = pd.read_csv(path)
    missing = [c for c in ("name", "lon", "lat") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: candidate sites need columns name, lon, lat; missing {missing}")
    for col in ("lon", "lat"):
        bad = pd.to_numeric(df[col], errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}, row {row + 2}, column {col!r}: missing or not a number")
    twice = df["name"].astype(str).duplicated()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise InputError(f"{path}, row {row + 2}, column 'name': {df['name'].iloc[row]!r} repeats")
    pts = gpd.GeoSeries(
        gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float)), crs=4326
    )
    pts = pts.to_crs(villages.crs)
    inside = pts.within(villages.union_all().buffer(200))
    if not inside.all():
        row = int(np.flatnonzero(~inside.to_numpy())[0])
        raise InputError(f"{path}, row {row + 2}: {df['name'].iloc[row]!r} lies outside the city")
    return gpd.GeoDataFrame(
        {"name": df["name"].astype(str), "kind": "candidate", "source": "file"},
        geometry=pts.to_numpy(),
        crs=villages.crs,
    )


def read_staffing(path, districts) -> pd.Series:
    """Today's staff per district from a CSV (townname, staff); unknown districts and bad
    numbers are errors naming the row."""
    df = pd.read_csv(path)
    missing = [c for c in ("townname", "staff") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: staffing needs columns townname, staff; missing {missing}")
    staff = pd.to_numeric(df["staff"], errors="coerce")
    known = set(districts)
    for k in range(len(df)):
        if df["townname"].iloc[k] not in known:
            raise InputError(
                f"{path}, row {k + 2}, column 'townname': {df['townname'].iloc[k]!r} is not a district of the city"
            )
        if not (staff.iloc[k] >= 0):
            raise InputError(
                f"{path}, row {k + 2}, column 'staff': {df['staff'].iloc[k]!r} is not a number of staff"
            )
    return pd.Series(staff.to_numpy(), index=df["townname"]).groupby(level=0).sum()


def sites_for(
    paths: PeriodPaths, villages: gpd.GeoDataFrame, params: PlanParams
) -> gpd.GeoDataFrame:
    """The existing sites and the candidates of the plan (the public layers' or a CSV's)."""
    sites = public_sites(paths.settings, villages)
    if params.candidates:
        own = read_candidates(params.candidates, villages)
        sites = pd.concat([sites[sites["kind"] == "existing"], own], ignore_index=True)
        sites["site_id"] = [f"S{k:04d}" for k in range(len(sites))]
        sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=villages.crs)
    return sites


def travel(paths: PeriodPaths, villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> np.ndarray:
    """``(n, m)`` travel minutes from each village's representative point to each site,
    hard-to-reach villages (04) slowed by the hill factor (``stats.location``)."""
    acc = pd.read_parquet(paths.accessibility).set_index("villcode").reindex(villages["villcode"])
    hard = acc["hard_to_reach"].fillna(False).astype(bool).to_numpy()
    return travel_minutes_plain(villages, sites, hard)


def travel_minutes_plain(villages, sites, hard: np.ndarray | None = None) -> np.ndarray:
    """:func:`travel` from the geometries alone (``hard``: villages slowed by the hill factor)."""
    rep = villages.geometry.representative_point()
    xy = np.column_stack([rep.x, rep.y])
    return location.travel_minutes(xy, np.column_stack([sites.geometry.x, sites.geometry.y]), hard)


def run(
    paths: PeriodPaths, params: PlanParams = PlanParams(), progress: bool = True
) -> PlanOutputs:
    """Place the new sites over the posterior draws of demand, share the staff; written.
    For all of Taiwan (``city='all'``) nothing is planned: centres and staff are a city's,
    so the plan is run per city (``summary['skipped']`` says so; the tables are empty)."""
    if paths.settings.city == "all":
        return _skipped(paths, params)
    villages = layers.load_boundaries(paths.settings)
    ids = villages["villcode"].to_numpy()
    excess, expected = demand_draws(paths, ids)
    sites = sites_for(paths, villages, params)
    minutes = travel(paths, villages, sites)
    existing = (sites["kind"] == "existing").to_numpy()
    if progress:
        print(
            f"  service plan: {len(villages)} villages, {existing.sum()} existing sites, "
            f"{(~existing).sum()} candidates, {len(excess)} draws",
            flush=True,
        )
    robust = location.robust_mclp(excess, minutes, params.threshold_min, params.new_sites, existing)
    table = _site_table(sites, robust, excess, minutes <= params.threshold_min)
    reach = _village_reach(paths, villages, minutes, existing, robust, params)
    staff = _staff_table(villages, expected, excess, params)
    summary = _summary(paths, params, sites, robust, reach)
    summary.update(_alternatives(sites, minutes, existing, excess, reach, robust, params))
    table.to_parquet(paths.service_plan, index=False)
    staff.to_parquet(paths.staff_allocation, index=False)
    paths.plan_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return PlanOutputs(table, staff, reach, summary)


def _site_table(sites, robust, excess, reach) -> pd.DataFrame:
    """One row per site: id, name, kind, lon, lat, how often chosen, excess within reach."""
    wgs = sites.to_crs(4326)
    return pd.DataFrame(
        {
            "site_id": sites["site_id"],
            "name": sites["name"],
            "kind": sites["kind"],
            "source": sites["source"],
            "lon": wgs.geometry.x.round(6),
            "lat": wgs.geometry.y.round(6),
            "chosen_share": robust.chosen_share.round(4),
            "covered_excess_mean": (excess.mean(axis=0) @ reach).round(3),
        }
    )


def _village_reach(paths, villages, minutes, existing, robust, params) -> pd.DataFrame:
    """Per village: reached by today's sites, by the most frequent plan, and its tier."""
    reach = minutes <= params.threshold_min
    plan = _plan_sites(existing, robust)
    prio = pd.read_parquet(paths.village_priority).set_index("villcode")["tier"]
    return pd.DataFrame(
        {
            "villcode": villages["villcode"],
            "townname": villages["townname"],
            "villname": villages["villname"],
            "reached_before": reach[:, existing].any(axis=1),
            "reached_after": reach[:, plan].any(axis=1),
            "tier": prio.reindex(villages["villcode"]).fillna(0).astype(int).to_numpy(),
        }
    )


def _staff_table(villages, expected, excess, params) -> pd.DataFrame:
    """One row per district: staff in proportion to expected incidents and to excess, each
    with its 90 % interval over the draws; today's staff from the optional CSV."""
    # districts by code: names repeat across counties (中正區 in Taipei and Keelung)
    codes, code = np.unique(villages["towncode"].to_numpy(), return_inverse=True)
    towns = villages.groupby("towncode")["townname"].first().reindex(codes).to_numpy()
    onehot = np.zeros((len(code), len(codes)))
    onehot[np.arange(len(code)), code] = 1.0
    by_expected = location.staff_split(params.staff, expected @ onehot)
    by_excess = location.staff_split(params.staff, excess @ onehot)
    out = pd.DataFrame(
        {
            "towncode": codes,
            "townname": towns,
            "staff_proposed": by_expected.proposed,
            "staff_low": by_expected.low,
            "staff_high": by_expected.high,
            "staff_by_excess": by_excess.proposed,
            "staff_by_excess_low": by_excess.low,
            "staff_by_excess_high": by_excess.high,
            "expected_mean": (expected @ onehot).mean(0).round(2),
            "excess_mean": (excess @ onehot).mean(0).round(2),
        }
    )
    today = read_staffing(params.staffing, towns) if params.staffing else pd.Series(dtype=float)
    out["staff_today"] = today.reindex(towns).to_numpy(float) if len(today) else np.nan
    return out


def _summary(paths, params, sites, robust, reach) -> dict:
    gain = robust.gain
    new = [sites["site_id"].iloc[j] for j in robust.most_frequent]
    tier2 = reach["tier"] == 2
    return {
        "period": str(paths.period),
        "parameters": asdict(params),
        "new_sites": new,
        "new_site_names": [str(sites["name"].iloc[j]) for j in robust.most_frequent],
        "most_frequent_share": robust.solutions[robust.most_frequent] / len(gain),
        "threshold_min": params.threshold_min,
        "covered_excess_gain": {
            "mean": round(float(gain.mean()), 2),
            "low": round(float(np.quantile(gain, 0.05)), 2),
            "high": round(float(np.quantile(gain, 0.95)), 2),
        },
        "tier2_newly_reached": int(
            (tier2 & reach["reached_after"] & ~reach["reached_before"]).sum()
        ),
        "tier2_unreached": int((tier2 & ~reach["reached_after"]).sum()),
        "existing_sites": int((sites["kind"] == "existing").sum()),
        "candidates": int((sites["kind"] == "candidate").sum()),
        "draws": int(len(gain)),
        "travel_model": {
            "detour": location.DETOUR,
            "speed_kmh": location.SPEED_KMH,
            "start_minutes": location.START_MINUTES,
            "hill_factor": location.HILL_FACTOR,
        },
    }


def _alternatives(sites, minutes, existing, excess, reach, robust, params) -> dict:
    """The two other questions of the plan, on the mean demand: how many new sites would
    bring every tier-2 village within the threshold (LSCP), and which new sites would make
    the excess-weighted trip shortest (p-median), beside the trip today and with the plan."""
    w = excess.mean(axis=0)
    tier2 = (reach["tier"] == 2).to_numpy()
    cover = location.lscp(minutes, params.threshold_min, tier2, existing)
    plan = _plan_sites(existing, robust)
    out = {
        "lscp": {
            "new_sites_needed": int(cover.sites - existing.sum()),
            "tier2_unreachable": int(len(cover.unreachable)),
        },
        "mean_minutes": {
            "today": _mean_trip(w, minutes, existing),
            "plan": _mean_trip(w, minutes, plan),
        },
    }
    if params.new_sites < 1 or w.sum() <= 0:
        return out
    top = np.union1d(_trip_savers(w, minutes, existing), list(robust.most_frequent))
    cols = np.r_[np.flatnonzero(existing), top]
    fixed = np.r_[np.ones(existing.sum(), bool), np.zeros(len(top), bool)]
    pm = location.p_median(w, minutes[:, cols], int(existing.sum()) + params.new_sites, fixed)
    new = cols[pm.chosen & ~fixed]
    out["p_median"] = {
        "new_sites": [sites["site_id"].iloc[j] for j in new],
        "new_site_names": [str(sites["name"].iloc[j]) for j in new],
        "candidates": int(len(top)),
    }
    out["mean_minutes"]["p_median"] = round(pm.mean_minutes, 2)
    return out


def _plan_sites(existing: np.ndarray, robust: dict) -> np.ndarray:
    """``(m,)`` bool: the sites of the plan, existing ones and the most frequent new set."""
    plan = existing.copy()
    plan[list(robust.most_frequent)] = True
    return plan


def _trip_savers(w: np.ndarray, minutes: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """The ``P_MEDIAN_CANDIDATES`` candidates that, each added alone, save the most
    excess-weighted minutes (the p-median's candidates, with the MCLP plan's sites)."""
    if existing.any():
        today = minutes[:, existing].min(axis=1)
    else:
        today = np.full(len(w), minutes.max())
    saving = w @ np.clip(today[:, None] - minutes, 0.0, None)
    saving[existing] = -np.inf
    return np.argsort(-saving, kind="stable")[: min(P_MEDIAN_CANDIDATES, int((~existing).sum()))]


def _mean_trip(w: np.ndarray, minutes: np.ndarray, open_: np.ndarray) -> float | None:
    """Mean minutes to the nearest open site, weighted by ``w`` (None without a site)."""
    if not open_.any() or w.sum() <= 0:
        return None
    return round(float((w * minutes[:, open_].min(axis=1)).sum() / w.sum()), 2)


def _skipped(paths: PeriodPaths, params: PlanParams) -> PlanOutputs:
    """The empty outputs of a run that plans nothing, with the reason in the summary."""
    sites = pd.DataFrame(
        columns=[
            "site_id",
            "name",
            "kind",
            "source",
            "lon",
            "lat",
            "chosen_share",
            "covered_excess_mean",
        ]
    )
    staff = pd.DataFrame(
        columns=["townname", "staff_proposed", "staff_low", "staff_high", "staff_today"]
    )
    summary = {
        "period": str(paths.period),
        "parameters": asdict(params),
        "skipped": "all_of_taiwan",
    }
    sites.to_parquet(paths.service_plan, index=False)
    staff.to_parquet(paths.staff_allocation, index=False)
    paths.plan_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return PlanOutputs(sites, staff, pd.DataFrame(), summary)
