"""Seed 004 (柳南医保发〔2021〕2号), one test per clause, named after it, on the pure rules.

The services' answers for the same clauses, over HTTP and through a whole year, are in
``tests/integration/enrollment/test_special_cycle_http.py`` and ``test_year_of_special_persons.py``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.enrollment.domain import person as domain
from services.enrollment.domain import subsidies
from services.enrollment.domain.assistance import apply_list, parse_assistance
from services.enrollment.domain.calendar import Month, assistance_list_late
from services.enrollment.domain.carry_over import (
    CarryOverRefused,
    CarryOverStatus,
    SourceRow,
    check_freeze,
    check_submit,
    check_upload,
    freeze_person,
    merge,
    parse_carry_over,
)
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.reports import monthly_report, title
from shared.events import (
    CarriedOver,
    DeceasedStop,
    Identity,
    IdentityChanged,
    PremiumDueChanged,
    Registered,
    SubsidyGranted,
)

from .special_people import certno, happen, paid, registered, rules_for, xlsx

pytestmark = pytest.mark.unit

DEC_2024 = date(2024, 12, 1)


def test_004_一_一_department_lists_are_merged_by_the_district_and_frozen_by_the_city():
    """一(一) 区医保局协调民政、残联、卫健、扶贫等部门提供年度结转人员名单 … 汇总后上报柳州市
    医保中心进行核定固化."""
    civil = "身份证号,姓名,身份,医疗救助,行政区划,乡镇街道\n" + "".join(
        f"{certno(n)},居民{n},低保,是,450204,潭西街道\n" for n in (1, 2)
    )
    disabled = xlsx(
        [
            ["身份证号", "姓名", "身份", "医疗救助", "行政区划", "乡镇街道"],
            [certno(2), "居民2", "重度残疾", "否", "450204", "潭西街道"],
            [certno(3), "居民3", "重度残疾", "否", "450204", "鹧鸪江街道"],
        ],
        title="柳南区2024年度特殊人员结转名单",
    )
    lists = {
        "civil_affairs": parse_carry_over(civil.encode("gb18030")),
        "disabled_federation": parse_carry_over(disabled, "list.xlsx"),
    }
    assert all(not parsed.errors for parsed in lists.values())
    rows = [SourceRow(s, row) for s, parsed in lists.items() for row in parsed.rows]
    # without a priority the person on both lists is a conflict, and submitting is refused
    unresolved = merge(rows, priority=())
    assert [c.certno for c in unresolved.conflicts] == [certno(2)]
    with pytest.raises(CarryOverRefused) as refused:
        check_submit(CarryOverStatus.DRAFT, len(unresolved.conflicts))
    assert refused.value.code == "CARRY_OVER_CONFLICTS"
    # the year's priority order (data) decides: subsistence before severe disability
    merged = merge(rows, rules_for("450204", 2024).identity_priority)
    assert (merged.conflicts, merged.resolved_by_priority, len(merged.persons)) == ([], 1, 3)
    both = next(p for p in merged.persons if p.row.certno == certno(2))
    assert (both.row.identity, both.medical_assistance) == (Identity.SUBSISTENCE, True)
    assert both.sources == ("civil_affairs", "disabled_federation")
    # frozen means frozen
    for check in (check_upload, lambda s: check_submit(s, 0)):
        with pytest.raises(CarryOverRefused) as refused:
            check(CarryOverStatus.FROZEN)
        assert refused.value.code == "CARRY_OVER_FROZEN"
    with pytest.raises(CarryOverRefused) as refused:
        check_freeze(CarryOverStatus.DRAFT)
    assert refused.value.code == "CARRY_OVER_NOT_SUBMITTED"


def test_004_一_二_the_frozen_list_sets_identity_and_assistance_flag_from_1_january():
    """一(二) 特殊人员年度结转参保缴费及医疗救助系统身份标识, 由区医保局根据有关文件执行."""
    known = registered(4, on=date(2023, 10, 10), year=2024)  # ordinary in 2024
    [parsed] = parse_carry_over(
        f"certno,name,identity,medical_assistance,region,organization\n"
        f"{certno(4)},居民4,severe_disability,1,450204,潭西街道\n".encode()
    ).rows
    [person] = merge([SourceRow("disabled_federation", parsed)], ()).persons
    payloads = freeze_person(known, person, 2025, rules_for, DEC_2024)
    assert [type(p) for p in payloads] == [Registered, IdentityChanged, CarriedOver]
    state = happen(known, DEC_2024, *payloads)
    assert state.identity_on(date(2024, 12, 31)).identity is Identity.ORDINARY
    on_new_year = state.identity_on(date(2025, 1, 1))
    assert (on_new_year.identity, on_new_year.medical_assistance) == (
        Identity.SEVERE_DISABILITY,
        True,
    )
    assert state.years[2025].carried_over
    # premium paid on their behalf: the on-behalf subsidy for the tax bureau
    [granted] = subsidies.reconcile(state, 2025)
    assert isinstance(granted, SubsidyGranted)
    assert (granted.kind, granted.amount, granted.tax_serial) == (
        "paid_on_behalf",
        Decimal("400.00"),
        None,
    )
    # freezing again changes nothing
    assert freeze_person(state, person, 2025, rules_for, DEC_2024) == []


def test_004_二_一_1_a_new_special_person_is_changed_in_the_month_added():
    """二(一)1 新增特殊人员, 应在新增当月 … 做好参保登记 … 将普通居民身份变更为特殊人员身份."""
    state = registered(5, on=date(2023, 10, 10), year=2024)
    today = date(2024, 3, 17)
    effective = domain.recorded_month(None, today, may_backdate=False)
    assert effective == date(2024, 3, 1)
    payloads = domain.change_identity(
        state,
        identity=Identity.SUBSISTENCE,
        medical_assistance=False,
        effective_from=effective,
        reason="民政局低保认定",
        evidence_ref="MZ-2024-031",
        rules_for=rules_for,
    )
    assert [type(p) for p in payloads] == [IdentityChanged, PremiumDueChanged]
    # back-dating to February needs the district; a later month is refused for everyone
    with pytest.raises(DomainError) as info:
        domain.recorded_month(date(2024, 2, 1), today, may_backdate=False)
    assert info.value.code == "BACKDATE_NOT_ALLOWED"
    assert domain.recorded_month(date(2024, 2, 9), today, may_backdate=True) == date(2024, 2, 1)
    with pytest.raises(DomainError) as info:
        domain.recorded_month(date(2024, 4, 1), today, may_backdate=True)
    assert info.value.code == "INVALID_EFFECTIVE_DATE"


def test_004_二_一_2_an_exit_needs_its_evidence_and_keeps_the_years_cover():
    """二(一)2 非死亡原因退出特殊人员身份的, 应在退出当月 … 收集特殊人员退出证明材料."""
    state = registered(6, on=date(2023, 10, 10), year=2024, identity=Identity.SUBSISTENCE)
    exit_ = {
        "identity": Identity.ORDINARY,
        "medical_assistance": False,
        "effective_from": date(2024, 10, 1),
        "reason": "收入超标",
        "rules_for": rules_for,
    }
    with pytest.raises(DomainError) as info:
        domain.change_identity(state, evidence_ref=None, **exit_)
    assert info.value.code == "EVIDENCE_REQUIRED"
    payloads = domain.change_identity(state, evidence_ref="MZ-TC-9", **exit_)
    # no premium-due-changed for 2024: the year's premium was settled when collected
    assert [type(p) for p in payloads] == [IdentityChanged]
    assert happen(state, date(2024, 10, 8), *payloads).years[2024].covered


def test_004_二_一_3_a_death_leaves_a_month_to_settle_at_most_three_then_stops():
    """二(一)3 因死亡退出 … 在参保人死亡1个月内(特殊情况不得超过3个月)及时做好就医消费结算 …
    做好医保系统停保处理."""
    state = registered(7, on=date(2023, 10, 10), year=2024, identity=Identity.DESTITUTE)
    today = date(2024, 5, 20)
    [death] = domain.record_death(
        state, date_of_death=date(2024, 5, 12), settlement_deadline=None, today=today
    )
    assert death == DeceasedStop(
        date_of_death=date(2024, 5, 12), settlement_deadline=date(2024, 6, 12)
    )
    state = happen(state, today, death)
    with pytest.raises(DomainError) as info:
        domain.record_death(
            state,
            date_of_death=date(2024, 5, 12),
            settlement_deadline=date(2024, 8, 13),
            today=today,
        )
    assert info.value.code == "DEADLINE_BEYOND_LIMIT"
    # settled in June: the stop is brought forward to that day
    [stop] = domain.record_death(
        state, date_of_death=date(2024, 5, 12), settlement_deadline=date(2024, 6, 3), today=today
    )
    assert happen(state, date(2024, 6, 3), stop).settlement_deadline == date(2024, 6, 3)


def test_004_二_一_4_the_monthly_civil_affairs_list_sets_the_assistance_flags_by_the_5th():
    """二(一)4 每月5日前, 区医保局根据区民政局提供的特殊人员名单做好医保系统医疗救助对象身份标识."""
    march = Month(2024, 3)
    listed = registered(8, on=date(2023, 10, 10), year=2024)
    flagged = happen(
        registered(9, on=date(2023, 10, 10), year=2024),
        date(2024, 1, 2),
        *domain.assistance_flag(
            registered(9, on=date(2023, 10, 10), year=2024), True, date(2024, 1, 1), "1月", "a"
        ),
    )
    parsed = parse_assistance(f"姓名,身份证号\n居民8,{certno(8)}\n".encode("gb18030"))
    assert [r.certno for r in parsed.rows] == [certno(8)]
    [on] = apply_list(listed, True, march)
    [off] = apply_list(flagged, False, march)
    assert (on.medical_assistance, on.effective_from) == (True, date(2024, 3, 1))
    assert (off.medical_assistance, off.identity) == (False, Identity.ORDINARY)
    # the same list again writes nothing
    assert apply_list(happen(listed, date(2024, 3, 4), on), True, march) == []
    assert not assistance_list_late(march, date(2024, 3, 5))
    assert assistance_list_late(march, date(2024, 3, 6))


def test_004_二_二_1_added_by_30_june_the_premium_is_paid_on_their_behalf():
    """二(二)1 6月30日前新增特殊人员(除建档立卡贫困人员外) … 由区医保局核准后向税务局代缴个人保费;
    新增建档立卡贫困人员 … 待柳州市政策明确."""
    base = registered(10, on=date(2023, 10, 10), year=2024)
    change = IdentityChanged(
        identity=Identity.SEVERE_DISABILITY,
        medical_assistance=False,
        effective_from=date(2024, 6, 1),
        reason="残联认定",
    )
    [granted] = subsidies.reconcile(happen(base, date(2024, 6, 3), change), 2024)
    assert (granted.kind, granted.status, granted.tax_serial) == ("paid_on_behalf", "payable", None)
    poor = change.model_copy(update={"identity": Identity.POVERTY_REGISTERED})
    [pending] = subsidies.reconcile(happen(base, date(2024, 6, 3), poor), 2024)
    assert (pending.kind, pending.status) == ("paid_on_behalf", "pending_policy")


def test_004_二_二_2_added_after_30_june_they_pay_then_get_it_all_back():
    """二(二)2 6月30日以后新增的特殊人员个人先参保缴费后, 凭参保缴费凭证向医保局申请个人缴费补助
    (除重残人员外)."""
    base = happen(registered(11, on=date(2023, 10, 10), year=2024), date(2023, 11, 2))
    base = happen(base, date(2023, 11, 2), paid(2024, on=date(2023, 11, 2)))
    change = IdentityChanged(
        identity=Identity.ORPHAN,
        medical_assistance=False,
        effective_from=date(2024, 7, 1),
        reason="民政认定",
    )
    state = happen(base, date(2024, 7, 5), change)
    [granted] = subsidies.reconcile(state, 2024)
    assert (granted.kind, granted.amount, granted.status) == (
        "refund_after_payment",
        Decimal("400.00"),
        "payable",
    )
    disabled = change.model_copy(update={"identity": Identity.SEVERE_DISABILITY})
    [pending] = subsidies.reconcile(happen(base, date(2024, 7, 5), disabled), 2024)
    assert (pending.kind, pending.status) == ("refund_after_payment", "pending_policy")


def test_004_二_二_3_new_low_income_adults_get_60_percent_of_what_they_paid():
    """二(二)3 新增低收入人员(未成年人除外), 按先缴后补的原则 … 按个人缴费部分的60%给予补助."""
    base = registered(12, on=date(2023, 10, 10), year=2024)
    change = IdentityChanged(
        identity=Identity.LOW_INCOME_ELDERLY,
        medical_assistance=False,
        effective_from=date(2024, 8, 1),
        reason="低收入认定",
    )
    # not paid yet: nothing; once paid: 60 %
    assert subsidies.reconcile(happen(base, date(2024, 8, 2), change), 2024) == []
    state = happen(base, date(2024, 8, 2), change, paid(2024, on=date(2024, 8, 20)))
    [granted] = subsidies.reconcile(state, 2024)
    assert (granted.kind, granted.amount) == ("low_income_60", Decimal("240.00"))
    minor = change.model_copy(update={"identity": Identity.LOW_INCOME_MINOR})
    state = happen(base, date(2024, 8, 2), minor, paid(2024, on=date(2024, 8, 20)))
    assert subsidies.reconcile(state, 2024)[0].kind == "refund_after_payment"


def test_004_二_三_the_monthly_report_counts_additions_exits_and_changes_per_town():
    """二(三) 各镇、街道每月做好特殊人员增减和身份变更的情况统计 … 《柳南区特殊人员医疗保障
    变动情况月报表》."""
    april = Month(2024, 4)
    stays = registered(13, on=date(2023, 10, 1), year=2024, identity=Identity.ORPHAN)
    joins = happen(
        registered(14, on=date(2023, 10, 1), year=2024, organization="鹧鸪江街道"),
        date(2024, 4, 9),
        IdentityChanged(
            identity=Identity.SUBSISTENCE,
            medical_assistance=True,
            effective_from=date(2024, 4, 1),
            reason="低保认定",
        ),
    )
    dies = happen(
        registered(15, on=date(2023, 10, 1), year=2024, identity=Identity.DESTITUTE),
        date(2024, 4, 20),
        DeceasedStop(date_of_death=date(2024, 4, 18), settlement_deadline=date(2024, 5, 18)),
    )
    report = monthly_report([stays, joins, dies], april, today=date(2024, 4, 25))
    assert report.provisional
    rows = {r.organization: r for r in report.rows}
    assert (rows["潭西街道"].at_start, rows["潭西街道"].exited_death, rows["潭西街道"].at_end) == (
        2,
        1,
        1,
    )
    assert (rows["鹧鸪江街道"].added, rows["鹧鸪江街道"].assistance_flagged) == (1, 1)
    assert all(r.balanced for r in report.rows)
    assert sorted(d.change for d in report.details) == ["新增", "死亡退出"]
    assert all("*" in d.certno for d in report.details)
    assert title("柳南区", april) == "柳南区 特殊人员医疗保障变动情况月报表 2024年4月"
    assert not monthly_report([stays], april, today=date(2024, 5, 1)).provisional
