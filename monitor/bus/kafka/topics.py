"""Topic administration: create the contract topics at start when they are missing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.bus.kafka.common import ALL_TOPICS, client_options, partitions_of, physical_topic
from monitor.config import KafkaSettings
from monitor.errors import BusError

_TOPIC_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(s: KafkaSettings) -> None:
    """Create the contract topics that are missing, with their partitions and retention.

    Raises:
        BusError: the broker refused, or did not answer within ``request_timeout_ms``.
    """
    admin = AIOKafkaAdminClient(**client_options(s))
    try:
        async with asyncio.timeout(s.request_timeout_ms / 1000):
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(
                    physical_topic(s, t),
                    partitions_of(s, t),
                    s.replication_factor,
                    topic_configs={"retention.ms": str(s.retention_ms)},
                )
                for t in ALL_TOPICS
                if physical_topic(s, t) not in existing
            ]
            if wanted:
                response = await admin.create_topics(wanted)
                _check_created(response.topic_errors)
    except TopicAlreadyExistsError:
        pass  # created by a peer between list and create
    except (KafkaError, TimeoutError) as exc:
        msg = "kafka: cannot create topics on %s: %r" % (s.bootstrap_servers, exc)
        raise BusError(msg) from None
    finally:
        await admin.close()


def _check_created(topic_errors: Sequence[Sequence[object]]) -> None:
    """Raise BusError for a CreateTopics error other than "already exists"."""
    for topic, code, *rest in topic_errors:
        if code not in (0, _TOPIC_EXISTS):
            reason = rest[0] if rest else ""
            msg = "kafka: cannot create topic %s: error %s %s" % (topic, code, reason)
            raise BusError(msg)
