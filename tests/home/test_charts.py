"""The SVG chart module: scales, labels, zero data, one value, large values, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from app.home.charts import Bar, Scale, bar_chart, compact, hbar_chart, label_every, nice_scale

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(("largest", "ticks", "scale"), [
    (0, 4, Scale(1, 1)),
    (1, 4, Scale(1, 1)),
    (3, 4, Scale(3, 1)),
    (4, 4, Scale(4, 1)),
    (5, 4, Scale(6, 2)),
    (7, 4, Scale(8, 2)),
    (9, 4, Scale(10, 5)),
    (20, 4, Scale(20, 5)),
    (21, 4, Scale(30, 10)),
    (100, 4, Scale(100, 50)),
    (580, 4, Scale(600, 200)),
    (1_240, 4, Scale(1_500, 500)),
    (1_234_567, 4, Scale(1_500_000, 500_000)),
    (9_999_999_999, 4, Scale(10_000_000_000, 5_000_000_000)),
    (7, 1, Scale(10, 10)),
    (7, 10, Scale(7, 1)),
])
def test_nice_scale(largest, ticks, scale):
    assert nice_scale(largest, ticks=ticks) == scale
    assert scale.top >= largest and scale.top % scale.step == 0
    assert len(scale.ticks) - 1 <= ticks


def test_scale_ticks_and_fractions():
    scale = Scale(600, 200)
    assert scale.ticks == [0, 200, 400, 600]
    assert scale.fraction(150) == 0.25 and scale.fraction(600) == 1


@pytest.mark.parametrize("bars", [[Bar("a", -1)], [Bar("a", 3), Bar("b", -5)]])
def test_negative_values_are_refused(bars):
    with pytest.raises(ValueError, match="negative"):
        nice_scale(-1)
    with pytest.raises(ValueError, match="negative"):
        bar_chart(bars, title="t")
    with pytest.raises(ValueError, match="negative"):
        hbar_chart(bars, title="t")


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (999, "999"), (9_999, "9,999"), (10_000, "1萬"), (15_000, "1.5萬"), (12_345, "1.23萬"),
    (120_000, "12萬"), (99_990_000, "9,999萬"), (100_000_000, "1億"), (250_000_000, "2.5億"),
    (1_234_500_000_000, "12,345億"),
])
def test_compact_axis_labels(value, text):
    assert compact(value) == text


@pytest.mark.parametrize(("bars", "every"), [(0, 1), (1, 1), (10, 1), (11, 2), (30, 3), (31, 4), (92, 10)])
def test_label_every(bars, every):
    assert label_every(bars) == every
    assert -(-bars // every) <= 10


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _bars(root: ET.Element) -> list[tuple[int, float]]:
    return [(int(r.get("data-value")), float(r.get("height"))) for r in root.iter(f"{SVG}rect")]


def test_a_bar_chart_is_accessible_and_drawn_to_scale():
    svg = bar_chart([Bar("核銷", 580, "NT$580", "primary"), Bar("退貨", 350, "NT$350", "warning"),
                     Bar("未使用", 0, "NT$0", "success")], title="近90天", testid="status-chart")
    root = _parse(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "近90天"
    assert root.find(f"{SVG}title").text == "近90天"
    assert root.find(f"{SVG}desc").text == "核銷 NT$580；退貨 NT$350；未使用 NT$0"
    assert root.get("aria-describedby") == root.find(f"{SVG}desc").get("id") == "chart-status-chart-desc"
    bars = _bars(root)
    assert [v for v, _ in bars] == [580, 350, 0]
    plot = 240 - 18 - 34
    assert bars[0][1] == pytest.approx(580 / 600 * plot, abs=0.05)  # the axis tops at 600
    assert bars[1][1] == pytest.approx(350 / 600 * plot, abs=0.05) and bars[2][1] == 0
    assert [t.get("data-tick") for t in root.iter(f"{SVG}text") if t.get("data-tick")] == [
        "0", "200", "400", "600"]
    tooltips = [t.text for r in root.iter(f"{SVG}rect") for t in r.iter(f"{SVG}title")]
    assert tooltips == ["核銷：NT$580", "退貨：NT$350", "未使用：NT$0"]
    assert "尚無資料" not in svg


def test_zero_data_says_so():
    for bars in ([], [Bar("a", 0), Bar("b", 0)]):
        svg = bar_chart(bars, title="空")
        assert "尚無資料" in svg and all(h == 0 for _, h in _bars(_parse(svg)))
    assert "尚無資料" in hbar_chart([], title="空")


def test_one_value_fills_the_plot():
    [(value, height)] = _bars(_parse(bar_chart([Bar("11/21", 1)], title="一筆")))
    assert value == 1 and height == pytest.approx(240 - 18 - 34)


def test_large_values_stay_inside_the_plot_with_compact_labels():
    root = _parse(bar_chart([Bar("a", 12_345_678_901), Bar("b", 1)], title="大"))
    heights = [h for _, h in _bars(root)]
    assert heights[0] == pytest.approx(12_345_678_901 / 15_000_000_000 * (240 - 18 - 34), abs=0.05)
    assert heights[1] == 0  # one dollar of fifteen billion rounds to nothing
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("data-tick")]
    assert labels == ["0", "50億", "100億", "150億"]


def test_a_long_series_labels_some_days_and_no_values():
    bars = [Bar(f"{d:02d}", d) for d in range(1, 93)]
    root = _parse(bar_chart(bars, title="92天"))
    texts = [t.text for t in root.iter(f"{SVG}text") if not t.get("data-tick")]
    assert texts == [f"{d:02d}" for d in range(1, 93, 10)]  # every 10th day, no value labels
    assert len(_bars(root)) == 92


def test_text_is_escaped():
    svg = hbar_chart([Bar('<script>alert("x")</script>&', 3, "3 張")], title="<b>標題</b>",
                     testid='x" onload="y')
    assert "<script>" not in svg and "<b>" not in svg and 'onload="y"' not in svg
    root = _parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == "<b>標題</b>"


def test_a_ranking_chart_with_long_names():
    svg = hbar_chart([Bar("招牌牛肉麵兌換券（大碗）加蛋加麵", 5, "5 張"), Bar("咖啡", 2, "2 張")],
                     title="提貨券銷量前5名")
    root = _parse(svg)
    bars = root.findall(f".//{SVG}rect")
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] > widths[1] > 0 and widths[0] / widths[1] == pytest.approx(5 / 2, rel=1e-3)
    names = [t.text for t in root.iter(f"{SVG}text")]
    assert "招牌牛肉麵兌換券（大碗）加…" in names and "5 張" in names and "咖啡" in names
    assert root.get("viewBox") == "0 0 640 72"  # two rows


def test_unknown_tones_fall_back_to_primary():
    svg = bar_chart([Bar("a", 1, tone="danger; fill:red")], title="t")
    assert re.search(r'<g class="text-primary">', svg)
