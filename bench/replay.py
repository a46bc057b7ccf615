"""`liqmon replay --fast` throughput (benchmark (g)): whole process, in-process, and the split.

Generates N synthetic liquidations once (``bench/gen_liquidations.py``, cached in the system
temporary directory as ``liqmon-bench/liq-N.jsonl``), then:

* ``process``: runs ``liqmon replay FILE --fast --quiet`` as a child process RUNS times
  (pinned to one core with ``taskset -c 0`` when available) and reports the median wall time,
  the events/s it implies (start-up and imports included), CPU seconds and peak RSS
  (``getrusage`` of the child, the figure ``/usr/bin/time -v`` prints);
* ``split``: in this process, the time to read and decode the file alone
  (`monitor.io.jsonl.read_event_batches`) and the time of the engine alone (`Engine.process`
  + `Metrics.observe_batch` on the decoded batches, as the aggregator calls them), so the
  report says how much of a replay is reading and how much is aggregation.

Usage: python bench/replay.py [--events N] [--runs R] [--out bench/results/replay.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import config  # noqa: E402
from monitor.aggregate.engine import Engine  # noqa: E402
from monitor.io.jsonl import read_event_batches  # noqa: E402
from monitor.observability.metrics import Metrics  # noqa: E402

TARGET_EVENTS_S = 500_000
DATA = Path(tempfile.gettempdir()) / "liqmon-bench"


def pin() -> list[str]:
    """Return the ``taskset -c 0`` prefix when taskset works here, else nothing."""
    taskset = shutil.which("taskset")
    if taskset is None:
        return []
    probe = subprocess.run([taskset, "-c", "0", "true"], check=False)  # noqa: S603
    return [taskset, "-c", "0"] if probe.returncode == 0 else []


def generate(n: int) -> Path:
    """Return the path of an N-event synthetic file, writing it on first use."""
    path = DATA / ("liq-%d.jsonl" % n)
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part.jsonl")
        subprocess.run(  # noqa: S603  (our own fixed command)
            [sys.executable, str(ROOT / "bench" / "gen_liquidations.py"), str(tmp), str(n), "200"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tmp.rename(path)
    return path


def liqmon_command() -> list[str]:
    """Return the ``liqmon`` entry point of this interpreter's environment."""
    script = Path(sys.executable).with_name("liqmon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def run_process(path: Path, runs: int) -> dict[str, object]:
    """Time ``liqmon replay PATH --fast --quiet`` `runs` times; return medians and samples."""
    command = [*pin(), *liqmon_command(), "replay", str(path), "--fast", "--quiet"]
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        rss.append(after.ru_maxrss / 1024)  # KiB → MiB; the maximum over children so far
    return {
        "command": " ".join(["liqmon" if c.endswith("/liqmon") else c for c in command]),
        "wall_s": walls,
        "cpu_s": cpus,
        "median_wall_s": statistics.median(walls),
        "median_cpu_s": statistics.median(cpus),
        "peak_rss_mib": max(rss),
    }


def split(path: Path) -> dict[str, float]:
    """Return CPU seconds spent reading+decoding and in the engine, measured apart, in process.

    CPU time (``time.process_time``) rather than wall time: on a shared machine it is the
    steadier of the two, and both parts are single-threaded.
    """
    started = time.process_time()
    batches = list(read_event_batches(path))
    read_s = time.process_time() - started
    settings = config.load(None, env={})
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    metrics = Metrics(CollectorRegistry(), settings.assets.watch, settings.aggregate.windows_s)
    engine = Engine(settings, metrics)
    joined, pending = [], []
    for batch in batches:  # the replay's publish batches (chunks joined up to FAST_BATCH)
        pending += batch
        if len(pending) >= _fast_batch():
            joined.append(pending)
            pending = []
    if pending:
        joined.append(pending)
    started = time.process_time()
    for batch in joined:
        t0 = time.perf_counter()
        engine.process(batch)
        metrics.observe_batch(batch, time.perf_counter() - t0)
    engine.flush()
    engine_s = time.process_time() - started
    events = sum(len(b) for b in batches)
    return {
        "events": events,
        "read_decode_cpu_s": read_s,
        "engine_cpu_s": engine_s,
        "read_events_s": events / read_s,
        "engine_events_s": events / engine_s,
    }


def _fast_batch() -> int:
    from monitor.replay.source import FAST_BATCH  # noqa: PLC0415

    return FAST_BATCH


def command_line() -> str:
    """Return how this benchmark was started, relative to the repository (for the report)."""
    return " ".join([".venv/bin/python", "bench/%s.py" % Path(__file__).stem, *sys.argv[1:]])


def main() -> None:
    """Parse arguments, run both measurements, print and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "replay.json")
    parser.add_argument("--no-split", action="store_true", help="skip the in-process split")
    args = parser.parse_args()
    path = generate(args.events)
    proc = run_process(path, args.runs)
    median_wall = float(proc["median_wall_s"])  # type: ignore[arg-type]
    result: dict[str, object] = {
        "command": command_line(),
        "events": args.events,
        "runs": args.runs,
        "process": proc,
        "events_per_s": args.events / median_wall,
        "events_per_cpu_s": args.events / float(proc["median_cpu_s"]),  # type: ignore[arg-type]
        "target_events_per_s": TARGET_EVENTS_S,
    }
    if not args.no_split:
        result["split"] = split(path)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
