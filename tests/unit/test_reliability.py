"""The failure classifier and the retry loop, with fakes: transient failures are waited out for as long as they last,
an error that repeats identically is returned for dead-lettering, a dead letter is published until the broker
confirms, and stopping interrupts a wait."""

import asyncio
import errno

import aiohttp
import pytest
from aiokafka import errors as kafka_errors
from pydantic import BaseModel, ValidationError
from pymongo import errors as mongo_errors

from pdx_common import topics
from pdx_common.contracts import DeadLettered
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.reliability import RetryPolicy, Stopped, dead_letter, is_transient, pause, run_reliably
from pdx_writer.dispatch import CompanyQueues, Pending

FAST = RetryPolicy(attempts=3, first_delay=0.001, max_delay=0.002)


def _validation_error() -> ValidationError:
    class Strict(BaseModel):
        n: int
    try:
        Strict(n="x")  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc
    raise AssertionError


def _wrapped(inner: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("publishing failed") from inner
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("exc", [
    mongo_errors.ServerSelectionTimeoutError("no servers"), mongo_errors.AutoReconnect("reconnect"),
    mongo_errors.NetworkTimeout("slow"), mongo_errors.NotPrimaryError("not primary"),
    mongo_errors.ConnectionFailure("gone"),
    kafka_errors.KafkaConnectionError(), kafka_errors.KafkaTimeoutError(), kafka_errors.RequestTimedOutError(),
    kafka_errors.NotLeaderForPartitionError(), kafka_errors.NodeNotReadyError(),
    ApiError("xero", 503, "", "u"), ApiError("xero", 429, "", "u", retry_after=7),
    ApiError("pipedrive", 500, "", "u"), aiohttp.ServerDisconnectedError(),
    aiohttp.ClientConnectorError(None, OSError(111, "refused")),  # type: ignore[arg-type]
    TimeoutError(), ConnectionResetError(), OSError(errno.ENETUNREACH, "network unreachable"),
    _wrapped(kafka_errors.KafkaTimeoutError()),
    ExceptionGroup("both", [TimeoutError(), mongo_errors.AutoReconnect("x")]),
], ids=lambda e: type(e).__name__)
def test_reaching_something_is_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    ValueError("bad"), KeyError("k"), _validation_error(), ApiError("xero", 400, "bad", "u"),
    ApiError("pipedrive", 404, "", "u"), ConnectionMissing("xero", "7001"), mongo_errors.DuplicateKeyError("dup"),
    kafka_errors.CommitFailedError(), kafka_errors.MessageSizeTooLargeError(),
    ExceptionGroup("mixed", [TimeoutError(), ValueError("x")]),
], ids=lambda e: type(e).__name__)
def test_a_problem_with_the_message_is_not_transient(exc):
    assert not is_transient(exc)


class Flaky:
    """Fails with each of ``errors`` in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


async def test_an_outage_is_waited_out_however_long_it_lasts():
    work = Flaky(*[mongo_errors.AutoReconnect("down")] * 40, *[ApiError("xero", 503, "", "u")] * 40)
    assert await run_reliably(work, policy=FAST, topic="t", consumer="c") is None
    assert work.calls == 81


async def test_an_error_repeating_identically_is_returned_after_the_attempts():
    work = Flaky(*[ValueError("never")] * 10)
    error = await run_reliably(work, policy=FAST, topic="t", consumer="c")
    assert isinstance(error, ValueError) and work.calls == FAST.attempts


async def test_a_changing_error_or_an_outage_between_does_not_count_as_repeating():
    work = Flaky(ValueError("a"), ValueError("b"), ValueError("a"), TimeoutError(), ValueError("a"))
    assert await run_reliably(work, policy=FAST, topic="t", consumer="c") is None
    assert work.calls == 6


def test_backoff_grows_is_capped_jittered_and_honours_retry_after():
    policy = RetryPolicy(first_delay=1.0, max_delay=8.0)
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (50, 8.0), (10_000, 8.0)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays) and len(delays) > 1
    assert policy.delay(1, retry_after=30.0) == 30.0


class FakePublisher:
    def __init__(self, failures: int) -> None:
        self.failures, self.published = failures, []

    async def publish(self, message, topic: str, key: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise kafka_errors.KafkaTimeoutError()
        self.published.append((message, topic, key))


async def test_a_dead_letter_is_published_until_the_broker_confirms():
    publisher = FakePublisher(failures=25)
    dead = DeadLettered(company_id="1", deal_id="2", source_topic="t", consumer="c", payload={}, error="e",
                        attempts=3)
    await dead_letter(publisher, dead, policy=FAST)
    assert publisher.published == [(dead, topics.DEAD_LETTER, topics.deal_key("1", "2"))]


async def test_stopping_interrupts_a_wait_but_not_a_first_attempt():
    stopping = asyncio.Event()
    entered = asyncio.Event()

    async def slow_first_attempt() -> None:
        entered.set()
        await stopping.wait()  # the service starts stopping meanwhile; a healthy attempt still finishes

    async def stop_soon() -> None:
        await entered.wait()
        stopping.set()

    await asyncio.gather(run_reliably(slow_first_attempt, policy=FAST, topic="t", consumer="c",
                                      stopping=stopping.is_set), stop_soon())

    outage = Flaky(*[TimeoutError()] * 1000)
    with pytest.raises(Stopped):
        await run_reliably(outage, policy=RetryPolicy(first_delay=3600, max_delay=3600), topic="t",
                           consumer="c", stopping=stopping.is_set)
    assert outage.calls == 1
    with pytest.raises(Stopped):
        await pause(3600, stopping.is_set)


class Cmd:
    def __init__(self, n: int) -> None:
        self.company_id, self.ledger_key = "c", f"c:{n}:t"


async def test_the_writer_stops_a_company_waiting_out_an_outage_at_once_and_commits_none_of_its_queue():
    committed: list[int] = []
    waiting = asyncio.Event()

    async def run_batch(commands) -> None:
        async def xero_down() -> None:
            waiting.set()
            raise ApiError("xero", 503, "", "u")
        await run_reliably(xero_down, policy=RetryPolicy(first_delay=3600, max_delay=3600), topic="t",
                           consumer="c", stopping=lambda: queues.closing)

    def done(n: int):
        async def finished() -> None:
            committed.append(n)
        return finished

    queues = CompanyQueues(run_batch)
    for n in range(3):
        await queues.put("c", Pending(Cmd(n), done(n)))
    await waiting.wait()
    await asyncio.wait_for(queues.drain(3600), 60)  # the outage's hour-long pause does not hold the shutdown
    await queues.stop()
    assert committed == []
