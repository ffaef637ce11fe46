"""The per-entity state the stream consumer completes events with.

An event names its entity and the features it knows; the entity's state (`state.py`'s store,
read through `state_cache.py`'s cache) fills in the others. An event for an entity without
stored state, or missing a feature stored nowhere, is refused with that reason (the consumer
makes it a dead letter).
"""

from collections.abc import Sequence
from typing import TypeVar

from pydantic import Field, ValidationError

from .entities import EntityRequest, IncompleteFeaturesError, completed
from .schema import Features, Keys
from .settings import Settings
from .state import open_store
from .state_cache import CachedEntityStore


class StateSettings(Settings):
    """How the consumer reads the per-entity state (the store is the shared `state_url`)."""

    state_cache_size: int = Field(default=100_000, ge=1)
    """Most entities whose state is kept in memory; the least recently used go first."""
    state_cache_ttl_s: float = Field(default=30.0, gt=0)
    """How long state read from the store is used: a change there reaches the predictions
    within this time, and a hot entity costs one store read per this time."""

    def open_state(self) -> "EventState":
        """The state in the store at `state_url`, behind a cache of this size and TTL."""
        store = open_store(self.state_url)
        return EventState(CachedEntityStore(store, self.state_cache_size, self.state_cache_ttl_s))


class EventFields(EntityRequest):
    """An event to score: its id, its entity and the features it knows about it."""

    id: str = Field(
        min_length=1,
        max_length=256,
        description="The event's id, carried into the prediction (which stays small).",
    )
    keys: Keys = Field(
        default_factory=Keys,
        description="What identifies the event's row (features.yaml's keys), carried into the"
        " prediction and dead letter.",
    )


E = TypeVar("E", bound=EventFields)


class EventState:
    """Completes events from their entity's state, read through `cache`."""

    def __init__(self, cache: CachedEntityStore) -> None:
        self.cache = cache

    def complete(self, events: Sequence[E]) -> tuple[list[E], list[Features], list[tuple[E, str]]]:
        """The events that can be completed and their full feature rows (the entity's state,
        overridden by the event's features), and the others with the reason: events whose
        entity has no state, or that miss a feature stored nowhere. One store query at most."""
        stored = self.cache.get_many([event.entity_id for event in events])
        complete: list[E] = []
        rows: list[Features] = []
        refused: list[tuple[E, str]] = []
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
                refused.append((event, error))
        return complete, rows, refused

    def close(self) -> None:
        self.cache.close()
