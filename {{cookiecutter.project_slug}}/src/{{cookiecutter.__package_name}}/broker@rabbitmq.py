"""RabbitMQ: the broker the consumer reads events from and publishes predictions to.

Replicas are competing consumers of one durable queue. RabbitMQ delivers messages one by
one (up to `prefetch_count` in flight per replica); each is acknowledged only after its
result is published, and one a crashed replica held is delivered to another.
"""

import asyncio
import functools
from collections.abc import Sequence

from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from pydantic import Field

from .delivery import Delivery, Handler, broker_options, undecoded
from .settings import Settings

Broker = RabbitBroker


class BrokerSettings(Settings):
    """Where the RabbitMQ server is."""

    broker_url: str = "amqp://guest:guest@localhost:5672/"
    prefetch_count: int = Field(default=100, ge=1)
    """Messages in flight per replica."""


def create_broker(settings: BrokerSettings, graceful_timeout_s: float) -> RabbitBroker:
    return RabbitBroker(
        settings.broker_url,
        **broker_options(graceful_timeout_s),
        default_channel=Channel(prefetch_count=settings.prefetch_count),
    )


def queue(name: str) -> RabbitQueue:
    """A queue that survives a broker restart."""
    return RabbitQueue(name, durable=True)


def subscribe(
    broker: RabbitBroker,
    settings: BrokerSettings,
    *,
    topic: str,
    group: str,
    max_batch_size: int,
    handle: Handler,
) -> None:
    """Score each message with `handle` (a batch of one), publish its results, then
    acknowledge it.

    The queue is the group: every replica consuming it competes for its messages."""
    delivery = Delivery(handle)
    send = functools.partial(publish, broker)

    @broker.subscriber(queue(topic), ack_policy=AckPolicy.NACK_ON_ERROR, decoder=undecoded)
    async def consume(message: RabbitMessage) -> None:
        await delivery.deliver(send, [message.body])


async def declare_topics(broker: RabbitBroker, topics: Sequence[str]) -> None:
    """Declare the queues the consumer publishes to, so that nothing published is dropped."""
    for topic in topics:
        await broker.declare_queue(queue(topic))


async def publish(broker: RabbitBroker, topic: str, messages: Sequence[bytes]) -> None:
    """Publish persistent messages to the queue `topic`, plain JSON labelled as such; wait for
    the broker's confirms."""
    await asyncio.gather(
        *(
            broker.publish(message, queue=topic, persist=True, content_type="application/json")
            for message in messages
        )
    )
