"""Events as a project without per-entity state sends them, each carrying its whole row:
what test_consumer.py and test_consumer_broker.py send."""

import json
from typing import Any

from contract_testing import CONTRACT

Row = dict[str, Any]
Changes = dict[str, Any]

FIRST = CONTRACT.inputs[0].name
"""The input refused events leave out."""


def row_event(event_id: str, row: Row) -> bytes:
    """An event holding one row: each input of features.yaml by name."""
    return json.dumps({"id": event_id, "features": row}).encode()


def event_keys(event_id: str) -> dict[str, str]:
    """The keys the broker tests' events give: each key of features.yaml, valued the event id."""
    return dict.fromkeys(CONTRACT.key_names, event_id)


class BrokerEvents:
    """The events of the tests against a real broker: event `i` holds held-out row n (n = i
    modulo the rows); a refused one leaves out the first input."""

    refused_kind = "a missing field"
    refusal = f"features.{FIRST}: Field required"
    """What the dead letter of a refused event says."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def event(self, i: int, prefix: str = "", changes: Changes | None = None) -> bytes:
        """Event `{prefix}{i}`, with the inputs of its row changed by `changes` (None:
        removed)."""
        features = self.rows[i % len(self.rows)] | (changes or {})
        features = {name: value for name, value in features.items() if value is not None}
        document = {"id": f"{prefix}{i}", "keys": event_keys(f"{prefix}{i}"), "features": features}
        return json.dumps(document).encode()

    def refused(self, i: int, prefix: str = "") -> bytes:
        """Event `{prefix}{i}`, without the first input."""
        return self.event(i, prefix, {FIRST: None})
