"""Error bodies in the shapes the real Xero services send, and the exception that carries them to the response."""

import uuid

from aiohttp import web

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "An error occurred",
    503: "Service Unavailable",
}
_DETAILS = {
    500: ("An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current "
          "service status."),
    503: "The Xero API is currently unavailable. Please try again later.",
    404: "The resource you're looking for cannot be found",
}


class XeroError(Exception):
    """Raised anywhere in a handler; the error middleware turns it into the response."""

    def __init__(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


def problem(status: int, detail: str | None = None) -> dict:
    """The problem-details body Xero's gateway sends for 401/403/404/429/5xx.

    Example: {"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful",
    "Instance": "<uuid>", "Extensions": {}}
    """
    return {
        "Type": None,
        "Title": _TITLES.get(status, "Error"),
        "Status": status,
        "Detail": detail if detail is not None else _DETAILS.get(status, _TITLES.get(status, "Error")),
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def problem_error(status: int, detail: str | None = None, headers: dict[str, str] | None = None) -> XeroError:
    return XeroError(status, problem(status, detail), headers)


def unauthorized(detail: str = "AuthenticationUnsuccessful") -> XeroError:
    return problem_error(401, detail, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def forbidden() -> XeroError:
    return problem_error(403, "AuthenticationUnsuccessful")


def not_found() -> XeroError:
    return problem_error(404)


def validation_body(elements: list[dict], message: str = "A validation exception occurred") -> dict:
    """HTTP 400 body: {"ErrorNumber": 10, "Type": "ValidationException", "Message": ..., "Elements": [...]}."""
    return {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements}


def validation_error(elements: list[dict], message: str = "A validation exception occurred") -> XeroError:
    return XeroError(400, validation_body(elements, message))


def bad_request(message: str) -> XeroError:
    """A request-level validation failure that names no element (bad JSON, bad header)."""
    return validation_error([], message)


def query_error(message: str) -> XeroError:
    return XeroError(400, {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message})


def oauth_error(error: str, description: str | None = None, status: int = 400) -> XeroError:
    """OAuth2 error body (RFC 6749 section 5.2), e.g. {"error": "invalid_grant"}."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    return XeroError(status, body)
