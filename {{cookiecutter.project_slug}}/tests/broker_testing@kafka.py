"""Kafka helpers for the consumer's tests: the in-memory broker, listeners, publishing with
aiokafka itself, what a group has left to consume, clean-up."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from faststream.kafka import KafkaBroker
from faststream.kafka import TestKafkaBroker as TestBroker

from {{ cookiecutter.__package_name }}.broker import BrokerSettings

__all__ = [
    "KILL_TEST_SETTINGS",
    "TestBroker",
    "handed_over",
    "listen",
    "pending",
    "publish_raw",
    "published",
    "remove_topics",
]

Handler = Callable[[Any], Awaitable[None]]

KILL_TEST_SETTINGS: dict[str, str] = {}
"""Nothing to change: a new consumer resumes from the last committed offset."""


def listen(broker: KafkaBroker, topic: str, handler: Handler) -> None:
    """Call `handler` with everything published to `topic`."""
    broker.subscriber(topic, auto_offset_reset="earliest")(handler)


async def publish_raw(
    settings: BrokerSettings, topic: str, messages: Sequence[bytes | None]
) -> None:
    """Send the messages with aiokafka (None: a record without a value, a tombstone), each with
    a header that is not UTF-8, and wait until the cluster has them."""
    headers = [("content-type", b"application/json"), ("trace", b"\xff\xfe")]
    async with AIOKafkaProducer(bootstrap_servers=settings.broker_url, acks="all") as producer:
        sends = [
            await producer.send(topic, value, key=b"key", headers=headers) for value in messages
        ]
        await asyncio.gather(*sends)


async def published(
    settings: BrokerSettings, topic: str, count: int, timeout_s: float
) -> list[tuple[bytes, dict[str, str]]]:
    """The first `count` records of `topic`, read with aiokafka: each value and its headers."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.broker_url,
        auto_offset_reset="earliest",
        # The topic may be created after this consumer starts: look for it every half second.
        metadata_max_age_ms=500,
    )
    found: list[tuple[bytes, dict[str, str]]] = []
    async with consumer, asyncio.timeout(timeout_s):
        while len(found) < count:
            batches: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=500)
            found += [
                (record.value, {key: value.decode() for key, value in record.headers})
                for records in batches.values()
                for record in records
            ]
    return found


async def pending(settings: BrokerSettings, topic: str, group: str) -> int:
    """Records of `topic` that a new member of `group` is given: those past its committed
    offsets (read, not committed)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.broker_url,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    async with consumer:
        async with asyncio.timeout(60):
            while not consumer.assignment():
                await asyncio.sleep(0.1)
        batches: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=3000)
    return sum(len(records) for records in batches.values())


async def handed_over(settings: BrokerSettings, topic: str, group: str, timeout_s: float) -> None:
    """Nothing to wait for: a restarted consumer resumes from the last committed offset, so
    what the killed one held is read again at once, and its predictions are what the test
    waits for."""


async def remove_topics(settings: BrokerSettings, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker_url)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()
