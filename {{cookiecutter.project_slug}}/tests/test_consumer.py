"""The consumer against the in-memory broker: predictions carry the event id and the model
version; malformed events become dead letters without holding up the others."""

import asyncio
import base64
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from {{ cookiecutter.__package_name }}.broker import publish
from {{ cookiecutter.__package_name }}.consumer import (
    PAYLOAD_PREFIX_BYTES,
    Consumer,
    DeadLetter,
    ScoredEvent,
    StreamSettings,
    build_consumer,
    parse,
    score,
)
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.delivery import Backoff
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.stream_state import EventState

from broker_testing import TestBroker, listen
from contract_testing import CONTRACT, complete_rows, rows, valid_row

Row = dict[str, Any]
MakeEvent = Callable[[str, Row], bytes]


def test_parse_keeps_valid_events_and_explains_invalid_ones(
    held_out: Dataset, event: MakeEvent
) -> None:
    valid = event("ok", valid_row(held_out))
    no_id = json.dumps({"features": {}}).encode()
    events, dead_letters = parse([valid, b"not json", no_id])
    assert [e.id for e in events] == ["ok"]
    assert [base64.b64decode(letter.payload) for letter in dead_letters] == [b"not json", no_id]
    assert [letter.event_id for letter in dead_letters] == [None, None]
    assert "invalid event" in dead_letters[0].error
    assert "id: Field required" in dead_letters[1].error


def test_parse_keeps_the_bytes_of_payloads_that_are_not_utf8() -> None:
    _, (letter,) = parse([b"\xff\xfe"])
    assert base64.b64decode(letter.payload) == b"\xff\xfe"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"id": "n", "features": ' + b"[" * 5000 + b"]" * 5000 + b"}", "recursion limit"),
        (b"null", "event: Input should be an object"),
        (b"[1]", "event: Input should be an object"),
        (b'{"id": "t", "feat', "EOF while parsing"),
        (b"", "EOF while parsing"),
    ],
    ids=["nested too deep", "null", "an array", "truncated", "empty"],
)
def test_parse_dead_letters_every_unreadable_payload(payload: bytes, error: str) -> None:
    events, (letter,) = parse([payload])
    assert events == []
    assert error in letter.error
    assert letter.event_id is None
    assert base64.b64decode(letter.payload) == payload


def test_a_lone_surrogate_is_dead_lettered_and_the_rest_of_the_batch_scored(
    predictor: Predictor, held_out: Dataset, state: EventState, event: MakeEvent
) -> None:
    row = valid_row(held_out)
    lone_id = b'{"id": "\\ud800", "features": {}}'
    payloads = [event("before", row), lone_id, event("\ud800", row), event("after", row)]
    settings = StreamSettings()
    published = Consumer(predictor, settings, state).handle(payloads)
    predictions = [json.loads(body) for body in published[settings.output_topic]]
    letters = [
        DeadLetter.model_validate_json(body) for body in published[settings.dead_letter_topic]
    ]
    assert [p["event_id"] for p in predictions] == ["before", "after"]
    assert [letter.event_id for letter in letters] == ["\\ud800", "\\ud800"]
    assert all("Invalid JSON" in letter.error for letter in letters)
    assert [base64.b64decode(letter.payload) for letter in letters] == payloads[1:3]


def test_a_dead_letter_is_small_whatever_its_message_holds() -> None:
    many_keys = {str(key): 0 for key in range(100_000)}
    payload = json.dumps({"id": "keys", "features": many_keys, "pad": "x" * 1_000_000}).encode()
    _, (letter,) = parse([payload])
    assert len(letter.model_dump_json()) < 100_000
    assert "; 99,996 more: Extra inputs are not permitted" in letter.error
    assert len(letter.error) < 1_000
    assert base64.b64decode(letter.payload) == payload[:PAYLOAD_PREFIX_BYTES]
    assert letter.payload_size == len(payload)
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()


@pytest.mark.anyio
async def test_failed_publishes_are_redelivered_ever_more_slowly_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    backoff = Backoff(first_s=0.5, longest_s=3.0)
    for _ in range(5):
        with pytest.raises(ConnectionError):
            async with backoff.publishing():
                raise ConnectionError("broker down")
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    async with backoff.publishing():
        pass
    with pytest.raises(ConnectionError):
        async with backoff.publishing():
            raise ConnectionError("broker down")
    assert waits[-1] == 0.5


@pytest.mark.anyio
async def test_every_event_gets_a_prediction_or_a_dead_letter(
    predictor: Predictor, held_out: Dataset, state: EventState, event: MakeEvent
) -> None:
    settings = StreamSettings(max_batch_size=8)
    broker = build_consumer(settings, predictor, state)
    predictions: list[ScoredEvent] = []
    dead_letters: list[DeadLetter] = []

    async def on_prediction(prediction: ScoredEvent) -> None:
        predictions.append(prediction)

    async def on_dead_letter(letter: DeadLetter) -> None:
        dead_letters.append(letter)

    listen(broker, settings.output_topic, on_prediction)
    listen(broker, settings.dead_letter_topic, on_dead_letter)

    by_id = {f"event-{i}": row for i, row in enumerate(complete_rows(held_out, 5))}
    payloads = [event(event_id, row) for event_id, row in by_id.items()]
    payloads.insert(2, b'{"id": "broken", "features": {"unknown": 1}}')
    async with TestBroker(broker) as test_broker:
        await publish(test_broker, settings.input_topic, payloads)

    assert sorted(p.event_id for p in predictions) == sorted(by_id)
    for scored in predictions:
        (expected,) = predictor.predict([Features.model_validate(by_id[scored.event_id])])
        assert scored.model_dump(exclude={"event_id", "keys"}) == expected.model_dump()
    (letter,) = dead_letters
    assert letter.event_id == "broken"
    assert "features.unknown: Extra inputs are not permitted" in letter.error
    assert base64.b64decode(letter.payload) == b'{"id": "broken", "features": {"unknown": 1}}'


@examples(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_every_row_the_contract_allows_is_scored_as_the_model_scores_it(
    predictor: Predictor,
    state: EventState,
    event: MakeEvent,
    model_row: Callable[[Row], Row],
    row: Row,
) -> None:
    events, dead_letters = parse([event("drawn", row)])
    assert dead_letters == []
    events, rows, refused = state.complete(events)
    assert refused == []
    (scored,), dead_letters = score(predictor, events, rows)
    assert dead_letters == []
    (expected,) = predictor.predict([Features.model_validate(model_row(row))])
    assert scored.model_dump(exclude={"event_id", "keys"}) == expected.model_dump()


def with_keys(payload: bytes, keys: dict[str, Any]) -> bytes:
    """An event's payload with `keys` beside its id."""
    return json.dumps(json.loads(payload) | {"keys": keys}).encode()


def test_predictions_and_dead_letters_carry_the_keys_their_events_give(
    predictor: Predictor, held_out: Dataset, state: EventState, event: MakeEvent
) -> None:
    if not CONTRACT.keys:
        pytest.skip("the contract has no keys (features.yaml `keys: []`): nothing to carry")
    first = CONTRACT.key_names[0]
    fine, also = complete_rows(held_out, 2)
    payloads = [
        with_keys(event("fine", fine), {first: "row-1"}),
        with_keys(event("also", also), {}),
        with_keys(event("unknown", also), {"not_a_key": 1}),
        with_keys(json.dumps({"id": "broken", "features": {}}).encode(), {first: 7}),
    ]
    messages = Consumer(predictor, StreamSettings(), state).handle(payloads)
    settings = StreamSettings()
    scored = [ScoredEvent.model_validate_json(m) for m in messages[settings.output_topic]]
    letters = [DeadLetter.model_validate_json(m) for m in messages[settings.dead_letter_topic]]

    assert {p.event_id: p.keys for p in scored} == {"fine": {first: "row-1"}, "also": {}}
    assert {letter.event_id: letter.keys for letter in letters} == {
        "unknown": {},
        "broken": {first: 7},
    }
    (unknown,) = [letter for letter in letters if letter.event_id == "unknown"]
    assert "keys.not_a_key: Extra inputs are not permitted" in unknown.error


def test_only_the_event_the_model_cannot_score_becomes_a_dead_letter(
    predictor: Predictor, held_out: Dataset, event: MakeEvent
) -> None:
    fine, also = complete_rows(held_out, 2)
    # The schema lets no infinite value through; one the model refuses all the same (built
    # here without validation, as a row far outside the training range would overflow).
    number = next(item.name for item in CONTRACT.inputs if item.kind in ("number", "integer"))
    refused = Features.model_construct(**{**fine, number: math.inf})
    events, _ = parse([event("fine", fine), event("refused", fine), event("also", also)])
    rows = [Features.model_validate(fine), refused, Features.model_validate(also)]

    scored, dead_letters = score(predictor, events, rows)

    assert [prediction.event_id for prediction in scored] == ["fine", "also"]
    (letter,) = dead_letters
    assert letter.event_id == "refused"
    assert letter.error.startswith("unscorable: values must be finite")
    assert base64.b64decode(letter.payload) == event("refused", fine)
