"""Master-data sync benchmark: what 100 edits in Pipedrive cost in Xero calls and Pipedrive tokens, through the whole
system (the Pipedrive sandbox's webhooks, the gateway, the mapper's gathering of edits, the xero-writer's batched
updates, the Xero sandbox with Xero's real limits).

    ./dev bench                      # after the draft scenarios
    .venv/bin/python -m pdx_devstack.bench_sync --records 10 --edits 100

Two scenarios, each on records already linked to Xero (created in Xero as soon as they appear in Pipedrive):

- **burst**: the edits come at once (an admin fixing addresses and prices), spread over the records.
- **trickle**: one edit per record at a time, each waiting for the previous to reach Xero (the worst case for
  gathering: no two edits share an update).

Reported: Xero calls (every accounting API call, reads included) per 100 edits, Xero calls per record update, and
Pipedrive tokens spent by the app per edit (the sandbox counts each call's ``x-token-cost``).
"""

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from pdx_devstack.peek import sandbox_get
from pdx_devstack.stack import Stack, StackOptions


@dataclass
class SyncRow:
    scenario: str
    records: int
    edits: int
    xero_calls: int
    pipedrive_tokens: int
    seconds: float

    def cells(self) -> list[str]:
        return [self.scenario, str(self.records), str(self.edits), str(self.xero_calls),
                f"{self.xero_calls * 100 / self.edits:.1f}", f"{self.xero_calls / self.records:.2f}",
                f"{self.pipedrive_tokens / self.edits:.2f}", f"{self.seconds:.1f}"]


class SyncBench:
    def __init__(self, data_dir: Path, records: int, delay: float) -> None:
        self.records, self.run = records, uuid.uuid4().hex[:6]
        self.stack = Stack(StackOptions(data_dir=data_dir, record_sync_delay=delay, pipedrive_burst_limit=2000,
                                        services=("gateway", "mapper", "xero-writer")))
        self.orgs: list[int] = []
        self.products: list[dict[str, Any]] = []

    async def start(self) -> None:
        await self.stack.start()
        await self._settings({"sync": {"update_xero": True, "create_on_add": True}})

    def stop(self) -> None:
        self.stack.stop()

    @property
    def pipedrive(self) -> str:
        return self.stack.urls["pipedrive"]

    @property
    def xero(self) -> str:
        return self.stack.urls["xero"]

    async def _call(self, method: str, url: str, body: dict | None = None) -> dict:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, url, json=body) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"{method} {url}: {resp.status} {await resp.text()}")
                answer = await resp.json()
        return answer.get("data", answer) if isinstance(answer, dict) else answer

    async def _settings(self, patch: dict) -> None:
        """As an operator changes them: the gateway's settings API (a merge patch)."""
        assert self.stack.seeded
        url = f"{self.stack.urls['gateway']}/api/companies/{self.stack.seeded.company_id}/settings"
        headers = {"Authorization": f"Bearer {self.stack.api_token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(url) as resp:
                version = (await resp.json())["version"]
            async with session.patch(url, json={**patch, "version": version}) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"settings refused: {resp.status} {await resp.text()}")

    async def add_records(self) -> None:
        """Organisations and products, each created in Xero by the sync (create as soon as they appear)."""
        for n in range(self.records):
            org = await self._call("POST", f"{self.pipedrive}/_sandbox/organizations",
                                   {"name": f"Bench customer {self.run}-{n}", "address": _address(n, 0)})
            self.orgs.append(org["id"])
            product = await self._call("POST", f"{self.pipedrive}/_sandbox/products",
                                       {"name": f"Bench product {n}", "code": f"B{self.run}-{n}", "tax": 15,
                                        "prices": [{"currency": "NZD", "price": 100 + n}]})
            self.products.append(product)
        await self._settled(lambda contacts, items: self._all_there(contacts, items, 0))

    async def burst(self, edits: int) -> SyncRow:
        return await self._measure("burst", edits, self._burst)

    async def trickle(self, edits: int) -> SyncRow:
        return await self._measure("trickle", edits, self._trickle)

    async def _burst(self, edits: int, round_: int) -> None:
        for n in range(edits):
            await self._edit(n % (2 * self.records), round_ * 1000 + n // (2 * self.records) + 1)
        await self._settled(lambda contacts, items: self._all_there(contacts, items, round_ * 1000 + edits
                                                                    // (2 * self.records)))

    async def _trickle(self, edits: int, round_: int) -> None:
        for n in range(edits):
            version = round_ * 1000 + n + 1
            record = n % (2 * self.records)
            await self._edit(record, version)
            await self._settled(lambda contacts, items, r=record, v=version: self._one_there(contacts, items, r, v))

    async def _measure(self, name: str, edits: int, work) -> SyncRow:
        round_ = 1 if name == "burst" else 2
        calls, tokens = len(await self._xero_calls()), await self._tokens()
        started = time.monotonic()
        await work(edits, round_)
        return SyncRow(name, 2 * self.records, edits, len(await self._xero_calls()) - calls,
                       await self._tokens() - tokens, time.monotonic() - started)

    async def _edit(self, record: int, version: int) -> None:
        if record < self.records:
            await self._call("POST", f"{self.pipedrive}/_sandbox/organizations/{self.orgs[record]}",
                             {"address": _address(record, version)})
        else:
            product = self.products[record - self.records]
            await self._call("POST", f"{self.pipedrive}/_sandbox/products/{product['id']}",
                             {"prices": [{"currency": "NZD", "price": 100 + version}]})

    def _all_there(self, contacts: dict[str, dict], items: dict[str, dict], version: int) -> bool:
        return (all(_street(contacts.get(f"Bench customer {self.run}-{n}")) == _line1(n, version)
                    for n in range(self.records))
                and all(_price(items.get(p["code"])) == 100 + (version or n)
                        for n, p in enumerate(self.products)))

    def _one_there(self, contacts: dict[str, dict], items: dict[str, dict], record: int, version: int) -> bool:
        if record < self.records:
            return _street(contacts.get(f"Bench customer {self.run}-{record}")) == _line1(record, version)
        return _price(items.get(self.products[record - self.records]["code"])) == 100 + version

    async def _settled(self, done, timeout: float = 600.0) -> None:
        assert self.stack.seeded
        tenant = self.stack.seeded.tenant_id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            contacts = {c["Name"]: c for c in await sandbox_get(self.xero, f"/_sandbox/tenants/{tenant}/contacts")}
            items = {i["Code"]: i for i in await sandbox_get(self.xero, f"/_sandbox/tenants/{tenant}/items")}
            if done(contacts, items) and not await self._pending():
                return
            await asyncio.sleep(0.2)
        raise TimeoutError("the edits did not all reach Xero")

    async def _pending(self) -> int:
        assert self.stack.infra
        client = AsyncMongoClient(self.stack.infra.mongo_url)
        try:
            return await client[self.stack.options.mongo_db].record_changes.count_documents({})
        finally:
            await client.close()

    async def _xero_calls(self) -> list[dict]:
        assert self.stack.seeded
        found = await sandbox_get(self.xero, "/_sandbox/requests", {"tenant": self.stack.seeded.tenant_id})
        return [r for r in found if str(r.get("path", "")).startswith("/api.xro/")]

    async def _tokens(self) -> int:
        assert self.stack.seeded
        spent = await sandbox_get(self.pipedrive, "/_sandbox/tokens")
        return int(spent.get(str(self.stack.seeded.company_id), 0)) if isinstance(spent, dict) else 0


def _line1(n: int, version: int) -> str:
    return f"{version + 1} Bench Street {n}"


def _address(n: int, version: int) -> dict:
    return {"value": f"{_line1(n, version)}, Auckland 1010, New Zealand", "street_number": str(version + 1),
            "route": f"Bench Street {n}", "locality": "Auckland", "admin_area_level_1": "Auckland",
            "postal_code": "1010", "country": "New Zealand"}


def _street(contact: dict | None) -> str | None:
    for address in (contact or {}).get("Addresses") or []:
        if address.get("AddressType") == "STREET":
            return address.get("AddressLine1")
    return None


def _price(item: dict | None) -> float | None:
    price = ((item or {}).get("SalesDetails") or {}).get("UnitPrice")
    return None if price is None else float(price)


def table(rows: list[SyncRow], delay: float) -> str:
    lines = [f"Master-data sync: Pipedrive edits to Xero contacts and items (edits gathered for {delay:g} s)", "",
             "| scenario | records | edits | Xero calls | Xero calls per 100 edits | Xero calls per record "
             "| Pipedrive tokens per change | seconds |", "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


async def run(records: int, edits: int, delay: float, trickle: int) -> str:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-bench-sync-"))
    bench = SyncBench(data_dir, records, delay)
    try:
        await bench.start()
        await bench.add_records()
        rows = [await bench.burst(edits)]
        if trickle:
            rows.append(await bench.trickle(trickle))
        return table(rows, delay)
    finally:
        bench.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench_sync", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=10, help="organisations, and as many products")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--trickle", type=int, default=20, help="edits one at a time (0: skip)")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the mapper gathers a record's edits")
    args = parser.parse_args()
    print(asyncio.run(run(args.records, args.edits, args.delay, args.trickle)), flush=True)


if __name__ == "__main__":
    main()
