"""Redis helpers for the consumer's tests: the in-memory broker, listeners, publishing with
redis-py itself, what a group has left, clean-up."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.redis import RedisBroker, StreamSub, TestRedisBroker
from faststream.redis.parser import BinaryMessageFormatV1
from redis.asyncio import Redis

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
"""The production `reclaim_idle_ms`: what the killed consumer held is reclaimed after it."""


class TestBroker(TestRedisBroker):
    """FastStream's in-memory Redis broker. It tracks pending entries by the correlation id in
    FastStream's envelope, so its entries keep the envelope; the real broker's are plain JSON
    (`broker.PlainBody`, proved against a real server by test_consumer_broker.py)."""

    def __init__(self, broker: RedisBroker) -> None:
        broker.message_format = BinaryMessageFormatV1
        super().__init__(broker)


def listen(broker: RedisBroker, topic: str, handler: Handler) -> None:
    """Call `handler` with every entry of the stream `topic`."""
    broker.subscriber(stream=StreamSub(topic, last_id="0"))(handler)


async def publish_raw(
    settings: BrokerSettings, topic: str, messages: Sequence[bytes | None]
) -> None:
    """XADD the messages to the stream `topic` with redis-py, each as a plain `__data__` field
    (None: an entry without one)."""
    async with (
        Redis.from_url(settings.broker_url) as client,
        client.pipeline(transaction=False) as pipe,
    ):
        for payload in messages:
            pipe.xadd(topic, {"__data__": payload} if payload is not None else {"other": "x"})
        await pipe.execute()


async def published(
    settings: BrokerSettings, topic: str, count: int, timeout_s: float
) -> list[tuple[bytes, dict[str, str]]]:
    """The first `count` entries of the stream `topic`, read with redis-py: each `__data__`
    field, and the entry's other fields (Redis Streams have no headers)."""
    async with Redis.from_url(settings.broker_url) as client, asyncio.timeout(timeout_s):
        while len(entries := list[Any](await client.xrange(topic, count=count) or [])) < count:
            await asyncio.sleep(0.2)
    found: list[tuple[bytes, dict[str, str]]] = []
    for _, fields in entries:
        data: bytes = fields.pop(b"__data__")
        found.append((data, {key.decode(): value.decode() for key, value in fields.items()}))
    return found


async def pending(settings: BrokerSettings, topic: str, group: str) -> int:
    """Entries of `topic` that `group` has not acknowledged or not read yet."""
    async with Redis.from_url(settings.broker_url) as client:
        groups = await client.xinfo_groups(topic)
    (info,) = [g for g in groups if g["name"] == group.encode()]
    return int(info["pending"]) + int(info["lag"] or 0)


async def handed_over(settings: BrokerSettings, topic: str, group: str, timeout_s: float) -> None:
    """Wait until no entry of `topic` is pending in `group`: entries a killed consumer held
    unacknowledged stay pending until they have been idle for `reclaim_idle_ms` and a live
    consumer of the group takes them over."""
    deadline = time.monotonic() + timeout_s
    while await pending(settings, topic, group):
        assert time.monotonic() < deadline, "entries still pending: none reclaimed them"
        await asyncio.sleep(1)


async def remove_topics(settings: BrokerSettings, topics: list[str]) -> None:
    async with Redis.from_url(settings.broker_url) as client:
        await client.delete(*topics)
