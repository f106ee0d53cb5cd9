"""Running a service: every service is an aiohttp app (health endpoints at least) whose cleanup context starts and
stops its FastStream broker and its MongoDB client, so SIGTERM stops taking work, finishes and closes in order.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, SecretStr

from pdx_common.auth import bearer_matches
from pdx_common.logging import configure_logging
from pdx_common.metrics import metrics_view

log = structlog.get_logger()
ReadinessCheck = Callable[[], Awaitable[None]]
CHECKS = web.AppKey("readiness_checks", list)
# The metrics token (the service's METRICS_TOKEN setting); empty: /metrics is refused to everyone.
METRICS_TOKEN = web.AppKey("metrics_token", str)


class KafkaPublisher:
    """Publishes contract models as JSON, keyed so one deal's messages stay in order."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, message: BaseModel, topic: str, key: bytes) -> None:
        await self._broker.publish(message.model_dump(mode="json"), topic, key=key,
                                   headers={"type": getattr(message, "type", type(message).__name__)})


def broker_context(broker: KafkaBroker, *, before_stop: Callable[[], Awaitable[None]] | None = None,
                   after_stop: Callable[[], Awaitable[None]] | None = None
                   ) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await broker.start()
        log.info("broker started")
        yield
        if before_stop is not None:
            await before_stop()  # e.g. finish queued work, while the producer can still publish results
        # Stops consuming first, lets in-flight handlers finish, commits, then closes the producer.
        await broker.stop()
        if after_stop is not None:
            await after_stop()
        log.info("broker stopped")
    return ctx


def add_health_routes(app: web.Application, checks: list[ReadinessCheck]) -> None:
    """``/healthz``: the process answers. ``/readyz``: every dependency answers (200, or 503 with the failing checks
    named only to a bearer of the metrics token, and logged). ``/metrics``: Prometheus metrics, to a bearer of the
    metrics token only.

    The gateway and the crm-card face the internet: what anyone may read here (``{"status": "ready"}``) names no
    company, organisation, host or volume. Probes need nothing more; Prometheus presents the token."""
    app[CHECKS] = checks
    app.router.add_get("/healthz", _live)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", _metrics)


def set_metrics_token(app: web.Application, token: SecretStr | str | None) -> None:
    """Let the bearer of ``token`` read ``/metrics`` and the readiness details (``serve()`` sets the setting's)."""
    app[METRICS_TOKEN] = token.get_secret_value() if isinstance(token, SecretStr) else (token or "")


def _operator(request: web.Request) -> bool:
    expected = request.config_dict.get(METRICS_TOKEN, "")
    return bool(expected) and bearer_matches(request.headers.get("Authorization", ""), expected)


async def _live(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _ready(request: web.Request) -> web.Response:
    failures = []
    for check in request.app[CHECKS]:
        try:
            await asyncio.wait_for(check(), 2.0)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; it is reported, not swallowed
            failures.append(f"{getattr(check, '__name__', 'check')}: {type(exc).__name__}: {exc}"[:300])
    if not failures:
        return web.json_response({"status": "ready"})
    log.warning("not ready", failures=failures)
    # Host names and error texts are for operators: anyone else learns only that the service is not ready.
    details = {"failures": failures} if _operator(request) else {}
    return web.json_response({"status": "not ready", **details}, status=503)


async def _metrics(request: web.Request) -> web.Response:
    if not _operator(request):
        return web.json_response({"error": {"code": "unauthorized", "message": "a metrics bearer token is required"}},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="pdx-metrics"'})
    return await metrics_view(request)


def kafka_check(broker: KafkaBroker) -> ReadinessCheck:
    async def kafka() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("the broker does not answer")
    return kafka


def serve(name: str, settings_class: type, create_app: Callable[[Any], web.Application]) -> None:
    """Every service's ``main()``: settings from the environment (refused with a message when wrong), logging,
    then the app until SIGTERM or SIGINT."""
    settings = settings_class()
    configure_logging(name, settings.log_level, settings.log_json)
    app = create_app(settings)
    set_metrics_token(app, settings.metrics_token)
    if settings.metrics_token is None:
        log.warning("metrics token not set: /metrics refuses every request", name=name)
    run_service(app, settings.host, settings.port, name)


def run_service(app: web.Application, host: str, port: int, name: str) -> None:
    log.info("service starting", name=name, host=host, port=port)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=20.0, handle_signals=True)
