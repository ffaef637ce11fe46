"""Lambda in this process: the context a handler gets, the event API Gateway sends for a
request, and the handler an event goes to. `invoke.py` runs them from the command line, the
tests and the benchmark call them directly: no Docker, no AWS account.
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


def print_answer(answer: dict[str, Any]) -> None:
    """Print the handler's answer as JSON, and exit with its status: 1 for a server error."""
    if isinstance(answer.get("body"), str):
        # An HTTP response: show its JSON body as JSON rather than as an escaped string.
        answer = {**answer, "body": json.loads(answer["body"])}
    print(json.dumps(answer, indent=2))
    status = answer.get("statusCode", 200)
    sys.exit(0 if status < 500 else 1)


def command_line(doc: str) -> argparse.ArgumentParser:
    """The arguments of `invoke` every project has: the event file, and `--write-sample`."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("event", type=Path, help="a JSON event file (see events/)")
    parser.add_argument(
        "--write-sample",
        action="store_true",
        help="write the sample POST /predict event to EVENT rather than invoke it",
    )
    return parser
