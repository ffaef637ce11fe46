"""The batch job without per-entity state: this project keeps none."""

from typing import Any

WITHOUT_STATE: dict[str, Any] = {}
"""Settings under which the job reads no state: its own."""
WITHOUT_STATE_OPTIONS: list[str] = []
"""The same, as the entry point's options."""
