{%- set package = cookiecutter.__package_name -%}
{%- set stateful = cookiecutter.stateful == "yes" -%}
"""Messages/s and end-to-end latency through the {{ cookiecutter.broker }} broker in the settings, in one run:

{%- if stateful %}
- stateful: the consumer as it runs in production (batches of up to 100, one model call each),
  each event naming one of 1000 entities and no features: the entity's state fills them in,
  read through the cache (cold at the start of each round) from a SQLite store of its own;
- scoring: the same consumer without the state: each event carries its whole row;
{%- else %}
- scoring: the consumer as it runs in production (batches of up to 100, one model call each);
{%- endif %}
- no scoring: the same consume-publish loop, with a constant prediction instead of the model;
- one at a time: a naive consumer, one message, one model call and one publish per event.

Latency runs from publishing an event to receiving its prediction, with the whole backlog
published at once (the consumer runs flat out). Scoring and no scoring are measured in
alternating rounds and compared by their medians. Needs the broker running (`make bench`).
"""

import asyncio
import itertools
import json
import sys
{%- if stateful %}
import tempfile
{%- endif %}
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from {{ package }}.broker import create_broker, declare_topics, publish, subscribe
{%- if stateful %}
from {{ package }}.consumer import Consumer, ScoredEvent, StreamSettings, parse, score
{%- else %}
from {{ package }}.consumer import Consumer, ScoredEvent, StreamSettings, parse
{%- endif %}
from {{ package }}.data import load_dataset
from {{ package }}.predictor import Predictor
from {{ package }}.schema import Features, Prediction
{%- if stateful %}
from {{ package }}.state import EntityStore, open_store
from {{ package }}.state_cache import CachedEntityStore
from {{ package }}.stream_state import EventState
{%- endif %}

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# The tests' helpers that remove the benchmark's topics afterwards, and turn the training
# data into request rows (the inputs of features.yaml).
from broker_testing import remove_topics
from contract_testing import complete_rows

EVENTS = 5000
ROUNDS = 3
{%- if stateful %}
ENTITIES = 1000
"""Distinct entities among the events: each is read from the store once per round."""
{%- endif %}
Handler = Callable[[Sequence[bytes], Sequence[tuple[bytes, str]]], Mapping[str, Sequence[bytes]]]


class Unscored(Consumer):
    """The consumer's loop without the model: every valid event gets the same prediction."""

    def __init__(self, constant: Prediction, settings: StreamSettings) -> None:
        self.constant = constant
        self.settings = settings

    def handle(
        self, payloads: Sequence[bytes], _unreadable: Sequence[tuple[bytes, str]] = ()
    ) -> dict[str, list[bytes]]:
        events, _ = parse(payloads)
        answers = (ScoredEvent(event_id=e.id, **self.constant.model_dump()) for e in events)
        return {self.settings.output_topic: [a.model_dump_json().encode() for a in answers]}
{%- if stateful %}


class Stateless(Consumer):
    """The consumer's loop and model call without reading the state: every event carries its
    whole row."""

    def __init__(self, predictor: Predictor, settings: StreamSettings) -> None:
        self.predictor = predictor
        self.settings = settings

    def handle(
        self, payloads: Sequence[bytes], _unreadable: Sequence[tuple[bytes, str]] = ()
    ) -> dict[str, list[bytes]]:
        events, _ = parse(payloads)
        rows = [Features.model_validate(event.features.model_dump()) for event in events]
        scored, _ = score(self.predictor, events, rows)
        return {self.settings.output_topic: [s.model_dump_json().encode() for s in scored]}


def events(rows: Sequence[Mapping[str, object]]) -> list[bytes]:
    """EVENTS events cycling through `rows`, each with its entity `entity-<n % ENTITIES>`."""
    return [
        json.dumps({"id": str(i), "entity_id": f"entity-{i % ENTITIES}", "features": row}).encode()
        for i, row in zip(range(EVENTS), itertools.cycle(rows), strict=False)
    ]


def entity_events() -> list[bytes]:
    """EVENTS events naming their entity only: its stored state gives every feature."""
    return [
        json.dumps({"id": str(i), "entity_id": f"entity-{i % ENTITIES}"}).encode()
        for i in range(EVENTS)
    ]
{%- else %}


def events(rows: Sequence[Mapping[str, object]]) -> list[bytes]:
    """EVENTS events, cycling through `rows`."""
    return [
        json.dumps({"id": str(i), "features": row}).encode()
        for i, row in zip(range(EVENTS), itertools.cycle(rows), strict=False)
    ]
{%- endif %}


async def measure(
    name: str,
    settings: StreamSettings,
    handler: Callable[[StreamSettings], Handler],
    backlog: Sequence[bytes],
) -> dict[str, float]:
    """Publish the backlog, consume it with `handler`, and time each event's prediction."""
    suffix = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={
            "input_topic": f"bench-events-{suffix}",
            "output_topic": f"bench-predictions-{suffix}",
            "dead_letter_topic": f"bench-dead-letter-{suffix}",
            "consumer_group": f"bench-{suffix}",
        }
    )
    consumer = create_broker(settings, settings.graceful_timeout_s)
    subscribe(
        consumer,
        settings,
        topic=settings.input_topic,
        group=settings.consumer_group,
        max_batch_size=settings.max_batch_size,
        handle=handler(settings),
    )
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    done = asyncio.Event()

    def on_predictions(
        payloads: Sequence[bytes], _unreadable: Sequence[tuple[bytes, str]]
    ) -> dict[str, list[bytes]]:
        now = time.perf_counter()
        for payload in payloads:
            received.setdefault(ScoredEvent.model_validate_json(payload).event_id, now)
        if len(received) == EVENTS:
            done.set()
        return {}

    # The predictions are read in batches too, so that reading them is no bottleneck.
    observer = create_broker(settings, settings.graceful_timeout_s)
    subscribe(
        observer,
        settings,
        topic=settings.output_topic,
        group=f"observer-{suffix}",
        max_batch_size=500,
        handle=on_predictions,
    )
    await consumer.start()
    await declare_topics(consumer, [settings.output_topic, settings.dead_letter_topic])
    await observer.start()
    try:
        started = time.perf_counter()
        for first in range(0, EVENTS, 500):
            now = time.perf_counter()
            sent.update((str(i), now) for i in range(first, min(first + 500, EVENTS)))
            await publish(observer, settings.input_topic, backlog[first : first + 500])
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
        await observer.stop()
        topics = [settings.input_topic, settings.output_topic, settings.dead_letter_topic]
        await remove_topics(settings, topics)
    latencies = np.array([received[i] - sent[i] for i in sent]) * 1000
    result = {
        "per_second": EVENTS / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
    }
    print(
        f"{name:<14} {result['per_second']:>10,.0f} msg/s"
        f"   p50 {result['p50']:>8.1f} ms   p99 {result['p99']:>8.1f} ms",
        flush=True,
    )
    return result
{%- if stateful %}


async def main() -> None:
    settings = StreamSettings(max_batch_size=100)
    predictor = Predictor.from_settings(settings)
    rows = complete_rows(load_dataset(settings.training_data), EVENTS)
    (constant,) = predictor.predict([Features.model_validate(rows[0])])
    backlog = events(rows)
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'entities.db'}")
        store.put_many((f"entity-{i}", rows[i % len(rows)]) for i in range(ENTITIES))
        try:
            await compare(settings, predictor, constant, backlog, store)
        finally:
            store.close()


async def compare(
    settings: StreamSettings,
    predictor: Predictor,
    constant: Prediction,
    backlog: list[bytes],
    store: EntityStore,
) -> None:
    print(f"{EVENTS} events through {settings.broker_url}, model {predictor.model_version}")

    def stateful(s: StreamSettings) -> Handler:
        # A cold cache each round: every entity is read from the store once.
        state = CachedEntityStore(store, s.state_cache_size, s.state_cache_ttl_s)
        return Consumer(predictor, s, EventState(state)).handle

    variants: dict[str, tuple[Callable[[StreamSettings], Handler], list[bytes]]] = {
        "stateful": (stateful, entity_events()),
        "scoring": (lambda s: Stateless(predictor, s).handle, backlog),
        "no scoring": (lambda s: Unscored(constant, s).handle, backlog),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    # Alternating rounds, in swapped order each time: a drifting machine affects both alike.
    for round_ in range(ROUNDS):
        for name in sorted(variants, reverse=round_ % 2 == 1):
            handler, messages = variants[name]
            result = await measure(name, settings, handler, messages)
            rates[name].append(result["per_second"])
    await measure(
        "one at a time",
        settings.model_copy(update={"max_batch_size": 1}),
        lambda s: Stateless(predictor, s).handle,
        backlog,
    )
    with_state, scored, unscored = (float(np.median(rates[name])) for name in variants)
    print(
        f"medians of {ROUNDS} rounds: stateful {with_state:,.0f}, scoring {scored:,.0f},"
        f" no scoring {unscored:,.0f} msg/s"
    )
    print(f"stateful / stateless: {with_state / scored:.2f}x (target: at least 0.7x)")
    cost = 1 - scored / unscored
    print(f"scoring costs {cost:.1%} of the loop's throughput (target: at most 10%)")
{%- else %}


async def main() -> None:
    settings = StreamSettings(max_batch_size=100)
    predictor = Predictor.from_settings(settings)
    rows = complete_rows(load_dataset(settings.training_data), EVENTS)
    (constant,) = predictor.predict([Features.model_validate(rows[0])])
    backlog = events(rows)
    print(f"{EVENTS} events through {settings.broker_url}, model {predictor.model_version}")
    variants: dict[str, Callable[[StreamSettings], Handler]] = {
        "scoring": lambda s: Consumer(predictor, s, s.open_state()).handle,
        "no scoring": lambda s: Unscored(constant, s).handle,
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    # Alternating rounds, in swapped order each time: a drifting machine affects both alike.
    for round_ in range(ROUNDS):
        for name in sorted(variants, reverse=round_ % 2 == 1):
            result = await measure(name, settings, variants[name], backlog)
            rates[name].append(result["per_second"])
    await measure(
        "one at a time",
        settings.model_copy(update={"max_batch_size": 1}),
        lambda s: Consumer(predictor, s, s.open_state()).handle,
        backlog,
    )
    scored, unscored = (float(np.median(rates[name])) for name in variants)
    print(f"medians of {ROUNDS} rounds: scoring {scored:,.0f}, no scoring {unscored:,.0f} msg/s")
    cost = 1 - scored / unscored
    print(f"scoring costs {cost:.1%} of the loop's throughput (target: at most 10%)")

{%- endif %}


if __name__ == "__main__":
    asyncio.run(main())
