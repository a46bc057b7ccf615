"""``liqmon simulate``: write a scenario's contract events (and its labels) to files.

``liqmon simulate --scenario NAME --seed N --out FILE [--start ISO] [--duration-h H]
[--tick-s S] [--branching N] [--cascades K] [--assets A,B] [--cascade-usd USD]
[--labels-out FILE]``

The output is JSON lines sorted by event time, compressed by suffix (``.gz``, ``.zst``),
identical byte for byte for identical arguments (gzip's header time is fixed at 0).
Exit 0 ok, 2 bad arguments or an unwritable file.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import zstandard

from monitor.codec import encode
from monitor.config import Settings
from monitor.errors import InputError
from monitor.evaluation.labels import parse_time, write_labels
from monitor.events import Event
from monitor.simulate.scenarios import SCENARIOS, SimParams, simulate


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to `subparsers`; return its parser."""
    p = subparsers.add_parser(
        "simulate", parents=[common], help="write a reproducible scenario as contract events"
    )
    p.add_argument("--scenario", required=True, choices=SCENARIOS, help="which world")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="events file, .jsonl[.gz|.zst]"
    )
    p.add_argument(
        "--start", metavar="ISO", help="start time, ISO-8601 UTC (default: the scenario's)"
    )
    p.add_argument(
        "--duration-h", type=float, metavar="H", help="span in hours (default: the scenario's)"
    )
    p.add_argument(
        "--tick-s", type=float, metavar="S", help="seconds between ticks (default: the scenario's)"
    )
    p.add_argument("--branching", type=float, default=0.7, metavar="N", help="hawkes: n")
    p.add_argument("--cascades", type=int, default=4, metavar="K", help="hawkes: how many")
    p.add_argument(
        "--assets", metavar="A,B", help="hawkes: assets that cascade, in turn (default: all)"
    )
    p.add_argument(
        "--cascade-usd",
        type=float,
        metavar="USD",
        help="hawkes: mean size (default: the scenario's)",
    )
    p.add_argument(
        "--labels-out",
        type=Path,
        metavar="FILE",
        help="also write the ground truth, CSV (default: none)",
    )
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``simulate``; return the exit code (0 ok, 2 bad input)."""
    try:
        params = _params(args, settings)
        started = time.monotonic()
        try:
            events, labels = simulate(params)
        except ValueError as exc:
            raise InputError("simulate: %s" % exc) from None
        write_events(args.out, events)
        if args.labels_out is not None:
            mine = [dataclasses.replace(lab, recording=args.out.name) for lab in labels]
            try:
                write_labels(args.labels_out, mine)
            except OSError as exc:
                raise InputError(
                    "--labels-out %s: cannot write: %s" % (args.labels_out, exc.strerror or exc)
                ) from None
    except InputError as exc:
        sys.stderr.write("liqmon: %s\n" % exc)
        return 2
    sys.stderr.write(
        "simulated %s (seed %d): %d events, %d labels to %s in %.1f s\n"
        % (params.scenario, params.seed, len(events), len(labels), args.out,
           time.monotonic() - started)
    )  # fmt: skip
    return 0


def _params(args: argparse.Namespace, settings: Settings) -> SimParams:
    start_ns = None
    if args.start:
        try:
            start_ns = parse_time(args.start)
        except ValueError:
            raise InputError("--start: not an ISO-8601 time: %r" % args.start) from None
    if args.duration_h is not None and not args.duration_h > 0:
        raise InputError("--duration-h: must be > 0, got %r" % args.duration_h)
    if args.tick_s is not None and not args.tick_s > 0:
        raise InputError("--tick-s: must be > 0, got %r" % args.tick_s)
    assets = tuple(a.strip().upper() for a in (args.assets or "").split(",") if a.strip())
    return SimParams(
        scenario=args.scenario,
        seed=args.seed,
        start_ns=start_ns,
        duration_s=args.duration_h * 3600.0 if args.duration_h is not None else None,
        tick_s=args.tick_s,
        branching=args.branching,
        cascades=args.cascades,
        assets=assets,
        cascade_usd=args.cascade_usd,
        classes=settings.assets.classes,
    )


def write_events(path: Path, events: Iterable[Event]) -> int:
    """Write `events` as JSON lines, deterministically compressed by suffix; return the count.

    Raises:
        InputError: when the file cannot be written.
    """
    n = 0
    try:
        with path.open("wb") as raw, contextlib.ExitStack() as stack:
            stream = _compressor(path, raw)
            if stream is not raw:
                stack.callback(stream.close)
            for event in events:
                stream.write(encode(event) + b"\n")
                n += 1
    except OSError as exc:
        raise InputError("--out %s: cannot write: %s" % (path, exc.strerror or exc)) from None
    return n


def _compressor(path: Path, raw: IO[bytes]) -> IO[bytes]:
    if path.suffix == ".gz":  # fixed mtime and no name in the header: identical bytes
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)  # type: ignore[return-value]
    if path.suffix == ".zst":
        writer: IO[bytes] = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        return writer
    return raw
