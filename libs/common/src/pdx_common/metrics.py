"""Prometheus metrics every service exposes at ``/metrics`` (to the metrics token only, see pdx_common.service).
One service per process, so the default registry.

Label values come from small fixed sets (topics, consumer groups, HTTP statuses, outcomes): never a company,
tenant or organisation id, so the series stay as many as they are whether 10 or 10,000 companies use the product,
and a scrape reveals no customer. Per-company figures belong in the logs (``company_id`` is bound there).
"""

from typing import Any

from aiohttp import web
from aiokafka import TopicPartition
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES_HANDLED = Counter("pdx_messages_handled_total", "Messages handled, by topic and consumer group",
                           ["topic", "consumer"])
MESSAGES_FAILED = Counter("pdx_messages_failed_total", "Messages dead-lettered after every retry",
                          ["topic", "consumer"])
HANDLER_RETRIES = Counter("pdx_handler_retries_total", "Handler attempts that failed and were retried",
                          ["topic", "consumer"])
CONSUMER_LAG = Gauge("pdx_consumer_lag", "Messages behind the end of the partition when last consumed",
                     ["topic", "partition", "consumer"])
XERO_CALLS = Counter("pdx_xero_calls_total", "Xero API calls, by HTTP status", ["status"])
XERO_THROTTLED = Counter("pdx_xero_throttled_total", "Xero 429 answers")
PIPEDRIVE_CALLS = Counter("pdx_pipedrive_calls_total", "Pipedrive API calls, by HTTP status", ["status"])
PIPEDRIVE_THROTTLED = Counter("pdx_pipedrive_throttled_total", "Pipedrive 429 answers")
PANEL_LATENCY = Histogram("pdx_panel_latency_seconds", "Time to answer a Pipedrive panel request", ["resource"],
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOKS = Counter("pdx_webhooks_total", "Inbound webhooks, by source and outcome", ["source", "outcome"])


def observe_lag(message: Any, consumer_group: str) -> None:
    """Record how far behind the partition's end this message was (best effort: brokers differ in what they say)."""
    record, consumer = getattr(message, "raw_message", None), getattr(message, "consumer", None)
    if record is None or consumer is None or not hasattr(consumer, "highwater"):
        return
    highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
    if highwater is not None:
        lag = max(highwater - record.offset - 1, 0)
        CONSUMER_LAG.labels(record.topic, str(record.partition), consumer_group).set(lag)


# Label names that would grow with the customers (tests/integration/test_edge_leaks.py checks every metric).
UNBOUNDED_LABELS = frozenset({"company", "company_id", "tenant", "tenant_id", "organisation", "organization",
                              "org", "org_id", "deal", "deal_id", "user", "user_id"})


async def metrics_view(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
