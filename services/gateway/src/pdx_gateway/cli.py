"""``python -m pdx_gateway.cli``: company settings and replays from a terminal, through the gateway's API.

    settings get    --company 7001
    settings patch  --company 7001 '{"money": {"sales_account_code": "260"}}'
    settings set    --company 7001 --file settings.json
    replay          --company 7001 --deal 42
    replay-failed   --company 7001 [--paced]   --paced: as a job, a window of deals at a time (docs/backfill.md)
    backfill        --company 7001 [--dry-run] [--wait]   drafts for deals already in a trigger stage (docs/backfill.md)
    job             --company 7001 9f0c... [--start | --cancel] [--wait]   a backfill's or bulk replay's progress
    status          --company 7001 --deal 42
    erase           --company 7001 --yes    erase the company's personal data now (irreversible; docs/deploy.md)
    erasure         --company 7001          the company's scheduled or done erasure
    dead-letters    --company 7001 [--state waiting|redriven]   the company's dead letters
    dead-letter     --company 7001 --id 9f0c...                 one, with its error and payload
    redrive         --company 7001 --id 9f0c... | --all         send one (or every waiting one) again
    webhooks        --company 7001 [--show]   register the company's missing Pipedrive webhooks (idempotent)
    links           --company 7001 [--kind contact|item]         Pipedrive customers/products linked to Xero
    link            --company 7001 --customer pd-org-12 --xero-contact <ContactID>   an admin's link
    unlink          --company 7001 --customer pd-org-12          forget it (the next sync matches afresh)

The API address and token come from --url/--token or PDX_API_URL/PDX_API_TOKEN (``./dev admin`` sets both).
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp


async def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {args.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{args.url.rstrip('/')}/api/companies/{args.company}{path}",
                                   json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


async def _with_version(args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    if "version" not in body:
        status, current = await _call(args, "GET", "/settings")
        if status != 200:
            return body
        body = {**body, "version": current["version"]}
    return body


async def run(args: argparse.Namespace) -> tuple[int, Any]:
    if args.command == "settings":
        if args.action == "get":
            return await _call(args, "GET", "/settings")
        if args.action == "patch":
            return await _call(args, "PATCH", "/settings", await _with_version(args, json.loads(args.patch)))
        return await _call(args, "PUT", "/settings", await _with_version(args, json.loads(Path(args.file).read_text())))
    if args.command == "replay":
        return await _call(args, "POST", f"/deals/{args.deal}/replay")
    if args.command == "replay-failed":
        return await _call(args, "POST", "/replay-failed?paced=true" if args.paced else "/replay-failed")
    if args.command in ("backfill", "job"):
        return await _jobs(args)
    if args.command in ("erase", "erasure"):
        return await _call(args, "POST" if args.command == "erase" else "GET", f"/{args.command}")
    if args.command in ("dead-letters", "dead-letter", "redrive"):
        return await _dead_letters(args)
    if args.command in ("webhooks", "links", "link", "unlink"):
        return await _master_data(args)
    return await _call(args, "GET", f"/deals/{args.deal}/status")


async def _jobs(args: argparse.Namespace) -> tuple[int, Any]:
    if args.command == "backfill":
        status, body = await _call(args, "POST", "/backfill", {"dry_run": args.dry_run})
    elif args.start or args.cancel:
        status, body = await _call(args, "POST", f"/jobs/{args.job_id}/{'start' if args.start else 'cancel'}")
    else:
        status, body = await _call(args, "GET", f"/jobs/{args.job_id}")
    if not args.wait or status >= 400:
        return status, body
    job_id = body["job"]["id"]
    # A dry run is waited for until it is checked; a run until it is finished.
    while body["job"]["state"] in ("dry_run", "running"):
        print(_line(body["job"]), file=sys.stderr)
        await asyncio.sleep(args.every)
        status, body = await _call(args, "GET", f"/jobs/{job_id}")
        if status >= 400:
            return status, body
    return status, body


def _line(job: dict[str, Any]) -> str:
    p = job["progress"]
    if job["state"] == "dry_run":
        return f"{job['id']}: checking which deals would make drafts..."
    return (f"{job['id']}: {p['made']} made, {p['failed']} failed, {p['skipped']} skipped of {p['total']} "
            f"({p['outstanding']} in flight)")


async def _dead_letters(args: argparse.Namespace) -> tuple[int, Any]:
    if args.command == "dead-letters":
        return await _call(args, "GET", "/dead-letters" + (f"?state={args.state}" if args.state else ""))
    if args.command == "dead-letter":
        return await _call(args, "GET", f"/dead-letters/{args.id}")
    return await _call(args, "POST", "/dead-letters/redrive" if args.all else f"/dead-letters/{args.id}/redrive")


async def _master_data(args: argparse.Namespace) -> tuple[int, Any]:
    if args.command == "webhooks":
        return await _call(args, "GET" if args.show else "POST", "/webhooks")
    if args.command == "links":
        return await _call(args, "GET", f"/links?kind={args.kind}")
    path = f"/links/contact/{quote(args.customer, safe='')}"
    if args.command == "link":
        return await _call(args, "PUT", path, {"xero_contact_id": args.xero_contact})
    return await _call(args, "DELETE", path)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdx-admin", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default=os.environ.get("PDX_API_URL", "http://127.0.0.1:8080"))
    p.add_argument("--token", default=os.environ.get("PDX_API_TOKEN", ""))
    sub = p.add_subparsers(dest="command", required=True)
    settings = sub.add_parser("settings")
    settings.add_argument("action", choices=["get", "patch", "set"])
    settings.add_argument("patch", nargs="?", default="{}", help="JSON merge patch, for 'patch'")
    settings.add_argument("--file", help="a whole settings document, for 'set'")
    for name in ("settings", "replay", "replay-failed", "status"):
        target = settings if name == "settings" else sub.add_parser(name)
        target.add_argument("--company", required=True)
        if name in ("replay", "status"):
            target.add_argument("--deal", required=True)
    sub.choices["replay-failed"].add_argument("--paced", action="store_true",
                                              help="as a job that keeps a window of deals in flight")
    _job_parsers(sub)
    erase = sub.add_parser("erase", help="erase a company's personal data now (irreversible)")
    erase.add_argument("--company", required=True)
    erase.add_argument("--yes", action="store_true", required=True, help="confirm: nothing can bring it back")
    sub.add_parser("erasure", help="a company's scheduled or done erasure").add_argument("--company", required=True)
    _dead_letter_parsers(sub)
    _master_data_parsers(sub)
    return p


def _job_parsers(sub: Any) -> None:
    backfill = sub.add_parser("backfill", help="make drafts for deals already sitting in a trigger stage")
    backfill.add_argument("--company", required=True)
    backfill.add_argument("--dry-run", action="store_true", help="only check: counts and why deals would fail")
    job = sub.add_parser("job", help="a backfill's or bulk replay's state and progress")
    job.add_argument("--company", required=True)
    job.add_argument("job_id")
    action = job.add_mutually_exclusive_group()
    action.add_argument("--start", action="store_true", help="run a checked backfill")
    action.add_argument("--cancel", action="store_true", help="stop the job")
    for target in (backfill, job):
        target.add_argument("--wait", action="store_true", help="until checked (dry run) or finished, "
                                                                "printing progress to stderr")
        target.add_argument("--every", type=float, default=2.0, help=argparse.SUPPRESS)


def _dead_letter_parsers(sub: Any) -> None:
    listing = sub.add_parser("dead-letters", help="a company's dead letters, oldest first")
    listing.add_argument("--state", choices=["waiting", "redriven"])
    one = sub.add_parser("dead-letter", help="one dead letter, with its error and original payload")
    one.add_argument("--id", required=True)
    again = sub.add_parser("redrive", help="re-publish dead letters to their source topic")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="one dead letter")
    which.add_argument("--all", action="store_true", help="every waiting dead letter of the company")
    for target in (listing, one, again):
        target.add_argument("--company", required=True)


def _master_data_parsers(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="register the company's missing Pipedrive webhooks (deal, person, "
                                            "organization, product); also re-registers ones Pipedrive lost")
    hooks.add_argument("--show", action="store_true", help="only show the webhooks the gateway knows")
    links = sub.add_parser("links", help="Pipedrive customers or products linked to Xero, with their last sync")
    links.add_argument("--kind", choices=["contact", "item"], default="contact")
    link = sub.add_parser("link", help="link a Pipedrive customer to the right Xero contact (an admin's link)")
    link.add_argument("--xero-contact", required=True, help="the Xero ContactID")
    unlink = sub.add_parser("unlink", help="forget a customer's link")
    for target in (link, unlink):
        target.add_argument("--customer", required=True, help="pd-org-<id> or pd-person-<id>")
    for target in (hooks, links, link, unlink):
        target.add_argument("--company", required=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "settings" and args.action == "set" and not args.file:
        sys.exit("settings set needs --file")
    try:
        status, body = asyncio.run(run(args))
    except (aiohttp.ClientError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2))
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
