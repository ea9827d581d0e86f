"""``setl_proc_info``: one line per step of the waterfall, fit for the patient's receipt.

Amounts print as yuan with two decimals (``fen_text``). A step is kept as its English formatter
and its numbers; ``render`` prints it in English or, through the one table ``TEMPLATES``, in
Chinese (the NHSA gateway, ``Accept-Language: zh``). The English lines are the HIS API's
historical answer and do not change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from shared.events import Identity
from shared.money import fen_text as _y

if TYPE_CHECKING:
    from services.settlement.engine.catastrophic import Schedule

Language = Literal["en", "zh"]
# A line not yet printed: its formatter and the numbers. Formatting Decimals is a third of the
# cost of a claim, so it happens when the receipt is read, not while the waterfall runs.
Step = tuple[Callable[..., str], tuple[Any, ...]]


def render(steps: tuple[Step, ...], language: Language = "en") -> tuple[str, ...]:
    """The receipt lines of a waterfall's steps, in English or Chinese."""
    if language == "zh":
        return tuple(TEMPLATES[line]["zh"](*numbers) for line, numbers in steps)
    return tuple(line(*numbers) for line, numbers in steps)


@functools.lru_cache(maxsize=256)
def pct(ratio: Decimal) -> str:
    """0.7 → "70%", 0.725 → "72.5%"."""
    text = f"{ratio * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def policy_scope(
    total: Decimal, wholly: Decimal, over: Decimal, class_b: Decimal, p: Decimal
) -> str:
    return (
        f"Policy-scope amount: total {_y(total)} − wholly self-paid {_y(wholly)} − above price "
        f"limits {_y(over)} − class-B self-paid {_y(class_b)} = {_y(p)}"
    )


def inpatient_deductible(
    stay: int,
    year: int,
    level: int,
    public: bool,
    base: Decimal,
    factor: Decimal,
    due: Decimal,
    paid: Decimal,
) -> str:
    hospital = f"level-{level} public" if public else f"level-{level}"
    return (
        f"Inpatient stay {stay} of {year} at a {hospital} hospital: deductible {_y(due)} "
        f"({pct(factor)} of {_y(base)}), applied {_y(paid)}"
    )


def chronic_treatment(dise_codg: str) -> str:
    return f"Chronic outpatient treatment of {dise_codg} (on the disease list): no deductible"


def primary_care_visit() -> str:
    return "General outpatient at a primary-care institution: no deductible"


def visit_deductible(due: Decimal, paid: Decimal) -> str:
    return f"Accident outpatient: deductible {_y(due)} per visit, applied {_y(paid)}"


def basic_fund(
    fund: str,
    base: Decimal,
    deductible: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap_name: str,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"Basic fund {fund}: {_share(base, deductible)} × {pct(ratio)} = {_y(computed)}; "
        f"{cap_name} {_y(cap)}, {_y(left)} left; pays {_y(paid)}"
    )


def _share(base: Decimal, deductible: Decimal) -> str:
    """What the fund's ratio applies to: "(P − deductible)", or P alone."""
    return f"({_y(base)} − {_y(deductible)})" if deductible else f"{_y(base)}"


def catastrophic(
    fund: str,
    burden: Decimal,
    before: Decimal,
    after: Decimal,
    tilt: Identity | None,
    entitled: Decimal,
    already: Decimal,
    left: Decimal,
    paid: Decimal,
    schedule: Schedule | None = None,
) -> str:
    # ``schedule`` is for the Chinese line, which lists each band's slice.
    bands = "the standard" if tilt is None else f"the {tilt} special-person"
    return (
        f"Catastrophic insurance {fund}: burden {_y(burden)}, year's burden {_y(before)} → "
        f"{_y(after)}; entitlement on {bands} bands {_y(entitled)}, already paid {_y(already)}, "
        f"{_y(left)} of the annual cap left; pays {_y(paid)}"
    )


def assistance(
    fund: str,
    who: str,
    base: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"Medical assistance {fund} ({who}): remaining burden {_y(base)} × {pct(ratio)} = "
        f"{_y(computed)}; annual cap {_y(cap)}, {_y(left)} left; pays {_y(paid)}"
    )


def settlement(total: Decimal, funds: Decimal, patient: Decimal) -> str:
    return (
        f"Funds pay {_y(funds)} in all; the patient pays {_y(total)} − {_y(funds)} = {_y(patient)}"
    )


# --- Chinese lines (中文结算过程信息) --------------------------------------------------------

IDENTITY_ZH = {
    "ordinary": "普通居民",
    "destitute": "特困人员",
    "orphan": "孤儿、事实无人抚养儿童",
    "subsistence": "低保对象",
    "severe_disability": "重度残疾人",
    "low_income_elderly": "低收入家庭60岁以上老年人",
    "low_income_minor": "低收入家庭未成年人",
    "poverty_registered": "脱贫享受政策人员",
    "family_planning": "计划生育特殊家庭成员",
    "medical-assistance recipient": "医疗救助对象",
}
"""The receipt's names of the identities of SPEC §2 (004's own words)."""

_LEVEL_ZH = {1: "一", 2: "二", 3: "三"}
_CAP_ZH = {
    "shared annual cap": "住院与门诊慢特病共用年度最高支付限额",
    "general outpatient annual cap": "普通门诊年度最高支付限额",
    "accident outpatient annual cap": "意外伤害门诊年度最高支付限额",
}


def _band_edge(amount: Decimal) -> str:
    """A band edge as a bureau prints it: thousands separated, no decimals when whole."""
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _zh_policy_scope(
    total: Decimal, wholly: Decimal, over: Decimal, class_b: Decimal, p: Decimal
) -> str:
    return (
        f"政策范围内费用：医疗费总额 {_y(total)} − 全自费 {_y(wholly)} − 超限价自费 {_y(over)} − "
        f"乙类先行自付 {_y(class_b)} = {_y(p)} 元"
    )


def _zh_inpatient_deductible(
    stay: int,
    year: int,
    level: int,
    public: bool,
    base: Decimal,
    factor: Decimal,
    due: Decimal,
    paid: Decimal,
) -> str:
    grade = _LEVEL_ZH.get(level, str(level))
    hospital = f"{grade}级公立" if public else f"{grade}级"
    return (
        f"{year}年度第 {stay} 次住院（{hospital}医疗机构）：起付标准 {_y(due)} 元"
        f"（{_y(base)} 元的 {pct(factor)}），实际起付 {_y(paid)} 元"
    )


def _zh_chronic_treatment(dise_codg: str) -> str:
    return f"门诊慢特病 {dise_codg}（在病种目录内）：不设起付标准"


def _zh_primary_care_visit() -> str:
    return "基层医疗机构普通门诊：不设起付标准"


def _zh_visit_deductible(due: Decimal, paid: Decimal) -> str:
    return f"意外伤害门诊：每次起付标准 {_y(due)} 元，实际起付 {_y(paid)} 元"


def _zh_basic_fund(
    fund: str,
    base: Decimal,
    deductible: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap_name: str,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"基本医疗保险统筹基金 {fund}：{_share(base, deductible)} × {pct(ratio)} = "
        f"{_y(computed)} 元；"
        f"{_CAP_ZH.get(cap_name, cap_name)} {_y(cap)} 元，剩余 {_y(left)} 元；"
        f"本次支付 {_y(paid)} 元"
    )


def _zh_catastrophic(
    fund: str,
    burden: Decimal,
    before: Decimal,
    after: Decimal,
    tilt: Identity | None,
    entitled: Decimal,
    already: Decimal,
    left: Decimal,
    paid: Decimal,
    schedule: Schedule | None = None,
) -> str:
    standard = "" if tilt is None else f"（{IDENTITY_ZH.get(str(tilt), str(tilt))}倾斜标准）"
    slices = schedule.slices(after) if schedule is not None else ()
    if slices:
        parts = []
        for start, end, ratio, amount in slices:
            band = (
                f"{_band_edge(start)} 元以上段"
                if end is None
                else (f"{_band_edge(start)}–{_band_edge(end)} 元段")
            )
            parts.append(f"{band} {pct(ratio)} 计 {_y(amount)} 元")
        bands = "，".join(parts)
    elif schedule is not None and schedule.bands:
        bands = f"未达起付标准 {_band_edge(schedule.bands[0][0])} 元"
    else:
        bands = "未达起付标准"
    return (
        f"大病保险{standard}：{bands}；年度累计负担 {_y(before)} → {_y(after)} 元"
        f"（本次 {_y(burden)} 元），应得 {_y(entitled)} 元，已付 {_y(already)} 元，"
        f"年度封顶余额 {_y(left)} 元；大病保险基金 {fund} 本次支付 {_y(paid)} 元"
    )


def _zh_assistance(
    fund: str,
    who: str,
    base: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"医疗救助 {fund}（{IDENTITY_ZH.get(who, who)}）：剩余负担 {_y(base)} × {pct(ratio)} = "
        f"{_y(computed)} 元；年度限额 {_y(cap)} 元，剩余 {_y(left)} 元；本次支付 {_y(paid)} 元"
    )


def _zh_settlement(total: Decimal, funds: Decimal, patient: Decimal) -> str:
    return f"基金合计支付 {_y(funds)} 元；个人支付 {_y(total)} − {_y(funds)} = {_y(patient)} 元"


TEMPLATES: dict[Callable[..., str], dict[Language, Callable[..., str]]] = {
    policy_scope: {"en": policy_scope, "zh": _zh_policy_scope},
    inpatient_deductible: {"en": inpatient_deductible, "zh": _zh_inpatient_deductible},
    chronic_treatment: {"en": chronic_treatment, "zh": _zh_chronic_treatment},
    primary_care_visit: {"en": primary_care_visit, "zh": _zh_primary_care_visit},
    visit_deductible: {"en": visit_deductible, "zh": _zh_visit_deductible},
    basic_fund: {"en": basic_fund, "zh": _zh_basic_fund},
    catastrophic: {"en": catastrophic, "zh": _zh_catastrophic},
    assistance: {"en": assistance, "zh": _zh_assistance},
    settlement: {"en": settlement, "zh": _zh_settlement},
}
"""Every receipt line, by the step that prints it, in each language: the one table."""
