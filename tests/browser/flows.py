"""Steps a company's admin takes in the settings app, written once for every browser test: connect Xero through the
Xero sandbox in a new window, choose or switch the organisation, disconnect; and the sandboxes' side of a check."""

from typing import Any

from playwright.async_api import Dialog, FrameLocator, Locator, Page, expect

from pdx_devstack.peek import sandbox_get
from pdx_devstack.stack import Stack
from tests.browser.host import go_to
from tests.e2e.helpers import eventually

NZ, UK = "Demo Company (NZ)", "Demo Company (UK)"
NZ_TENANT_ID = "6f3b5a51-1d6e-4b0c-9a53-2f1c2a7e0a01"  # pdx_sandbox.xero.seed
UK_TENANT_ID = "9c2d4e77-8b1a-4f3e-b6d2-5e0a3c9f1b02"
TENANTS = {NZ: NZ_TENANT_ID, UK: UK_TENANT_ID}

# A draft travels gateway -> broker -> mapper -> writer -> Xero: generous on a machine whose cores are busy.
DRAFT_TIMEOUT_MS = 120_000


def xero_status(app: FrameLocator):
    return app.locator("#xero-status")


async def accept_confirmations(page: Page) -> list[str]:
    """Accept every confirm() the app asks (Disconnect asks first); returns the questions, in order."""
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return asked


async def disconnect_xero(app: FrameLocator) -> None:
    await app.get_by_role("button", name="Disconnect Xero").click()
    await expect(xero_status(app)).to_contain_text("Not connected")


async def connect_xero(page: Page, app: FrameLocator, *, select: tuple[str, ...], use: str,
                       button: str = "Connect Xero", choose: bool | None = None) -> None:
    """Connect (or Reconnect) from the Connections section: Xero's sign-in opens in a new window, where the admin
    selects ``select`` on the sandbox's consent page and, when several are new to the app (``choose``), chooses
    ``use`` among them; the window then tells the settings page, which shows the connection."""
    await app.get_by_role("button", name=button).click()
    await expect(app.get_by_role("heading", name="Connect Xero", level=1)).to_be_visible()
    async with page.context.expect_page() as opened:
        await app.get_by_role("link", name="Open Xero sign-in").click()
    xero = await opened.value
    await consent_in_xero(xero, select)
    if len(select) > 1 if choose is None else choose:
        await expect(xero.get_by_role("heading", name="Choose the Xero organisation")).to_be_visible()
        await xero.get_by_role("link", name=use, exact=True).click()
    await expect(xero.get_by_role("heading", name="Xero connected")).to_be_visible()
    await expect(xero.get_by_text(use)).to_be_visible()
    # The Xero window tells the settings page, which then shows the connection; only then does the admin close it.
    await expect(xero_status(app)).to_contain_text(f"Connected. New drafts go to {use}")
    await xero.close()


async def consent_in_xero(xero: Page, select: tuple[str, ...]) -> None:
    """The Xero sandbox's consent page: tick the organisations the app may use, then allow access."""
    await expect(xero.get_by_role("heading", level=1)).to_contain_text("Xero")
    for name in (NZ, UK):
        box = xero.get_by_label(name, exact=True)
        if name in select:
            await box.check()
        else:
            await box.uncheck()
    await xero.get_by_role("button", name="Allow access").click()


async def connected_to_both(page: Page, app: FrameLocator, use: str = NZ) -> None:
    """Start from a known connection whatever an earlier test left: both organisations granted, ``use`` chosen."""
    await go_to(app, "Connections")
    await expect(xero_status(app)).to_be_visible()
    if await app.get_by_role("button", name="Disconnect Xero").count():
        await disconnect_xero(app)
    await connect_xero(page, app, select=(NZ, UK), use=use)


async def drafts_for_deal(stack: Stack, deal_id: int, organisation: str = NZ, kind: str = "invoices") -> list[dict]:
    """The deal's drafts in one organisation, read through the Xero sandbox's control API (costs no API calls)."""
    path = f"/_sandbox/tenants/{TENANTS[organisation]}/{kind}"
    found: list[dict[str, Any]] = await sandbox_get(stack.urls["xero"], path)
    return [d for d in found if f"/deal/{deal_id}?" in (d.get("Url") or "")]


async def log_row(app: FrameLocator, deal_id: int, outcome: str, *, timeout_ms: int = DRAFT_TIMEOUT_MS) -> Locator:
    """The deal's row in the Sync log once it shows ``outcome`` ("Waiting", "Failed", "Created"): the admin opens
    the section again until it does."""
    row = (app.locator("table.sync-log tbody tr").filter(has=app.get_by_text(f"Deal {deal_id}", exact=True))
           .filter(has=app.get_by_text(outcome, exact=True)))

    async def shown() -> bool:
        await go_to(app, "Sync log")
        return await row.count() > 0

    await eventually(shown, timeout=timeout_ms / 1000, every=1.0)
    return row.first
