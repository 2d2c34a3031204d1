"""The responsibility areas' page (07_caseload): the map, the areas in words, the tables."""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from dv_analysis.pages import labels as L
from dv_analysis.pages.maps import frame, hatch, plot_layer

#: Share of draws in band from which an area is "steady", and under which it is "out".
STEADY, OUT = 0.8, 0.5


def area_class(share: pd.Series) -> pd.Series:
    """steady / shaky / out for each area by its share of draws inside the band."""
    return pd.Series(
        np.where(share >= STEADY, "steady", np.where(share >= OUT, "shaky", "out")),
        index=share.index,
    )


def caseload_map(villages: gpd.GeoDataFrame, table: pd.DataFrame, centres: gpd.GeoDataFrame):
    """Areas outlined and coloured by how steady their caseload is, their numbers, the
    villages whose area is uncertain hatched, the service centres as squares."""
    _, ax = plt.subplots(figsize=(6.5, 7.5))
    v = villages[["villcode", "geometry"]].merge(table, on="villcode", how="left")
    areas = v.dissolve("area_id", aggfunc={"area_share_in_band": "first"}).reset_index()
    colours = {k: c for k, (_, c) in L.CASELOAD_CLASSES.items()}
    cls = area_class(areas["area_share_in_band"])
    plot_layer(areas, ax, color=[colours[c] for c in cls], edgecolor="#555555", linewidth=0.5)
    hatch(ax, v.loc[v["uncertain"].fillna(False).astype(bool), "geometry"])
    for row in areas.itertuples():
        pt = row.geometry.representative_point()
        ax.annotate(row.area_id[1:], (pt.x, pt.y), ha="center", va="center", fontsize=4.5)
    plot_layer(centres, ax, marker="s", color="#2166ac", markersize=12, zorder=5)
    handles = [Patch(color=c, label=label) for label, c in L.CASELOAD_CLASSES.values()]
    handles += [
        Patch(facecolor="white", edgecolor="#555555", hatch="////", label=L.CASELOAD_UNCERTAIN),
        plt.Line2D([], [], marker="s", color="#2166ac", linestyle="", label=L.CASELOAD_CENTRE),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7)  # Taipei's empty corner
    frame(ax, villages, "")
    return ax


def caseload_sentences(summary: dict, villages: int) -> str:
    """The areas in plain words (zh-TW): how many, the band, how steady, travel, the
    workers a ceiling needs, the uncertain villages."""
    if summary.get("skipped"):
        return L.CASELOAD_SKIPPED
    b = summary["band"]
    n_ok = round(summary["share_in_band"] * summary["n_areas"])
    parts = [
        L.CASELOAD_SENTENCE.format(
            villages=villages,
            n=summary["n_areas"],
            mean=b["mean"],
            band=f"{b['relative']:.0%}",
            low=b["low"],
            high=b["high"],
        ),
        L.CASELOAD_STABILITY.format(draws=summary["draws"], n_ok=n_ok, n=summary["n_areas"]),
        L.CASELOAD_TRAVEL.format(
            max=summary["max_travel_min"], p95=summary["travel_p95_today_min"]
        ),
        L.CASELOAD_CEILING.format(
            ceiling=summary["ceiling"],
            needed=summary["workers_needed_at_ceiling"],
            n=summary["n_areas"],
        ),
    ]
    if summary["uncertain_villages"]:
        parts.append(L.CASELOAD_UNCERTAIN_TEXT.format(n=summary["uncertain_villages"]))
    return "\n\n".join(parts)


def area_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per area: centre, its villages by name, caseload (90 % range), the share of
    simulated quarters inside the band (never "100 %"), travel."""
    c = L.CASELOAD_COLUMNS
    rows = []
    for area, g in table.groupby("area_id", sort=True):
        first = g.iloc[0]
        w = g["village_cases_mean"].clip(lower=0) + 1e-9
        rows.append(
            {
                c["area_id"]: area,
                c["centre"]: first["centre"],
                c["villages"]: len(g),
                c["names"]: "、".join(g["townname"] + g["villname"]),
                c["expected_cases"]: f"{first['expected_cases_mean']:.1f}"
                f"（{first['expected_cases_low']:.1f}–{first['expected_cases_high']:.1f}）",
                c["share_in_band"]: L.percent(first["area_share_in_band"]),
                c["travel_min"]: int(round(float((w * g["travel_min"]).sum() / w.sum()))),
                c["travel_max_min"]: int(round(float(g["travel_min"].max()))),
            }
        )
    return pd.DataFrame(rows)


def uncertain_table(table: pd.DataFrame) -> pd.DataFrame:
    """The villages whose area is uncertain, with the area they could join."""
    u = table[table["uncertain"]]
    c = L.CASELOAD_UNCERTAIN_COLUMNS
    return pd.DataFrame(
        {c[k]: (u[k].round(1) if k == "village_cases_mean" else u[k]) for k in c}
    ).reset_index(drop=True)
