"""``setl_proc_info``: one line per step of the waterfall, fit for the patient's receipt.

Amounts print as yuan with two decimals (``fen_text``). A step is kept as its formatter and its
numbers; ``render`` prints it in English or Chinese (the NHSA gateway, ``Accept-Language: zh``).
Each formatter works out a line's fields once and fills the line's template in the language
asked for from the one table ``TEMPLATES``; the names a line uses (identities, hospital grades,
caps) come from ``_NAMES``. The English lines are the HIS API's historical answer and do not
change.
"""

from __future__ import annotations

import functools
import operator
import re
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
_FIELD = re.compile(r"\{(\w+)\}")


def render(steps: tuple[Step, ...], language: Language = "en") -> tuple[str, ...]:
    """The receipt lines of a waterfall's steps, in English or Chinese."""
    return tuple(line(*numbers, language=language) for line, numbers in steps)


@functools.lru_cache(maxsize=256)
def pct(ratio: Decimal) -> str:
    """0.7 → "70%", 0.725 → "72.5%"."""
    text = f"{ratio * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _fill(step: Callable[..., str], language: Language, *fields: object) -> str:
    """``step``'s line in ``language``: its template of ``TEMPLATES`` with ``fields`` in."""
    template, pick = TEMPLATES[step][language]
    return template % (fields if pick is None else pick(fields))


Template = tuple[str, Callable[[tuple[object, ...]], tuple[object, ...]] | None]
"""A line in one language: ``%s`` text, and which of the formatter's fields fill it in which
order (None: all of them, in their order)."""


def _line(fields: str, *, en: str, zh: str) -> dict[Language, Template]:
    """A line's template in each language. ``fields`` names the formatter's fields in the order
    it passes them; a template uses them by ``{name}``, in any order, each once or not at all.
    The templates become ``%s`` text (the fastest way Python fills a string that is not an
    f-string: a receipt is printed for every settlement)."""
    number = {name: n for n, name in enumerate(fields.split())}

    def compiled(template: str) -> Template:
        order = tuple(number[name] for name in _FIELD.findall(template))
        text = _FIELD.sub("%s", template.replace("%", "%%"))
        if order == tuple(range(len(number))):
            return text, None
        if len(order) < 2:  # itemgetter of one index answers the value, not a tuple
            return text, functools.partial(_pick, order)
        return text, operator.itemgetter(*order)

    return {"en": compiled(en), "zh": compiled(zh)}


def _pick(order: tuple[int, ...], fields: tuple[object, ...]) -> tuple[object, ...]:
    return tuple([fields[n] for n in order])


def _name(language: Language, key: object) -> str:
    """What a receipt in ``language`` calls ``key`` (English: the key itself)."""
    return _NAMES[language].get(key, str(key))


def policy_scope(
    total: Decimal,
    wholly: Decimal,
    over: Decimal,
    class_b: Decimal,
    p: Decimal,
    *,
    language: Language = "en",
) -> str:
    return _fill(
        policy_scope,
        language,
        _y(total),
        _y(wholly),
        _y(over),
        _y(class_b),
        _y(p),
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
    *,
    language: Language = "en",
) -> str:
    hospital = _PHRASES["public hospital" if public else "hospital"][language]
    return _fill(
        inpatient_deductible,
        language,
        stay,
        year,
        hospital.format(grade=_name(language, level)),
        _y(base),
        pct(factor),
        _y(due),
        _y(paid),
    )


def chronic_treatment(dise_codg: str, *, language: Language = "en") -> str:
    return _fill(chronic_treatment, language, dise_codg)


def primary_care_visit(*, language: Language = "en") -> str:
    return _fill(primary_care_visit, language)


def visit_deductible(due: Decimal, paid: Decimal, *, language: Language = "en") -> str:
    return _fill(visit_deductible, language, _y(due), _y(paid))


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
    *,
    language: Language = "en",
) -> str:
    share = _share(base, deductible)
    payout = _payout(ratio, computed, cap, left, paid)
    return _fill(basic_fund, language, fund, share, _name(language, cap_name), *payout)


def _payout(
    ratio: Decimal, computed: Decimal, cap: Decimal, left: Decimal, paid: Decimal
) -> tuple[str, ...]:
    """What a fund paying a ratio within an annual cap prints (basic fund and assistance alike):
    the ratio, what it comes to, the cap, what is left of it, what the fund pays."""
    return pct(ratio), _y(computed), _y(cap), _y(left), _y(paid)


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
    *,
    language: Language = "en",
) -> str:
    if tilt is None:
        standard = _PHRASES["standard bands"][language]
    else:
        standard = _PHRASES["tilted bands"][language].format(who=_name(language, str(tilt)))
    return _fill(
        catastrophic,
        language,
        fund,
        _y(burden),
        _y(before),
        _y(after),
        standard,
        # The English line (the HIS API's historical answer) lists no band's slice.
        _slices_zh(after, schedule) if language == "zh" else "",
        _y(entitled),
        _y(already),
        _y(left),
        _y(paid),
    )


def _band_edge(amount: Decimal) -> str:
    """A band edge as a bureau prints it: thousands separated, no decimals when whole."""
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _slices_zh(after: Decimal, schedule: Schedule | None) -> str:
    """Each band's slice of the year's burden ``after``, as the Chinese line lists them."""
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
        return "，".join(parts)
    if schedule is not None and schedule.bands:
        return f"未达起付标准 {_band_edge(schedule.bands[0][0])} 元"
    return "未达起付标准"


def assistance(
    fund: str,
    who: str,
    base: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
    *,
    language: Language = "en",
) -> str:
    payout = _payout(ratio, computed, cap, left, paid)
    return _fill(assistance, language, fund, _name(language, who), _y(base), *payout)


def settlement(
    total: Decimal, funds: Decimal, patient: Decimal, *, language: Language = "en"
) -> str:
    return _fill(settlement, language, _y(total), _y(funds), _y(patient))


# --- The one table: each line in English and Chinese (中文结算过程信息) -----------------------

TEMPLATES: dict[Callable[..., str], dict[Language, Template]] = {
    policy_scope: _line(
        "total wholly over class_b p",
        en="Policy-scope amount: total {total} − wholly self-paid {wholly} − above price "
        "limits {over} − class-B self-paid {class_b} = {p}",
        zh="政策范围内费用：医疗费总额 {total} − 全自费 {wholly} − 超限价自费 {over} − "
        "乙类先行自付 {class_b} = {p} 元",
    ),
    inpatient_deductible: _line(
        "stay year hospital base factor due paid",
        en="Inpatient stay {stay} of {year} at a {hospital} hospital: deductible {due} "
        "({factor} of {base}), applied {paid}",
        zh="{year}年度第 {stay} 次住院（{hospital}医疗机构）：起付标准 {due} 元"
        "（{base} 元的 {factor}），实际起付 {paid} 元",
    ),
    chronic_treatment: _line(
        "dise_codg",
        en="Chronic outpatient treatment of {dise_codg} (on the disease list): no deductible",
        zh="门诊慢特病 {dise_codg}（在病种目录内）：不设起付标准",
    ),
    primary_care_visit: _line(
        "",
        en="General outpatient at a primary-care institution: no deductible",
        zh="基层医疗机构普通门诊：不设起付标准",
    ),
    visit_deductible: _line(
        "due paid",
        en="Accident outpatient: deductible {due} per visit, applied {paid}",
        zh="意外伤害门诊：每次起付标准 {due} 元，实际起付 {paid} 元",
    ),
    basic_fund: _line(
        "fund share cap_name ratio computed cap left paid",
        en="Basic fund {fund}: {share} × {ratio} = {computed}; "
        "{cap_name} {cap}, {left} left; pays {paid}",
        zh="基本医疗保险统筹基金 {fund}：{share} × {ratio} = {computed} 元；"
        "{cap_name} {cap} 元，剩余 {left} 元；本次支付 {paid} 元",
    ),
    catastrophic: _line(
        "fund burden before after standard slices entitled already left paid",
        en="Catastrophic insurance {fund}: burden {burden}, year's burden {before} → "
        "{after}; entitlement on {standard} bands {entitled}, already paid {already}, "
        "{left} of the annual cap left; pays {paid}",
        zh="大病保险{standard}：{slices}；年度累计负担 {before} → {after} 元"
        "（本次 {burden} 元），应得 {entitled} 元，已付 {already} 元，"
        "年度封顶余额 {left} 元；大病保险基金 {fund} 本次支付 {paid} 元",
    ),
    assistance: _line(
        "fund who base ratio computed cap left paid",
        en="Medical assistance {fund} ({who}): remaining burden {base} × {ratio} = "
        "{computed}; annual cap {cap}, {left} left; pays {paid}",
        zh="医疗救助 {fund}（{who}）：剩余负担 {base} × {ratio} = "
        "{computed} 元；年度限额 {cap} 元，剩余 {left} 元；本次支付 {paid} 元",
    ),
    settlement: _line(
        "total funds patient",
        en="Funds pay {funds} in all; the patient pays {total} − {funds} = {patient}",
        zh="基金合计支付 {funds} 元；个人支付 {total} − {funds} = {patient} 元",
    ),
}
"""Every receipt line, by the step that prints it, in each language: the one table."""

_PHRASES: dict[str, dict[Language, str]] = {
    "hospital": {"en": "level-{grade}", "zh": "{grade}级"},
    "public hospital": {"en": "level-{grade} public", "zh": "{grade}级公立"},
    "standard bands": {"en": "the standard", "zh": ""},
    "tilted bands": {"en": "the {who} special-person", "zh": "（{who}倾斜标准）"},
}
"""The parts of a line that differ with the claim, in each language."""

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

_NAMES: dict[Language, dict[Any, str]] = {
    "en": {},
    "zh": {
        **IDENTITY_ZH,
        1: "一",
        2: "二",
        3: "三",
        "shared annual cap": "住院与门诊慢特病共用年度最高支付限额",
        "general outpatient annual cap": "普通门诊年度最高支付限额",
        "accident outpatient annual cap": "意外伤害门诊年度最高支付限额",
    },
}
"""What each language calls an identity, a hospital grade or a cap (English: its own name)."""
