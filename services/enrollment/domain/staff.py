"""Staff access (SPEC §8), pure: roles and their scopes, what each role may do, who is in scope.

A staff member has one role. Three roles are bounded by a scope and must name it, the others
must not (a scope on a city-wide role would read as a restriction that is not enforced):

* ``district`` — a region code prefix (``--region 371502``, or ``3715`` for several districts);
* ``town`` — an organization (the street or town office: the person's ``organization``);
* ``department`` — the source department whose lists it hands in.

``may(role, action)`` is the role table; ``in_scope(staff, …)`` is the scope predicate. An
action needs both: the role's permission, then the person or list inside the scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from shared.errors import CodedError


class Role(StrEnum):
    ADMIN = "admin"
    CITY = "city"
    DISTRICT = "district"
    TOWN = "town"
    DEPARTMENT = "department"
    TAX = "tax"
    AUDITOR = "auditor"


class Source(StrEnum):
    """The departments that hand in lists of special persons (SPEC §7)."""

    CIVIL_AFFAIRS = "civil_affairs"
    DISABLED_FEDERATION = "disabled_federation"
    HEALTH = "health"
    RURAL_REVITALIZATION = "rural_revitalization"


class Action(StrEnum):
    """Everything a route may ask permission for; phase 2 puts one on each route."""

    MANAGE_STAFF = "staff.manage"
    READ_AUDIT = "audit.read"
    READ_PERSONS = "persons.read"
    REGISTER = "persons.register"
    # A registration outside the year's registration window (premium rules ``[calendar]``):
    # the district takes it, and it is flagged (SPEC §7, issue 11).
    REGISTER_LATE = "persons.register_late"
    IMPORT_LIST = "persons.import_list"
    CHANGE_IDENTITY = "persons.change_identity"
    BACKDATE_IDENTITY = "persons.backdate_identity"
    RECORD_DEATH = "persons.record_death"
    READ_BASIC_DATA = "basic_data.read"
    PUBLISH_BASIC_DATA = "basic_data.publish"
    READ_UNMATCHED = "payments.read_unmatched"
    RETRY_PAYMENTS = "payments.retry"
    READ_CARRY_OVER = "carry_over.read"
    UPLOAD_CARRY_OVER = "carry_over.upload"
    SUBMIT_CARRY_OVER = "carry_over.submit"
    FREEZE_CARRY_OVER = "carry_over.freeze"
    UPLOAD_ASSISTANCE = "assistance.upload"
    READ_SUBSIDIES = "subsidies.read"
    APPROVE_SUBSIDIES = "subsidies.approve"
    PAY_SUBSIDIES = "subsidies.pay"
    EXPORT = "exports.download"
    READ_REPORTS = "reports.read"


READS = frozenset(
    {
        Action.READ_PERSONS,
        Action.READ_BASIC_DATA,
        Action.READ_UNMATCHED,
        Action.READ_CARRY_OVER,
        Action.READ_SUBSIDIES,
        Action.EXPORT,
        Action.READ_REPORTS,
    }
)
""""Read everything": what ``city`` and ``auditor`` see. The audit log is not in it."""

POLICY: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.CITY: READS | {Action.FREEZE_CARRY_OVER},
    Role.DISTRICT: frozenset(
        {
            Action.READ_PERSONS,
            Action.REGISTER_LATE,
            Action.READ_CARRY_OVER,
            Action.SUBMIT_CARRY_OVER,
            Action.READ_SUBSIDIES,
            Action.APPROVE_SUBSIDIES,
            Action.PAY_SUBSIDIES,
            Action.BACKDATE_IDENTITY,
            Action.EXPORT,
            Action.READ_UNMATCHED,
            Action.RETRY_PAYMENTS,
            Action.READ_REPORTS,
        }
    ),
    Role.TOWN: frozenset(
        {
            Action.READ_PERSONS,
            Action.REGISTER,
            Action.IMPORT_LIST,
            Action.CHANGE_IDENTITY,
            Action.RECORD_DEATH,
            Action.READ_REPORTS,
        }
    ),
    # Which list a department may upload is its scope (its own source; the monthly assistance
    # list only for civil_affairs): in_scope(staff, source=...) decides that.
    Role.DEPARTMENT: frozenset({Action.UPLOAD_CARRY_OVER, Action.UPLOAD_ASSISTANCE}),
    Role.TAX: frozenset({Action.READ_BASIC_DATA, Action.PUBLISH_BASIC_DATA, Action.READ_UNMATCHED}),
    Role.AUDITOR: READS | {Action.READ_AUDIT},
}
"""The role table of SPEC §8. ``auditor`` writes nothing: only reads are in its row."""

CITY_WIDE = frozenset({Role.ADMIN, Role.CITY, Role.TAX, Role.AUDITOR})

MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=5)
"""Five wrong passwords for one name within five minutes lock that name's logins for a while."""

MIN_PASSWORD_LENGTH = 10

_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
_REGION_PREFIX = re.compile(r"\d{2,6}")


class StaffError(CodedError):
    """A staff record or request is refused: ``INVALID_STAFF``, ``STAFF_EXISTS``…"""


class Forbidden(CodedError):
    """The caller is known but the role or scope does not allow this: 403 ``FORBIDDEN``."""

    def __init__(self, message: str) -> None:
        super().__init__("FORBIDDEN", message)


class TooManyAttempts(CodedError):
    """Logins for a name are paused after repeated failures: 429 ``TOO_MANY_ATTEMPTS``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "TOO_MANY_ATTEMPTS", f"too many failed logins for this name; retry in {retry_after}s"
        )
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, as the audit log and events record it: a staff member or a system."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Staff:
    """A validated staff member (the principal a request acts as); build it with ``new_staff``."""

    name: str
    role: Role
    region: str | None = None
    organization: str | None = None
    source: Source | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role.value)

    @property
    def scope(self) -> dict[str, str]:
        """The scope as option → value (empty for a city-wide role): the token's scope claims."""
        return _given(self.region, self.organization, self.source)

    def scope_text(self) -> str:
        """The scope as one would type it on the command line ("" for a city-wide role)."""
        return " ".join(f"--{option} {value}" for option, value in self.scope.items())


def _given(region: str | None, organization: str | None, source: str | None) -> dict[str, str]:
    options = {"region": region, "organization": organization, "source": source}
    return {option: str(value) for option, value in options.items() if value is not None}


def parse_role(raw: str) -> Role:
    """The role named ``raw``, or ``INVALID_STAFF`` naming the roles there are."""
    try:
        return Role(raw)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise StaffError("INVALID_STAFF", f"unknown role {raw!r}; roles: {known}") from None


def new_staff(
    name: str,
    role: str,
    *,
    region: str | None = None,
    organization: str | None = None,
    source: str | None = None,
) -> Staff:
    """Validate a staff member: a usable name, a known role and exactly the scope it needs."""
    if not valid_name(name):
        raise StaffError(
            "INVALID_STAFF", "name must be 1–64 characters without spaces or control characters"
        )
    parsed = parse_role(role)
    given = set(_given(region, organization, source))
    needed = _SCOPE_OPTION.get(parsed)
    expected = {needed} if needed else set()
    if given != expected:
        want = f"needs --{needed}" if needed else "takes no scope"
        extra = ", ".join(f"--{option}" for option in sorted(given - expected))
        raise StaffError(
            "INVALID_STAFF", f"role {parsed.value} {want}" + (f" (not {extra})" if extra else "")
        )
    if region is not None and not _REGION_PREFIX.fullmatch(region):
        raise StaffError("INVALID_STAFF", "region must be a region code prefix of 2–6 digits")
    if organization is not None and not 0 < len(organization.strip()) <= 100:
        raise StaffError("INVALID_STAFF", "organization must be 1–100 characters")
    return Staff(
        name,
        parsed,
        region=region,
        organization=organization.strip() if organization is not None else None,
        source=_parse_source(source) if source is not None else None,
    )


_SCOPE_OPTION = {Role.DISTRICT: "region", Role.TOWN: "organization", Role.DEPARTMENT: "source"}


def _parse_source(raw: str) -> Source:
    try:
        return Source(raw)
    except ValueError:
        known = ", ".join(source.value for source in Source)
        raise StaffError("INVALID_STAFF", f"unknown source {raw!r}; sources: {known}") from None


def check_password(password: str) -> str:
    """A password long enough to be worth hashing, or ``INVALID_STAFF``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(
            "INVALID_STAFF", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


def may(role: Role, action: Action) -> bool:
    """Whether the role table lets ``role`` do ``action`` (scope aside)."""
    return action in POLICY[role]


def in_scope(
    staff: Staff,
    *,
    region: str | None = None,
    organization: str | None = None,
    source: str | None = None,
) -> bool:
    """Whether a person or list with these attributes lies inside ``staff``'s scope.

    City-wide roles see everything. A scoped role is judged on its own attribute alone, and
    an attribute that is not given is not in scope (refuse by default).
    """
    if staff.role in CITY_WIDE:
        return True
    if staff.role is Role.DISTRICT:
        return region is not None and staff.region is not None and region.startswith(staff.region)
    if staff.role is Role.TOWN:
        return organization is not None and organization.strip() == staff.organization
    if staff.role is Role.DEPARTMENT:
        return source is not None and source == staff.source
    return False


def valid_name(name: str) -> bool:
    """Whether ``name`` could be a staff name (a login with any other is refused unread)."""
    return _NAME.fullmatch(name) is not None


def login_locked(failures_in_window: int) -> bool:
    """Whether a name with this many recent failed logins must wait (``TOO_MANY_ATTEMPTS``)."""
    return failures_in_window >= MAX_FAILED_LOGINS
