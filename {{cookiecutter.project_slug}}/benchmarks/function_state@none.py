"""What state the benchmarked function reads: none, it scores the sample event as given."""

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def serving_state() -> Iterator[None]:
    """Nothing to start or to point the function at: it keeps no state."""
    yield
