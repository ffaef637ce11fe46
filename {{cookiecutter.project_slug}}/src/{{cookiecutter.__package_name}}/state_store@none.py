"""Where the per-entity state is stored: this project keeps none in state.py's store (it was
generated with `stateful=no`, or its strategy keeps its state where it scores)."""

from pydantic_settings import BaseSettings


class StateStoreSettings(BaseSettings):
    """No per-entity state store: nothing to set (a part of `Settings`)."""
