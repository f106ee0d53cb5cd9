"""Which Xero organisation a company writes to, and what an operator may see of a connection. Pure."""

from datetime import datetime
from typing import Any

# A connection whose grant covers several organisations and none is chosen yet: it is not usable, so it is stored
# with status "broken" and this reason (token providers refuse it, the writer parks its commands).
NO_TENANT = "no Xero organisation chosen yet: choose one of the connection's organisations"
NO_ORGANISATION = "the Xero authorisation covers no organisation: connect again and select one"


def tenants_of(xero_connections: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Xero's ``GET /connections`` answer, reduced to the organisations: ``[{tenantId, tenantName, id}]``."""
    return [{"tenantId": c["tenantId"], "tenantName": c.get("tenantName") or "", "id": c["id"]}
            for c in xero_connections if c.get("tenantType", "ORGANISATION") == "ORGANISATION"]


def chosen_tenant(tenants: list[dict[str, str]], previous: str | None) -> str | None:
    """Keep the organisation chosen before when it is still authorised; else the only one; else nobody chooses."""
    ids = [t["tenantId"] for t in tenants]
    if previous in ids:
        return previous
    return ids[0] if len(ids) == 1 else None


def tenant_fields(tenants: list[dict[str, str]], tenant_id: str | None) -> dict[str, Any]:
    """The fields stored with the tokens: the choice, and whether the connection can be used."""
    name = next((t["tenantName"] for t in tenants if t["tenantId"] == tenant_id), None)
    reason = None if tenant_id else (NO_TENANT if tenants else NO_ORGANISATION)
    return {"tenant_id": tenant_id, "tenant_name": name, "tenants": tenants,
            "status": "broken" if reason else "ok", "broken_reason": reason}


def usable_after_choice(doc: dict[str, Any]) -> bool:
    """Choosing an organisation repairs only a connection that was waiting for that choice, not a revoked one."""
    return doc.get("status") == "ok" or doc.get("broken_reason") == NO_TENANT


def connection_view(system: str, doc: dict[str, Any] | None) -> dict[str, Any]:
    """A connection's state for operators: never a token."""
    if doc is None:
        return {"system": system, "status": "not_connected"}
    expires_at = doc.get("expires_at")
    view = {"system": system, "status": doc.get("status"), "broken_reason": doc.get("broken_reason"),
            "expires_at": expires_at.isoformat() if isinstance(expires_at, datetime) else None}
    if system == "xero":
        view.update(tenant_id=doc.get("tenant_id"), tenant_name=doc.get("tenant_name"),
                    tenants=doc.get("tenants") or [])
    else:
        view["company_domain"] = doc.get("company_domain")
    return view
