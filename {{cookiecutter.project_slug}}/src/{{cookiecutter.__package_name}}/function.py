"""The AWS Lambda function behind API Gateway (HTTP API, payload format 2.0).

    POST /predict         one request -> its prediction
    POST /predict/batch   a list of requests -> their predictions, in order, in one model call

What a request holds, and what completes it before the model scores it, is `lambda_state.py`'s.

Powertools routes the request (`APIGatewayHttpResolver`), validates the body against the
pydantic model of the route, logs one JSON line per invocation and publishes metrics in the
CloudWatch embedded metric format. Bad input gets a 4xx naming each problem, never a 5xx.
The model is loaded on the first invocation of an execution environment and kept for the
next ones; scikit-learn is never imported here.

The Lambda handler is `{{ cookiecutter.__package_name }}.function.handler`.
"""

import binascii
import json
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from .lambda_state import REJECTIONS, LambdaSettings, Problem, Request, State
from .predictor import Predictor, UnscorableInputError
from .schema import Prediction, described, read_json

SERVICE = "{{ cookiecutter.project_slug }}"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)


class FunctionSettings(LambdaSettings):
    """Settings of the Lambda function, on top of the shared and the state's ones."""

    max_batch_size: int = Field(default=1000, ge=1)
    """Most rows one /predict/batch call may hold."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    """Larger request bodies get a 413 before they are parsed (Lambda's own limit is 6 MB)."""


def problem(status: HTTPStatus, detail: list[dict[str, Any]]) -> Response[dict[str, Any]]:
    """A JSON error response: `detail` lists each problem (`loc`, `msg`, `type`)."""
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"detail": detail}
    )


def rejecting(explain: Callable[[Any], Problem]) -> Callable[[Any], Response[dict[str, Any]]]:
    """The exception handler answering what `explain` makes of an error of the state."""
    return lambda error: problem(*explain(error))


def create_app(
    settings: FunctionSettings, predictor: Predictor, state: State
) -> APIGatewayHttpResolver:
    """The routes of the function, scoring with `predictor` what `state` completes."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=read_json)

    def score(requests: list[Request]) -> list[Prediction]:
        predictions = predictor.predict(state.features(requests))
        metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=len(requests))
        return predictions

    @app.post("/predict")
    def predict(request: Annotated[Request, Body()]) -> Prediction:
        (prediction,) = score([request])
        return prediction

    @app.post("/predict/batch")
    def predict_batch(
        requests: Annotated[list[Request], Body(min_length=1, max_length=settings.max_batch_size)],
    ) -> list[Prediction]:
        return score(requests)

    def reject_invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        """422 naming each bad field."""
        detail = [described(item) for item in error.errors()]
        return problem(HTTPStatus.UNPROCESSABLE_ENTITY, detail)

    def reject_unsupported_content_type(
        error: RequestUnsupportedContentType,
    ) -> Response[dict[str, Any]]:
        """415 for a body that is not JSON (or a form)."""
        detail = [{"loc": ["body"], "msg": str(error), "type": "unsupported_content_type"}]
        return problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, detail)

    def reject_undecodable_body(error: ValueError | RecursionError) -> Response[dict[str, Any]]:
        """422, as for malformed JSON, for a body that is not valid base64, not UTF-8 text
        once decoded, or nested deeper than the JSON parser recurses."""
        message = f"the body is not JSON text: {error}"
        return problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            [{"loc": ["body"], "msg": message, "type": "json_invalid"}],
        )

    def reject_unscorable_rows(error: UnscorableInputError) -> Response[dict[str, Any]]:
        """422 for rows so far outside the training range that the output is not finite."""
        return problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            [{"loc": ["body"], "msg": str(error), "type": "unscorable_input"}],
        )

    app.exception_handler_manager.update_exception_handlers(
        {
            RequestValidationError: reject_invalid_request,
            RequestUnsupportedContentType: reject_unsupported_content_type,
            binascii.Error: reject_undecodable_body,
            UnicodeDecodeError: reject_undecodable_body,
            RecursionError: reject_undecodable_body,
            UnscorableInputError: reject_unscorable_rows,
            **{error: rejecting(explain) for error, explain in REJECTIONS.items()},
        }
    )
    return app


def too_large(event: dict[str, Any], max_body_bytes: int) -> bool:
    """Whether the request body (base64 or text, as API Gateway sent it) is over the limit."""
    body = event.get("body") or ""
    return len(body) * (3 / 4 if event.get("isBase64Encoded") else 1) > max_body_bytes


@cache
def configured() -> tuple[FunctionSettings, APIGatewayHttpResolver]:
    """Settings from the environment and the app, made once per execution environment."""
    settings = FunctionSettings()
    return settings, create_app(settings, Predictor.from_settings(settings), settings.state())


def respond(
    event: dict[str, Any],
    context: LambdaContext,
    settings: FunctionSettings,
    app: APIGatewayHttpResolver,
) -> dict[str, Any]:
    """The HTTP response to one API Gateway event."""
    if too_large(event, settings.max_body_bytes):
        detail = {
            "loc": ["body"],
            "msg": f"the request body is larger than {settings.max_body_bytes} bytes",
            "type": "too_large",
        }
        response: dict[str, Any] = {
            "statusCode": HTTPStatus.REQUEST_ENTITY_TOO_LARGE.value,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps({"detail": [detail]}),
            "isBase64Encoded": False,
        }
    else:
        response = app.resolve(event, context)
    status = int(response["statusCode"])
    logger.info("answered", extra={"route": event.get("routeKey"), "status": status})
    metrics.add_metric(name=f"Status{status // 100}xx", unit=MetricUnit.Count, value=1)
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point."""
    settings, app = configured()
    return respond(event, context, settings, app)
