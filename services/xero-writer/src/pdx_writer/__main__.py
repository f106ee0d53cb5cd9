"""``python -m pdx_writer``: create Xero drafts from commands. Settings from ``PDX_WRITER_*``."""

from pdx_common.service import serve
from pdx_writer.bootstrap import create_app
from pdx_writer.settings import WriterSettings


def main() -> None:
    serve("xero-writer", WriterSettings, create_app)


if __name__ == "__main__":
    main()
