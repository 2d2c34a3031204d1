"""Chinese labels render in a CJK font (not boxes) once the display is set up."""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dv_analysis.pages import show  # noqa: E402


def test_cjk_font_installed_and_used():
    font = show.setup()
    assert font in show.CJK_FONTS, "no CJK font: install fonts-noto-cjk (make env does)"
    assert plt.rcParams["font.family"] == ["sans-serif"]
    assert plt.rcParams["font.sans-serif"][0] == font
    fig, ax = plt.subplots()
    title = ax.set_title("熱點與冷點：萬華區糖廍里")
    assert title.get_fontname() == font, "the title is set in the CJK font"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_table_hides_index_and_formats():
    import pandas as pd

    html = show.table(pd.DataFrame({"里": ["青山里"], "列數": [12345]}), "標題").to_html()
    assert "12,345" in html and "標題" in html


def test_font_installed_after_the_matplotlib_cache_is_found(monkeypatch):
    """A font list cached before fonts-noto-cjk was installed must not hide the font."""
    from matplotlib import font_manager

    from dv_analysis.pages import show

    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    assert show.cjk_font() in show.CJK_FONTS


def test_staff_tables_show_whole_numbers_as_integers_and_small_p_values_as_below():
    import pandas as pd

    from dv_analysis.pages.show import format_p, table

    df = pd.DataFrame({"距離（公尺）": [1425.0, 932.0], "比率": [0.5, 1.25], "p 值": [0.0004, 0.2]})
    cells = table(df).to_html()
    assert ">1,425<" in cells and ">932<" in cells and "1,425.00" not in cells
    assert ">0.50<" in cells and ">&lt; 0.001<" in cells and ">0.200<" in cells
    assert format_p(0.00099) == "< 0.001" and format_p(0.001) == "0.001" and format_p(None) == "—"
