"""``python -m pdx_crmcard``: deal activities for results (and the CRM panel). Settings from ``PDX_CARD_*``."""

from pdx_common.service import serve
from pdx_crmcard.bootstrap import create_app
from pdx_crmcard.settings import CardSettings


def main() -> None:
    serve("crm-card", CardSettings, create_app)


if __name__ == "__main__":
    main()
