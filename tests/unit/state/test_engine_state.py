import itertools

import numpy as np
import pytest

from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.events import Tick
from monitor.io.jsonl import read_events
from monitor.state.engine import EngineSnapshot
from monitor.state.snapshot import RestoreError
from monitor.state.store import StateStore

NS = 1_000_000_000
BATCH = 500


def settings(**overrides):
    return load(None, env={}, overrides=overrides)


def with_ticks(events):
    """Interleave one BTC tick per second of the liquidations (a falling price)."""
    out, last_sec = [], None
    for e in events:
        sec = e.ts_event_ns // NS
        if sec != last_sec:
            price = 100_000.0 - 2.0 * (sec % 7200)
            out.append(
                Tick(
                    exchange="bybit",
                    symbol="BTC-USDT-PERP",
                    venue_symbol="BTCUSDT",
                    asset="BTC",
                    asset_class="crypto",
                    price=price,
                    ts_event_ns=sec * NS,
                    ts_recv_ns=sec * NS,
                )
            )
            last_sec = sec
        out.append(e)
    return out


def feed(engine, events):
    alerts = []
    it = iter(events)
    while batch := list(itertools.islice(it, BATCH)):
        alerts += engine.process(batch)
    return alerts


@pytest.fixture(scope="module")
def events(burst_file):
    return with_ticks(list(read_events(burst_file)))


def test_a_restarted_engine_goes_on_as_if_it_had_never_stopped(events, tmp_path):
    cfg = settings()
    cut = next(i for i, e in enumerate(events) if e.ts_event_ns // NS % 7200 >= 5700)
    cut -= cut % BATCH
    whole = Engine(cfg)
    expected = feed(whole, events) + whole.flush()

    first = Engine(cfg)
    before = feed(first, events[:cut])
    store = StateStore(tmp_path, "run")
    store.write(store.encode({"engine": EngineSnapshot(first).snapshot()}, 0))
    second = Engine(cfg)
    EngineSnapshot(second).restore(store.read()["parts"]["engine"])
    after = feed(second, events[cut:]) + second.flush()

    firing_at_cut = [a for a in first.active_alerts() if a.state == "firing"]
    assert "BTC" in [a.scope for a in firing_at_cut]  # the cut is inside the cascade
    assert before + after == expected  # same ids, waves and states; no resolve at the cut
    assert [a.alert_id for a in second.active_alerts()] == [
        a.alert_id for a in whole.active_alerts()
    ]
    assert EngineSnapshot(second).snapshot() == EngineSnapshot(whole).snapshot()


def test_a_snapshot_of_other_windows_is_refused_and_leaves_a_clean_engine(events):
    first = Engine(settings())
    feed(first, events[:5000])
    other = Engine(settings(**{"aggregate.windows_s": [10, 60, 300, 1800, 3600]}))

    with pytest.raises(RestoreError, match="other window"):
        EngineSnapshot(other).restore(EngineSnapshot(first).snapshot())
    assert other.max_ts_ns is None


def test_a_broken_snapshot_leaves_a_clean_engine(events):
    first = Engine(settings())
    feed(first, events[:5000])
    snap = EngineSnapshot(first).snapshot()
    del snap["bursts"]["seasonal"]
    engine = Engine(settings())

    with pytest.raises(RestoreError, match="does not fit"):
        EngineSnapshot(engine).restore(snap)
    assert engine.max_ts_ns is None
    assert len(engine.scopes) == 0


class TailEstimate:
    def __init__(self):
        self.samples = []

    def snapshot(self):
        return {"samples": list(self.samples)}

    def restore(self, state):
        self.samples = list(state["samples"])


def test_a_snapshottable_component_of_the_engine_is_kept_without_registration():
    first = Engine(settings())
    first.bursts.other_estimate = TailEstimate()
    first.bursts.other_estimate.samples = [1.0, 2.5]
    second = Engine(settings())
    second.bursts.other_estimate = TailEstimate()

    EngineSnapshot(second).restore(EngineSnapshot(first).snapshot())

    assert second.bursts.other_estimate.samples == [1.0, 2.5]


def test_the_burst_tail_counts_are_in_the_engine_snapshot():
    first = Engine(settings())
    first.bursts.tail.update(np.array([1.0, 3.5, 6.0]), np.ones(3, dtype=bool))
    second = Engine(settings())

    EngineSnapshot(second).restore(EngineSnapshot(first).snapshot())

    assert second.bursts.tail.over[:3].tolist() == [0.0, 1.0, 1.0]
    assert second.bursts.tail.excess[:3].tolist() == pytest.approx([0.0, 1.5, 4.0])
