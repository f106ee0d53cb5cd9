"""HTTP Basic credentials from a request (Pipedrive's webhooks and its uninstall call)."""

import base64
import binascii

from aiohttp import web

from pdx_gateway.errors import Unauthorized


def basic_credentials(request: web.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("HTTP Basic credentials are required")
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unauthorized("HTTP Basic credentials are malformed") from None
    if not sep:
        raise Unauthorized("HTTP Basic credentials are malformed")
    return user, password
