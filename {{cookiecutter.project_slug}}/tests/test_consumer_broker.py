{%- set package = cookiecutter.__package_name -%}
"""The consumer against a real {{ cookiecutter.broker }} server (`{{ package | upper }}_BROKER_URL`), each test
on its own topics: every event ends up as a prediction or a dead letter, also when the
consumer is killed mid-stream and restarted."""

import asyncio
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

import pytest

from {{ package }}.broker import Broker, create_broker, declare_topics, publish
from {{ package }}.consumer import (
    READY_MESSAGE,
    DeadLetter,
    ScoredEvent,
    StreamSettings,
    build_consumer,
)
from {{ package }}.data import Dataset
from {{ package }}.predictor import Predictor

from broker_testing import KILL_TEST_SETTINGS, listen, remove_topics
from contract_testing import CONTRACT, complete_rows

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
ENV_PREFIX = "{{ package | upper }}_"

TIMEOUT_S = 60
FIRST = CONTRACT.inputs[0].name
"""The input the malformed events leave out."""


def broker_address(url: str) -> tuple[str, int]:
    host, port = re.findall(r"([\w.-]+):(\d+)", url.split(",")[0])[0]
    return host, int(port)


@pytest.fixture
def settings(model_dir: Path) -> Iterator[StreamSettings]:
    """Settings naming topics of this test only; the topics are removed afterwards."""
    suffix = uuid.uuid4().hex[:12]
    settings = StreamSettings(
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


def events(held_out: Dataset, count: int) -> list[bytes]:
    """`count` events with ids `0`...; every tenth one malformed."""
    payloads = []
    rows = complete_rows(held_out, count)
    for i in range(count):
        features = dict(rows[i % len(rows)])
        if i % 10 == 9:
            features.pop(FIRST)
        payloads.append(json.dumps({"id": str(i), "features": features}).encode())
    return payloads


async def test_scores_events_and_dead_letters_malformed_ones(
    settings: StreamSettings,
    results: tuple[Broker, Results],
    predictor: Predictor,
    held_out: Dataset,
) -> None:
    broker, seen = results
    consumer = build_consumer(settings, predictor)
    await consumer.start()
    try:
        await publish(broker, settings.input_topic, events(held_out, 50))
        await seen.wait_for(lambda: len(seen.predictions) + len(seen.dead_letters) >= 50)
    finally:
        await consumer.stop()
    scored = [i for i in range(50) if i % 10 != 9]
    assert sorted(int(p.event_id) for p in seen.predictions) == scored
    assert {p.model_version for p in seen.predictions} == {predictor.model_version}
    assert sorted(d.event_id or "" for d in seen.dead_letters) == ["19", "29", "39", "49", "9"]
    assert all(f"features.{FIRST}: Field required" in d.error for d in seen.dead_letters)
    assert all(json.loads(d.payload)["id"] == d.event_id for d in seen.dead_letters)


def start_consumer(
    settings: StreamSettings, log: Path, **overrides: str
) -> subprocess.Popen[bytes]:
    """`python -m {{ package }}.consumer` with the test's settings, once it is ready."""
    variables = {name: str(value) for name, value in settings.model_dump().items()} | overrides
    environment = {
        **os.environ,
        **{f"{ENV_PREFIX}{name.upper()}": value for name, value in variables.items()},
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "{{ package }}.consumer"], env=environment, stderr=output
        )
    deadline = time.monotonic() + TIMEOUT_S
    while READY_MESSAGE not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the consumer did not get ready:\n{log.read_text()}")
        time.sleep(0.05)
    return process


async def test_killed_consumer_loses_nothing(
    settings: StreamSettings,
    results: tuple[Broker, Results],
    held_out: Dataset,
    tmp_path: Path,
) -> None:
    broker, seen = results
    count = 2000
    expected = {str(i) for i in range(count)}
    # Started first, the consumer creates its group (or queue) before any event arrives.
    consumer = start_consumer(settings, tmp_path / "first.log", **KILL_TEST_SETTINGS)
    await publish(broker, settings.input_topic, events(held_out, count))
    await seen.wait_for(lambda: len(seen.predictions) > 0)
    consumer.send_signal(signal.SIGKILL)
    consumer.wait()
    killed_at = len(seen.ids())

    consumer = start_consumer(settings, tmp_path / "restarted.log", **KILL_TEST_SETTINGS)
    try:
        await seen.wait_for(lambda: seen.ids() >= expected)
    finally:
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(timeout=30) == 0, "SIGTERM must drain and exit cleanly"
    print(f"killed after {killed_at} of {count} events")
    assert {p.event_id for p in seen.predictions}.isdisjoint(d.event_id for d in seen.dead_letters)
    assert len({d.event_id for d in seen.dead_letters}) == count // 10
    # Duplicates are allowed (at-least-once) but only for events in flight at the kill.
    duplicates = len(seen.predictions) + len(seen.dead_letters) - count
    assert 0 <= duplicates <= settings.max_batch_size * 4
