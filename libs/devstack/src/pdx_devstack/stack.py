"""The whole system on one machine: broker, store, both sandboxes and every service, as separate processes.

Used by ``./dev up`` and by the end-to-end tests, so the tests run what a user runs.
"""

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from pdx_devstack.infra import Infra, free_port, start_infra
from pdx_devstack.peek import sandbox_post
from pdx_devstack.processes import Child, spawn, stop_children, wait_for_line, wait_ready
from pdx_devstack.seed import PD_CLIENT, XERO_CLIENT, XERO_WEBHOOK_KEY, Seeded, install_through_gateway

SERVICES = {  # name: (module, env prefix)
    "gateway": ("pdx_gateway", "PDX_GATEWAY_"),
    "mapper": ("pdx_mapper", "PDX_MAPPER_"),
    "xero-writer": ("pdx_writer", "PDX_WRITER_"),
    "crm-card": ("pdx_crmcard", "PDX_CARD_"),
    "metering": ("pdx_metering", "PDX_METERING_"),
}


@dataclass
class StackOptions:
    data_dir: Path
    gateway_port: int | None = None
    pipedrive_retry_delays: str = "3,30,150"
    pipedrive_duplicate_deliveries: int = 1
    pipedrive_burst_limit: int = 80  # Pipedrive's lowest plan: 80 requests per 2 s per token
    xero_clock_speed: float = 1.0
    services: tuple[str, ...] = tuple(SERVICES)
    mongo_db: str = "pdx"
    retry_first_delay: float = 0.5


@dataclass
class Stack:
    options: StackOptions
    infra: Infra | None = None
    children: list[Child] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    seeded: Seeded | None = None
    token_key: str = ""
    api_token: str = ""
    link_key: str = ""
    panel_secret: str = ""

    async def start(self) -> "Stack":
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.token_key = self._secret("token.key", lambda: Fernet.generate_key().decode())
        self.api_token = self._secret("api.token", lambda: secrets.token_urlsafe(32))
        self.link_key = self._secret("link.key", lambda: secrets.token_urlsafe(32))
        # Pipedrive signs panel requests with the app's JWT secret (the client secret unless set otherwise).
        self.panel_secret = self._secret("panel.secret", lambda: secrets.token_urlsafe(32))
        try:
            self.infra = await start_infra(opts.data_dir / "infra")
            self._start_sandboxes()
            self.urls["gateway"] = f"http://127.0.0.1:{opts.gateway_port or free_port()}"
            await self.start_service("gateway")
            self.seeded = await install_through_gateway(self.urls["gateway"], self.api_token)
            for name in opts.services:
                if name != "gateway":
                    await self.start_service(name)
            if "crm-card" in opts.services:
                # As a Xero app's webhook is configured in Xero's developer portal: with the handshake.
                hook = await sandbox_post(self.urls["xero"], "/_sandbox/webhook",
                                          {"url": f"{self.urls['crm-card']}/webhooks/xero"})
                if not hook.get("intent_to_receive"):
                    raise RuntimeError(f"the crm-card failed Xero's intent-to-receive handshake: {hook}")
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        """Local runs only, kept in the data folder; production reads them from the environment."""
        path = self.options.data_dir / name
        if not path.exists():
            path.write_text(make())
            path.chmod(0o600)
        return path.read_text().strip()

    def _start_sandboxes(self) -> None:
        logs = self.options.data_dir / "logs"
        pd = spawn("pipedrive-sandbox", ["-m", "pdx_sandbox.pipedrive", "serve", "--port", "0",
                                         "--retry-delays", self.options.pipedrive_retry_delays,
                                         "--duplicate-deliveries", str(self.options.pipedrive_duplicate_deliveries),
                                         "--burst-limit", str(self.options.pipedrive_burst_limit)],
                   logs)
        self.children.append(pd)
        xero = spawn("xero-sandbox", ["-m", "pdx_sandbox.xero", "--port", "0",
                                      "--clock-speed", str(self.options.xero_clock_speed)], logs)
        self.children.append(xero)
        pd.url = self.urls["pipedrive"] = wait_for_line(pd, r"listening on (http://\S+)").group(1)
        xero.url = self.urls["xero"] = wait_for_line(xero, r"listening on (http://\S+)").group(1)

    def service_env(self, name: str, port: int) -> dict[str, str]:
        assert self.infra is not None
        prefix = SERVICES[name][1]
        env = {"HOST": "127.0.0.1", "PORT": str(port), "KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
               "MONGO_URL": self.infra.mongo_url, "MONGO_DB": self.options.mongo_db, "LOG_JSON": "true",
               # Tansu: a group join takes session_timeout/2, so keep it short locally.
               "KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
               "TOKEN_KEY": self.token_key, "RETRY_FIRST_DELAY": str(self.options.retry_first_delay),
               "METRICS_TOKEN": self.api_token}  # locally the operators' token also reads /metrics
        if name == "gateway":
            pd, xero = self.urls["pipedrive"], self.urls["xero"]
            env.update(API_TOKEN=self.api_token, PUBLIC_URL=self.urls["gateway"], LINK_SIGNING_KEY=self.link_key,
                       PIPEDRIVE_CLIENT_ID=PD_CLIENT[0], PIPEDRIVE_CLIENT_SECRET=PD_CLIENT[1],
                       PIPEDRIVE_AUTHORIZE_URL=f"{pd}/oauth/authorize", PIPEDRIVE_TOKEN_URL=f"{pd}/oauth/token",
                       XERO_CLIENT_ID=XERO_CLIENT[0], XERO_CLIENT_SECRET=XERO_CLIENT[1],
                       XERO_AUTHORIZE_URL=f"{xero}/identity/connect/authorize",
                       XERO_TOKEN_URL=f"{xero}/connect/token", XERO_CONNECTIONS_URL=f"{xero}/connections",
                       XERO_REVOKE_URL=f"{xero}/connect/revocation")
        if name == "metering":
            env["API_TOKEN"] = self.api_token
        if name in ("mapper", "crm-card"):
            env.update(PIPEDRIVE_TOKEN_URL=f"{self.urls['pipedrive']}/oauth/token",
                       PIPEDRIVE_CLIENT_ID=PD_CLIENT[0], PIPEDRIVE_CLIENT_SECRET=PD_CLIENT[1])
        if name == "crm-card":
            xero = self.urls["xero"]
            env.update(XERO_API_URL=f"{xero}/api.xro/2.0", XERO_TOKEN_URL=f"{xero}/connect/token",
                       XERO_CLIENT_ID=XERO_CLIENT[0], XERO_CLIENT_SECRET=XERO_CLIENT[1],
                       XERO_WEBHOOK_KEY=XERO_WEBHOOK_KEY, XERO_CLOCK_SPEED=str(self.options.xero_clock_speed),
                       PANEL_JWT_SECRET=self.panel_secret)
        if name == "xero-writer":
            xero = self.urls["xero"]
            env.update(XERO_API_URL=f"{xero}/api.xro/2.0", XERO_TOKEN_URL=f"{xero}/connect/token",
                       XERO_CLIENT_ID=XERO_CLIENT[0], XERO_CLIENT_SECRET=XERO_CLIENT[1],
                       XERO_CLOCK_SPEED=str(self.options.xero_clock_speed))
        return {prefix + key: value for key, value in env.items()}

    async def start_service(self, name: str) -> Child:
        url = self.urls.get(name) or f"http://127.0.0.1:{free_port()}"
        port = int(url.rsplit(":", 1)[1])
        child = spawn(name, ["-m", SERVICES[name][0]], self.options.data_dir / "logs", self.service_env(name, port))
        child.url = self.urls[name] = url
        self.children.append(child)
        await wait_ready(child)
        return child

    def stop_service(self, name: str) -> None:
        for child in [c for c in self.children if c.name == name]:
            stop_children([child])
            self.children.remove(child)

    def _write_state(self) -> None:
        assert self.infra is not None and self.seeded is not None
        state = {"urls": self.urls, "kafka": self.infra.kafka_bootstrap, "mongo": self.infra.mongo_url,
                 "mongo_db": self.options.mongo_db, "company_id": self.seeded.company_id,
                 "tenant_id": self.seeded.tenant_id, "pids": {c.name: c.pid for c in self.children}}
        (self.options.data_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        stop_children(self.children)
        self.children.clear()
        if self.infra is not None:
            self.infra.stop()
        state = self.options.data_dir / "stack.json"
        state.unlink(missing_ok=True)
