"""``python -m pdx_mapper``: turn deal events into Xero commands. Settings from ``PDX_MAPPER_*``."""

from pdx_common.logging import configure_logging
from pdx_common.service import run_service
from pdx_mapper.bootstrap import create_app
from pdx_mapper.settings import MapperSettings


def main() -> None:
    settings = MapperSettings()
    configure_logging("mapper", settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port, "mapper")


if __name__ == "__main__":
    main()
