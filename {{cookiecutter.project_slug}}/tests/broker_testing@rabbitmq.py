"""RabbitMQ helpers for the consumer's tests: the in-memory broker, listeners, publishing
with aio-pika itself, what a queue holds, clean-up."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
from faststream.rabbit import RabbitBroker
from faststream.rabbit import TestRabbitBroker as TestBroker

from {{ cookiecutter.__package_name }}.broker import BrokerSettings, queue

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

KILL_TEST_SETTINGS: dict[str, str] = {"prefetch_count": "16"}
"""At most 16 messages in flight, as many as the other brokers' batches: RabbitMQ requeues
what a closed connection held."""


def listen(broker: RabbitBroker, topic: str, handler: Handler) -> None:
    """Call `handler` with every message of the queue `topic`."""
    broker.subscriber(queue(topic))(handler)


async def publish_raw(
    settings: BrokerSettings, topic: str, messages: Sequence[bytes | None]
) -> None:
    """Publish persistent messages to the queue `topic` with aio-pika (None: an empty body),
    labelled JSON whatever they hold, and wait for the broker's confirms."""
    async with await aio_pika.connect(settings.broker_url) as connection:
        channel = await connection.channel()
        for body in messages:
            message = aio_pika.Message(
                body or b"",
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await channel.default_exchange.publish(message, routing_key=topic)


async def published(
    settings: BrokerSettings, topic: str, count: int, timeout_s: float
) -> list[tuple[bytes, dict[str, str]]]:
    """The first `count` messages of the queue `topic`, taken with aio-pika: each body and
    its content type as a header."""
    found: list[tuple[bytes, dict[str, str]]] = []
    async with await aio_pika.connect(settings.broker_url) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(topic, passive=True)
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                message = await declared.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.2)
                    continue
                found.append((message.body, {"content-type": message.content_type or ""}))
    return found


async def pending(settings: BrokerSettings, topic: str, group: str) -> int:
    """Messages waiting in the queue `topic` (the group is the queue)."""
    async with await aio_pika.connect(settings.broker_url) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(topic, passive=True)
        return declared.declaration_result.message_count or 0


async def handed_over(settings: BrokerSettings, topic: str, group: str, timeout_s: float) -> None:
    """Wait until no message is ready in the queue: RabbitMQ requeues what a killed consumer held
    as soon as its connection closes, even when the killed one had published its predictions
    (which is all the test waits for before this)."""
    deadline = time.monotonic() + timeout_s
    while await pending(settings, topic, group):
        assert time.monotonic() < deadline, "messages still pending: none was handed over"
        await asyncio.sleep(1)


async def remove_topics(settings: BrokerSettings, topics: list[str]) -> None:
    async with await aio_pika.connect(settings.broker_url) as connection:
        channel = await connection.channel()
        for topic in topics:
            await channel.queue_delete(topic)
