"""The consumer against the in-memory broker: predictions carry the event id and the model
version; malformed events become dead letters without holding up the others."""

import asyncio
import base64
import json
from typing import Any

{% if cookiecutter.framework == "scikit-learn" -%}
import numpy as np
{% endif -%}
import pytest

from {{ cookiecutter.__package_name }}.broker import Backoff, publish
from {{ cookiecutter.__package_name }}.consumer import (
    DeadLetter,
    ScoredEvent,
    StreamSettings,
    build_consumer,
    parse,
{%- if cookiecutter.framework == "scikit-learn" %}
    score,
{%- endif %}
)
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.predictor import Predictor
{%- if cookiecutter.framework == "scikit-learn" %}
from {{ cookiecutter.__package_name }}.schema import FLOAT32_MAX
{%- endif %}

from broker_testing import TestBroker, listen


def event(event_id: str, row: Any) -> bytes:
    features = dict(zip(FEATURE_NAMES, row.tolist(), strict=True))
    return json.dumps({"id": event_id, "features": features}).encode()


def test_parse_keeps_valid_events_and_explains_invalid_ones(held_out: Dataset) -> None:
    valid = event("ok", held_out.features[0])
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
    predictor: Predictor, held_out: Dataset
) -> None:
    settings = StreamSettings(max_batch_size=8)
    broker = build_consumer(settings, predictor)
    predictions: list[ScoredEvent] = []
    dead_letters: list[DeadLetter] = []

    async def on_prediction(prediction: ScoredEvent) -> None:
        predictions.append(prediction)

    async def on_dead_letter(letter: DeadLetter) -> None:
        dead_letters.append(letter)

    listen(broker, settings.output_topic, on_prediction)
    listen(broker, settings.dead_letter_topic, on_dead_letter)

    rows = {f"event-{i}": row for i, row in enumerate(held_out.features[:5])}
    payloads = [event(event_id, row) for event_id, row in rows.items()]
    payloads.insert(2, b'{"id": "broken", "features": {"unknown": 1}}')
    async with TestBroker(broker) as test_broker:
        await publish(test_broker, settings.input_topic, payloads)

    assert sorted(p.event_id for p in predictions) == sorted(rows)
    for scored in predictions:
        (expected,) = predictor.predict_array(rows[scored.event_id][None, :])
        assert scored.model_dump(exclude={"event_id"}) == expected.model_dump()
    (letter,) = dead_letters
    assert letter.event_id == "broken"
    assert "features.unknown: Extra inputs are not permitted" in letter.error
    assert base64.b64decode(letter.payload) == b'{"id": "broken", "features": {"unknown": 1}}'
{%- if cookiecutter.framework == "scikit-learn" %}


def test_only_the_event_the_model_cannot_score_becomes_a_dead_letter(
    predictor: Predictor, held_out: Dataset
) -> None:
    huge = np.full(len(FEATURE_NAMES), FLOAT32_MAX / 2)
    payloads = [event("fine", held_out.features[0]), event("huge", huge)]
    events, _ = parse([*payloads, event("also", held_out.features[1])])

    scored, dead_letters = score(predictor, events)

    assert [prediction.event_id for prediction in scored] == ["fine", "also"]
    (letter,) = dead_letters
    assert letter.event_id == "huge"
    assert letter.error.startswith("unscorable: inputs so far outside the training range")
    assert base64.b64decode(letter.payload) == payloads[1]
{%- endif %}
