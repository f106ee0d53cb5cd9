"""structlog, configured once per process: JSON when not on a terminal, console otherwise.

Bind ``company_id``, ``deal_id``, ``command_id``, ``event_id`` with ``structlog.contextvars.bound_contextvars`` so
one grep follows a deal through every service.
"""

import logging
import sys

import structlog


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stdout.isatty()
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, faststream, aiohttp) log through stdlib logging: keep their warnings, drop chatter.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                        format=f"%(asctime)s {service} %(name)s %(levelname)s %(message)s")
