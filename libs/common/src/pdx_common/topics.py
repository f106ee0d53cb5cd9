"""Every Kafka topic the product uses, in one place.

Keys: every message about a deal is keyed ``company:deal`` so one deal's messages stay in order on one partition.
"""

DEAL_EVENTS = "pdx.deal-events"  # DealChanged, from the gateway
XERO_COMMANDS = "pdx.xero-commands"  # CreateInvoice | CreateQuote, from the mapper
DOCUMENT_RESULTS = "pdx.document-results"  # DocumentCreated | DocumentFailed | DocumentSkipped
DEAD_LETTER = "pdx.dead-letter"  # messages that failed every automatic retry, with the reason

ALL = (DEAL_EVENTS, XERO_COMMANDS, DOCUMENT_RESULTS, DEAD_LETTER)
DEFAULT_PARTITIONS = 6


def deal_key(company_id: str, deal_id: str) -> bytes:
    return f"{company_id}:{deal_id}".encode()
