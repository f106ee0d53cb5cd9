"""Connecting to Kafka with FastStream, with the options this product needs on every broker it runs on."""

from faststream.kafka import KafkaBroker

from pdx_common.settings import ServiceSettings


def make_broker(settings: ServiceSettings, **kwargs) -> KafkaBroker:
    # No idempotent producer: Tansu lacks it, and correctness comes from our own idempotency (ledger, keys).
    return KafkaBroker(settings.kafka_bootstrap, enable_idempotence=False, acks="all", **kwargs)


def consumer_options(settings: ServiceSettings, group_id: str) -> dict:
    """Options for a group subscriber: manual commit after handling, so a crash redelivers instead of losing."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",  # Tansu reports end offsets wrongly; a new group must start at the beginning
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
    }
