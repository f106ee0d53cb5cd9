"""Resuming a company's work once its Xero connection is usable again."""

import structlog
from pydantic import ValidationError

from pdx_common import topics
from pdx_common.contracts import COMMAND
from pdx_gateway.ports import ParkedCommands, Publisher

log = structlog.get_logger()


async def resume_parked(company_id: str, parked: ParkedCommands, publisher: Publisher) -> int:
    """Re-publish the commands the xero-writer parked while the connection was broken, oldest first, each removed
    once it is published (a crash in between publishes it again; the writer's ledger makes that harmless).
    A parked document that is no command stays parked and is logged. Returns how many were re-published."""
    resumed = 0
    for doc in await parked.of_company(company_id):
        try:
            command = COMMAND.validate_python(doc["payload"])
        except (ValidationError, KeyError) as exc:
            log.error("parked command is not a valid command; left parked", company_id=company_id,
                      command_id=doc["_id"], error=str(exc)[:500])
            continue
        await publisher.publish(command, topics.XERO_COMMANDS, topics.deal_key(command.company_id, command.deal_id))
        await parked.remove(doc["_id"])
        resumed += 1
    if resumed:
        log.info("parked commands resumed", company_id=company_id, count=resumed)
    return resumed
