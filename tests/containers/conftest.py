"""The containers suite: the product against real Apache Kafka and MongoDB, started by testcontainers.

It needs a Docker engine, which CI and these development machines lack: there every module here skips itself with
the reason. Where Docker runs: ``.venv/bin/pytest tests/containers -m containers``.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "containers: needs a Docker engine; runs the product against real Kafka and MongoDB containers")
