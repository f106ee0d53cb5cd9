"""Every Kafka topic the product uses, in one place.

Keys: messages about a deal are keyed ``company:deal`` so one deal's messages stay in order on one partition;
Xero commands are keyed by company (see ``company_key``).
"""

DEAL_EVENTS = "pdx.deal-events"  # DealChanged, from the gateway
XERO_COMMANDS = "pdx.xero-commands"  # CreateInvoice | CreateQuote, from the mapper
DOCUMENT_RESULTS = "pdx.document-results"  # DocumentCreated | DocumentFailed | DocumentSkipped
DEAD_LETTER = "pdx.dead-letter"  # messages that failed every automatic retry, with the reason
RECORD_EVENTS = "pdx.record-events"  # RecordChanged (persons, organisations, products), from the gateway

ALL = (DEAL_EVENTS, XERO_COMMANDS, DOCUMENT_RESULTS, DEAD_LETTER, RECORD_EVENTS)
DEFAULT_PARTITIONS = 6


def deal_key(company_id: str, deal_id: str) -> bytes:
    return f"{company_id}:{deal_id}".encode()


def company_key(company_id: str) -> bytes:
    """Xero commands are keyed by company: one writer owns a company's organisation at a time, so its rate limit and
    its new contacts are decided in one place, and a deal's commands still keep their order."""
    return company_id.encode()
