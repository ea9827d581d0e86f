"""``enrollment staff add|list|rotate-token|disable|keys``: the staff registry (SPEC §8).

``add`` and ``rotate-token`` print the token alone on their last line (scripts take that line);
it is shown this once, only its hash is kept. ``list`` never shows a token. Each change is an
audit row whose actor is ``cli:`` and the operating-system user.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from services.enrollment.domain.staff import Role, Source
from services.enrollment.entrypoints.commands import with_database
from shared import staff_tokens

if TYPE_CHECKING:
    from services.enrollment.adapters.staff_store import StaffMember
    from services.enrollment.bootstrap import Wiring

T = TypeVar("T")


@click.group()
def staff() -> None:
    """Manage the staff who may call the enrollment API."""


@staff.command()
@click.option("--name", required=True, help="Login name, unique (no spaces).")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="What the person may do (SPEC §8).",
)
@click.option("--region", help="district: the region code prefix it serves.")
@click.option("--organization", help="town: the organization (street/town office) it serves.")
@click.option(
    "--source",
    type=click.Choice([source.value for source in Source]),
    help="department: the department whose lists it hands in.",
)
@click.option("--password-stdin", is_flag=True, help="Read a login password from stdin.")
@click.option(
    "--rotate-if-exists",
    is_flag=True,
    help="If NAME exists with this role and scope, rotate its token instead (setup scripts).",
)
def add(
    name: str,
    role: str,
    region: str | None,
    organization: str | None,
    source: str | None,
    password_stdin: bool,
    rotate_if_exists: bool,
) -> None:
    """Add a staff member; prints the new token alone on the last line."""
    from services.enrollment.domain.staff import StaffError, check_password, new_staff
    from services.enrollment.service_layer.staff import add_staff, console_actor

    try:
        member = new_staff(name, role, region=region, organization=organization, source=source)
        password = check_password(_read_password()) if password_stdin else None
    except StaffError as exc:
        raise click.UsageError(exc.message) from None

    async def work(wiring: Wiring) -> str:
        return await add_staff(
            wiring.sessionmaker,
            member,
            actor=console_actor(),
            password=password,
            rotate_if_exists=rotate_if_exists,
        )

    token = _refusals_to_exit(work)
    scope = member.scope_text()
    click.echo(f"staff {member.name}: {member.role.value}" + (f" ({scope})" if scope else ""))
    click.echo(token)


@staff.command(name="list")
def list_() -> None:
    """List the staff (never their tokens)."""
    from services.enrollment.service_layer.staff import list_staff

    async def work(wiring: Wiring) -> list[StaffMember]:
        return await list_staff(wiring.sessionmaker)

    members = _refusals_to_exit(work)
    for member in members:
        state = f"disabled {member.disabled_at:%Y-%m-%d}" if member.disabled_at else "active"
        click.echo(
            f"{member.staff.name}\t{member.staff.role.value}\t{member.staff.scope_text() or '-'}"
            f"\t{state}\tsince {member.created_at:%Y-%m-%d}"
        )
    if not members:
        click.echo("no staff yet: enrollment staff add --name NAME --role admin", err=True)


@staff.command(name="rotate-token")
@click.option("--name", required=True)
def rotate_token(name: str) -> None:
    """Give NAME a new token (the old one stops working); prints it alone on the last line."""
    from services.enrollment.service_layer.staff import console_actor
    from services.enrollment.service_layer.staff import rotate_token as rotate

    async def work(wiring: Wiring) -> str:
        return await rotate(wiring.sessionmaker, name, actor=console_actor())

    click.echo(_refusals_to_exit(work))


@staff.command()
@click.option("--name", required=True)
def disable(name: str) -> None:
    """Disable NAME: its token, access tokens and logins are refused from now on."""
    from services.enrollment.service_layer.staff import console_actor, disable_staff

    async def work(wiring: Wiring) -> StaffMember:
        return await disable_staff(wiring.sessionmaker, name, actor=console_actor())

    member = _refusals_to_exit(work)
    click.echo(f"staff {member.staff.name}: disabled since {member.disabled_at:%Y-%m-%d %H:%M}Z")


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _refusals_to_exit(work: Callable[[Wiring], Awaitable[T]]) -> T:
    """Run ``work`` on the database; a refusal (unknown name, name taken) exits 1 with its code."""
    from services.enrollment.domain.staff import StaffError

    try:
        return with_database(work, hide_parameters=True)
    except StaffError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@staff.command()
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    help="Folder for the pair (created if missing).",
)
def keys(folder: Path) -> None:
    """Make the Ed25519 key pair that signs staff access tokens, once (an existing pair is kept).

    Prints the two paths: the private key is for enrollment's STAFF_TOKEN_PRIVATE_KEY_FILE, the
    public key for STAFF_TOKEN_PUBLIC_KEY_FILE on both services (docker-compose reads them from
    there as secrets).
    """
    try:
        private, public = staff_tokens.ensure_key_pair(folder)
    except OSError as exc:  # a folder under a file, no permission, a full disk
        message = f"cannot write the key pair under {folder}: {exc.strerror}"
        raise click.ClickException(message) from None
    click.echo(f"private key (enrollment only): {private}")
    click.echo(f"public key (both services):    {public}")
