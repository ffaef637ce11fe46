"""What the HTTP function's tests share: the limits they set, how they write an event, and what
a refused field gets."""

import json
from collections.abc import Callable
from typing import Any

from {{ cookiecutter.__package_name }}.local_lambda import http_event as gateway_event

MAX_BATCH_SIZE = 10
MAX_BODY_BYTES = 64 * 1024

Call = Callable[[dict[str, Any]], tuple[int, Any]]
"""Sends an event through the function's routes; returns the status and the JSON body."""


def http_event(
    body: Any = None, *, path: str = "/predict", raw: str | None = None
) -> dict[str, Any]:
    """The event API Gateway sends for `POST path` with `body` as JSON (or the `raw` text)."""
    return gateway_event(json.dumps(body) if raw is None else raw, path)


def assert_refused(status: int, answer: Any, field: str, error_type: str) -> None:
    """The answer is a 422 naming `field` alone, with `error_type`, and not echoing its value."""
    assert status == 422
    (problem,) = answer["detail"]
    assert problem["loc"][-1] == field
    assert problem["type"] == error_type
    assert problem["msg"]
    assert "input" not in problem  # rejected values are not echoed back
