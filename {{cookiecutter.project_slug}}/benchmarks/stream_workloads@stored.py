"""What the stream benchmark scores with per-entity state:

- stateful: the consumer as it runs in production (batches of up to 100, one model call each),
  each event naming one of ENTITIES entities and no features: the entity's state fills them
  in, read through the cache (cold at the start of each round) from a SQLite store of its own;
- scoring: the same consumer without the state: each event carries its whole row.
"""

import contextlib
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from {{ cookiecutter.__package_name }}.consumer import (
    Consumer,
    StreamSettings,
    parse,
    score,
)
from {{ cookiecutter.__package_name }}.delivery import Handler
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.state import open_store
from {{ cookiecutter.__package_name }}.state_cache import CachedEntityStore
from {{ cookiecutter.__package_name }}.stream_state import EventState

Workload = tuple[Callable[[StreamSettings], Handler], list[bytes]]
"""A consumer's handler, made from each round's settings, and the events it is given."""

ENTITIES = 1000
"""Distinct entities among the events: each is read from the store once per round."""

MINIMUM_RATIOS: dict[tuple[str, str], float] = {("stateful", "scoring"): 0.7}
"""Reading the state keeps at least 70% of the stateless consumer's messages/s."""


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


@contextlib.contextmanager
def workloads(
    predictor: Predictor, rows: Sequence[Mapping[str, object]], count: int
) -> Iterator[dict[str, Workload]]:
    """The workloads by name, over `count` events: event `i` is for `entity-<i % ENTITIES>`,
    whose stored state is a row of `rows`."""
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'entities.db'}")
        store.put_many((f"entity-{i}", rows[i % len(rows)]) for i in range(ENTITIES))

        def stateful(settings: StreamSettings) -> Handler:
            # A cold cache each round: every entity is read from the store once.
            cache = CachedEntityStore(store, settings.state_cache_size, settings.state_cache_ttl_s)
            return Consumer(predictor, settings, EventState(cache)).handle

        entity_events = [
            json.dumps({"id": str(i), "entity_id": f"entity-{i % ENTITIES}"}).encode()
            for i in range(count)
        ]
        backlog = [
            json.dumps(
                {"id": str(i), "entity_id": f"entity-{i % ENTITIES}", "features": row}
            ).encode()
            for i, row in zip(range(count), itertools.cycle(rows), strict=False)
        ]
        try:
            yield {
                "stateful": (stateful, entity_events),
                "scoring": (lambda s: Stateless(predictor, s).handle, backlog),
            }
        finally:
            store.close()
