"""Saturation and liquidity stress through window summaries (the Kafka ``aggregate`` path):
the same alerts as the engine fed the events directly, from what version 2 summaries carry."""

import msgspec

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.aggregate.windows.partial import PartitionBuckets, split_summary
from monitor.aggregate.windows.spreads import log_spread, spread_bps
from monitor.events import SUMMARY_VERSION, Alert, Liquidation, Tick, WindowSummary
from tests.unit.aggregate.test_extras_engine import engine, liq, run, tick

NS = 1_000_000_000


def _key(a: Alert) -> tuple[object, ...]:
    return (a.kind, a.scope, a.state, a.severity, a.ts_ns, a.evidence.get("sampled_share"))


def through_summaries(
    eng: Engine, events: list[Liquidation | Tick], chunk: int = 37
) -> list[Alert]:
    """Run `events` as stage 1 (one partition per type) → JSON summaries → merger → `eng`."""
    events = sorted(events, key=lambda e: e.ts_event_ns)
    parts = {
        Liquidation: PartitionBuckets("liqmon.liquidations.v1:0", 250_000_000, 2 * NS),
        Tick: PartitionBuckets("liqmon.ticks.v1:0", 250_000_000, 2 * NS),
    }
    merger = SummaryMerger(eng, [p.source for p in parts.values()])
    out: list[Alert] = []

    def send(summaries: list[WindowSummary | None]) -> None:
        wire = [
            msgspec.json.decode(msgspec.json.encode(part), type=WindowSummary)
            for s in summaries
            if s is not None
            for part in split_summary(s, 50)  # small parts: the columns must split alike
        ]
        merger.take(wire)

    for i in range(0, len(events), chunk):
        for kind, part in parts.items():
            mine = [e for e in events[i : i + chunk] if type(e) is kind]
            part.add(mine, list(range(part.next_offset, part.next_offset + len(mine))))
        send([p.close(p.first_open()) for p in parts.values()])
        while (first_open := merger.watermark()) is not None and (
            eng.closed_sec is None or eng.closed_sec < first_open
        ):  # as the cross stage closes: a few seconds at a time
            out += merger.advance(7)
    send([p.flush() for p in parts.values()])
    return out + merger.advance() + merger.flush()


def test_a_saturated_sampled_stream_alerts_alike_through_summaries() -> None:
    events: list[Liquidation | Tick] = [liq(s, 25_000.0) for s in range(90)]
    events += [liq(s, 9_000.0, exchange="bybit", completeness="exact") for s in range(0, 90, 3)]

    embedded = run(engine(), events)
    merged = through_summaries(engine(), events)

    saturated = [a for a in embedded if "saturated" in a.evidence]
    assert [a.state for a in saturated][:2] == ["pending", "firing"]
    assert [_key(a) for a in merged] == [_key(a) for a in embedded]


def test_liquidity_stress_alerts_alike_through_summaries() -> None:
    warm = {"detect.liquidity.warmup_min": 10}
    calm = [tick(s, 1.0 + (s % 7) / 10, v) for s in range(0, 1200, 5) for v in ("bybit", "okx")]
    wide = [tick(s, 12.0 + s % 3, v) for s in range(1200, 1500, 2) for v in ("bybit", "okx")]
    twice = [tick(s, 13.0, "okx") for s in range(1201, 1500, 2)]  # two quotes in a second
    events: list[Liquidation | Tick] = [*calm, *wide, *twice]

    embedded = run(engine(**warm), events)
    merged = through_summaries(engine(**warm), events)

    assert ("critical", "firing") in [
        (a.severity, a.state) for a in embedded if a.kind == "liquidity_stress"
    ]
    assert [_key(a) for a in merged] == [_key(a) for a in embedded]


def test_summaries_carry_version_2_columns_aligned_with_their_rows() -> None:
    part = PartitionBuckets("liqmon.ticks.v1:0", 0, 2 * NS)
    no_quote = msgspec.structs.replace(tick(0, 1.0), bid=None, ask=None)
    part.add([tick(0, 2.0), tick(0, 4.0), no_quote, liq(1, 5.0)], [0, 1, 2, 3])

    summary = part.flush()

    assert summary is not None
    assert summary.version == SUMMARY_VERSION == 2
    assert summary.liq_sampled == [True]  # binance_usdm's sampled stream
    quoted = [spread_bps(t.bid, t.ask) or 0.0 for t in (tick(0, 2.0), tick(0, 4.0))]
    assert summary.spread_n == [2]
    assert summary.spread_last == [quoted[1]]
    assert summary.spread_log == [log_spread(quoted[0]) + log_spread(quoted[1])]
    assert len(summary.px_sec) == 1
