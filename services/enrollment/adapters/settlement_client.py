"""What settlement applied, read over HTTP: ``GET /api/v1/ops/applied-versions`` (issue 9).

Settlement's ops routes take enrollment's signed staff access tokens (``docs/staff-access.md``).
The client is given one (``--token``, from ``POST /api/v1/session``) or signs its own with the
private key enrollment already holds (``STAFF_TOKEN_PRIVATE_KEY_FILE``), as ``reconcile`` with the
read-only ``auditor`` role; a signed token is made afresh for each page, so a long pass never
meets the 15-minute expiry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from shared import staff_tokens

ROUTE = "/api/v1/ops/applied-versions"
RECONCILER = "reconcile"  # the name in a self-signed token (settlement logs it, nothing else)
READ_ROLE = "auditor"  # settlement's table lets it read; it writes nothing anywhere


class SettlementUnavailable(Exception):
    """Settlement refused or did not answer (the message says which)."""


def token_source(token: str | None, private_key_file: Path | None) -> Callable[[], str]:
    """Where each request's bearer token comes from: the one given, or signed now."""
    if token:
        return lambda: token
    if private_key_file is None:
        raise SettlementUnavailable(
            "no token: pass --token (an access token from POST /api/v1/session) or set"
            " STAFF_TOKEN_PRIVATE_KEY_FILE"
        )
    key = staff_tokens.load_private_key(private_key_file)
    return lambda: staff_tokens.sign(key, RECONCILER, READ_ROLE)[0]


class AppliedVersions:
    """Settlement's (psn_no, last applied version) pairs, page by page."""

    def __init__(
        self, http: httpx.AsyncClient, token: Callable[[], str], *, page_size: int = 5000
    ) -> None:
        self.http = http
        self.token = token
        self.page_size = page_size

    async def pages(self, after: str, through: str | None) -> AsyncIterator[list[tuple[str, int]]]:
        """Settlement's persons with ``after < psn_no <= through`` (no upper end: ``None``)."""
        while True:
            params: dict[str, str | int] = {"after": after, "limit": self.page_size}
            if through is not None:
                params["through"] = through
            answer = await self._get(params)
            page = [(item["psn_no"], int(item["version"])) for item in answer["items"]]
            if page:
                yield page
            if answer.get("next_after") is None:
                return
            after = answer["next_after"]

    async def _get(self, params: dict[str, str | int]) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        try:
            response = await self.http.get(ROUTE, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise SettlementUnavailable(f"settlement did not answer: {exc!r}") from exc
        if response.status_code != 200:
            raise SettlementUnavailable(
                f"settlement answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()
