"""HS256 JSON Web Tokens as Pipedrive signs them for an app's iframes: ``{"userId", "companyId", "iat", "exp"}``
signed with the app's JWT secret (by default its client secret), valid 5 minutes."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

TOKEN_TTL = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode(claims: dict[str, Any], secret: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def app_token(user_id: int, company_id: int, secret: str, *, now: float | None = None) -> str:
    """A fresh token; wall-clock times, because the app checks them against its own clock."""
    issued = int(time.time() if now is None else now)
    return encode({"userId": user_id, "companyId": company_id, "iat": issued, "exp": issued + TOKEN_TTL}, secret)
