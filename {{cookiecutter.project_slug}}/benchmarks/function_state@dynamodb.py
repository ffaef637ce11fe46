"""What state the benchmarked function reads: the sample entities', from moto's DynamoDB
emulator, which the benchmark starts. A round trip over this machine's loopback, where
AWS's takes a few milliseconds in the same region."""

import contextlib
from collections.abc import Iterator

from {{ cookiecutter.__package_name }}.state_dynamodb import emulated_state


@contextlib.contextmanager
def serving_state() -> Iterator[None]:
    """The emulator, holding the sample entities, with this process's settings (its endpoint,
    its credentials) pointing at it."""
    with emulated_state():
        yield
