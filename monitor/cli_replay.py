"""``liqmon replay``: feed recorded files through the pipeline, in memory or through Kafka.

Called by `monitor.cli.main` with the parsed arguments and the validated settings; returns
the exit code (errors are raised as `InputError` / `MonitorError`, which `main` prints as
one line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from monitor.alerts.sinks import AlertSink, JsonlSink, TextSink
from monitor.clock import SimClock
from monitor.config import Settings
from monitor.errors import InputError, MonitorError
from monitor.io.files import check_readable
from monitor.io.jsonl import EventWriter
from monitor.replay.source import Format, Progress, ReplaySource
from monitor.runtime.embedded import run_app
from monitor.state.keeper import StatePlan
from monitor.terminal import StatusLine, progress_text

STATUS = StatusLine(sys.stderr)  # the progress line; alert lines clear it first


def replay(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``liqmon replay``; return the exit code (0 when every file was replayed)."""
    fmt: Format = args.format
    check_readable([*args.files, *args.warmup])
    if args.speed is not None and not (math.isfinite(args.speed) and args.speed > 0):
        raise InputError(
            "--speed %g: must be a positive number (1 = the recording's pace)" % args.speed
        )
    clock = SimClock()
    events_out = _writer(args.events_out, "--events-out") if args.events_out else None
    source = ReplaySource(
        args.files,
        fmt=fmt,
        speed=args.speed,
        clock=clock,
        symbol=args.symbol,
        classes=settings.assets.classes,
        events_out=events_out,
        cache_dir=Path(settings.sources.cache_dir).expanduser(),
    )
    sinks: list[AlertSink] = [] if args.quiet else [TextSink(sys.stdout, before=STATUS.clear)]
    if args.alerts_out:
        try:
            sinks.append(JsonlSink(args.alerts_out))
        except OSError as exc:
            raise InputError(
                "--alerts-out %s: cannot write: %s" % (args.alerts_out, exc.strerror or exc)
            ) from None
    started = time.monotonic()
    try:
        if settings.bus.kind == "kafka" and args.publish_only:  # `liqmon aggregate` detects
            errors = asyncio.run(_publish_async(settings, source))
        elif settings.bus.kind == "kafka":
            errors = asyncio.run(
                _replay_kafka_async(settings, source, sinks, serve=bool(args.metrics_addr))
            )
        else:
            plan = StatePlan(warmup=tuple(args.warmup))
            errors = asyncio.run(
                _replay_async(
                    settings, source, sinks, clock, serve=bool(args.metrics_addr), plan=plan
                )
            )
    finally:
        if events_out is not None:
            events_out.close()
    elapsed = time.monotonic() - started
    if errors:  # one line: what stopped the replay, and what was kept before it
        first = errors[0]
        raise type(first)(
            "%s (%d events before it were replayed)" % (first, source.progress.events)
        )
    sys.stderr.write(
        "replayed %d events in %.2f s (%.0f events/s)\n"
        % (source.progress.events, elapsed, source.progress.events / max(elapsed, 1e-9))
    )
    return 0


def _writer(path: Path, flag: str) -> EventWriter:
    try:
        return EventWriter(path)
    except OSError as exc:
        raise InputError("%s %s: cannot write: %s" % (flag, path, exc.strerror or exc)) from None


async def _replay_async(
    settings: Settings,
    source: ReplaySource,
    sinks: list[AlertSink],
    clock: SimClock,
    *,
    serve: bool,
    plan: StatePlan | None = None,
) -> list[MonitorError]:
    """Replay to the end; return the errors that stopped the source early (if any)."""
    async with (
        run_app(
            settings,
            state_plan=plan,
            sources=[source],
            sinks=sinks,
            clock=clock,
            live=False,
            serve_http=serve,
            log_alerts=False,
        ) as app,
        _showing(source.progress),
    ):
        await app.pipeline_done.wait()
    return app.source_errors


async def _replay_kafka_async(
    settings: Settings, source: ReplaySource, sinks: list[AlertSink], *, serve: bool
) -> list[MonitorError]:
    """Replay through Kafka and both aggregate stages in this process, to the end.

    The run gets topics and groups of its own (prefix ``<topic_prefix>.replay-<id>``), so
    it neither feeds nor reads the topics of running ``aggregate`` processes, and its alerts
    are those of the memory replay.
    """
    from monitor.runtime.kafka.replay_end import drain_to_end, published_ends  # noqa: PLC0415
    from monitor.runtime.kafka.roles import run_kafka  # noqa: PLC0415

    run_id = uuid.uuid4().hex[:8]
    kafka = msgspec.structs.replace(
        settings.bus.kafka,
        topic_prefix="%s.replay-%s" % (settings.bus.kafka.topic_prefix, run_id),
        auto_offset_reset="earliest",
    )
    settings = msgspec.structs.replace(
        settings,
        bus=msgspec.structs.replace(settings.bus, kafka=kafka),
        state=msgspec.structs.replace(settings.state, enabled=False),  # replays keep no state
    )
    async with (
        run_kafka(
            settings,
            group="liqmon-replay-%s" % run_id,
            sources=[source],
            sinks=sinks,
            live=False,
            serve_http=serve,
            log_alerts=False,
        ) as app,
        _showing(source.progress),
    ):
        await drain_to_end([app], await published_ends(app))
    return app.source_errors


async def _publish_async(settings: Settings, source: ReplaySource) -> list[MonitorError]:
    """Publish a recording to the Kafka input topics; return the source's errors.

    Raises:
        BusError: the events were not all acknowledged in time.
    """
    from monitor.runtime.kafka.replay_end import published_ends  # noqa: PLC0415
    from monitor.runtime.kafka.roles import run_kafka  # noqa: PLC0415

    async with run_kafka(
        settings, aggregate=False, sources=[source], live=False, serve_http=False
    ) as app:
        await published_ends(app)
    return app.source_errors


@contextlib.asynccontextmanager
async def _showing(progress: Progress) -> AsyncIterator[None]:
    """Redraw the progress line while the body runs; clear it when the body ends."""
    reporter = asyncio.create_task(_progress(progress, STATUS))
    try:
        yield
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter


async def _progress(progress: Progress, status: StatusLine) -> None:
    """Redraw the progress line every half second (on a terminal only; see `StatusLine`)."""
    if not status.enabled:
        return
    try:
        while True:
            await asyncio.sleep(0.5)
            status.show(progress_text(progress))
    finally:
        status.clear()
