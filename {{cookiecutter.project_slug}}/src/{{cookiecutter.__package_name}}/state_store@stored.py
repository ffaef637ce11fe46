"""Where the per-entity state is stored (state.py reads and writes it)."""

from pydantic_settings import BaseSettings


class StateStoreSettings(BaseSettings):
    """The per-entity state store (a part of `Settings`)."""

    state_url: str = "sqlite:///state/entities.db"
    """The per-entity state store: `sqlite:///path.db`, or `postgresql://...` in production."""
