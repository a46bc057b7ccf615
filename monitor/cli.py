"""The ``liqmon`` command line: roles, ``record``, ``check-config`` (``replay``: cli_replay).

`main` returns an exit code (0 ok, 2 bad config or input, 1 runtime failure) and is tested
in-process. Errors are one line on stderr: ``liqmon: <what and where>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from monitor import __version__, cli_replay, config, evaluation, preflight, simulate
from monitor.cli_help import LiqmonParser
from monitor.config import Settings
from monitor.errors import ConfigError, InputError, MonitorError
from monitor.log import configure_logging
from monitor.margin import cli as margin_cli
from monitor.replay.source import FORMATS
from monitor.runtime.embedded import run_app
from monitor.sources import SOURCES
from monitor.sources.manager import select_venues
from monitor.sources.recorder import Recorder
from monitor.state.keeper import StatePlan

logger = logging.getLogger("monitor.cli")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = LiqmonParser(
        prog="liqmon",
        description="liqmon: a Prometheus-native monitor for forced-liquidation cascades.",
        epilog="Run 'liqmon COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version="liqmon %s" % __version__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, metavar="FILE",
        help="YAML or TOML config file (default: none: built-in defaults and LIQMON_* env)",
    )  # fmt: skip
    common.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"],
        help="log level (default: the config's log.level, info)",
    )  # fmt: skip
    common.add_argument(
        "--log-format", choices=["console", "json"],
        help="log lines as text or JSON (default: the config's log.format, console)",
    )  # fmt: skip
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(  # the subcommands' parsers are LiqmonParser too
            dest="command", required=True, metavar="COMMAND", title="commands"
        ),
    )

    bus = argparse.ArgumentParser(add_help=False)
    bus.add_argument(
        "--bus", choices=["memory", "kafka"],
        help="event bus (default: the config's bus.kind, memory)",
    )  # fmt: skip
    bus.add_argument(
        "--kafka-bootstrap", metavar="HOST:PORT",
        help="Kafka brokers, a comma list (default: the config's bus.kafka.bootstrap_servers)",
    )  # fmt: skip
    listen = "HTTP listen address (default: the config's http.listen, 127.0.0.1:9464)"
    run = sub.add_parser("run", parents=[common, bus], help="the daemon: every role in one process")
    run.add_argument("--metrics-addr", metavar="HOST:PORT", help=listen)
    for name, text in (
        ("ingest", "venues and margin inputs -> Kafka topics (needs --bus kafka)"),
        ("aggregate", "Kafka topics -> windows, detectors, alerts (needs --bus kafka)"),
    ):
        role = sub.add_parser(name, parents=[common, bus], help=text)
        role.add_argument("--metrics-addr", metavar="HOST:PORT", help=listen)
        role.add_argument("--group", default="liqmon-aggregate", help="Kafka consumer group id")

    replay = sub.add_parser(
        "replay", parents=[common, bus], help="feed recorded files through the pipeline"
    )
    replay.add_argument(
        "files", nargs="+", type=Path, metavar="FILE",
        help="recordings: contract events (.jsonl), liqmon record output, Binance klines or "
        "open interest, Tardis CSV; .gz and .zst are read as such (required)",
    )  # fmt: skip
    replay.add_argument(
        "--format", choices=FORMATS, default="auto",
        help="input format; auto tells each file's from its name and first line",
    )  # fmt: skip
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible (the default)")
    pace.add_argument(
        "--speed", type=float, metavar="N",
        help="N x the recording's pace, N > 0 (default: --fast)",
    )  # fmt: skip
    replay.add_argument(
        "--alerts-out", type=Path, metavar="FILE",
        help="also write the alerts as contract JSON lines (default: none)",
    )  # fmt: skip
    replay.add_argument(
        "--metrics-addr", metavar="HOST:PORT",
        help="serve /metrics and the API while replaying (default: no HTTP)",
    )  # fmt: skip
    replay.add_argument(
        "--symbol", help="venue symbol for kline files (default: from the file name)"
    )
    replay.add_argument(
        "--events-out", type=Path, metavar="FILE",
        help="also write every event fed, as contract JSON lines (default: none)",
    )  # fmt: skip
    replay.add_argument(
        "--quiet", action="store_true", help="no alert lines on stdout (default: print them)"
    )
    replay.add_argument(
        "--warmup", nargs="+", action="extend", type=Path, metavar="FILE", default=[],
        help="kline files (CSV, as evaluate reads) to seed price volatility from before the "
        "replay (default: none; the priors)",
    )  # fmt: skip
    replay.add_argument(
        "--publish-only",
        action="store_true",
        help="with --bus kafka: only publish to the input topics, for 'liqmon aggregate' "
        "processes to detect (default: off)",
    )

    record = sub.add_parser(
        "record", parents=[common], help="record raw venue frames for replay and fixtures"
    )
    record.add_argument(
        "--exchange", action="append", metavar="ID",
        help="venue id, repeatable (default: the config's sources.enabled)",
    )  # fmt: skip
    record.add_argument(
        "--duration-s", type=float, required=True, metavar="N", help="seconds to record"
    )
    record.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="raw recording (.jsonl[.zst])"
    )

    sub.add_parser(
        "check-config", parents=[common],
        help="validate the config as 'run' would and print the effective one",
    )  # fmt: skip
    margin_cli.add_parser(sub, common)
    simulate.add_parser(sub, common)
    evaluation.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "check-config":
            preflight.check(settings)
            sys.stdout.write(config.dump_yaml(settings))
            return 0
        configure_logging(settings.log.level, settings.log.format)
        commands = {
            "replay": cli_replay.replay,
            "record": _record,
            "run": _run,
            "ingest": _role,
            "aggregate": _role,
            "margin": margin_cli.run,
            "simulate": simulate.run,
            "evaluate": evaluation.run,
        }
        return commands[args.command](args, settings)
    except (ConfigError, InputError) as exc:
        sys.stderr.write("liqmon: %s\n" % exc)
        return 2
    except MonitorError as exc:
        sys.stderr.write("liqmon: %s\n" % exc)
        return 1
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "metrics_addr", None):
        overrides["http.listen"] = args.metrics_addr
    if getattr(args, "bus", None):
        overrides["bus.kind"] = args.bus
    if getattr(args, "kafka_bootstrap", None):
        overrides["bus.kafka.bootstrap_servers"] = args.kafka_bootstrap
    if args.log_level:
        overrides["log.level"] = args.log_level
    if args.log_format:
        overrides["log.format"] = args.log_format
    return config.load(args.config, overrides=overrides)


def _role(args: argparse.Namespace, settings: Settings) -> int:
    """``ingest``, ``aggregate`` and ``run --bus kafka``: the Kafka roles (`run_kafka`)."""
    if settings.bus.kind != "kafka":
        raise ConfigError("config: bus.kind: %s needs kafka (--bus kafka)" % args.command)
    from monitor.runtime.kafka.roles import run_kafka  # noqa: PLC0415  (aiokafka: Kafka commands only)

    venues = preflight.check(settings)
    ingest = args.command in ("ingest", "run")
    aggregate = args.command in ("aggregate", "run")

    async def daemon() -> None:
        stop = asyncio.Event()
        _install_signals(stop)
        async with run_kafka(
            settings,
            ingest=ingest,
            aggregate=aggregate,
            group=getattr(args, "group", "liqmon-aggregate"),
            venues=venues if ingest else (),
            margin_inputs=ingest,
        ) as app:
            logger.info(
                "liqmon %s %s on kafka %s; HTTP on port %d", __version__, args.command,
                settings.bus.kafka.bootstrap_servers, app.http_port,
            )  # fmt: skip
            await stop.wait()
            logger.info("shutting down")

    asyncio.run(daemon())
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.bus.kind == "kafka":
        return _role(args, settings)

    venues = preflight.check(settings)

    async def daemon() -> None:
        stop = asyncio.Event()
        _install_signals(stop)
        async with run_app(
            settings, venues=venues, margin_inputs=True, state_plan=StatePlan(role="run", rest=True)
        ) as app:
            if venues:
                logger.info(
                    "liqmon %s running: venues %s; HTTP on port %d",
                    __version__, ", ".join(v.name for v in venues), app.http_port,
                )  # fmt: skip
            else:
                logger.info(
                    "liqmon %s running: no venue configured (sources.enabled is empty); "
                    "pipeline, HTTP and metrics are up on port %d", __version__, app.http_port,
                )  # fmt: skip
            await stop.wait()
            logger.info("shutting down")

    asyncio.run(daemon())
    return 0


def _record(args: argparse.Namespace, settings: Settings) -> int:
    venues = select_venues(SOURCES, args.exchange or settings.sources.enabled)
    if not venues:
        msg = "config: sources.enabled: no venue to record (pass --exchange)"
        raise ConfigError(msg)
    try:
        recorder = Recorder(args.out)
    except OSError as exc:
        raise InputError("--out %s: cannot write: %s" % (args.out, exc.strerror or exc)) from None

    async def record() -> None:
        stop = asyncio.Event()
        _install_signals(stop)
        async with run_app(
            settings, venues=venues, recorder=recorder, serve_http=False, log_alerts=False
        ):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration_s):
                    await stop.wait()

    try:
        asyncio.run(record())
    finally:
        recorder.close()
    sys.stderr.write("recorded %d frames to %s\n" % (recorder.frames, args.out))
    return 0


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
