"""The edge leaks nothing: a client without credentials, on every route the gateway and the crm-card serve (the two
services the internet reaches), learns no company id, tenant id, organisation, host or volume; and no metric is
labelled with anything that grows with the customers."""

import ast
import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import REGISTRY, generate_latest

from pdx_common.metrics import UNBOUNDED_LABELS
from pdx_gateway.bootstrap import create_app as gateway_app
from pdx_sandbox.pipedrive import DEMO_DEAL_ID, STAGE_WON
from tests.integration.test_oauth_pipedrive import connect_xero_directly, running_stack
from tests.integration.test_panel_rig import AROHA, open_card

STRANGER = "31337"  # the company id a stranger puts in URLs and bodies: echoing it back tells them nothing
PROBES = [  # headers and bodies a stranger tries on every route
    ({}, None),
    ({"Authorization": "Bearer not-the-token-not-the-token"}, {"company_id": int(STRANGER)}),
    ({"Authorization": aiohttp.encode_basic_auth("pdx-someone", "guess")},
     {"meta": {"company_id": int(STRANGER), "entity": "deal", "action": "change"}, "data": {"id": 1}}),
]


def routes(app: web.Application) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app and its sub-apps (whose paths already carry their prefix), path
    parameters filled in as a stranger would; a static folder by one of its files."""
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:
            yield from routes(info["app"])
            continue
        path = info.get("path") or info.get("formatter") or f"{info['prefix']}/app.css"
        path = path.replace("{company_id}", STRANGER).replace("{deal_id}", "42")
        for route in resource:
            if route.method != "HEAD":
                yield route.method, re.sub(r"\{[^}]+\}", "x", path)


async def walk(base_url: str, app: web.Application) -> list[tuple[str, int, str]]:
    """Every route with every probe; (request, status, headers and body as text)."""
    seen = []
    async with aiohttp.ClientSession() as stranger:
        for method, path in sorted(set(routes(app))):
            for headers, body in PROBES:
                query = {"companyId": STRANGER, "company_id": STRANGER, "state": "x", "code": "y", "token": "z"}
                async with stranger.request(method, f"{base_url}{path}", headers=headers, json=body, params=query,
                                            allow_redirects=False) as resp:
                    text = f"{dict(resp.headers)}\n{await resp.text()}"
                    seen.append((f"{method} {path}", resp.status, text))
    return seen


def leaks(seen: list[tuple[str, int, str]], secrets: list[str]) -> list[str]:
    found = []
    for request, status, text in seen:
        for secret in secrets:
            if re.search(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", text):
                found.append(f"{request} -> {status} reveals {secret!r}")
        if re.search(r"pdx_\w+_total|mongodb|kafka|Traceback", text, re.IGNORECASE):
            found.append(f"{request} -> {status} reveals internals: {text[:200]!r}")
    return found


def series() -> set[tuple[str, tuple]]:
    """Every pdx_ series: (sample name, its labels), whatever its value."""
    return {(s.name, tuple(sorted(s.labels.items())))
            for family in REGISTRY.collect() if family.name.startswith("pdx_") for s in family.samples}


async def gateway_with_traffic(infra, mongo_db, run) -> tuple[str, str, set]:
    """An installed company with Xero connected and one accepted webhook; ``run(stack)`` then walks it."""
    async with running_stack(infra, mongo_db) as s:
        await s.install()
        await connect_xero_directly(s)
        async with s.browser.post(f"{s.pd_url}/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage_id": STAGE_WON}):
            pass
        delivered = await _delivered(s)
        assert delivered["status"] == 200, delivered
        tenant = (await s.db.connections.find_one({"_id": f"xero:{s.company_id}"}))["tenant_id"]
        await run(s, tenant)
        return s.company_id, tenant, series()


async def _delivered(s) -> dict:
    async with asyncio.timeout(30):
        while not s.pd.deliveries:
            await asyncio.sleep(0.02)
    return s.pd.deliveries[0]


async def test_a_stranger_learns_no_company_tenant_or_volume_from_the_gateway(infra, mongo_db):
    async def run(s, tenant: str) -> None:
        seen = await walk(s.gateway_url, gateway_app(s.settings))
        assert leaks(seen, [s.company_id, tenant, "Demo Company"]) == []
        by_request = {(request, status) for request, status, _ in seen}
        assert ("GET /metrics", 401) in by_request and ("GET /readyz", 200) in by_request
        # The walk reaches the operators' API and the settings app (not their 404s), and both refuse a stranger.
        assert (f"GET /api/companies/{STRANGER}/settings", 401) in by_request
        assert ("GET /app/connections", 401) in by_request and ("GET /app/pipedrive/settings", 401) in by_request
        assert [text.split("\n", 1)[1] for request, _, text in seen if request == "GET /readyz"][0] == \
            '{"status": "ready"}'
        assert not [r for r in seen if r[1] >= 500], [r[:2] for r in seen if r[1] >= 500]
        # A guessed real company id gets exactly what an unknown one gets: no oracle of who is a customer.
        assert await _webhook_answer(s.gateway_url, s.company_id) == await _webhook_answer(s.gateway_url, STRANGER)

    company, tenant, _ = await gateway_with_traffic(infra, mongo_db, run)
    # Operators reading /metrics (the metrics token) see counts, and no customer either.
    text = generate_latest().decode()
    assert 'pdx_webhooks_total{outcome="accepted",source="pipedrive"}' in text
    assert company not in text and tenant not in text


async def _webhook_answer(url: str, company_id: str) -> tuple[int, str]:
    headers = {"Authorization": aiohttp.encode_basic_auth("pdx-someone", "guess")}
    async with aiohttp.ClientSession() as stranger:
        async with stranger.post(f"{url}/webhooks/pipedrive/{company_id}", headers=headers, json={}) as resp:
            body = (await resp.text()).replace(company_id, "<id>")
            return resp.status, re.sub(r'"reference": "\w+"', "", body)


async def test_a_stranger_learns_no_company_tenant_or_volume_from_the_crm_card(infra, mongo_db):
    async with open_card(infra, mongo_db) as rig:
        await rig.draft(DEMO_DEAL_ID, AROHA)
        status, shown = await rig.panel("deal", DEMO_DEAL_ID)
        assert status == 200 and shown["data"]  # the company's own panel shows its documents

        seen = await walk(rig.card_url, rig.card.app)

        assert leaks(seen, [rig.company_id, rig.tenant_id, "Demo Company", AROHA[0]]) == []
        assert {("GET /metrics", 401), ("GET /readyz", 200), ("GET /panel", 401)} <= {r[:2] for r in seen}
        assert not [r for r in seen if r[1] >= 500], [r[:2] for r in seen if r[1] >= 500]


async def test_metric_series_do_not_grow_with_companies(infra, mongo_db):
    async def nothing(s, tenant):
        return None

    first = await gateway_with_traffic(infra, mongo_db, nothing)
    second = await gateway_with_traffic(infra, mongo_db, nothing)  # another company, another install, same work

    assert first[0] != second[0]
    assert second[2] == first[2], sorted(second[2] - first[2])
    for family in REGISTRY.collect():
        if family.name.startswith("pdx_"):
            labels = {name for s in family.samples for name in s.labels} - {"le", "quantile"}
            assert not labels & UNBOUNDED_LABELS, (family.name, labels)


def declared_labels() -> Iterator[tuple[str, str, list[str]]]:
    """(file, metric, label names) of every Counter, Gauge, Histogram and Summary the project's code defines."""
    root = Path(__file__).parents[2]
    for path in [*root.glob("libs/*/src/**/*.py"), *root.glob("services/*/src/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            kind = getattr(node, "func", None)
            if not (isinstance(node, ast.Call) and getattr(kind, "id", None) in METRIC_TYPES and node.args
                    and isinstance(node.args[0], ast.Constant)):  # not collections.Counter
                continue
            labels = node.args[2] if len(node.args) > 2 else next(
                (k.value for k in node.keywords if k.arg == "labelnames"), ast.List(elts=[]))
            yield path.name, ast.literal_eval(node.args[0]), [ast.literal_eval(e) for e in labels.elts]


METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary"}


def test_every_metric_definition_keeps_customers_out_of_its_labels():
    declared = list(declared_labels())
    assert {"pdx_xero_calls_total", "pdx_pipedrive_calls_total"} <= {name for _, name, _ in declared}
    assert [(f, name, labels) for f, name, labels in declared if set(labels) & UNBOUNDED_LABELS] == []
