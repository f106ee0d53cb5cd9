"""The ``pdx.document-results`` subscriber: validated, retried, dead-lettered, committed after metering."""

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from pdx_common import topics
from pdx_common.consumer import subscribe
from pdx_common.contracts import RESULT
from pdx_common.reliability import RetryPolicy
from pdx_common.service import KafkaPublisher
from pdx_metering.handlers import MeteredDrafts, Result, meter_result
from pdx_metering.settings import MeteringSettings

GROUP = "pdx-metering"


def subscribe_results(broker: KafkaBroker, settings: MeteringSettings, publisher: KafkaPublisher,
                      drafts: Callable[[], MeteredDrafts]) -> None:
    """``drafts`` is read per message: the store exists only once the app's cleanup context has opened it.

    Example message (a DocumentCreated; the other results are acknowledged and not billed)::

        {"type": "DocumentCreated", "company_id": "7001", "deal_id": "42", "tenant_id": "...", "xero_id": "...",
         "kind": "invoice", "occurred_at": "2026-11-27T09:30:00Z", ...}
    """
    async def handle(result: Result) -> None:
        await meter_result(result, drafts=drafts())

    subscribe(broker, settings, topic=topics.DOCUMENT_RESULTS, group_id=GROUP, contract=RESULT, handle=handle,
              publisher=publisher, policy=RetryPolicy(settings.retry_attempts, settings.retry_first_delay))
