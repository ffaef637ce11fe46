"""Invoke a handler in this process with an event file, as Lambda would, and print its answer.

    python -m {{ cookiecutter.__package_name }}.invoke events/predict.json
    python -m {{ cookiecutter.__package_name }}.invoke events/scheduled.json
    python -m {{ cookiecutter.__package_name }}.invoke --write-sample events/predict.json

The event's shape picks the handler: `function.handler` for API Gateway (payload 2.0),
`scheduled.handler` for an EventBridge `Scheduled Event`. No Docker, no AWS account.
`--write-sample` writes the sample `POST /predict` event instead (`lambda_state.sample_request`:
`make` rewrites events/predict.json with it whenever features.yaml changes).

Both functions read the entities' state from DynamoDB (the state table and AWS endpoint
settings). `--emulate-state` runs them without AWS: it starts moto's DynamoDB emulator (the
dev extra) in this process, creates the table and loads the sample entities into it before
invoking.
"""

import contextlib
import json

from .local_lambda import command_line, invoke, print_answer, write_sample


def main(argv: list[str] | None = None) -> None:
    parser = command_line(__doc__)
    parser.add_argument(
        "--emulate-state",
        action="store_true",
        help="read the state from a DynamoDB emulator holding the sample entities, not AWS",
    )
    args = parser.parse_args(argv)
    if args.write_sample:
        write_sample(args.event)
        print(f"wrote {args.event}")
        return
    from .state_dynamodb import emulated_state

    event = json.loads(args.event.read_text(encoding="utf-8"))
    with emulated_state() if args.emulate_state else contextlib.nullcontext():
        print_answer(invoke(event))


if __name__ == "__main__":
    main()
