"""The early warning of ``04b_priority`` (:mod:`.priority`): the panel and the unit counts as
arrays, the Poisson CUSUM of every village's neighbourhood with data up to a quarter
(:func:`emerging_at`), and each district's reporting changes (:func:`reporting_table`).
``params`` is the stage's ``PriorityParams``. ``docs/priority.md`` says how they are read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import Period
from dv_analysis.stats.detection.early_warning import early_warning
from dv_analysis.stats.detection.reporting import district_unit_shares


def panel_arrays(panel: pd.DataFrame, ids, periods) -> tuple[np.ndarray, np.ndarray]:
    """``(T, n)`` incidents and populations of ``periods`` (rows) and ``ids`` (columns)."""
    c = panel.pivot(index="period", columns="villcode", values="incidents")
    p = panel.pivot(index="period", columns="villcode", values="pop_total")
    return (
        c.reindex(index=periods, columns=ids).fillna(0).to_numpy(float),
        p.reindex(index=periods, columns=ids).fillna(0).to_numpy(float),
    )


def unit_arrays(units: pd.DataFrame | None, ids, periods) -> np.ndarray | None:
    """``(U, T, n)`` incidents per reporting unit of ``periods`` and ``ids`` (None without)."""
    if units is None or units.empty:
        return None
    u = units[units["period"].isin(periods)]
    wide = u.pivot_table(
        index=["unit", "period"],
        columns="villcode",
        values="incidents",
        aggfunc="sum",
        fill_value=0,
    )
    names = sorted(u["unit"].unique())
    full = pd.MultiIndex.from_product([names, periods], names=["unit", "period"])
    grid = wide.reindex(index=full, columns=ids, fill_value=0).to_numpy(float)
    return grid.reshape(len(names), len(periods), len(ids))


def alarm_alpha(params) -> float:
    """The early warning's chance of a false alarm per quarterly run anywhere in the city:
    one false alarm in ``false_alarm_years`` years of four runs (SaTScan's recurrence
    interval, 1 / (runs a year × p))."""
    return 1.0 / (4.0 * params.false_alarm_years)


def emerging_at(panel, ids, neighbourhoods, upto: str, params, units=None, districts=None):
    """The early warning with data up to quarter ``upto``: villcode, emerging, rise_kind
    (risk or reporting: docs/priority.md), onset (quarter), strength, p_value, alarm, the
    village's own counts since onset. Shorter panels shrink the baseline (at least 4
    quarters); with fewer, nobody is flagged and ``available`` is False. ``units`` (the
    long table of :func:`.features.village_units`) lets it tell a reporting change."""
    periods = [p for p in sorted(panel["period"].unique()) if p <= upto]
    periods = periods[-(params.baseline + params.monitor) :]
    baseline = len(periods) - params.monitor
    out = pd.DataFrame({"villcode": ids})
    if baseline < 4:
        return out.assign(
            emerging=False,
            alarm=False,
            onset=None,
            strength=np.nan,
            p_value=np.nan,
            rise_kind="",
            rise_unit="",
            own_observed=np.nan,
            own_expected=np.nan,
            available=False,
        )
    counts, pop = panel_arrays(panel, ids, periods)
    seed = params.seed + Period.parse(upto).ordinal()
    ew = early_warning(
        counts,
        pop,
        neighbourhoods,
        baseline=baseline,
        k=params.rise,
        alpha=alarm_alpha(params),
        simulations=params.alarm_simulations,
        seed=seed,
        units=unit_arrays(units, ids, periods),
        districts=districts,
    )
    monitored = periods[baseline:]
    ew["onset"] = [monitored[o] if o >= 0 else None for o in ew["onset"]]
    names = sorted(units["unit"].unique()) if units is not None and not units.empty else []
    ew["rise_unit"] = [names[u] if u >= 0 else "" for u in ew["rise_unit"]]
    return pd.concat([out, ew], axis=1).assign(available=True)


def reporting_table(panel, units, villages, upto: str, params, city: str) -> pd.DataFrame:
    """Each district, reporting unit and monitored quarter up to ``upto``: the unit's
    incidents against what the district's other units predict at its baseline share, the
    one-sided p-value of its share, and whether it is a reporting change
    (:func:`stats.detection.reporting.district_unit_shares`, the test the early warning
    takes campaigns out with). Empty without unit counts or with too short a panel."""
    cols = ["towncode", "district", "unit", "period", "observed", "predicted", "p_value"]
    periods = [p for p in sorted(panel["period"].unique()) if p <= upto]
    periods = periods[-(params.baseline + params.monitor) :]
    baseline = len(periods) - params.monitor
    ids = villages["villcode"].to_numpy()
    grid = unit_arrays(units, ids, periods)
    if grid is None or baseline < 4:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols}).assign(
            changed=pd.Series(dtype=bool)
        )
    ratio = (params.rise - 1.0) / np.log(params.rise)
    sh = district_unit_shares(grid, villages["towncode"].to_numpy(), baseline, ratio)
    names = np.asarray(sorted(units["unit"].unique()))
    label = layers.district_label(villages, city)
    label = pd.Series(label.to_numpy(), index=villages["towncode"].to_numpy()).groupby(level=0)
    u, t, k = np.meshgrid(
        np.arange(len(names)),
        np.arange(baseline, len(periods)),
        np.arange(len(sh["districts"])),
        indexing="ij",
    )
    u, t, k = u.ravel(), t.ravel(), k.ravel()
    return pd.DataFrame(
        {
            "towncode": sh["districts"][k],
            "district": label.first().reindex(sh["districts"][k]).to_numpy(),
            "unit": names[u],
            "period": np.asarray(periods)[t],
            "observed": sh["observed"][u, t, k],
            "predicted": sh["predicted"][u, t, k],
            "p_value": sh["p_value"][u, t, k],
            "changed": sh["changed"][u, t, k],
        }
    )
