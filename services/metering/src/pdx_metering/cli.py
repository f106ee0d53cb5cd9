"""``python -m pdx_metering.cli``: a company's billable drafts per month, through the metering API.

    usage --company 7001
    usage --company 7001 --from 2026-01 --to 2026-12
    usage --company 7001 --json

The API address and token come from --url/--token or PDX_METERING_URL/PDX_API_TOKEN.
"""

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp

COLUMNS = ("month", "drafts", "invoices", "quotes")


async def fetch_usage(url: str, token: str, company: str, first: str | None, last: str | None) -> tuple[int, Any]:
    query = {name: value for name, value in (("from", first), ("to", last)) if value}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url.rstrip('/')}/api/companies/{company}/usage", params=query,
                               headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json(content_type=None)


def table(months: list[dict[str, Any]]) -> str:
    """Months as aligned columns, with a total row when there is more than one month."""
    rows = [[str(m[c]) for c in COLUMNS] for m in months]
    if len(months) > 1:
        rows.append(["total", *(str(sum(m[c] for m in months)) for c in COLUMNS[1:])])
    if not rows:
        rows.append(["(none)", "0", "0", "0"])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = [COLUMNS, *rows]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(line, widths, strict=True))) for line in lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdx-metering", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default=os.environ.get("PDX_METERING_URL", "http://127.0.0.1:8084"))
    p.add_argument("--token", default=os.environ.get("PDX_API_TOKEN", ""))
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    sub = p.add_subparsers(dest="command", required=True)
    usage = sub.add_parser("usage", help="billable drafts per month")
    usage.add_argument("--company", required=True)
    usage.add_argument("--from", dest="first", metavar="YYYY-MM", help="first month (inclusive)")
    usage.add_argument("--to", dest="last", metavar="YYYY-MM", help="last month (inclusive)")
    usage.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status, body = asyncio.run(fetch_usage(args.url, args.token, args.company, args.first, args.last))
    except (aiohttp.ClientError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if status >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        print(f"error {status}: {error.get('message', body)}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2) if args.json else table(body["months"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
