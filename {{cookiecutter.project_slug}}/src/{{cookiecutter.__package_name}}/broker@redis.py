"""Redis Streams: the broker the consumer reads events from and publishes predictions to.

Replicas share a consumer group; each reads its own entries (XREADGROUP) and acknowledges
them (XACK) once their results are published. Entries a crashed replica read but never
acknowledged are taken over by a live one (XAUTOCLAIM) after `reclaim_idle_ms`. Predictions
and dead letters are entries whose `__data__` field is the JSON document itself, for any
Redis client to read (FastStream's own binary envelope is understood when reading only).
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import Pipeline, RedisBatchStreamMessage
from faststream.redis.parser import BinaryMessageFormatV1, MessageFormat
from pydantic import Field

from .delivery import Delivery, Handler, broker_options, undecoded
from .settings import Settings

Broker = RedisBroker


class BrokerSettings(Settings):
    """Where the Redis server is, and how this replica is named in the consumer group."""

    broker_url: str = "redis://localhost:6379"
    consumer_name: str = Field(default_factory=socket.gethostname)
    """Unique per replica (the pod name in Kubernetes)."""
    reclaim_idle_ms: int = Field(default=60_000, ge=1)
    """Entries another replica has held unacknowledged this long are taken over."""


class PlainBody(MessageFormat):
    """An entry's `__data__` is the message alone: Redis Streams have no headers, and a
    consumer that is not FastStream reads the JSON as it is."""

    @classmethod
    async def encode(
        cls,
        *,
        message: Any,
        reply_to: str | None,
        headers: dict[str, Any] | None,
        correlation_id: str,
        serializer: Any = None,
        codec: Any = None,
    ) -> bytes:
        built = await cls.build(
            message=message,
            reply_to=reply_to,
            headers=headers,
            correlation_id=correlation_id,
            serializer=serializer,
            codec=codec,
        )
        return built.data

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        return BinaryMessageFormatV1.parse(data)


def create_broker(settings: BrokerSettings, graceful_timeout_s: float) -> RedisBroker:
    return RedisBroker(
        settings.broker_url,
        message_format=PlainBody,
        **broker_options(graceful_timeout_s),
    )


def subscribe(
    broker: RedisBroker,
    settings: BrokerSettings,
    *,
    topic: str,
    group: str,
    max_batch_size: int,
    handle: Handler,
) -> None:
    """Score batches of new entries, and of entries abandoned by dead replicas, with `handle`;
    publish its results, then acknowledge the entries."""
    delivery = Delivery(handle)
    for reclaim_idle_ms in (None, settings.reclaim_idle_ms):
        stream = StreamSub(
            topic,
            group=group,
            consumer=settings.consumer_name,
            batch=True,
            max_records=max_batch_size,
            min_idle_time=reclaim_idle_ms,
        )

        @broker.subscriber(
            stream=stream,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            parser=parse_entries,
            decoder=undecoded,
        )
        async def consume(message: RedisBatchStreamMessage, pipe: Pipeline) -> None:
            entries = message.raw_message["data"]
            payloads = [BinaryMessageFormatV1.parse(e[DATA])[0] for e in entries if DATA in e]
            unreadable = [(b"", without_data(entry)) for entry in entries if DATA not in entry]

            async def send(output_topic: str, messages: Sequence[bytes]) -> None:
                # One round trip for a topic's results (none for a topic without any).
                for body in messages:
                    await broker.publish(body, stream=output_topic, pipeline=pipe)
                await pipe.execute()

            await delivery.deliver(send, payloads, unreadable)


DATA = b"__data__"
"""The field holding an entry's payload, whether FastStream or a plain XADD wrote it."""


def without_data(entry: Mapping[bytes, bytes]) -> str:
    fields = ", ".join(name.decode(errors="backslashreplace") for name in entry)
    return f"an entry without a __data__ field (its fields: {fields})"


async def parse_entries(
    message: Mapping[str, Any],
    parse: Callable[[Mapping[str, Any]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser, given none of the entries: it decodes them as UTF-8 JSON and so
    would fail the batch before `consume` sees it; `consume` reads the entries themselves.
    The batch keeps the first entry's correlation id, as FastStream's own parser does."""
    parsed = await parse({**message, "data": []})
    parsed.raw_message = message
    if first := next((entry[DATA] for entry in message["data"] if DATA in entry), None):
        headers = BinaryMessageFormatV1.parse(first)[1]
        parsed.correlation_id = headers.get("correlation_id", parsed.correlation_id)
    return parsed


async def declare_topics(broker: RedisBroker, topics: Sequence[str]) -> None:
    """Streams are created by their first entry: nothing to declare."""


async def publish(broker: RedisBroker, topic: str, messages: Sequence[bytes]) -> None:
    """Append the messages to the stream `topic`, fifty at a time (a pool holds 100 connections)."""
    for start in range(0, len(messages), 50):
        chunk = messages[start : start + 50]
        await asyncio.gather(*(broker.publish(message, stream=topic) for message in chunk))
