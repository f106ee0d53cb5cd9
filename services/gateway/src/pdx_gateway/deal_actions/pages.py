"""The pages a salesperson opens from a signed link on a deal (its failure activity, its Xero panel), in a new tab.

``GET  /deal/{action}?company_id=7001&deal_id=42&expires=1764400000&sig=<hex>``
    action: ``replay``, ``create-invoice`` or ``create-quote``; the link is signed with the gateway's
    ``link_signing_key`` for purpose ``"deal-" + action`` (``pdx_common.signed_links``). A browser signed in with
    Pipedrive as a user of the link's company (identity.py) sees the deal's title, what will happen and one button
    (or only why it cannot, and what to do); changes nothing beyond issuing the form's one-time nonce. Any other
    browser sees the action, "Deal 42" and **Continue with Pipedrive**, nothing read from the deal.
``GET  /deal/{action}/sign-in?<the same query>``
    Starts the sign-in with Pipedrive (identity.start), which comes back to the link.
``POST /deal/{action}?<the same query>``  form ``nonce``
    Same origin and signed in for the company only (else 403, nothing done); claims the nonce atomically, acts once
    as that user, then Post/Redirect/Get (303) to the result. A second POST of the same form acts no more and shows
    "already sent".
``GET  /deal/result?request=<nonce>``
    The outcome of that request: started, or refused with why and what to do; a link back to the deal.
"""

import hmac
import time
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from pdx_common import signed_links
from pdx_common.contracts import new_id
from pdx_gateway.deal_actions import identity
from pdx_gateway.deal_actions import plan as words
from pdx_gateway.deal_actions.render import page
from pdx_gateway.deal_actions.service import DealActions, Outcome
from pdx_gateway.entrypoints.linking import connector_for
from pdx_gateway.keys import SETTINGS

log = structlog.get_logger()
routes = web.RouteTableDef()
ACTION = "{action:replay|create-invoice|create-quote}"
FIELDS = ("company_id", "deal_id")
APP = "the Xero drafts app's settings"


@routes.get("/result", name="result")
async def result(request: web.Request) -> web.Response:
    doc = await (await DealActions(request).requests()).get(request.query.get("request", "")[:100])
    if doc is None or doc.get("action") not in words.ACTIONS:
        return page(request, "deal_error.html", {
            "heading": "This result is no longer shown",
            "message": "The result of a deal action is kept for a day, or the address was cut short.",
            "fix": "Open the deal in Pipedrive: its activities say what happened."}, status=404)
    action = doc["action"]
    deal = await DealActions(request).deal(doc["company_id"], doc["deal_id"])
    outcome = Outcome.of(doc.get("outcome")) or Outcome(False, words.started(action))
    return page(request, "deal_result.html", {
        "heading": words.heading(action), "outcome": outcome, "again": request.query.get("again") == "1",
        "deal_url": deal.url, "company_domain": deal.company_domain})


@routes.get(f"/{ACTION}", name="confirm")
async def confirm(request: web.Request) -> web.Response:
    """The confirmation: nothing is published by a GET (a link preview or a prefetch acts on nothing)."""
    action = request.match_info["action"]
    fields = _verified(request, action)
    if isinstance(fields, web.Response):
        return fields
    company_id, deal_id = fields["company_id"], fields["deal_id"]
    actions = DealActions(request)
    if not await actions.installed(company_id):
        return _not_installed(request)
    if await identity.signed_in(request, company_id) is None:
        # Nothing about the deal beyond what the activity showed: its number and the action.
        sign_in = request.app.router["sign_in"].url_for(action=action).with_query(request.query)
        return page(request, "deal_signin.html", {
            "heading": words.heading(action), "deal_id": deal_id, "what": _what(action),
            "sign_in_url": str(sign_in)})
    deal = await actions.deal(company_id, deal_id)
    plan = await actions.plan(company_id, deal_id, action)
    nonce = None if plan.refusal else await (await actions.requests()).issue(company_id, deal_id, action)
    return page(request, "deal_confirm.html", {
        "heading": plan.heading, "plan": plan, "title": deal.title, "deal_url": deal.url,
        "company_domain": deal.company_domain, "nonce": nonce, "form_action": str(request.rel_url)})


@routes.get(f"/{ACTION}/sign-in", name="sign_in")
async def sign_in(request: web.Request) -> web.Response:
    """Continue with Pipedrive: only for a valid link of an installed company, and back to that link."""
    action = request.match_info["action"]
    fields = _verified(request, action)
    if isinstance(fields, web.Response):
        return fields
    if not await DealActions(request).installed(fields["company_id"]):
        return _not_installed(request)
    back_to = request.app.router["confirm"].url_for(action=action).with_query(request.query)
    return await identity.start(request, connector_for(request, "pipedrive"), fields["company_id"], str(back_to))


@routes.post(f"/{ACTION}")
async def act(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if not _same_origin(request):
        return page(request, "deal_error.html", {
            "heading": "This form was sent from another site",
            "message": "Deal actions are only taken from their own page.",
            "fix": "Open the link again from the deal in Pipedrive and press the button there."}, status=403)
    fields = _verified(request, action)
    if isinstance(fields, web.Response):
        return fields
    company_id, deal_id = fields["company_id"], fields["deal_id"]
    login = await identity.signed_in(request, company_id)
    if login is None:
        return page(request, "deal_error.html", {
            "heading": "Sign in with Pipedrive first",
            "message": "Deal actions are taken only by users of the deal's Pipedrive company, signed in with "
                       "Pipedrive on this browser (a sign-in lasts 8 hours).",
            "fix": "Open the link again from the deal in Pipedrive and choose Continue with Pipedrive.",
            "back_to": str(request.rel_url)}, status=403)
    form = await request.post()
    nonce = form.get("nonce")
    actions = DealActions(request)
    store, owner = await actions.requests(), new_id()
    claim = (await store.claim(nonce, company_id, deal_id, action, owner)
             if isinstance(nonce, str) and 0 < len(nonce) <= 100 else "unknown")
    if claim == "unknown":
        return page(request, "deal_error.html", {
            "heading": "This form has expired",
            "message": "The page was open too long, or it was not this link's page.",
            "fix": "Open the link again from the deal in Pipedrive and press the button there."}, status=403)
    if claim == "claimed":
        try:
            outcome = await actions.act(company_id, deal_id, action, nonce, user_id=login.user_id)
        except BaseException:
            await store.release(nonce, owner)  # nothing was published: the same form may be sent again
            raise
        await store.finish(nonce, owner, outcome.stored())
        log.info("deal action taken", company_id=company_id, deal_id=deal_id, action=action, via="link",
                 user_id=login.user_id, refused=outcome.refused)
    location = request.app.router["result"].url_for().with_query(
        {"request": nonce, **({"again": "1"} if claim == "taken" else {})})
    raise web.HTTPSeeOther(str(location))


def _verified(request: web.Request, action: str) -> dict[str, str] | web.Response:
    key = request.config_dict[SETTINGS].link_signing_key
    if key is None:
        return page(request, "deal_error.html", {
            "heading": "Deal links are not set up", "message": "This server cannot check the link.",
            "fix": _instead(action)}, status=503)
    try:
        return signed_links.verify(key.get_secret_value(), f"deal-{action}", request.query, FIELDS, time.time())
    except signed_links.InvalidLink as invalid:
        expired = "expired" in str(invalid)
        return page(request, "deal_error.html", {
            "heading": "This link has expired" if expired else "This link is not valid",
            "message": ("Links to a deal's actions work for a limited time, and this one has run out." if expired
                        else "The link was changed or cut short, so it cannot be used."),
            "fix": _instead(action)}, status=403)


def _what(action: str) -> str:
    kind = words.kind_of(action)
    if kind:
        return f"This makes a draft {kind} in Xero from the deal."
    return "Replay tries the deal's failed Xero drafts again and updates the drafts it already has."


def _instead(action: str) -> str:
    kind = words.kind_of(action)
    if kind:
        return f"Open the deal in Pipedrive and use Create draft {kind} in the deal's Xero panel."
    return ("Open the deal in Pipedrive and use the Replay action in the deal's Xero panel, or ask an admin to "
            f"replay the deal from the Sync log in {APP}.")


def _not_installed(request: web.Request) -> web.Response:
    return page(request, "deal_error.html", {
        "heading": "The app is not installed", "message": "Xero drafts is not installed for this Pipedrive company.",
        "fix": "Ask a Pipedrive admin of your company to install it again."}, status=404)


def _same_origin(request: web.Request) -> bool:
    """As the settings app: a browser's POST names its origin, which must be ours ("null" is refused); without the
    header (old clients) the one-time nonce alone decides."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    public = request.config_dict[SETTINGS].public_url or f"{request.scheme}://{request.host}"
    parts = urlsplit(public)
    return hmac.compare_digest(origin.encode(), f"{parts.scheme}://{parts.netloc}".encode())
