"""Stage of ``05_report``: the open-data tables, through the disclosure policy.

Everything written under ``reports/<period>/public/`` goes through
:mod:`dv_analysis.disclosure`; nothing here takes a case-level table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis import disclosure
from dv_analysis.config import Period, PeriodPaths
from dv_analysis.stages import params as check

VILLAGE_COUNTS = ("incidents_q", "notifications_q", "victims_q", "incidents_w")
VILLAGE_DICTIONARY = {
    "villcode": "村里代碼（內政部 11 碼）",
    "townname": "行政區",
    "villname": "里",
    "incidents_q": "本季家庭暴力事件數（同一被害人、同一類型 14 天內多次通報計為一起；四捨五入至 5 的倍數）",
    "notifications_q": "本季通報件數（四捨五入至 5 的倍數）",
    "victims_q": "本季被害人數（四捨五入至 5 的倍數）",
    "incidents_w": "近四季事件數（四捨五入至 5 的倍數）",
    "rate_incidents_w": "近四季每千人每季事件率（以公布的四捨五入值計算；數量過少時不公開）",
    "gi_bin": "Gi* 熱點等級：3/2/1 為 99%/95%/90% 信心熱點，-1/-2/-3 為冷點，0 為不顯著",
    "*_status": "空白表示已公開；「數量過少不公開」表示 1–9 件或為保護其他數字而不公開；「無資料」表示缺值",
}
DISTRICT_DICTIONARY = {
    "townname": "行政區",
    "pop_total": "人口（戶政司，季末）",
    "incidents_q": "本季事件數（由各里四捨五入值加總）",
    "notifications_q": "本季通報件數（由各里四捨五入值加總）",
    "victims_q": "本季被害人數（由各里四捨五入值加總）",
    "incidents_w": "近四季事件數（由各里四捨五入值加總）",
    "rate_incidents_w": "近四季每千人每季事件率（以公布的四捨五入值計算）",
    "*_status": "空白表示已公開；「數量過少不公開」表示不公開",
}
#: The cross-tables of who is affected: name → (row, column) of the notifications. Their
#: zh-TW titles are ``pages.labels.AFFECTED_TABLES``, keyed alike (checked by a test).
AFFECTED_CROSSES: dict[str, tuple[str, str]] = {
    "sex": ("victim_sex", "case_type"),
    "age": ("age_group", "case_type"),
    "relationship": ("relationship", "case_type"),
    "channel": ("reporter_unit", "townname"),
    "sex_district": ("victim_sex", "townname"),
}
KPI_DICTIONARY = {
    "level": "層級：city 全市、district 行政區",
    "area": "行政區（全市為 city）",
    "period": "季別",
    "kpi": "指標代碼（定義見 docs/kpi.md）：renotified_3m/12m 3/12 個月內再通報、repeat_victims 曾被通報過的被害人、"
    "days_to_notification_median/mean 事件到通報天數、channel_* 通報來源比例、opened 開案比例、"
    "victims_female 女性被害人比例、victims_age_* 被害人年齡組比例",
    "value": "指標值（比例為 0–1；天數為天）",
    "low": "90% 可能範圍下限（比例：Wilson 區間；平均：t 區間；中位數：bootstrap 百分位區間）",
    "high": "90% 可能範圍上限",
    "base_count": "計算的人數或件數（四捨五入至 5 的倍數；少於 10 不公開）",
    "status": "空白表示已公開；「數量過少不公開」表示基數少於 10，或比例所代表的人數為 1–9",
}
TREND_DICTIONARY = {
    "townname": "行政區",
    "incidents_*": "該季事件數（1–9 件不公開，其餘四捨五入至 5 的倍數）",
}


def open_data(
    features: pd.DataFrame,
    hotspots: pd.DataFrame | None,
    policy: disclosure.Policy = disclosure.DEFAULT_POLICY,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Village and district open-data tables, disclosure-controlled; and the secondary-suppression log."""
    keys = features[["villcode", "townname", "villname"]].reset_index(drop=True)
    counts = features[list(VILLAGE_COUNTS)].reset_index(drop=True)
    groups = keys["townname"]
    prot = disclosure.protect(counts, groups, policy)
    villages = prot.to_publish(keys)
    pop_w = features["person_quarters_w"].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        villages["rate_incidents_w"] = (1000 * prot.values["incidents_w"] / pop_w).round(3)
    if hotspots is not None:
        villages["gi_bin"] = (
            keys[["villcode"]]
            .merge(hotspots[["villcode", "gi_bin"]], on="villcode", how="left")["gi_bin"]
            .astype("Int64")
        )
    tot = disclosure.totals(prot, groups)
    districts = tot.to_publish(
        pd.DataFrame({"townname": tot.values.index}, index=tot.values.index)
    ).reset_index(drop=True)
    pop = features.groupby("townname")["pop_total"].sum()
    districts.insert(1, "pop_total", districts["townname"].map(pop).astype(int))
    return villages, districts, prot.log


#: Age groups of victims (lower bound inclusive, upper exclusive) and their codes.
AGE_GROUPS: tuple[tuple[float, float, str], ...] = (
    (0, 12, "0-11"),
    (12, 18, "12-17"),
    (18, 30, "18-29"),
    (30, 45, "30-44"),
    (45, 65, "45-64"),
    (65, 200, "65+"),
)
UNKNOWN = "unknown"


def age_group(age: pd.Series) -> pd.Series:
    """The :data:`AGE_GROUPS` code of each age (``unknown`` when missing)."""
    out = pd.Series(UNKNOWN, index=age.index, dtype=object)
    for lo, hi, code in AGE_GROUPS:
        out[(age >= lo) & (age < hi)] = code
    return out


def affected_table(notifications: pd.DataFrame) -> pd.DataFrame:
    """Notifications of a quarter counted by who is affected and who reported (long form).

    Tables (``table``): ``sex`` (victim sex × case type), ``age`` (age group × case
    type), ``relationship`` (× case type), ``channel`` (reporting unit × district) and
    ``sex_district`` (victim sex × district). Columns ``table``, ``row``, ``column``,
    ``count``; every table sums to the number of notifications.
    """
    n = notifications.assign(
        victim_sex=notifications["victim_sex"].replace("", UNKNOWN).fillna(UNKNOWN),
        relationship=notifications["relationship"].replace("", UNKNOWN).fillna(UNKNOWN),
        reporter_unit=notifications["reporter_unit"].replace("", UNKNOWN).fillna(UNKNOWN),
        age_group=age_group(notifications["victim_age"]),
    )
    frames = []
    for name, (row, col) in AFFECTED_CROSSES.items():
        c = n.groupby([row, col]).size().rename("count").reset_index()
        frames.append(c.rename(columns={row: "row", col: "column"}).assign(table=name))
    out = pd.concat(frames, ignore_index=True)[["table", "row", "column", "count"]]
    return out.astype({"row": str, "column": str, "count": int})


def trend_table(settings, period) -> pd.DataFrame:
    """Incidents per quarter, district and case type, for every quarter up to ``period``
    with clean tables (columns ``period``, ``townname``, ``case_type``, ``incidents``)."""
    from dv_analysis import layers
    from dv_analysis.config import FIRST_REGISTER_QUARTER, Period, period_range

    b = layers.load_boundaries(settings)
    # county + district for all of Taiwan, where district names repeat (中正區)
    towns = layers.district_label(b, settings.city).set_axis(b["villcode"])
    rows = []
    for q in period_range(FIRST_REGISTER_QUARTER, Period.parse(period)):
        f = settings.period(q).incidents
        if not f.exists():
            continue
        inc = pd.read_parquet(f, columns=["villcode", "case_type"])
        c = (
            inc.assign(townname=inc["villcode"].map(towns))
            .groupby(["townname", "case_type"])
            .size()
        )
        rows.append(c.rename("incidents").reset_index().assign(period=str(q)))
    if not rows:
        return pd.DataFrame(columns=["period", "townname", "case_type", "incidents"])
    return pd.concat(rows, ignore_index=True)[["period", "townname", "case_type", "incidents"]]


def write_aggregates(paths: PeriodPaths, quarters: int = 8, seed: int = 0) -> list:
    """The report's own aggregates of the clean tables: ``trends.parquet``, ``kpi.parquet``
    (the last ``quarters`` quarters; ``seed`` of its bootstrap), ``affected.parquet``."""
    from dv_analysis import layers
    from dv_analysis.stages.kpi import kpi_table

    trend_table(paths.settings, paths.period).to_parquet(paths.trends, index=False)
    kpi_table(paths.settings, paths.period, quarters, seed).to_parquet(paths.kpi, index=False)
    notes = pd.read_parquet(
        paths.notifications,
        columns=["victim_sex", "victim_age", "relationship", "reporter_unit", "case_type",
                 "villcode"],
    )  # fmt: skip
    b = layers.load_boundaries(paths.settings)
    label = layers.district_label(b, paths.settings.city).set_axis(b["villcode"])
    # the district as the tables name it (county + district for all of Taiwan)
    notes["townname"] = notes.pop("villcode").map(label)
    affected_table(notes).to_parquet(paths.affected, index=False)
    return [paths.trends, paths.kpi, paths.affected]


@dataclass(frozen=True)
class ReportParams:
    """Settings of the report stage (the ``parameters`` cell of ``05_report``)."""

    public_level: str = "district"  # public tier: district or village (docs/reports.md)
    trend_quarters: int = 8  # quarters of the district trends (staff and public pages)

    def __post_init__(self):
        check.one_of("public_level", self.public_level, PUBLIC_LEVELS)
        check.at_least("trend_quarters", self.trend_quarters, 1)


PUBLIC_LEVELS = ("district", "village")


def district_trends_public(
    trends: pd.DataFrame, period, quarters: int, policy: disclosure.Policy
) -> pd.DataFrame:
    """Incidents per district over the last ``quarters`` quarters, disclosure-controlled
    (counts 1–9 withheld, the rest rounded): ``townname`` and one column per quarter."""
    wide = trends.pivot_table(index="townname", columns="period", values="incidents", aggfunc="sum")
    cols = [c for c in sorted(wide.columns) if c <= str(period)][-quarters:]
    prot = disclosure.protect(wide[cols].fillna(0), None, policy)
    out = prot.values.astype("Int64").reset_index()
    return out.rename(columns={c: f"incidents_{c}" for c in cols})


@dataclass(frozen=True)
class Published:
    """The disclosure-controlled tables :func:`run` published, for the public page."""

    period: Period
    villages: pd.DataFrame | None  # None at the default district level
    districts: pd.DataFrame
    trends: pd.DataFrame
    written: list  # files written so far
    read: dict = field(default_factory=dict)  # the period's tables run read, for load_inputs


def run(
    paths: PeriodPaths,
    params: ReportParams = ReportParams(),
    policy: disclosure.Policy = disclosure.DEFAULT_POLICY,
) -> Published:
    """Write the report's aggregates and ``public/open_data/``; the published tables for
    the public page (:func:`write_public_page` writes it).

    The public tier is district-level unless ``params.public_level`` is ``village``:
    then the village table and map are published too (a deliberate choice, recorded in
    the manifest; the audit fails on village rows in ``public/`` otherwise).
    """
    written = write_aggregates(
        paths, params.trend_quarters
    )  # params.public_level checked when params were made
    feats = pd.read_parquet(paths.village_features)
    hot = _table(paths.hotspots)
    villages, districts, _ = open_data(feats, hot, policy)
    pq = feats.groupby("townname")["person_quarters_w"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        districts["rate_incidents_w"] = (
            1000 * districts["incidents_w"].astype(float) / districts["townname"].map(pq)
        ).round(3)
    trend_table = pd.read_parquet(paths.trends)
    trends = district_trends_public(trend_table, paths.period, params.trend_quarters, policy)
    out = paths.open_data
    written += [
        disclosure.write_public_csv(districts, out / "districts.csv", DISTRICT_DICTIONARY),
        disclosure.write_public_csv(trends, out / "district_trends.csv", TREND_DICTIONARY),
    ]
    kpi = pd.read_parquet(paths.kpi)
    public_kpi = disclosure.protect_estimates(kpi, ~kpi["kpi"].str.startswith("days_"), policy)
    written.append(disclosure.write_public_csv(public_kpi, out / "kpi.csv", KPI_DICTIONARY))
    village_level = params.public_level == "village"
    if village_level:
        written.append(
            disclosure.write_public_csv(villages, out / "villages.csv", VILLAGE_DICTIONARY)
        )
    read = {"features": feats, "trends": trend_table}
    return Published(
        paths.period, villages if village_level else None, districts, trends, written, read
    )


def write_public_page(paths: PeriodPaths, page: str, figure) -> list:
    """Write ``public/index.html``, its map (PNG) and, beside the map,
    ``<png>.data.csv``: exactly what the map shows, for the audit. ``figure`` is the
    (matplotlib figure, shown table) pair of :func:`dv_analysis.pages.public_page.public_page`."""
    import matplotlib.pyplot as plt

    fig, shown = figure
    png = paths.public_map
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    data = png.with_name(png.name + ".data.csv")
    shown.to_csv(data, index=False, encoding="utf-8-sig")
    index = paths.public / "index.html"
    index.write_text(page, encoding="utf-8")
    return [png, data, index]


@dataclass(frozen=True)
class ReportInputs:
    """The period's aggregate outputs the report page shows, read once by
    :func:`load_inputs` and handed to :mod:`dv_analysis.pages.front_page` (which reads no file).
    An output of a notebook that did not run is ``None``."""

    period: Period
    features: pd.DataFrame  # village_features
    panel: pd.DataFrame  # village_panel
    trends: pd.DataFrame  # trends (city and districts per quarter and case type)
    affected: pd.DataFrame  # who is affected (aggregate cross-tables)
    open_districts: pd.DataFrame  # public/open_data/districts.csv as published
    priority: pd.DataFrame | None  # village_priority (04b)
    risk: pd.DataFrame | None  # village_risk (03b)
    emerging: pd.DataFrame | None  # emerging_hotspots (03)
    blind_spots: pd.DataFrame | None  # blind_spots (04)
    priority_summary: dict | None
    hotspot_summary: dict | None
    risk_summary: dict | None
    kpi: pd.DataFrame | None = None  # the centre's KPIs (kpi.parquet; docs/kpi.md)
    data_quality: pd.DataFrame | None = None  # per reporting unit and quarter (01's table)


def load_inputs(paths: PeriodPaths, published: Published | None = None) -> ReportInputs:
    """Read what the report page shows (after :func:`run` has written the open data); the
    tables ``published`` (what :func:`run` returned) already read are not read again."""
    read = published.read if published is not None else {}
    return ReportInputs(
        period=paths.period,
        features=read["features"] if read else pd.read_parquet(paths.village_features),
        panel=pd.read_parquet(paths.village_panel),
        trends=read["trends"] if read else pd.read_parquet(paths.trends),
        affected=pd.read_parquet(paths.affected),
        open_districts=pd.read_csv(
            paths.open_data / "districts.csv",
            encoding="utf-8-sig",
            dtype=str,
            keep_default_na=False,
        ),
        priority=_table(paths.village_priority),
        risk=_table(paths.village_risk),
        emerging=_table(paths.emerging_hotspots),
        blind_spots=_table(paths.blind_spots),
        priority_summary=_json(paths.priority_summary),
        hotspot_summary=_json(paths.hotspot_summary),
        risk_summary=_json(paths.risk_summary),
        kpi=_table(paths.kpi),
        data_quality=_table(paths.data_quality),
    )


def _table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
