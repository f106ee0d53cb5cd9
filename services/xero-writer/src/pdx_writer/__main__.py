"""``python -m pdx_writer``: create Xero drafts from commands. Settings from ``PDX_WRITER_*``."""

from pdx_common.logging import configure_logging
from pdx_common.service import run_service
from pdx_writer.bootstrap import create_app
from pdx_writer.settings import WriterSettings


def main() -> None:
    settings = WriterSettings()
    configure_logging("xero-writer", settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port, "xero-writer")


if __name__ == "__main__":
    main()
