"""NATS helpers for the consumer's tests: the in-memory broker, listeners, publishing with
nats-py itself, what a durable consumer has left, clean-up."""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats
from faststream.nats import JStream, NatsBroker
from faststream.nats import TestNatsBroker as TestBroker
from nats.js.errors import NotFoundError

from {{ cookiecutter.__package_name }}.broker import BrokerSettings, stream_name

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
"""The production `ack_wait_s`: what the killed consumer held comes back after it."""


def listen(broker: NatsBroker, topic: str, handler: Handler) -> None:
    """Call `handler` with every message stored for the subject `topic`."""
    broker.subscriber(topic, stream=JStream(stream_name(topic), subjects=[topic]))(handler)


async def publish_raw(
    settings: BrokerSettings, topic: str, messages: Sequence[bytes | None]
) -> None:
    """Publish the messages to `topic` with nats-py (None: an empty payload), labelled JSON
    whatever they hold, and wait until JetStream has stored them."""
    async with await nats.connect(settings.broker_url) as client:
        jetstream = client.jetstream()
        stream, headers = stream_name(topic), {"Content-Type": "application/json"}
        for payload in messages:
            await jetstream.publish(topic, payload or b"", stream=stream, headers=headers)


async def published(
    settings: BrokerSettings, topic: str, count: int, timeout_s: float
) -> list[tuple[bytes, dict[str, str]]]:
    """The first `count` messages JetStream stored for `topic`, read with nats-py: each
    payload and its headers."""
    found: list[tuple[bytes, dict[str, str]]] = []
    async with await nats.connect(settings.broker_url) as client, asyncio.timeout(timeout_s):
        jetstream = client.jetstream()
        while len(found) < count:
            try:
                message = await jetstream.get_msg(stream_name(topic), seq=len(found) + 1)
            except NotFoundError:
                await asyncio.sleep(0.2)
                continue
            found.append((message.data or b"", dict(message.headers or {})))
    return found


async def pending(settings: BrokerSettings, topic: str, group: str) -> int:
    """Messages the durable consumer `group` has not had acknowledged yet."""
    async with await nats.connect(settings.broker_url) as client:
        info = await client.jetstream().consumer_info(stream_name(topic), group)
    return (info.num_pending or 0) + (info.num_ack_pending or 0)


async def handed_over(settings: BrokerSettings, topic: str, group: str, timeout_s: float) -> None:
    """Wait until nothing is pending in `group`: JetStream delivers what a killed consumer held
    to a live one after `ack_wait_s`, even when the killed one had published its predictions
    (which is all the test waits for before this)."""
    deadline = time.monotonic() + timeout_s
    while await pending(settings, topic, group):
        assert time.monotonic() < deadline, "messages still pending: none was handed over"
        await asyncio.sleep(1)


async def remove_topics(settings: BrokerSettings, topics: list[str]) -> None:
    async with await nats.connect(settings.broker_url) as client:
        for topic in topics:
            with contextlib.suppress(NotFoundError):
                await client.jetstream().delete_stream(stream_name(topic))
