"""What the stream benchmark scores without per-entity state:

- scoring: the consumer as it runs in production (batches of up to 100, one model call each),
  each event carrying its whole row.
"""

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence

from {{ cookiecutter.__package_name }}.consumer import Consumer, StreamSettings
from {{ cookiecutter.__package_name }}.delivery import Handler
from {{ cookiecutter.__package_name }}.predictor import Predictor

Workload = tuple[Callable[[StreamSettings], Handler], list[bytes]]
"""A consumer's handler, made from each round's settings, and the events it is given."""

MINIMUM_RATIOS: dict[tuple[str, str], float] = {}
"""Nothing to compare beyond what scoring costs: there is no state to read."""


@contextlib.contextmanager
def workloads(
    predictor: Predictor, rows: Sequence[Mapping[str, object]], count: int
) -> Iterator[dict[str, Workload]]:
    """The workloads by name, over `count` events cycling through `rows`."""
    backlog = [
        json.dumps({"id": str(i), "features": row}).encode()
        for i, row in zip(range(count), itertools.cycle(rows), strict=False)
    ]
    yield {"scoring": (lambda s: Consumer(predictor, s, s.open_state()).handle, backlog)}
