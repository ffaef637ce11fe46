"""What the batch tests need of the pandas engine: it runs in the job's own process, so there
is nothing to start, and SIGKILL stops the whole job at once."""

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KILL_TEST_ENVIRONMENT: dict[str, str] = {}
"""Nothing to change: the job is one process."""


@contextmanager
def running_engine() -> Iterator[dict[str, Any]]:
    """The engine's own settings for the tests: none."""
    yield {}


def kill(job: subprocess.Popen[bytes]) -> None:
    """SIGKILL the job, as losing the node would."""
    job.send_signal(signal.SIGKILL)
