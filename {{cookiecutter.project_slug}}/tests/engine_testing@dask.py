"""What the batch tests need of the Dask engine: a LocalCluster of two threads (starting
worker processes would cost more than scoring the tests' inputs), and a killed job whose
workers die with it."""

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KILL_TEST_ENVIRONMENT = {
    "{{ cookiecutter.__package_name | upper }}_PROCESSES": "false",
    "{{ cookiecutter.__package_name | upper }}_WORKERS": "1",
}
"""Threads in the job's own process: SIGKILL then stops every worker at once."""


@contextmanager
def running_engine() -> Iterator[dict[str, Any]]:
    """The engine's own settings for the tests: a LocalCluster of two worker threads."""
    yield {"workers": 2, "processes": False}


def kill(job: subprocess.Popen[bytes]) -> None:
    """SIGKILL the job, as losing the node would."""
    job.send_signal(signal.SIGKILL)
