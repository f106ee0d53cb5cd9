"""``python -m pdx_metering``: count the drafts really created, per company and month, and serve the usage API.
Settings from ``PDX_METERING_*``."""

from pdx_common.logging import configure_logging
from pdx_common.service import run_service
from pdx_metering.bootstrap import create_app
from pdx_metering.settings import MeteringSettings


def main() -> None:
    settings = MeteringSettings()
    configure_logging("metering", settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port, "metering")


if __name__ == "__main__":
    main()
