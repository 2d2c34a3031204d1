"""Hotspot statistics for areas: weights, smoothed rates, global and local autocorrelation,
false-discovery-rate control, emerging hotspots and Kulldorff's circular scan.

Every statistic is checked in ``tests/test_hotspots.py`` against numbers published by
other tools (GeoDa, R spdep, SaTScan). Permutation inference is seeded: the same seed
gives the same p-values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
from numba import njit
from scipy import stats
from scipy.spatial import cKDTree

from . import permutation

log = logging.getLogger(__name__)

LISA_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
GI_BIN_LABELS = {
    3: "熱點 99%",
    2: "熱點 95%",
    1: "熱點 90%",
    0: "不顯著",
    -1: "冷點 90%",
    -2: "冷點 95%",
    -3: "冷點 99%",
}


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------
@dataclass
class WeightsReport:
    """How the weights were built and what was done with areas without neighbours."""

    kind: str
    n: int
    islands: list = field(default_factory=list)
    attached: dict = field(default_factory=dict)  # island id -> nearest area id
    mean_neighbours: float = 0.0

    def __str__(self) -> str:
        text = f"{self.kind} weights on {self.n} areas, {self.mean_neighbours:.1f} neighbours on average"
        if self.islands:
            text += (
                f"; {len(self.islands)} without neighbours attached to the nearest area: "
                + ", ".join(f"{k}→{v}" for k, v in list(self.attached.items())[:5])
            )
        return text


def build_weights(
    gdf: gpd.GeoDataFrame, kind: str = "queen", ids: str | None = None
) -> tuple[libpysal.weights.W, WeightsReport]:
    """Spatial weights for polygons or points: ``queen``, ``rook``, ``distance:D`` (binary band) or ``knn:K``.

    Areas without a neighbour are never left as islands (they would make false
    clusters or none): each is attached to its nearest area (by representative
    point), symmetrically, and listed in the report.
    """
    id_order = list(gdf[ids]) if ids else list(range(len(gdf)))
    kind = kind.lower()
    pts = (
        gdf.geometry.representative_point()
        if gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any()
        else gdf.geometry
    )
    coords = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    if kind == "queen":
        w = libpysal.weights.Queen.from_dataframe(gdf, use_index=False, silence_warnings=True)
    elif kind == "rook":
        w = libpysal.weights.Rook.from_dataframe(gdf, use_index=False, silence_warnings=True)
    elif kind.startswith("distance:"):
        w = libpysal.weights.DistanceBand(
            coords, threshold=float(kind.split(":", 1)[1]), binary=True, silence_warnings=True
        )
    elif kind.startswith("knn:"):
        w = libpysal.weights.KNN(coords, k=int(kind.split(":", 1)[1]))
    else:
        raise ValueError(f"weights {kind!r}: use queen, rook, distance:D or knn:K")
    neigh = {i: list(w.neighbors[i]) for i in range(len(gdf))}
    islands = [i for i, nb in neigh.items() if not nb]
    attached = {}
    if islands and len(gdf) > 1:
        tree = cKDTree(coords)
        for i in islands:
            _, j = tree.query(coords[i], k=2)
            j = int(j[1])
            neigh[i].append(j)
            if i not in neigh[j]:
                neigh[j].append(i)
            attached[id_order[i]] = id_order[j]
        log.warning("%d areas without neighbours attached to their nearest area", len(islands))
    w = libpysal.weights.W(neigh, id_order=list(range(len(gdf))), silence_warnings=True)
    report = WeightsReport(
        kind=kind,
        n=len(gdf),
        islands=[id_order[i] for i in islands],
        attached=attached,
        mean_neighbours=float(np.mean([len(v) for v in neigh.values()])),
    )
    return w, report


# ---------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------
def eb_moments(events: np.ndarray, population: np.ndarray) -> tuple[float, float]:
    """Marshall's method-of-moments prior for global empirical Bayes: mean ``b`` and variance ``a``.

    ``b = Σy/Σn``; ``a = Σ n_i (r_i − b)² / Σn − b / mean(n)`` (not truncated at zero here).
    """
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    b = y.sum() / n.sum()
    r = np.divide(y, n, out=np.zeros_like(y), where=n > 0)
    a = (n * (r - b) ** 2).sum() / n.sum() - b / n.mean()
    return float(b), float(a)


def eb_rate(events: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Global empirical-Bayes smoothed rates (shrinks small populations towards the mean)."""
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    b, a = eb_moments(y, n)
    a = max(a, 0.0)
    r = np.divide(y, n, out=np.full_like(y, b), where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(n > 0, a / (a + b / n), 0.0)
    return shrink * r + (1 - shrink) * b


def spatial_eb_rate(
    events: np.ndarray, population: np.ndarray, w: libpysal.weights.W
) -> np.ndarray:
    """Spatial empirical-Bayes rates: each area shrinks towards its neighbourhood's rate (esda)."""
    y = np.asarray(events, float).reshape(-1, 1)
    n = np.asarray(population, float).reshape(-1, 1)
    n = np.where(n > 0, n, np.nan)
    # a neighbourhood without any event has zero mean and variance: esda divides 0 by 0 there,
    # and the smoothed rate of such an area is the neighbourhood's rate, zero
    with np.errstate(invalid="ignore", divide="ignore"):
        sebr = esda.smoothing.Spatial_Empirical_Bayes(y, np.nan_to_num(n, nan=1.0), w)
    out = np.nan_to_num(np.asarray(sebr.r, float).ravel(), nan=0.0)
    return np.where(np.isfinite(n.ravel()), out, np.nan)


def rates_table(
    events: np.ndarray, population: np.ndarray, w: libpysal.weights.W, per: float = 1000.0
) -> pd.DataFrame:
    """Raw, global-EB and spatial-EB rates per ``per`` residents."""
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    raw = np.divide(y, n, out=np.full_like(y, np.nan), where=n > 0)
    return pd.DataFrame(
        {
            "rate_raw": raw * per,
            "rate_eb": eb_rate(y, n) * per,
            "rate_seb": spatial_eb_rate(y, n, w) * per,
        }
    )


# ---------------------------------------------------------------------------
# Multiple testing
# ---------------------------------------------------------------------------
def fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); ties get the same value; NaN stays NaN."""
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = ok.sum()
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.minimum(q, 1.0)
    res = np.empty(m)
    res[order] = q
    # equal p-values must get equal q-values: take the smallest q among ties
    s = pd.Series(res).groupby(pv).transform("min").to_numpy()
    out[ok] = s
    return out


def gi_bins(z: np.ndarray, p_adj: np.ndarray) -> np.ndarray:
    """Hot/cold confidence bins −3…3: ±3 at p<0.01, ±2 at p<0.05, ±1 at p<0.10 (after FDR)."""
    z = np.asarray(z, float)
    p = np.asarray(p_adj, float)
    level = np.select([p < 0.01, p < 0.05, p < 0.10], [3, 2, 1], 0)
    return (np.sign(z) * level).astype(int)


# ---------------------------------------------------------------------------
# Global and local statistics
# ---------------------------------------------------------------------------
@dataclass
class GlobalMoran:
    I: float  # noqa: E741 - the statistic's name
    expected: float
    z_norm: float
    p_norm: float  # two-sided, normal approximation
    p_sim: float | None  # pseudo p from permutations (one-sided in the observed direction)
    permutations: int
    eb: bool = False

    def sentence(self) -> str:
        sig = "顯著" if (self.p_sim if self.p_sim is not None else self.p_norm) < 0.05 else "不顯著"
        kind = "EB 標準化 " if self.eb else ""
        return f"{kind}Moran's I = {self.I:.3f}（期望值 {self.expected:.3f}，z = {self.z_norm:.2f}，{sig}）"


def _seeded_moran(make, permutations: int, seed: int, eb: bool) -> GlobalMoran:
    """Run an esda global Moran (which draws from NumPy's global RNG) under a seed, restoring the RNG."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        m = make()
    finally:
        np.random.set_state(state)
    p_sim = float(m.p_sim) if permutations else None
    return GlobalMoran(
        float(m.I), float(m.EI), float(m.z_norm), float(m.p_norm), p_sim, permutations, eb=eb
    )


def global_moran(
    y: np.ndarray, w: libpysal.weights.W, permutations: int = 999, seed: int = 42
) -> GlobalMoran:
    """Global Moran's I on row-standardised weights, with seeded permutation inference."""
    w.transform = "r"
    return _seeded_moran(
        lambda: esda.Moran(np.asarray(y, float), w, permutations=permutations),
        permutations,
        seed,
        False,
    )


def moran_rate(
    events: np.ndarray,
    population: np.ndarray,
    w: libpysal.weights.W,
    permutations: int = 999,
    seed: int = 42,
) -> GlobalMoran:
    """Moran's I of a rate with Assunção–Reis empirical-Bayes standardisation."""
    w.transform = "r"
    e, b = np.asarray(events, float), np.asarray(population, float)
    return _seeded_moran(
        lambda: esda.Moran_Rate(e, b, w, permutations=permutations), permutations, seed, True
    )


def local_statistics(
    y: np.ndarray,
    w: libpysal.weights.W,
    ids: list | np.ndarray,
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
    fdr: bool = True,
    exclude: list | None = None,
) -> pd.DataFrame:
    """Getis–Ord Gi* (binary weights, star) and local Moran with seeded permutations.

    p-values are two-sided permutation pseudo p-values (esda ``alternative='two-sided'``), then
    Benjamini–Hochberg adjusted when ``fdr``. Columns: id, gi_z, gi_p, gi_q, gi_bin,
    lisa_I, lisa_q (quadrant HH/LH/LL/HL), lisa_p, lisa_q_adj, lisa_cluster
    (quadrant where significant at ``alpha``, else 'ns').
    Areas in ``exclude`` get no local result (NaN / 'ns').
    """
    y = np.asarray(y, float)
    # observed statistics from esda; the permutation test from the cached kernel of
    # dv_analysis.permutation (identical p-values to esda's n_jobs=1, without its
    # per-process numba compilation)
    w.transform = "r"
    lisa = esda.Moran_Local(y, w, transformation="r", permutations=0)
    lisa_p = (
        permutation.conditional_p(
            permutation.MORAN_LOCAL, lisa.z, lisa.w, lisa.Is, permutations, seed
        ).astype(float)
        if permutations
        else np.full(len(y), np.nan)
    )
    w.transform = "b"
    gi = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    gi_p = (
        permutation.conditional_p(
            permutation.G_LOCAL_STAR, y, gi.w, gi.Gs, permutations, seed, scaling=y.sum()
        ).astype(float)
        if permutations
        else 2 * stats.norm.sf(np.abs(gi.Zs))
    )
    w.transform = "r"
    gi_p, lisa_p = np.minimum(1.0, gi_p), np.minimum(1.0, lisa_p)
    excluded = np.isin(np.asarray(ids), exclude or [])
    gi_p[excluded] = np.nan
    lisa_p[excluded] = np.nan
    gi_q = fdr_bh(gi_p) if fdr else gi_p
    lisa_qa = fdr_bh(lisa_p) if fdr else lisa_p
    quad = np.array([LISA_LABELS[int(q)] for q in lisa.q])
    cluster = np.where(lisa_qa < alpha, quad, "ns")
    z = np.asarray(gi.Zs, float).copy()
    z[excluded] = np.nan
    return pd.DataFrame(
        {
            "id": np.asarray(ids),
            "gi_z": z,
            "gi_p": gi_p,
            "gi_q": gi_q,
            # no finite z (constant rates: EB shrinks every area to the mean) means no hot spot
            "gi_bin": np.where(
                np.isfinite(gi_q) & np.isfinite(z),
                gi_bins(np.nan_to_num(z), np.nan_to_num(gi_q, nan=1.0)),
                0,
            ),
            "lisa_I": np.where(excluded, np.nan, lisa.Is),
            "lisa_q": quad,
            "lisa_p": lisa_p,
            "lisa_q_adj": lisa_qa,
            "lisa_cluster": cluster,
        }
    )


# ---------------------------------------------------------------------------
# Trends and emerging hotspots
# ---------------------------------------------------------------------------
def mann_kendall(x: np.ndarray) -> tuple[float, float, float]:
    """Mann–Kendall trend test: (S, z, two-sided p), with the tie-corrected variance."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 3:
        return 0.0, 0.0, 1.0
    s = float(np.sign(x[None, :] - x[:, None])[np.triu_indices(n, 1)].sum())
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - (counts * (counts - 1) * (2 * counts + 5)).sum()) / 18
    if var <= 0:
        return s, 0.0, 1.0
    z = (s - np.sign(s)) / np.sqrt(var)
    return s, float(z), float(2 * stats.norm.sf(abs(z)))


#: Emerging hot/cold spot categories (after ESRI's Emerging Hot Spot Analysis). Rules in docs/hotspots.md.
EMERGING_CATEGORIES = (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical",
)  # fmt: skip


def classify_emerging(bins: np.ndarray, trend_z: float, trend_p: float, alpha: float = 0.10) -> str:
    """Category of one area from its Gi* bins over time (oldest first) and the Mann–Kendall trend of its z.

    Hot-spot categories are returned as e.g. ``new hot spot``; cold ones mirror them;
    ``no pattern`` when the area was never significant.
    """
    b = np.asarray(bins, int)
    n = len(b)
    for sign, word in ((1, "hot"), (-1, "cold")):
        sig = (np.sign(b) == sign) & (b != 0)
        other = (np.sign(b) == -sign) & (b != 0)
        if not sig.any():
            continue
        if sig.sum() < (other.sum() if other.any() else 0):
            continue
        last = sig[-1]
        share = sig.mean()
        up = trend_p < alpha and np.sign(trend_z) == sign  # getting hotter (colder)
        down = trend_p < alpha and np.sign(trend_z) == -sign
        run = 0
        for v in sig[::-1]:
            if not v:
                break
            run += 1
        if last and sig.sum() == 1:
            return f"new {word} spot"
        if last and run == sig.sum() and run < n * 0.9:
            return f"consecutive {word} spot"
        if share >= 0.9 and last:
            if up:
                return f"intensifying {word} spot"
            if down:
                return f"diminishing {word} spot"
            return f"persistent {word} spot"
        if other.any() and last:
            return f"oscillating {word} spot"
        if last:
            return f"sporadic {word} spot"
        if share >= 0.9 * (n - 1) / n:
            return f"historical {word} spot"
        return (
            f"sporadic {word} spot" if sig[-max(2, n // 4) :].any() else f"historical {word} spot"
        )
    return "no pattern"


def emerging_hotspots(
    panel: pd.DataFrame, id_col: str = "id", period_col: str = "period"
) -> pd.DataFrame:
    """Classify every area from a panel of Gi* results (columns id, period, gi_z, gi_bin).

    Returns id, n_periods, n_hot, n_cold, trend_s, trend_z, trend_p, category.
    """
    rows = []
    for key, g in panel.sort_values(period_col).groupby(id_col, sort=True):
        s, z, p = mann_kendall(g["gi_z"].to_numpy())
        bins = g["gi_bin"].to_numpy()
        rows.append(
            {
                id_col: key,
                "n_periods": len(g),
                "n_hot": int((bins > 0).sum()),
                "n_cold": int((bins < 0).sum()),
                "trend_s": s,
                "trend_z": z,
                "trend_p": p,
                "category": classify_emerging(bins, z, p),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Kulldorff's circular spatial scan (Poisson)
# ---------------------------------------------------------------------------
@dataclass
class ScanCluster:
    center: int
    members: list[int]
    observed: float
    expected: float
    llr: float
    p_value: float
    radius: float
    population: float

    @property
    def relative_risk(self) -> float:
        return self.observed / self.expected


def _poisson_llr(c: np.ndarray, e: np.ndarray, total: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
    llr = np.where((c > e) & (c > 0), llr, 0.0)
    return np.nan_to_num(llr, nan=0.0, posinf=0.0)


def _windows(coords: np.ndarray, pop: np.ndarray, max_pop_frac: float):
    """For each centre, neighbours by distance and how many fit under the population cap."""
    d = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind="mergesort")
    cum_pop = np.cumsum(pop[order], axis=1)
    kmax = (cum_pop <= max_pop_frac * pop.sum()).sum(axis=1)
    # windows never grow past the cap: drop the columns no window reaches
    return d, order[:, : max(int(kmax.max()), 1)], kmax


@njit(cache=True)
def _max_llr_value(
    cases: np.ndarray, expected: np.ndarray, order: np.ndarray, kmax: np.ndarray
) -> float:
    """The largest log-likelihood ratio over all windows, without n-by-k temporaries.

    Sums in the same order as ``np.cumsum`` and treats the same cases as zero (c <= e, no
    case, or a non-finite value) as the array computation with :func:`_poisson_llr` that
    scores the observed windows, so it returns the same number; compiled once and
    cached, it makes the Monte-Carlo replicates of a national scan fast.
    """
    total = cases.sum()
    best = 0.0
    for i in range(order.shape[0]):
        c = 0.0
        e = 0.0
        for k in range(kmax[i]):
            j = order[i, k]
            c += cases[j]
            e += expected[j]
            if c > e and c > 0:
                v = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
                if np.isfinite(v) and v > best:
                    best = v
    return best


def kulldorff_scan(
    coords: np.ndarray,
    cases: np.ndarray,
    population: np.ndarray,
    max_pop_frac: float = 0.5,
    n_sim: int = 999,
    seed: int = 42,
    n_secondary: int = 5,
) -> list[ScanCluster]:
    """Most likely and secondary (non-overlapping) circular clusters, Poisson model.

    Windows are circles centred on each area's point, growing by nearest neighbours
    up to ``max_pop_frac`` of the total population. The p-value is Monte-Carlo: the
    rank of the observed maximum log-likelihood ratio among ``n_sim`` replicates
    with the total number of cases redistributed multinomially by population.
    """
    coords = np.asarray(coords, float)
    cases = np.asarray(cases, float)
    pop = np.asarray(population, float)
    total = cases.sum()
    expected = total * pop / pop.sum()
    d, order, kmax = _windows(coords, pop, max_pop_frac)
    cc = np.cumsum(cases[order], axis=1)
    ce = np.cumsum(expected[order], axis=1)
    llr = _poisson_llr(cc, ce, total)
    llr = np.where(np.arange(order.shape[1])[None, :] < kmax[:, None], llr, 0.0)
    rng = np.random.default_rng(seed)
    sims = np.empty(n_sim)
    n_int = int(round(total))
    probs = pop / pop.sum()
    for s in range(n_sim):
        sim_cases = rng.multinomial(n_int, probs).astype(float)
        sims[s] = _max_llr_value(
            sim_cases,
            expected * n_int / total if total else expected,
            order,
            np.minimum(kmax, order.shape[1]),
        )
    # candidate windows, best first, keeping those that do not overlap earlier ones
    flat = np.argsort(-llr, axis=None, kind="mergesort")
    used = np.zeros(len(pop), bool)
    clusters: list[ScanCluster] = []
    for f in flat:
        i, k = np.unravel_index(f, llr.shape)
        value = llr[i, k]
        if value <= 0 or len(clusters) > n_secondary:
            break
        members = order[i, : k + 1]
        if used[members].any():
            continue
        used[members] = True
        p = (1 + (sims >= value).sum()) / (n_sim + 1)
        clusters.append(
            ScanCluster(
                center=int(i),
                members=[int(m) for m in members],
                observed=float(cc[i, k]),
                expected=float(ce[i, k]),
                llr=float(value),
                p_value=float(p),
                radius=float(d[i, members[-1]]),
                population=float(pop[members].sum()),
            )
        )
    return clusters


# ---------------------------------------------------------------------------
# Village analysis: everything above for a table of areas
# ---------------------------------------------------------------------------
@dataclass
class AreaResult:
    """Local results per area plus the global statistics and the weights report."""

    table: pd.DataFrame
    moran_rate: GlobalMoran
    moran_eb: GlobalMoran
    weights: WeightsReport
    scan: list[ScanCluster]


def analyse_areas(
    areas: gpd.GeoDataFrame,
    count: str,
    population: str | None,
    id_col: str,
    weights: str = "queen",
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
    scan_max_pop: float = 0.1,
    scan_simulations: int = 999,
    per: float = 1000.0,
) -> AreaResult:
    """Rates, global Moran (raw-rate and EB-standardised), Gi*, LISA and the Kulldorff scan.

    Local statistics run on global-EB smoothed rates, so small populations do not
    make false hotspots; areas without population get no local result.
    """
    y = areas[count].to_numpy(float)
    ids = areas[id_col].to_numpy()
    w, wrep = build_weights(areas, weights, ids=id_col)
    perms = min(permutations, 9999)
    if population is None:
        # no denominator: the statistics describe the counts themselves
        n = np.ones(len(y))
        loc = local_statistics(y, w, ids, permutations=permutations, seed=seed, alpha=alpha)
        table = loc.rename(columns={"id": id_col})
        table.insert(1, count, y)
        m_rate = global_moran(y, w, permutations=perms, seed=seed)
        m_eb = m_rate
    else:
        n = areas[population].to_numpy(float)
        rates = rates_table(y, n, w, per)
        no_pop = list(ids[n <= 0])
        loc = local_statistics(
            rates["rate_eb"].to_numpy(),
            w,
            ids,
            permutations=permutations,
            seed=seed,
            alpha=alpha,
            exclude=no_pop,
        )
        table = pd.concat([loc.rename(columns={"id": id_col}), rates], axis=1)
        table.insert(1, count, y)
        table.insert(2, population, n)
        m_rate = global_moran(
            np.nan_to_num(rates["rate_raw"].to_numpy()), w, permutations=perms, seed=seed
        )
        m_eb = moran_rate(y, np.where(n > 0, n, 1.0), w, permutations=perms, seed=seed)
    pts = areas.geometry.representative_point()
    scan = kulldorff_scan(
        np.column_stack([pts.x, pts.y]), y, np.maximum(n, 0), scan_max_pop, scan_simulations, seed
    )
    table["scan_cluster"] = 0
    for k, c in enumerate(scan, 1):
        if c.p_value < alpha:
            table.loc[c.members, "scan_cluster"] = k
    return AreaResult(table, m_rate, m_eb, wrep, scan)


def scan_table(result: AreaResult, ids: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Scan clusters as a table: rank, areas, observed, expected, relative risk, LLR, p."""
    rows = []
    for k, c in enumerate(result.scan, 1):
        rows.append(
            {
                "cluster": k,
                "kind": "most likely" if k == 1 else "secondary",
                "n_areas": len(c.members),
                "centre": ids[c.center],
                "observed": c.observed,
                "expected": round(c.expected, 2),
                "relative_risk": round(c.relative_risk, 2),
                "llr": round(c.llr, 3),
                "p_value": c.p_value,
                "significant": c.p_value < alpha,
                "radius_m": round(c.radius),
            }
        )
    return pd.DataFrame(rows)


#: Change when the per-quarter Gi* computation changes, so cached quarters are recomputed.
PANEL_CACHE_VERSION = "v1"


def quarter_seed(seed: int, period: str) -> int:
    """The permutation seed of one quarter of a panel: fixed by the quarter, not its position.

    So a quarter's Gi* is the same whichever range it is part of, and can be reused.
    """
    from .config import Period

    return (int(seed) + Period.parse(period).ordinal()) % 2**32


def _panel_key(order, g: pd.DataFrame, count: str, population: str, spec: str, perms, seed) -> str:
    """Content address of one quarter's Gi*: its counts, populations, weights and test settings."""
    import hashlib

    h = hashlib.sha256()
    h.update(f"gi-quarter {PANEL_CACHE_VERSION}|{spec}|{int(perms)}|{seed}|".encode())
    h.update("|".join(map(str, order)).encode())
    h.update(np.ascontiguousarray(g[count].fillna(0).to_numpy(float)).tobytes())
    h.update(np.ascontiguousarray(g[population].fillna(0).to_numpy(float)).tobytes())
    return h.hexdigest()


def panel_gi(
    areas: gpd.GeoDataFrame,
    panel: pd.DataFrame,
    id_col: str,
    count: str = "incidents",
    population: str = "pop_total",
    weights: str = "queen",
    permutations: int = 999,
    seed: int = 42,
    progress: bool = False,
    cache=None,
) -> pd.DataFrame:
    """Gi* of the EB rate for every period of a panel (id, period, gi_z, gi_p, gi_q, gi_bin).

    Each quarter is tested with its own seed (:func:`quarter_seed`). With ``cache``, a
    function from a period to a parquet path, a quarter whose counts, populations, weights
    and settings are unchanged is read back instead of recomputed (the key is kept beside
    it in ``<path>.key``), so over a range of runs each quarter's Gi* is computed once.
    """
    w, _ = build_weights(areas, weights, ids=id_col)
    order = areas[id_col].to_numpy()
    out = []
    periods = sorted(panel["period"].unique())
    reused = 0
    for i, p in enumerate(periods, 1):
        g = panel[panel["period"] == p].set_index(id_col).reindex(order)
        qseed = quarter_seed(seed, p)
        path = cache(p) if cache else None
        key = _panel_key(order, g, count, population, weights, permutations, qseed)
        keyfile = path.with_name(path.name + ".key") if path is not None else None
        if path is not None and path.exists() and keyfile.exists() and keyfile.read_text() == key:
            res = pd.read_parquet(path)
            reused += 1
        else:
            rate = eb_rate(
                g[count].fillna(0).to_numpy(float), g[population].fillna(0).to_numpy(float)
            )
            res = local_statistics(rate, w, order, permutations=permutations, seed=qseed)
            res["period"] = p
            res = res[["id", "period", "gi_z", "gi_p", "gi_q", "gi_bin"]]
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                res.to_parquet(path, index=False)
                keyfile.write_text(key)
            if progress:
                print(f"  Gi* {p} ({i}/{len(periods)})", flush=True)
        out.append(res)
    if progress and reused:
        print(f"  Gi* of {reused} earlier quarter(s) reused (inputs unchanged)", flush=True)
    return pd.concat(out, ignore_index=True).rename(columns={"id": id_col})


def plain_summary(result: AreaResult, emerging: pd.DataFrame | None, names: pd.Series) -> str:
    """What the hotspot analysis found, in plain Traditional Chinese for staff."""
    t = result.table
    hot = t[t["gi_bin"] > 0]
    cold = t[t["gi_bin"] < 0]
    sig = "有" if result.moran_eb.p_norm < 0.05 else "沒有"
    text = (
        f"全市事件率{sig}明顯的空間聚集（{result.moran_eb.sentence()}）。"
        f"以 Getis-Ord Gi* 檢定並控制偽發現率後，共有 **{len(hot)} 個熱點里**、{len(cold)} 個冷點里。"
    )
    if len(hot):
        top = hot.sort_values("gi_z", ascending=False).head(8)
        text += "熱點包括：" + "、".join(str(names.get(i, i)) for i in top.iloc[:, 0]) + "。"
    sig_scan = [c for c in result.scan if c.p_value < 0.05]
    if sig_scan:
        c = sig_scan[0]
        text += f"\n\n空間掃描找到 {len(sig_scan)} 個顯著群聚；最可能的群聚含 {len(c.members)} 個里，事件數為期望值的 {c.relative_risk:.1f} 倍。"
    if emerging is not None:
        counts = emerging["category"].value_counts()
        from .maps import EMERGING_ZH

        parts = [
            f"{EMERGING_ZH.get(k, k)} {v} 個里" for k, v in counts.items() if k != "no pattern"
        ]
        if parts:
            text += "\n\n跨季趨勢（新興熱點分析）：" + "；".join(parts) + "。"
    text += "\n\n注意：通報數不等於實際發生數；偏遠、交通不便的里可能因較少被看見而低報，冷點不代表安全。"
    return text


def run_village_hotspots(
    paths,
    count: str = "incidents_w",
    weights: str = "queen",
    permutations: int = 9999,
    panel_permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
    scan_max_pop: float = 0.1,
    scan_simulations: int = 999,
    progress: bool = True,
) -> tuple[AreaResult, pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """Hotspots of the period from the village features and the panel; written to ``data_clean/<period>/``.

    Returns the area result, the Gi* panel, the emerging-hotspot table and the
    village polygons in table order.
    """
    import json

    from . import public

    settings = paths.settings
    feats = pd.read_parquet(paths.village_features)
    panel = pd.read_parquet(paths.village_panel)
    villages = public.load_boundaries(settings)
    g = villages.merge(
        feats[["villcode", count, "pop_total", "window_quarters"]], on="villcode", how="left"
    )
    quarters = g["window_quarters"].fillna(1) if count.endswith("_w") else 1
    g["population_at_risk"] = g["pop_total"].fillna(0) * quarters
    res = analyse_areas(
        g,
        count,
        "population_at_risk",
        "villcode",
        weights,
        permutations,
        seed,
        alpha,
        scan_max_pop,
        scan_simulations,
    )
    gp = panel_gi(
        villages,
        panel,
        "villcode",
        weights=weights,
        permutations=panel_permutations,
        seed=seed,
        progress=progress,
        cache=lambda p: settings.period(p).gi_quarter,
    )
    emerging = emerging_hotspots(gp, id_col="villcode", period_col="period")
    res.table.to_parquet(paths.hotspots, index=False)
    gp.to_parquet(paths.gi_panel, index=False)
    emerging.to_parquet(paths.emerging_hotspots, index=False)
    scan_table(res, g["villcode"].to_numpy(), alpha).to_parquet(paths.scan_clusters, index=False)
    summary = {
        "period": str(paths.period),
        "count": count,
        "weights": str(res.weights),
        "islands": res.weights.islands,
        "moran_rate": vars(res.moran_rate),
        "moran_eb": vars(res.moran_eb),
        "permutations": permutations,
        "panel_permutations": panel_permutations,
        "seed": seed,
        "n_hot": int((res.table["gi_bin"] > 0).sum()),
        "n_cold": int((res.table["gi_bin"] < 0).sum()),
        "panel_periods": sorted(panel["period"].unique().tolist()),
    }
    paths.hotspot_summary.write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return res, gp, emerging, g


def hot_villages_table(
    result: AreaResult, villages: gpd.GeoDataFrame, emerging: pd.DataFrame
) -> pd.DataFrame:
    """Significant hot and cold villages with district, EB rate and emerging category (Chinese headers)."""
    from .maps import EMERGING_ZH

    t = result.table.merge(villages[["villcode", "townname", "villname"]], on="villcode")
    t = t.merge(emerging[["villcode", "category"]], on="villcode", how="left")
    t = t[t["gi_bin"] != 0].sort_values("gi_z", ascending=False)
    return pd.DataFrame(
        {
            "行政區": t["townname"],
            "里": t["villname"],
            "類別": t["gi_bin"].map(GI_BIN_LABELS),
            "Gi* z": t["gi_z"].round(2),
            "EB 事件率（每千人）": t["rate_eb"].round(3),
            "局部 Moran": t["lisa_cluster"],
            "跨季型態": t["category"].map(EMERGING_ZH),
        }
    )


def read_layer(path, x: str = "x", y: str = "y") -> gpd.GeoDataFrame:
    """A polygon file (GeoPackage, GeoJSON, shapefile) or a point CSV with ``x`` and ``y`` columns."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        df = pd.read_csv(path)
        missing = [c for c in (x, y) if c not in df.columns]
        if missing:
            raise ValueError(
                f"{path.name}: a point CSV needs columns {x!r} and {y!r}; missing {missing}"
            )
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df[x], df[y]))
    return gpd.read_file(path)


def analyse_file(
    path,
    count: str,
    population: str | None = None,
    id_col: str | None = None,
    weights: str | None = None,
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, AreaResult]:
    """Hotspot statistics for any layer: one row per area with the columns of the village analysis.

    Points default to ``knn:6`` weights, polygons to ``queen``.
    """
    g = read_layer(path)
    for col in (count, population, id_col):
        if col and col not in g.columns:
            raise ValueError(
                f"{path}: no column {col!r}; columns are {', '.join(map(str, g.columns))}"
            )
    if id_col is None:
        id_col = "id" if "id" not in g.columns else "_row"
        g[id_col] = np.arange(1, len(g) + 1)
    points = g.geom_type.eq("Point").all()
    weights = weights or ("knn:6" if points else "queen")
    if points and weights in ("queen", "rook"):
        raise ValueError(
            f"{path}: {weights} contiguity needs polygons; use distance:D or knn:K for points"
        )
    g = g.reset_index(drop=True)
    res = analyse_areas(
        g, count, population, id_col, weights, permutations, seed, alpha, scan_simulations=199
    )
    return res.table.drop(columns=["scan_cluster"]), res


def load_table(paths) -> pd.DataFrame:
    """The period's hotspot table (written by :func:`run_village_hotspots`), in boundary order."""
    from . import public

    order = public.load_boundaries(paths.settings)[["villcode"]]
    if not paths.hotspots.exists():
        raise FileNotFoundError(f"{paths.hotspots} not found: run 03_hotspots first")
    return order.merge(pd.read_parquet(paths.hotspots), on="villcode", how="left")
