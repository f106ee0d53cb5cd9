"""What a company's Pipedrive offers the settings app's pickers: pipelines, stages, fields (custom ones included),
products. Read on demand through the company's own connection; nothing is kept between requests. One write: the
deal fields an admin asks the app to create (``create_deal_field``).

``PipedriveCatalog(connector.pipedrive_api("7001")).stages()`` -> ``[Stage(id=5, name="Won", pipeline_id=1), ...]``
"""

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pdx_common.http import ApiError

Entity = Literal["deal", "person", "organization"]
PAGE = 500  # Pipedrive's largest page; a picker longer than that is not a picker any more


class PipedriveApi(Protocol):
    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any: ...


@dataclass(frozen=True)
class Pipeline:
    id: int
    name: str


@dataclass(frozen=True)
class Stage:
    id: int
    name: str
    pipeline_id: int


@dataclass(frozen=True)
class FieldInfo:
    """A deal, person or organisation field: ``key`` is its API name (``won_time``) or a custom field's 40-hex key."""

    name: str
    key: str
    type: str
    custom: bool


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    code: str | None


@dataclass(frozen=True)
class Deal:
    id: int
    title: str


class PipedriveCatalog:
    def __init__(self, api: PipedriveApi) -> None:
        self._api = api

    async def _list(self, path: str, params: dict | None = None) -> list[dict[str, Any]]:
        data = await self._api.request("GET", path, params={"limit": PAGE, **(params or {})})
        return [row for row in data or [] if isinstance(row, dict) and not row.get("is_deleted")]

    async def pipelines(self) -> list[Pipeline]:
        rows = await self._list("/api/v2/pipelines")
        return [Pipeline(int(r["id"]), str(r.get("name") or f"Pipeline {r['id']}")) for r in _ordered(rows)]

    async def stages(self) -> list[Stage]:
        rows = await self._list("/api/v2/stages")
        return [Stage(int(r["id"]), str(r.get("name") or f"Stage {r['id']}"), int(r["pipeline_id"]))
                for r in _ordered(rows)]

    async def fields(self, entity: Entity) -> list[FieldInfo]:
        """v2 field lists (``field_name``, ``field_code``); v1's shape (``name``, ``key``) where v2 has none."""
        try:
            rows = await self._list(f"/api/v2/{entity}Fields")
        except ApiError as exc:
            if exc.status != 404:
                raise
            rows = await self._list(f"/api/v1/{entity}Fields", {"start": 0})
        return [field for field in map(_field, rows) if field is not None]

    async def create_deal_field(self, name: str, field_type: str) -> FieldInfo:
        """A new deal custom field (``POST /api/v1/dealFields``), e.g. ``("Xero amount due", "monetary")``."""
        row = await self._api.request("POST", "/api/v1/dealFields", json={"name": name, "field_type": field_type})
        field = _field({"edit_flag": True, "field_type": field_type, "name": name, **(row or {})})
        if field is None:
            raise ApiError("pipedrive", 502, row, "/api/v1/dealFields")
        return field

    async def products(self) -> list[Product]:
        rows = await self._list("/api/v2/products")
        products = [Product(int(r["id"]), str(r.get("name") or f"Product {r['id']}"), r.get("code") or None)
                    for r in rows]
        return sorted(products, key=lambda p: p.name.lower())

    async def deal(self, deal_id: int) -> Deal:
        """One deal's title, for a deal typed by number."""
        row = await self._api.request("GET", f"/api/v2/deals/{int(deal_id)}")
        return Deal(int(row["id"]), str(row.get("title") or f"Deal {row['id']}"))

    async def recent_deals(self, limit: int = 50) -> list[Deal]:
        """The open and recently changed deals first, for choosing one to preview."""
        rows = await self._api.request("GET", "/api/v2/deals", params={
            "limit": limit, "sort_by": "update_time", "sort_direction": "desc"})
        rows = sorted((r for r in rows or [] if isinstance(r, dict) and not r.get("is_deleted")),
                      key=lambda r: str(r.get("update_time") or ""), reverse=True)[:limit]
        return [Deal(int(r["id"]), str(r.get("title") or f"Deal {r['id']}")) for r in rows]


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r.get("order_nr") or 0, r.get("id") or 0))


def _field(row: dict[str, Any]) -> FieldInfo | None:
    key = row.get("field_code") or row.get("key")
    if not key:
        return None
    custom = row.get("is_custom_field")
    if custom is None:
        custom = bool(row.get("edit_flag"))
    return FieldInfo(str(row.get("field_name") or row.get("name") or key), str(key), str(row.get("field_type", "")),
                     bool(custom))
