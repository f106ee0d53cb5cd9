"""The few HTML pages a company's admin sees in the browser during install and connect."""

from html import escape

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str) -> web.Response:
    # Links carry signatures and the pages secrets of a sort: never cached, never framed.
    return web.Response(text=_PAGE.format(title=escape(title), body=body), content_type="text/html",
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "no-referrer"})


def installed(company_domain: str | None, connect_url: str | None) -> web.Response:
    where = f" for {escape(company_domain)}.pipedrive.com" if company_domain else ""
    body = f"<p>The Pipedrive app is installed{where}. Deals will become Xero drafts once Xero is connected.</p>"
    if connect_url:
        body += f'<p><a href="{escape(connect_url)}">Connect Xero</a></p>'
    return page("Installed", body)


def connected(tenant_name: str, resumed: int) -> web.Response:
    body = f"<p>Xero organisation <strong>{escape(tenant_name)}</strong> is connected.</p>"
    if resumed:
        body += f"<p>{resumed} waiting document(s) are on their way to Xero.</p>"
    return page("Xero connected", body)


def choose(tenants: list[tuple[str, str]]) -> web.Response:
    """``tenants``: (organisation name, signed choose link)."""
    items = "".join(f'<li><a href="{escape(url)}">{escape(name)}</a></li>' for name, url in tenants)
    return page("Choose the Xero organisation",
                f"<p>Xero connected several organisations; choose the one deals are written to:</p><ul>{items}</ul>")


def no_organisation() -> web.Response:
    return page("No Xero organisation", "<p>Xero connected no organisation. Open the connect link again and select "
                                        "the organisation deals are written to.</p>")
