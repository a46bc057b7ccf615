"""Windowed aggregation and detection: buckets, windows, detectors, the engine."""
