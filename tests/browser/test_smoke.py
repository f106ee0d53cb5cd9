"""Chromium starts from the system binary and renders a page served on 127.0.0.1 (no browser download, no network)."""

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.browser.host import open_app

PAGE = """<!doctype html><html lang="en"><head><title>Smoke</title></head>
<body><h1>Settings</h1><label for="name">Name</label><input id="name" value="Demo Company (NZ)"></body></html>"""


async def _serve(_: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@pytest.fixture
async def local_site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/", _serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_chromium_renders_a_page_served_on_loopback(page: Page, local_site: str, screenshot) -> None:
    await page.goto(local_site)

    await expect(page).to_have_title("Smoke")
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    await expect(page.get_by_label("Name")).to_have_value("Demo Company (NZ)")
    assert (await screenshot(page, "smoke")).stat().st_size > 0


async def test_the_host_page_opens_the_settings_app_for_the_admin(stack, page: Page, screenshot) -> None:
    app = await open_app(page, stack)

    await expect(app.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    await expect(app.get_by_text("Admin", exact=True)).to_be_visible()
    await screenshot(page, "connections")
