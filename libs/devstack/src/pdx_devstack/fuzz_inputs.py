"""The generated inputs of ``./dev fuzz`` and ``tests/integration/test_fuzz_surfaces.py``: one Hypothesis strategy
of requests (``Probe``) per inbound HTTP surface, mixing good and wrong credentials with hostile bodies, ids and
queries, and ``drive`` to send them. Deterministic: derandomized, no example database."""

import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parents[4]
HYPOTHESIS_HOME = ROOT / ".local" / "hypothesis"  # never a .hypothesis/ folder in the working tree


def quiet_hypothesis() -> None:
    """Keep Hypothesis's caches under ``.local/`` (ignored by git); runs use no example database."""
    set_hypothesis_home_dir(str(HYPOTHESIS_HOME))


def fuzz_settings(count: int) -> settings:
    """Deterministic (derandomize), no example database, no deadline, generation only (a tally, not a search)."""
    return settings(max_examples=count, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False)


# --- what is sent -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """One request to ``service`` ("gateway", "card" or "metering")."""

    service: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """The secrets and companies the surfaces accept, so some inputs carry good credentials."""

    webhook_company: str
    api_company: str
    card_company: str
    hook_user: str
    hook_password: str
    api_token: str
    metering_token: str
    jwt_secret: str
    xero_key: str


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=16))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
IDS = st.one_of(st.integers(min_value=-3, max_value=10**19), st.booleans(), st.none(), st.floats(),
                st.sampled_from(["0", "-1", "abc", "1.5", "", " 1", "1e3", "٣", "9" * 30, "1,2", "42", "1001"]))
GOOD_ID = st.integers(min_value=1, max_value=10**9)
NASTY = [b"", b"null", b"[]", b'"text"', b"{", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
         b'{"a": 1e999}', b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}", b"\xff\xfe{}", '{"a": 1}'.encode("utf-16"),
         b'{"a": "\\ud800"}', b"\x00", b'{"a":1}' * 1000]


def _nested(shape: tuple[int, str]) -> bytes:
    depth, kind = shape
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # unclosed: the parser would recurse before it saw the error


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # allow_nan: NaN and Infinity are sent as the bare words, as an attacker would


DEEP = st.tuples(st.integers(min_value=33, max_value=6000), st.sampled_from(["array", "object", "open"])).map(_nested)
HOSTILE_BODIES = st.one_of(JSON_VALUES.map(dumps), DEEP, st.sampled_from(NASTY), st.binary(max_size=256))


def _webhook_body(company: str) -> st.SearchStrategy[bytes]:
    meta = st.fixed_dictionaries({
        "id": st.one_of(st.uuids().map(lambda u: u.hex), st.text(max_size=140)),
        "action": st.sampled_from(["create", "change", "change", "delete", "merge"]),
        "entity": st.sampled_from(["deal", "deal", "person"]), "entity_id": st.one_of(GOOD_ID, IDS),
        "company_id": st.sampled_from([company, company, "1", 7]), "version": st.sampled_from(["2.0", "2.0", "1.0"]),
        "attempt": st.integers(min_value=-1, max_value=12),
        "timestamp": st.sampled_from(["2026-11-27T10:00:00Z", "yesterday", 0])})
    data = st.one_of(st.none(), st.fixed_dictionaries({"id": st.one_of(GOOD_ID, IDS), "stage_id": IDS,
                                                       "value": LEAVES}), JSON_VALUES)
    previous = st.one_of(st.none(), st.just({"stage_id": 4}), JSON_VALUES)
    shaped = st.fixed_dictionaries({"meta": meta, "data": data, "previous": previous}).map(dumps)
    deep_data = st.tuples(meta, DEEP).map(lambda md: b'{"meta": ' + dumps(md[0]) + b', "data": {"x": ' + md[1] + b"}}")
    return st.one_of(_valid_webhook(company), shaped, deep_data, HOSTILE_BODIES)


def _valid_webhook(company: str) -> st.SearchStrategy[bytes]:
    """Pipedrive's shape with good ids, so some inputs are accepted (and must publish exactly once each)."""
    def body(event_id: str, deal_id: int, action: str, data: dict[str, Any]) -> bytes:
        return dumps({"meta": {"id": event_id, "action": action, "entity": "deal", "entity_id": str(deal_id),
                                "company_id": company, "version": "2.0", "attempt": 1,
                                "timestamp": "2026-11-27T10:00:00Z"},
                       "data": {**data, "id": deal_id}, "previous": {"stage_id": 4}})
    return st.builds(body, st.uuids().map(lambda u: u.hex), GOOD_ID, st.sampled_from(["create", "change"]),
                     st.dictionaries(st.sampled_from(["title", "value", "stage_id", "currency", "$set", "a.b", ""]),
                                     st.one_of(LEAVES, st.sampled_from([2**63, -(2**63) - 1, "\ud800", 10**400])),
                                     max_size=4))


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def webhook_probes(t: Target) -> st.SearchStrategy[Probe]:
    auth = st.sampled_from([basic_auth(t.hook_user, t.hook_password)] * 4
                           + [basic_auth(t.hook_user, "wrong"), "Basic !!!", "Bearer x", ""])
    company = st.sampled_from([t.webhook_company] * 6 + ["0", "999999999", "abc"])
    return st.builds(lambda a, c, b: Probe("gateway", "POST", f"/webhooks/pipedrive/{quote(c)}",
                                           {"Authorization": a, "Content-Type": "application/json"}, b),
                     auth, company, _webhook_body(t.webhook_company))


def _path_id(value: Any) -> str:
    return quote(str(value), safe="")


def api_probes(t: Target) -> st.SearchStrategy[Probe]:
    token = st.sampled_from([f"Bearer {t.api_token}"] * 4 + ["Bearer wrong", "", "Basic x"])
    base = f"/api/companies/{t.api_company}"
    settings_body = st.one_of(st.fixed_dictionaries({"version": st.one_of(st.integers(-1, 3), LEAVES),
                                                     "money": JSON_VALUES, "triggers": JSON_VALUES}).map(dumps),
                              HOSTILE_BODIES)
    tenant_body = st.one_of(st.fixed_dictionaries({"tenant_id": LEAVES}).map(dumps), HOSTILE_BODIES)
    route = st.one_of(
        st.tuples(st.sampled_from(["PUT", "PATCH"]), st.just(f"{base}/settings"), settings_body),
        st.tuples(st.just("PUT"), st.just(f"{base}/xero/tenant"), tenant_body),
        st.tuples(st.just("POST"), st.one_of(GOOD_ID, IDS).map(lambda d: f"{base}/deals/{_path_id(d)}/replay"),
                  st.none()),
        st.tuples(st.just("GET"), st.one_of(GOOD_ID, IDS).map(lambda d: f"{base}/deals/{_path_id(d)}/status"),
                  st.none()),
        st.tuples(st.just("GET"), st.just(f"{base}/settings"), st.none()),
        st.tuples(st.sampled_from(["POST", "GET"]), st.sampled_from([f"{base}/replay-failed", f"{base}/erasure",
                                                                    f"{base}/dead-letters/redrive",
                                                                    f"{base}/connections"]), st.none()),
        st.tuples(st.just("GET"), st.text(max_size=20).map(lambda q: f"{base}/dead-letters?state={quote(q)}"),
                  st.none()),
        st.tuples(st.sampled_from(["GET", "POST"]), st.one_of(IDS, st.text(max_size=40)).map(
            lambda d: f"{base}/dead-letters/{_path_id(d)}" + ("/redrive" if len(str(d)) % 2 else "")), st.none()))
    return st.builds(lambda a, r: Probe("gateway", r[0], r[1], {"Authorization": a,
                                                                "Content-Type": "application/json"}, r[2]),
                     token, route)


def _panel_token(t: Target, kind: str) -> str | None:
    claims = {"companyId": int(t.card_company), "userId": 1, "exp": int(time.time()) + 3600}
    if kind == "none":
        return None
    if kind == "forged":
        return jwt.encode(claims, "a-secret-that-is-not-the-apps-secret-0123", algorithm="HS256")
    if kind == "expired":
        return jwt.encode({**claims, "exp": 1}, t.jwt_secret, algorithm="HS256")
    if kind == "other":
        return jwt.encode({**claims, "companyId": 1}, t.jwt_secret, algorithm="HS256")
    return jwt.encode(claims, t.jwt_secret, algorithm="HS256")


def panel_probes(t: Target) -> st.SearchStrategy[Probe]:
    selected = st.one_of(GOOD_ID.map(str), IDS.map(str), st.lists(IDS.map(str), max_size=150).map(",".join))
    query = st.fixed_dictionaries({"resource": st.sampled_from(["deal", "person", "organization", "product", ""]),
                                   "selectedIds": selected, "companyId": st.sampled_from([t.card_company, "1", ""]),
                                   "userId": IDS.map(str)})
    token = st.sampled_from(["good"] * 4 + ["none", "forged", "expired", "other"])

    def probe(kind: str, q: dict[str, str], post: bool, in_header: bool, body: bytes) -> Probe:
        jwt_token = _panel_token(t, kind)
        headers = {"Content-Type": "application/json"} if post else {}
        if jwt_token and in_header:
            headers["Authorization"] = f"Bearer {jwt_token}"
        elif jwt_token:
            q = {**q, "token": jwt_token}
        return Probe("card", "POST" if post else "GET", "/panel/update" if post else "/panel", headers,
                     body if post else None, q)
    return st.builds(probe, token, query, st.booleans(), st.booleans(), HOSTILE_BODIES)


def xero_probes(t: Target) -> st.SearchStrategy[Probe]:
    from pdx_sandbox.xero.webhooks import sign  # Xero's own signature, as the sandbox makes it

    event = st.fixed_dictionaries({"resourceId": st.one_of(st.uuids().map(str), LEAVES),
                                   "eventCategory": st.sampled_from(["INVOICE", "CONTACT", "QUOTE", ""]),
                                   "eventType": st.sampled_from(["UPDATE", "CREATE"]),
                                   "tenantId": st.one_of(st.uuids().map(str), LEAVES),
                                   "resourceUrl": st.one_of(st.none(), st.text(max_size=40))})
    shaped = st.fixed_dictionaries({"events": st.lists(event, max_size=3), "firstEventSequence": LEAVES,
                                    "lastEventSequence": LEAVES, "entropy": st.text(max_size=20)}).map(dumps)
    body = st.one_of(shaped, HOSTILE_BODIES)
    signature = st.sampled_from(["good"] * 4 + ["wrong", "none", "garbage"])

    def probe(kind: str, raw: bytes) -> Probe:
        headers = {"good": {"x-xero-signature": sign(raw, t.xero_key)},
                   "wrong": {"x-xero-signature": sign(raw, "not-the-key")},
                   "garbage": {"x-xero-signature": "%%%"}}.get(kind, {})
        return Probe("card", "POST", "/webhooks/xero", headers, raw)
    return st.builds(probe, signature, body)


def metering_probes(t: Target) -> st.SearchStrategy[Probe]:
    token = st.sampled_from([f"Bearer {t.metering_token}"] * 4 + ["Bearer wrong", ""])
    company = st.one_of(st.just(t.webhook_company), IDS.map(_path_id), st.text(max_size=80).map(_path_id))
    month = st.one_of(st.none(), st.sampled_from(["2026-11", "2026-13", "26-1", "2026-01-01", ""]),
                      st.text(max_size=300))
    return st.builds(lambda a, c, f, to: Probe("metering", "GET", f"/api/companies/{c}/usage", {"Authorization": a},
                                               None, {k: v for k, v in (("from", f), ("to", to)) if v is not None}),
                     token, company, month, month)


SURFACES: dict[str, Callable[[Target], st.SearchStrategy[Probe]]] = {
    "gateway webhook": webhook_probes, "operators' API": api_probes, "crm-card panel": panel_probes,
    "Xero webhook": xero_probes, "metering API": metering_probes}


def generate(strategy: st.SearchStrategy[Probe], count: int) -> list[Probe]:
    """Hypothesis generates ``count`` probes up front, on the caller's thread. Called from a coroutine it blocks the
    event loop meanwhile, on purpose: Hypothesis checks that nothing touches the global ``random`` while it draws,
    and the apps' background work (the broker client, the store's monitors, retry jitter) would, from the loop."""
    probes: list[Probe] = []

    @fuzz_settings(count)
    @given(strategy)
    def one(probe: Probe) -> None:
        probes.append(probe)
    one()
    return probes


async def drive(strategy: st.SearchStrategy[Probe], count: int, send: Callable[[Probe], Awaitable[None]]) -> None:
    """Generate ``count`` probes, then send each in turn."""
    for probe in generate(strategy, count):
        await send(probe)


