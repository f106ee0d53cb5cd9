from typing import Any, Protocol

from pydantic import BaseModel

from pdx_common.contracts import DealChanged


class Publisher(Protocol):
    async def publish(self, message: BaseModel, topic: str, key: bytes) -> None: ...


class Credentials(Protocol):
    async def verify(self, company_id: str, user: str, password: str) -> bool: ...


class StageEvents(Protocol):
    async def remember_stage_event(self, event: DealChanged) -> None: ...

    async def last_stage_event(self, company_id: str, deal_id: str) -> DealChanged | None: ...

    async def failed_triggers(self, company_id: str, deal_id: str) -> list[str | None]: ...

    async def failed_deals(self, company_id: str) -> list[str]: ...


class SeenEvents(Protocol):
    async def claim(self, company_id: str, event_id: str, deal_id: str, owner: str) -> str: ...

    async def published(self, company_id: str, event_id: str, owner: str) -> None: ...

    async def release(self, company_id: str, event_id: str, owner: str) -> None: ...


class ParkedCommands(Protocol):
    async def of_company(self, company_id: str) -> list[dict[str, Any]]: ...

    async def remove(self, command_id: str) -> None: ...
