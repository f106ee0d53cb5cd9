"""One bad command in a batch of drafts: the batch's repeating failure is split, so only the command that fails on its
own is dead-lettered and the salesperson of every other deal gets their draft."""

from datetime import date
from decimal import Decimal

from pdx_common import topics
from pdx_common.contracts import Contact, CreateInvoice, DeadLettered, DocumentFailed, LineItem
from pdx_common.reliability import RetryPolicy
from pdx_writer.entrypoints.commands import _reliably

CUSTOMER = Contact(name="Kowhai Ltd", contact_number="pd-org-1", source="organization", source_id="1")
FAST = RetryPolicy(attempts=3, first_delay=0.001, max_delay=0.002)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[object, str]] = []

    async def publish(self, message, topic, key) -> None:
        self.published.append((message, topic))


def command(deal_id: str) -> CreateInvoice:
    return CreateInvoice(company_id="7001", deal_id=deal_id, trigger_id="won", source_event_id=f"e{deal_id}",
                         contact=CUSTOMER, currency_code="NZD", line_amount_types="Exclusive",
                         line_items=(LineItem(description="Hosting", quantity=Decimal(1), unit_amount=Decimal(10)),),
                         date=date(2026, 11, 27), deal_title=f"Deal {deal_id}",
                         deal_url=f"https://kowhai.pipedrive.com/deal/{deal_id}")


async def test_only_the_command_that_fails_alone_is_dead_lettered():
    commands = [command(str(n)) for n in range(5)]
    poisoned = commands[2].id
    executed: list[str] = []

    async def execute_batch(batch: list[CreateInvoice]) -> None:
        if any(c.id == poisoned for c in batch):
            raise ValueError("Xero refuses the draft")  # deterministic: the same every time
        executed.extend(c.deal_id for c in batch)

    publisher = FakePublisher()
    await _reliably(commands, execute_batch, FAST, publisher, lambda: False)
    assert executed == ["0", "1", "3", "4"]
    dead = [m for m, topic in publisher.published if topic == topics.DEAD_LETTER]
    failed = [m for m, topic in publisher.published if topic == topics.DOCUMENT_RESULTS]
    assert [d.deal_id for d in dead if isinstance(d, DeadLettered)] == ["2"]
    assert [(f.deal_id, f.code) for f in failed if isinstance(f, DocumentFailed)] == [("2", "dead_lettered")]


async def test_a_single_command_failing_repeatedly_is_dead_lettered():
    async def execute_batch(batch: list[CreateInvoice]) -> None:
        raise ValueError("Xero refuses the draft")

    publisher = FakePublisher()
    await _reliably([command("9")], execute_batch, FAST, publisher, lambda: False)
    assert [topic for _, topic in publisher.published] == [topics.DEAD_LETTER, topics.DOCUMENT_RESULTS]
