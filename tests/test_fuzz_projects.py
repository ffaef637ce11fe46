"""`make test-fuzz SEEDS="7 8 9"`: more fuzzed tables (tests/fuzz_tables.py) than CI's fixed
seeds, each through every strategy's fuzz combination (ML_DEPLOY_STRATEGIES limits them),
as tier 2 runs those: generate the project from the table, run its Quickstart (training on
the table), its own tests, lint and type-check.

Collected only when ML_DEPLOY_FUZZ_SEEDS names seeds (tests/conftest.py). A failure names its
seed and stressors and where its table was written (ML_DEPLOY_FUZZ_DIR, default
$TMPDIR/ml-deploy-fuzz/seed-N: table.csv and table.parquet) with the command that replays it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from . import fuzz_tables
from .test_generated import (
    COMBINATIONS,
    FUZZ_TABLES,
    Combination,
    fuzz_answers,
    run_quickstart_and_own_checks,
    selected,
)

SEEDS = [int(seed) for seed in os.environ.get("ML_DEPLOY_FUZZ_SEEDS", "").replace(",", " ").split()]


def fuzzed_combinations() -> list[Combination]:
    """Each strategy's fuzz combination (its `fuzz:` in tests/combinations/), on each seed."""
    found = []
    for combination in selected(COMBINATIONS):
        if combination.fuzz is None:
            continue
        own = fuzz_answers(combination.fuzz)
        answers = {k: v for k, v in combination.answers.items() if k not in own}
        found += [
            dataclasses.replace(
                combination,
                id=f"{combination.strategy}-seed-{seed}",
                answers=answers | fuzz_answers(seed),
                fuzz=seed,
                image=None,
            )
            for seed in SEEDS
        ]
    return found


@pytest.mark.generated
@pytest.mark.parametrize("combination", fuzzed_combinations(), ids=lambda c: c.id)
def test_a_fuzzed_table_trains_and_passes_its_projects_checks(
    baked, combination: Combination, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = combination.fuzz
    assert seed is not None
    directory = FUZZ_TABLES / f"seed-{seed}"
    replay = (
        f"seed {seed} ({', '.join(fuzz_tables.stressors(seed))}) failed in {combination.strategy};"
        f" its table: {directory}/table.csv and table.parquet; replay: make test-fuzz"
        f" SEEDS={seed} ML_DEPLOY_STRATEGIES={combination.strategy}"
    )
    print(replay.replace(" failed in", " in"))
    try:
        run_quickstart_and_own_checks(baked(combination), combination, tmp_path, request)
    except Exception as error:
        raise AssertionError(f"{replay}\n{error}") from error
