"""``python -m pdx_sandbox.pipedrive serve --host 127.0.0.1 --port 0 [--retry-delays 3,30,150] [--clock-speed 1]
[--state-file PATH]
[--company-id 7001] [--company-domain demo] [--app-settings-url URL] [--jwt-secret SECRET]
[--panel-url URL] [--panel-jwt-secret SECRET] [--modal "Replay=URL" ...] [--modal-jwt-secret SECRET]``
prints ``pipedrive sandbox listening on http://127.0.0.1:PORT`` and serves until SIGTERM/SIGINT.
``python -m pdx_sandbox.pipedrive move --url http://127.0.0.1:PORT --deal 1 --stage Won`` moves a deal as a user.
"""

import argparse
import asyncio
import json
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from aiohttp import web

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.pipedrive.app import create_app
from pdx_sandbox.pipedrive.state import PipedriveState


def _delays(raw: str) -> tuple[float, ...]:
    return tuple(float(x) for x in raw.split(",") if x.strip())


def _modal(raw: str) -> tuple[str, str]:
    name, _, url = raw.partition("=")
    if not name.strip() or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"give NAME=URL with an http(s) URL, not {raw!r}")
    return name.strip(), url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pdx_sandbox.pipedrive", description="Pipedrive API sandbox")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--retry-delays", type=_delays, default=(3.0, 30.0, 150.0),
                       help="sandbox seconds, e.g. 3,30,150")
    serve.add_argument("--clock-speed", type=float, default=1.0, help="sandbox seconds per wall-clock second")
    serve.add_argument("--burst-limit", type=int, default=80)
    serve.add_argument("--duplicate-deliveries", type=int, default=1, help="send every webhook event n times")
    serve.add_argument("--state-file", type=Path, default=None,
                       help="keep the company's records, grants and webhooks in this file across restarts")
    serve.add_argument("--public-url", default=None, help="base URL to advertise (api_domain), if not the bound one")
    serve.add_argument("--company-id", type=int, default=7001, help="the sandbox company's id")
    serve.add_argument("--company-domain", default="demo", help="the sandbox company's domain")
    serve.add_argument("--client-id", default="sandbox-pd-client", help="the app's OAuth client id")
    serve.add_argument("--client-secret", default="sandbox-pd-secret",
                       help="the app's OAuth client secret (also signs the settings iframe's JWT)")
    serve.add_argument("--app-settings-url", default=None,
                       help="the app's settings iframe URL that /host/app-settings embeds (or POST /_sandbox/app)")
    serve.add_argument("--jwt-secret", default=None, help="the app's JWT secret, if not the client secret")
    serve.add_argument("--panel-url", default=None, help="the app's JSON panel URL that /host/deal/{id} shows")
    serve.add_argument("--panel-jwt-secret", default=None, help="the JSON panel's JWT secret, if not the app's")
    serve.add_argument("--modal", action="append", type=_modal, default=[], metavar="NAME=URL",
                       help='a JSON modal in the deal panel\'s actions menu, e.g. "Replay=http://gw/deal/modal/replay" '
                            "(repeat, at most 3)")
    serve.add_argument("--modal-jwt-secret", default=None, help="the JSON modals' JWT secret, if not the app's")
    move = sub.add_parser("move", help="move a deal to a stage as a Pipedrive user would")
    move.add_argument("--url", required=True, help="sandbox base URL")
    move.add_argument("--deal", type=int, required=True)
    move.add_argument("--stage", required=True, help="stage name (Won) or id (5)")
    return p


async def serve(args: argparse.Namespace) -> None:
    state = PipedriveState(SandboxClock(args.clock_speed), retry_delays=args.retry_delays,
                           burst_limit=args.burst_limit, duplicate_deliveries=args.duplicate_deliveries,
                           company_id=args.company_id, company_domain=args.company_domain,
                           client_id=args.client_id, client_secret=args.client_secret)
    if args.state_file is not None:
        state.keep_in(args.state_file)
    if args.app_settings_url is not None:
        state.app_settings_url = args.app_settings_url
    if args.jwt_secret is not None:
        state.jwt_secret = args.jwt_secret
    if args.panel_url is not None:
        state.panel_url = args.panel_url
    if args.panel_jwt_secret is not None:
        state.panel_jwt_secret = args.panel_jwt_secret
    if args.modal:
        state.modals = dict(args.modal[:3])
    if args.modal_jwt_secret is not None:
        state.modal_jwt_secret = args.modal_jwt_secret
    runner = web.AppRunner(create_app(state))
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
        host, port = runner.addresses[0][:2]
        state.base_url = args.public_url or f"http://{args.host if args.host not in ('', '0.0.0.0') else host}:{port}"
        print(f"pipedrive sandbox listening on http://{args.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        if state.state_file is not None:
            state.state_file.save()


def move(args: argparse.Namespace) -> int:
    body = {"stage_id": int(args.stage)} if args.stage.isdigit() else {"stage": args.stage}
    url = f"{args.url.rstrip('/')}/_sandbox/deals/{args.deal}/move"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        print(f"move failed: HTTP {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"move failed: {exc.reason}", file=sys.stderr)
        return 1
    deal, moved = answer["data"], answer["additional_data"]
    print(f"deal {deal['id']} {deal['title']!r}: {moved['old_stage']} -> {moved['new_stage']}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        asyncio.run(serve(args))
        return 0
    return move(args)
