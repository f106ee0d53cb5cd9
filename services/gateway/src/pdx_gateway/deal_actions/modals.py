"""Pipedrive's JSON modals for a deal's actions (panel global actions on Deal details, registered in Developer Hub;
the schemas are in docs/replay.md).

``GET  /deal/modal/{action}?resource=deal&view=details&userId=12&companyId=7001&selectedIds=42&token=<JWT>``
    -> 200 ``{"data": {"blocks": {"summary": {"value": "<markdown>", "markdown": true}}, "actions": {}}}``: what
    will happen, or why it cannot (the modal's primary button then answers the same reason).
``POST /deal/modal/{action}?<the same query>``  (JSON body: the form's blocks; not read)
    -> 200 ``{"success": {"type": "snackbar", "message": "Replay started: ..."}}`` once the event is published, or
    400 ``{"error": {"message": "<why>. <what to do>"}}`` when it cannot run (nothing published).
A missing, forged or expired token, or one of another company: 401 ``{"error": {"message": ...}}``.

Exactly once: no form nonce comes back from Pipedrive (the modal's schema has only the summary), so the request's
id is derived from the token: a hash of its ``jti`` (else ``iat``, else the whole token), the user, company, deal
and action. Pipedrive's retry of the same POST, or a double click in the same modal, is one request; a request
that was refused may be sent again once the reason is fixed.
"""

import hashlib
import re

import jwt
import structlog
from aiohttp import web

from pdx_common import pipedrive_jwt
from pdx_common.contracts import new_id
from pdx_gateway.deal_actions import plan as words
from pdx_gateway.deal_actions.plan import Plan
from pdx_gateway.deal_actions.service import DealActions, Outcome
from pdx_gateway.keys import SETTINGS

log = structlog.get_logger()
routes = web.RouteTableDef()
ACTION = "{action:replay|create-invoice|create-quote}"
DEAL_ID = re.compile(r"[1-9][0-9]{0,17}")
MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")


class ModalRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@routes.get(f"/modal/{ACTION}", name="modal-get")
async def describe(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    try:
        actions = DealActions(request)
        company_id, _, deal_id = await _caller(request, actions)
        deal = await actions.deal(company_id, deal_id)
        plan = await actions.plan(company_id, deal_id, action)
    except ModalRefused as refused:
        return _error(refused.status, refused.message)
    return web.json_response({"data": {"blocks": {"summary": {"value": summary(plan, deal.title),
                                                              "markdown": True}}, "actions": {}}})


@routes.post(f"/modal/{ACTION}", name="modal-post")
async def submit(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    actions = DealActions(request)
    try:
        company_id, user_id, deal_id = await _caller(request, actions)
    except ModalRefused as refused:
        return _error(refused.status, refused.message)
    request_id = request_id_of(request.query["token"], user_id, company_id, deal_id, action)
    store, owner = await actions.requests(), new_id()
    claim = await store.claim(request_id, company_id, deal_id, action, owner, create=True)
    if claim != "claimed":
        done = Outcome.of(((await store.get(request_id)) or {}).get("outcome"))
        return _success(done.message if done else words.already(action))
    try:
        outcome = await actions.act(company_id, deal_id, action, request_id, user_id=user_id)
    except BaseException:
        await store.release(request_id, owner)  # nothing was published: Pipedrive's retry may act
        raise
    log.info("deal action taken", company_id=company_id, deal_id=deal_id, action=action, via="modal",
             refused=outcome.refused)
    if outcome.refused:
        await store.release(request_id, owner)  # once the reason is fixed, the same modal may ask again
        return _error(400, f"{outcome.message} {outcome.fix or ''}".strip())
    await store.finish(request_id, owner, outcome.stored())
    return _success(outcome.message)


async def _caller(request: web.Request, actions: DealActions) -> tuple[str, str | None, str]:
    """(company, user, deal) of a modal request whose token Pipedrive signed for the company the query names."""
    query = request.query
    if not query.get("companyId"):
        raise ModalRefused(401, "This request names no company. Reload the deal and try again.")
    try:
        caller = pipedrive_jwt.verify(query.get("token"), request.config_dict[SETTINGS].app_secret(),
                                      query.get("companyId") or "")
    except pipedrive_jwt.PipedriveJwtError as exc:
        raise ModalRefused(401, f"This request could not be checked ({exc}). Reload the deal and try again.") \
            from None
    if query.get("userId") and caller.user_id is not None and query["userId"] != caller.user_id:
        raise ModalRefused(401, "This request could not be checked (the token is for another user). Reload the "
                                "deal and try again.")
    deal_id = query.get("selectedIds", "")
    if query.get("resource") != "deal" or not DEAL_ID.fullmatch(deal_id):
        raise ModalRefused(400, "This action works on one deal: open a deal and use it from the deal's Xero panel.")
    if not await actions.installed(caller.company_id):
        raise ModalRefused(401, "Xero drafts is not installed for this Pipedrive company. Ask an admin to install "
                                "it again.")
    return caller.company_id, caller.user_id, deal_id


def request_id_of(token: str, user_id: str | None, company_id: str, deal_id: str, action: str) -> str:
    """The request's id from its (verified) token: the same token, user, deal and action are the same request."""
    claims = jwt.decode(token, options={"verify_signature": False})
    basis = claims.get("jti") or claims.get("iat") or token
    digest = hashlib.sha256(f"{basis}|{user_id}|{company_id}|{deal_id}|{action}".encode()).hexdigest()
    return f"modal{digest[:32]}"


def summary(plan: Plan, title: str) -> str:
    """The modal's one text block, in Pipedrive's markdown (every text from a deal or Pipedrive is escaped). The
    modal's own title already names the action, so the text names the deal."""
    lines = [f"**Deal: {_md(title)}**", ""]
    if plan.refusal is not None:
        lines += [_md(plan.refusal.message), ""]
        if plan.refusal.fix:
            lines += [f"What to do: {_md(plan.refusal.fix)}", ""]
        lines.append("Nothing will be changed.")
        return "\n".join(lines)
    steps = [_md(step.text) + (f" ({_md(step.detail)})" if step.detail else "") for step in plan.steps]
    if len(steps) == 1:
        return "\n".join([*lines, steps[0]])
    return "\n".join([*lines, "What will happen:", *(f"- {step}" for step in steps)])


def _md(text: str) -> str:
    return MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def _success(message: str) -> web.Response:
    return web.json_response({"success": {"type": "snackbar", "message": message}})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)
