"""Messages/s and end-to-end latency through the {{ cookiecutter.broker }} broker in the settings, in one run:

- the workloads of `stream_workloads.py`, which says what each is: the consumer as it runs in
  production among them, and `scoring`, the consumer given events that carry their whole row;
- no scoring: the same consume-publish loop, with a constant prediction instead of the model;
- one at a time: a naive consumer, one message, one model call and one publish per event.

Latency runs from publishing an event to receiving its prediction, with the whole backlog
published at once (the consumer runs flat out). The workloads and no scoring are measured in
alternating rounds and compared by their medians. Needs the broker running (`make bench`).
"""

import asyncio
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from stream_workloads import MINIMUM_RATIOS, Workload, workloads

from {{ cookiecutter.__package_name }}.broker import create_broker, declare_topics, publish, subscribe
from {{ cookiecutter.__package_name }}.consumer import Consumer, ScoredEvent, StreamSettings, parse
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.delivery import Handler
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features, Prediction

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# The tests' helpers that remove the benchmark's topics afterwards, and turn the training
# data into request rows (the inputs of features.yaml).
from broker_testing import remove_topics
from contract_testing import complete_rows

EVENTS = 5000
ROUNDS = 3


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


async def main() -> None:
    settings = StreamSettings(max_batch_size=100)
    predictor = Predictor.from_settings(settings)
    rows = complete_rows(load_dataset(settings.training_data), EVENTS)
    (constant,) = predictor.predict([Features.model_validate(rows[0])])
    print(f"{EVENTS} events through {settings.broker_url}, model {predictor.model_version}")
    with workloads(predictor, rows, EVENTS) as scoring:
        scored = scoring["scoring"]
        variants: dict[str, Workload] = scoring | {
            "no scoring": (lambda s: Unscored(constant, s).handle, scored[1])
        }
        rates: dict[str, list[float]] = {name: [] for name in variants}
        # Alternating rounds, in swapped order each time: a drifting machine affects all alike.
        for round_ in range(ROUNDS):
            for name in sorted(variants, reverse=round_ % 2 == 1):
                result = await measure(name, settings, *variants[name])
                rates[name].append(result["per_second"])
        await measure("one at a time", settings.model_copy(update={"max_batch_size": 1}), *scored)
    medians = {name: float(np.median(rate)) for name, rate in rates.items()}
    listed = ", ".join(f"{name} {rate:,.0f}" for name, rate in medians.items())
    print(f"medians of {ROUNDS} rounds: {listed} msg/s")
    for (name, baseline), target in MINIMUM_RATIOS.items():
        ratio = medians[name] / medians[baseline]
        print(f"{name} / {baseline}: {ratio:.2f}x (target: at least {target}x)")
    cost = 1 - medians["scoring"] / medians["no scoring"]
    print(f"scoring costs {cost:.1%} of the loop's throughput (target: at most 10%)")


if __name__ == "__main__":
    asyncio.run(main())
