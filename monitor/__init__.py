"""liqmon: a Prometheus-native monitor for forced-liquidation cascades."""

__version__ = "0.1.0"
