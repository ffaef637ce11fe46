"""Events as a project with per-entity state sends them: what test_consumer.py and
test_consumer_broker.py send."""

import json
from typing import Any

from contract_testing import CONTRACT

Row = dict[str, Any]
Changes = dict[str, Any]

ENTITY = "known"
"""The entity of every event here; its stored state is event_fixtures.py's `stored_row`."""


def entity_event(event_id: str, row: Row) -> bytes:
    """An event for ENTITY giving one row: each input of features.yaml by name."""
    return json.dumps({"id": event_id, "entity_id": ENTITY, "features": row}).encode()


def event_keys(event_id: str) -> dict[str, str]:
    """The keys the broker tests' events give: each key of features.yaml, valued the event id."""
    return dict.fromkeys(CONTRACT.key_names, event_id)


class BrokerEvents:
    """The events of the tests against a real broker: event `i` is for `entity-<n>`, whose
    stored state is held-out row n (n = i modulo the rows); a refused one names an entity
    without state."""

    refused_kind = "an unknown entity"
    refusal = "unknown entity: no state is stored for entity"
    """What the dead letter of a refused event says."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def event(self, i: int, prefix: str = "", changes: Changes | None = None) -> bytes:
        """Event `{prefix}{i}`, with the inputs of its entity's row changed by `changes`
        (None: removed)."""
        return self.for_entity(f"entity-{i % len(self.rows)}", i, prefix, changes)

    def refused(self, i: int, prefix: str = "") -> bytes:
        """Event `{prefix}{i}`, for an entity without stored state."""
        return self.for_entity(f"stranger-{i}", i, prefix)

    def for_entity(
        self, entity_id: str, i: int, prefix: str, changes: Changes | None = None
    ) -> bytes:
        features = self.rows[i % len(self.rows)] | (changes or {})
        features = {name: value for name, value in features.items() if value is not None}
        document = {
            "id": f"{prefix}{i}",
            "entity_id": entity_id,
            "keys": event_keys(f"{prefix}{i}"),
            "features": features,
        }
        return json.dumps(document).encode()
