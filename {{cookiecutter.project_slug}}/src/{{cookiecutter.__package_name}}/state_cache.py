"""The per-entity state as the stream consumer reads it: through a bounded in-process cache.

A hot entity appears in event after event; reading its state from the store each time would
put a database round trip on every event. The cache keeps what it read for `ttl_s` seconds
(at most `max_entities` entities; the least recently used go first when it is full), so:

- a batch of events costs at most one store query, for the entities not cached;
- an entity the store does not know is remembered as unknown for the same time, so a stream
  of events for it does not reach the store either;
- a change in the store (`python -m {{ cookiecutter.__package_name }}.state load ...`) reaches the
  predictions within `ttl_s`, without a restart.
"""

import time
from collections.abc import Callable, Sequence

from cachetools import TTLCache

from .entities import FeatureValues
from .state import EntityStore


class CachedEntityStore:
    """Reads entity state from `store`, keeping each answer (unknown included) for `ttl_s`."""

    def __init__(
        self,
        store: EntityStore,
        max_entities: int,
        ttl_s: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._cache: TTLCache[str, FeatureValues | None] = TTLCache(
            maxsize=max_entities, ttl=ttl_s, timer=timer
        )

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        """The state of those entities that have some: cached answers, and one store query
        for the others."""
        found: dict[str, FeatureValues] = {}
        misses: list[str] = []
        for entity_id in dict.fromkeys(entity_ids):
            try:
                values = self._cache[entity_id]
            except KeyError:  # never read, or read longer than ttl_s ago
                misses.append(entity_id)
                continue
            if values is not None:
                found[entity_id] = values
        if misses:
            stored = self.store.get_many(misses)
            for entity_id in misses:
                self._cache[entity_id] = stored.get(entity_id)
            found.update(stored)
        return found

    def close(self) -> None:
        self.store.close()
