"""Event buses: the `Bus` protocol the runtime depends on; `MemoryBus` (default), Kafka."""

from monitor.bus.base import Bus, Subscription
from monitor.bus.memory import MemoryBus

__all__ = ["Bus", "MemoryBus", "Subscription"]
