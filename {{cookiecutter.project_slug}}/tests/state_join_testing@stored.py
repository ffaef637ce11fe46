"""The batch job without its per-entity state, for the tests whose rows give every input
(test_batch_state.py joins rows with stored state)."""

from typing import Any

WITHOUT_STATE: dict[str, Any] = {"entity_id_column": ""}
"""Settings under which the job reads no state."""
WITHOUT_STATE_OPTIONS = ["--entity-id-column="]
"""The same, as the entry point's options."""
