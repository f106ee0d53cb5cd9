"""Connecting a company's Xero organisation: the authorisation, the choice of organisation, the disconnect."""

import secrets
from dataclasses import dataclass
from typing import Any

import structlog

from pdx_common.http import ConnectionMissing
from pdx_common.parking import resume_parked
from pdx_gateway.adapters.connections import MongoConnections
from pdx_gateway.adapters.xero_identity import xero_user_id
from pdx_gateway.connector import Connector
from pdx_gateway.domain.connections import chosen_tenant, tenant_fields, tenants_of, usable_after_choice
from pdx_gateway.errors import BadRequest, NotFound
from pdx_gateway.ports import ParkedCommands, Publisher

log = structlog.get_logger()


@dataclass(frozen=True)
class XeroConnected:
    company_id: str
    tenant_id: str | None
    tenants: list[dict[str, str]]
    resumed: int = 0


async def start_xero_connect(c: Connector, company_id: str) -> tuple[str, str]:
    """Xero's authorize URL for the company, and its state; state and PKCE verifier wait in ``oauth_states``."""
    verifier = secrets.token_urlsafe(64)
    state = await c.states.create("xero", company_id=company_id, code_verifier=verifier)
    return await c.xero.authorize_url(state, verifier), state


async def finish_xero_connect(c: Connector, company_id: str, code: str, verifier: str) -> XeroConnected:
    """Store the grant with the organisations it covers. The organisation chosen before is kept when still covered;
    else the only one is chosen; with several, the connection waits (unusable) until one is chosen."""
    with structlog.contextvars.bound_contextvars(company_id=company_id):
        tokens, xero_connections = await c.xero.connect(code, verifier)
        tenants = tenants_of(xero_connections)
        previous = await c.connections.get("xero", company_id) or {}
        tenant_id = chosen_tenant(tenants, previous.get("tenant_id"))
        await c.store.save_tokens("xero", company_id, tokens, xero_user_id=xero_user_id(tokens),
                                  **tenant_fields(tenants, tenant_id))
        resumed = await resume_parked(company_id, c.parked, c.publisher) if tenant_id else 0
        log.info("xero connected", tenant_id=tenant_id, tenants=len(tenants), resumed=resumed)
    return XeroConnected(company_id, tenant_id, tenants, resumed)


async def choose_tenant(company_id: str, tenant_id: str, connections: MongoConnections, parked: ParkedCommands,
                        publisher: Publisher) -> dict[str, Any]:
    """Choose or switch the company's organisation among those its grant covers; resumes parked work."""
    doc = await connections.get("xero", company_id)
    if doc is None:
        raise NotFound(f"company {company_id} has no Xero connection", fix="Send the admin a connect link.")
    tenant = next((t for t in doc.get("tenants") or [] if t["tenantId"] == tenant_id), None)
    usable = usable_after_choice(doc)
    if tenant is None or not await connections.choose_tenant(company_id, tenant, usable):
        known = [t["tenantId"] for t in doc.get("tenants") or []]
        raise BadRequest("that organisation is not one the Xero connection covers", tenants=known)
    resumed = await resume_parked(company_id, parked, publisher) if usable else 0
    log.info("xero organisation chosen", company_id=company_id, tenant_id=tenant_id, resumed=resumed)
    return {**tenant, "resumed": resumed, "usable": usable}


async def disconnect_xero(c: Connector, company_id: str) -> None:
    """Disconnect the chosen organisation at Xero, revoke the grant unless another company's connection rests on
    the same Xero user's grant (revoking removes all of that user's connections to the app), forget the connection."""
    doc = await c.store.get("xero", company_id)
    if doc is None:
        raise NotFound(f"company {company_id} has no Xero connection")
    try:
        token = await c.xero_tokens().token(company_id)  # refreshed if due, so the stored refresh token may rotate
    except ConnectionMissing:
        token = None  # broken or waiting for a choice: revoking the grant below still disconnects it
    if token is not None:
        for tenant in doc.get("tenants") or []:
            if tenant["tenantId"] == token.tenant_id:
                await c.xero.remove_connection(token.token, tenant["id"])
    doc = await c.store.get("xero", company_id) or doc
    if not await c.connections.grant_shared(company_id, doc.get("xero_user_id")):
        await c.xero.revoke(c.store.decrypt(doc, "refresh_token"))
    await c.connections.delete("xero", company_id)
    log.info("xero disconnected", company_id=company_id, tenant_id=doc.get("tenant_id"))
