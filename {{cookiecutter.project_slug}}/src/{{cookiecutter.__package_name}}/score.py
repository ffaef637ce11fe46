"""`{{ cookiecutter.__package_name }}-score`: the batch job's entry point, for a scheduler or by hand.

Options override the `{{ cookiecutter.__package_name | upper }}_*` settings. Exits 0 when every input row was scored or
rejected (the counts are printed as JSON), 1 when the input or the run cannot be scored.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from .artifact import ArtifactError
from .batch import RunMismatchError
from .batch_validation import InputError
from .engine_{{ cookiecutter.__batch_engine }} import EngineSettings, add_input_arguments, run
from .predictor import Predictor
from .state_join import add_state_arguments

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_arguments(parser)
    parser.add_argument("--output-dir", type=Path, help="where runs write (default: predictions)")
    parser.add_argument("--run-id", help="the run to write, resume or skip (default: today, UTC)")
    parser.add_argument("--chunk-rows", type=int, help="rows per chunk (default: 100000)")
    parser.add_argument("--model-dir", type=Path, help="the model (default: models/current)")
    add_state_arguments(parser)
    options = vars(parser.parse_args(argv))
    return {name: value for name, value in options.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = EngineSettings(**parse_args(argv))
        summary = run(settings, Predictor.from_settings(settings))
    except (ArtifactError, InputError, RunMismatchError) as error:
        logger.error("%s", error)
        return 1
    logger.info(
        "run %s: %d rows in, %d scored, %d rejected; outputs in %s (predictions/, rejects/)",
        summary.run_id,
        summary.rows,
        summary.scored,
        summary.rejected,
        summary.output,
    )
    print(summary.as_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
