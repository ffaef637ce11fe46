"""Invoke a handler in this process with an event file, as Lambda would, and print its answer.

    python -m {{ cookiecutter.__package_name }}.invoke events/predict.json
    python -m {{ cookiecutter.__package_name }}.invoke events/scheduled.json
    python -m {{ cookiecutter.__package_name }}.invoke --write-sample events/predict.json

The event's shape picks the handler: `function.handler` for API Gateway (payload 2.0),
`scheduled.handler` for an EventBridge `Scheduled Event`. No Docker, no AWS account.
`--write-sample` writes the sample `POST /predict` event instead (`lambda_state.sample_request`:
`make` rewrites events/predict.json with it whenever features.yaml changes).
"""

import json

from .local_lambda import command_line, invoke, print_answer, write_sample


def main(argv: list[str] | None = None) -> None:
    args = command_line(__doc__).parse_args(argv)
    if args.write_sample:
        write_sample(args.event)
        print(f"wrote {args.event}")
        return
    print_answer(invoke(json.loads(args.event.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
