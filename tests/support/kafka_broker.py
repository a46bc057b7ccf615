"""Start a single-node Apache Kafka broker (KRaft, broker and controller in one JVM).

The jars come from ``scripts/kafka-jars`` (run by ``scripts/test``): Maven copies the broker
of ``tests/support/kafka/pom.xml`` and its runtime dependencies into a cache directory,
``$LIQMON_TEST_KAFKA_JARS`` or ``~/.cache/liqmon/kafka-<version>``. A broker is started as::

    java -cp 'JARS/*' kafka.tools.StorageTool format -t CLUSTER_ID -c server.properties --standalone
    java -cp 'JARS/*' kafka.Kafka server.properties

on two free loopback ports (clients, controller), with its data under a work directory,
so a restarted broker keeps its topics, records and committed offsets. It is ready when its
log says ``Kafka Server started`` and a Metadata request lists it.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Self

POM = Path(__file__).with_name("kafka") / "pom.xml"
_STARTED = b"Kafka Server started"
_LOG4J2 = """\
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""
# Settings of a one-node test broker; everything else is Apache Kafka's default (so the
# producer runs idempotent with acks=all, as in production).
_SERVER = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
"""
_JVM = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true")


class BrokerStartError(RuntimeError):
    """The broker could not be started or did not become ready in time."""


def kafka_version() -> str:
    """Return the Apache Kafka version the pom asks for (``<kafka.version>``)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if found is None:
        msg = "%s has no <kafka.version>" % POM
        raise BrokerStartError(msg)
    return found.group(1)


def jars_dir() -> Path:
    """Return where ``scripts/kafka-jars`` puts the jars (same rule as that script)."""
    override = os.environ.get("LIQMON_TEST_KAFKA_JARS")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "liqmon" / ("kafka-%s" % kafka_version())


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def cluster_id() -> str:
    """Return a fresh cluster id the way Kafka writes one (22 url-safe base64 characters)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka never issues these (they look like options)
            return text


def metadata_lists_a_broker(host: str, port: int, timeout_s: float) -> bool:
    """Send a Kafka Metadata v1 request (no topics); True when the answer lists a broker."""
    client_id = b"liqmon-test"
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = sock.recv(12)  # size, correlation id, broker count
    except OSError:
        return False
    if len(head) < 12:
        return False
    _size, correlation_id, brokers = struct.unpack(">iii", head)
    return correlation_id == 7 and brokers > 0


class KafkaBroker:
    """One Apache Kafka process on free loopback ports; use as a context manager.

    Args:
        workdir: holds ``server.properties``, the data directory and ``broker.log``.
        jars: the classpath directory (default `jars_dir`).
        start_timeout_s: bound on format plus start until ready.

    Attributes:
        bootstrap: ``"127.0.0.1:PORT"`` of the client listener (fixed across restarts).
        start_s: how long the last `start` took (format, JVM start, ready), seconds.
    """

    def __init__(
        self, workdir: Path, *, jars: Path | None = None, start_timeout_s: float = 90.0
    ) -> None:
        self.port, self.controller_port = free_ports(2)
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.workdir = workdir
        self.log_path = workdir / "broker.log"
        self.start_s = 0.0
        self._jars = jars or jars_dir()
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _java(self, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            msg = "java is not on PATH (Apache Kafka %s needs Java 17+)" % kafka_version()
            raise BrokerStartError(msg)
        if not any(self._jars.glob("kafka_2.13-*.jar")):
            msg = "no Apache Kafka jars in %s: run scripts/kafka-jars (scripts/test does)" % (
                self._jars
            )
            raise BrokerStartError(msg)
        log4j = "-Dlog4j2.configurationFile=%s" % (self.workdir / "log4j2.properties")
        return [java, *_JVM, log4j, "-cp", str(self._jars / "*"), main, *args]

    def _configure(self) -> Path:
        """Write the config files; format the data directory on the first start only."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        data = self.workdir / "data"
        config = self.workdir / "server.properties"
        config.write_text(
            _SERVER.format(port=self.port, controller=self.controller_port, data=data)
        )
        if not (data / "meta.properties").exists():
            cmd = self._java(
                "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(config),
                "--standalone",
            )  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
                msg = "kafka storage format failed (%d): %s" % (done.returncode, tail)
                raise BrokerStartError(msg)
        return config

    def start(self) -> None:
        """Start the broker and wait (bounded) until it is ready; keeps earlier data.

        Raises:
            BrokerStartError: java or the jars are missing, the broker exited, or it was
                not ready within the start timeout.
        """
        started = time.monotonic()
        config = self._configure()
        self._log = self.log_path.open("ab")
        offset = self._log.tell()
        try:
            self._proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config)),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            self.stop()
            raise BrokerStartError("cannot run java: %s" % exc) from exc
        self._wait_ready(offset, started + self._start_timeout_s)
        self.start_s = time.monotonic() - started

    def _wait_ready(self, offset: int, deadline: float) -> None:
        said_started = False
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                self.stop()
                msg = "kafka exited with %s; log tail: %s" % (code, self.log_tail())
                raise BrokerStartError(msg)
            if not said_started:
                with self.log_path.open("rb") as log:
                    log.seek(offset)
                    said_started = _STARTED in log.read()
            if said_started and metadata_lists_a_broker("127.0.0.1", self.port, 1.0):
                return
            time.sleep(0.05)
        self.stop()
        msg = "kafka was not ready on %s within %.0f s; log tail: %s" % (
            self.bootstrap,
            self._start_timeout_s,
            self.log_tail(),
        )
        raise BrokerStartError(msg)

    def log_tail(self, chars: int = 2000) -> str:
        """Return the end of the broker's log (for failure messages)."""
        try:
            return self.log_path.read_bytes()[-chars:].decode(errors="replace")
        except OSError:
            return ""

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze a paused broker (SIGCONT)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Shut the broker down cleanly (SIGTERM; kill after `timeout_s`); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop cleanly and start again on the same ports and data."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
