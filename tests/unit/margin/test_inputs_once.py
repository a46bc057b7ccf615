"""The margin inputs of a daemon publish each event_id once (`monitor.runtime.inputs`)."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config import Settings
from monitor.events import Event, MarginChange
from monitor.margin.model import build_change
from monitor.runtime.inputs import MarginInputs


def change(new: float) -> MarginChange:
    row = {
        "venue": "cme", "product": "SI", "asset": "XAG", "basis": "pct_notional", "old": 15,
        "new": new, "notice": "2026-02-05", "effective": "2026-02-06T22:00Z",
    }  # fmt: skip
    return build_change(row, {"XAG": "metal"}, default_source="test")


async def test_margin_inputs_publish_each_event_id_once_and_retry_what_was_dropped() -> None:
    # Arrange: a transport with room for one event per call
    published: list[str] = []

    async def publish(events: Sequence[Event]) -> int:
        published.extend(e.event_id for e in events[:1] if isinstance(e, MarginChange))
        return min(len(events), 1)

    inputs = MarginInputs(Settings(), publish)
    a, b = change(18), change(20)
    # Act
    first = await inputs.once([a, b])  # b dropped: not remembered
    second = await inputs.once([a, b])  # a is a duplicate; b goes now
    third = await inputs.once([b])
    # Assert
    assert (first, second, third) == (1, 2, 1)
    assert published == [a.event_id, b.event_id]
