"""Invoke a handler in this process with an event file, as Lambda would, and print its answer.

    python -m {{ cookiecutter.__package_name }}.invoke events/predict.json
    python -m {{ cookiecutter.__package_name }}.invoke events/scheduled.json

The event's shape picks the handler: `function.handler` for API Gateway (payload 2.0),
`scheduled.handler` for an EventBridge `Scheduled Event`. No Docker, no AWS account.
"""

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

FUNCTION_NAME = "{{ cookiecutter.project_slug }}"


class LocalContext(LambdaContext):
    """The Lambda context of a local invocation (what Powertools reads from it)."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._function_name = FUNCTION_NAME
        self._function_version = "$LATEST"
        self._invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
        )
        self._memory_limit_in_mb = 1024
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{FUNCTION_NAME}"
        self._log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """The handler's answer to `event`; the handler module is imported only when needed."""
    context = LocalContext()
    if event.get("detail-type") == "Scheduled Event":
        from .scheduled import handler as scheduled_handler

        answer: dict[str, Any] = scheduled_handler(event, context)
        return answer
    if event.get("version") == "2.0" and "requestContext" in event:
        from .function import handler as http_handler

        response: dict[str, Any] = http_handler(event, context)
        return response
    raise ValueError("not an API Gateway HTTP API (2.0) event nor an EventBridge scheduled event")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("event", type=Path, help="a JSON event file (see events/)")
    args = parser.parse_args(argv)
    answer = invoke(json.loads(args.event.read_text(encoding="utf-8")))
    if isinstance(answer.get("body"), str):
        # An HTTP response: show its JSON body as JSON rather than as an escaped string.
        answer = {**answer, "body": json.loads(answer["body"])}
    print(json.dumps(answer, indent=2))
    status = answer.get("statusCode", 200)
    sys.exit(0 if status < 500 else 1)


if __name__ == "__main__":
    main()
