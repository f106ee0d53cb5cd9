"""Every group subscriber may wait out an outage far longer than aiokafka's 5-minute poll interval without leaving its
group (which would redeliver its in-flight messages to another consumer at the same time)."""

from faststream.kafka import KafkaBroker

from pdx_common.kafka import consumer_options
from pdx_common.settings import ServiceSettings


def test_the_poll_interval_outlasts_a_long_outage_and_reaches_the_consumer():
    options = consumer_options(ServiceSettings(), "g")
    assert options["max_poll_interval_ms"] >= 30 * 60_000

    subscriber = KafkaBroker("127.0.0.1:9").subscriber("t", **options)
    assert subscriber._connection_args["max_poll_interval_ms"] == options["max_poll_interval_ms"]  # noqa: SLF001


def test_the_poll_interval_is_a_setting(monkeypatch):
    monkeypatch.setenv("PDX_KAFKA_MAX_POLL_INTERVAL_MS", "3600000")
    assert consumer_options(ServiceSettings(), "g")["max_poll_interval_ms"] == 3_600_000
