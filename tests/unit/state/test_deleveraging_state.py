"""The deleveraging detector's learnt history (per-window daily maxima) in the state file."""

import pytest

from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.state.engine import EngineSnapshot
from monitor.state.store import StateStore

NS = 1_000_000_000
MIN = 60 * NS
DAY = 86_400 * NS
T0 = 1_767_225_600 * NS  # 2026-01-01 00:00 UTC


def engine(**overrides: object) -> Engine:
    return Engine(load(None, env={}, overrides=overrides))


def learn(e: Engine, days: int = 16) -> None:
    """Give BTC a history: day d's OI falls (d % 5 + 1) % over three hours, the price 1 %."""
    det = e.deleveraging.detector
    for d in range(days):
        drop = d % 5 + 1.0
        for i in range(190):
            ts = T0 + d * DAY + i * MIN
            oi, px = (100.0, 50.0) if i < 5 else (100.0 - drop * min(1, (i - 4) / 180), 49.5)
            det.observe("BTC", "binance:BTCUSDT", ts, oi * px, px)
            det.evaluate(ts)
    e.max_ts_ns = T0 + days * DAY


def saved(e: Engine, tmp_path) -> dict:
    """Round-trip the engine's snapshot through the state file."""
    store = StateStore(tmp_path, "run")
    store.write(store.encode({"engine": EngineSnapshot(e).snapshot()}, 0))
    return store.read()["parts"]["engine"]


def test_the_daily_maxima_of_every_window_survive_a_restart(tmp_path) -> None:
    windows = {"detect.deleveraging.windows_s": [3600, 14400]}
    first = engine(**windows)
    learn(first)
    det = first.deleveraging.detector
    assert det.threshold_pct("BTC", 3600) != det.threshold_pct("BTC", 14400)

    second = engine(**windows)
    EngineSnapshot(second).restore(saved(first, tmp_path))

    again = second.deleveraging.detector
    for w in (3600, 14400):
        assert again.threshold_pct("BTC", w) == det.threshold_pct("BTC", w)
    assert again.scopes() == det.scopes()


def test_a_single_window_state_gives_its_window_back_and_the_new_one_starts_empty(
    tmp_path,
) -> None:
    first = engine()  # windows_s: (3600,)
    learn(first)
    second = engine(**{"detect.deleveraging.windows_s": [3600, 14400]})

    EngineSnapshot(second).restore(saved(first, tmp_path))

    det = second.deleveraging.detector
    assert det.threshold_pct("BTC", 3600) == first.deleveraging.detector.threshold_pct("BTC")
    assert det.threshold_pct("BTC", 14400) == pytest.approx(3.0)  # no history: the prior
    ((_, _, maxima),) = det.scopes().values()
    assert len(maxima[0]) == 15
    assert maxima[1] == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("layout"),  # an older layout: no layout mark
        lambda s: s.update(score="oi"),  # learnt with another score
        lambda s: s.update(layout=0, scopes={"BTC": {"maxima": [1.0, 2.0]}}),
    ],
)
def test_a_deleveraging_state_of_another_layout_is_ignored_not_fatal(tmp_path, damage) -> None:
    first = engine()
    learn(first)
    snap = saved(first, tmp_path)
    damage(snap["plugins"]["deleveraging"])
    second = engine()

    EngineSnapshot(second).restore(snap)

    assert second.deleveraging.detector.scopes() == {}  # starts from the prior
    assert second.max_ts_ns == first.max_ts_ns  # the rest of the engine is restored
