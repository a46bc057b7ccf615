"""`bench/run`'s summary: defensive extraction, verdicts, README block."""

from __future__ import annotations

import pytest

from bench import suite


@pytest.mark.parametrize("bench", suite.benches(), ids=lambda b: b.name)
def test_every_extractor_survives_an_empty_or_odd_result(bench):
    for data in ({}, {"steps": "x", "default": 3, "liqmon": {"results": [1]}}):
        rows = bench.rows(data)

        assert rows
        assert all(isinstance(r.measured, str) for r in rows)


def test_verdicts_say_met_or_by_how_much():
    assert suite.verdict_max(0.04, 0.05, "ms", 1000) == "met"
    assert suite.verdict_max(0.075, 0.05, "ms", 1000) == "missed by 25 ms (1.5×)"
    assert suite.verdict_min(600_000, 500_000, "events/s") == "met"
    assert suite.verdict_min(250_000, 500_000, "events/s").startswith("missed by 250,000")
    assert suite.verdict_max(None, 1.0, "s") == "no figure"


def test_missing_result_file_gives_a_failed_row_without_machine_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "RESULTS", tmp_path)
    bench = next(b for b in suite.benches() if b.name == "scrape")

    rows = suite.rows_of(bench, None, "cmd")

    assert [r.verdict for r in rows] == ["failed: no bench/results/scrape.json"]


def test_replay_row_reads_its_json_and_the_recorded_command(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "RESULTS", tmp_path)
    (tmp_path / "replay.json").write_text(
        '{"command": "python bench/replay.py --events 10", "events": 10,'
        ' "events_per_s": 600000.0, "process": {"peak_rss_mib": 99}}'
    )
    bench = next(b for b in suite.benches() if b.name == "replay")

    (row,) = suite.rows_of(bench, None, "other")

    assert row.verdict == "met"
    assert row.measured == "600,000 events/s, peak RSS 99 MiB"
    assert row.command == "python bench/replay.py --events 10"


def test_readme_block_between_markers_is_replaced(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a\n%s\nold\n%s\nb\n" % (suite.BEGIN, suite.END))

    assert suite.update_readme("| new |\n", readme)

    assert readme.read_text() == "a\n%s\n| new |\n%s\nb\n" % (suite.BEGIN, suite.END)


def test_latency_rows_name_the_kafka_path_and_judge_its_pending_p99():
    data = {
        "bus": "kafka",
        "rate_per_s": 10_000.0,
        "grace_ms": "default",
        "for_s": 5,
        "pending_metrics_s": {"n": 12, "p50": 0.9, "p99": 1.5},
    }
    memory = {**data, "bus": "memory"}

    kafka_rows = suite.row_latency(data)
    memory_rows = suite.row_latency(memory)

    assert "Apache Kafka" in kafka_rows[0].what
    assert "Kafka" not in memory_rows[0].what
    assert kafka_rows[0].verdict == memory_rows[0].verdict == "missed by 0.5 s (1.5×)"
    assert any(b.name == "latency_kafka" and "kafka" in b.full for b in suite.benches())
