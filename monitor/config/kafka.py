"""Bus config: the in-process bus and the Kafka bus (brokers, topics, producer, security)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from monitor.config._base import NonNeg, Pos, _Section
from monitor.secret import Secret


class KafkaPartitions(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Partitions per topic, used only when liqmon creates a missing topic.

    Market topics are keyed by symbol, so their partition count caps how many ``aggregate``
    processes of one consumer group share the work.
    """

    liquidations: Pos = 6
    ticks: Pos = 6
    margin: Pos = 1
    windows: Pos = 1  # the cross-asset stage reads this low-volume topic whole
    alerts: Pos = 1


class KafkaSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Kafka bus (``bus.kind: kafka``): brokers, topics, producer, consumer, security."""

    bootstrap_servers: str = "127.0.0.1:9092"  # comma-separated HOST:PORT list
    client_id: str = "liqmon"
    topic_prefix: str = "liqmon"  # replaces "liqmon" in "liqmon.ticks.v1" etc.
    partitions: KafkaPartitions = msgspec.field(default_factory=KafkaPartitions)
    replication_factor: Pos = 1  # for topics liqmon creates; 3 on a real cluster
    retention_ms: Pos = 7 * 86_400_000  # must exceed the longest window (rebuild on restart)
    create_topics: bool = True  # create missing topics at start (needs CreateTopics ACL)
    compression: Literal["auto", "zstd", "lz4", "gzip", "none"] = "auto"  # auto: zstd>lz4>none
    linger_ms: Annotated[int, msgspec.Meta(ge=5)] = 5  # producer batching delay
    max_batch_bytes: Pos = 262_144  # per partition batch
    max_in_flight: Pos = 50_000  # sends not yet acknowledged; beyond it publish waits/drops
    idempotent: bool = True  # exactly-once per partition across retries; needs IDEMPOTENT_WRITE
    auto_offset_reset: Literal["earliest", "latest"] = "latest"  # a group with no offsets
    request_timeout_ms: Pos = 30_000  # every broker request; also the delivery bound
    fetch_max_wait_ms: NonNeg = 10  # how long the broker may hold a fetch with nothing to read
    session_timeout_ms: Annotated[int, msgspec.Meta(ge=500)] = 10_000  # also rebalance bound
    close_timeout_ms: Pos = 10_000  # flush bound at shutdown
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None  # PEM paths; none: the system trust store
    ssl_certfile: str | None = None  # client certificate (mutual TLS)
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        """Refuse SASL without credentials and a client key without its certificate."""
        if self.security_protocol.startswith("SASL") and (
            self.sasl_username is None or self.sasl_password is None
        ):
            msg = "%s needs sasl_username and sasl_password" % self.security_protocol
            raise ValueError(msg)
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            msg = "ssl_certfile and ssl_keyfile go together"
            raise ValueError(msg)


class BusSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The event bus between sources and the aggregator."""

    kind: Literal["memory", "kafka"] = "memory"
    queue_max_events: Pos = 200_000  # per subscriber, memory bus
    enqueue_timeout_ms: NonNeg = 50  # a live publisher waits this long, then drops
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)
