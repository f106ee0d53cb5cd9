from typing import Protocol

from pydantic import BaseModel


class Publisher(Protocol):
    async def publish(self, message: BaseModel, topic: str, key: bytes) -> None: ...


class Credentials(Protocol):
    async def verify(self, company_id: str, user: str, password: str) -> bool: ...


class SeenEvents(Protocol):
    async def seen(self, company_id: str, event_id: str) -> bool: ...

    async def remember(self, company_id: str, event_id: str, deal_id: str) -> None: ...
