"""Running a service: every service is an aiohttp app (health endpoints at least) whose cleanup context starts and
stops its FastStream broker and its MongoDB client, so SIGTERM stops taking work, finishes and closes in order.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from pdx_common.logging import configure_logging
from pdx_common.metrics import metrics_view

log = structlog.get_logger()
ReadinessCheck = Callable[[], Awaitable[None]]
CHECKS = web.AppKey("readiness_checks", list)


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
    """``/healthz``: the process answers. ``/readyz``: every dependency answers (503 with the failing ones).
    ``/metrics``: Prometheus metrics."""
    app[CHECKS] = checks
    app.router.add_get("/healthz", _live)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", metrics_view)


async def _live(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _ready(request: web.Request) -> web.Response:
    failures = []
    for check in request.app[CHECKS]:
        try:
            await asyncio.wait_for(check(), 2.0)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; it is reported, not swallowed
            failures.append(f"{getattr(check, '__name__', 'check')}: {type(exc).__name__}: {exc}"[:300])
    if failures:
        return web.json_response({"status": "not ready", "failures": failures}, status=503)
    return web.json_response({"status": "ready"})


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
    run_service(create_app(settings), settings.host, settings.port, name)


def run_service(app: web.Application, host: str, port: int, name: str) -> None:
    log.info("service starting", name=name, host=host, port=port)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=20.0, handle_signals=True)
