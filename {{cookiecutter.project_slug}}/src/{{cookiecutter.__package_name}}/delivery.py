"""What every broker module shares about delivering a batch: the options its broker is created
with (its logger among them), the handler's signature, publishing the handler's results with
the redeliveries paced, and leaving message bodies undecoded."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from faststream.message import StreamMessage

logger = logging.getLogger(__name__)

Handler = Callable[[Sequence[bytes], Sequence[tuple[bytes, str]]], Mapping[str, Sequence[bytes]]]
"""Turns a batch's payloads, and the messages without one (raw bytes, why), into what to publish."""

Publish = Callable[[str, Sequence[bytes]], Awaitable[None]]
"""Publishes messages to a topic and returns once the broker has them."""


class QuietTaskCallbacks(logging.Filter):
    """Drops FastStream's `callback for Task-N is being executed...` line, which a subscriber
    writes at INFO each time one of its tasks ends (NATS's pull subscriber: hundreds a minute
    while busy)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("callback for ")


broker_logger = logging.getLogger(f"{__package__}.broker")
"""The broker's lines (FastStream's), which go where the consumer's own go."""
broker_logger.addFilter(QuietTaskCallbacks())


def broker_options(graceful_timeout_s: float) -> dict[str, Any]:
    """What every broker is created with: how long in-flight batches may take to finish on
    SIGTERM, and a logger that keeps FastStream's line per message (at DEBUG: writing it would
    cost more than scoring the message) and its task callbacks out of the logs."""
    return {
        "graceful_timeout": graceful_timeout_s,
        "log_level": logging.DEBUG,
        "logger": broker_logger,
    }


async def undecoded(
    message: StreamMessage[Any], decode: Callable[[StreamMessage[Any]], Awaitable[Any]]
) -> None:
    """Leave the bodies undecoded: FastStream's decoder, which parses JSON before the handler
    runs, would fail there on a payload that is not JSON or nests too deeply, and the message
    would be redelivered forever. `consume` reads the raw payloads itself."""


class Backoff:
    """Paces the redelivery of a batch that could not be scored or whose results could not be
    published (the state store or the broker down, a publish refused): the n-th failure in a
    row waits 0.1 s x 2^(n-1), at most 30 s, before the batch is handed back, so a lasting
    outage costs a retry and a log line every 30 s, not a busy loop. A success starts over.
    Messages that cannot be read never get here: they are dead-lettered and acknowledged."""

    def __init__(self, first_s: float = 0.1, longest_s: float = 30.0) -> None:
        self.first_s = first_s
        self.longest_s = longest_s
        self.failures = 0

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        try:
            yield
        except Exception as error:
            self.failures += 1
            delay = min(self.first_s * 2 ** (self.failures - 1), self.longest_s)
            logger.warning(
                "Scoring or publishing failed (%d in a row: %s); redelivery in %.1f s",
                self.failures,
                error,
                delay,
            )
            await asyncio.sleep(delay)
            raise
        self.failures = 0


class Delivery:
    """A subscriber's work on each batch: `handle` turns it into messages by topic, `publish`
    sends them, and only then may the broker module acknowledge the batch. A failure is paced
    by a `Backoff` and raised, so that the broker delivers the batch again."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.backoff = Backoff()

    async def deliver(
        self,
        publish: Publish,
        payloads: Sequence[bytes],
        unreadable: Sequence[tuple[bytes, str]] = (),
    ) -> None:
        async with self.backoff.publishing():
            for topic, messages in self.handle(payloads, unreadable).items():
                await publish(topic, messages)
