"""Hotspot statistics for any layer the user brings: the ``dv-analysis hotspots`` command.

Reads a polygon file or a point CSV, checks the columns asked for, and runs the same
statistics as the village analysis (:func:`dv_analysis.stats.detection.areas.analyse_areas`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.stats.detection.areas import AreaResult, analyse_areas


def read_layer(path, x: str = "x", y: str = "y", geometry: bool = True) -> gpd.GeoDataFrame:
    """A polygon file (GeoPackage, GeoJSON, shapefile) or a point CSV with ``x`` and ``y`` columns;
    with ``geometry=False`` a CSV is read as a plain table (neighbours come from a GAL file)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        df = pd.read_csv(path)
        if not geometry:
            return df
        missing = [c for c in (x, y) if c not in df.columns]
        if missing:
            raise InputError(
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
    _check_columns(g, path, count, population, id_col)
    if id_col is None:
        id_col = "id" if "id" not in g.columns else "_row"
        g[id_col] = np.arange(1, len(g) + 1)
    points = g.geom_type.eq("Point").all()
    weights = weights or ("knn:6" if points else "queen")
    if points and weights in ("queen", "rook"):
        raise InputError(
            f"{path}: {weights} contiguity needs polygons; use distance:D or knn:K for points"
        )
    g = g.reset_index(drop=True)
    res = analyse_areas(
        g, count, population, id_col, weights, permutations, seed, alpha, scan_simulations=199
    )
    return res.table.drop(columns=["scan_cluster"]), res


def _check_columns(g, path, *columns) -> None:
    """Stop with the file and the columns it has when one asked for is not there."""
    for col in columns:
        if col and col not in g.columns:
            raise InputError(
                f"{path}: no column {col!r}; columns are {', '.join(map(str, g.columns))}"
            )


def _one_of_population_or_expected(population, expected) -> None:
    if (population is None) == (expected is None):
        raise InputError("give either --population or --expected (one of them)")


def read_gal(path) -> dict[str, list[str]]:
    """Neighbours by id (as text) from a GAL file, read with libpysal."""
    import libpysal

    if not Path(path).exists():
        raise MissingInputError(f"{path}: no such GAL file")
    try:
        w = libpysal.io.open(str(path), "r").read()
    except Exception as e:  # noqa: BLE001 - any parse error becomes one message naming the file
        raise InputError(f"{path}: not a readable GAL file ({type(e).__name__}: {e})") from e
    return {str(k): [str(j) for j in v] for k, v in w.neighbors.items()}


def original_scale(draws: dict, mean: pd.Series, sd: pd.Series) -> dict:
    """Fixed effects of covariates standardised as ``(x − mean)/sd``, on the covariates' own
    scale, from the joint draws: ``β = β_std / sd`` and ``β0 = β0_std − Σ β_std · mean / sd``."""
    from dv_analysis.stats.disease_mapping.mcmc import describe

    beta = {c: draws[c] / sd[c] for c in mean.index}
    intercept = draws["intercept"] - sum(beta[c] * mean[c] for c in mean.index)
    return {"intercept": describe(intercept)} | {c: describe(v) for c, v in beta.items()}


def smooth_file(
    path,
    count: str,
    id_col: str,
    population: str | None = None,
    expected: str | None = None,
    covariates: tuple[str, ...] = (),
    weights: str = "queen",
    draws: int = 1000,
    warmup: int = 500,
    chains: int = 4,
    seed: int = 42,
    engine: str = "laplace",
):
    """BYM2 relative risks for any layer: the ``dv-analysis smooth`` command.

    ``expected`` gives the expected counts directly; ``population`` makes them
    population × the overall rate. ``weights`` is ``queen``, ``rook``, ``knn:K`` or a
    ``.gal`` file of neighbours by id. Covariates are standardised. ``engine`` is
    ``laplace`` (nested Laplace, :mod:`dv_analysis.stats.disease_mapping.bym2_laplace`: seconds; ``chains ×
    draws`` posterior draws) or ``nuts`` (NumPyro, the reference). Returns the per-area
    table (``id, rr_mean, rr_low, rr_high, p_exceed_1``) and the fit.
    """
    from dv_analysis.stats.disease_mapping import pooled
    from dv_analysis.stats.disease_mapping.icar import adjacency_matrix

    _one_of_population_or_expected(population, expected)
    gal = str(weights).lower().endswith(".gal")
    g = read_layer(path, geometry=not gal)  # a GAL file needs no geometry
    _check_columns(g, path, count, id_col, population, expected, *covariates)
    g = g.reset_index(drop=True)
    ids = g[id_col].astype(str)
    if ids.duplicated().any():
        raise InputError(f"{path}: id column {id_col!r} repeats {ids[ids.duplicated()].iloc[0]!r}")
    y, e = _counts(g, path, count, population, expected, ids)
    neighbours = _neighbours(g, path, id_col, ids, weights, gal)
    x = raw = None
    if covariates:
        raw = g[list(covariates)].apply(pd.to_numeric, errors="coerce")
        x = (raw - raw.mean()) / raw.std()
    adjacency = adjacency_matrix(neighbours, ids)
    fit = pooled.fit(
        y.to_numpy(int),
        e,
        adjacency,
        x,
        engine=engine,
        chains=chains,
        warmup=warmup,
        draws=draws,
        seed=seed,
        ids=ids,
    )
    if raw is not None:
        fit.fixed_effects_standardised = fit.fixed_effects
        fit.fixed_effects = original_scale(fit.fixed_draws, raw.mean(), raw.std())
    table = fit.areas.rename(columns={"id": id_col})[
        [id_col, "rr_mean", "rr_low", "rr_high", "p_exceed_1"]
    ]
    return table, fit


def _counts(g, path, count: str, population, expected, ids) -> tuple[pd.Series, np.ndarray]:
    """The counts and the expected counts of a table (``population`` gives them at the
    table's overall rate), checked: a count that is missing, negative or not whole, or an
    expected count that is not positive, stops with the file, row and column named."""
    y = pd.to_numeric(g[count], errors="coerce")
    bad = y.isna() | (y < 0) | (y % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}, row {row + 2}, column {count!r}: {g[count].iloc[row]!r} is not a count"
        )
    col = expected or population
    e = pd.to_numeric(g[col], errors="coerce").to_numpy(float)
    if not expected:
        e = e * y.sum() / np.nansum(e)
    bad = ~(e > 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}, row {row + 2}, column {col!r}: expected count must be positive (area {ids[row]})"
        )
    return y, e


def _panel_arrays(g, path, count, id_col, time_col, population, expected, covariates=()):
    """``(ids, times, y, e, x)`` of a long panel (one row per area and period), checked:
    counts and expected counts by row and column, one row per area and period, every area in
    every period. ``population`` gives expected counts at the panel's overall rate. ``x`` is
    ``(raw, standardised)``: the covariates by row, and ``(n, T, p)`` standardised over the
    rows as the pooled path does; ``(None, None)`` without covariates."""
    g = g.reset_index(drop=True)
    ids, times = g[id_col].astype(str), g[time_col].astype(str)
    twice = pd.Series(list(zip(ids, times, strict=True))).duplicated()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise InputError(
            f"{path}, row {row + 2}: area {ids[row]!r} has period {times[row]!r} twice"
        )
    y, e = _counts(g, path, count, population, expected, ids)
    wide = pd.DataFrame({"id": ids, "t": times, "y": y, "e": e})
    area_ids, periods = sorted(ids.unique()), sorted(times.unique())
    yw = wide.pivot(index="id", columns="t", values="y").reindex(index=area_ids, columns=periods)
    if yw.isna().any().any():
        i, t = np.argwhere(yw.isna().to_numpy())[0]
        raise InputError(
            f"{path}: area {area_ids[i]!r} has no row for period {periods[t]!r}"
            " (a panel needs every area in every period)"
        )
    ew = wide.pivot(index="id", columns="t", values="e").reindex(index=area_ids, columns=periods)
    x = _panel_covariates(g, path, covariates, wide, area_ids, periods)
    return pd.Index(area_ids), periods, yw.to_numpy(int), ew.to_numpy(float), x


def _panel_covariates(g, path, covariates, wide, area_ids, periods):
    """The covariates of a long panel: each checked (a value that is not a number stops with
    its row and column), standardised over the rows, arranged ``(n, T, p)``."""
    if not covariates:
        return None, None
    raw = g[list(covariates)].apply(pd.to_numeric, errors="coerce")
    for col in covariates:
        bad = raw[col].isna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = g[col].iloc[row]
            shown = "the value is missing" if pd.isna(value) else f"{value!r} is not a number"
            raise InputError(f"{path}, row {row + 2}, column {col!r}: {shown}")
        if not raw[col].std() > 0:
            raise InputError(f"{path}, column {col!r}: the covariate does not vary")
    z = (raw - raw.mean()) / raw.std()
    cube = [
        wide.assign(v=z[col].to_numpy())
        .pivot(index="id", columns="t", values="v")
        .reindex(index=area_ids, columns=periods)
        .to_numpy(float)
        for col in covariates
    ]
    return raw, np.stack(cube, axis=-1)


def panel_fixed_effects(beta: np.ndarray, raw: pd.DataFrame) -> dict:
    """Each covariate's effect on its own scale, from draws of the standardised β.

    Per unit of the covariate: ``β / sd`` (log scale: mean, sd, 90 % interval) and the
    incidence rate ratio ``exp(β / sd)`` (posterior median and 90 % interval: 5 % and 95 %
    quantiles); and the standardised β (per standard deviation of the covariate).
    """
    from dv_analysis.stats.disease_mapping.mcmc import describe

    out = {}
    for k, col in enumerate(raw.columns):
        sd = float(raw[col].std())
        per_unit = beta[:, k] / sd
        q = np.exp(np.quantile(per_unit, [0.5, 0.05, 0.95]))
        out[col] = {
            "per_unit": describe(per_unit),
            "irr": {"median": float(q[0]), "q05": float(q[1]), "q95": float(q[2])},
            "interval": "90 %",
            "covariate_sd": sd,
            "standardised": describe(beta[:, k]),
        }
    return out


def smooth_panel_file(
    path,
    count: str,
    id_col: str,
    time_col: str,
    population: str | None = None,
    expected: str | None = None,
    weights: str = "queen",
    draws: int = 2000,
    seed: int = 42,
    now_periods: int = 4,
    covariates: tuple[str, ...] = (),
):
    """The space-time model (docs/risk_model.md) for any panel: ``dv-analysis smooth --time``.

    One row per area and period (periods sort as text: 2019Q1 < 2019Q2, or ISO dates).
    Fitted with the nested-Laplace engine. Returns the per-area table (``id``, the panel's
    level ``rr_*`` and ``p_exceed_1``, the present ``rr_now_*`` over the last
    ``now_periods`` periods, ``p_now_exceed_1``, ``p_now_exceed_1_5``, ``p_rising``,
    ``trend``) and a summary (hyperparameters, diagnostics, periods; with ``covariates``,
    columns by row, standardised over the rows, each one's effect per unit as an incidence
    rate ratio with its 90 % interval: :func:`panel_fixed_effects`). A covariate may vary by
    area and period or be an area's own (the same in every period).
    """
    from dv_analysis.stats.disease_mapping import spacetime
    from dv_analysis.stats.disease_mapping.icar import adjacency_matrix, prepare_graph

    _one_of_population_or_expected(population, expected)
    gal = str(weights).lower().endswith(".gal")
    g = read_layer(path, geometry=not gal)
    _check_columns(g, path, count, id_col, time_col, population, expected, *covariates)
    ids, periods, y, e, (raw, x) = _panel_arrays(
        g, path, count, id_col, time_col, population, expected, covariates
    )
    neighbours = _neighbours(g, path, id_col, ids, weights, gal)
    graph = prepare_graph(adjacency_matrix(neighbours, ids))
    panel = spacetime.prepare_panel(y, e, graph, x)
    fit = spacetime.fit(panel, "laplace", options=spacetime.EngineOptions(draws=draws, seed=seed))
    k = min(now_periods, len(periods) // 2) or 1  # as summarise_draws reads "now"
    table = spacetime.summarise_draws(fit.log_rr(panel), e[:, -k:].mean(1), now_periods)
    table.insert(0, id_col, ids)
    keep = [
        id_col,
        "rr_mean",
        "rr_low",
        "rr_high",
        "p_exceed_1",
        "rr_now_mean",
        "rr_now_low",
        "rr_now_high",
        "p_now_exceed_1",
        "p_now_exceed_1_5",
        "p_rising",
        "trend",
    ]
    summary = {
        "model": "space-time (BYM2 + RW1 per area + iid), nested Laplace",
        "periods": periods,
        "now_periods": k,
        "hyperparameters": fit.hyperparameters,
        "diagnostics": fit.diagnostics,
    }
    if raw is not None:
        summary["fixed_effects"] = panel_fixed_effects(fit.beta, raw)
    return table[keep], summary


def _neighbours(g, path, id_col, ids, weights, gal: bool) -> dict:
    """Neighbours by id: from a GAL file (checked against the panel's ids) or from the
    geometry of each area's first row."""
    from dv_analysis.stats.weights import contiguity

    if not gal:
        first = g.assign(_id=g[id_col].astype(str)).drop_duplicates("_id").set_index("_id")
        neighbours, _ = contiguity(first.loc[list(ids)].reset_index(), weights, ids="_id")
        return neighbours
    neighbours = read_gal(weights)
    missing = sorted(set(ids) - set(neighbours))
    if missing:
        raise InputError(f"{weights}: ids not in the GAL file: {', '.join(missing[:5])}")
    extra = sorted(set(neighbours) - set(ids))
    if extra:
        raise InputError(f"{weights}: GAL ids not in {Path(path).name}: {', '.join(extra[:5])}")
    return neighbours
