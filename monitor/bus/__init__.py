"""Event buses: the in-process `MemoryBus` (default) and, later, Kafka."""

from monitor.bus.base import Bus, Subscription
from monitor.bus.memory import MemoryBus

__all__ = ["Bus", "MemoryBus", "Subscription"]
