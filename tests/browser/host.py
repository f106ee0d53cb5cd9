"""Opening the settings app as Pipedrive does: the Pipedrive sandbox's host page embeds the app's settings iframe
with a signed JWT in its query and answers the app-extensions SDK's handshake.

``GET {pipedrive}/host/app-settings?company_id=7001&user_id=12001[&token=expired|forged|other_company]``
"""

from urllib.parse import urlencode

from playwright.async_api import Browser, BrowserContext, FrameLocator, Locator, Page, expect

from pdx_devstack.stack import Stack

ADMIN_USER_ID = 12001  # the sandbox company's admin (pdx_sandbox.pipedrive.seed.USER_ID)
REGULAR_USER_ID = 12002  # a regular user of the same company: not an admin

ACTION_TIMEOUT_MS = 30_000  # generous: the stack shares two cores with other work
NAVIGATION_TIMEOUT_MS = 60_000
# The SDK must initialise within Pipedrive's 10 s; on a loaded machine the first page may take longer to arrive.
INITIALISED_TIMEOUT_MS = 60_000


def host_url(stack: Stack, *, user_id: int = ADMIN_USER_ID, token: str | None = None) -> str:
    assert stack.seeded is not None
    query = {"company_id": stack.seeded.company_id, "user_id": str(user_id), **({"token": token} if token else {})}
    return f"{stack.urls['pipedrive']}/host/app-settings?{urlencode(query)}"


async def open_app(page: Page, stack: Stack, *, user_id: int = ADMIN_USER_ID, token: str | None = None,
                   initialised: bool = True) -> FrameLocator:
    """The host page for (company, user), and the app inside its iframe; by default after the SDK's handshake.

    ``token`` asks the host for a bad JWT (``expired``, ``forged``, ``other_company``); such a page never
    initialises the SDK, so pass ``initialised=False`` and look for the error page instead."""
    await page.goto(host_url(stack, user_id=user_id, token=token))
    if initialised:
        try:
            await expect(page.locator("body")).to_have_attribute("data-app-initialised", "true",
                                                                 timeout=INITIALISED_TIMEOUT_MS)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{await _handshake(page)}") from None
    return page.frame_locator("iframe")


async def _handshake(page: Page) -> str:
    """What the host and the app's frame say about the SDK handshake, for a failure's message."""
    # Times are epoch milliseconds: when host.js (the host's listener) arrived, and when the app's deferred scripts
    # (which post the SDK's initialize) had run.
    host = await page.evaluate(
        "() => JSON.stringify({log: window.hostLog, body: {...document.body.dataset}, hostJsArrived: "
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/host/static/host.js'))"
        ".map(e => Math.round(performance.timeOrigin + e.responseEnd))})")
    app = None
    if len(page.frames) > 1:
        app = await page.frames[1].evaluate(
            "() => JSON.stringify({url: location.href, body: {...document.body.dataset}, "
            "sdk: typeof window.AppExtensionsSDK, framed: window.parent !== window, scriptsRan: Math.round("
            "performance.timeOrigin + performance.getEntriesByType('navigation')[0].domContentLoadedEventStart)})")
    return f"host: {host}\napp frame: {app}"


def section_link(app: FrameLocator, name: str) -> Locator:
    return app.get_by_role("navigation", name="Sections").get_by_role("link", name=name, exact=True)


async def go_to(app: FrameLocator, name: str) -> None:
    """Open a section from the app's navigation (again, when it is the one shown: a reload) and wait until its new
    page has replaced the one shown before."""
    link = section_link(app, name)
    await app.locator("html").evaluate("page => { page.dataset.pdxShownBefore = 'yes'; }")
    await link.click()
    await expect(app.locator("html[data-pdx-shown-before]")).to_have_count(0)
    await expect(link).to_have_attribute("aria-current", "page")


async def new_context(browser: Browser) -> BrowserContext:
    """A person's browser: cookies and storage of its own (a second admin is a second context)."""
    made = await browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-NZ")
    made.set_default_timeout(ACTION_TIMEOUT_MS)
    made.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return made
