"""Kafka: the broker the consumer reads events from and publishes predictions to.

Replicas share a consumer group, which spreads the topic's partitions over them (run at
most as many replicas as the topic has partitions). Offsets are committed only after a
batch's results are published; a crash replays from the last committed offset.
"""

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord  # type: ignore[import-untyped]
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from .delivery import Delivery, Handler, broker_options, undecoded
from .settings import Settings

Broker = KafkaBroker


class BrokerSettings(Settings):
    """Where the Kafka cluster is."""

    broker_url: str = "localhost:9092"
    """Bootstrap servers, comma separated."""
    idempotent_producer: bool = True
    """Retried sends are not written twice. Off only for brokers without idempotent
    producers (Tansu, which the tests can run against)."""


def create_broker(settings: BrokerSettings, graceful_timeout_s: float) -> KafkaBroker:
    return KafkaBroker(
        settings.broker_url.split(","),
        **broker_options(graceful_timeout_s),
        # A prediction counts as published once every in-sync replica has it.
        acks="all",
        enable_idempotence=settings.idempotent_producer,
    )


def subscribe(
    broker: KafkaBroker,
    settings: BrokerSettings,
    *,
    topic: str,
    group: str,
    max_batch_size: int,
    handle: Handler,
) -> None:
    """Score batches of records with `handle`, publish its results, then commit the offsets."""
    delivery = Delivery(handle)
    send = functools.partial(publish, broker)

    @broker.subscriber(
        topic,
        group_id=group,
        batch=True,
        max_records=max_batch_size,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=parse_records,
        decoder=undecoded,
    )
    async def consume(message: KafkaMessage) -> None:
        # A batch subscriber's raw message is the tuple of its records.
        records: tuple[ConsumerRecord, ...] = message.raw_message
        payloads = [record.value for record in records if record.value is not None]
        tombstones = [(b"", "a record without a value") for r in records if r.value is None]
        await delivery.deliver(send, payloads, tombstones)


async def parse_records(
    records: tuple[ConsumerRecord, ...],
    parse: Callable[[tuple[ConsumerRecord, ...]], Awaitable[StreamMessage[object]]],
) -> StreamMessage[object]:
    """FastStream's parser, minus the record headers it decodes as UTF-8 (a header that is not
    would fail the batch before `consume` sees it); `consume` reads the records themselves."""
    message = await parse(tuple(dataclasses.replace(r, headers=()) for r in records))
    message.raw_message = records
    return message


async def declare_topics(broker: KafkaBroker, topics: Sequence[str]) -> None:
    """Topics are created by the cluster on first use (or by your platform's tooling)."""


async def publish(broker: KafkaBroker, topic: str, messages: Sequence[bytes]) -> None:
    """Send the messages to `topic`, plain JSON labelled as such, and wait until the cluster
    has them."""
    headers = {"content-type": "application/json"}
    await asyncio.gather(*(broker.publish(m, topic, headers=headers) for m in messages))
