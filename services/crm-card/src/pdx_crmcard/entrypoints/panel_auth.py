"""Who is asking for a panel: Pipedrive signs a short-lived JWT (HS256, the app's JWT secret, by default its client
secret) with the user's and company's ids. A company only ever sees its own documents."""

import warnings
from dataclasses import dataclass

import jwt

LEEWAY_SECONDS = 5  # clock skew between Pipedrive and us


class PanelAuthError(Exception):
    """The token is missing, forged, expired or for another company."""


@dataclass(frozen=True)
class PanelCaller:
    company_id: str
    user_id: str | None


def verify(token: str | None, secret: str | None, company_id: str | None) -> PanelCaller:
    """The caller of a panel request whose query says ``companyId=company_id`` (None: take the token's word)."""
    if not secret:
        raise PanelAuthError("the panel's JWT secret is not configured")
    if not token:
        raise PanelAuthError("the request carries no token")
    try:
        with warnings.catch_warnings():
            # The secret is Pipedrive's client secret: its length is not ours to choose.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY_SECONDS,
                                options={"require": ["exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise PanelAuthError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise PanelAuthError("the token is not valid") from exc
    claimed = claims.get("companyId")
    if claimed is None or str(claimed) == "":
        raise PanelAuthError("the token names no company")
    if company_id is not None and str(claimed) != str(company_id):
        raise PanelAuthError("the token is for another company")
    user = claims.get("userId")
    return PanelCaller(str(claimed), str(user) if user is not None else None)
