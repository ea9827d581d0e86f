"""Charts are drawn on the server as SVG that a browser parses, every text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.console import svg

pytestmark = pytest.mark.unit

NS = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # not well-formed XML would raise


def test_columns_one_rect_per_value_and_the_exact_figure_in_each_tooltip():
    markup = svg.column_chart(
        ["1", "2", "3"],
        [svg.Series("paid", [Decimal("10.50"), Decimal("0.00"), Decimal("1234.56")])],
        title="Paid <per day>",
    )
    root = parsed(markup)
    rects = root.findall(f"{NS}rect")
    assert len(rects) == 3
    assert [r.find(f"{NS}title").text for r in rects][2] == "3 · paid: 1,234.56"
    assert "Paid &lt;per day&gt;" in markup


def test_stacked_columns_are_as_tall_as_their_sum():
    markup = svg.column_chart(
        ["a"], [svg.Series("x", [3]), svg.Series("y", [1])], title="t", stacked=True, height=260
    )
    marks = [r for r in parsed(markup).findall(f"{NS}rect") if r.find(f"{NS}title") is not None]
    heights = [float(r.get("height")) for r in marks]
    tallest = 260 - svg.TOP - svg.BOTTOM
    ceiling, _ = svg.nice_ceiling(4)
    assert sum(heights) == pytest.approx(tallest * 4 / ceiling, abs=0.2)


def test_no_data_is_a_message_not_an_empty_axis():
    for markup in (
        svg.column_chart([], [], title="t", empty="nothing"),
        svg.line_chart(["a"], [svg.Series("s", [0])], title="t", empty="nothing"),
        svg.bar_list([], title="t", empty="nothing"),
    ):
        root = parsed(markup)
        assert [e.text for e in root.iter(f"{NS}text")][-1] == "nothing"


def test_lines_and_bar_lists_parse_and_name_their_series():
    line = parsed(
        svg.line_chart(
            ["01-01", "01-02"], [svg.Series("basic", [1, 5]), svg.Series("큰", [2, 3])], title="t"
        )
    )
    assert len(line.findall(f"{NS}polyline")) == 2
    bars = parsed(svg.bar_list([("H1 <b>", 10), ("H2", 5)], title="t"))
    assert "H1 <b>" in [e.text for e in bars.iter(f"{NS}text")]


@given(st.floats(min_value=0.001, max_value=1e13, allow_nan=False))
def test_the_axis_ceiling_covers_the_top_in_four_or_five_steps(top):
    ceiling, step = svg.nice_ceiling(top)
    assert ceiling >= top and 1 <= round(ceiling / step) <= 5
