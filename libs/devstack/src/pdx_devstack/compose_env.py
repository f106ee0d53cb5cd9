"""``./dev compose-env``: write the `.env` docker compose reads, from deploy/compose.env.example, with fresh random
secrets filled in (token key, API tokens, link signing key). Client ids and secrets of the real Pipedrive and Xero
apps are left for you, unless ``--sandboxes`` fills in the sandboxes' test clients. Never overwrites a `.env`."""

import argparse
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

GENERATED = {
    "PDX_TOKEN_KEY": lambda: Fernet.generate_key().decode(),
    "PDX_GATEWAY_API_TOKEN": lambda: secrets.token_urlsafe(32),
    "PDX_METERING_API_TOKEN": lambda: secrets.token_urlsafe(32),
    "PDX_METRICS_TOKEN": lambda: secrets.token_urlsafe(32),
    "PDX_LINK_SIGNING_KEY": lambda: secrets.token_urlsafe(32),
}
SANDBOX_CLIENTS = {
    "PDX_PIPEDRIVE_CLIENT_ID": "sandbox-pd-client", "PDX_PIPEDRIVE_CLIENT_SECRET": "sandbox-pd-secret",
    "PDX_XERO_CLIENT_ID": "sandbox-xero-client", "PDX_XERO_CLIENT_SECRET": "sandbox-xero-secret",
    "PDX_XERO_WEBHOOK_KEY": "sandbox-xero-webhook-key", "PDX_PUBLIC_URL": "http://gateway:8080",
}


def fill(example: str, sandboxes: bool) -> str:
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            if name in GENERATED and not value:
                value = GENERATED[name]()
            elif sandboxes and name in SANDBOX_CLIENTS:
                value = SANDBOX_CLIENTS[name]
            line = f"{name}={value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev compose-env", description=__doc__)
    parser.add_argument("--sandboxes", action="store_true", help="fill in the sandboxes' test clients")
    args = parser.parse_args()
    target = Path(".env")
    if target.exists():
        print(".env exists already; nothing changed", file=sys.stderr)
        return 1
    target.write_text(fill(Path("deploy/compose.env.example").read_text(), args.sandboxes))
    target.chmod(0o600)
    print("wrote .env (secrets generated; see deploy/compose.env.example for the rest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
