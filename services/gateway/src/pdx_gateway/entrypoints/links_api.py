"""The operators' routes for links between Pipedrive customers or products and Xero records, in the ``/api`` sub-app
(bearer token). Links are per company and Xero organisation (the one the company's connection writes to now).

``GET    /api/companies/{company_id}/links?kind=contact|item``  the links, newest first, each with its last sync::

    {"company_id": "7001", "tenant_id": "...", "tenant_name": "Demo Company (NZ)", "kind": "contact",
     "links": [{"key": "pd-org-12", "xero_id": "...", "how": "matched", "name": "Acme Ltd", "person_id": "7",
                "linked_at": "...", "synced": {"Name": "Acme Ltd", ...},
                "last_sync": {"state": "updated", "message": ..., "fix": ..., "at": ...} | null}]}

``PUT    /api/companies/{company_id}/links/contact/{key}``  ``{"xero_contact_id": "<ContactID>"}``: link the customer
         (``pd-org-12`` or ``pd-person-7``) to that Xero contact, which must exist (and not be archived) in the
         organisation; an admin's link (``how: "manual"``) is never replaced by an automatic one. A contact that
         already stands for another Pipedrive record (linked to another customer of the company, or carrying another
         record's ContactNumber, ours or another company's: ``pdx_gateway.contact_owners``) is refused: 409
         ``contact_taken`` with a fix. Once linked, the customer's details are queued for Xero (the mapper's
         ``record_changes``, due now), as after an edit in Pipedrive
``DELETE /api/companies/{company_id}/links/contact/{key}``  forget the link: the next draft or sync matches afresh
"""

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from bson import Decimal128

from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.json_body import read_json_object
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_gateway.adapters.mongo import MongoRecordSyncs
from pdx_gateway.app_ui.customer_links import CustomerLinks
from pdx_gateway.contact_owners import owners
from pdx_gateway.entrypoints.linking import connector_for
from pdx_gateway.errors import BadRequest, Conflict, NotFound
from pdx_gateway.keys import CONNECTIONS, DB, SETTINGS

routes = web.RouteTableDef()

KINDS = ("contact", "item")
CUSTOMER_KEY = re.compile(r"pd-(org|person)-[1-9][0-9]{0,17}", re.IGNORECASE)
XERO_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
XERO_TIMEOUT = 10.0


class XeroNotConnected(Conflict):
    code = "xero_not_connected"


class ContactTaken(Conflict):
    code = "contact_taken"


@routes.get("/companies/{company_id}/links")
async def list_links(request: web.Request) -> web.Response:
    company_id, kind = request.match_info["company_id"], request.query.get("kind", "contact")
    if kind not in KINDS:
        raise BadRequest("kind is contact or item", field="kind")
    tenant = await _tenant(request, company_id)
    db = request.config_dict[DB]
    links = await MongoXeroLinks(db).listed(company_id, tenant["tenant_id"], kind)
    syncs = await MongoRecordSyncs(db).of([link["_id"] for link in links])
    return _json({"company_id": company_id, "tenant_id": tenant["tenant_id"],
                  "tenant_name": tenant.get("tenant_name"), "kind": kind,
                  "links": [_view(link, syncs.get(link["_id"])) for link in links]})


@routes.put("/companies/{company_id}/links/contact/{key}")
async def link_contact(request: web.Request) -> web.Response:
    company_id, key = request.match_info["company_id"], _customer_key(request)
    contact_id = await _contact_id(request)
    tenant = await _tenant(request, company_id)
    contact = await _xero_contact(request, company_id, contact_id, tenant)
    name = str(contact.get("Name") or contact["ContactID"])
    taken = (await owners(request.config_dict[DB], company_id, tenant["tenant_id"], key,
                          [(str(contact["ContactID"]), contact.get("ContactNumber"))])).get(str(contact["ContactID"]))
    if taken is not None:
        message, fix = taken.refusal(f"'{name}'", key)
        raise ContactTaken(message, fix=fix, stands_for=taken.key or "another company")
    links = MongoXeroLinks(request.config_dict[DB])
    await links.put(company_id, tenant["tenant_id"], "contact", key, contact["ContactID"], how="manual",
                    name=str(contact.get("Name") or "") or None)
    await CustomerLinks(request.config_dict[DB]).queue_sync(company_id, key)  # its details sent now, as an edit's
    link = await links.doc(company_id, tenant["tenant_id"], "contact", key)
    return _json({"company_id": company_id, "tenant_id": tenant["tenant_id"], "link": _view(link or {}, None)})


@routes.delete("/companies/{company_id}/links/contact/{key}")
async def unlink_contact(request: web.Request) -> web.Response:
    company_id, key = request.match_info["company_id"], _customer_key(request)
    tenant = await _tenant(request, company_id)
    links = MongoXeroLinks(request.config_dict[DB])
    known = await links.doc(company_id, tenant["tenant_id"], "contact", key) is not None
    await links.forget(company_id, tenant["tenant_id"], "contact", key)
    return web.json_response({"company_id": company_id, "tenant_id": tenant["tenant_id"], "key": key,
                              "forgotten": known})


def _customer_key(request: web.Request) -> str:
    key = request.match_info["key"]
    if not CUSTOMER_KEY.fullmatch(key):
        raise BadRequest("the customer is pd-org-<organization id> or pd-person-<person id>, e.g. pd-org-12",
                         field="key")
    return key.lower()


async def _contact_id(request: web.Request) -> str:
    body = await read_json_object(request, max_bytes=request.config_dict[SETTINGS].max_body_bytes)
    contact_id = body.get("xero_contact_id")
    if not isinstance(contact_id, str) or not XERO_ID.fullmatch(contact_id):
        raise BadRequest('send {"xero_contact_id": "<the Xero ContactID, a GUID>"}', field="xero_contact_id")
    return contact_id.lower()


async def _tenant(request: web.Request, company_id: str) -> dict[str, Any]:
    doc = await request.config_dict[CONNECTIONS].get("xero", company_id)
    if doc is None or not doc.get("tenant_id"):
        raise XeroNotConnected("the company has no Xero organisation connected, so it has no links",
                               fix="Connect Xero in the app's settings (Connections) first.")
    return doc


async def _xero_contact(request: web.Request, company_id: str, contact_id: str,
                        tenant: dict[str, Any]) -> dict[str, Any]:
    """``GET /Contacts/{ContactID}`` (getContact) in the company's organisation."""
    connector = connector_for(request, "xero")
    client = XeroClient(connector.session, connector.xero_tokens(), company_id, connector.settings.xero_api_url,
                        timeout=XERO_TIMEOUT)
    organisation = tenant.get("tenant_name") or "the connected Xero organisation"
    try:
        body = await client.request("GET", f"/Contacts/{contact_id}")
    except ConnectionMissing as exc:
        raise XeroNotConnected(f"Xero is {exc.reason} for this company",
                               fix="Reconnect Xero in the app's settings (Connections).") from None
    except ApiError as exc:
        if exc.status in (400, 404):  # Xero answers an unknown id with 404 (and a malformed one with 400)
            raise NotFound(f"{organisation} has no contact {contact_id}") from None
        raise
    contacts = [c for c in body.get("Contacts") or [] if isinstance(c, dict)]
    if not contacts or str(contacts[0].get("ContactID", "")).lower() != contact_id:
        raise NotFound(f"{organisation} has no contact {contact_id}")
    if contacts[0].get("ContactStatus") == "ARCHIVED":
        raise Conflict(f"the Xero contact '{contacts[0].get('Name')}' is archived, and Xero refuses drafts for it",
                       fix="Restore it in Xero, or link another contact.")
    return contacts[0]


def _view(link: dict[str, Any], sync: dict[str, Any] | None) -> dict[str, Any]:
    last = None
    if sync is not None:
        last = {name: sync.get(name) for name in ("state", "message", "fix", "xero_id", "at")}
    return {"key": link.get("key"), "xero_id": link.get("xero_id"), "how": link.get("how"), "name": link.get("name"),
            "person_id": link.get("person_id"), "linked_at": link.get("at"), "synced": link.get("synced") or {},
            "last_sync": last}


def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, dumps=lambda value: json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
