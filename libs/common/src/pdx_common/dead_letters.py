"""Dead letters an operator can act on: stored from ``pdx.dead-letter`` (idempotent by id), listed per company,
inspected, and re-driven (the original payload re-published to its source topic, keyed as its producer keyed it).

Re-driving is safe to repeat: a re-driven command or event meets the same idempotency as any redelivery (the
writer's ledger per company, deal and trigger), so a second re-drive makes no second draft. Metric labels are the
topic and the consumer group only, never a company.
"""

import json
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common import topics
from pdx_common.contracts import DeadLettered

DEAD_LETTERS_STORED = Counter("pdx_dead_letters_stored_total", "Dead letters stored for operators",
                              ["topic", "consumer"])
DEAD_LETTERS_REDRIVEN = Counter("pdx_dead_letters_redriven_total", "Dead letters re-driven by an operator",
                                ["topic", "consumer"])
WAITING, REDRIVEN = "waiting", "redriven"
# Producers whose dead-lettering already told the deal (a DocumentFailed with the dead letter's reference).
TOLD_BY_PRODUCER = frozenset({"pdx-mapper", "pdx-xero-writer"})
REDRIVABLE = frozenset(set(topics.ALL) - {topics.DEAD_LETTER})
SUMMARY_FIELDS = ("id", "company_id", "deal_id", "source_topic", "consumer", "attempts", "state", "occurred_at",
                  "stored_at", "redriven_at", "redrives")


def producer_told_the_deal(dead: DeadLettered) -> bool:
    return dead.consumer in TOLD_BY_PRODUCER and not dead.error.startswith("invalid message")


def key_for(topic: str, company_id: str, deal_id: str) -> bytes:
    """The key the topic's producer uses: commands and record events per company, the rest per deal."""
    if topic in (topics.XERO_COMMANDS, topics.RECORD_EVENTS):
        return topics.company_key(company_id)
    return topics.deal_key(company_id, deal_id)


class MongoDeadLetters:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col, self._sequences = db.dead_letters, db.sequences

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", ASCENDING), ("stored_at", DESCENDING)])
        await self._col.create_index([("company_id", ASCENDING), ("stored_at", ASCENDING), ("seq", ASCENDING)])

    async def _next_seq(self) -> int:
        """An insertion sequence shared by every crm-card: ``stored_at`` has millisecond resolution, so two letters
        stored back to back tie, and "oldest first" (a re-drive keeps one deal's letters in order) needs a tiebreak."""
        counter = await self._sequences.find_one_and_update({"_id": "dead_letters"}, {"$inc": {"seq": 1}},
                                                           upsert=True, return_document=ReturnDocument.AFTER)
        return int(counter["seq"])

    async def store(self, dead: DeadLettered, now: datetime) -> bool:
        """True when this dead letter is new (a redelivered one is stored once)."""
        document = dead.model_dump(mode="python", exclude={"id", "payload"})
        # As JSON text: a payload is whatever arrived, and keys like "$x" or "a.b" are not valid MongoDB field names.
        payload = json.dumps(dead.payload, separators=(",", ":"))
        try:
            await self._col.insert_one({"_id": dead.id, **document, "payload_json": payload, "state": WAITING,
                                        "stored_at": now, "seq": await self._next_seq(), "redriven_at": None,
                                        "redrives": 0})
        except DuplicateKeyError:
            return False
        DEAD_LETTERS_STORED.labels(dead.source_topic, dead.consumer).inc()
        return True

    async def of_company(self, company_id: str, *, state: str | None = None, limit: int = 200) -> list[dict]:
        query: dict[str, Any] = {"company_id": company_id} | ({"state": state} if state else {})
        cursor = self._col.find(query, sort=[("stored_at", ASCENDING), ("seq", ASCENDING)], limit=limit)
        return [_public(doc) async for doc in cursor]

    async def get(self, company_id: str, dead_id: str) -> dict | None:
        doc = await self._col.find_one({"_id": dead_id, "company_id": company_id})
        return _public(doc) if doc else None

    async def mark_redriven(self, company_id: str, dead_id: str, now: datetime) -> dict | None:
        doc = await self._col.find_one_and_update(
            {"_id": dead_id, "company_id": company_id},
            {"$set": {"state": REDRIVEN, "redriven_at": now}, "$inc": {"redrives": 1}},
            return_document=ReturnDocument.AFTER)
        return _public(doc) if doc else None


def _public(doc: dict) -> dict:
    public = {"id": doc["_id"], **{k: v for k, v in doc.items() if k not in ("_id", "payload_json", "seq")}}
    if "payload_json" in doc:
        public["payload"] = json.loads(doc["payload_json"])
    return public


def summary(dead: dict) -> dict:
    """What a list shows: no payload, no error text (``inspect`` has both)."""
    return {k: dead.get(k) for k in SUMMARY_FIELDS}


class _Payload:
    """An original payload as the publisher port expects a message (``model_dump`` and ``type``)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        self.type = str(payload.get("type") or "unknown")

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        return self._payload


class CannotRedrive(Exception):
    pass


async def redrive(store: MongoDeadLetters, publisher: Any, company_id: str, dead_id: str,
                  now: datetime) -> dict | None:
    """Re-publish one dead letter's payload to its source topic; ``None`` when the company has no such letter."""
    dead = await store.get(company_id, dead_id)
    if dead is None:
        return None
    if dead["source_topic"] not in REDRIVABLE or not isinstance(dead.get("payload"), dict):
        raise CannotRedrive(f"dead letter {dead_id} came from {dead['source_topic']!r}, which cannot be re-driven")
    await publisher.publish(_Payload(dead["payload"]), dead["source_topic"],
                            key_for(dead["source_topic"], dead["company_id"], dead["deal_id"]))
    DEAD_LETTERS_REDRIVEN.labels(dead["source_topic"], dead["consumer"]).inc()
    return await store.mark_redriven(company_id, dead_id, now)


async def redrive_company(store: MongoDeadLetters, publisher: Any, company_id: str, now: datetime) -> list[str]:
    """Re-drive every waiting dead letter of the company, oldest first (so one deal's keep their order)."""
    done = []
    for dead in await store.of_company(company_id, state=WAITING, limit=10_000):
        if dead["source_topic"] in REDRIVABLE and await redrive(store, publisher, company_id, dead["id"], now):
            done.append(dead["id"])
    return done
