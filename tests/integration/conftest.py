"""Fixtures for tests that need a real Apache Kafka broker (marker ``kafka``).

``kafka_bootstrap`` is ``LIQMON_TEST_KAFKA_BOOTSTRAP`` when set, else one Apache Kafka broker
(`tests.support.kafka_broker`) started once per session on free loopback ports. A broker
that cannot start (no java, no jars: run ``scripts/kafka-jars``) fails the test, in CI and
locally alike: a kafka test is never skipped. ``kafka_settings`` gives each test its own
topic prefix, so tests never see each other's records. Tests that stop or restart a broker
start one of their own with `start_broker`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import KafkaPartitions, KafkaSettings
from tests.support.kafka_broker import BrokerStartError, KafkaBroker


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return ``HOST:PORT`` of a Kafka broker for the whole session."""
    external = os.environ.get("LIQMON_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def start_broker(workdir: Path) -> KafkaBroker:
    """Start an Apache Kafka broker, or fail the current test (never skip) when it cannot."""
    broker = KafkaBroker(workdir)
    try:
        broker.start()
    except BrokerStartError as exc:
        pytest.fail("kafka broker could not start: %s" % exc)
    return broker


def settings_for(bootstrap: str, **overrides: object) -> KafkaSettings:
    """Return test Kafka settings with a fresh random topic prefix.

    The producer and the consumer groups keep the production defaults (idempotent,
    ``acks=all``, 10 s sessions); consumers of a fresh group start at the earliest offset.
    """
    fields: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "client_id": "liqmon-test",
        "topic_prefix": "t%s" % uuid.uuid4().hex[:10],
        "partitions": KafkaPartitions(liquidations=2, ticks=2, margin=1, windows=1, alerts=1),
        "auto_offset_reset": "earliest",
        "request_timeout_ms": 5_000,
        "close_timeout_ms": 5_000,
    }
    fields.update(overrides)
    return KafkaSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings for one test: the session broker, a topic prefix of its own."""
    return settings_for(kafka_bootstrap)
