"""What the batch tests need of the Spark engine: one local Spark session for every run of
the tests, and a kill that reaches Spark's Python workers."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from subprocess import Popen
from typing import Any

import psutil

from {{ cookiecutter.__package_name }}.engine_spark import start_spark

KILL_TEST_ENVIRONMENT: dict[str, str] = {}
"""Nothing to change: `kill` stops every process of the job."""


@contextmanager
def running_engine() -> Iterator[dict[str, Any]]:
    """A local Spark session the engine uses while the tests run (it uses the active one):
    starting Spark takes seconds, scoring the test inputs a fraction of that. No settings of
    its own."""
    session = start_spark("local[2]", "tests")
    try:
        yield {}
    finally:
        session.stop()


def kill(job: Popen[bytes]) -> None:
    """SIGKILL a process and every process under it together, as losing the node would.

    Spark's Python workers live in a process group of their own (forked by its daemon), so
    killing the job's group would leave them running, and committing, after the "kill". Each
    process is stopped first, so none can start another between the listing and the kill.
    """
    root = psutil.Process(job.pid)
    stopped: dict[int, psutil.Process] = {}
    while new := [p for p in (root, *root.children(recursive=True)) if p.pid not in stopped]:
        for process in new:
            with suppress(psutil.NoSuchProcess):
                process.suspend()
            stopped[process.pid] = process
    for process in stopped.values():
        with suppress(psutil.NoSuchProcess):
            process.kill()
