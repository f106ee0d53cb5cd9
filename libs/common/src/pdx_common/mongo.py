"""Connecting to MongoDB with PyMongo's async API, and the indexes every service relies on."""

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def connect_mongo(url: str, *, timeout_ms: int = 5_000) -> AsyncMongoClient:
    return AsyncMongoClient(url, serverSelectionTimeoutMS=timeout_ms, tz_aware=True)


async def ping(db: AsyncDatabase) -> None:
    await db.command("ping")
