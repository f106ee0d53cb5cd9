"""``python -m pdx_metering``: count the drafts really created, per company and month, and serve the usage API.
Settings from ``PDX_METERING_*``."""

from pdx_common.service import serve
from pdx_metering.bootstrap import create_app
from pdx_metering.settings import MeteringSettings


def main() -> None:
    serve("metering", MeteringSettings, create_app)


if __name__ == "__main__":
    main()
