"""The console in a real browser (Debian's headless Chromium, driven by Playwright): a
dead letter found by CPR, opened and resent by an integrator, then seen delivered.

Needs /usr/bin/chromium (`scripts/install-servers` installs it): skipped without it,
failed under CI=true. Playwright never downloads a browser here: it drives Debian's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import api_token, delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.simulators.faults import Faults
from engine.simulators.mllp_client import send_all

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Where the screenshot goes: the test's folder, or KANAL_SCREENSHOT (the README's picture
# is made with KANAL_SCREENSHOT=bench/results/console.png), so a test run leaves the tree clean
SCREENSHOT_ENV = "KANAL_SCREENSHOT"
CPR = "1203521234"


def unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI never skips the browser test)")
    pytest.skip(why)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: scripts/install-servers installs Debian's chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[dev]'")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


async def test_an_integrator_finds_a_dead_letter_by_cpr_and_resends_it(
    start_engine, epj, browser, tmp_path
):
    from playwright.async_api import expect

    epj.faults = Faults(reject_all=True)  # the EPJ refuses it (AE): DEAD at once
    engine = await start_engine(
        mllp_in("lab", to_mllp("epj", epj.port, retry="{ max_attempts = 1 }"))
    )
    await send_all("127.0.0.1", engine.listeners["lab"].port, [hl7("DEAD-1", CPR, "ORU^R01")])
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    epj.faults = Faults()  # the EPJ is fixed

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    base = f"http://127.0.0.1:{engine.api_port}"
    await page.goto(f"{base}/console/messages")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await page.get_by_label("API token").fill(api_token(engine, "integrator"))
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Messages")).to_be_visible()  # where we went
    await page.keyboard.press("Tab")  # the first stop is the skip link, then the content
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

    await page.get_by_label("CPR").fill("120352-1234")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("td.cpr")).to_have_text(["120352-****"])
    assert CPR not in (await page.locator("table").inner_text())
    await page.get_by_role("link", name="1", exact=True).click()

    await expect(page.get_by_role("heading", name="Message 1")).to_be_visible()
    await expect(page.locator(".delivery .status")).to_have_text("DEAD")
    await page.get_by_label("Reason for resending (optional)").fill("the EPJ is fixed")
    await page.get_by_role("button", name="Resend").click()
    await expect(page.get_by_role("status")).to_contain_text("1 delivery queued again")

    await epj.wait_for(1)
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    await page.reload()
    await expect(page.locator(".delivery .status")).to_have_text("SENT")
    await expect(page.get_by_role("cell", name="RESEND", exact=True)).to_be_visible()

    screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "console.png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
