"""The Kafka cross stage ends a batch early when a rebalance waits for it (no broker here)."""

from __future__ import annotations

from monitor.aggregate.windows.merge import SummaryMerger
from monitor.bus.kafka.bus import KafkaBus
from monitor.config import load
from monitor.events import Alert, WindowSummary
from monitor.runtime.core import parts
from monitor.runtime.kafka.cross import CrossStage

START, STOP = 1_767_225_600, 1_767_229_200  # an hour (epoch s)


def calm_prices() -> WindowSummary:
    """Return an hour of one instrument's price buckets, flat: nothing to alert on."""
    sec = list(range(START, STOP))
    n = len(sec)
    return WindowSummary(
        source="t.ticks.v1:0", closed_before=STOP, max_ts_ns=STOP * 10**9, px_sec=sec,
        px_inst=["binance_usdm:X-USDT-PERP"] * n, px_asset=["X"] * n, px_class=["crypto"] * n,
        high=[1.0] * n, low=[1.0] * n, last=[1.0] * n, oi=[None] * n,
    )  # fmt: skip


def stage_with_hours_to_close() -> tuple[CrossStage, int]:
    """Return a cross stage holding an hour of summaries, and the first second to leave open.

    Nothing in them raises an alert (an alert would be published: there is no broker).
    """
    settings = load(None, env={})
    _, metrics, _ = parts(settings, None)
    alerts: list[Alert] = []
    stage = CrossStage(KafkaBus(settings.bus.kafka), settings, metrics, "g", alerts.extend)
    stage.merger = SummaryMerger(stage.engine)  # one source: the summary's
    stage.merger.take([calm_prices()])
    first_open = stage.merger.watermark()
    assert first_open is not None
    return stage, first_open


async def test_a_batch_stops_closing_when_a_rebalance_waits_for_it() -> None:
    # Arrange: an hour to close (60 steps), and the group rebalancing
    stage, first_open = stage_with_hours_to_close()
    stage.sub.revoking = True
    # Act
    await stage._close_to(first_open, in_batch=True)
    # Assert: the batch ends at once; the next owner closes what is left
    assert stage.engine.closed_sec is None


async def test_without_a_rebalance_and_at_a_flush_every_second_closes() -> None:
    # Arrange
    batch, first_open = stage_with_hours_to_close()
    flush, _ = stage_with_hours_to_close()
    flush.sub.revoking = True  # a flush (end of a replay) is no batch of the stage
    # Act
    await batch._close_to(first_open, in_batch=True)
    await flush._close_to(first_open)
    # Assert
    assert batch.engine.closed_sec == first_open
    assert flush.engine.closed_sec == first_open
