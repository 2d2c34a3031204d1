"""The one zh-TW vocabulary of every page: labels, category order and colours, as rows.

Every Traditional Chinese word a page shows for a code, a category or a column comes
from here; pages look things up, they do not spell them. This module imports nothing
from the package, so any layer may read it.
"""

from __future__ import annotations


def percent(p: float | None) -> str:
    """A probability in words that never claims certainty: "> 99%" and "< 1%" at the ends
    (a model's 0.996 is not 100 %), whole percents between, "—" when missing."""
    try:
        p = float(p)  # type: ignore[arg-type]
    except TypeError:  # None, pandas' NA
        return "—"
    if p != p or p in (float("inf"), float("-inf")):  # NaN or infinite
        return "—"
    if p > 0.99:
        return "> 99%"
    if p < 0.01:
        return "< 1%"
    return f"{p:.0%}"


# --- Gi* confidence bins: (bin, label, colour), hot to cold ----------------------------
GI_BINS: tuple[tuple[int, str, str], ...] = (
    (3, "熱點 99%", "#b2182b"),
    (2, "熱點 95%", "#ef8a62"),
    (1, "熱點 90%", "#fddbc7"),
    (0, "不顯著", "#f0f0f0"),
    (-1, "冷點 90%", "#d1e5f0"),
    (-2, "冷點 95%", "#67a9cf"),
    (-3, "冷點 99%", "#2166ac"),
)
GI_BIN_LABELS = {b: label for b, label, _ in GI_BINS}
GI_COLORS = {b: colour for b, _, colour in GI_BINS}

# --- local Moran clusters: (code, label, colour), in legend order ----------------------
LISA: tuple[tuple[str, str, str], ...] = (
    ("HH", "高-高（熱區）", "#d7191c"),
    ("HL", "高-低（孤立高值）", "#fdae61"),
    ("LH", "低-高", "#abd9e9"),
    ("LL", "低-低（冷區）", "#2c7bb6"),
    ("ns", "不顯著", "#f0f0f0"),
)
LISA_LABELS = {code: label for code, label, _ in LISA}
LISA_COLORS = {code: colour for code, _, colour in LISA}

# --- emerging hot/cold spots: (category, label, side); colours by side and rank --------
EMERGING: tuple[tuple[str, str, str], ...] = (
    ("new hot spot", "新熱點", "hot"),
    ("consecutive hot spot", "連續熱點", "hot"),
    ("intensifying hot spot", "增強熱點", "hot"),
    ("persistent hot spot", "持續熱點", "hot"),
    ("diminishing hot spot", "減弱熱點", "hot"),
    ("sporadic hot spot", "零星熱點", "hot"),
    ("oscillating hot spot", "振盪熱點", "hot"),
    ("historical hot spot", "歷史熱點", "hot"),
    ("new cold spot", "新冷點", "cold"),
    ("consecutive cold spot", "連續冷點", "cold"),
    ("intensifying cold spot", "增強冷點", "cold"),
    ("persistent cold spot", "持續冷點", "cold"),
    ("diminishing cold spot", "減弱冷點", "cold"),
    ("sporadic cold spot", "零星冷點", "cold"),
    ("oscillating cold spot", "振盪冷點", "cold"),
    ("historical cold spot", "歷史冷點", "cold"),
    ("no pattern", "無明顯型態", "none"),
)
EMERGING_LABELS = {cat: label for cat, label, _ in EMERGING}
#: Emerging categories the quarterly highlights mention, in that order.
EMERGING_HIGHLIGHTS = (
    "new hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "diminishing hot spot",
)

# --- Kulldorff scan ---------------------------------------------------------------------
SCAN_COLUMNS = {
    "cluster": "群聚",
    "kind": "類型",
    "n_areas": "里數",
    "centre": "中心",
    "observed": "觀察事件",
    "expected": "期望事件",
    "relative_risk": "相對風險",
    "llr": "對數概似比",
    "p_value": "p 值",
    "significant": "顯著",
    "radius_m": "半徑（公尺）",
}

SCAN_KINDS = {"most likely": "最可能的群聚", "secondary": "次要群聚"}
YES_NO = {True: "是", False: "否"}

# --- counts shown to staff and the public ----------------------------------------------
COUNT_LABELS = {
    "townname": "行政區",
    "pop_total": "人口",
    "notifications_q": "本季通報",
    "incidents_q": "本季事件",
    "victims_q": "本季被害人",
}
#: The window's incidents as the public tables name them.
PUBLIC_COUNT_LABELS = {**COUNT_LABELS, "incidents_w": "近四季事件"}
DISTRICT_TABLE_LABELS = {
    **COUNT_LABELS,
    "villages": "里數",
    "incidents_w": "近期事件（視窗）",
    "rate_incidents_w": "每千人每季事件率（視窗）",
}
#: Village covariates summarised on the features page: column → label.
COVARIATE_SUMMARY = {
    "low_income_per_1000": "低收入（每千人）",
    "disabled_per_1000": "身障（每千人）",
    "divorces_per_1000": "離婚（每千人，視窗）",
    "share_over_64": "65 歲以上比例",
    "density_per_km2": "人口密度（每平方公里）",
}

# --- risk models ----------------------------------------------------------------------
#: Model terms → label (the IRR tables).
TERM_LABELS = {
    "const": "常數",
    "low_income_per_1000": "低收入人口比例",
    "disabled_per_1000": "身障人口比例",
    "divorces_per_1000": "離婚率",
    "share_over_64": "65 歲以上比例",
    "log_density": "人口密度（對數）",
    "access_index": "交通與服務不便指數",
}
#: Outcome columns of the risk models → case type.
OUTCOME_LABELS = {
    "incidents_w": "全部事件",
    "incidents_ipv_w": "親密關係暴力",
    "incidents_child_w": "兒少保護",
    "incidents_elder_w": "老人虐待",
    "incidents_other_w": "其他家庭成員暴力",
}
COUNT_MODEL_LABELS = {"poisson": "Poisson", "nb2": "負二項 (NB2)"}
DISPERSION_MEANING = {
    "poisson": "Pearson χ²/df（>1 表示過度離散）",
    "nb2": "NB alpha（0 即 Poisson）",
}
PREDICTION_MODEL_LABELS = {
    "naive": "naive（上一季）",
    "poisson_glm": "Poisson GLM",
    "gbm": "梯度提升 (Poisson)",
}
IRR_COLUMNS = {
    "outcome": "案件類型",
    "label": "因素",
    "irr_per_sd": "IRR（每標準差）",
    "ci_low": "95% 下限",
    "ci_high": "95% 上限",
    "p_value": "p 值",
}
COMPARISON_COLUMNS = {
    "outcome": "案件類型",
    "model": "模型",
    "aic": "AIC",
    "dispersion": "離散度",
    "dispersion_meaning": "說明",
    "residual_moran": "殘差 Moran I",
}
PREDICTION_COLUMNS = {
    "model": "模型",
    "mae": "平均絕對誤差",
    "rmse": "均方根誤差",
    "poisson_deviance": "Poisson 偏差",
}
HARD_TO_REACH_HOT_COLUMNS = {
    "townname": "行政區",
    "villname": "里",
    "rate_eb": "EB 事件率",
    "access_index": "不便指數",
    "dist_metro_station_m": "最近捷運站（公尺）",
}

# --- accessibility layers (the coverage note) -------------------------------------------
ACCESS_LAYER_LABELS = {
    "metro_station": "捷運站",
    "metro_exit": "捷運出口",
    "bus_stop": "公車站",
    "youbike": "YouBike",
    "police": "警察機關",
    "welfare": "社會福利機構",
    "medical": "醫療院所",
}

# --- cleaning: where rows went ----------------------------------------------------------
QUARANTINE_REASONS = {
    "missing_notification_id": "通報編號空白",
    "bad_notification_date": "通報日期無法解讀",
    "unknown_case_type": "案件類型無法對應",
    "conflicting_id": "同一通報編號內容不一致",
    "outside_period": "通報日期不在本期",
    "out_of_area": "發生地不在本市",
    "retired_village_code": "村里代碼不在村里界圖中（村里已調整），且無其他定位資訊",
    "unlocatable": "無法定位村里",
}
DUPLICATE_REASONS = {
    "exact": "同檔重複列",
    "cross_file": "跨檔重複",
    "previous_period": "上期已匯出",
}
LOCATE_METHODS = {"code": "村里代碼", "names": "區名＋里名", "xy": "座標"}

# --- village risk (BYM2) ----------------------------------------------------------------
#: Relative-risk classes of the risk map: (upper bound, label, colour), low to high.
RISK_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.8, "低於平均 20% 以上", "#4393c3"),
    (1.0, "略低於平均", "#d1e5f0"),
    (1.25, "略高於平均", "#fddbc7"),
    (1.5, "高 25–50%", "#f4a582"),
    (2.0, "高 50–100%", "#d6604d"),
    (float("inf"), "高於平均一倍以上", "#b2182b"),
)
#: How sure: P(RR > 1) classes, (upper bound, label, colour).
PROBABILITY_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.1, "很可能低於平均（< 10%）", "#2166ac"),
    (0.5, "可能低於平均（10–50%）", "#d1e5f0"),
    (0.9, "可能高於平均（50–90%）", "#fddbc7"),
    (1.01, "很可能高於平均（≥ 90%）", "#b2182b"),
)
#: The same classes for P(RR > 1.5): how sure we are that a village's risk is half again the
#: city's (the P(RR > 1) words, "above average", would overstate it).
PROBABILITY_1_5_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.1, "不太可能高出 50%（< 10%）", "#f7f7f7"),
    (0.5, "有些可能（10–50%）", "#fddbc7"),
    (0.9, "可能高出 50%（50–90%）", "#ef8a62"),
    (1.01, "很可能高出 50%（≥ 90%）", "#b2182b"),
)
UNCERTAIN_LABEL = "斜線：90% 區間包含全市平均（不確定）"
RISK_TABLE_COLUMNS = {
    "townname": "行政區",
    "villname": "里",
    "observed": "近 {quarters} 季事件",
    "expected": "依人口預期",
    "rr_now": "目前相對風險（90% 區間）",
    "p_now_exceed_1": "目前高於全市平均的機率",
    "p_now_exceed_1_5": "目前高出 50% 以上的機率",
    "trend": "一年來趨勢",
    "next_expected": "下一季預期事件",
    "next_range": "下一季 90% 預測範圍",
}
#: The space-time model's trend codes as ``village_risk.trend`` holds them (03b).
TREND_LABELS = {"rising": "上升", "level": "持平", "falling": "下降", "unknown": "資料不足"}
#: The same in words for a sentence.
TREND_WORDS = {"上升": "上升", "持平": "大致持平", "下降": "下降", "資料不足": "趨勢資料不足"}

# --- the outreach list (04b_priority) -------------------------------------------------------
TIER_LABELS = {2: "優先關注", 1: "留意", 0: "一般"}
#: What sets a village apart, in words: the numbers are in the table's own columns (risk,
#: its probability, next quarter's count), so the reasons do not repeat them (issue 39).
REASONS = {
    "risk_clear": "風險明顯高於全市",
    "risk_likely": "風險可能高於全市",
    "rising": "近一年上升（上升的機率 {p}）",
    "falling": "近一年下降（上升的機率 {p}），暫不列優先關注",
    "emerging": "鄰近地區自 {onset} 起升高；本里自那時起事件為過去水準的 {oe:.1f} 倍"
    "（90% 可能範圍 {lo:.1f}–{hi:.1f}）",
    "one_unit": "鄰近地區自 {onset} 起上升，主要經由{unit}通報；本里自那時起事件為過去水準的"
    " {oe:.1f} 倍（90% 可能範圍 {lo:.1f}–{hi:.1f}）",
    "reporting": "鄰近地區自 {onset} 起{unit}通報增加，全區同時增加，扣除後不再升高："
    "通報來源變化，風險未必改變",
    "hard_to_reach": "交通與服務不易到達",
    "under_reporting": "可能低報",
}
#: The reporting changes table of 04b (district × unit × quarter).
REPORTING_TABLE_COLUMNS = {
    "district": "行政區",
    "unit": "通報單位",
    "period": "季",
    "ratio": "為區內其他單位所預期的",
    "p_value": "若通報方式未變，出現這麼大差異的機率",
}
#: (higher risk, hard to reach) → quadrant
QUADRANTS = {
    (True, True): "風險高・不易到達",
    (True, False): "風險高・容易到達",
    (False, True): "風險一般・不易到達",
    (False, False): "風險一般・容易到達",
}
RANKING_LABELS = {
    "count_1q": "上一季事件數",
    "count_4q": "近四季事件數",
    "count_12q": "近十二季事件數",
    "rate_1q": "上一季事件率",
    "rate_4q": "近四季事件率",
    "rate_12q": "近十二季事件率",
    "eb_rate_12q": "近十二季平滑事件率（經驗貝氏）",
    "excess_4q": "近四季超出依人口預期的事件數",
    "excess_12q": "近十二季超出依人口預期的事件數",
    "eb_excess_12q": "近十二季平滑超額事件（經驗貝氏）",
    "excess_low": "模型：下一季超額事件（保守估計）",
    "excess_mean": "模型：下一季超額事件（平均）",
    "p_now_1_25": "模型：目前風險高於 1.25 倍的機率",
    "rr_now": "模型：目前風險倍數",
}
#: How each of the model's rankings orders the list, for the outreach page's methods
#: (the backtest chooses one of them each quarter).
RANKING_METHODS = {
    "excess_low": "依模型估計的下一季超額事件（比依人口預期多出的事件）的保守值（90% 可能範圍的"
    "下限）。大里風險略高、小里風險很高時，只有大里多出的事件明顯較多，才會排在前面。",
    "excess_mean": "依模型估計的下一季超額事件（比依人口預期多出的事件）的平均值。大里風險略高、"
    "小里風險很高時，大里多出的事件較多就會排在前面；但要列入優先關注，目前風險高於全市 1.25 倍"
    "的機率還須達到門檻。",
    "p_now_1_25": "依模型估計的「目前風險高於全市 1.25 倍的機率」。事件少的小里，只要風險確實"
    "很高，也可能排在前面。",
    "rr_now": "依模型估計的目前風險倍數（相對全市）。事件少的里，模型已把它的倍數向鄰近的里與"
    "全市拉近，不會只因一兩件事件就排在前面。",
}
PRIORITY_TABLE_COLUMNS = {
    "rank": "順位",
    "tier_label": "等級",
    "townname": "行政區",
    "villname": "里",
    "reasons": "原因",
    "rr_now": "目前風險倍數（90% 範圍）",
    "p_now_exceed_1_5": "高於 1.5 倍的機率",
    "next_expected": "下一季預期事件",
    "next_range": "下一季 90% 預測範圍",
    "trend": "近一年走向",
    "quadrant": "風險與可及性",
}
BACKTEST_COLUMNS = {
    "ranking": "排序方式",
    "excess_capture": "超額事件掌握率（前 {k} 里）",
    "hit_rate": "命中率（前 {k} 里涵蓋下一季事件的比例）",
    "pai": "依人口的預測準確指數 PAI",
    "pei": "預測效率指數 PEI",
    "difference": "預設排序多出的掌握率（90% 範圍）",
    "wins": "預設排序較好的季數",
}

# --- the quarterly report's front page (05_report → staff/index.html) ------------------------
#: One line at the top of the front page when a plan (06) is not there for the quarter:
#: it failed, it has not finished (still running, or stopped), or a redo failed and the
#: page shows the earlier plan. ``{reason}`` is the error's type only (the text stays in
#: the manifest, for analysts).
ADDON_NOTICES = {
    "failed": "本季的{name}未能完成（執行時發生錯誤：{reason}）。外展名單、地圖與其他分析已完成並通過檢查，"
    "不受影響；分析人員可執行 <code>{rerun}</code> 補上，錯誤細節記在 manifest.json。",
    "pending": "本季的{name}尚未完成（仍在進行，或已中斷）。外展名單、地圖與其他分析已完成並通過檢查，"
    "不受影響；若一段時間後仍見此行，分析人員可執行 <code>{rerun}</code> 補上。",
    "kept": "本季的{name}以新設定重做時未能完成（執行時發生錯誤：{reason}）；規劃頁顯示的是先前完成的規劃。"
    "分析人員可再執行 <code>{rerun}</code>，錯誤細節記在 manifest.json。",
}
ADDON_NAMES = {"plan": "服務據點與社工人力規劃", "caseload": "社工責任區（1里1主責社工）"}
AGE_GROUP_LABELS = {
    "0-11": "0–11 歲",
    "12-17": "12–17 歲",
    "18-29": "18–29 歲",
    "30-44": "30–44 歲",
    "45-64": "45–64 歲",
    "65+": "65 歲以上",
    "unknown": "不詳",
}
UNKNOWN_LABEL = "不詳"
AFFECTED_TABLES = {
    "sex": ("被害人性別與案件類型", "性別"),
    "age": ("被害人年齡與案件類型", "年齡"),
    "relationship": ("兩造關係與案件類型", "關係"),
    "channel": ("通報來源與行政區", "通報單位"),
    "sex_district": ("被害人性別與行政區", "性別"),
}
TOTAL_LABEL = "合計"
TIER_COLOURS = {2: "#b2182b", 1: "#f4a582", 0: "#f0f0f0"}
ACCESS_LABELS = ["最容易到達", "較容易", "中等", "較不易", "最不易到達"]
ACCESS_COLOURS = ["#1a9850", "#91cf60", "#ffffbf", "#fc8d59", "#d73027"]
BLIND_SPOT_COLOURS = {True: "#762a83", False: "#f0f0f0"}
MAP_LAYERS = {
    "risk": "目前風險倍數",
    "probability": "目前高於全市的機率",
    "tier": "外展等級",
    "access": "交通與服務可及性",
    "blind": "可能低報",
}
#: Columns of staff tables holding p- or q-values (shown as "< 0.001" below 0.001).
P_VALUE_MARKERS = ("p 值", "q 值", "p-value", "p值")
#: Columns of staff tables whose cells may wrap (long plain-language text).
WRAP_COLUMNS = ("原因", "包含的里")
NO_DATA = "無資料"

# --- the service plan (06_service_plan) ------------------------------------------------------
PLAN_REACH = {
    "before": ("現有據點可到達", "#a6dba0"),
    "new": ("新增據點後可到達", "#1b7837"),
    "none": ("仍無法在時限內到達", "#f4a582"),
}
PLAN_SITES = {"existing": "現有服務中心", "proposed": "建議新增（點越大、越常被選中）"}
PLAN_SENTENCE = (
    "建議新增 {n} 處：{names}；每季約可多涵蓋 {mean:.1f} 起超額事件（90% 可能範圍 {low:.1f}–{high:.1f}），"
    "其中 {tier2} 個優先關注里將在 {minutes:.0f} 分鐘內可到達。"
)
PLAN_STABILITY = (
    "在 {draws} 組模擬的需求中，這個組合被選中的比例為 {share}；每個地點被選中的比例見下表。"
)
PLAN_NOTHING = "現有據點已能在 {minutes:.0f} 分鐘內到達幾乎所有有超額事件的里；新增據點每季約只多涵蓋 {mean:.1f} 起超額事件。"
PLAN_SKIPPED = "全國層級不規劃服務據點與人力：據點與社工屬於各縣市，請以縣市為單位執行（例如 `dv-analysis run --city 68000`）。"
PLAN_NO_SITES = (
    "公開圖層只收錄臺北市的社福據點與派出所：本市沒有現有服務中心的資料，候選地點只有各里的中心點，"
    "因此下面的方案假設目前沒有任何據點。請以 `dv-analysis plan --candidates 檔案` 提供自訂候選地點"
    "（欄位 name、lon、lat）。"
)
PLAN_LSCP = (
    "若要讓所有優先關注里都在 {minutes:.0f} 分鐘內可到達，至少需新增 {n} 處據點（集合涵蓋模型）。"
)
PLAN_LSCP_NONE = "現有據點已能在 {minutes:.0f} 分鐘內到達所有優先關注里。"
PLAN_P_MEDIAN = (
    "若改以縮短平均交通時間為目標（p-median），會選 {names}。依超額事件加權的平均交通時間："
    "現在約 {today:.1f} 分鐘，本建議方案 {plan:.1f} 分鐘，p-median 方案 {pm:.1f} 分鐘。"
)
PLAN_UNREACHED = "仍有 {n} 個優先關注里在 {minutes:.0f} 分鐘內無法到達，需以外展或其他方式補足。"
SITE_COLUMNS = {
    "name": "地點",
    "source": "類別",
    "chosen_share": "被選中的比例",
    "covered_excess_mean": "時限內的超額事件（每季）",
}
SITE_SOURCES = {
    "welfare": "社福機構",
    "police": "派出所",
    "village": "里的中心點",
    "file": "自訂地點",
}
STAFF_COLUMNS = {
    "townname": "行政區",
    "staff_today": "現有人力",
    "staff_proposed": "依預期事件分配（90% 範圍）",
    "staff_by_excess": "依超額事件分配（90% 範圍）",
    "expected_mean": "下一季預期事件",
    "excess_mean": "下一季超額事件",
}

# --- the centre's quarterly KPIs (docs/kpi.md): code → (zh-TW name, kind) ------------------
#: kind: "share" (shown as a percent with its 90 % range) or "days" (days, one decimal).
KPI_LABELS: dict[str, tuple[str, str]] = {
    "renotified_3m": ("3 個月內再通報", "share"),
    "renotified_12m": ("12 個月內再通報", "share"),
    "repeat_victims": ("曾被通報過的被害人", "share"),
    "days_to_notification_median": ("事件到通報天數（中位數）", "days"),
    "days_to_notification_mean": ("事件到通報天數（平均）", "days"),
    "channel_police": ("通報來源：警政", "share"),
    "channel_medical": ("通報來源：醫院", "share"),
    "channel_social": ("通報來源：社政", "share"),
    "channel_school": ("通報來源：教育", "share"),
    "channel_justice": ("通報來源：司法", "share"),
    "channel_hotline": ("通報來源：113專線", "share"),
    "channel_other": ("通報來源：其他", "share"),
    "opened": ("開案比例", "share"),
    "victims_female": ("女性被害人比例", "share"),
    "victims_age_0_11": ("被害人 0–11 歲", "share"),
    "victims_age_12_17": ("被害人 12–17 歲", "share"),
    "victims_age_18_29": ("被害人 18–29 歲", "share"),
    "victims_age_30_44": ("被害人 30–44 歲", "share"),
    "victims_age_45_64": ("被害人 45–64 歲", "share"),
    "victims_age_65plus": ("被害人 65 歲以上", "share"),
}
#: The KPIs of the front page's table by district (the rest are in kpi.parquet and open data).
KPI_FRONT = ("renotified_3m", "renotified_12m", "repeat_victims", "opened",
             "days_to_notification_median", "victims_female")  # fmt: skip
KPI_CITY = "全市"
KPI_AREA = "地區"
KPI_FEW = "人數太少"  # a share of fewer than KPI_MIN_N is not shown on staff pages
KPI_MIN_N = 10
KPI_RANGE = "{value}（{low}–{high}）"
KPI_NOTE = (
    "括號內是 90% 可能範圍：數字越少，範圍越寬。再通報以被害人代碼比對：本季的被害人中，"
    "在前一次通報（相隔超過 14 天）後 3 或 12 個月內再被通報的比例；匯出檔沒有結案日期，"
    "所以從前一次通報起算，而不是從結案起算。「人數太少」表示少於 10 人或 10 件，不計算比例。"
)
KPI_TREND_TITLE = "全市指標：近幾季"

# --- data quality by reporting unit (docs/cleaning.md) ------------------------------------
DQ_COLUMNS = {
    "unit": "通報單位",
    "period": "季別",
    "rows": "列數",
    "located_code": "以村里代碼定位",
    "located_names": "以區名＋里名定位",
    "located_xy": "以座標定位",
    "unlocatable": "無法定位",
    "missing_age": "缺被害人年齡",
    "missing_incident_date": "缺事件日期",
    "duplicates": "重複列",
    "quarantined": "隔離列",
    "district_share_max": "占某區通報的最高比例",
    "flagged": "需檢查",
    "reason": "與過去相比的變化",
}
#: A departure's code (column and + rose / - fell) in words.
DQ_REASONS = {
    "located_code-": "以村里代碼定位的比例下降",
    "located_names-": "以區名＋里名定位的比例下降",
    "located_xy-": "以座標定位的比例下降",
    "unlocatable+": "無法定位的比例上升",
    "missing_age+": "缺被害人年齡的比例上升",
    "missing_incident_date+": "缺事件日期的比例上升",
    "duplicates+": "重複列的比例上升",
    "quarantined+": "隔離列的比例上升",
    "rows+": "通報量占全市的比例上升",
    "rows-": "通報量占全市的比例下降",
}
#: The front page's one line when a unit's quarter departs from its own history.
DQ_FRONT_LINE = (
    "**資料品質提醒：** 本季{units}的通報資料與過去明顯不同（{what}），"
    "可能影響地圖、趨勢與指標；使用本季數字前，請分析人員先查看內部的資料品質頁。"
)
DQ_TITLE = "各通報單位的資料品質（內部，分析人員使用）"
DQ_INTRO = (
    "每個通報單位本季與自己過去 8 季相比：比例的變化超過 1.23 倍、且超出隨機波動（二項檢定，"
    "全市每季誤報機率 5%）時標示「需檢查」。本頁只有彙總數字，不含個案資料。"
)
DQ_NONE = "本季沒有通報單位與過去明顯不同。"
DQ_QUARANTINE_TITLE = "本季隔離列數（依通報單位與原因）"
DQ_HISTORY_TITLE = "各單位歷季資料品質"
DQ_FLAGGED_TITLE = "本季需檢查的通報單位"
DQ_QUARTER_TITLE = "本季各通報單位"

# --- the responsibility areas (07_caseload) --------------------------------------------------
#: Classes of an area on the map by the share of simulated quarters its caseload is inside
#: the band.
CASELOAD_CLASSES = {
    "steady": ("工作量穩定在合理範圍（八成以上的模擬）", "#a6dba0"),
    "shaky": ("工作量有時超出範圍（五到八成）", "#fee08b"),
    "out": ("工作量常超出範圍（不到五成）", "#f4a582"),
}
CASELOAD_CENTRE = "服務中心"
CASELOAD_UNCERTAIN = "歸屬可再討論的里（斜線）"
CASELOAD_SENTENCE = (
    "全市 {villages} 個里分成 {n} 個責任區，每位社工負責一區，區內的里彼此相連。"
    "每區下一季的預期事件平均約 {mean:.1f} 起，合理範圍訂為平均的上下 {band}（{low:.1f}–{high:.1f} 起）。"
)
CASELOAD_STABILITY = (
    "模型模擬了 {draws} 種下一季的可能情況：{n} 區中有 {n_ok} 區在八成以上的情況下工作量都落在合理範圍內；"
    "其餘各區的情形見下表與地圖的顏色。"
)
CASELOAD_TRAVEL = (
    "社工從所屬服務中心到責任區內各里，依預期事件加權的平均交通時間最長的一區約 {max:.0f} 分鐘；"
    "目前全市各里到最近服務中心的交通時間，九成五的里在 {p95:.0f} 分鐘以內。"
)
CASELOAD_CEILING = (
    "若每位社工每季最多只負責約 {ceiling:.1f} 起預期事件，需要約 {needed} 位社工"
    "（九成的責任區在這個上限以內）；目前設定為 {n} 位。"
)
CASELOAD_UNCERTAIN_TEXT = (
    "有 {n} 個里位在兩區的交界：改劃到鄰區後，兩區的工作量在八成以上的模擬中仍在合理範圍內，"
    "所以數字本身不能決定它屬於哪一區，可由督導依個案與地緣安排。地圖上以斜線標示，名單見最後一個表。"
)
CASELOAD_SKIPPED = "全國層級不劃分社工責任區：社工屬於各縣市，請以縣市為單位執行（例如 `dv-analysis run --city 68000`）。"
CASELOAD_NO_CENTRES = (
    "公開圖層只收錄臺北市的服務中心：本市沒有服務中心的資料，每區的「中心」暫以區內位置最適中的里代替，"
    "交通時間因此只反映區內距離。"
)
CASELOAD_COLUMNS = {
    "area_id": "責任區",
    "centre": "服務中心",
    "villages": "里數",
    "names": "包含的里",
    "expected_cases": "下一季預期事件（90% 範圍）",
    "share_in_band": "工作量在合理範圍內的比例",
    "travel_min": "平均交通時間（分鐘）",
    "travel_max_min": "最遠的里（分鐘）",
}
CASELOAD_UNCERTAIN_COLUMNS = {
    "townname": "行政區",
    "villname": "里",
    "area_id": "目前的責任區",
    "could_join": "也可劃入",
    "village_cases_mean": "下一季預期事件",
}
