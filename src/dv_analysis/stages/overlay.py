"""Another layer of the city beside domestic-violence risk: ``dv-analysis overlay``.

Reads any layer (points, addresses, a table per village or per district,
:mod:`dv_analysis.layers.any_rows`), puts it on the villages with a match report that
accounts for every row, turns it into a rate per village over the chosen quarters, and,
where a quarter's domestic-violence outputs exist in the clean folder, combines the two:
bivariate Moran's I and bivariate LISA of present risk against the layer's rate
(:mod:`dv_analysis.stats.detection.bivariate`), the co-location of the layer's hot spots
with the outreach tiers, and the layer as a covariate of the risk-factors model (04). The
same :func:`run` serves the command line and a notebook:

>>> from dv_analysis.stages.overlay import OverlayParams
>>> OverlayParams(kind="villages", count="cnt_total").kind
'villages'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis import disclosure
from dv_analysis.config import Period, Settings, window_periods
from dv_analysis.errors import ParameterError
from dv_analysis.layers import load_boundaries, load_population, population_month_for
from dv_analysis.layers.any_rows import KINDS, Columns, Located, locate_rows, match_report
from dv_analysis.stages import params as check
from dv_analysis.stats.detection.autocorrelation import gi_statistics
from dv_analysis.stats.detection.bivariate import bivariate_lisa, bivariate_moran, colocation
from dv_analysis.stats.rates import eb_rate
from dv_analysis.stats.weights import build_weights

#: The open-data table of an overlay (district level) and its data dictionary.
OPEN_DATA = "open_data/overlay_districts.csv"
OPEN_DATA_DICTIONARY = {
    "townname": "行政區",
    "exposure": "人年（依期間內各季戶籍人口，每季計四分之一年）；無日期的圖層為戶籍人口數",
    "layer_count": "圖層筆數（含只能定位到行政區的筆數；1–9 筆不公開，其餘四捨五入至 5 的倍數）",
    "layer_rate_per_1000": "圖層每千人每年筆數（以公布的四捨五入值計算；無日期的圖層為每千人筆數）",
    "dv_incidents": "家庭暴力事件數（近四季；1–9 件不公開，其餘四捨五入至 5 的倍數）",
    "dv_rate_per_1000": "家庭暴力每千人每季事件率（以公布的四捨五入值計算）",
    "*_status": "空白表示已公開；「數量過少不公開」表示 1–9 件或為保護其他數字而不公開",
}

#: The files an overlay writes into its folder.
OUTPUTS = {
    "villages": "overlay_villages.csv",
    "match": "overlay_match.json",
    "bivariate": "overlay_bivariate.csv",
    "summary": "overlay_summary.json",
    "colocation": "overlay_colocation.csv",
}


@dataclass(frozen=True)
class OverlayParams:
    """Settings of one overlay (the command line's flags, a notebook's parameters)."""

    kind: str = "addresses"  # points | addresses | villages | districts
    period: str = ""  # a quarter (the window ends there), FIRST:LAST, or '' (see docs/overlay.md)
    window: int = 12  # quarters ending at period (a dated layer); 12 = the risk model's window
    dv_period: str = ""  # the quarter of domestic-violence outputs to compare with ('' = period's)
    count: str = ""  # tables: the count column; '' = one per row
    address: str = "發生地點"  # addresses: the address column
    date: str = "發生日期"  # dated layers: ROC or ISO dates
    lon: str = "lon"  # points: longitude (WGS84)
    lat: str = "lat"  # points: latitude
    code: str = "VILLCODE"  # villages: the village code column
    district: str = "dist"  # district name column (villages, districts)
    village: str = "vil"  # village name column (villages)
    weights: str = "queen"
    permutations: int = 9999  # 999 cannot reach a BH threshold over 456 villages
    seed: int = 42
    fdr: float = 0.05  # false-discovery rate of every local claim
    target_accuracy: float = 0.9  # road-band inference: held-out accuracy a level must reach
    min_placed: float = (
        0.8  # a district's villages get a rate only if this share of its rows is placed
    )

    def __post_init__(self) -> None:
        check.one_of("kind", self.kind, KINDS)
        check.at_least("window", self.window, 1)
        check.weights(self.weights)
        check.at_least("permutations", self.permutations, 99)
        check.between("fdr", self.fdr, 0.001, 0.5)
        check.between("target_accuracy", self.target_accuracy, 0.5, 1.0)
        check.between("min_placed", self.min_placed, 0.0, 1.0)
        for p in [*self.period.split(":"), self.dv_period]:
            if p:
                Period.parse(p)

    @property
    def columns(self) -> Columns:
        names = ("count", "address", "date", "lon", "lat", "code", "district", "village")
        return Columns(**{k: getattr(self, k) for k in names})


@dataclass
class OverlayResult:
    """What :func:`run` wrote, as frames (for a notebook or the staff page)."""

    villages: pd.DataFrame
    match: dict
    bivariate: pd.DataFrame
    summary: dict
    colocation: pd.DataFrame
    districts: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _quarters(rows: pd.DataFrame, params: OverlayParams, dv: str) -> list[Period] | None:
    """The quarters the layer's rate covers (None: a layer without dates, counted whole):
    ``period`` as given; else the ``window`` quarters ending at the domestic-violence
    quarter compared with, or at the layer's last complete quarter when that is earlier
    or there is none. A quarter after the layer's last complete quarter is never used
    unasked: its data would be partial (the burglary file ends on 2022-07-29: 2022Q3 is out).
    """
    dates = rows["date"].dropna()
    if dates.empty:
        return None
    if ":" in params.period:
        first, last = (Period.parse(p) for p in params.period.split(":"))
        return window_periods(last, last.ordinal() - first.ordinal() + 1)
    if params.period:
        return window_periods(params.period, params.window)
    last = _last_complete(dates)
    end = min(Period.parse(dv), last) if dv else last
    return window_periods(end, params.window)


def _last_complete(dates: pd.Series) -> Period:
    """The last quarter the dates cover to its end."""
    last = dates.max().date()
    q = Period.of_date(last)
    return q if last >= q.end else q.previous()


def _in_window(rows: pd.DataFrame, quarters: list[Period] | None) -> tuple[pd.Series, dict]:
    """Which rows fall in the quarters, and the count of those that do not, by reason."""
    if quarters is None:
        return pd.Series(True, index=rows.index), {"window": "the whole file (no dates)"}
    q = rows["date"].map(lambda d: Period.of_date(d.date()) if pd.notna(d) else None)
    inside = q.isin(quarters)
    before = q.map(lambda p: p is not None and p < quarters[0])
    after = q.map(lambda p: p is not None and p > quarters[-1])
    last = _last_complete(rows["date"].dropna())
    info = {
        "window": f"{quarters[0]}–{quarters[-1]}",
        "last_complete_quarter": str(last),
        "in_window": int(inside.sum()),
        "before_window": int(before.sum()),
        "after_window": int(after.sum()),
        "no_date": int(q.isna().sum()),
    }
    if quarters[-1] > last:
        raise ParameterError(
            f"the window {info['window']} runs past the layer's last complete quarter {last}: "
            "its rate would count a partial quarter; choose --period up to " + str(last)
        )
    return inside, info


def _exposure(settings: Settings, quarters: list[Period] | None, dv: str) -> tuple[pd.Series, list]:
    """Person-years per village over the quarters (a quarter is a quarter of its register's
    population; quarters after the last register take the last one, said in the notes), or
    the population of one register for a layer without dates."""
    notes = []
    if quarters is None:
        when = dv or max(settings.public_months("population")).stem.rsplit("_", 1)[1]
        q = Period.parse(dv) if dv else Period(int(when[:4]), int(when[5:]) // 3)
        pop = load_population(settings, q)
        notes.append(
            f"rate per 1,000 residents of the {population_month_for(settings, q)} register"
        )
        return pop[pop["in_boundaries"]].groupby("villcode")["pop_total"].sum(), notes
    total = None
    for q in quarters:
        pop = load_population(settings, q)
        p = pop[pop["in_boundaries"]].groupby("villcode")["pop_total"].sum() / 4
        total = p if total is None else total.add(p, fill_value=0)
        month = population_month_for(settings, q)
        if month < q.end_month:
            notes.append(f"{q}: no register; the population of {month} is used")
    return total, notes


def placed_share(rows: pd.DataFrame, inside: pd.Series) -> pd.Series:
    """Per district (key), the share of its rows in the window placed on a village."""
    r = rows[inside & rows["district"].ne("")]
    return (
        r.assign(v=r["villcode"].notna() * r["n"])
        .groupby("district")[["v", "n"]]
        .sum()
        .pipe(lambda g: g["v"] / g["n"].where(g["n"] > 0))
    )


def village_table(
    settings, villages, rows, inside, quarters, dv, params
) -> tuple[pd.DataFrame, list]:
    """Count, person-years, rate (per 1,000 a year; per 1,000 residents without dates), its
    empirical-Bayes rate and the layer's own Gi* hot spots (FDR), one row per village.

    A district where fewer than ``min_placed`` of the rows are placed on a village gets no
    village rates (NaN, ``located`` False): its villages' counts would be too low by the
    rows kept at district level (the police of 中山, 松山 and 萬華 rarely name the village),
    and such villages are left out of the village-level statistics.
    """
    from dv_analysis.layers.names import district_key

    placed = rows[inside & rows["villcode"].notna()]
    count = placed.groupby("villcode")["n"].sum()
    exposure, notes = _exposure(settings, quarters, dv)
    v = villages[["villcode", "townname", "villname"]].copy()
    share = v["townname"].map(district_key).map(placed_share(rows, inside))
    v["placed_share"] = share.to_numpy()
    v["located"] = (share >= params.min_placed).to_numpy()
    v["count"] = v["villcode"].map(count).fillna(0).where(v["located"]).to_numpy()
    col = "person_years" if quarters else "population"
    v[col] = v["villcode"].map(exposure).fillna(0).to_numpy()
    e = v[col].to_numpy(float)
    v["rate"] = np.where(v["located"] & (e > 0), v["count"] / np.where(e > 0, e, 1) * 1000, np.nan)
    ok = v["located"].to_numpy()
    v["rate_eb"] = np.nan
    v.loc[ok, "rate_eb"] = eb_rate(v.loc[ok, "count"], e[ok]) * 1000
    v["gi_z"], v["gi_q"], v["gi_bin"] = np.nan, np.nan, 0
    if ok.sum() > 3:
        w, _ = build_weights(villages[ok], params.weights, ids="villcode")
        gi = gi_statistics(
            v.loc[ok, "rate_eb"], w, v.loc[ok, "villcode"], params.permutations, params.seed
        )
        v.loc[ok, ["gi_z", "gi_q", "gi_bin"]] = gi[["gi_z", "gi_q", "gi_bin"]].to_numpy()
    v["hotspot"] = v["gi_bin"] >= 2
    if not ok.all():
        left = sorted(set(v.loc[~ok, "townname"]))
        notes.append(
            f"no village rates in {', '.join(left)}: under {params.min_placed:.0%} of their rows "
            "name a village or a confident road band; compared at district level only"
        )
    return v, notes


def _dv_outputs(settings: Settings, dv: str) -> dict[str, pd.DataFrame]:
    """The quarter's domestic-violence tables the overlay reads, those that exist."""
    if not dv:
        return {}
    paths = settings.period(dv)
    names = ("village_risk", "village_priority", "village_features", "accessibility")
    return {n: pd.read_parquet(getattr(paths, n)) for n in names if getattr(paths, n).exists()}


def combine(
    villages, table: pd.DataFrame, dv: dict, params: OverlayParams
) -> tuple[pd.DataFrame, dict]:
    """Bivariate Moran's I and LISA of present domestic-violence risk (``rr_now_mean``) with
    the layer's EB rate; an empty table and a note without the risk model's output."""
    if "village_risk" not in dv:
        return pd.DataFrame(), {
            "bivariate": "no village_risk.parquet for the quarter: not computed"
        }
    risk = table[["villcode"]].merge(dv["village_risk"][["villcode", "rr_now_mean"]], how="left")
    x = risk["rr_now_mean"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(table["rate_eb"].to_numpy(float))
    if ok.sum() < 4:
        return pd.DataFrame(), {
            "bivariate": "fewer than 4 villages with a layer rate: not computed"
        }
    w, _ = build_weights(villages[ok], params.weights, ids="villcode")
    y = table["rate_eb"].to_numpy(float)[ok]
    g = bivariate_moran(x[ok], y, w, params.permutations, params.seed)
    gate = g.p_spatial if np.isfinite(g.p_spatial) else g.p_sim
    local = bivariate_lisa(
        x[ok], y, w, table["villcode"][ok], params.permutations, params.seed, params.fdr, gate
    )
    out = table.loc[ok, ["villcode", "townname", "villname"]].assign(
        dv_rr_now=x[ok], layer_rate_eb=y
    )
    out = out.merge(local.rename(columns={"id": "villcode"}), on="villcode")
    summary = {
        "x": "domestic-violence present risk (rr_now_mean)",
        "y": "the layer's EB rate in the neighbouring villages",
        "I": g.I,
        "p_sim": g.p_sim,
        "p_z_sim": g.p_z_sim,
        "p_spatial": g.p_spatial,
        "claims": "local clusters only if p_spatial <= fdr (the global gate)",
        "permutations": g.permutations,
        "villages": int(ok.sum()),
        "local_clusters": out["cluster"].value_counts().to_dict(),
        "fdr": params.fdr,
    }
    return out, summary


def covariate(table: pd.DataFrame, dv: dict) -> dict:
    """The layer's EB rate as one more covariate of the risk-factors model (04's NB model of
    incidents in the window, the same covariates): its IRR per SD with the 95 % interval,
    and the AIC with and without it."""
    if not {"village_features", "accessibility"} <= set(dv):
        return {"note": "no village_features/accessibility for the quarter: not fitted"}
    from dv_analysis.stats.regression import ACCESS_TERMS, COVARIATES, fit_count_models

    acc = dv["accessibility"].drop(columns=["townname", "villname", "pop_total"], errors="ignore")
    df = dv["village_features"].merge(acc, on="villcode")
    df["log_density"] = np.log(df["density_per_km2"].clip(lower=1))
    df = df.merge(table[["villcode", "rate_eb"]].rename(columns={"rate_eb": "layer_rate"}))
    df = df[df["layer_rate"].notna()]  # both fits on the same villages (AICs comparable)
    terms = tuple(t for t in COVARIATES + ACCESS_TERMS if t in df and df[t].notna().any())
    base = fit_count_models(df, "incidents_w", "person_quarters_w", terms)
    with_layer = fit_count_models(df, "incidents_w", "person_quarters_w", (*terms, "layer_rate"))
    row = with_layer.irr.set_index("term").loc["layer_rate"]
    return {
        "outcome": "incidents in the window (NB2, offset person-quarters)",
        "villages": int(len(df)),
        "terms": list(terms),
        "irr_per_sd": float(row["irr_per_sd"]),
        "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]),
        "p_value": float(row["p_value"]),
        "sd": float(row["sd"]),
        "aic_without": float(base.comparison["aic"].iloc[1]),
        "aic_with": float(with_layer.comparison["aic"].iloc[1]),
        "warnings": with_layer.warnings,
    }


def district_table(
    rows: pd.DataFrame, inside: pd.Series, table: pd.DataFrame, dv: dict
) -> pd.DataFrame:
    """Per district: the layer's count (rows kept at district level included), its
    exposure and rate, and domestic-violence incidents of the window where known."""
    placed = rows[inside & rows["district"].ne("")]
    count = placed.groupby("district")["n"].sum()
    from dv_analysis.layers.names import district_key

    t = table.assign(d=table["townname"].map(district_key))
    exposure = t.groupby("d")["person_years" if "person_years" in t else "population"].sum()
    out = pd.DataFrame({"district": t.groupby("d")["townname"].first()})
    out["layer_count"] = out.index.map(count).fillna(0).astype(int)
    out["exposure"] = exposure
    if "village_features" in dv:
        f = dv["village_features"][["villcode", "incidents_w", "person_quarters_w"]]
        inc = t[["villcode", "d"]].merge(f).groupby("d")
        out["dv_incidents"] = inc["incidents_w"].sum()
        out["dv_person_quarters"] = inc["person_quarters_w"].sum()
    return out.reset_index(drop=True)


def run(
    settings: Settings, path, out: Path, params: OverlayParams = OverlayParams()
) -> OverlayResult:
    """The overlay of one file: match, village table, combination; written to ``out``."""
    villages = load_boundaries(settings)
    located: Located = locate_rows(
        path, params.kind, villages, params.columns, params.target_accuracy, params.seed
    )
    rows = located.rows
    dv = params.dv_period or params.period.split(":")[-1] or _latest_dv_period(settings)
    quarters = _quarters(rows, params, dv)
    inside, window = _in_window(rows, quarters)
    table, notes = village_table(settings, villages, rows, inside, quarters, dv, params)
    outputs = _dv_outputs(settings, dv)
    if "village_risk" in outputs:
        risk = outputs["village_risk"][["villcode", "rr_now_mean"]]
        table = table.merge(risk.rename(columns={"rr_now_mean": "dv_rr_now"}), how="left")
    if "village_priority" in outputs:
        table = table.merge(outputs["village_priority"][["villcode", "tier"]], how="left")
    bivariate, bv_summary = combine(villages, table, outputs, params)
    coloc = pd.DataFrame()
    if "tier" in table:
        coloc = colocation(table["hotspot"], table["tier"]).rename(columns={"class": "tier"})
    report = match_report(located, path, params.kind) | {"period": window, "notes": notes}
    summary = {
        "dv_period": dv,
        "bivariate": bv_summary,
        "colocation": coloc.to_dict(orient="records"),
        "layer_hotspots": int(table["hotspot"].sum()),
        "covariate": covariate(table, outputs),
        "params": asdict(params),
    }
    districts = district_table(rows, inside, table, outputs)
    _write(out, table, report, bivariate, summary, coloc)
    return OverlayResult(table, report, bivariate, summary, coloc, districts, notes)


def publish(
    result: OverlayResult, out: Path, policy: disclosure.Policy = disclosure.DEFAULT_POLICY
) -> Path:
    """The district-level open data of an overlay, under the disclosure policy (counts 1–9
    withheld, others rounded to 5, rates from the rounded counts), with its dictionary."""
    d = result.districts
    cols = [c for c in ("layer_count", "dv_incidents") if c in d]
    prot = disclosure.protect(d[cols].astype(float), None, policy)
    table = prot.to_publish(d[["district"]].rename(columns={"district": "townname"}))
    table.insert(1, "exposure", d["exposure"].round(0).astype("Int64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        table["layer_rate_per_1000"] = (1000 * prot.values["layer_count"] / d["exposure"]).round(3)
        if "dv_incidents" in cols:
            pq = d["dv_person_quarters"]
            table["dv_rate_per_1000"] = (1000 * prot.values["dv_incidents"] / pq).round(3)
    return disclosure.write_public_csv(table, Path(out) / OPEN_DATA, OPEN_DATA_DICTIONARY)


def _latest_dv_period(settings: Settings) -> str:
    """The latest quarter of the clean folder with a village-risk table ('' if none)."""
    found = sorted(p.parent.name for p in settings.clean_dir.glob("*/village_risk.parquet"))
    return found[-1] if found else ""


def _write(out: Path, table, report, bivariate, summary, coloc) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / OUTPUTS["villages"], index=False, encoding="utf-8-sig")
    bivariate.to_csv(out / OUTPUTS["bivariate"], index=False, encoding="utf-8-sig")
    coloc.to_csv(out / OUTPUTS["colocation"], index=False, encoding="utf-8-sig")
    for key, obj in (("match", report), ("summary", summary)):
        text = json.dumps(_clean_json(obj), ensure_ascii=False, indent=2, default=_json)
        (out / OUTPUTS[key]).write_text(text, encoding="utf-8")


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _clean_json(o):
    """NaN and infinities as null (JSON has no NaN)."""
    if isinstance(o, dict):
        return {k: _clean_json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean_json(v) for v in o]
    if isinstance(o, (float, np.floating)) and not np.isfinite(o):
        return None
    return o
