"""The ops consoles in a real browser: headless Chromium (Debian's package, driven over the
DevTools protocol, nothing downloaded) against both services served on 127.0.0.1.

It logs in the way a person does (the settlement console sends the browser to enrollment's
login and back), opens every page of both consoles, presses the retry button, switches the
language and logs out; no page may log a console error and no request may leave 127.0.0.1.
A screenshot of each page lands in the test's tmp dir (and, with CONSOLE_SCREENSHOTS=DIR, in
DIR: that is how docs/screenshots is refreshed).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.enrollment.entrypoints.api.app import create_app as enrollment_app
from services.enrollment.settings import Settings as EnrollmentSettings
from services.settlement.entrypoints.api.app import create_app as settlement_app
from services.settlement.settings import Settings as SettlementSettings
from shared import staff_tokens
from shared.tansu import free_port
from tests.support import chromium
from tests.support.console_data import (
    PASSWORD,
    days_to_seed,
    insurance_year,
    seed_enrollment,
    seed_settlement,
)
from tests.support.serve import served

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

LAST_MONTH = days_to_seed()[0].strftime("%Y-%m")  # a whole month of settlements
SETTLEMENT_PAGES = {
    "settlement-overview": "/console",
    "settlement-settlements": f"/console/settlements?month={LAST_MONTH}",
    "settlement-funds": f"/console/funds?month={LAST_MONTH}",
    "settlement-refusals": f"/console/refusals?month={LAST_MONTH}",
    "settlement-catastrophic": "/console/catastrophic",
    "settlement-pipeline": "/console/pipeline",
    "settlement-statements": f"/console/statements?month={LAST_MONTH}",
    "settlement-what-if": "/console/what-if",
}
ENROLLMENT_PAGES = {
    "enrollment-overview": "/console",
    "enrollment-registrations": "/console/registrations",
    "enrollment-collection": "/console/collection",
    "enrollment-special": "/console/special",
    "enrollment-unmatched": "/console/unmatched",
    "enrollment-relay": "/console/relay",
}
LOCAL = ("http://127.0.0.1:", "data:", "about:")


@pytest.fixture
async def consoles(tmp_path) -> AsyncIterator[tuple[str, str]]:
    """Both services on free ports of 127.0.0.1, each linking the other, with a month of data."""
    if chromium.executable() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed: apt-get install -y chromium")
    private, public = staff_tokens.ensure_key_pair(tmp_path / "keys")
    e_port, s_port = free_port(), free_port()
    e_url, s_url = (f"sqlite:///{tmp_path / name}.db" for name in ("enrollment", "settlement"))
    await seed_settlement(s_url)
    enrollment = EnrollmentSettings(
        enrollment_database_url=e_url,
        payment_consumer_enabled=False,
        staff_token_private_key_file=private,
        staff_token_public_key_file=public,
        console_settlement_url=f"http://{{host}}:{s_port}/console",
        kafka_bootstrap_servers="",
    )
    settlement = SettlementSettings(
        SETTLEMENT_DATABASE_URL=s_url,
        STAFF_TOKEN_PUBLIC_KEY_FILE=public,
        CONSOLE_ENROLLMENT_URL=f"http://{{host}}:{e_port}/console",
    )
    with (
        served(enrollment_app(enrollment, run_relay=False), e_port) as e_base,
        served(settlement_app(settlement), s_port) as s_base,
    ):
        await seed_enrollment(e_base, e_url)
        yield e_base, s_base


async def until(page: chromium.Page, condition: str, timeout: float = 20) -> None:
    """Wait until a JavaScript condition holds in the page (after redirects, a refresh)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            if await page.evaluate(condition):
                return
        except RuntimeError:  # between two documents
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {condition} (at {await page.evaluate('location.href')})")


async def shoot(page: chromium.Page, folder: Path, name: str) -> None:
    await page.screenshot(folder / f"{name}.png")
    keep = os.environ.get("CONSOLE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f"{name}.png", Path(keep) / f"{name}.png")


async def test_the_consoles_in_a_real_browser(consoles, tmp_path):
    e_base, s_base = consoles
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with chromium.Browser(tmp_path / "chromium") as browser:
        page = await browser.page()
        try:
            await walk(page, e_base, s_base, shots)
        finally:
            await page.close()
        assert page.errors == [], page.errors
        assert [url for url in page.requests if not url.startswith(LOCAL)] == []
    assert len(list(shots.glob("*.png"))) == len(SETTLEMENT_PAGES) + len(ENROLLMENT_PAGES) + 2


async def walk(page: chromium.Page, e_base: str, s_base: str, shots: Path) -> None:
    # No session: the settlement console sends the browser to enrollment's login, then back.
    await page.goto(f"{s_base}/console/funds")
    await until(page, f"location.href.startsWith('{e_base}/console/login')")
    await shoot(page, shots, "login")
    await page.submit("form.login", {"username": "admin", "password": PASSWORD})
    await until(page, f"location.href === '{s_base}/console/funds'")

    for pages, base in ((SETTLEMENT_PAGES, s_base), (ENROLLMENT_PAGES, e_base)):
        for name, path in pages.items():
            await page.goto(base + path + ("&" if "?" in path else "?") + "lang=en")
            heading = await page.evaluate("document.querySelector('main h1').textContent")
            assert heading and await page.evaluate("document.querySelector('header .who') !== null")
            assert await page.evaluate("document.querySelectorAll('p.note').length") == 0, path
            await shoot(page, shots, name)
    # figures the seed put there are on the pages
    await page.goto(f"{e_base}/console/collection?year={insurance_year()}")
    assert "Dongchang street" in await page.evaluate("document.body.innerText")
    await page.goto(f"{s_base}/console/settlements?month={LAST_MONTH}")
    assert "Liaocheng People's Hospital" in await page.evaluate("document.body.innerText")
    assert await page.evaluate("document.querySelectorAll('svg.chart rect').length") > 10

    # an odd URL is a page with a message
    await page.goto(f"{s_base}/console/settlements?page=-1&sort=nope&month=2026-13")
    assert await page.evaluate("document.querySelectorAll('p.note').length") == 3
    # the retry button (a form with the session's CSRF value)
    await page.goto(f"{e_base}/console/unmatched")
    await page.submit("form.inline", {})
    await until(page, "location.search.includes('retried=1')")
    assert "Retried:" in await page.evaluate("document.querySelector('p.note').textContent")
    # the language switch, remembered from one console to the next page
    await page.goto(f"{e_base}/console/special")
    await page.evaluate("document.querySelector('a[hreflang=zh]').click()")
    await until(page, "document.documentElement.lang === 'zh-CN'")
    assert "特殊人员" in await page.evaluate("document.querySelector('main h1').textContent")
    await shoot(page, shots, "enrollment-special-zh")
    await page.goto(f"{e_base}/console/relay")
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    # the link to the other console keeps the session
    await page.evaluate("document.querySelector('a.peer').click()")
    await until(page, f"location.href.startsWith('{s_base}/console')")
    assert await page.evaluate("document.querySelector('header .who') !== null")
    # logging out ends the session of both consoles
    await page.submit("header form", {})
    await until(page, f"location.href.startsWith('{e_base}/console/login')")
    await page.goto(f"{s_base}/console/pipeline")
    await until(page, f"location.href.startsWith('{e_base}/console/login')")
