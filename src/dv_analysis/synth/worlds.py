"""Recipes of synthetic worlds (the models the methods are judged on, unlike the shapes they
look for: ``docs/synthetic_data.md``) and their builders (generated and cleaned once under a
folder)."""

from __future__ import annotations

import numpy as np

from dv_analysis.config import RISK_WINDOW_QUARTERS, Period, Settings
from dv_analysis.errors import ParameterError
from dv_analysis.synth.truth import has_truth


def risk_world(strength: float):
    """Model of a planted world: 3 persistent clusters, 1 late one (last two quarters) and 4
    isolated villages of one ``strength``, and a cold cluster."""
    from dv_analysis.synth import ModelParams

    return ModelParams(
        cluster_types=("persistent", "persistent", "persistent", "late", "cold"),
        cluster_multipliers=(strength,) * 5,
        n_clusters=5,
        isolated_villages=4,
        isolated_multiplier=strength,
    )


#: Kinds of realistic world and their cluster strength (None: nothing rises or fades).
REALISTIC_KINDS = {"strong": 2.5, "weak": 1.8, "none": None}


def realistic_world(kind: str):
    """Model of a realistic world (``REALISTIC_KINDS``), unlike the shapes the methods look for.

    Every kind has lognormal village heterogeneity (sd 0.3), overdispersion of each
    village-quarter (lognormal sd 0.2), seasons (±8 %, peak in Q3), a city trend (+4 % a
    year), the remoteness-driven under-reporting of every world, and a police reporting
    campaign in one district over the last two quarters (+50 % reported incidents, no change
    in risk). "strong" and "weak" plant irregular clusters grown over the graph (4, 9, 12
    villages, persistent), one that ended six quarters before the end (6 villages), one that
    ramps up over the last three quarters (6 villages), a cold one, and 4 isolated
    high-risk villages, all of the kind's strength. "none" keeps two persistent clusters
    (×2) and the cold one: nothing changes but the reporting.
    """
    from dv_analysis.synth import ModelParams

    if kind not in REALISTIC_KINDS:
        raise ParameterError(f"world kind {kind!r}: one of {', '.join(REALISTIC_KINDS)}")
    common = dict(
        sd_village=0.3,
        overdispersion_sd=0.2,
        season_amplitude=0.08,
        trend_per_year=0.04,
        campaign_quarters=2,
        campaign_extra=0.5,
    )
    m = REALISTIC_KINDS[kind]
    if m is None:
        return ModelParams(
            cluster_types=("persistent", "persistent", "cold"),
            cluster_sizes=(6, 9, 6),
            cluster_multipliers=(2.0, 2.0, 0.35),
            n_clusters=3,
            **common,
        )
    return ModelParams(
        cluster_types=("persistent", "persistent", "ended", "ramp", "persistent", "cold"),
        cluster_sizes=(4, 9, 6, 6, 12, 6),
        cluster_multipliers=(m,) * 6,
        n_clusters=6,
        isolated_villages=4,
        isolated_multiplier=m,
        **common,
    )


def realistic_years(seed: int, kind: str, root, end: str = "2020Q4") -> Settings:
    """Settings of a realistic Taipei (:func:`realistic_world`) of three years ending with
    ``end`` (realistic volume) under ``root``: generated and cleaned unless it is there."""
    from pathlib import Path

    from dv_analysis.stages import clean
    from dv_analysis.synth import SynthConfig, generate

    root = Path(root)
    s = Settings.from_args(
        raw_dir=root / "raw",
        clean_dir=root / "clean",
        reports_dir=root / "reports",
        truth_dir=root / "truth",
    )
    start = str(Period.parse(end).back(RISK_WINDOW_QUARTERS - 1))
    if not has_truth(s):
        cfg = SynthConfig(start=start, end=end, seed=seed, model=realistic_world(kind))
        generate(s, cfg, progress=False)
        clean.clean_range(s, start, end, progress=False)
    return s


def planted_years(seed: int, strength: float | None, root) -> Settings:
    """Settings of a planted Taipei of three years (2018Q1–2020Q4, realistic volume) under
    ``root``: generated and cleaned unless it is there. ``strength`` None is the world with
    no change (:func:`no_change_world`), otherwise :func:`risk_world`."""
    from pathlib import Path

    from dv_analysis.stages import clean
    from dv_analysis.synth import SynthConfig, generate

    root = Path(root)
    s = Settings.from_args(
        raw_dir=root / "raw",
        clean_dir=root / "clean",
        reports_dir=root / "reports",
        truth_dir=root / "truth",
    )
    model = no_change_world() if strength is None else risk_world(strength)
    if not has_truth(s):
        generate(
            s, SynthConfig(start="2018Q1", end="2020Q4", seed=seed, model=model), progress=False
        )
        clean.clean_range(s, "2018Q1", "2020Q4", progress=False)
    return s


def no_change_world():
    """Model of a world where nothing switches on: three persistent clusters and a cold one."""
    from dv_analysis.synth import ModelParams

    return ModelParams(
        cluster_types=("persistent", "persistent", "persistent", "cold"),
        cluster_multipliers=(2.0,) * 4,
        n_clusters=4,
        isolated_villages=0,
    )


def lattice_adjacency(k: int):
    """Rook adjacency of a ``k × k`` lattice (a graph for tests and reference panels)."""
    import scipy.sparse as sp

    idx = np.arange(k * k).reshape(k, k)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    a = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(k * k, k * k))
    return ((a + a.T) > 0).astype(float).tocsr()


def spacetime_reference_panel(k: int = 15, quarters: int = 12, seed: int = 2026):
    """The seeded panel the nested-Laplace engine is checked against NUTS on
    (``benchmarks/validation/spacetime_reference.py``): a ``k × k`` lattice over ``quarters`` quarters,
    expected counts 2–15 a quarter, a smooth spatial field plus iid village effects, each
    village's random walk (sd 0.08 a step), a seasonal city level and lognormal noise (sd
    0.2). Returns (counts, expected, adjacency)."""
    rng = np.random.default_rng(seed)
    n = k * k
    a = lattice_adjacency(k)
    smooth = np.linalg.solve(
        np.diag(np.asarray(a.sum(1)).ravel() + 0.3) - a.toarray(), rng.standard_normal(n)
    )
    b = 0.35 * smooth / smooth.std() + 0.2 * rng.standard_normal(n)
    path = np.cumsum(0.08 * rng.standard_normal((n, quarters)), axis=1)
    season = 0.08 * np.cos(2 * np.pi * (np.arange(quarters) - 2) / 4)
    e = rng.uniform(2, 15, (n, 1)) * np.ones((1, quarters))
    eta = season[None] + (b - b.mean())[:, None] + path - path.mean(1, keepdims=True)
    y = rng.poisson(e * np.exp(eta + 0.2 * rng.standard_normal((n, quarters))))
    return y, e, a
