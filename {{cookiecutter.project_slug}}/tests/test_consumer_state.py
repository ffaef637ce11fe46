"""The consumer's per-entity state: the cache in front of the store (on SQLite and a real
PostgreSQL), events completed from it, unknown entities dead-lettered, and state changes
reaching the predictions within the cache's TTL, without a restart."""

import base64
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.broker import publish
from {{ cookiecutter.__package_name }}.consumer import (
    Consumer,
    DeadLetter,
    ScoredEvent,
    StreamSettings,
    build_consumer,
)
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.entities import FeatureValues
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.state import EntityStore, open_store
from {{ cookiecutter.__package_name }}.state_cache import CachedEntityStore
from {{ cookiecutter.__package_name }}.stream_state import EventState

from broker_testing import TestBroker, listen
from contract_testing import CONTRACT, close_to, complete_rows
from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

TTL_S = 30.0
FIRST = CONTRACT.inputs[0].name


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """A real store that also records the entity ids of every query it answers."""

    def __init__(self, store: EntityStore) -> None:
        self.store = store
        self.queries: list[list[str]] = []

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        self.queries.append(list(entity_ids))
        return self.store.get_many(entity_ids)

    def read_columns(self, entity_ids: Sequence[str], names: Sequence[str]) -> list[Sequence[Any]]:
        return self.store.read_columns(entity_ids, names)

    def put_many(self, entities: Any) -> int:
        return self.store.put_many(entities)

    def close(self) -> None:
        self.store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CountingStore]:
    """An empty store: a SQLite file, or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        counting = CountingStore(open_store(f"sqlite:///{tmp_path / 'state' / 'entities.db'}"))
        yield counting
        counting.close()
        return
    configured = Settings().state_url
    server = configured if configured.startswith("postgresql://") else LOCAL_POSTGRES
    with own_schema(server, "test_consumer_state") as schema:
        counting = CountingStore(open_store(in_schema(server, schema)))
        yield counting
        counting.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(store: CountingStore, clock: Clock) -> CachedEntityStore:
    return CachedEntityStore(store, max_entities=1000, ttl_s=TTL_S, timer=clock)


@pytest.fixture
def two_rows(held_out: Dataset, predictor: Predictor) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two complete held-out rows the model gives different predictions."""
    rows = complete_rows(held_out, 200)
    predictions = predictor.predict([Features.model_validate(row) for row in rows])
    first = predictions[0].model_dump(exclude={"model_version"})
    for row, prediction in zip(rows[1:], predictions[1:], strict=True):
        if prediction.model_dump(exclude={"model_version"}) != first:
            return rows[0], row
    raise AssertionError("the model predicts the same for 200 held-out rows")


def event(event_id: str, entity_id: str, features: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"id": event_id, "entity_id": entity_id, "features": features or {}}).encode()


def published(results: dict[str, list[bytes]]) -> tuple[list[ScoredEvent], list[DeadLetter]]:
    settings = StreamSettings()
    return (
        [ScoredEvent.model_validate_json(body) for body in results[settings.output_topic]],
        [DeadLetter.model_validate_json(body) for body in results[settings.dead_letter_topic]],
    )


def flat(prediction: ScoredEvent) -> dict[str, Any]:
    """A prediction's fields but the event id, a mapping's fields as `name.key`."""
    fields: dict[str, Any] = {}
    for name, value in prediction.model_dump(exclude={"event_id"}).items():
        if isinstance(value, dict):
            fields.update({f"{name}.{key}": item for key, item in value.items()})
        else:
            fields[name] = value
    return fields


def predicted(predictor: Predictor, row: dict[str, Any], prediction: ScoredEvent) -> bool:
    """Whether `prediction` is the model's own of `row` (its numbers within float32 rounding:
    a batch of another size may round differently in the last place)."""
    (own,) = predictor.predict([Features.model_validate(row)])
    wanted = flat(ScoredEvent(event_id="", **own.model_dump()))
    actual = flat(prediction)
    numbers = {name for name, value in wanted.items() if isinstance(value, float)}
    exact = {name: value for name, value in wanted.items() if name not in numbers}
    return {name: actual.get(name) for name in exact} == exact and {
        name: actual.get(name) for name in numbers
    } == close_to({name: wanted[name] for name in numbers})


def test_a_hot_entity_is_read_once_per_ttl(
    state: CachedEntityStore, store: CountingStore, clock: Clock, two_rows: Any
) -> None:
    store.put_many([("hot", two_rows[0])])
    for _ in range(50):
        assert state.get_many(["hot"]) == {"hot": two_rows[0]}
        clock.now += TTL_S / 100
    assert store.queries == [["hot"]]
    clock.now += TTL_S
    state.get_many(["hot"])
    assert store.queries == [["hot"], ["hot"]]


def test_a_batch_queries_the_store_once_for_the_entities_not_cached(
    state: CachedEntityStore, store: CountingStore, two_rows: Any
) -> None:
    store.put_many([(f"e{i}", two_rows[i % 2]) for i in range(10)])
    state.get_many(["e0", "e1"])
    batch = [f"e{i % 10}" for i in range(100)] + ["nobody", "nobody"]
    found = state.get_many(batch)
    assert sorted(found) == [f"e{i}" for i in range(10)]
    assert store.queries == [["e0", "e1"], [*(f"e{i}" for i in range(2, 10)), "nobody"]]


def test_an_unknown_entity_is_remembered_as_unknown_until_the_ttl_ends(
    state: CachedEntityStore, store: CountingStore, clock: Clock, two_rows: Any
) -> None:
    assert state.get_many(["late"]) == {}
    store.put_many([("late", two_rows[0])])
    assert state.get_many(["late"]) == {}
    assert store.queries == [["late"]]
    clock.now += TTL_S
    assert state.get_many(["late"]) == {"late": two_rows[0]}


def test_the_cache_holds_at_most_max_entities(
    store: CountingStore, clock: Clock, two_rows: Any
) -> None:
    state = CachedEntityStore(store, max_entities=2, ttl_s=TTL_S, timer=clock)
    store.put_many([(name, two_rows[0]) for name in "abc"])
    for name in "abc":
        state.get_many([name])
    state.get_many(["c", "b"])
    state.get_many(["a"])
    assert store.queries == [["a"], ["b"], ["c"], ["a"]]


def test_events_are_completed_from_their_entitys_state_and_their_own_features_win(
    state: CachedEntityStore, store: CountingStore, predictor: Predictor, two_rows: Any
) -> None:
    stored, other = two_rows
    store.put_many([("a", stored)])
    consumer = Consumer(predictor, StreamSettings(), EventState(state))
    scored, dead_letters = published(
        consumer.handle([event("only-state", "a"), event("all-given", "a", other)])
    )
    assert dead_letters == []
    by_id = {prediction.event_id: prediction for prediction in scored}
    assert predicted(predictor, stored, by_id["only-state"])
    assert predicted(predictor, other, by_id["all-given"])
    partial = {FIRST: other[FIRST]}
    ((prediction,), _) = published(consumer.handle([event("partial", "a", partial)]))
    assert predicted(predictor, stored | partial, prediction)


def test_unknown_entities_and_missing_features_are_dead_lettered_once_with_the_reason(
    state: CachedEntityStore, store: CountingStore, predictor: Predictor, two_rows: Any
) -> None:
    store.put_many([("a", two_rows[0]), ("thin", {})])
    payloads = [event("fine", "a"), event("stranger", "nobody"), event("gaps", "thin")]
    consumer = Consumer(predictor, StreamSettings(), EventState(state))
    scored, dead_letters = published(consumer.handle(payloads))
    assert [prediction.event_id for prediction in scored] == ["fine"]
    assert [letter.event_id for letter in dead_letters] == ["stranger", "gaps"]
    unknown, incomplete = dead_letters
    assert unknown.error == "unknown entity: no state is stored for entity 'nobody'"
    assert base64.b64decode(unknown.payload) == payloads[1]
    assert incomplete.error.startswith(f"incomplete features [{FIRST!r}")
    assert base64.b64decode(incomplete.payload) == payloads[2]


@pytest.mark.anyio
async def test_a_state_change_reaches_the_predictions_within_the_ttl_without_a_restart(
    state: CachedEntityStore,
    store: CountingStore,
    clock: Clock,
    predictor: Predictor,
    two_rows: Any,
) -> None:
    before, after = two_rows
    store.put_many([("customer", before)])
    settings = StreamSettings(max_batch_size=8)
    broker = build_consumer(settings, predictor, EventState(state))
    predictions: list[ScoredEvent] = []
    dead_letters: list[DeadLetter] = []

    async def on_prediction(prediction: ScoredEvent) -> None:
        predictions.append(prediction)

    async def on_dead_letter(letter: DeadLetter) -> None:
        dead_letters.append(letter)

    listen(broker, settings.output_topic, on_prediction)
    listen(broker, settings.dead_letter_topic, on_dead_letter)
    async with TestBroker(broker) as test_broker:
        await publish(test_broker, settings.input_topic, [event("1", "customer")])
        store.put_many([("customer", after)])
        clock.now += TTL_S / 2
        await publish(test_broker, settings.input_topic, [event("2", "customer")])
        clock.now += TTL_S / 2
        await publish(test_broker, settings.input_topic, [event("3", "customer")])
        await publish(test_broker, settings.input_topic, [event("4", "newcomer")])

    by_id = {prediction.event_id: prediction for prediction in predictions}
    assert sorted(by_id) == ["1", "2", "3"]
    assert predicted(predictor, before, by_id["1"])
    assert predicted(predictor, before, by_id["2"])  # cached: the change is under TTL_S old
    assert predicted(predictor, after, by_id["3"])
    assert flat(by_id["1"]) != flat(by_id["3"])
    (letter,) = dead_letters
    assert (letter.event_id, letter.error) == (
        "4",
        "unknown entity: no state is stored for entity 'newcomer'",
    )
