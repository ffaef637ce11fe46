"""The contract fuzzer's fixed seeds (tests/fuzz_tables.py), tier 1: they cover every stressor,
each tier-2 seed is the table of one combination per strategy, and every table gives one
contract whether it is read as CSV or as Parquet (the tables no tier-2 combination trains on,
the long and the wide among them, are generated into a project here, as `make schema` would)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from . import fuzz_tables
from .test_generated import COMBINATIONS

TEMPLATE = Path(__file__).resolve().parent.parent
INFERENCE = (
    TEMPLATE
    / "{{cookiecutter.project_slug}}"
    / "src"
    / "{{cookiecutter.__package_name}}"
    / "contract_inference.py"
)


def contract_inference():
    spec = importlib.util.spec_from_file_location("fuzz_contract_inference", INFERENCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fixed_seeds_cover_every_stressor() -> None:
    covered = {name for names, _ in fuzz_tables.FIXED_SEEDS.values() for name in names}
    assert sorted(set(fuzz_tables.STRESSORS) - covered) == []


@pytest.mark.parametrize("seed", sorted(fuzz_tables.FIXED_SEEDS))
def test_the_stressor_table_is_what_each_seed_gives(seed: int) -> None:
    assert fuzz_tables.stressors(seed) == fuzz_tables.FIXED_SEEDS[seed][0]


def test_the_fuzz_combinations_train_on_the_seeds_the_table_says_and_moderate_sizes() -> None:
    fuzzed = {c.id: c.fuzz for c in COMBINATIONS if c.fuzz is not None}
    expected = {combination: seed for seed, (_, combination) in fuzz_tables.FIXED_SEEDS.items()}
    expected.pop(None, None)
    assert fuzzed == expected
    for seed in fuzzed.values():
        assert not {"long", "wide"} & set(fuzz_tables.stressors(seed)), seed


def test_a_seed_gives_the_same_table_every_time() -> None:
    first, second = fuzz_tables.table(2), fuzz_tables.table(2)
    assert first == second
    assert fuzz_tables.table(5) != first


def test_a_table_has_the_size_of_its_stressors() -> None:
    shapes = {}
    for seed in (0, 3, 16, 2):  # long, wide, tiny, moderate
        fuzzed = fuzz_tables.table(seed)
        shapes[seed] = (len(fuzzed.rows), len(fuzzed.columns))
    assert shapes[0][0] == fuzz_tables.LONG_ROWS
    assert shapes[3] == (fuzz_tables.MODERATE_ROWS, fuzz_tables.WIDE_COLUMNS)
    assert shapes[16][0] == fuzz_tables.TINY_ROWS
    assert shapes[2][0] == fuzz_tables.MODERATE_ROWS


TIER_2_SEEDS = sorted(seed for seed, (_, c) in fuzz_tables.FIXED_SEEDS.items() if c)
TIER_1_SEEDS = sorted(seed for seed, (_, c) in fuzz_tables.FIXED_SEEDS.items() if not c)


@pytest.mark.parametrize("seed", TIER_2_SEEDS)
def test_csv_and_parquet_of_a_fixed_seed_give_one_contract(seed: int, tmp_path: Path) -> None:
    fuzzed = fuzz_tables.table(seed)
    csv_path, parquet_path = fuzz_tables.write(fuzzed, tmp_path)
    inference = contract_inference()
    from_csv = inference.infer(csv_path, fuzzed.target, fuzzed.model_type)
    from_parquet = inference.infer(parquet_path, fuzzed.target, fuzzed.model_type)
    assert from_csv == from_parquet


@pytest.mark.parametrize("seed", TIER_1_SEEDS)
def test_a_tier_1_table_generates_its_project(cookies_session, tmp_path: Path, seed: int) -> None:
    """Generation infers the contract with the project's own `make schema` code, from the
    seed's training file; the other file gives the same contract (but the long table's)."""
    fuzzed = fuzz_tables.table(seed)
    csv_path, parquet_path = fuzz_tables.write(fuzzed, tmp_path)
    result = cookies_session.bake(
        extra_context={
            "training_data": str(tmp_path / fuzzed.training_file),
            "target": fuzzed.target,
            "model_type": fuzzed.model_type,
        }
    )
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    contract = yaml.safe_load((project / "features.yaml").read_text(encoding="utf-8"))
    assert contract["target"]["column"] == fuzzed.target
    inputs = {entry["column"] for entry in contract["inputs"]}
    assert inputs <= set(fuzzed.columns) - {fuzzed.target}
    assert json.loads((project / ".cookiecutter.json").read_text())["training_data"].endswith(
        fuzzed.training_file
    )
    if "long" in fuzzed.stressors:
        return  # a minute per pass over 200,000 rows: the other seeds compare the two files
    other = csv_path if fuzzed.training_file == parquet_path.name else parquet_path
    contract_of_other, _ = contract_inference().infer(other, fuzzed.target, fuzzed.model_type)
    assert contract == contract_of_other
