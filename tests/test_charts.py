"""console.charts: well-formed SVG, every label escaped, no division by zero on empty data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from console import charts
from console.charts import Part, Series

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>&\'"'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(str(svg))  # well-formed XML, or this raises
    assert root.tag == SVG + "svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter() if el.tag in (SVG + "text", SVG + "title")]


def no_raw_markup(svg: str) -> None:
    assert isinstance(svg, Markup)
    assert "<script" not in svg and "</script" not in svg
    assert "style=" not in svg  # the console's CSP refuses inline styles
    assert "&lt;script&gt;" in svg


def test_trend_chart_is_valid_svg_with_points_and_tooltips() -> None:
    svg = charts.trend_chart(
        ["05-01", "05-02", "05-03"],
        [Series("收集", [3, 5, 0], charts.BLUE), Series("办结", [1, 4, 0], charts.GREEN)],
        title="趋势", details=["2026-05-01", "2026-05-02", "2026-05-03"])
    root = parse(svg)
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}circle")) == 6
    assert "2026-05-02 收集：5" in texts(root)
    assert root.get("role") == "img" and root.get("aria-label") == "趋势"
    assert root.get("viewBox") == "0 0 720.0 280.0"


def test_trend_chart_escapes_every_label() -> None:
    svg = charts.trend_chart([EVIL, "b"], [Series(EVIL, [1, 2])], title=EVIL, details=[EVIL, EVIL])
    no_raw_markup(svg)
    root = parse(svg)
    assert root.get("aria-label") == EVIL  # the attribute round-trips exactly
    assert any(EVIL in t for t in texts(root))


def test_hbar_chart_escapes_labels_and_series() -> None:
    svg = charts.hbar_chart([EVIL, "纳税与缴费"], [Series(EVIL, [2, 7]), Series("办结", [1, 7])],
                            title=EVIL)
    no_raw_markup(svg)
    root = parse(svg)
    assert EVIL in texts(root)  # the full label is the row's tooltip
    assert len(root.findall(f"{SVG}rect")) == 4 + 2  # bars + legend swatches
    widths = [float(r.get("width")) for r in root.findall(f"{SVG}rect")[2:]]
    assert max(widths) == pytest.approx(max(widths[1], widths[3]))  # 7 is the longest bar


def test_stacked_bar_escapes_and_shows_shares() -> None:
    svg = charts.stacked_bar([Part(EVIL, 1, charts.RED), Part("绿灯", 3, charts.GREEN)], title=EVIL)
    no_raw_markup(svg)
    words = texts(parse(svg))
    assert "绿灯 3（75.0%）" in words and f"{EVIL} 1（25.0%）" in words


@pytest.mark.parametrize("make", [
    lambda: charts.trend_chart([], [], title="空"),
    lambda: charts.trend_chart([], [Series("收集", [])], title="空"),
    lambda: charts.hbar_chart([], [Series("收集", [])], title="空"),
    lambda: charts.hbar_chart(["a"], [], title="空"),
])
def test_no_data_says_so(make) -> None:  # type: ignore[no-untyped-def]
    root = parse(make())
    assert "暂无数据" in texts(root)


def test_all_zero_and_odd_values_do_not_divide_by_zero() -> None:
    zeros = charts.trend_chart(["a", "b"], [Series("收集", [0, 0])], title="零")
    parse(zeros)
    assert "nan" not in zeros.lower() and "inf" not in zeros.lower()
    single = charts.trend_chart(["a"], [Series("收集", [0])], title="一个点")
    assert len(parse(single).findall(f"{SVG}circle")) == 1
    assert not parse(single).findall(f"{SVG}polyline")  # one point is no line
    odd = charts.hbar_chart(["a", "b", "c"], [Series("x", [0, -3, math.nan])], title="怪值")
    assert "nan" not in odd.lower().replace("—", "")
    parse(odd)
    inf = charts.trend_chart(["a", "b"], [Series("x", [math.inf, 2])], title="无穷")
    parse(inf)
    empty = charts.stacked_bar([Part("红灯", 0, charts.RED), Part("绿灯", 0, charts.GREEN)],
                               title="灯", empty_text="当前没有在办工单")
    words = texts(parse(empty))
    assert "当前没有在办工单" in words and "红灯 0（—）" in words
    assert "当前没有在办工单" in texts(parse(charts.stacked_bar([], title="灯",
                                                           empty_text="当前没有在办工单")))


def test_mismatched_lengths_and_bad_colours_are_refused() -> None:
    with pytest.raises(ValueError, match="values"):
        charts.trend_chart(["a", "b"], [Series("x", [1])], title="t")
    with pytest.raises(ValueError, match="details"):
        charts.trend_chart(["a"], [Series("x", [1])], title="t", details=[])
    with pytest.raises(ValueError, match="colour"):
        charts.hbar_chart(["a"], [Series("x", [1], 'red" onload="alert(1)')], title="t")
    with pytest.raises(ValueError, match="colour"):
        charts.stacked_bar([Part("a", 1, "url(javascript:x)")], title="t")


@pytest.mark.parametrize(("maximum", "top", "step"), [
    (0, 1, 1), (-5, 1, 1), (math.nan, 1, 1), (1, 1, 1), (3, 3, 1), (7, 8, 2), (10, 10, 5),
    (15228, 20000, 5000), (0.4, 1, 1), (99, 100, 50),
])
def test_nice_scale(maximum: float, top: float, step: float) -> None:
    assert charts.nice_scale(maximum) == (top, step)


def test_long_labels_are_shortened_but_kept_in_tooltips() -> None:
    label = "住房和城乡建设局" * 6
    svg = charts.hbar_chart([label], [Series("收集", [1])], title="t", width=400)
    words = texts(parse(svg))
    assert label in words
    assert any(w.endswith("…") and len(w) < len(label) for w in words)
    assert charts.fit("abc", 100) == "abc"
    assert charts.text_width("税务") == 2 * charts.FONT


def test_many_points_thin_the_axis_labels_so_they_do_not_overlap() -> None:
    for labels in ([f"d{i}" for i in range(62)], [f"2026-01-{i % 28 + 1:02d}" for i in range(53)]):
        svg = charts.trend_chart(labels, [Series("x", list(range(len(labels))))], title="t")
        axis = [el for el in parse(svg).iter(f"{SVG}text") if el.text in labels]
        assert axis[0].text == labels[0] and 5 <= len(axis) < len(labels)
        xs = [float(el.get("x")) for el in axis]
        widest = max(charts.text_width(label) for label in labels)
        assert all(b - a >= widest for a, b in zip(xs, xs[1:]))
