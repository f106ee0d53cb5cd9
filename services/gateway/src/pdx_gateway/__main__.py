"""``python -m pdx_gateway``: serve Pipedrive webhooks and the API. Settings from ``PDX_GATEWAY_*``."""

from pdx_common.service import serve
from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings


def main() -> None:
    serve("gateway", GatewaySettings, create_app)


if __name__ == "__main__":
    main()
