"""Error bodies in the shapes the real Xero services send, and the exception that carries them to the response."""

import uuid

from aiohttp import web

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
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


def post_data_invalid(detail: str) -> XeroError:
    """The whole request refused before any element is looked at: the body could not be read into Xero's types.

    Example: {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "JSON for post data was invalid,
    Could not convert str to decimal: 180. Path 'Invoices[0].LineItems[0].Quantity'."}
    """
    return XeroError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                           "Message": f"JSON for post data was invalid,{detail}"})


def too_large(limit: int) -> XeroError:
    """Xero takes at most 3.5 MB in one POST or PUT (developer.xero.com/documentation/guides/oauth2/limits)."""
    return problem_error(413, f"The request body is larger than the {limit} bytes allowed.")


class GatewayPage(XeroError):
    """An answer from the web server in front of the API, in HTML, not from the API itself."""

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=str(self.body), content_type="text/html")


def query_too_long() -> XeroError:
    """IIS in front of Xero refuses a query string over 2048 characters with its own 404.15 page (Xero-Net#280,
    Xero-Java#328: 52 invoice ids in IDs work, 53 give a 404)."""
    return GatewayPage(404, "<html><head><title>IIS Detailed Error - 404.15 - Not Found</title></head><body>"
                            "<h3>HTTP Error 404.15 - Not Found</h3><h4>The request filtering module is configured "
                            "to deny a request where the query string is too long.</h4></body></html>")


def oauth_error(error: str, description: str | None = None, status: int = 400) -> XeroError:
    """OAuth2 error body (RFC 6749 section 5.2), e.g. {"error": "invalid_grant"}."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    return XeroError(status, body)
