"""The detectors the engine evaluates each closed second.

Bursts (`bursts`, `detectors`, `intensity`, `cusum`, `baseline`, `seasonal`, `burst_tail`),
crashes (`crash`, `crash_tail`), deleveraging, liquidity stress, saturation, threshold rules
(`extras`, `rules`), data gaps (`gaps`), downside correlation and the overlays (margin hike,
contagion).
"""
