"""Typed application keys: the resources the composition root puts on the aiohttp app."""

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from pdx_gateway.ports import Credentials, Publisher, SeenEvents
from pdx_gateway.settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
DB = web.AppKey("db", AsyncDatabase)
PUBLISHER = web.AppKey("publisher", Publisher)
CREDENTIALS = web.AppKey("credentials", Credentials)
SEEN_EVENTS = web.AppKey("seen_events", SeenEvents)
