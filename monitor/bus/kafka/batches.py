"""Per-partition producer batches: how `KafkaBus.publish` hands events to aiokafka."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError
from aiokafka.partitioner import DefaultPartitioner

from monitor.errors import BusError
from monitor.events import Event, key_of

_T = TypeVar("_T")
_KEY_CACHE_MAX = 100_000  # keys per topic whose partition is cached
_ENCODER = msgspec.json.Encoder()  # as `monitor.codec.encode`, without the call around it
_PARTITIONER = DefaultPartitioner()  # send()'s default: murmur2 of the key, as the Java client


class PartitionBatcher:
    """Builds closed batches per (topic, partition), caching each key's partition.

    Args:
        topics: event type → physical topic.
        on_missing: called with a topic whose partitions the broker did not tell within
            the producer's request timeout (deleted); while `build` or `send` waits, it raises
            `BusError` to stop the wait (the bus closed).
    """

    def __init__(self, topics: Mapping[type, str], on_missing: Callable[[str], None]) -> None:
        self._topics = topics
        self._on_missing = on_missing
        self._partitions: dict[str, tuple[list[int], dict[bytes, int]]] = {}

    async def build(
        self, producer: AIOKafkaProducer, events: Sequence[Event], *, wait: bool = False
    ) -> list[tuple[tuple[str, int], Any]]:
        """Encode `events` into closed batches, one per partition (more when one fills).

        A batch costs ~1 µs per record where ``send()`` costs ~10 µs, and one done-callback
        per batch instead of one per event. The partition is the one ``send()`` would pick
        (murmur2 of the key), cached per key. Returned in send order: the first
        batch of every partition, then the overflow: a partition's second batch waits in
        ``send_batch`` until its first is drained, which must not hold up the others.

        With `wait`, a topic the broker does not list (deleted) is waited for until it is
        back, nothing of `events` handed to the producer meanwhile; without it, aiokafka's
        error is raised after its request timeout.
        """
        chains: dict[tuple[str, int], list[Any]] = {}
        # (event type, key) → the partition's batch chain and the key's bytes: one dict
        # lookup per event once a key was seen in this call (~1 µs less per event).
        routes: dict[tuple[type, str], tuple[list[Any], bytes]] = {}
        encode = _ENCODER.encode
        for event in events:
            route_key = (type(event), key_of(event))
            route = routes.get(route_key)
            if route is None:
                route = routes[route_key] = await self._route(producer, event, chains, wait)
            chain, key = route
            value = encode(event)
            if chain[-1].append(timestamp=None, key=key, value=value) is None:
                chain.append(producer.create_batch())  # full: the partition's next batch
                if chain[-1].append(timestamp=None, key=key, value=value) is None:
                    msg = "kafka: a %d-byte event exceeds max_batch_bytes" % len(value)
                    raise BusError(msg)
        out: list[tuple[tuple[str, int], Any]] = []
        for i in range(max(map(len, chains.values()), default=0)):
            for tp, chain in chains.items():
                if i < len(chain):
                    chain[i].close()  # nothing else goes in; drained without lingering
                    out.append((tp, chain[i]))
        return out

    async def _route(
        self,
        producer: AIOKafkaProducer,
        event: Event,
        chains: dict[tuple[str, int], list[Any]],
        wait: bool,
    ) -> tuple[list[Any], bytes]:
        """Return the batch chain of `event`'s partition (made when new) and its key bytes."""
        topic = self._topics[type(event)]
        key = key_of(event).encode()
        all_partitions, by_key = await self._partitions_of(producer, topic, wait)
        part = by_key.get(key)
        if part is None:
            part = by_key[key] = _PARTITIONER(key, all_partitions, all_partitions)
        chain = chains.get((topic, part))
        if chain is None:
            chain = chains[(topic, part)] = [producer.create_batch()]
        return chain, key

    async def send(
        self, producer: AIOKafkaProducer, tp: tuple[str, int], batch: object, *, wait: bool
    ) -> asyncio.Future[Any]:
        """Hand one closed batch to the producer; return its delivery future.

        aiokafka first looks the topic up (up to its request timeout): with `wait`, a topic
        deleted meanwhile is waited for, the batch kept. A producer buffer that stays full
        raises ``KafkaTimeoutError``.
        """
        topic, part = tp
        send = partial(producer.send_batch, batch, partition=part)
        future: asyncio.Future[Any] = await self._until_listed(send, topic, wait)
        return future

    async def _until_listed(
        self, call: Callable[[str], Awaitable[_T]], topic: str, wait: bool
    ) -> _T:
        """Return ``await call(topic)``, retried while the broker does not list `topic`.

        aiokafka gives up on a topic it cannot find after its request timeout; without
        `wait` that error is raised, with it the call is made again.
        """
        while True:
            try:
                return await call(topic)
            except UnknownTopicOrPartitionError:
                self._on_missing(topic)
                if not wait:
                    raise

    async def _partitions_of(
        self, producer: AIOKafkaProducer, topic: str, wait: bool
    ) -> tuple[list[int], dict[bytes, int]]:
        """Return the topic's partitions and its key → partition cache (reset on a change)."""
        all_partitions = sorted(await self._until_listed(producer.partitions_for, topic, wait))
        known = self._partitions.get(topic)
        if known is None or known[0] != all_partitions or len(known[1]) > _KEY_CACHE_MAX:
            known = self._partitions[topic] = (all_partitions, {})
        return known
