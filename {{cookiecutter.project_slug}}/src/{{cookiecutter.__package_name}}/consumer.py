{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The event stream consumer: reads events, scores them in batches, publishes predictions.

    python -m {{ cookiecutter.__package_name }}.consumer

Delivery is at-least-once: `broker.py` acknowledges a batch only after its predictions and
dead letters are published, so a crash redelivers it. Each prediction carries the source
event's id (`event_id`): consumers of the output deduplicate on it. A message that cannot be
read as an event is never retried: it becomes a dead letter and is acknowledged with its batch.
{%- if stateful %}

An event names its entity and the features it knows; the entity's state (`state.py`'s store,
read through `state_cache.py`'s cache) fills in the others. An event for an entity without
stored state, or missing a feature stored nowhere, is a dead letter with that reason.
{%- endif %}
"""

import asyncio
import base64
import json
import logging
from collections.abc import Sequence

from faststream import FastStream
{%- if stateful %}
from pydantic import BaseModel, Field, PrivateAttr, ValidationError
{%- else %}
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
{%- endif %}

from .broker import Broker, BrokerSettings, create_broker, declare_topics, subscribe
{%- if stateful %}
from .entities import EntityRequest, IncompleteFeaturesError, completed
{%- endif %}
from .predictor import Predictor, score_accepted
from .schema import Features, Prediction
{%- if stateful %}
from .state import open_store
from .state_cache import CachedEntityStore
{%- endif %}

logger = logging.getLogger(__name__)

READY_MESSAGE = "Consumer ready"


class StreamSettings(BrokerSettings):
    """Settings of the stream consumer, on top of the shared and the broker's ones."""

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
{%- if stateful %}
    state_cache_size: int = Field(default=100_000, ge=1)
    """Most entities whose state is kept in memory; the least recently used go first."""
    state_cache_ttl_s: float = Field(default=30.0, gt=0)
    """How long state read from the store is used: a change there reaches the predictions
    within this time, and a hot entity costs one store read per this time."""
{%- endif %}
{%- if stateful %}


class Event(EntityRequest):
    """An event to score: its id, its entity and the features it knows about it."""

    id: str = Field(min_length=1, description="The event's id, carried into the prediction.")
{%- else %}


class Event(BaseModel):
    """An event to score: its id and the features of one row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="The event's id, carried into the prediction.")
    features: Features
{%- endif %}
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


class ScoredEvent(Prediction):
    """The prediction published for one event."""

    event_id: str = Field(description="The source event's id: the idempotency key.")


class DeadLetter(BaseModel):
    """An event that could not be scored."""

    event_id: str | None = Field(description="The event's id, when it could be read.")
    error: str = Field(description="Why it could not be scored.")
    payload: str = Field(description="The original payload's bytes, base64-encoded.")


def parse(payloads: Sequence[bytes]) -> tuple[list[Event], list[DeadLetter]]:
    """The valid events among the payloads, and dead letters for the others: payloads that
    are not UTF-8, not JSON, nested too deeply, not an object, or miss or mistype a field."""
    events: list[Event] = []
    dead_letters: list[DeadLetter] = []
    for payload in payloads:
        try:
            events.append(Event.from_payload(payload))
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(map(str, item['loc'])) or 'event'}: {item['msg']}"
                for item in error.errors(include_input=False)
            )
            error_text = f"invalid event: {details}"
            dead_letters.append(dead_letter(payload, error_text, readable_id(payload)))
    return events, dead_letters


def readable_id(payload: bytes) -> str | None:
    """The `id` of an invalid event, when it has one."""
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):  # not UTF-8 or JSON; nested too deeply
        return None
    event_id = document.get("id") if isinstance(document, dict) else None
    return event_id if isinstance(event_id, str) and event_id else None


def dead_letter(payload: bytes, error: str, event_id: str | None = None) -> DeadLetter:
    return DeadLetter(event_id=event_id, error=error, payload=base64.b64encode(payload).decode())


{%- if stateful %}


def with_state(
    events: Sequence[Event], state: CachedEntityStore
) -> tuple[list[Event], list[Features], list[DeadLetter]]:
    """The events that can be completed and their full feature rows (the entity's state,
    overridden by the event's features), and dead letters for the others: events whose
    entity has no state, or that miss a feature stored nowhere. One store query at most."""
    stored = state.get_many([event.entity_id for event in events])
    complete: list[Event] = []
    rows: list[Features] = []
    dead_letters: list[DeadLetter] = []
    for event in events:
        error = None
        if event.entity_id not in stored:
            error = f"unknown entity: no state is stored for entity {event.entity_id!r}"
        else:
            try:
                rows.append(completed(event, stored[event.entity_id]))
            except IncompleteFeaturesError as missing:
                error = f"incomplete features {list(missing.missing)}: {missing}"
            except ValidationError as invalid:  # state written around `state.py`'s checks
                error = f"invalid stored state of entity {event.entity_id!r}: {invalid}"
        if error is None:
            complete.append(event)
        else:
            dead_letters.append(dead_letter(event.payload, error, event.id))
    return complete, rows, dead_letters
{%- endif %}


def score(
    predictor: Predictor, events: Sequence[Event], rows: Sequence[Features]
) -> tuple[list[ScoredEvent], list[DeadLetter]]:
    """Score the events, whose feature rows are `rows`, in one model call; the events the
    model refuses become dead letters and the others are scored again without them."""
    columns = predictor.columns_of(rows)
    accepted, scores, refused = score_accepted(predictor, columns)
    dead_letters = [
        dead_letter(events[position].payload, f"unscorable: {reason}", events[position].id)
        for position, reason in sorted(refused.items())
    ]
    scored = [
        ScoredEvent(event_id=events[position].id, model_version=scores.model_version, **output)
        for position, output in zip(accepted.tolist(), scores.outputs(), strict=True)
    ]
    return scored, dead_letters


class Consumer:
    """Turns a batch of raw events into the messages to publish."""
{%- if stateful %}

    def __init__(
        self, predictor: Predictor, settings: StreamSettings, state: CachedEntityStore
    ) -> None:
        self.predictor = predictor
        self.settings = settings
        self.state = state
{%- else %}

    def __init__(self, predictor: Predictor, settings: StreamSettings) -> None:
        self.predictor = predictor
        self.settings = settings
{%- endif %}

    def handle(
        self, payloads: Sequence[bytes], unreadable: Sequence[tuple[bytes, str]] = ()
    ) -> dict[str, list[bytes]]:
        """A prediction or a dead letter for every payload, and a dead letter for every
        message the broker module could not take a payload from (its raw bytes and why), by
        the topic they go to. The broker module publishes them and only then acknowledges
        the batch."""
        events, dead_letters = parse(payloads)
        dead_letters += [dead_letter(raw, error) for raw, error in unreadable]
        scored: list[ScoredEvent] = []
{%- if stateful %}
        if events:
            events, rows, stateless = with_state(events, self.state)
            dead_letters += stateless
{%- else %}
        rows = [event.features for event in events]
{%- endif %}
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
{%- if stateful %}


def build_consumer(
    settings: StreamSettings, predictor: Predictor, state: CachedEntityStore
) -> Broker:
    """A broker with the consumer subscribed to the input topic, reading entity state from
    `state`."""
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


def create_app(
    settings: StreamSettings, predictor: Predictor, state: CachedEntityStore
) -> FastStream:
    """The consumer app: the consumer's broker, and the ready line once it consumes."""
    broker = build_consumer(settings, predictor, state)
{%- else %}


def build_consumer(settings: StreamSettings, predictor: Predictor) -> Broker:
    """A broker with the consumer subscribed to the input topic."""
    broker = create_broker(settings, settings.graceful_timeout_s)
    subscribe(
        broker,
        settings,
        topic=settings.input_topic,
        group=settings.consumer_group,
        max_batch_size=settings.max_batch_size,
        handle=Consumer(predictor, settings).handle,
    )
    return broker


def create_app(settings: StreamSettings, predictor: Predictor) -> FastStream:
    """The consumer app: the consumer's broker, and the ready line once it consumes."""
    broker = build_consumer(settings, predictor)
{%- endif %}
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
{%- if stateful %}
    predictor = Predictor.from_settings(settings)
    store = open_store(settings.state_url)
    state = CachedEntityStore(store, settings.state_cache_size, settings.state_cache_ttl_s)
    try:
        asyncio.run(create_app(settings, predictor, state).run())
    finally:
        state.close()
{%- else %}
    app = create_app(settings, Predictor.from_settings(settings))
    asyncio.run(app.run())
{%- endif %}


if __name__ == "__main__":
    main()
