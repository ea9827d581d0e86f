"""The Chinese receipt (NHSA gateway, ``Accept-Language: zh``): the same steps, one table of
templates, the catastrophic line band by band; the English lines do not change."""

from __future__ import annotations

import pytest

from services.settlement.engine import Accumulator, Coverage, adjudicate
from services.settlement.engine.receipt import TEMPLATES, render
from shared.events import Identity

from .builders import CLINIC, LEVEL_2, LEVEL_3, LIAOCHENG, SPECIAL_PERSONS, accident, inpatient

pytestmark = pytest.mark.unit


def test_worked_example_1_in_chinese() -> None:
    result = adjudicate(
        LIAOCHENG, inpatient("20000", "1000", class_b="500"), LEVEL_3, Accumulator.zero()
    )
    assert render(result.steps, "zh") == (
        "政策范围内费用：医疗费总额 20000.00 − 全自费 1000.00 − 超限价自费 0.00 − "
        "乙类先行自付 500.00 = 18500.00 元",
        "2024年度第 1 次住院（三级医疗机构）：起付标准 900.00 元（900.00 元的 100%），"
        "实际起付 900.00 元",
        "基本医疗保险统筹基金 390100：(18500.00 − 900.00) × 60% = 10560.00 元；"
        "住院与门诊慢特病共用年度最高支付限额 120000.00 元，剩余 120000.00 元；"
        "本次支付 10560.00 元",
        "大病保险：未达起付标准 11,000 元；年度累计负担 0.00 → 7940.00 元（本次 7940.00 元），"
        "应得 0.00 元，已付 0.00 元，年度封顶余额 400000.00 元；"
        "大病保险基金 390200 本次支付 0.00 元",
        "基金合计支付 10560.00 元；个人支付 20000.00 − 10560.00 = 9440.00 元",
    )


def test_the_catastrophic_line_lists_each_bands_slice() -> None:
    # Worked example 2: burden 120,000 → 0.60 × 89,000 + 0.65 × 20,000 = 66,400.
    result = adjudicate(LIAOCHENG, inpatient("250000", "10000"), LEVEL_3, Accumulator.zero())
    line = render(result.steps, "zh")[3]
    assert line.startswith(
        "大病保险：11,000–100,000 元段 60% 计 53400.00 元，"
        "100,000–200,000 元段 65% 计 13000.00 元；"
    )
    assert line.endswith("大病保险基金 390200 本次支付 66400.00 元")


def test_the_open_top_band_and_a_tilt_are_named() -> None:
    spent = Accumulator.zero()._replace(basic_paid=LIAOCHENG.basic.annual_cap)
    result = adjudicate(LIAOCHENG, inpatient("400000"), LEVEL_2, spent)
    assert "300,000 元以上段 75%" in render(result.steps, "zh")[3]
    destitute = Coverage(identity=Identity.DESTITUTE)
    tilted = adjudicate(SPECIAL_PERSONS, inpatient("20000"), LEVEL_3, Accumulator.zero(), destitute)
    text = "\n".join(render(tilted.steps, "zh"))
    assert "大病保险（特困人员倾斜标准）" in text
    assert "医疗救助 610100（特困人员）" in text


def test_every_step_has_both_languages_and_english_is_the_default() -> None:
    assert all(set(forms) == {"en", "zh"} for forms in TEMPLATES.values())
    result = adjudicate(LIAOCHENG, accident("1500"), CLINIC, Accumulator.zero())
    assert render(result.steps) == result.setl_proc_info == render(result.steps, "en")
    assert result.to_wire("S1", "zh")["setl_proc_info"][1] == (
        "意外伤害门诊：每次起付标准 100.00 元，实际起付 100.00 元"
    )
    assert result.to_wire("S1")["setl_proc_info"] == list(result.setl_proc_info)
