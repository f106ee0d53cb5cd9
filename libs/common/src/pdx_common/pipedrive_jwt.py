"""Who is asking: Pipedrive signs a short-lived JWT (HS256, the app's JWT secret, by default its client secret) with
the user's and company's ids for every app extension it opens (JSON panels, custom UI iframes such as the app's
settings). The algorithm is pinned, the expiry required, and the company must be the one the request names."""

import warnings
from dataclasses import dataclass

import jwt

LEEWAY_SECONDS = 5  # clock skew between Pipedrive and us


class PipedriveJwtError(Exception):
    """The token is missing, forged, expired or for another company."""


@dataclass(frozen=True)
class PipedriveCaller:
    company_id: str
    user_id: str | None


def verify(token: str | None, secret: str | None, company_id: str | None) -> PipedriveCaller:
    """The caller of a panel request whose query says ``companyId=company_id`` (None: take the token's word)."""
    if not secret:
        raise PipedriveJwtError("the app's JWT secret is not configured")
    if not token:
        raise PipedriveJwtError("the request carries no token")
    try:
        with warnings.catch_warnings():
            # The secret is Pipedrive's client secret: its length is not ours to choose.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY_SECONDS,
                                options={"require": ["exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise PipedriveJwtError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise PipedriveJwtError("the token is not valid") from exc
    claimed = claims.get("companyId")
    if claimed is None or str(claimed) == "":
        raise PipedriveJwtError("the token names no company")
    if company_id is not None and str(claimed) != str(company_id):
        raise PipedriveJwtError("the token is for another company")
    user = claims.get("userId")
    return PipedriveCaller(str(claimed), str(user) if user is not None else None)
