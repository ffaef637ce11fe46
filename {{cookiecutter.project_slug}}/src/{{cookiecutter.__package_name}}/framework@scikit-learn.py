"""What the artifact records and trusts of scikit-learn: read when training and when loading, so it
imports nothing of the framework (the serving image does not have it)."""

LIBRARIES: tuple[str, ...] = ()
"""Distributions beyond scikit-learn whose versions shape the artifact."""

PIPELINE_TYPES: frozenset[str] = frozenset()
"""Types of a fitted pipeline outside skops' default allow-list."""
