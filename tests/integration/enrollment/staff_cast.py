"""The staff the enrollment HTTP tests act as: one of each role, and for each scoped role one
member inside the test data's scope and one outside it."""

from __future__ import annotations

from dataclasses import dataclass

from services.enrollment.domain.staff import Role, Staff, new_staff

from .people import unique_certno

REGION = "371502"
TOWN_A = "Dongchang street"
TOWN_B = "Xincheng street"
YEAR = 2026

CAST: dict[str, Staff] = {
    "admin": new_staff("admin", "admin"),
    "city": new_staff("city.1", "city"),
    "auditor": new_staff("auditor.1", "auditor"),
    "tax": new_staff("tax.1", "tax"),
    "district": new_staff("district.1", "district", region="3715"),
    "district.other": new_staff("district.2", "district", region="1101"),
    "town": new_staff("town.a", "town", organization=TOWN_A),
    "town.b": new_staff("town.b", "town", organization=TOWN_B),
    "department": new_staff("dept.civil", "department", source="civil_affairs"),
    "department.health": new_staff("dept.health", "department", source="health"),
}

IN_SCOPE: dict[Role, str] = {
    Role.ADMIN: "admin",
    Role.CITY: "city",
    Role.AUDITOR: "auditor",
    Role.TAX: "tax",
    Role.DISTRICT: "district",
    Role.TOWN: "town",
    Role.DEPARTMENT: "department",
}
"""Per role, the cast member whose scope holds the test data (region 371502, TOWN_A,
civil_affairs)."""


@dataclass(frozen=True)
class Person:
    psn_no: str
    certno: str
    name: str
    region: str
    organization: str


async def register_person(client, n: int, name: str, region: str, organization: str) -> Person:
    certno = unique_certno(n, region)
    answer = await client.post(
        "/api/v1/persons",
        json={
            "certno": certno,
            "name": name,
            "category": "resident",
            "region": region,
            "organization": organization,
            "insurance_year": YEAR,
        },
    )
    assert answer.status_code == 201, answer.text
    return Person(answer.json()["psn_no"], certno, name, region, organization)
