"""The event stream consumer: reads events, scores them in batches, publishes predictions.

    python -m {{ cookiecutter.__package_name }}.consumer

Delivery is at-least-once: `broker.py` acknowledges a batch only after its predictions and
dead letters are published, so a crash redelivers it. Each prediction carries the source
event's id (`event_id`): consumers of the output deduplicate on it. Predictions and dead
letters also carry the keys the event gives (`keys`: features.yaml's, such as a customer id),
to join them back to the team's rows. A message that cannot be
read as an event is never retried: it becomes a dead letter and is acknowledged with its batch.

What an event carries and how its feature row is made (from the event alone, or completed
from its entity's stored state) is `stream_state.py`'s: an event it refuses is a dead letter
with its reason.

Nothing a message holds can keep its dead letter from being written: its texts are escaped
(a lone surrogate becomes `\\ud800`) and bounded (a reason names the first few problems and
counts the others), and its payload is kept as a prefix with its size and sha256, so that a
dead letter stays far below any broker's message size limit (Kafka's producer: 1 MiB).
"""

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from faststream import FastStream
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from .broker import Broker, BrokerSettings, create_broker, declare_topics, subscribe
from .contract import load_contract
from .predictor import Predictor, score_accepted
from .schema import Features, Prediction
from .stream_state import EventFields, EventState, StateSettings

logger = logging.getLogger(__name__)

READY_MESSAGE = "Consumer ready"


class StreamSettings(BrokerSettings, StateSettings):
    """Settings of the stream consumer, on top of the shared, the broker's and the state's."""

    input_topic: str = "events"
    """Where the events to score are read from."""
    output_topic: str = "predictions"
    """Where the predictions are published."""
    dead_letter_topic: str = "events-dead-letter"
    """Where events that cannot be scored go, with the error and the original payload."""
    consumer_group: str = "{{ cookiecutter.project_slug }}"
    """Replicas in one group share the events: add replicas to scale out."""
    max_batch_size: int = Field(default=100, ge=1)
    """Most events scored in one model call."""
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    """On SIGTERM, how long in-flight batches may take to finish before the process exits."""


class Event(EventFields):
    """An event to score (its fields are `stream_state.py`'s), with the bytes it was read from."""

    _payload: bytes = PrivateAttr(default=b"")

    @classmethod
    def from_payload(cls, payload: bytes) -> "Event":
        """The event a payload holds, which keeps the payload for its dead letter."""
        event = cls.model_validate_json(payload)
        event._payload = payload
        return event

    @property
    def payload(self) -> bytes:
        """The bytes the event was read from."""
        return self._payload


KeyValues = dict[str, str | int]
"""An event's keys by name (those it gives)."""


class ScoredEvent(Prediction):
    """The prediction published for one event."""

    event_id: str = Field(description="The source event's id: the idempotency key.")
    keys: KeyValues = Field(
        default_factory=dict, description="The keys the event gives (features.yaml's)."
    )


PAYLOAD_PREFIX_BYTES = 65_536
"""Most bytes of a payload its dead letter keeps."""
TEXT_CHARS = 1_000
"""Most characters of a dead letter's event id and reason."""
PLACES_SHOWN = 5
"""Places of each kind of problem an invalid event's reason names; the others are counted."""


class DeadLetter(BaseModel):
    """An event that could not be scored."""

    event_id: str | None = Field(description="The event's id, when it could be read (escaped).")
    keys: KeyValues = Field(
        default_factory=dict,
        description="The keys of features.yaml the event gives, as far as they could be read.",
    )
    error: str = Field(description="Why it could not be scored.")
    payload: str = Field(description="The payload's first bytes (at most 64 KiB), base64-encoded.")
    payload_size: int = Field(description="The payload's size in bytes.")
    payload_sha256: str = Field(description="The SHA-256 of the whole payload, in hex.")


def parse(payloads: Sequence[bytes]) -> tuple[list[Event], list[DeadLetter]]:
    """The valid events among the payloads, and dead letters for the others: payloads that
    are not UTF-8, not JSON (a lone surrogate, `\\ud800`, is not), nested too deeply, not an
    object, or miss or mistype a field."""
    events: list[Event] = []
    dead_letters: list[DeadLetter] = []
    for payload in payloads:
        try:
            events.append(Event.from_payload(payload))
        except ValidationError as error:
            details = summary(
                (".".join(map(str, item["loc"])) or "event", item["msg"])
                for item in error.errors(include_input=False)
            )
            error_text = f"invalid event: {details}"
            document = readable(payload)
            dead_letters.append(
                dead_letter(payload, error_text, readable_id(document), readable_keys(document))
            )
    return events, dead_letters


def summary(problems: Iterable[tuple[str, str]]) -> str:
    """Each kind of problem (where, what) with the first few places it occurs and a count of
    the others: an event with 100,000 unknown keys gets a reason of a few lines."""
    places: dict[str, list[str]] = {}
    for where, what in problems:
        places.setdefault(what, []).append(where)
    parts: list[str] = []
    for what, wheres in places.items():
        parts += [f"{where}: {what}" for where in wheres[:PLACES_SHOWN]]
        if len(wheres) > PLACES_SHOWN:
            parts.append(f"{len(wheres) - PLACES_SHOWN:,} more: {what}")
    return "; ".join(parts)


def readable(payload: bytes) -> dict[str, Any]:
    """An invalid event's JSON object, when it is one (else empty)."""
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):  # not UTF-8 or JSON; nested too deeply
        return {}
    return document if isinstance(document, dict) else {}


def readable_id(document: dict[str, Any]) -> str | None:
    """The `id` of an invalid event, when it has one."""
    event_id = document.get("id")
    return event_id if isinstance(event_id, str) and event_id else None


def readable_keys(document: dict[str, Any]) -> KeyValues:
    """The keys of features.yaml an invalid event gives as text or whole numbers."""
    given = document.get("keys")
    if not isinstance(given, dict):
        return {}
    return {
        name: given[name]
        for name in load_contract().key_names
        if isinstance(given.get(name), str | int) and not isinstance(given[name], bool)
    }


def given_keys(event: Event) -> KeyValues:
    """The keys a valid event gives."""
    keys: KeyValues = event.keys.model_dump(exclude_none=True)
    return keys


def dead_letter(
    payload: bytes, error: str, event_id: str | None = None, keys: KeyValues | None = None
) -> DeadLetter:
    """The dead letter of `payload`, which any broker can carry whatever the payload holds."""
    return DeadLetter(
        event_id=None if event_id is None else writable(event_id),
        keys={
            name: writable(value) if isinstance(value, str) else value
            for name, value in (keys or {}).items()
        },
        error=writable(error),
        payload=base64.b64encode(payload[:PAYLOAD_PREFIX_BYTES]).decode(),
        payload_size=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )


def writable(text: str) -> str:
    """`text` as Unicode that can be written (a lone surrogate escaped: `\\ud800`), cut to
    `TEXT_CHARS` characters."""
    text = text.encode(errors="backslashreplace").decode()
    if len(text) <= TEXT_CHARS:
        return text
    return f"{text[:TEXT_CHARS]}... ({len(text):,} characters)"


def score(
    predictor: Predictor, events: Sequence[Event], rows: Sequence[Features]
) -> tuple[list[ScoredEvent], list[DeadLetter]]:
    """Score the events, whose feature rows are `rows`, in one model call; the events the
    model refuses become dead letters and the others are scored again without them."""
    columns = predictor.columns_of(rows)
    accepted, scores, refused = score_accepted(predictor, columns)
    dead_letters = [
        dead_letter(
            events[position].payload,
            f"unscorable: {reason}",
            events[position].id,
            given_keys(events[position]),
        )
        for position, reason in sorted(refused.items())
    ]
    scored = [
        ScoredEvent(
            event_id=events[position].id,
            keys=given_keys(events[position]),
            model_version=scores.model_version,
            **output,
        )
        for position, output in zip(accepted.tolist(), scores.outputs(), strict=True)
    ]
    return scored, dead_letters


class Consumer:
    """Turns a batch of raw events into the messages to publish."""

    def __init__(self, predictor: Predictor, settings: StreamSettings, state: EventState) -> None:
        self.predictor = predictor
        self.settings = settings
        self.state = state

    def handle(
        self, payloads: Sequence[bytes], unreadable: Sequence[tuple[bytes, str]] = ()
    ) -> dict[str, list[bytes]]:
        """A prediction or a dead letter for every payload, and a dead letter for every
        message the broker module could not take a payload from (its raw bytes and why), by
        the topic they go to. The broker module publishes them and only then acknowledges
        the batch."""
        events, dead_letters = parse(payloads)
        dead_letters += [dead_letter(raw, error) for raw, error in unreadable]
        events, rows, refused = self.state.complete(events)
        dead_letters += [
            dead_letter(event.payload, error, event.id, given_keys(event))
            for event, error in refused
        ]
        scored: list[ScoredEvent] = []
        if events:
            scored, unscorable = score(self.predictor, events, rows)
            dead_letters += unscorable
        for letter in dead_letters:
            logger.warning("Dead letter for event %s: %s", letter.event_id, letter.error)
        return {
            self.settings.output_topic: [event.model_dump_json().encode() for event in scored],
            self.settings.dead_letter_topic: [
                letter.model_dump_json().encode() for letter in dead_letters
            ],
        }


def build_consumer(settings: StreamSettings, predictor: Predictor, state: EventState) -> Broker:
    """A broker with the consumer subscribed to the input topic."""
    broker = create_broker(settings, settings.graceful_timeout_s)
    subscribe(
        broker,
        settings,
        topic=settings.input_topic,
        group=settings.consumer_group,
        max_batch_size=settings.max_batch_size,
        handle=Consumer(predictor, settings, state).handle,
    )
    return broker


def create_app(settings: StreamSettings, predictor: Predictor, state: EventState) -> FastStream:
    """The consumer app: the consumer's broker, and the ready line once it consumes."""
    broker = build_consumer(settings, predictor, state)
    app = FastStream(broker)

    @app.after_startup
    async def announce() -> None:
        await declare_topics(broker, [settings.output_topic, settings.dead_letter_topic])
        logger.info(
            "%s: model %s, scoring %s into %s",
            READY_MESSAGE,
            predictor.model_version,
            settings.input_topic,
            settings.output_topic,
        )

    return app


def main() -> None:
    """Run the consumer until SIGTERM or SIGINT, which drain the in-flight batch first."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = StreamSettings()
    predictor = Predictor.from_settings(settings)
    state = settings.open_state()
    try:
        asyncio.run(create_app(settings, predictor, state).run())
    finally:
        state.close()


if __name__ == "__main__":
    main()
