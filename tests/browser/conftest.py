"""Browser tests: Debian's Chromium, driven by Playwright, opens the settings app the way Pipedrive does (the
Pipedrive sandbox's host page embeds it in an iframe) against the whole stack the e2e tests run.

Playwright never downloads a browser here: ``./dev test`` installs Debian's ``chromium`` when it is missing, and
``PDX_CHROMIUM`` names another binary. Screenshots of every section land in ``.local/screenshots/<test>/`` (ignored
by git), or in ``PDX_SCREENSHOTS``.
"""

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from pdx_devstack.peek import sandbox_post
from tests.browser.host import new_context
from tests.e2e.conftest import stack  # noqa: F401  (the e2e suite's whole-stack fixture, one per package)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PDX_SCREENSHOTS") or ROOT / ".local" / "screenshots")

# A closed network makes Chromium wait on its background connections (updates, sync, QUIC probes); none are needed.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Generous: the stack shares two cores with other work, and a page may wait on Pipedrive and Xero sandbox calls.
expect.set_options(timeout=30_000)

Screenshot = Callable[[Page, str], Awaitable[Path]]


def chromium_binary() -> str:
    binary = os.environ.get("PDX_CHROMIUM") or "/usr/bin/chromium"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"the browser tests need Chromium at {binary}: run them through `./dev test`, which installs "
                    "Debian's chromium, or `apt-get install -y chromium` as root, or set PDX_CHROMIUM", pytrace=False)
    return binary


@pytest.fixture(autouse=True)
async def xero_consent_page(request: pytest.FixtureRequest) -> None:
    """With the stack: Xero's sign-in shows its consent page, where a person ticks the organisations (the stack's own
    install, before any test, consented without a page)."""
    if "stack" in request.fixturenames:
        running = request.getfixturevalue("stack")
        await sandbox_post(running.urls["xero"], "/_sandbox/consent", {"mode": "page"})


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium per test (Playwright gives each launch its own empty profile directory)."""
    executable = chromium_binary()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """One browser context (cookies, storage) per test; a second person is ``host.new_context(browser)``."""
    made = await new_context(browser)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    made = await context.new_page()
    yield made
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not made.is_closed():  # what the browser showed when it failed
        folder = SCREENSHOTS / screenshot_folder(request.node.name)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            async with whole_app_frame(made):
                await made.screenshot(path=str(folder / "failed.png"), full_page=True)
        except PlaywrightError as exc:  # the failure itself is what the report must show
            print(f"no screenshot of the failure: {exc}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def screenshot_folder(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """``await screenshot(page, "connections")`` saves the whole page as .local/screenshots/<test>/connections.png."""
    folder = SCREENSHOTS / screenshot_folder(request.node.name)

    async def save(target: Page, section: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{section}.png"
        async with whole_app_frame(target):
            await target.screenshot(path=str(path), full_page=True)
        return path

    return save


@asynccontextmanager
async def whole_app_frame(page: Page) -> AsyncIterator[None]:
    """For a screenshot only: the host's app iframe as tall as the section inside it (as the SDK's resize would make
    it), so the picture holds the whole section; the host's own height comes back afterwards."""
    element = page.locator("iframe#app-frame")
    if not await element.count():
        yield
        return
    handle = await element.element_handle()
    frame = await handle.content_frame()
    await handle.dispose()
    height = await frame.evaluate("document.documentElement.scrollHeight") if frame else 0
    before = await element.evaluate("(el, h) => { const was = el.style.height; if (h) el.style.height = h + 'px'; "
                                    "return was; }", height)
    try:
        yield
    finally:
        await element.evaluate("(el, was) => { el.style.height = was; }", before)
