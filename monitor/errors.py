"""Error types. Each error carries a decision: may the caller retry (aiokafka style)?"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every liqmon error.

    Attributes:
        retriable: True when the same call may succeed later (network, broker), False
            when the input or configuration itself is wrong.
    """

    retriable: bool = False


class ConfigError(MonitorError):
    """A configuration key or value is invalid. The message names the key."""


class InputError(MonitorError):
    """A record in an input file is malformed. The message names the file and line."""


class SourceError(MonitorError):
    """A venue source failed."""

    retriable = True


class ParseError(SourceError):
    """A frame could not be parsed. Never retriable: the same bytes fail again."""

    retriable = False


class BusError(MonitorError):
    """The event bus failed."""

    retriable = True


class BusBackpressure(BusError):
    """The bus is full; retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AlertDeliveryError(MonitorError):
    """An alert sink could not deliver."""

    retriable = True
