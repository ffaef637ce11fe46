"""NATS JetStream: the broker the consumer reads events from and publishes predictions to.

Replicas share one durable pull consumer, which hands each of them its own batches. A
message is acknowledged only after its result is published; one left unacknowledged (a
crashed replica) is delivered again after `ack_wait_s`.
"""

import asyncio
import contextlib
import functools
import re
from collections.abc import Sequence
from typing import Annotated

from faststream import AckPolicy, Context
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js.api import ConsumerConfig
from nats.js.errors import BadRequestError
from pydantic import Field

from .delivery import Delivery, Handler, broker_options, undecoded
from .settings import Settings

Broker = NatsBroker


class BrokerSettings(Settings):
    """Where the NATS server is."""

    broker_url: str = "nats://localhost:4222"
    ack_wait_s: float = Field(default=30.0, gt=0)
    """A message left unacknowledged this long (its replica died) is delivered again."""


def stream_name(subject: str) -> str:
    """The JetStream stream that stores `subject`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject).upper()


def create_broker(settings: BrokerSettings, graceful_timeout_s: float) -> NatsBroker:
    return NatsBroker(
        settings.broker_url,
        **broker_options(graceful_timeout_s),
    )


def subscribe(
    broker: NatsBroker,
    settings: BrokerSettings,
    *,
    topic: str,
    group: str,
    max_batch_size: int,
    handle: Handler,
) -> None:
    """Score batches of messages with `handle`, publish its results, then acknowledge them."""
    delivery = Delivery(handle)
    send = functools.partial(publish, broker)

    @broker.subscriber(
        topic,
        stream=JStream(stream_name(topic), subjects=[topic]),
        durable=group,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s),
        pull_sub=PullSub(batch_size=max_batch_size, timeout=0.05, batch=True),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
    )
    async def consume(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        payloads = [msg.data for msg in message.raw_message]
        await delivery.deliver(send, payloads)


async def declare_topics(broker: NatsBroker, topics: Sequence[str]) -> None:
    """Give each subject a stream, so that what is published there is stored."""
    jetstream = broker.connection.jetstream()
    for topic in topics:
        # One that exists already, perhaps with settings an operator chose, is kept as it is.
        with contextlib.suppress(BadRequestError):
            await jetstream.add_stream(name=stream_name(topic), subjects=[topic])


async def publish(broker: NatsBroker, topic: str, messages: Sequence[bytes]) -> None:
    """Publish the messages to `topic`, plain JSON labelled as such, a hundred at a time, and
    wait until JetStream has stored them."""
    stream, headers = stream_name(topic), {"content-type": "application/json"}
    for start in range(0, len(messages), 100):
        chunk = messages[start : start + 100]
        await asyncio.gather(
            *(broker.publish(body, topic, stream=stream, headers=headers) for body in chunk)
        )
