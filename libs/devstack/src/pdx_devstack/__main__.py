"""``python -m pdx_devstack``: the local run.

    up                      start everything on the embedded defaults; Ctrl-C stops it all
    move --deal N --stage S move a demo deal in the Pipedrive sandbox (fires the webhook as Pipedrive would)
    invoices                the Xero sandbox's GET /Invoices answer for the connected organisation
    activities --deal N     the deal's activities in the Pipedrive sandbox
"""

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from pdx_devstack.peek import sandbox_get, sandbox_post, xero_get
from pdx_devstack.stack import Stack, StackOptions

DEFAULT_DIR = Path(".local")
WON_STAGE = 5


async def _open_demo_deal(stack: Stack) -> int:
    """A deal not yet won (after a restart the demo deal may be), so the demo command makes a new draft."""
    deals = await sandbox_get(stack.urls["pipedrive"], "/_sandbox/deals", {"pipeline_id": "1"})
    return min((d["id"] for d in deals if d["status"] == "open" and d["stage_id"] != WON_STAGE), default=1)


SANDBOX_ADMIN, SANDBOX_SELLER = 12001, 12002  # the Pipedrive sandbox's seeded users (pdx_sandbox.pipedrive.users)


async def _print_table(stack: Stack) -> None:
    assert stack.infra and stack.seeded
    rows = [("broker (Tansu)", stack.infra.kafka_bootstrap, stack.infra.processes[0].pid),
            ("store (SecantusDB)", stack.infra.mongo_url.split("/?")[0], stack.infra.processes[1].pid)]
    rows += [(c.name, c.url or "", c.pid) for c in stack.children]
    print("\nRunning (Ctrl-C stops everything):")
    for name, where, pid in rows:
        print(f"  {name:<20} {where:<48} pid {pid}")
    how = "installed and connected now" if stack.installed_now else "installed in an earlier run, still connected"
    print(f"\nCompany {stack.seeded.company_id} ({how}) uses Xero organisation {stack.seeded.tenant_id}.")
    print("Trigger: deals entering 'Won' (pipeline Sales) become a DRAFT invoice; 'Quote requested' a DRAFT quote.")
    print(f"Logs (JSON, one line per event): {stack.options.data_dir / 'logs'}/")
    deal = await _open_demo_deal(stack)
    print(f"\nMove a demo deal to Won:\n  ./dev move --deal {deal} --stage Won")
    print("Then look:\n  ./dev invoices\n  ./dev activities --deal 1")
    host = f"{stack.urls['pipedrive']}/host/app-settings?company_id={stack.seeded.company_id}"
    print("\nThe app's settings, inside the Pipedrive sandbox (open in a browser):")
    print(f"  as the admin:           {host}&user_id={SANDBOX_ADMIN}")
    print(f"  as a salesperson:       {host}&user_id={SANDBOX_SELLER}")
    page = f"{stack.urls['pipedrive']}/host/deal/{deal}?company_id={stack.seeded.company_id}"
    print("The demo deal as a salesperson sees it (activities with Replay links, the Xero panel, and its actions:")
    print(f"Replay, Create draft invoice, Create draft quote):\n  {page}&user_id={SANDBOX_SELLER}\n", flush=True)


async def up(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir)
    # The store and both sandboxes keep their data in data_dir, so a restart finds the company as it was left.
    stack = Stack(StackOptions(data_dir=data_dir, gateway_port=args.gateway_port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("Starting the broker, the store, the sandboxes and the services...", flush=True)
    await stack.start()
    if stack.leftovers:
        print(f"Stopped what an earlier run left running: {', '.join(stack.leftovers)}.", flush=True)
    try:
        await _print_table(stack)
        await stop.wait()
    finally:
        print("\nStopping...", flush=True)
        stack.stop()
        print("Stopped: no process of ours is left.", flush=True)


def _state(data_dir: str) -> dict:
    path = Path(data_dir) / "stack.json"
    if not path.exists():
        sys.exit(f"nothing is running from {data_dir} (start it with ./dev up)")
    return json.loads(path.read_text())


async def move(args: argparse.Namespace) -> None:
    state = _state(args.data_dir)
    body = {"stage_id": int(args.stage)} if args.stage.isdigit() else {"stage": args.stage}
    try:
        deal = await sandbox_post(state["urls"]["pipedrive"], f"/_sandbox/deals/{args.deal}/move", body)
    except RuntimeError as exc:
        sys.exit(f"the Pipedrive sandbox refused: {exc}")
    print(f"Deal {deal['id']} '{deal['title']}' is now in stage {deal['stage_id']}; Pipedrive sent the webhook.")


async def invoices(args: argparse.Namespace) -> None:
    state = _state(args.data_dir)
    answer = await xero_get(mongo_url=state["mongo"], mongo_db=state["mongo_db"],
                            token_key=(Path(args.data_dir) / "token.key").read_text().strip(),
                            company_id=state["company_id"], xero_url=state["urls"]["xero"], path=f"/{args.kind}")
    print(json.dumps(answer, indent=2))


async def activities(args: argparse.Namespace) -> None:
    state = _state(args.data_dir)
    answer = await sandbox_get(state["urls"]["pipedrive"], "/_sandbox/activities", {"deal_id": str(args.deal)})
    print(json.dumps(answer, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DIR))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up")
    p.add_argument("--gateway-port", type=int, default=None)
    p = sub.add_parser("move")
    p.add_argument("--deal", type=int, required=True)
    p.add_argument("--stage", required=True, help="a stage name (Won) or id (5)")
    p = sub.add_parser("invoices")
    p.add_argument("--kind", default="Invoices", choices=["Invoices", "Quotes", "Contacts"])
    p = sub.add_parser("activities")
    p.add_argument("--deal", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run({"up": up, "move": move, "invoices": invoices, "activities": activities}[args.command](args))


if __name__ == "__main__":
    main()
