"""The staff registry and the audit log on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.enrollment.adapters.audit_log import AuditLog, AuditQuery
from services.enrollment.adapters.staff_store import staff_table
from services.enrollment.domain.staff import Actor, StaffError, new_staff
from services.enrollment.service_layer import staff as staff_service
from shared import staff_tokens
from shared.staff_tokens import Unauthenticated

pytestmark = pytest.mark.integration

OPERATOR = Actor("cli:ops", "system")
KEY = Ed25519PrivateKey.generate()


async def add(sessionmaker, name="li.wei", role="town", password=None, **scope):
    scope = scope or ({"organization": "Dongchang street"} if role == "town" else {})
    staff = new_staff(name, role, **scope)
    return await staff_service.add_staff(sessionmaker, staff, actor=OPERATOR, password=password)


async def test_add_list_rotate_disable(sessionmaker):
    first = await add(sessionmaker)
    await add(sessionmaker, "auditor1", "auditor")

    members = await staff_service.list_staff(sessionmaker)
    assert [(m.staff.name, m.staff.role.value, m.active) for m in members] == [
        ("auditor1", "auditor", True),
        ("li.wei", "town", True),
    ]
    assert members[1].staff.organization == "Dongchang street"
    assert (await staff_service.authenticate(sessionmaker, first, None)).name == "li.wei"

    second = await staff_service.rotate_token(sessionmaker, "li.wei", actor=OPERATOR)
    assert second != first
    with pytest.raises(Unauthenticated, match="unknown token"):
        await staff_service.authenticate(sessionmaker, first, None)
    assert (await staff_service.authenticate(sessionmaker, second, None)).name == "li.wei"

    member = await staff_service.disable_staff(sessionmaker, "li.wei", actor=OPERATOR)
    assert not member.active
    with pytest.raises(Unauthenticated, match="disabled"):
        await staff_service.authenticate(sessionmaker, second, None)
    again = await staff_service.disable_staff(sessionmaker, "li.wei", actor=OPERATOR)
    assert again.disabled_at == member.disabled_at  # disabling twice keeps the first date


async def test_only_hashes_are_stored(sessionmaker):
    token = await add(sessionmaker, "pw.holder", "admin", password="correct horse battery")
    async with sessionmaker() as session:
        row = (await session.execute(select(staff_table))).one()._asdict()
    assert token not in repr(row)
    assert "correct horse battery" not in repr(row)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["password_hash"].startswith("$argon2id$")


async def test_a_taken_name_and_an_unknown_name_are_refused(sessionmaker):
    await add(sessionmaker)
    with pytest.raises(StaffError) as taken:
        await add(sessionmaker, role="admin")
    assert taken.value.code == "STAFF_EXISTS"
    for change in (staff_service.rotate_token, staff_service.disable_staff):
        with pytest.raises(StaffError) as unknown:
            await change(sessionmaker, "nobody", actor=OPERATOR)
        assert unknown.value.code == "STAFF_NOT_FOUND"
    assert len(await staff_service.list_staff(sessionmaker)) == 1


async def test_rotate_if_exists_rotates_the_same_member_and_refuses_another(sessionmaker):
    admin = new_staff("admin", "admin")
    first = await staff_service.add_staff(sessionmaker, admin, actor=OPERATOR)
    second = await staff_service.add_staff(
        sessionmaker, admin, actor=OPERATOR, rotate_if_exists=True
    )
    assert second != first
    assert (await staff_service.authenticate(sessionmaker, second, None)).name == "admin"
    with pytest.raises(StaffError, match="STAFF_EXISTS"):
        await staff_service.add_staff(
            sessionmaker, new_staff("admin", "auditor"), actor=OPERATOR, rotate_if_exists=True
        )


async def test_a_signed_token_of_a_disabled_or_unknown_member_is_refused(sessionmaker):
    await add(sessionmaker, "d1", "district", region="3715")
    token, _ = staff_tokens.sign(KEY, "d1", "district", scope={"region": "3715"})
    staff = await staff_service.authenticate(sessionmaker, token, KEY.public_key())
    assert (staff.name, staff.region) == ("d1", "3715")
    with pytest.raises(Unauthenticated, match="no verification key"):
        await staff_service.authenticate(sessionmaker, token, None)

    wrong_role, _ = staff_tokens.sign(KEY, "d1", "admin")
    with pytest.raises(Unauthenticated, match="unknown"):
        await staff_service.authenticate(sessionmaker, wrong_role, KEY.public_key())

    await staff_service.disable_staff(sessionmaker, "d1", actor=OPERATOR)
    with pytest.raises(Unauthenticated, match="disabled"):
        await staff_service.authenticate(sessionmaker, token, KEY.public_key())


async def test_every_change_is_an_audit_row_of_its_actor(sessionmaker):
    await add(sessionmaker)
    await staff_service.rotate_token(sessionmaker, "li.wei", actor=OPERATOR)
    await staff_service.disable_staff(sessionmaker, "li.wei", actor=OPERATOR)
    async with sessionmaker() as session:
        rows = await AuditLog(session).entries(AuditQuery())
    assert [(r.actor, r.action) for r in rows] == [
        (OPERATOR, "staff.add"),
        (OPERATOR, "staff.rotate_token"),
        (OPERATOR, "staff.disable"),
    ]
    assert rows[0].detail == {
        "name": "li.wei",
        "role": "town",
        "organization": "Dongchang street",
    }


async def test_audit_rows_filter_by_time_actor_and_person(sessionmaker):
    t0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        audit = AuditLog(session)
        await audit.record(Actor("t1", "town"), "persons.register", psn_no="P1", now=t0)
        await audit.record(
            Actor("tax1", "tax"), "basic_data.read", records=1200, detail={"year": 2026}, now=t0
        )
        later = t0 + timedelta(days=1)
        await audit.record(Actor("t1", "town"), "persons.record_death", psn_no="P1", now=later)
    async with sessionmaker() as session:
        audit = AuditLog(session)
        by_actor = await audit.entries(AuditQuery(actor="t1"))
        assert [r.action for r in by_actor] == ["persons.register", "persons.record_death"]
        on_day_two = await audit.entries(AuditQuery(start=t0 + timedelta(hours=1)))
        assert [r.psn_no for r in on_day_two] == ["P1"]
        day_one = await audit.entries(AuditQuery(end=t0 + timedelta(hours=1)))
        assert [(r.action, r.records, r.detail) for r in day_one][1] == (
            "basic_data.read",
            1200,
            {"year": 2026},
        )
        assert day_one[0].at == t0  # timezone-aware UTC back, on SQLite too
        assert len(await audit.entries(AuditQuery(psn_no="P1", after_id=by_actor[0].id))) == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"]
)
async def test_the_audit_log_is_append_only(sessionmaker, statement):
    async with sessionmaker() as session, session.begin():
        await AuditLog(session).record(OPERATOR, "staff.add")
    with pytest.raises(DBAPIError, match="append-only"):
        async with sessionmaker() as session, session.begin():
            await session.execute(text(statement))
    async with sessionmaker() as session:
        [row] = await AuditLog(session).entries(AuditQuery())
    assert row.action == "staff.add"
