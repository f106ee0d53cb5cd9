"""python -m pdx_sandbox.xero --host 127.0.0.1 --port 0 [--clock-speed 1] [--webhook-url URL] [--state-file PATH]
[--consent first|all|page]"""

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from ..clock import SandboxClock
from .app import create_app
from .state import CONSENT_MODES, XeroState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pdx_sandbox.xero", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--clock-speed", type=float, default=1.0, help="sandbox seconds per wall-clock second")
    parser.add_argument("--client-id", default="sandbox-xero-client")
    parser.add_argument("--client-secret", default="sandbox-xero-secret")
    parser.add_argument("--webhook-key", default="sandbox-xero-webhook-key")
    parser.add_argument("--webhook-url", default=None, help="where to POST Xero webhook events")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="keep organisations, documents, grants and connections in this file across restarts")
    parser.add_argument("--consent", choices=CONSENT_MODES, default="first",
                        help="what authorize grants: the first organisation (default), all of them, or a consent "
                             "page where the user ticks organisations (for browser flows)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    state = XeroState(SandboxClock(args.clock_speed), client_id=args.client_id, client_secret=args.client_secret,
                      webhook_key=args.webhook_key)
    state.webhook_url = args.webhook_url
    state.consent = args.consent
    if args.state_file is not None:
        state.keep_in(args.state_file)
    runner = web.AppRunner(create_app(state))
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = runner.addresses[0][1]
    print(f"xero sandbox listening on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if state.state_file is not None:
            state.state_file.save()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))
    sys.exit(0)


if __name__ == "__main__":
    main()
