"""The stream consumer's events without per-entity state: each carries its whole row."""

from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .schema import Features, Keys
from .settings import Settings


class StateSettings(Settings):
    """No per-entity state: nothing to configure."""

    def open_state(self) -> "EventState":
        return EventState()


class EventFields(BaseModel):
    """An event to score: its id and the features of one row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    features: Features


E = TypeVar("E", bound=EventFields)


class EventState:
    """Every event is complete as it is: its row is its features."""

    def complete(self, events: Sequence[E]) -> tuple[list[E], list[Features], list[tuple[E, str]]]:
        """The events, their feature rows, and no refusals."""
        return list(events), [event.features for event in events], []

    def close(self) -> None:
        """Nothing to release."""
