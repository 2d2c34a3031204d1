"""The zh-TW vocabulary of the overlay's page (``dv-analysis overlay``, ``docs/overlay.md``):
another layer beside domestic-violence risk, a command run on demand rather than a page of
the quarter. It is :mod:`.labels`' for that page, kept apart so that neither module holds
more than one job; like :mod:`.labels` it imports nothing.
"""

from __future__ import annotations

# --- another layer beside domestic-violence risk (dv-analysis overlay) ----------------------
OVERLAY_TITLE = "城市圖層疊合：{layer} 與家庭暴力風險"
OVERLAY_CAUTION = (
    "兩張地圖在同一些里都偏高，只表示「一起出現」，不表示一個造成另一個："
    "人口密度、夜間活動、通報習慣等共同因素都可能讓兩者同時偏高。"
    "竊盜（或其他圖層）的熱點不是家庭暴力的熱點；一個里的外展優先順序仍以家庭暴力風險為準，"
    "疊合只用來安排跨局處一起看的地方。"
)
OVERLAY_HOW = {
    "village_code": "以村里代碼對到里",
    "village_name": "地址寫明里名，直接對到里",
    "point_in_village": "以座標落在哪個里",
    "road_band": "地址只寫路名：依同一路段、門牌區間的其他筆數推定里",
    "district_only": "只能確定行政區（不放到任何一個里）",
    "unmatched": "無法定位",
}
OVERLAY_MATCH_COLUMNS = {"how": "定位方式", "reason": "說明", "rows": "筆數"}
OVERLAY_MAPS = {
    "dv_risk": "家庭暴力目前風險",
    "tier": "外展分級",
    "layer_rate": "圖層每千人比率",
    "layer_hot": "圖層熱點（Gi*）",
    "bivariate": "雙變量 LISA",
}
OVERLAY_LAYER_CLASSES = ["最低 20%", "偏低", "中間", "偏高", "最高 20%"]
OVERLAY_LAYER_COLOURS = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"]
#: Bivariate LISA clusters: (code, words, colour). x is domestic-violence risk, y the layer.
OVERLAY_BV: tuple[tuple[str, str, str], ...] = (
    ("HH", "家暴風險高，周邊圖層也高", "#d7191c"),
    ("HL", "家暴風險高，周邊圖層低", "#fdae61"),
    ("LH", "家暴風險低，周邊圖層高", "#abd9e9"),
    ("LL", "家暴風險低，周邊圖層也低", "#2c7bb6"),
    ("ns", "沒有明確的共同出現", "#f0f0f0"),
)
OVERLAY_HOT = {True: ("圖層熱點", "#54278f"), False: ("其他", "#f0f0f0")}
OVERLAY_GLOBAL = (
    "全市來看，家庭暴力風險高的里，周邊里的{layer}比率{direction}（雙變量 Moran's I = {I:.3f}，"
    "在 {permutations} 張保留圖層自身聚集型態、但位置隨機的模擬地圖中，{p}）。"
)
OVERLAY_DIRECTION = {True: "也傾向偏高", False: "並沒有偏高"}
OVERLAY_LOCAL = (
    "逐里檢定後（控制誤判率 {fdr:.0%}），{hh} 個里屬於「家暴風險高、周邊圖層也高」，"
    "{other} 個里屬於其他組合，其餘 {ns} 個里沒有明確的共同出現。"
)
OVERLAY_NO_DV = "這個資料夾沒有家庭暴力風險的結果，只顯示圖層本身。"
OVERLAY_NO_VILLAGES = "這個圖層幾乎無法放到里，只在行政區層級比較（見下方各行政區表）。"
OVERLAY_COVARIATE = (
    "把{layer}比率放進風險因子模型（與 04 相同的負二項模型）：比率每高一個標準差，家庭暴力事件率為 "
    "{irr:.2f} 倍（95% 區間 {lo:.2f}–{hi:.2f}）。這是關聯，不是因果。"
)
OVERLAY_COLOCATION_COLUMNS = {
    "tier": "外展分級",
    "areas": "里數",
    "hot": "其中圖層熱點",
    "expected_hot": "若隨機分布的期望數",
    "ratio": "實際 ÷ 期望",
}
OVERLAY_DISTRICT_COLUMNS = {
    "district": "行政區",
    "layer_count": "圖層筆數",
    "dv_incidents": "家庭暴力事件（近四季）",
}
OVERLAY_ACCURACY = (
    "只寫路名的地址：規則為「同一行政區、同一路段與門牌區間，至少 {rows} 筆寫明里名且其中 {share:.0%} "
    "以上是同一個里，就推定為該里」。用已知里名的資料輪流保留一部分來驗證，推定正確 {correct} / {n} 筆"
    "（{acc}）；達不到九成的推定方式不使用，這些地址只算到行政區。"
)
OVERLAY_UNLOCATED = (
    "下列行政區的資料大多沒有寫里名，只在行政區層級比較，地圖上以灰色表示：{names}。"
)
OVERLAY_PERIOD = "圖層期間：{window}（資料最後完整的一季為 {last}）。"
OVERLAY_SOURCE = "圖層檔案：{layer}（由分析人員提供；請依其授權標示來源）"
#: Why a row of a layer was kept at district level or not placed (the match report's reasons).
OVERLAY_REASONS = {
    "no village named; road and band not learnt with confidence": "地址沒有里名，路段也無法可靠推定",
    "no road in the address": "地址沒有路名",
    "named village not in the boundaries; road not learnt with confidence": "里名不在 2021 年村里界內，路段也無法可靠推定",
    "a table per district": "資料本身以行政區為單位",
    "no district in the address": "地址沒有行政區",
    "district not in the city": "行政區不在本市",
    "another city": "地址在其他縣市",
    "no coordinates": "沒有座標",
    "outside the city's villages": "座標不在本市任何一個里內",
    "village code and name not in the city": "村里代碼與名稱都對不到本市的里",
}
