"""Recorded files as an event source.

`source` (``liqmon replay`` of events, klines and
Tardis CSV) and `raw` (raw venue tapes through the venue adapters).
"""
