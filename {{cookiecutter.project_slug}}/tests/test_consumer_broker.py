"""The consumer against a real {{ cookiecutter.broker }} server (`{{ cookiecutter.__package_name | upper }}_BROKER_URL`), each test
on its own topics: every event ends up as a prediction or a dead letter, also when hostile
messages published with the broker's own client are mixed in and the consumer is killed
mid-stream and restarted."""

import asyncio
import base64
import collections
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.broker import Broker, create_broker, declare_topics, publish
from {{ cookiecutter.__package_name }}.consumer import (
    READY_MESSAGE,
    DeadLetter,
    ScoredEvent,
    StreamSettings,
    build_consumer,
)
from {{ cookiecutter.__package_name }}.predictor import Predictor

from broker_testing import (
    KILL_TEST_SETTINGS,
    handed_over,
    listen,
    pending,
    publish_raw,
    published,
    remove_topics,
)
from event_testing import BrokerEvents, event_keys
from framework_testing import UNSCORABLE

# This project's kind of events (`broker_events`) and the settings of their state
# (`state_settings`) are event_fixtures.py's fixtures.
pytestmark = [pytest.mark.integration, pytest.mark.anyio]
ENV_PREFIX = "{{ cookiecutter.__package_name | upper }}_"

TIMEOUT_S = 150
"""Long enough for the broker's production redelivery delay (at most 60 s) after the kill."""


def broker_address(url: str) -> tuple[str, int]:
    host, port = re.findall(r"([\w.-]+):(\d+)", url.split(",")[0])[0]
    return host, int(port)


@pytest.fixture
def settings(model_dir: Path, state_settings: dict[str, Any]) -> Iterator[StreamSettings]:
    """Settings naming topics of this test only, with those of the events' state; the topics
    are removed afterwards."""
    suffix = uuid.uuid4().hex[:12]
    settings = StreamSettings(
        **state_settings,
        model_dir=model_dir,
        input_topic=f"test-events-{suffix}",
        output_topic=f"test-predictions-{suffix}",
        dead_letter_topic=f"test-dead-letter-{suffix}",
        consumer_group=f"test-{suffix}",
        max_batch_size=16,
    )
    try:
        socket.create_connection(broker_address(settings.broker_url), timeout=2).close()
    except OSError as error:
        reason = f"no {{ cookiecutter.broker }} server at {settings.broker_url}: {error}"
        if os.environ.get("REQUIRE_BROKER"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield settings
    topics = [settings.input_topic, settings.output_topic, settings.dead_letter_topic]
    asyncio.run(remove_topics(settings, topics))


class Results:
    """What the consumer published, read by a broker of the test's own."""

    def __init__(self) -> None:
        self.predictions: list[ScoredEvent] = []
        self.dead_letters: list[DeadLetter] = []

    def ids(self) -> set[str | None]:
        return {p.event_id for p in self.predictions} | {d.event_id for d in self.dead_letters}

    async def wait_for(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not done():
                await asyncio.sleep(0.05)


@pytest.fixture
async def results(settings: StreamSettings) -> AsyncIterator[tuple[Broker, Results]]:
    """A connected broker listening to the output and dead-letter topics."""
    broker = create_broker(settings, graceful_timeout_s=5)
    results = Results()

    async def on_prediction(prediction: ScoredEvent) -> None:
        results.predictions.append(prediction)

    async def on_dead_letter(letter: DeadLetter) -> None:
        results.dead_letters.append(letter)

    listen(broker, settings.output_topic, on_prediction)
    listen(broker, settings.dead_letter_topic, on_dead_letter)

    await broker.start()
    await declare_topics(broker, [settings.output_topic, settings.dead_letter_topic])
    yield broker, results
    await broker.stop()


def events(made: BrokerEvents, count: int) -> list[bytes]:
    """`count` events with ids `0`...; every tenth one refused."""
    return [made.refused(i) if i % 10 == 9 else made.event(i) for i in range(count)]


def poison(made: BrokerEvents, n: int) -> dict[str, bytes | None]:
    """The `n`th message of each kind the consumer cannot score, unique by its bytes."""
    good = made.event(n)
    many_keys = b"{" + b",".join(b'"%d":0' % key for key in range(100_000)) + b"}"
    return {
        "not UTF-8": b'{"id": "\xff\xfe", "features": {}}' + b" " * n,
        "a lone surrogate id": b'{"id": "\\ud800", "features": {}}' + b" " * n,
        "a lone surrogate in a good event": made.event(n, "\ud800-"),
        # Under 1 MiB, the largest message a broker takes by default (Kafka, NATS).
        "900 kB": b'{"id": "large-%d", "features": {}, "pad": "%s"}' % (n, b"x" * 900_000),
        "100,000 keys": b'{"id": "keys-%d", "features": %s}' % (n, many_keys),
        "not JSON": b"not json %d" % n,
        "nested too deep": b'{"id": "n%d", "features": %s}' % (n, b"[" * 5000 + b"]" * 5000),
        "null": b"null" + b" " * n,
        "an array": b"[%d]" % n,
        made.refused_kind: made.refused(n, "refused-"),
        "truncated": good[: len(good) // 2],
        **{kind: made.event(n, "unscorable-", changes) for kind, changes in UNSCORABLE.items()},
        "no payload": None,
    }


async def test_scores_events_and_dead_letters_malformed_ones(
    settings: StreamSettings,
    results: tuple[Broker, Results],
    predictor: Predictor,
    broker_events: BrokerEvents,
) -> None:
    broker, seen = results
    state = settings.open_state()
    consumer = build_consumer(settings, predictor, state)
    await consumer.start()
    try:
        await publish(broker, settings.input_topic, events(broker_events, 50))
        await seen.wait_for(lambda: len(seen.predictions) + len(seen.dead_letters) >= 50)
    finally:
        await consumer.stop()
        state.close()
    scored = [i for i in range(50) if i % 10 != 9]
    assert sorted(int(p.event_id) for p in seen.predictions) == scored
    assert {p.model_version for p in seen.predictions} == {predictor.model_version}
    letters = seen.dead_letters
    assert sorted(d.event_id or "" for d in letters) == ["19", "29", "39", "49", "9"]
    assert all(broker_events.refusal in d.error for d in letters)
    assert all(json.loads(base64.b64decode(d.payload))["id"] == d.event_id for d in letters)
    # Each event gives every key of features.yaml (none when `keys: []`), valued its id.
    assert all(p.keys == event_keys(p.event_id) for p in seen.predictions)
    assert all(d.keys == event_keys(d.event_id or "") for d in letters)


async def test_predictions_and_dead_letters_are_plain_json_to_the_brokers_own_client(
    settings: StreamSettings, predictor: Predictor, broker_events: BrokerEvents
) -> None:
    """A consumer that is not FastStream reads what is published as it is: JSON bodies,
    labelled as JSON where the broker carries headers."""
    broker = create_broker(settings, graceful_timeout_s=5)
    await broker.start()
    await declare_topics(broker, [settings.output_topic, settings.dead_letter_topic])
    await broker.stop()
    state = settings.open_state()
    consumer = build_consumer(settings, predictor, state)
    await consumer.start()
    try:
        await publish_raw(settings, settings.input_topic, [broker_events.event(0), b"not json"])
        (prediction,) = await published(settings, settings.output_topic, 1, TIMEOUT_S)
        (letter,) = await published(settings, settings.dead_letter_topic, 1, TIMEOUT_S)
    finally:
        await consumer.stop()
        state.close()
    assert ScoredEvent.model_validate_json(prediction[0]).event_id == "0"
    assert base64.b64decode(DeadLetter.model_validate_json(letter[0]).payload) == b"not json"
    for body, metadata in [prediction, letter]:
        assert body.startswith(b"{"), body[:16]
        # Redis Streams carry no headers; every other broker's say what the body is.
        assert metadata == {} or metadata["content-type"] == "application/json", metadata


def start_consumer(
    settings: StreamSettings, log: Path, **overrides: str
) -> subprocess.Popen[bytes]:
    """`python -m {{ cookiecutter.__package_name }}.consumer` with the test's settings, once it is ready."""
    dumped = settings.model_dump(mode="json").items()
    # An unset setting stays unset: "None" is no value.
    variables = {name: str(value) for name, value in dumped if value is not None} | overrides
    environment = {
        **os.environ,
        **{f"{ENV_PREFIX}{name.upper()}": value for name, value in variables.items()},
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.__package_name }}.consumer"],
            env=environment,
            stdout=output,
            stderr=output,
        )
    deadline = time.monotonic() + TIMEOUT_S
    while READY_MESSAGE not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the consumer did not get ready:\n{log.read_text()}")
        time.sleep(0.05)
    return process


def mixed(made: BrokerEvents, start: int, count: int) -> tuple[list[bytes | None], dict[str, str]]:
    """Good events `start`... with every poison kind after every hundredth one, and the kind of
    each poison message that has a payload, by the payload's sha256 (as dead letters hold it)."""
    messages: list[bytes | None] = []
    kinds: dict[str, str] = {}
    for i in range(start, start + count):
        messages.append(made.event(i))
        if i % 100 == 50:
            for kind, payload in poison(made, i).items():
                messages.append(payload)
                if payload is not None:
                    kinds[hashlib.sha256(payload).hexdigest()] = kind
    return messages, kinds


async def test_every_poison_kind_is_dead_lettered_once_through_a_kill(
    settings: StreamSettings,
    results: tuple[Broker, Results],
    broker_events: BrokerEvents,
    tmp_path: Path,
) -> None:
    """Good events mixed with every kind of message the consumer cannot score, published with
    the broker's own client; the consumer is killed (SIGKILL) mid-stream and restarted."""
    _, seen = results
    count = 1000
    before, poison_before = mixed(broker_events, 0, count // 2)
    after, poison_after = mixed(broker_events, count // 2, count // 2)
    kinds = poison_before | poison_after
    # Messages without a payload: dead letters with an empty one.
    empty = [sum(m is None for m in before), sum(m is None for m in after)]
    good = {str(i) for i in range(count)}

    nothing = hashlib.sha256(b"").hexdigest()

    def letters() -> collections.Counter[str]:
        return collections.Counter(d.payload_sha256 for d in seen.dead_letters)

    def done() -> bool:
        dead = letters()
        predicted = {p.event_id for p in seen.predictions}
        return predicted >= good and dead.keys() >= kinds.keys() and dead[nothing] >= sum(empty)

    # Started first, the consumer creates its group (or queue) before any event arrives.
    logs = [tmp_path / "first.log", tmp_path / "restarted.log"]
    consumer = start_consumer(settings, logs[0], **KILL_TEST_SETTINGS)
    try:
        await publish_raw(settings, settings.input_topic, before)
        await seen.wait_for(lambda: len(seen.predictions) > 0)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        killed_at = len(seen.predictions) + len(seen.dead_letters)
        await publish_raw(settings, settings.input_topic, after)
        consumer = start_consumer(settings, logs[1], **KILL_TEST_SETTINGS)
        await seen.wait_for(done)
        # What the killed consumer held unacknowledged, in the restarted one's hands.
        await handed_over(settings, settings.input_topic, settings.consumer_group, TIMEOUT_S)
    finally:
        consumer.send_signal(signal.SIGTERM)
        exit_code = consumer.wait(timeout=30)
    assert exit_code == 0, "SIGTERM must drain and exit cleanly"
    left = await pending(settings, settings.input_topic, settings.consumer_group)
    log_bytes = sum(log.stat().st_size for log in logs)
    log_lines = [line for log in logs for line in log.read_text().splitlines()]

    dead = letters()
    by_kind = collections.Counter(kinds.get(key, "no payload") for key in dead.elements())
    print(f"killed after {killed_at} messages; pending after: {left}; log: {log_bytes} bytes")
    published = collections.Counter([*kinds.values(), *["no payload"] * sum(empty)])
    for kind, number in published.items():
        print(f"{kind}: {number} published, {by_kind[kind]} dead letters")
    assert {p.event_id for p in seen.predictions} == good
    assert left == 0
    # Exactly once, but for what the killed consumer held unacknowledged (at-least-once).
    assert all(dead[key] == 1 for key in poison_after)
    assert all(1 <= dead[key] <= 2 for key in poison_before)
    assert sum(empty) <= dead[nothing] <= sum(empty) + empty[0]
    assert all(d.event_id is None or d.event_id not in good for d in seen.dead_letters)
    assert len(seen.predictions) - count <= settings.max_batch_size * 4, "replayed at the kill"
    assert log_bytes < 200_000, "a log line per dead letter, not per redelivery"
    assert max(map(len, log_lines)) < 3_000, "a reason names a few problems, not all"
    assert not [line for line in log_lines if "is being executed" in line]
    # Every dead letter is small, whatever its message held.
    assert max(len(d.model_dump_json()) for d in seen.dead_letters) < 100_000
