"""The service plan's page (06_service_plan): the map, the plan in words, the tables."""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from dv_analysis.pages import labels as L
from dv_analysis.pages.maps import frame, plot_layer


def reach_classes(reach: pd.DataFrame) -> pd.Series:
    """before / new / none for each village (reached by today's sites, only by the plan, not)."""
    return pd.Series(
        np.where(
            reach["reached_before"], "before", np.where(reach["reached_after"], "new", "none")
        ),
        index=reach.index,
    )


def plan_map(villages: gpd.GeoDataFrame, reach: pd.DataFrame, sites: pd.DataFrame, title: str):
    """Villages coloured by reach; existing sites; proposed sites sized by how often chosen."""
    _, ax = plt.subplots(figsize=(6.5, 7.5))
    cls = reach_classes(reach.set_index("villcode").reindex(villages["villcode"]).reset_index())
    plot_layer(
        villages, ax, color=[L.PLAN_REACH[c][1] for c in cls], edgecolor="white", linewidth=0.2
    )
    pts = gpd.GeoDataFrame(sites, geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326)
    pts = pts.to_crs(villages.crs)
    old, new = (
        pts[pts["kind"] == "existing"],
        pts[(pts["kind"] == "candidate") & (pts["chosen_share"] > 0)],
    )
    plot_layer(old, ax, marker="s", color="#2166ac", markersize=14, zorder=5)
    plot_layer(
        new, ax, marker="*", color="#b2182b", markersize=40 + 260 * new["chosen_share"], zorder=6
    )
    handles = [Patch(color=c, label=label) for label, c in L.PLAN_REACH.values()]
    handles += [
        plt.Line2D(
            [], [], marker="s", color="#2166ac", linestyle="", label=L.PLAN_SITES["existing"]
        ),
        plt.Line2D(
            [],
            [],
            marker="*",
            color="#b2182b",
            linestyle="",
            markersize=10,
            label=L.PLAN_SITES["proposed"],
        ),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    frame(ax, villages, title)
    return ax


def plan_sentences(summary: dict) -> str:
    """The plan in plain words (zh-TW): the sites, the excess they add, tier-2 villages
    newly reached, how stable the choice is, tier-2 villages still out of reach."""
    if summary.get("skipped"):
        return L.PLAN_SKIPPED
    return _no_sites_note(summary) + _plan_text(summary)


def _no_sites_note(summary: dict) -> str:
    """For a city the public layers hold no centres of (only Taipei's are there)."""
    own = summary.get("parameters", {}).get("candidates")
    return L.PLAN_NO_SITES + "\n\n" if summary.get("existing_sites") == 0 and not own else ""


def _plan_text(summary: dict) -> str:
    """The plan's sentences (see :func:`plan_sentences`)."""
    g, minutes = summary["covered_excess_gain"], summary["threshold_min"]
    if not summary["new_sites"] or g["high"] < 0.5:
        text = L.PLAN_NOTHING.format(minutes=minutes, mean=g["mean"])
    else:
        text = L.PLAN_SENTENCE.format(
            n=len(summary["new_sites"]),
            names="、".join(summary["new_site_names"]),
            mean=g["mean"],
            low=g["low"],
            high=g["high"],
            tier2=summary["tier2_newly_reached"],
            minutes=minutes,
        )
        text += "\n\n" + L.PLAN_STABILITY.format(
            draws=summary["draws"], share=L.percent(summary["most_frequent_share"])
        )
    if summary["tier2_unreached"]:
        text += "\n\n" + L.PLAN_UNREACHED.format(n=summary["tier2_unreached"], minutes=minutes)
    return text + _alternative_sentences(summary)


def _alternative_sentences(summary: dict) -> str:
    """The LSCP's count of sites for every tier-2 village, and the p-median's sites and
    trips (zh-TW); empty for a summary written before they were computed."""
    text, minutes = "", summary["threshold_min"]
    if "lscp" in summary:
        n = summary["lscp"]["new_sites_needed"]
        line = (
            L.PLAN_LSCP.format(minutes=minutes, n=n)
            if n
            else L.PLAN_LSCP_NONE.format(minutes=minutes)
        )
        text += "\n\n" + line
    trips = summary.get("mean_minutes", {})
    if "p_median" in summary and trips.get("today") is not None:
        text += "\n\n" + L.PLAN_P_MEDIAN.format(
            names="、".join(summary["p_median"]["new_site_names"]),
            today=trips["today"],
            plan=trips["plan"],
            pm=trips["p_median"],
        )
    return text


def site_table(sites: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The candidates chosen in any draw, most often first."""
    c = sites[(sites["kind"] == "candidate") & (sites["chosen_share"] > 0)]
    c = c.sort_values(["chosen_share", "covered_excess_mean"], ascending=False).head(top)
    out = pd.DataFrame(
        {
            L.SITE_COLUMNS["name"]: c["name"],
            L.SITE_COLUMNS["source"]: c["source"].map(L.SITE_SOURCES),
            L.SITE_COLUMNS["chosen_share"]: c["chosen_share"].map(L.percent),
            L.SITE_COLUMNS["covered_excess_mean"]: c["covered_excess_mean"].round(1),
        }
    )
    return out.reset_index(drop=True)


def staff_table(staff: pd.DataFrame) -> pd.DataFrame:
    """Social workers per district: today's (when given), the two proposals with their
    90 % ranges, and the demand behind them."""
    s = L.STAFF_COLUMNS
    out = pd.DataFrame({s["townname"]: staff["townname"]})
    if staff["staff_today"].notna().any():
        out[s["staff_today"]] = staff["staff_today"].astype("Int64")
    out[s["staff_proposed"]] = [
        f"{p}（{lo}–{hi}）"
        for p, lo, hi in zip(
            staff["staff_proposed"], staff["staff_low"], staff["staff_high"], strict=True
        )
    ]
    out[s["staff_by_excess"]] = [
        f"{p}（{lo}–{hi}）"
        for p, lo, hi in zip(
            staff["staff_by_excess"],
            staff["staff_by_excess_low"],
            staff["staff_by_excess_high"],
            strict=True,
        )
    ]
    out[s["expected_mean"]] = staff["expected_mean"].round(1)
    out[s["excess_mean"]] = staff["excess_mean"].round(1)
    return out
