"""What the Kafka producer and consumer share: client options, topic names, codecs.

Security settings (TLS, SASL PLAIN/SCRAM) become aiokafka keyword arguments here, at the
point a client is built; the SASL password is revealed only in that call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.codec import has_lz4, has_zstd
from aiokafka.helpers import create_ssl_context

from monitor.config import KafkaSettings
from monitor.errors import ConfigError
from monitor.events import (
    TOPIC_ALERTS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    TOPIC_WINDOWS,
)

DESIGN_PREFIX: Final = "liqmon"
"""The prefix of every contract topic name; ``topic_prefix`` replaces it."""

ALL_TOPICS: Final[tuple[str, ...]] = (
    TOPIC_LIQUIDATIONS,
    TOPIC_TICKS,
    TOPIC_MARGIN,
    TOPIC_WINDOWS,
    TOPIC_ALERTS,
)


def physical_topic(settings: KafkaSettings, topic: str) -> str:
    """Return the broker's name for a contract topic, e.g. ``liqmon.ticks.v1`` → ``p.ticks.v1``.

    Args:
        settings: the Kafka section; its ``topic_prefix`` replaces the leading ``liqmon``.
        topic: a contract topic name (``liqmon.*.v1``).
    """
    if settings.topic_prefix == DESIGN_PREFIX or not topic.startswith(DESIGN_PREFIX + "."):
        return topic
    return settings.topic_prefix + topic[len(DESIGN_PREFIX) :]


def partitions_of(settings: KafkaSettings, topic: str) -> int:
    """Return the configured partition count of a contract topic (used when creating it)."""
    short = topic.split(".")[1]
    count: int = getattr(settings.partitions, short, 1)
    return count


def compression_of(settings: KafkaSettings) -> str | None:
    """Return aiokafka's ``compression_type`` for the configured codec.

    ``auto`` picks zstd, else lz4, else none. aiokafka ≥ 0.12 compresses zstd, lz4 and snappy
    through ``cramjam`` (``pip install 'aiokafka[zstd,lz4]'``), not ``zstandard``/``lz4``;
    gzip is always there (stdlib) but costs the most CPU, so ``auto`` never picks it.

    Raises:
        ConfigError: an explicit codec whose library is missing.
    """
    wanted = settings.compression
    if wanted == "auto":
        if has_zstd():
            return "zstd"
        return "lz4" if has_lz4() else None
    if wanted == "none":
        return None
    if (wanted == "zstd" and not has_zstd()) or (wanted == "lz4" and not has_lz4()):
        raise ConfigError(
            "config: bus.kafka.compression: %r needs cramjam (pip install 'aiokafka[%s]')"
            % (wanted, wanted)
        )
    return wanted


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Return the aiokafka keyword arguments every client (producer, consumer, admin) takes.

    Called once per client construction; the returned dict holds the revealed SASL password,
    so it must not be stored or logged.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.bootstrap_servers.split(",")],
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
        )
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        password = settings.sasl_password
        options["sasl_plain_password"] = None if password is None else password.reveal()
    return options


async def seek_to_start(consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]) -> None:
    """Position `consumer` on the first offset the broker keeps of each of `partitions`.

    Not aiokafka's ``seek_to_beginning``: that only asks for a reset, and a reset to the
    consumer's default strategy already in flight (a partition just assigned with no
    committed offset, ``auto_offset_reset: latest``) answers it with the end offset, so the
    caller would read nothing (seen: a cross stage taking over read none of the alerts on
    the topic and published them again). An explicit seek makes that answer void.
    """
    tps = list(partitions)
    for tp, offset in (await consumer.beginning_offsets(tps)).items():
        consumer.seek(tp, offset)


async def rewind_to_time(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], ts_ms: int
) -> list[TopicPartition]:
    """Move `partitions` back to their first record at `ts_ms` (epoch ms) or later.

    Positions only ever move backwards: a partition with no record that recent, or already
    positioned before it, keeps its position. (A broker answer with timestamp -1 means "no
    such record", whatever offset comes with it.) Returns the partitions moved; the caller
    bounds the time.
    """
    moved: list[TopicPartition] = []
    found = await consumer.offsets_for_times(dict.fromkeys(partitions, max(ts_ms, 0)))
    for tp, hit in found.items():
        if hit is None or hit.timestamp < 0:
            continue
        if hit.offset < await consumer.position(tp):
            consumer.seek(tp, hit.offset)
            moved.append(tp)
    return moved
