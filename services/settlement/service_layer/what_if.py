"""What-if (SPEC §10): re-adjudicate a year's settled claims under the policy in force and a
draft, side by side — for ``settlement what-if`` and ``GET /api/v1/ops/what-if``.

The year is cut into ranges of persons (``ledger_claims.person_bounds``); each range is read and
run by one worker (``run_share``: its own database connection, in a process of its own when the
year is large enough to pay for one), and the workers' tallies are merged. A claim costs about
50 µs of CPU, 30 of them the two adjudications: a million claims are about a minute of CPU,
shared by the workers (``bench/what_if.py``, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from services.settlement.adapters import ledger_claims
from services.settlement.domain.what_if import Run
from services.settlement.domain.what_if_report import Selection, report
from services.settlement.engine import Policy, PolicyError, PolicyRegistry, load_policy
from shared.db import make_engine
from shared.errors import CodedError

PARALLEL_FROM = 50_000  # claims: below this one worker (a process costs about a second)
MAX_WORKERS = 8
_PREFIX = re.compile(r"^[0-9]{1,6}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class WhatIfRefused(CodedError):
    """A what-if that cannot run as asked (422): a draft that is no policy, an unknown draft, a
    bad region, a year with no claims."""


def load_draft(
    draft: str,
    policies: PolicyRegistry,
    *,
    drafts_dir: Path | None = None,
    allow_paths: bool = False,
) -> Policy:
    """The draft: a registered or shipped policy's name, a TOML file in ``drafts_dir`` by name,
    or (``allow_paths``: the command line only) a TOML file's path. A draft file is read afresh
    each time: it is being edited."""
    try:
        if allow_paths and (draft.endswith(".toml") or Path(draft).is_file()):
            return Policy.from_file(draft)
        if not _NAME.match(draft):
            raise WhatIfRefused(
                "POLICY_NOT_FOUND", f"policy {draft!r}: give a policy's name (letters, digits, -_.)"
            )
        registered = policies.by_name(draft)
        if registered is not None:
            return registered
        if drafts_dir is not None and (drafts_dir / f"{draft}.toml").is_file():
            return Policy.from_file(drafts_dir / f"{draft}.toml")
        return load_policy(draft)
    except PolicyError as exc:
        code = "POLICY_NOT_FOUND" if str(exc).startswith("no such policy") else "INVALID_POLICY"
        raise WhatIfRefused(code, str(exc)) from None
    except OSError as exc:
        raise WhatIfRefused("POLICY_NOT_FOUND", f"policy {draft!r}: {exc}") from None


def regions_of(region: str | None, draft: Policy) -> tuple[str, ...]:
    """The region prefixes to run: the one asked for, else the draft's own, else every region."""
    if region:
        if not _PREFIX.match(region):
            raise WhatIfRefused(
                "INVALID_REQUEST", f"region {region!r}: a prefix of a region code (1–6 digits)"
            )
        return (region,)
    return tuple(draft.meta.region_prefixes) if draft.meta is not None else ()


async def what_if(
    database_url: str,
    policies: PolicyRegistry,
    draft: Policy,
    year: int,
    regions: Sequence[str] = (),
    workers: int | None = None,
) -> dict[str, Any]:
    """The report of ``year`` (the claims of ``regions``, or all) under the policy in force and
    ``draft``; ``WhatIfRefused`` ``NO_CLAIMS`` when there is nothing to run."""
    regions = tuple(regions)
    # Planned in a thread too: on SQLite the reads run in the reading thread, and a server's
    # event loop must not wait on them.
    claims, bounds = await asyncio.to_thread(_plan, database_url, year, regions, workers)
    if not claims:
        where = f" in region {', '.join(regions)}" if regions else ""
        raise WhatIfRefused(
            "NO_CLAIMS", f"no settled, unreversed claim of {year}{where}: nothing to run"
        )
    shares = [Share(database_url, year, regions, lo, hi, policies, draft) for lo, hi in bounds]
    if len(shares) == 1:
        run = await asyncio.to_thread(run_share, shares[0])
    else:
        run = await _in_processes(shares)
    return report(run, Selection(year, regions, policies.policies, draft))


def _plan(
    database_url: str, year: int, regions: tuple[str, ...], workers: int | None
) -> tuple[int, list[tuple[str | None, str | None]]]:
    """How many claims the year has, and the ranges of persons the workers take."""

    async def plan() -> tuple[int, list[tuple[str | None, str | None]]]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                claims = await ledger_claims.count(conn, year, regions)
                if not claims:
                    return 0, []
                parts = _parts(claims, workers)
                return claims, await ledger_claims.person_bounds(conn, year, regions, claims, parts)
        finally:
            await engine.dispose()

    return asyncio.run(plan())


def _parts(claims: int, workers: int | None) -> int:
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
    return max(1, workers if claims >= PARALLEL_FROM else 1)


async def _in_processes(shares: list[Share]) -> Run:
    loop = asyncio.get_running_loop()
    # spawn, not fork: the caller may be a server with threads and open connections.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(shares), mp_context=context) as pool:
        runs = await asyncio.gather(*(loop.run_in_executor(pool, run_share, s) for s in shares))
    merged = runs[0]
    for other in runs[1:]:
        merged.merge(other)
    return merged


class Share(NamedTuple):
    """What one worker runs: the persons in [lo, hi) of a year, in some regions."""

    database_url: str
    year: int
    regions: tuple[str, ...]
    lo: str | None
    hi: str | None
    policies: PolicyRegistry
    draft: Policy


def run_share(share: Share) -> Run:
    """One worker: its persons read and run on a connection of its own (in a thread or a
    process of its own: it runs its own event loop)."""
    return asyncio.run(_share(share))


async def _share(share: Share) -> Run:
    run = Run(share.year, share.policies.find, share.draft)
    engine = make_engine(share.database_url)
    try:
        async with engine.connect() as conn:
            rows = ledger_claims.stream(conn, share.year, share.regions, share.lo, share.hi)
            async for batch in rows:
                run.feed(batch)
    finally:
        await engine.dispose()
    return run.close()
