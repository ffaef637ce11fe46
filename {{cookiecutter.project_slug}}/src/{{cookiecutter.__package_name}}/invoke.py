{%- set stateful = cookiecutter.stateful == "yes" -%}
"""Invoke a handler in this process with an event file, as Lambda would, and print its answer.

    python -m {{ cookiecutter.__package_name }}.invoke events/predict.json
    python -m {{ cookiecutter.__package_name }}.invoke events/scheduled.json
    python -m {{ cookiecutter.__package_name }}.invoke --write-sample events/predict.json

The event's shape picks the handler: `function.handler` for API Gateway (payload 2.0),
`scheduled.handler` for an EventBridge `Scheduled Event`. No Docker, no AWS account.
`--write-sample` writes the sample `POST /predict` event instead (`lambda_state.sample_request`:
`make` rewrites events/predict.json with it whenever features.yaml changes).
{%- if stateful %}

Both functions read the entities' state from DynamoDB (the state table and AWS endpoint
settings). `--emulate-state` runs them without AWS: it starts moto's DynamoDB emulator (the
dev extra) in this process, creates the table and loads the sample entities into it before
invoking.
{%- endif %}
"""

import argparse
{%- if stateful %}
import contextlib
{%- endif %}
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


def http_event(body: str, path: str = "/predict") -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload format 2.0) sends for `POST path` with a JSON
    `body`, from an IAM-signed caller."""
    route = f"POST {path}"
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "content-length": str(len(body.encode())),
            "content-type": "application/json",
            "host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "user-agent": "python-requests/2.32.3",
            "x-amz-date": "20261126T020000Z",
            "x-amzn-trace-id": "Root=1-6745a4c0-0e1f2a3b4c5d6e7f80912345",
            "x-forwarded-for": "10.0.12.34",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "authorizer": {
                "iam": {
                    "accessKey": "ASIAEXAMPLEKEY123456",
                    "accountId": "123456789012",
                    "callerId": "AROAEXAMPLEROLEID1234:caller",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": "arn:aws:sts::123456789012:assumed-role/scoring-caller/caller",
                    "userId": "AROAEXAMPLEROLEID1234:caller",
                }
            },
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "10.0.12.34",
                "userAgent": "python-requests/2.32.3",
            },
            "requestId": "CbZ3zhZ0IAMEaRg=",
            "routeKey": route,
            "stage": "$default",
            "time": "26/Nov/2026:02:00:00 +0000",
            "timeEpoch": 1795658400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def write_sample(path: Path) -> None:
    """Write the sample `POST /predict` event (`lambda_state.sample_request`)."""
    from .lambda_state import sample_request

    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(sample_request())
    path.write_text(json.dumps(http_event(body), indent=2) + "\n", encoding="utf-8")


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
    parser.add_argument(
        "--write-sample",
        action="store_true",
        help="write the sample POST /predict event to EVENT rather than invoke it",
    )
{%- if stateful %}
    parser.add_argument(
        "--emulate-state",
        action="store_true",
        help="read the state from a DynamoDB emulator holding the sample entities, not AWS",
    )
{%- endif %}
    args = parser.parse_args(argv)
    if args.write_sample:
        write_sample(args.event)
        print(f"wrote {args.event}")
        return
{%- if stateful %}
    from .state_dynamodb import emulated_state

    event = json.loads(args.event.read_text(encoding="utf-8"))
    with emulated_state() if args.emulate_state else contextlib.nullcontext():
        answer = invoke(event)
{%- else %}
    answer = invoke(json.loads(args.event.read_text(encoding="utf-8")))
{%- endif %}
    if isinstance(answer.get("body"), str):
        # An HTTP response: show its JSON body as JSON rather than as an escaped string.
        answer = {**answer, "body": json.loads(answer["body"])}
    print(json.dumps(answer, indent=2))
    status = answer.get("statusCode", 200)
    sys.exit(0 if status < 500 else 1)


if __name__ == "__main__":
    main()
