"""Fixtures for tests that need a real Kafka-protocol broker (marker ``kafka``).

``kafka_bootstrap`` is ``LIQMON_TEST_KAFKA_BOOTSTRAP`` when set, else a Tansu broker started
once per session on a free loopback port. A broker that cannot start fails the test, in CI
and locally alike: a kafka test is never skipped. ``kafka_settings`` gives each test its own
topic prefix, so tests never see each other's records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import KafkaPartitions, KafkaSettings
from tests.support.tansu import BrokerStartError, TansuBroker


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return ``HOST:PORT`` of a Kafka-protocol broker for the whole session."""
    external = os.environ.get("LIQMON_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = start_tansu(log_path)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def start_tansu(log_path: Path) -> TansuBroker:
    """Start a Tansu broker, or fail the current test (never skip) when it cannot start."""
    broker = TansuBroker(log_path)
    try:
        broker.start()
    except BrokerStartError as exc:
        pytest.fail("kafka broker could not start: %s" % exc)
    return broker


def settings_for(bootstrap: str, **overrides: object) -> KafkaSettings:
    """Return test Kafka settings with a fresh random topic prefix.

    Tansu refuses idempotent producers (InitProducerId) with memory storage, so tests run
    with ``idempotent=False``; consumers of a fresh group start at the earliest offset.
    """
    fields: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "client_id": "liqmon-test",
        "topic_prefix": "t%s" % uuid.uuid4().hex[:10],
        "partitions": KafkaPartitions(liquidations=2, ticks=2, margin=1, windows=1, alerts=1),
        "idempotent": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": 5_000,
        "close_timeout_ms": 5_000,
        "session_timeout_ms": 1_500,  # Tansu holds a first JoinGroup this long
    }
    fields.update(overrides)
    return KafkaSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings for one test: the session broker, a topic prefix of its own."""
    return settings_for(kafka_bootstrap)
