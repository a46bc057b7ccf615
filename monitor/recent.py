"""A bounded set of recently seen ids: replayed liquidations, repeated margin changes."""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """Remembers the last `capacity` ids; `seen(id)` answers and records in O(1)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        """Return True if `event_id` was seen (without recording it)."""
        return event_id in self._ids

    def seen(self, event_id: str) -> bool:
        """Return True if `event_id` was seen before; otherwise remember it."""
        if event_id in self._ids:
            return True
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False
