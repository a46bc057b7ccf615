"""Deleveraging inside the engine: the same alerts whether ticks arrive directly (``run``)
or as partition summaries through the cross-asset merger (the Kafka ``aggregate`` role)."""

import msgspec

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.aggregate.windows.partial import PartitionBuckets
from monitor.config import Settings, load
from monitor.events import Alert, Tick
from tests.support.synth import oi_unwind_ticks

NS = 1_000_000_000
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, epoch s


def ticks() -> list[Tick]:
    """BTC on two venues, one tick per 10 s; from minute 60 OI falls 8% and price 3%."""
    return oi_unwind_ticks(T0)


def _key(a: Alert) -> tuple[str, str, str, str, int]:
    return (a.kind, a.scope, a.state, a.severity, a.ts_ns)


def test_an_oi_unwind_alerts_alike_embedded_and_through_summaries() -> None:
    settings = Settings()
    events = ticks()
    direct = Engine(settings)
    embedded = [a for i in range(0, len(events), 500) for a in direct.process(events[i : i + 500])]
    embedded += direct.flush()

    merged_engine = Engine(settings)
    merger = SummaryMerger(merged_engine)
    part = PartitionBuckets("liqmon.ticks.v1:0", grace_ns=250_000_000, lateness_ns=2 * NS)
    kafka: list[Alert] = []
    for i in range(0, len(events), 500):
        chunk = events[i : i + 500]
        part.add(chunk, list(range(i, i + len(chunk))))
        summary = part.close(part.first_open())
        if summary is not None:
            merger.take([msgspec.json.decode(msgspec.json.encode(summary), type=type(summary))])
        kafka += merger.advance()
    last = part.flush()
    if last is not None:
        merger.take([last])
    kafka += merger.flush()

    mine = [a for a in embedded if a.kind == "deleveraging"]
    assert {(a.scope, a.state) for a in mine} >= {("BTC", "firing"), ("market", "firing")}
    fired = next(a for a in mine if a.scope == "BTC" and a.state == "firing")
    ev = fired.evidence
    assert ev["side"] == "long"
    assert float(ev["oi_drop_pct"]) >= 3.0
    # the unwind in USD and %, the price move and range, the prints seen and their share
    assert float(ev["oi_drop_usd"]) > 0
    assert float(ev["price_move_pct"]) < 0
    assert float(ev["price_range_pct"]) >= -float(ev["price_move_pct"])
    assert float(ev["score_pct"]) >= float(ev["threshold_pct"])
    assert ev["liquidations_usd"] == 0.0  # these ticks carry no liquidations
    assert ev["liquidations_to_oi_drop"] == 0.0
    assert [_key(a) for a in kafka if a.kind == "deleveraging"] == [_key(a) for a in mine]


def test_without_open_interest_nothing_is_said() -> None:
    events = [msgspec.structs.replace(t, open_interest_usd=None) for t in ticks()]
    engine = Engine(Settings())
    alerts = engine.process(events) + engine.flush()
    assert [a for a in alerts if a.kind == "deleveraging"] == []


def test_the_alerts_do_not_depend_on_how_many_seconds_close_at_once() -> None:
    # a replay's batch size, or Kafka summaries that close hours at once, must not let the
    # rule see a later second's open interest while it evaluates an earlier one
    settings = Settings()
    events = ticks()
    small = Engine(settings)
    by_50 = [a for i in range(0, len(events), 50) for a in small.process(events[i : i + 50])]
    by_50 += small.flush()
    whole = Engine(settings)
    at_once = whole.process(events) + whole.flush()
    unwinds = [_key(a) for a in by_50 if a.kind == "deleveraging"]
    assert unwinds
    assert [_key(a) for a in at_once if a.kind == "deleveraging"] == unwinds


def test_a_window_longer_than_the_aggregate_windows_reads_the_longest_within_it() -> None:
    settings = load(None, env={}, overrides={"detect.deleveraging.windows_s": [7200]})
    engine = Engine(settings)
    alerts = engine.process(ticks()) + engine.flush()
    fired = next(a for a in alerts if a.kind == "deleveraging" and a.state == "firing")
    assert fired.evidence["window_s"] == 7200
    assert fired.evidence["liquidations_window_s"] == max(settings.aggregate.windows_s)
    assert "in 120 min" in fired.summary
