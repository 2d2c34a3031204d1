"""Stage of ``05_report``: the open-data tables, through the disclosure policy.

Everything written under ``reports/<period>/public/`` goes through
:mod:`dv_analysis.disclosure`; nothing here takes a case-level table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import disclosure
from ..config import PeriodPaths

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
    "*_status": "空白表示已公開；「數量過少不公開」表示不公開",
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


def run(paths: PeriodPaths, policy: disclosure.Policy = disclosure.DEFAULT_POLICY) -> list:
    """Write ``public/open_data/`` (villages and districts with their dictionaries) and ``public/index.html``."""
    from ..pages.public_page import public_page

    feats = pd.read_parquet(paths.village_features)
    hot = pd.read_parquet(paths.hotspots) if paths.hotspots.exists() else None
    villages, districts, _ = open_data(feats, hot, policy)
    out = paths.open_data
    return [
        disclosure.write_public_csv(villages, out / "villages.csv", VILLAGE_DICTIONARY),
        disclosure.write_public_csv(districts, out / "districts.csv", DISTRICT_DICTIONARY),
        public_page(paths, villages, districts),
    ]
