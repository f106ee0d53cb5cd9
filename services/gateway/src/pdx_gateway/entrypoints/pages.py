"""The few HTML pages a company's admin sees in the browser during install and connect."""

from html import escape

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/app/static/app.css">{script}</head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def page(title: str, body: str, script: str | None = None) -> web.Response:
    # Links carry signatures and the pages secrets of a sort: never cached, never framed.
    tag = f'<script src="{escape(script)}" defer></script>' if script else ""
    return web.Response(text=_PAGE.format(title=escape(title), body=body, script=tag), content_type="text/html",
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "no-referrer"})


def installed(company_id: str, company_domain: str | None, settings_url: str | None,
              in_pipedrive: str | None) -> web.Response:
    """``settings_url``: the app's settings, when the installer got a session; ``in_pipedrive``: the same settings
    inside Pipedrive, which always works for the company's admins."""
    where = f" for {escape(company_domain)}.pipedrive.com" if company_domain else ""
    where += f' (company <span id="company-id">{escape(company_id)}</span>)'
    body = (f"<p>The Pipedrive app is installed{where}. Next, connect Xero and choose which stages make drafts: "
            "deals become Xero drafts once Xero is connected and a trigger is set.</p>")
    links = []
    if settings_url:
        links.append(f'<a class="button button-primary" href="{escape(settings_url)}">Open the settings</a>')
    if in_pipedrive:
        links.append(f'<a class="button button-secondary" href="{escape(in_pipedrive)}">Open the settings in '
                     "Pipedrive</a>")
    if links:
        body += f'<p class="actions">{" ".join(links)}</p>'
    body += ("<p>Later, find them in Pipedrive under Settings &gt; Apps &gt; Xero drafts.</p>")
    return page("Installed", body)


def connected(tenant_name: str, resumed: int) -> web.Response:
    body = f"<p>Xero organisation <strong>{escape(tenant_name)}</strong> is connected.</p>"
    if resumed:
        body += f"<p>{resumed} waiting document(s) are on their way to Xero.</p>"
    body += "<p>You can close this window and go back to the app's settings.</p>"
    return page("Xero connected", body, script="/app/static/connected.js")


def choose(tenants: list[tuple[str, str]]) -> web.Response:
    """``tenants``: (organisation name, signed choose link)."""
    items = "".join(f'<li><a href="{escape(url)}">{escape(name)}</a></li>' for name, url in tenants)
    return page("Choose the Xero organisation",
                f"<p>Xero connected several organisations; choose the one deals are written to:</p><ul>{items}</ul>")


def no_organisation() -> web.Response:
    return page("No Xero organisation", "<p>Xero connected no organisation. Open the connect link again and select "
                                        "the organisation deals are written to.</p>")
