"""The batch job without per-entity state: this project keeps none."""

WITHOUT_STATE: dict[str, str] = {}
"""Settings under which the job reads no state: its own."""
WITHOUT_STATE_OPTIONS: list[str] = []
"""The same, as the entry point's options."""
