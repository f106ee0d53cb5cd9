"""The whole system on one machine: broker, store, both sandboxes and every service, as separate processes.

Used by ``./dev up`` and by the end-to-end tests, so the tests run what a user runs.
"""

import json
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from pdx_devstack.infra import Infra, free_port, start_infra
from pdx_devstack.leftovers import Registry
from pdx_devstack.peek import sandbox_post
from pdx_devstack.processes import Child, respawn, rotate_logs, spawn, stop_children, wait_for_line, wait_ready
from pdx_devstack.seed import (
    PD_CLIENT,
    XERO_CLIENT,
    XERO_WEBHOOK_KEY,
    Seeded,
    install_through_gateway,
    installed_company,
)

APP_SETTINGS_PATH = "/app/pipedrive/settings"  # the "Custom UI for app settings" iframe URL (docs/pipedrive-app.md)
SERVICES = {  # name: (module, env prefix)
    "gateway": ("pdx_gateway", "PDX_GATEWAY_"),
    "mapper": ("pdx_mapper", "PDX_MAPPER_"),
    "xero-writer": ("pdx_writer", "PDX_WRITER_"),
    "crm-card": ("pdx_crmcard", "PDX_CARD_"),
    "metering": ("pdx_metering", "PDX_METERING_"),
}


# Addresses that other parties keep after the first run: the Pipedrive sandbox's is in the company's stored tokens
# (api_domain), the gateway's in the Pipedrive webhook subscription. A restart must find them where they were.
KEPT_ADDRESSES = ("pipedrive-sandbox", "gateway")


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
    restart_on_exit: bool = False  # restart a service that exits, as Kubernetes restarts a container
    restart_delay: float = 1.0  # first restart delay; doubles while a service keeps crashing, up to 30 s
    # How long the mapper gathers a Pipedrive record's edits before syncing it to Xero (None: the service's default,
    # a minute); the tests use a few seconds.
    record_sync_delay: float | None = None


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
    installed_now: bool = False  # False when the company was already installed and connected in this data folder
    leftovers: list[str] = field(default_factory=list)  # processes an earlier, killed launcher left, now stopped
    restarts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _supervisor: threading.Thread | None = field(default=None, repr=False)

    @property
    def registry(self) -> Registry:
        return Registry(self.options.data_dir)

    async def start(self) -> "Stack":
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.leftovers = self.registry.stop_leftovers()
        rotate_logs(opts.data_dir / "logs")
        self.token_key = self._secret("token.key", lambda: Fernet.generate_key().decode())
        self.api_token = self._secret("api.token", lambda: secrets.token_urlsafe(32))
        self.link_key = self._secret("link.key", lambda: secrets.token_urlsafe(32))
        # Pipedrive signs panel requests with the app's JWT secret (the client secret unless set otherwise).
        self.panel_secret = self._secret("panel.secret", lambda: secrets.token_urlsafe(32))
        try:
            self.infra = await start_infra(opts.data_dir / "infra")
            self.register_infra()
            # The gateway's and metering's addresses first: the Pipedrive sandbox frames the app's settings, and
            # the gateway reads usage from metering.
            self.urls["gateway"] = self._address("gateway", opts.gateway_port)
            if "metering" in opts.services:
                self.urls["metering"] = self._address("metering")
            self._start_sandboxes()
            await self.start_service("gateway")
            await self._install()
            for name in opts.services:
                if name != "gateway":
                    await self.start_service(name)
            if "crm-card" in opts.services:
                # As a Xero app's webhook is configured in Xero's developer portal: with the handshake.
                hook = await sandbox_post(self.urls["xero"], "/_sandbox/webhook",
                                          {"url": f"{self.urls['crm-card']}/webhooks/xero"})
                if not hook.get("intent_to_receive"):
                    raise RuntimeError(f"the crm-card failed Xero's intent-to-receive handshake: {hook}")
                # As the JSON panel is registered in Pipedrive's Developer Hub: the sandbox's deal page calls it.
                await sandbox_post(self.urls["pipedrive"], "/_sandbox/app",
                                   {"panel_url": f"{self.urls['crm-card']}/panel",
                                    "panel_jwt_secret": self.panel_secret})
            self._write_state()
            if opts.restart_on_exit:
                self._supervisor = threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True)
                self._supervisor.start()
        except BaseException:
            self.stop()
            raise
        return self

    async def _install(self) -> None:
        """Install as the company's admin would, unless this data folder's company is installed and connected."""
        recorded = self.options.data_dir / "company.json"
        if recorded.exists():
            company_id = json.loads(recorded.read_text())["company_id"]
            self.seeded = await installed_company(self.urls["gateway"], self.api_token, company_id)
        if self.seeded is None:
            self.seeded = await install_through_gateway(self.urls["gateway"], self.api_token)
            self.installed_now = True
            recorded.write_text(json.dumps({"company_id": self.seeded.company_id,
                                            "tenant_id": self.seeded.tenant_id}))

    def register_infra(self) -> None:
        """Record the broker's and the store's PIDs (call again after restarting either)."""
        assert self.infra is not None
        for name, proc in zip(("broker", "store"), self.infra.processes, strict=False):
            self.registry.add(name, proc.pid)

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        """Local runs only, kept in the data folder; production reads them from the environment."""
        path = self.options.data_dir / name
        if not path.exists():
            path.write_text(make())
            path.chmod(0o600)
        return path.read_text().strip()

    def _address(self, name: str, wanted: int | None = None) -> str:
        """The address this part had in the data folder's earlier runs, so what others stored still points at it."""
        path = self.options.data_dir / "ports.json"
        ports = json.loads(path.read_text()) if path.exists() else {}
        port = wanted or ports.get(name)
        if port is not None and not _port_free(port):
            if name in KEPT_ADDRESSES:
                raise RuntimeError(f"port {port} ({name}, recorded in {path}) is taken by a program that is not "
                                   f"ours; stop it (e.g. `ss -ltnp 'sport = :{port}'` shows which), or start afresh "
                                   f"with an empty data folder (`rm -rf {self.options.data_dir}`)")
            port = None
        port = port or free_port()
        path.write_text(json.dumps({**ports, name: port}, indent=1))
        return f"http://127.0.0.1:{port}"

    def _start_sandboxes(self) -> None:
        logs, state = self.options.data_dir / "logs", self.options.data_dir / "sandboxes"
        state.mkdir(exist_ok=True)
        pd_port = self._address("pipedrive-sandbox").rsplit(":", 1)[1]
        xero_port = self._address("xero-sandbox").rsplit(":", 1)[1]
        pd = self._spawn("pipedrive-sandbox", ["-m", "pdx_sandbox.pipedrive", "serve", "--port", pd_port,
                                               "--retry-delays", self.options.pipedrive_retry_delays,
                                               "--duplicate-deliveries",
                                               str(self.options.pipedrive_duplicate_deliveries),
                                               "--burst-limit", str(self.options.pipedrive_burst_limit),
                                               "--app-settings-url", f"{self.urls['gateway']}{APP_SETTINGS_PATH}",
                                               *self._extensions(),
                                               "--state-file", str(state / "pipedrive.pickle")], logs)
        xero = self._spawn("xero-sandbox", ["-m", "pdx_sandbox.xero", "--port", xero_port,
                                            "--clock-speed", str(self.options.xero_clock_speed),
                                            "--state-file", str(state / "xero.pickle")], logs)
        pd.url = self.urls["pipedrive"] = wait_for_line(pd, r"listening on (http://\S+)").group(1)
        xero.url = self.urls["xero"] = wait_for_line(xero, r"listening on (http://\S+)").group(1)

    def _extensions(self) -> list[str]:
        """The deal's JSON modals (the gateway's deal actions) as registered in Pipedrive's Developer Hub, so the
        sandbox's deal page shows them; the JSON panel is registered once the crm-card runs (``start``): its address
        is chosen when it starts, never earlier, so no other program can take the port meanwhile."""
        gateway = self.urls["gateway"]
        return ["--modal", f"Replay={gateway}/deal/modal/replay",
                "--modal", f"Create draft invoice={gateway}/deal/modal/create-invoice",
                "--modal", f"Create draft quote={gateway}/deal/modal/create-quote"]

    def _spawn(self, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Child:
        child = spawn(name, args, log_dir, env)
        with self._lock:
            self.children.append(child)
        self.registry.add(name, child.pid)
        return child
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
                       XERO_REVOKE_URL=f"{xero}/connect/revocation", XERO_API_URL=f"{xero}/api.xro/2.0",
                       # The sandbox plays Pipedrive's web app, so it may frame the settings app too.
                       APP_FRAME_ANCESTORS=f"https://*.pipedrive.com {pd}")
            if "metering" in self.urls:
                env.update(METERING_URL=self.urls["metering"], METERING_TOKEN=self.api_token)
        if name == "metering":
            env["API_TOKEN"] = self.api_token
        if name in ("mapper", "crm-card"):
            env.update(PIPEDRIVE_TOKEN_URL=f"{self.urls['pipedrive']}/oauth/token",
                       PIPEDRIVE_CLIENT_ID=PD_CLIENT[0], PIPEDRIVE_CLIENT_SECRET=PD_CLIENT[1])
        if name == "mapper" and self.options.record_sync_delay is not None:
            env["RECORD_SYNC_DELAY_SECONDS"] = str(self.options.record_sync_delay)
        if name == "crm-card":
            xero = self.urls["xero"]
            env.update(XERO_API_URL=f"{xero}/api.xro/2.0", XERO_TOKEN_URL=f"{xero}/connect/token",
                       XERO_CLIENT_ID=XERO_CLIENT[0], XERO_CLIENT_SECRET=XERO_CLIENT[1],
                       XERO_WEBHOOK_KEY=XERO_WEBHOOK_KEY, XERO_CLOCK_SPEED=str(self.options.xero_clock_speed),
                       PANEL_JWT_SECRET=self.panel_secret,
                       # A failure's activity and the deal's panel link to the gateway's Replay and Create pages.
                       GATEWAY_URL=self.urls["gateway"], LINK_SIGNING_KEY=self.link_key)
        if name == "xero-writer":
            xero = self.urls["xero"]
            env.update(XERO_API_URL=f"{xero}/api.xro/2.0", XERO_TOKEN_URL=f"{xero}/connect/token",
                       XERO_CLIENT_ID=XERO_CLIENT[0], XERO_CLIENT_SECRET=XERO_CLIENT[1],
                       XERO_CLOCK_SPEED=str(self.options.xero_clock_speed))
        return {prefix + key: value for key, value in env.items()}

    async def start_service(self, name: str) -> Child:
        url = self.urls.get(name) or self._address(name)
        port = int(url.rsplit(":", 1)[1])
        child = self._spawn(name, ["-m", SERVICES[name][0]], self.options.data_dir / "logs",
                            self.service_env(name, port))
        child.url = self.urls[name] = url
        await wait_ready(child)
        return child

    def stop_service(self, name: str) -> None:
        with self._lock:
            found = [c for c in self.children if c.name == name]
            for child in found:
                self.children.remove(child)
        stop_children(found)

    def child(self, name: str) -> Child:
        with self._lock:
            return next(c for c in self.children if c.name == name)

    def kill(self, name: str) -> int:
        """kill -9 the named child (a crash, an OOM kill); with ``restart_on_exit`` the supervisor restarts it."""
        pid = self.child(name).pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def _supervise(self) -> None:
        """Restart-on-exit for the services, with Kubernetes' doubling back-off (reset once a start has lasted)."""
        crashes: dict[str, int] = {}
        due: dict[str, float] = {}
        started: dict[str, float] = {}
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            for child in self._exited_services():
                if child.name not in due:
                    lived = now - started.get(child.name, 0.0)
                    crashes[child.name] = 0 if lived > 60 else crashes.get(child.name, 0) + 1
                    due[child.name] = now + min(30.0, self.options.restart_delay * 2 ** crashes[child.name])
                elif now >= due[child.name]:
                    del due[child.name]
                    self._restart(child)
                    started[child.name] = now

    def _exited_services(self) -> list[Child]:
        with self._lock:
            return [c for c in self.children if c.name in SERVICES and c.proc.poll() is not None]

    def _restart(self, child: Child) -> None:
        with self._lock:
            if self._stopping.is_set() or child not in self.children:
                return
            again = respawn(child)
            self.children[self.children.index(child)] = again
            self.restarts[child.name] = self.restarts.get(child.name, 0) + 1
        self.registry.add(child.name, again.pid)

    def _write_state(self) -> None:
        assert self.infra is not None and self.seeded is not None
        state = {"urls": self.urls, "kafka": self.infra.kafka_bootstrap, "mongo": self.infra.mongo_url,
                 "mongo_db": self.options.mongo_db, "company_id": self.seeded.company_id,
                 "tenant_id": self.seeded.tenant_id, "pids": {c.name: c.pid for c in self.children}}
        (self.options.data_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        with self._lock:
            children, self.children = list(self.children), []
        stop_children(children)
        if self.infra is not None:
            self.infra.stop()
        self.registry.clear()
        (self.options.data_dir / "stack.json").unlink(missing_ok=True)


def _port_free(port: int) -> bool:
    """Whether a server could listen on the port now (with SO_REUSEADDR, as aiohttp and Tansu do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
