"""Every error a user can cause is exit 2 and one line on stderr naming what and where.

Each case runs the real ``liqmon`` command in a subprocess (no traceback can hide behind
an in-process ``main``), with a clean environment apart from the case's own variables.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAPE = ROOT / "tests/fixtures/tardis/bybit_liquidations.csv"


def liqmon(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str]:
    """Run ``liqmon ARGS``; return (exit code, stderr)."""
    # as a user runs it: no LIQMON_* from the test run, no asyncio debug mode (scripts/test
    # sets PYTHONASYNCIODEBUG, whose slow-callback warnings would add lines to stderr)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LIQMON_") and k != "PYTHONASYNCIODEBUG"
    }
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env={**clean, **(env or {})},
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stderr


def assert_one_line(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("liqmon: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_http_port_already_in_use(busy_port: int, tmp_path: Path) -> None:
    cfg = tmp_path / "liqmon.yaml"
    cfg.write_text("sources:\n  enabled: []\n")
    code, err = liqmon("run", "--config", str(cfg), "--metrics-addr", "127.0.0.1:%d" % busy_port)
    assert_one_line(code, err, "http.listen", str(busy_port), "already in use")


def test_replay_serving_http_on_a_busy_port(busy_port: int) -> None:
    code, err = liqmon("replay", str(TAPE), "--metrics-addr", "127.0.0.1:%d" % busy_port)
    assert_one_line(code, err, "http.listen", "already in use")


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf"])
def test_replay_speed_must_be_positive(speed: str) -> None:
    code, err = liqmon("replay", str(TAPE), "--speed", speed)
    assert_one_line(code, err, "--speed", "positive")


def test_a_corrupt_zst(tmp_path: Path) -> None:
    bad = tmp_path / "events.jsonl.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(200))  # zstd magic, then garbage
    code, err = liqmon("replay", str(bad))
    assert_one_line(code, err, str(bad), "corrupt or truncated")


def test_a_truncated_gz_keeps_what_came_before(tmp_path: Path) -> None:
    whole = gzip.compress(TAPE.read_bytes() * 1)
    bad = tmp_path / "bybit_liquidations.csv.gz"
    bad.write_bytes(whole[: len(whole) - 8])  # the trailer is gone
    code, err = liqmon("replay", str(bad))
    assert_one_line(code, err, str(bad))


def test_a_non_utf8_kline_csv(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT-1m-2026-01.csv"
    bad.write_bytes(b"1767225600000,87000.1,87010,86990,87000\n1767225660000,8\xff,1,1,1\n")
    code, err = liqmon("replay", str(bad))
    assert_one_line(code, err, str(bad), "not UTF-8")


@pytest.mark.parametrize("command", ["replay", "evaluate"])
def test_a_directory_given_as_a_file(command: str, tmp_path: Path) -> None:
    labels = ROOT / "tests/fixtures/labels/burst.csv"
    extra = ["--labels", str(labels)] if command == "evaluate" else []
    code, err = liqmon(command, str(tmp_path), *extra)
    assert_one_line(code, err, str(tmp_path), "is a directory")


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("LIQMON_HTTP__API_TOKEN", "[x, 2]", "http.api_token"),
        ("LIQMON_AGGREGATE__GRACE_MS", "soon", "aggregate.grace_ms"),
        ("LIQMON_AGGREGATE__WINDOWS_S", "{a: 1}", "aggregate.windows_s"),
    ],
)
def test_env_values_of_the_wrong_type(variable: str, value: str, needle: str) -> None:
    code, err = liqmon("check-config", env={variable: value})
    assert_one_line(code, err, needle, variable)


def test_an_unknown_env_key_names_its_variable() -> None:
    code, err = liqmon("check-config", env={"LIQMON_HTTP__API_TOKNE": "x"})
    assert_one_line(code, err, "LIQMON_HTTP__API_TOKNE", "unknown key")


def test_check_config_runs_the_validations_run_runs(tmp_path: Path) -> None:
    cfg = tmp_path / "liqmon.yaml"
    cfg.write_text("sources:\n  enabled: [bybit, foo]\n")
    checked = liqmon("check-config", "--config", str(cfg))
    ran = liqmon("run", "--config", str(cfg))
    assert_one_line(*checked, "sources.enabled", "'foo'")
    assert ran == checked
