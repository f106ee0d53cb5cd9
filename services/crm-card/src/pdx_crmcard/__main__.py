"""``python -m pdx_crmcard``: deal activities for results (and the CRM panel). Settings from ``PDX_CARD_*``."""

from pdx_common.logging import configure_logging
from pdx_common.service import run_service
from pdx_crmcard.bootstrap import create_app
from pdx_crmcard.settings import CardSettings


def main() -> None:
    settings = CardSettings()
    configure_logging("crm-card", settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port, "crm-card")


if __name__ == "__main__":
    main()
