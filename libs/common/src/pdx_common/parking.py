"""Commands parked while a company's Xero connection is broken (collection ``parked_commands``): the writer parks
them, and whoever sees the connection usable again (the gateway on reconnect, the writer after a race) resumes them.

``{"_id": <command id>, "company_id": "7001", "deal_id": "42", "payload": {<CreateInvoice|CreateQuote>},
"parked_at": datetime}``
"""

from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from pydantic import BaseModel, ValidationError
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common import topics
from pdx_common.contracts import COMMAND, CreateInvoice, CreateQuote, DeadLettered

log = structlog.get_logger()


class Publisher(Protocol):
    async def publish(self, message: BaseModel, topic: str, key: bytes) -> None: ...


class MongoParkedCommands:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col, self._sequences = db.parked_commands, db.sequences

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", 1), ("parked_at", 1), ("seq", 1)])
        await self._col.create_index([("company_id", 1), ("deal_id", 1)])

    async def park(self, command: CreateInvoice | CreateQuote) -> bool:
        """Park the command; True when it is the deal's first parked command (so the deal hears of it once)."""
        first = await self._col.find_one({"company_id": command.company_id, "deal_id": command.deal_id}) is None
        try:
            await self._col.insert_one({"_id": command.id, "company_id": command.company_id,
                                        "deal_id": command.deal_id, "payload": command.model_dump(mode="json"),
                                        "parked_at": datetime.now(UTC), "seq": await self._next_seq()})
        except DuplicateKeyError:
            return False
        return first

    async def _next_seq(self) -> int:
        """``parked_at`` has millisecond resolution in the store, so two commands parked back to back tie; "oldest
        first" (one deal's invoice before its quote) needs a tiebreak that is not a random id."""
        counter = await self._sequences.find_one_and_update({"_id": "parked_commands"}, {"$inc": {"seq": 1}},
                                                            upsert=True, return_document=ReturnDocument.AFTER)
        return int(counter["seq"])

    async def of_company(self, company_id: str) -> list[dict[str, Any]]:
        cursor = self._col.find({"company_id": company_id}).sort([("parked_at", 1), ("seq", 1), ("_id", 1)])
        return [doc async for doc in cursor]

    async def remove(self, command_id: str) -> None:
        await self._col.delete_one({"_id": command_id})


async def dead_letter_parked(company_id: str, parked: MongoParkedCommands, publisher: Publisher, reason: str) -> int:
    """The company left (uninstalled): its parked commands can never become drafts. They go to the dead-letter topic
    with the reason, so nothing is dropped silently and an operator can still replay them."""
    moved = 0
    for doc in await parked.of_company(company_id):
        payload = doc.get("payload") or {}
        dead = DeadLettered(company_id=company_id, deal_id=str(doc.get("deal_id") or payload.get("deal_id") or "?"),
                            source_topic=topics.XERO_COMMANDS, consumer="parking", payload=payload, error=reason,
                            attempts=0)
        await publisher.publish(dead, topics.DEAD_LETTER, topics.deal_key(dead.company_id, dead.deal_id))
        await parked.remove(doc["_id"])
        moved += 1
    return moved


async def resume_parked(company_id: str, parked: MongoParkedCommands, publisher: Publisher) -> int:
    """Re-publish the company's parked commands, oldest first, each removed once it is published (a crash in
    between publishes it again; the writer's ledger makes that harmless). A parked document that is no command
    stays parked and is logged. Returns how many were re-published."""
    resumed = 0
    for doc in await parked.of_company(company_id):
        try:
            command = COMMAND.validate_python(doc["payload"])
        except (ValidationError, KeyError) as exc:
            log.error("parked command is not a valid command; left parked", company_id=company_id,
                      command_id=doc["_id"], error=str(exc)[:500])
            continue
        await publisher.publish(command, topics.XERO_COMMANDS, topics.company_key(command.company_id))
        await parked.remove(doc["_id"])
        resumed += 1
    if resumed:
        log.info("parked commands resumed", company_id=company_id, count=resumed)
    return resumed
