"""Real Prometheus and Alertmanager (Debian's packages) as subprocesses on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require(binary: str) -> str:
    """Return the path of `binary`; a missing one fails the test (never skips)."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            "%s is missing: install Debian's prometheus and prometheus-alertmanager "
            "(scripts/test does)" % binary
        )
    return path


@dataclass
class Process:
    name: str
    url: str
    proc: asyncio.subprocess.Process
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


async def wait_ready(url: str, proc: Process, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as session:
        while True:
            if proc.proc.returncode is not None:
                pytest.fail("%s exited early:\n%s" % (proc.name, proc.tail()))
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def started(
    name: str, argv: list[str], url: str, ready_path: str, log: Path
) -> AsyncIterator[Process]:
    handle = log.open("wb")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    process = Process(name, url, proc, log)
    try:
        await wait_ready(url + ready_path, process)
        yield process
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        handle.close()


@contextlib.asynccontextmanager
async def alertmanager(config: Path, workdir: Path) -> AsyncIterator[Process]:
    port, cluster = free_port(), free_port()
    argv = [
        require(ALERTMANAGER), "--config.file=%s" % config, "--storage.path=%s" % (workdir / "am"),
        "--web.listen-address=127.0.0.1:%d" % port,
        "--cluster.listen-address=127.0.0.1:%d" % cluster,
    ]  # fmt: skip
    url = "http://127.0.0.1:%d" % port
    async with started("alertmanager", argv, url, "/-/ready", workdir / "alertmanager.log") as p:
        yield p


@contextlib.asynccontextmanager
async def prometheus(config: Path, workdir: Path) -> AsyncIterator[Process]:
    port = free_port()
    argv = [
        require(PROMETHEUS), "--config.file=%s" % config,
        "--storage.tsdb.path=%s" % (workdir / "tsdb"),
        "--web.listen-address=127.0.0.1:%d" % port, "--web.enable-lifecycle",
    ]  # fmt: skip
    url = "http://127.0.0.1:%d" % port
    async with started("prometheus", argv, url, "/-/ready", workdir / "prometheus.log") as p:
        yield p


async def query(url: str, expr: str) -> dict:
    """Run an instant query; return the decoded JSON (status, data or error)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/api/v1/query", params={"query": expr}) as resp,
    ):
        return json.loads(await resp.text())
