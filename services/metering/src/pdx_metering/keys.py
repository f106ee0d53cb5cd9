"""Typed application keys: what the composition root puts on the aiohttp app."""

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from pdx_metering.adapters.usage_store import MongoUsageStore
from pdx_metering.settings import MeteringSettings

SETTINGS = web.AppKey("settings", MeteringSettings)
DB = web.AppKey("db", AsyncDatabase)
USAGE = web.AppKey("usage_store", MongoUsageStore)
