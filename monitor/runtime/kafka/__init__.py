"""The Kafka roles: ``ingest``, ``aggregate`` and both in one process.

`roles`: the wiring (`run_kafka`); `stages`: aggregate stage 1 (per-partition 1-second
summaries) with `margin` (margin changes forwarded in them); `cross`: stage 2 (one engine
over every summary) with `cross_state` (its state file); `replay_end`: the end of a replay
over Kafka (every record processed, then every second closed).
"""
