"""The one bounded JSON reader, and the error tables that turn its refusals (and everything else) into statuses."""

import json

import pytest
from hypothesis import given

from pdx_common.http import ApiError
from pdx_common.json_body import (
    MAX_DEPTH,
    BodyRefused,
    BodyTooLarge,
    nesting_depth,
    parse_json,
    parse_object,
)
from pdx_devstack.fuzz_inputs import HOSTILE_BODIES, JSON_VALUES, fuzz_settings, quiet_hypothesis
from pdx_gateway import errors as gateway_errors
from pdx_metering import errors as metering_errors

quiet_hypothesis()


@pytest.mark.parametrize(("raw", "depth"), [
    (b"{}", 1), (b'{"a": [1, {"b": 2}]}', 3), (b"[[[]]]", 3), (b"42", 0), (b"", 0),
    (b'{"a": "[[[[{{{{"}', 1),  # brackets inside strings are text
    (b'{"a": "\\"[[["}', 1),  # an escaped quote does not end the string
    (b'["\\\\", [[]]]', 3),  # an escaped backslash does
    (b"[" * 5000, 5000),  # unclosed: what the parser would recurse into before failing
    (b'"unterminated [[[[', 0),
])
def test_nesting_depth_reads_the_raw_bytes(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


@pytest.mark.parametrize(("raw", "says"), [
    (b"[" * 5000 + b"]" * 5000, "nests deeper than 32"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nests deeper than 32"),
    (b"[" * 100_000, "nests deeper than 32"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"a": 1e999}', "too large"),
    (b'{"a": ' + b"9" * 5000 + b"}", "not JSON"),  # over Python's 4,300-digit integer limit
    (b"{not json", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    ('{"a": 1}'.encode("utf-16"), "not JSON"),  # JSON on the wire is UTF-8
    (b"", "not JSON"),
    (b'{"a": 9223372036854775808}', "larger than 64 bits"),
    (b'{"a": -9223372036854775809}', "larger than 64 bits"),
    (b'{"a": "\\ud800"}', "not valid Unicode"),
    (b'{"\\udfff": 1}', "not valid Unicode"),
])
def test_hostile_bodies_are_refused_with_a_reason(raw: bytes, says: str) -> None:
    with pytest.raises(BodyRefused) as refused:
        parse_json(raw)
    assert says in refused.value.message and refused.value.status == 400


def test_64_bit_integers_and_surrogate_pairs_are_read() -> None:
    assert parse_object(b'{"a": 9223372036854775807, "b": -9223372036854775808, "c": "\\ud83d\\ude00"}') == {
        "a": 2**63 - 1, "b": -(2**63), "c": "\U0001F600"}


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"null", b"3"])
def test_a_body_must_be_an_object(raw: bytes) -> None:
    with pytest.raises(BodyRefused, match="must be a JSON object"):
        parse_object(raw)


def test_a_body_over_the_size_limit_is_413() -> None:
    with pytest.raises(BodyTooLarge) as refused:
        parse_object(b'{"a": "' + b"x" * 100 + b'"}', max_bytes=64)
    assert refused.value.status == 413


def test_the_deepest_body_allowed_is_read() -> None:
    raw = b'{"a":' * (MAX_DEPTH - 1) + b"[1]" + b"}" * (MAX_DEPTH - 1)
    assert nesting_depth(raw) == MAX_DEPTH
    assert isinstance(parse_object(raw), dict)


@fuzz_settings(300)
@given(HOSTILE_BODIES)
def test_any_body_is_read_or_refused_never_another_exception(raw: bytes) -> None:
    try:
        parse_json(raw)
    except BodyRefused as refused:
        assert refused.status in (400, 413) and refused.message


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@fuzz_settings(300)
@given(JSON_VALUES)
def test_the_depth_scan_agrees_with_the_structure(value) -> None:
    assert nesting_depth(json.dumps(value).encode()) == depth(value)
    assert nesting_depth(json.dumps(value, ensure_ascii=False).encode()) == depth(value)


# --- one table per service ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raised", "status", "code"), [
    (gateway_errors.BadRequest("x"), 400, "bad_request"),
    (gateway_errors.Unauthorized("x"), 401, "unauthorized"),
    (gateway_errors.TokenRequired("x"), 401, "unauthorized"),
    (gateway_errors.LinkRefused("x"), 401, "link_refused"),
    (gateway_errors.NotFound("x"), 404, "not_found"),
    (gateway_errors.Conflict("x"), 409, "conflict"),
    (gateway_errors.PayloadTooLarge("x"), 413, "payload_too_large"),
    (gateway_errors.Unavailable("x"), 503, "unavailable"),
    (BodyTooLarge("the body is larger than 10 bytes"), 413, "payload_too_large"),
    (BodyRefused("the body nests deeper than 32 levels"), 400, "bad_request"),
    (ApiError("xero", 503, "busy", "https://api.xero.com/x"), 502, "upstream_failed"),
    (RecursionError("maximum recursion depth exceeded"), 500, "internal_error"),
    (KeyError("meta"), 500, "internal_error"),
])
def test_the_gateway_maps_each_exception_to_one_status_and_code(raised: Exception, status: int, code: str) -> None:
    error = gateway_errors.as_gateway_error(raised)
    assert (error.status, error.code) == (status, code)
    response = gateway_errors.error_response(error)
    body = json.loads(response.body)
    assert response.status == status and body["error"]["code"] == code
    if status == 500:  # the details stay in the log; the answer carries a reference to find them
        assert str(raised) not in body["error"]["message"] and body["error"]["reference"]
    if status == 502:
        assert "api.xero.com" not in json.dumps(body)


@pytest.mark.parametrize(("raised", "status", "code"), [
    (metering_errors.BadRequest("x"), 400, "bad_request"),
    (metering_errors.Unauthorized("x"), 401, "unauthorized"),
    (BodyTooLarge("x"), 413, "payload_too_large"),
    (BodyRefused("x"), 400, "bad_request"),
    (ValueError("boom"), 500, "internal_error"),
])
def test_metering_maps_each_exception_the_same_way(raised: Exception, status: int, code: str) -> None:
    error = metering_errors.as_metering_error(raised)
    response = metering_errors.error_response(error)
    assert response.status == status and json.loads(response.body)["error"]["code"] == code


def test_the_panel_table_answers_refused_bodies_in_pipedrives_format() -> None:
    from pdx_crmcard.entrypoints.panel_http import ERRORS

    def status(exc: Exception) -> int:
        return next(v for k, v in ERRORS.items() if isinstance(exc, k))[0]
    assert (status(BodyTooLarge("x")), status(BodyRefused("x"))) == (413, 400)
