"""``python -m pdx_mapper``: turn deal events into Xero commands. Settings from ``PDX_MAPPER_*``."""

from pdx_common.service import serve
from pdx_mapper.bootstrap import create_app
from pdx_mapper.settings import MapperSettings


def main() -> None:
    serve("mapper", MapperSettings, create_app)


if __name__ == "__main__":
    main()
