"""The benchmark suite behind ``bench/run``: run every benchmark, then summarise against targets.

Each benchmark is a separate command writing its own JSON under ``bench/results/``; this
module runs them in sequence (full or ``--quick``), tolerates one failing (its row says
``failed: <last line of its stderr>``; the exit status is 1 at the end), and writes
``summary.json`` and ``summary.md``: one row per target with the figure, the target,
met / missed by, and the exact command, under a header with the machine and versions.
The extraction of each result is one small function (``row_*``) reading its JSON
defensively, since the benchmarks' outputs evolve.

Usage: bench/run [--quick] [--only NAME,...] [--summarize] [--update-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = ".venv/bin/python"
BEGIN = "<!-- bench-table:begin -->"
END = "<!-- bench-table:end -->"
PACKAGES = ("liqmon", "msgspec", "polars", "numpy", "prometheus-client", "aiohttp", "websockets")


@dataclass
class Row:
    """One line of the summary table."""

    benchmark: str
    what: str
    measured: str
    target: str = "—"
    verdict: str = "—"  # "met", "missed by …", "failed: …", or "—" (no numeric target)
    command: str = ""
    value: float | None = None


@dataclass
class Bench:
    """One benchmark: its commands (full, quick), its JSON file and its row extractor."""

    name: str
    full: list[str]
    quick: list[str]
    result: str
    rows: Callable[[dict[str, Any]], list[Row]]
    env: dict[str, str] = field(default_factory=dict)
    quick_env: dict[str, str] = field(default_factory=dict)


def get(data: Any, *path: str | int, default: Any = None) -> Any:  # noqa: ANN401
    """Return ``data[path[0]][path[1]]…``, or `default` where anything is missing."""
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return default
    return data


def verdict_max(value: float | None, limit: float, unit: str, scale: float = 1.0) -> str:
    """Return "met" or "missed by …" for a figure that must stay at or under `limit`."""
    if value is None:
        return "no figure"
    if value <= limit:
        return "met"
    return "missed by %.3g %s (%.1f×)" % ((value - limit) * scale, unit, value / limit)


def verdict_min(value: float | None, limit: float, unit: str) -> str:
    """Return "met" or "missed by …" for a figure that must reach `limit`."""
    if value is None:
        return "no figure"
    if value >= limit:
        return "met"
    return "missed by %s %s (%.0f %% of the target)" % (
        f"{limit - value:,.0f}",
        unit,
        100 * value / limit,
    )


# ---- extraction, one function per benchmark (adjust here when a JSON changes) -------------


def row_parsers(data: dict[str, Any]) -> list[Row]:
    """(a) Binance USDⓈ-M liquidation frames/s, liqmon vs cryptofeed."""
    ours = [
        r
        for r in get(data, "liqmon", "results", default=[])
        if get(r, "venue") == "binance_usdm" and get(r, "loop") == "plain"
    ]
    peer = get(data, "cryptofeed", "results", default=[])
    best = max((get(r, "frames_per_s", default=0) for r in ours), default=0)
    peer_best = max((get(r, "frames_per_s", default=0) for r in peer), default=0)
    ratios = [
        get(r, "ratio")
        for r in get(data, "ratios", default=[])
        if get(r, "ratio") and get(r, "liqmon_loop") == "plain"
    ]
    ratio = " (ratios %s)" % ", ".join("%.2f" % r for r in ratios) if ratios else ""
    low = min(ratios, default=None)
    return [
        Row(
            "parsers",
            "(a) Binance USDⓈ-M parse, one core",
            f"liqmon {best:,.0f} frames/s vs cryptofeed {peer_best:,.0f}{ratio}",
            "≥ 1,000,000 frames/s",
            verdict_min(float(best) or None, 1_000_000, "frames/s"),
            value=float(best) or None,
        ),
        Row(
            "parsers",
            "(a) parse ratio, liqmon / cryptofeed (lowest of the plain-loop ratios)",
            "%.2f×" % low if low is not None else "no figure",
            "≥ 8×",
            verdict_min(low, 8, "×") if low is not None else "no figure",
            value=low,
        ),
    ]


def row_windows(data: dict[str, Any]) -> list[Row]:
    """(b) window aggregation events/s per input and tool (``results[]`` of windows.json)."""
    by_input: dict[str, list[str]] = {}
    verdicts: dict[str, str] = {}
    for r in get(data, "results", default=[]):
        rate = get(r, "median_events_per_s")
        if not isinstance(rate, int | float):
            continue
        tool = "%s %s" % (get(r, "tool", default="?"), get(r, "what", default=""))
        name = str(get(r, "input", default="?"))
        by_input.setdefault(name, []).append(f"{tool.strip()} {rate:,.0f}/s")
        ratio = get(r, "ratio_vs_faster_peer")
        if get(r, "tool") == "liqmon" and get(r, "what") == "aggregation":
            parts = [verdict_min(rate, 1_000_000, "events/s")]
            if isinstance(ratio, int | float):
                parts.append("%.0f× the faster peer: %s" % (ratio, verdict_min(ratio, 30, "×")))
            verdicts[name] = "; ".join(parts)
    rows = [
        Row(
            "windows",
            f"(b) window aggregation, one core, input `{name}`",
            "; ".join(parts),
            "liqmon aggregation ≥ 1,000,000 events/s and ≥ 30× the faster peer",
            verdicts.get(name, "no figure"),
        )
        for name, parts in by_input.items()
    ]
    return rows or [Row("windows", "(b) window aggregation, one core", "no figure")]


def row_kafka(data: dict[str, Any]) -> list[Row]:
    """(c) ingest → Kafka → aggregate: highest rate with p99 ≤ 250 ms."""
    rate = get(data, "max_sustained_rate") or get(data, "max_sustained_offered")
    steps = get(data, "steps", default=[])
    at: dict[str, Any] = next((s for s in steps if get(s, "offered") == rate), {})
    p99 = get(at, "p99")
    measured = f"{rate:,} events/s sustained" if rate else "no sustained rate"
    if p99 is not None:
        measured += " (p99 %.0f ms there)" % (1000 * p99)
    source = get(data, "source", default="binance")
    per_frame = get(data, "events_per_frame", default=1)
    feed = {
        "binance": "real Binance forceOrder frames, 1 event each",
        "bybit": f"Bybit allLiquidation frames, {per_frame} events each",
        "synthetic": "the Kafka path alone: in-process source, no feeder or adapter",
    }.get(source, source)
    return [
        Row(
            "kafka_e2e",
            f"(c) ingest → Kafka → aggregate ({feed})",
            measured,
            "≥ 100,000 events/s at p99 ≤ 250 ms",
            verdict_min(rate, 100_000, "events/s"),
            value=rate,
        )
    ]


def row_latency(data: dict[str, Any]) -> list[Row]:
    """(d) frame → alert on /metrics and at the webhook, p99 ≤ 1 s at 10k/s."""
    rows = []
    rate = get(data, "rate_per_s", default=0)
    grace = get(data, "grace_ms", default="default")
    at = f"{rate:,.0f}/s" + ("" if grace == "default" else f", grace_ms {grace}")
    if get(data, "bus") == "kafka":
        at += ", ingest → Apache Kafka → aggregate"
    for key, what in (
        ("pending_metrics_s", "on /metrics (pending)"),
        ("pending_webhook_s", "at the webhook (pending)"),
        ("firing_metrics_s", "on /metrics (firing, for_s %ss)" % get(data, "for_s")),
        ("firing_webhook_s", "at the webhook (firing)"),
    ):
        p50, p99, n = get(data, key, "p50"), get(data, key, "p99"), get(data, key, "n", default=0)
        measured = "p50 %.2f s, p99 %.2f s (n %d)" % (p50, p99, n) if p99 is not None else "none"
        judged = "pending" in key and grace == "default"  # other graces: for comparison
        target = "p99 ≤ 1 s" if judged else "—"
        verdict = verdict_max(p99, 1.0, "s") if judged else "—"
        rows.append(
            Row(
                "latency",
                f"(d) frame → alert {what} at {at}",
                measured,
                target,
                verdict,
                value=p99,
            )
        )
    return rows


def row_scrape(data: dict[str, Any]) -> list[Row]:
    """(e) /metrics scrape time, p99 ≤ 50 ms with the full catalogue."""
    rows = []
    for key, what in (("default", "default watch list"), ("big_watch", "big watch list")):
        part = get(data, key)
        if not part:
            continue
        p50, p99 = get(part, "p50_s"), get(part, "p99_s")
        series, extra = get(part, "series", default=0), get(part, "watch_extra", default=0)
        label = what if not extra else "%s (+%d assets)" % (what, extra)
        rows.append(
            Row(
                "scrape",
                f"(e) GET /metrics, {series:,} series, {label}",
                "p50 %.1f ms, p99 %.1f ms" % (1000 * p50, 1000 * p99) if p99 else "no figure",
                "p99 ≤ 50 ms",
                verdict_max(p99, 0.050, "ms", 1000) if key == "default" else "—",
                value=p99,
            )
        )
    return rows or [Row("scrape", "(e) GET /metrics", "no figure", "p99 ≤ 50 ms", "no figure")]


def row_memory(data: dict[str, Any]) -> list[Row]:
    """(f) aggregate RSS after a simulated day; no growth over its last half."""
    rss, growth = get(data, "max_rss_mib"), get(data, "growth_last_half_mib")
    hours, rate = get(data, "hours", default=0), get(data, "rate_per_s", default=0)
    symbols, events, cpu = get(data, "symbols", default=0), get(data, "events"), get(data, "cpu_s")
    run = f"{hours:g} h at {rate:,}/s, {symbols:,} symbols"
    if events and cpu:  # per CPU second: the run may share the machine or be paused
        run += f", processed at {events / cpu:,.0f} events per CPU second"
    full = hours >= 24 and rate >= 10_000  # the day
    return [
        Row(
            "memory",
            f"(f) aggregate max RSS ({run})",
            "%.0f MiB" % rss if rss is not None else "no figure",
            "≤ 400 MiB" + ("" if full else " (after 24 h at 10k/s)"),
            verdict_max(rss, 400.0, "MiB") if full else "shorter run: not comparable",
            value=rss,
        ),
        Row(
            "memory",
            "(f) RSS growth over the last half of the run",
            "%+.0f MiB" % growth if growth is not None else "no figure",
            "no growth (last 12 h)",
            ("met" if growth <= 10 else "grows %.0f MiB" % growth)
            if growth is not None and full
            else "shorter run: not comparable",
            value=growth,
        ),
    ]


def row_replay(data: dict[str, Any]) -> list[Row]:
    """(g) ``liqmon replay --fast`` events/s, whole process; and the in-process split."""
    rate, events = get(data, "events_per_s"), get(data, "events", default=0)
    rss = get(data, "process", "peak_rss_mib")
    split = get(data, "split", default={})
    measured = f"{rate:,.0f} events/s" if rate else "no figure"
    cpu_rate = get(data, "events_per_cpu_s")
    if cpu_rate:
        measured += f" ({cpu_rate:,.0f} per CPU second)"
    if rss:
        measured += ", peak RSS %.0f MiB" % rss
    rows = [
        Row(
            "replay",
            f"(g) `liqmon replay --fast`, {events:,} events, whole process",
            measured,
            "≥ 500,000 events/s",
            verdict_min(rate, 500_000, "events/s"),
            value=rate,
        )
    ]
    if split:
        rows.append(
            Row(
                "replay",
                "(g) split, CPU s per 1M events: read+decode / engine",
                "%.2f / %.2f (%s / %s events/s)"
                % (
                    1e6 * get(split, "read_decode_cpu_s", default=0) / max(events, 1),
                    1e6 * get(split, "engine_cpu_s", default=0) / max(events, 1),
                    f"{get(split, 'read_events_s', default=0):,.0f}",
                    f"{get(split, 'engine_events_s', default=0):,.0f}",
                ),
            )
        )
    return rows


def benches() -> list[Bench]:
    """Return the suite, in run order."""
    r = "bench/results"
    return [
        Bench("parsers", ["bash", "bench/run_parsers.sh"], ["bash", "bench/run_parsers.sh"],
              "parsers.json", row_parsers, quick_env={"REPEATS": "3", "MIN_TIME": "0.1",
                                                      "ROUNDS": "1"}),
        Bench("windows", ["bash", "bench/run_windows.sh"], ["bash", "bench/run_windows.sh"],
              "windows.json", row_windows, quick_env={"QUICK": "1"}),
        Bench("kafka_e2e", [PY, "bench/kafka_e2e.py", "10", "5000", "10000", "20000", "30000",
                            "40000", "60000", "80000", "100000"],
              [PY, "bench/kafka_e2e.py", "4", "5000", "10000", "20000"],
              "kafka_e2e.json", row_kafka),
        Bench("kafka_e2e_bybit", [PY, "bench/kafka_e2e.py", "--source", "bybit", "--per-frame",
                                  "20", "--out", f"{r}/kafka_e2e_bybit.json", "10", "20000",
                                  "40000", "60000", "80000", "100000"],
              [PY, "bench/kafka_e2e.py", "--source", "bybit", "--out",
               f"{r}/kafka_e2e_bybit.json", "4", "20000", "40000"],
              "kafka_e2e_bybit.json", row_kafka),
        Bench("kafka_path", [PY, "bench/kafka_e2e.py", "--source", "synthetic", "--out",
                             f"{r}/kafka_path.json", "10", "40000", "60000", "80000", "100000"],
              [PY, "bench/kafka_e2e.py", "--source", "synthetic", "--out",
               f"{r}/kafka_path.json", "4", "40000"],
              "kafka_path.json", row_kafka),
        Bench("latency", [PY, "bench/latency.py", "--cascades", "12", "--out",
                          f"{r}/latency.json"],
              [PY, "bench/latency.py", "--cascades", "3", "--out", f"{r}/latency.json"],
              "latency.json", row_latency),
        Bench("latency_kafka", [PY, "bench/latency.py", "--bus", "kafka", "--cascades", "12",
                                "--out", f"{r}/latency_kafka.json"],
              [PY, "bench/latency.py", "--bus", "kafka", "--cascades", "3", "--out",
               f"{r}/latency_kafka.json"],
              "latency_kafka.json", row_latency),
        Bench("latency_grace2000", [PY, "bench/latency.py", "--cascades", "12", "--grace-ms",
                                    "2000", "--out", f"{r}/latency_grace2000.json"],
              [PY, "bench/latency.py", "--cascades", "3", "--grace-ms", "2000", "--out",
               f"{r}/latency_grace2000.json"],
              "latency_grace2000.json", row_latency),
        Bench("scrape", [PY, "bench/scrape.py", "--scrapes", "200", "--watch", "100", "--out",
                         f"{r}/scrape.json"],
              [PY, "bench/scrape.py", "--scrapes", "50", "--out", f"{r}/scrape.json"],
              "scrape.json", row_scrape),
        Bench("memory", [PY, "bench/memory.py", "--hours", "24", "--rate", "10000", "--out",
                         f"{r}/memory.json"],
              [PY, "bench/memory.py", "--hours", "2", "--rate", "500", "--out",
               f"{r}/memory.json"],
              "memory.json", row_memory),
        Bench("replay", [PY, "bench/replay.py", "--events", "1000000", "--runs", "5", "--out",
                         f"{r}/replay.json"],
              [PY, "bench/replay.py", "--events", "200000", "--runs", "3", "--out",
               f"{r}/replay.json"],
              "replay.json", row_replay),
    ]  # fmt: skip


def run_one(bench: Bench, quick: bool, log: Path) -> tuple[str | None, str]:
    """Run one benchmark; return (None or the failure line, the command as run)."""
    argv = bench.quick if quick else bench.full
    env_add = {**bench.env, **(bench.quick_env if quick else {})}
    shown = " ".join([*("%s=%s" % kv for kv in env_add.items()), *map(shlex.quote, argv)])
    print("== %s: %s" % (bench.name, shown), flush=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(  # noqa: S603  (the suite's own commands)
            argv, cwd=ROOT, env={**os.environ, **env_add}, stdout=out, stderr=subprocess.STDOUT,
            check=False,
        )  # fmt: skip
    print("   %s in %.0f s (log %s)" % (proc.returncode, time.monotonic() - started, log))
    if proc.returncode != 0:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x]
        return "exit %d: %s" % (proc.returncode, lines[-1][:160] if lines else ""), shown
    return None, shown


def rows_of(bench: Bench, failure: str | None, command: str) -> list[Row]:
    """Return the benchmark's rows from its JSON, or one failure row."""
    if failure is not None:
        return [Row(bench.name, bench.name, "—", verdict="failed: %s" % failure, command=command)]
    path = RESULTS / bench.result
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = bench.rows(data)
    except OSError:
        reason = "no bench/results/%s" % bench.result
        return [Row(bench.name, bench.name, "—", verdict="failed: %s" % reason, command=command)]
    except (ValueError, TypeError, KeyError) as exc:
        reason = "%s: %s" % (bench.result, str(exc).splitlines()[0] if str(exc) else exc)
        return [Row(bench.name, bench.name, "—", verdict="failed: %s" % reason, command=command)]
    recorded = get(data, "command")  # what produced the JSON, when it says
    for row in rows:
        row.command = recorded if isinstance(recorded, str) and failure is None else command
    return rows


def machine() -> dict[str, Any]:
    """Return the header facts: machine, kernel, Python, package versions, date, commit."""
    cpu = ""
    mem_kib = 0
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "commit": commit,
    }


def markdown(head: dict[str, Any], rows: list[Row], mode: str) -> str:
    """Return the summary as Markdown: header lines, then the table."""
    pkgs = ", ".join("%s %s" % kv for kv in head["packages"].items())
    lines = [
        "Measured %s by `bench/run%s` (commit %s) on %s CPUs (%s), %s GiB RAM, Linux %s, "
        "Python %s; %s."
        % (
            head["date"],
            " --quick" if mode == "quick" else "",
            head["commit"] or "?",
            head["nproc"],
            head["cpu"] or "?",
            head["ram_gib"],
            head["kernel"],
            head["python"],
            pkgs,
        ),
        "",
        "| benchmark | measured | target | verdict | command |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        command = "`%s`" % row.command.replace("|", "\\|") if row.command else ""
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (row.what, row.measured, row.target, row.verdict.replace("|", "\\|"), command)
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str, readme: Path) -> bool:
    """Replace the text between the bench-table markers of `readme`; return whether found."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text("%s%s\n%s%s%s" % (head, BEGIN, table, END, tail), encoding="utf-8")
    return True


def main() -> int:
    """Run the suite (or only summarise); write summary.json/.md; return the exit status."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shortened runs (smoke)")
    parser.add_argument("--only", help="comma list of benchmarks to run (others: summarised)")
    parser.add_argument("--summarize", action="store_true", help="run nothing, summarise")
    parser.add_argument(
        "--update-readme", action="store_true", help="rewrite the table in docs/performance.md"
    )
    args = parser.parse_args()
    suite = benches()
    chosen = set(args.only.split(",")) if args.only else {b.name for b in suite}
    unknown = chosen - {b.name for b in suite}
    if unknown:
        parser.error("unknown benchmark(s): %s" % ", ".join(sorted(unknown)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = _previous_commands()
    rows: list[Row] = []
    failed = False
    mode = "quick" if args.quick else "full"
    for bench in suite:
        if args.summarize or bench.name not in chosen:
            command = previous.get(bench.name) or " ".join(map(shlex.quote, bench.full))
            rows += rows_of(bench, None, command)
            continue
        failure, command = run_one(bench, args.quick, RESULTS / ("%s.log" % bench.name))
        failed |= failure is not None
        rows += rows_of(bench, failure, command)
    failed |= any(r.verdict.startswith("failed") for r in rows if r.benchmark in chosen)
    head = machine()
    summary = {"mode": mode, "machine": head, "rows": [asdict(r) for r in rows]}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    table = markdown(head, rows, mode)
    (RESULTS / "summary.md").write_text(table, encoding="utf-8")
    print(table)
    if args.update_readme and not update_readme(table, ROOT / "docs" / "performance.md"):
        print("docs/performance.md has no %s … %s markers" % (BEGIN, END), file=sys.stderr)
        failed = True
    return 1 if failed else 0


def _previous_commands() -> dict[str, str]:
    """Return the commands recorded in the last summary.json (for rows not re-run)."""
    try:
        data = json.loads((RESULTS / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {r["benchmark"]: r["command"] for r in get(data, "rows", default=[]) if r["command"]}


if __name__ == "__main__":
    sys.exit(main())
