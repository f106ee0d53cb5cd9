"""Users of the sandbox company, in the shapes of ``GET /api/v1/users/me``, ``/users/{id}`` and ``/users``
(pipedrive-openapi-v1.yaml, BaseUser).

Whether a user is an admin: the spec's ``access`` list (``{"app": "global", "admin": true, ...}``); the answers also
carry ``is_admin`` (1 or 0), which Pipedrive's v1 users still send although the current spec leaves it out.
Seeded: 12001 Sandbox Admin (admin, the user of the tokens an install gets), 12002 Sam Seller (regular), 12003
Former Employee (deactivated).
"""

import uuid
from typing import TYPE_CHECKING, Any

from pdx_sandbox.pipedrive.store import NotFound, v1_time

if TYPE_CHECKING:
    from pdx_sandbox.pipedrive.state import PipedriveState

TIMEZONE, TIMEZONE_OFFSET = "Pacific/Auckland", "+13:00"


def _permission_set(app: str, admin: bool) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pdx-sandbox/permission-set/{app}/{admin}"))


def base_user(state: "PipedriveState", user: dict[str, Any], me_id: int) -> dict[str, Any]:
    admin = bool(user["is_admin"])
    apps = ("sales", "global", "account_settings") if admin else ("sales", "global")
    created = v1_time(state.clock.time() - 30 * 86400)
    return {
        "id": user["id"], "name": user["name"], "default_currency": "NZD", "locale": "en_NZ", "lang": 1,
        "email": user["email"], "phone": None, "activated": user["active_flag"], "last_login": v1_time(
            state.clock.time() - 3600), "created": created, "modified": created,
        "has_created_company": user["id"] == state.user_id,
        "access": [{"app": app, "admin": admin, "permission_set_id": _permission_set(app, admin)} for app in apps],
        "active_flag": user["active_flag"], "timezone_name": TIMEZONE, "timezone_offset": TIMEZONE_OFFSET,
        "role_id": 1, "icon_url": None, "is_you": user["id"] == me_id, "is_deleted": False,
        "is_admin": 1 if admin else 0,
    }


def me(state: "PipedriveState", me_id: int) -> dict[str, Any]:
    """``/users/me``: the user with the company's id, name, domain and country."""
    return {**base_user(state, find(state, me_id), me_id), "company_id": state.company_id,
            "company_name": state.company_name, "company_domain": state.company_domain, "company_country": "NZ",
            "company_industry": "Wholesale", "language": {"language_code": "en", "country_code": "NZ"}}


def find(state: "PipedriveState", user_id: int) -> dict[str, Any]:
    user = state.users.get(user_id)
    if user is None:
        raise NotFound("User not found or not accessible.")
    return user
