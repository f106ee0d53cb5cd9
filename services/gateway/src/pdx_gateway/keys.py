"""Typed application keys: the resources the composition root puts on the aiohttp app."""

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from pdx_gateway.adapters.connections import MongoConnections
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.app_ui.session import MongoAppSessions
from pdx_gateway.connector import Connector
from pdx_gateway.ports import Credentials, ParkedCommands, Publisher, SeenEvents, StageEvents
from pdx_gateway.settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
DB = web.AppKey("db", AsyncDatabase)
PUBLISHER = web.AppKey("publisher", Publisher)
CREDENTIALS = web.AppKey("credentials", Credentials)
SEEN_EVENTS = web.AppKey("seen_events", SeenEvents)
STAGE_EVENTS = web.AppKey("stage_events", StageEvents)
SETTINGS_STORE = web.AppKey("settings_store", MongoSettingsStore)
CONNECTIONS = web.AppKey("connections", MongoConnections)
PARKED = web.AppKey("parked_commands", ParkedCommands)
# Only when public_url and token_key are set: the OAuth routes answer 503 without it.
CONNECTOR = web.AppKey("connector", Connector)
APP_SESSIONS = web.AppKey("app_sessions", MongoAppSessions)
