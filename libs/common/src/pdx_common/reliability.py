"""Waiting out what passes, dead-lettering only what will never work.

A failure is *transient* when the store or the broker cannot be reached, an API answers 5xx or 429, or a call
times out: it is waited out with capped exponential backoff and jitter for as long as it lasts, never dead-lettered,
and the caller keeps its place (the partition or the company's queue waits behind it, so one deal stays in order).
Any other failure is *deterministic* once it repeats identically ``attempts`` times, or once deterministic failures
of any text reach ``max_failures`` (errors that alternate or carry varying ids never repeat identically); only then
does the caller dead-letter the message, with the last error. Publishing a dead letter is itself waited out until
the broker confirms it (acks=all): an offset is committed only after its message was handled or durably
dead-lettered.

During shutdown a wait ends at once with ``Stopped`` and nothing is committed; the next owner redelivers.
"""

import asyncio
import errno
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiokafka import errors as kafka_errors
from pymongo import errors as mongo_errors

from pdx_common import topics
from pdx_common.contracts import DeadLettered
from pdx_common.http import ApiError
from pdx_common.metrics import HANDLER_RETRIES

log = structlog.get_logger()
Stopping = Callable[[], bool]
STOP_POLL_SECONDS = 0.2

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    mongo_errors.ConnectionFailure,  # AutoReconnect, NotPrimaryError, NetworkTimeout, ServerSelectionTimeoutError
    mongo_errors.WTimeoutError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
    kafka_errors.CoordinatorNotAvailableError,
    kafka_errors.NotCoordinatorError,
    aiohttp.ClientConnectorError,  # refused, DNS, unreachable while connecting (its SSL kinds are excluded below)
    aiohttp.ServerDisconnectedError,
    TimeoutError,  # asyncio.TimeoutError and aiohttp's ServerTimeoutError too
    ConnectionError,  # refused, reset, aborted, broken pipe (aiohttp's ClientConnectionResetError too)
)
# Never waited out, though some are OSErrors or aiohttp connection errors: a bad certificate or TLS set-up does not
# pass by itself, and would hold the partition for ever. Bare OSError is not transient either (PermissionError,
# FileNotFoundError, ...), only the socket-level errnos below.
_NEVER_TRANSIENT: tuple[type[BaseException], ...] = (ssl.SSLError, aiohttp.ClientSSLError,
                                                      aiohttp.ServerFingerprintMismatch)
# aiohttp's bare ClientOSError (a socket failing mid-request) is transient only with one of these errnos, like any
# OSError: it carries the socket's errno, and a reset or unreachable network passes, a local misconfiguration not.
_NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
                             errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})
_TRANSIENT_MONGO_LABELS = ("RetryableWriteError", "TransientTransactionError", "NetworkError")


class Stopped(Exception):  # noqa: N818 - a state, not an error: the service is shutting down
    """The service is stopping while this work waits out a failure: leave it uncommitted."""


def is_transient(exc: BaseException) -> bool:
    """True when the failure is about reaching something (store, broker, API, network), not about the message."""
    seen: set[int] = set()
    current: BaseException | None = exc
    # Only explicit causes (``raise ... from``), never ``__context__``: an error raised while handling a transient one
    # is its own failure, and a deterministic one must not be waited out for ever.
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_itself(current):
            return True
        current = current.__cause__
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.transient
    if isinstance(exc, BaseExceptionGroup):
        return all(is_transient(inner) for inner in exc.exceptions)
    if isinstance(exc, kafka_errors.KafkaError) and getattr(exc, "retriable", False):
        return True
    if isinstance(exc, mongo_errors.PyMongoError) and any(map(exc.has_error_label, _TRANSIENT_MONGO_LABELS)):
        return True
    if isinstance(exc, _NEVER_TRANSIENT):
        return False
    return isinstance(exc, _TRANSIENT_TYPES) or (isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # identical deterministic failures before dead-lettering
    first_delay: float = 0.5
    max_delay: float = 15.0

    @property
    def max_failures(self) -> int:
        """Deterministic failures of any text before dead-lettering (outages between do not count)."""
        return 3 * self.attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Capped exponential backoff with jitter (half to all of the step); never sooner than ``Retry-After``."""
        step = min(self.first_delay * 2 ** min(attempt - 1, 30), self.max_delay)
        return max(random.uniform(step / 2, step), retry_after or 0.0)  # noqa: S311 - jitter, not a secret


def describe(exc: BaseException) -> str:
    """The error as logs and dead letters carry it (never shown to a salesperson)."""
    return f"{type(exc).__name__}: {exc}"[:2000]


async def pause(seconds: float, stopping: Stopping | None) -> None:
    """Sleep, but raise ``Stopped`` soon after the service starts stopping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if stopping is not None and stopping():
            raise Stopped
        await asyncio.sleep(min(left, STOP_POLL_SECONDS) if stopping is not None else left)
    if stopping is not None and stopping():
        raise Stopped


async def unless_stopping(work: Awaitable[Any], stopping: Stopping | None) -> Any:
    """Await ``work``; if the service starts stopping first, cancel it and raise ``Stopped``."""
    if stopping is None:
        return await work
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=STOP_POLL_SECONDS)
            if done:
                return task.result()
            if stopping():
                raise Stopped
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def run_reliably(work: Callable[[], Awaitable[Any]], *, policy: RetryPolicy, topic: str, consumer: str,
                       stopping: Stopping | None = None) -> BaseException | None:
    """Run ``work`` until it succeeds (``None``) or fails identically ``policy.attempts`` times, or deterministically
    ``policy.max_failures`` times in all (the last error).

    Transient failures are waited out without limit. The first attempt runs undisturbed (a graceful stop lets it
    finish); once the work is waiting out a failure, stopping the service interrupts it with ``Stopped``.
    """
    waits, repeats, failures, last = 0, 0, 0, ""
    while True:
        try:
            await (work() if waits == 0 and failures == 0 else unless_stopping(work(), stopping))
            return None
        except (asyncio.CancelledError, Stopped):
            raise
        except Exception as exc:  # noqa: BLE001 - classified: waited out, retried, or returned for dead-lettering
            error = describe(exc)
            if is_transient(exc):
                HANDLER_RETRIES.labels(topic, consumer).inc()
                waits += 1
                delay = policy.delay(waits, getattr(exc, "retry_after", None))
                log.warning("transient failure, waiting it out", waits=waits, delay=round(delay, 2), error=error)
                await pause(delay, stopping)
                continue
            repeats, last = (repeats + 1 if error == last else 1), error
            failures += 1
            if repeats >= policy.attempts or failures >= policy.max_failures:
                return exc
            HANDLER_RETRIES.labels(topic, consumer).inc()
            log.warning("handler failed, will retry", attempt=repeats, error=error)
            await pause(policy.delay(repeats), stopping)


async def publish_durably(publisher: Any, message: Any, topic: str, key: bytes, *, policy: RetryPolicy,
                          stopping: Stopping | None = None) -> None:
    """Publish until the broker confirms (the producer uses acks=all); every failure is waited out."""
    waits = 0
    while True:
        try:
            await (publisher.publish(message, topic, key) if waits == 0
                   else unless_stopping(publisher.publish(message, topic, key), stopping))
            return
        except (asyncio.CancelledError, Stopped):
            raise
        except Exception as exc:  # noqa: BLE001 - never given up: the offset stays uncommitted meanwhile
            waits += 1
            delay = policy.delay(waits)
            log.warning("publish failed, waiting before trying again", topic=topic, waits=waits, error=describe(exc))
            await pause(delay, stopping)


def dead_letter_for(exc_text: str, *, company_id: str, deal_id: str, source_topic: str, consumer: str,
                    payload: dict[str, Any], attempts: int) -> DeadLettered:
    return DeadLettered(company_id=company_id, deal_id=deal_id, source_topic=source_topic, consumer=consumer,
                        payload=payload, error=exc_text[:2000], attempts=attempts)


async def dead_letter(publisher: Any, dead: DeadLettered, *, policy: RetryPolicy,
                      stopping: Stopping | None = None) -> None:
    """Publish ``dead`` to ``pdx.dead-letter`` durably, keyed like its deal."""
    log.error("dead-lettering", dead_letter_id=dead.id, source_topic=dead.source_topic, attempts=dead.attempts,
              error=dead.error)
    await publish_durably(publisher, dead, topics.DEAD_LETTER, topics.deal_key(dead.company_id, dead.deal_id),
                          policy=policy, stopping=stopping)
