"""What is waited out and what is not: only explicit causes count, a certificate or a local OS error is never an
outage, and deterministic failures that never repeat identically still end in a dead letter."""

import asyncio
import errno
import ssl

import aiohttp
import pytest
from pymongo import errors as mongo_errors

from pdx_common.reliability import RetryPolicy, is_transient, run_reliably

FAST = RetryPolicy(attempts=3, first_delay=0.001, max_delay=0.002)


def _raised_while_handling(transient: BaseException, deterministic: BaseException) -> BaseException:
    try:
        try:
            raise transient
        except type(transient):
            raise deterministic  # noqa: B904 - the implicit __context__ is the point
    except type(deterministic) as exc:
        return exc


def _caused_by(transient: BaseException) -> BaseException:
    try:
        raise RuntimeError("publishing failed") from transient
    except RuntimeError as exc:
        return exc


def _certificate_error() -> aiohttp.ClientConnectorCertificateError:
    return aiohttp.ClientConnectorCertificateError(None, ssl.SSLCertVerificationError(1, "certificate expired"))  # type: ignore[arg-type]


def test_an_error_raised_while_handling_a_transient_one_is_not_transient():
    assert not is_transient(_raised_while_handling(mongo_errors.AutoReconnect("down"), ValueError("bad amount")))
    assert not is_transient(_raised_while_handling(TimeoutError(), KeyError("k")))


def test_an_explicit_cause_and_exception_groups_still_count():
    assert is_transient(_caused_by(mongo_errors.AutoReconnect("down")))
    assert is_transient(ExceptionGroup("all", [_caused_by(TimeoutError()), ConnectionResetError()]))
    assert not is_transient(ExceptionGroup("mixed", [_caused_by(TimeoutError()), ValueError("x")]))


@pytest.mark.parametrize("exc", [
    _certificate_error(),
    aiohttp.ClientConnectorSSLError(None, ssl.SSLError(1, "wrong version"))  # type: ignore[arg-type]
    , aiohttp.ClientSSLError(None, OSError(1, "tls"))  # type: ignore[arg-type]
    , ssl.SSLError(1, "handshake"), ssl.SSLCertVerificationError(1, "self-signed"),
    PermissionError(errno.EACCES, "denied"), FileNotFoundError(errno.ENOENT, "no such file"),
    OSError("something local"), OSError(errno.EMFILE, "too many open files"),
    aiohttp.ClientOSError(errno.EACCES, "permission denied"),
    _caused_by(_certificate_error()),
], ids=lambda e: type(e).__name__)
def test_certificates_tls_and_local_os_errors_are_not_transient(exc):
    assert not is_transient(exc)


@pytest.mark.parametrize("exc", [
    aiohttp.ClientConnectorError(None, OSError(errno.ECONNREFUSED, "refused")),  # type: ignore[arg-type]
    aiohttp.ServerDisconnectedError(), aiohttp.ServerTimeoutError(), aiohttp.ClientConnectionResetError(),
    aiohttp.ClientOSError(errno.ECONNRESET, "reset by peer"), aiohttp.ClientOSError(errno.EPIPE, "broken pipe"),
    OSError(errno.EHOSTUNREACH, "no route"), ConnectionRefusedError(), TimeoutError(),
], ids=lambda e: type(e).__name__)
def test_socket_level_connection_errors_are_transient(exc):
    assert is_transient(exc)


class Failing:
    """Fails deterministically on every call, with an error made by ``make(call)``."""

    def __init__(self, make) -> None:
        self.make, self.calls = make, 0

    async def __call__(self) -> None:
        self.calls += 1
        raise self.make(self.calls)


async def test_alternating_errors_are_dead_lettered_after_the_total_cap_with_the_last_error():
    work = Failing(lambda n: ValueError("a") if n % 2 else KeyError("b"))
    async with asyncio.timeout(120):  # without the cap it retries for ever
        error = await run_reliably(work, policy=FAST, topic="t", consumer="c")
    assert work.calls == FAST.max_failures == 3 * FAST.attempts
    assert isinstance(error, ValueError if FAST.max_failures % 2 else KeyError)


async def test_errors_with_varying_ids_are_dead_lettered_after_the_total_cap():
    work = Failing(lambda n: ValueError(f"deal {n} has no organisation"))
    async with asyncio.timeout(120):
        error = await run_reliably(work, policy=FAST, topic="t", consumer="c")
    assert work.calls == FAST.max_failures and str(error) == f"deal {FAST.max_failures} has no organisation"


async def test_outages_between_do_not_count_towards_the_total_cap():
    errors = [TimeoutError() if n % 2 else ValueError(f"id {n}") for n in range(2 * FAST.max_failures - 2)]

    async def work() -> None:
        if errors:
            raise errors.pop(0)

    assert await run_reliably(work, policy=FAST, topic="t", consumer="c") is None
