"""``python -m pdx_gateway``: serve Pipedrive webhooks and the API. Settings from ``PDX_GATEWAY_*``."""

from pdx_common.logging import configure_logging
from pdx_common.service import run_service
from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port, "gateway")


if __name__ == "__main__":
    main()
