"""`make schema`: a contract from a table nobody wrote one for."""

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.__package_name }}.contract import ContractError, main, parse_contract, parse_text
from {{ cookiecutter.__package_name }}.contract_inference import InferenceError, dump, infer
from {{ cookiecutter.__package_name }}.data import load_dataset, split
from {{ cookiecutter.__package_name }}.train import check_export, export_onnx, fit

ROWS = 120


def shop_table() -> pd.DataFrame:
    """A table like a team's own: text, whole numbers, gaps, awkward names, an ID, dates."""
    generator = np.random.default_rng(7)
    price = generator.uniform(6.7, 61.9, ROWS).round(1)
    price[::9] = np.nan
    country = generator.choice(["de", "fr", "nl"], ROWS)
    return pd.DataFrame(
        {
            "Min.Price": price,
            "ShelveLoc": generator.choice(["Bad", "Good", "Medium"], ROWS),
            "country": [None if row % 11 == 0 else country[row] for row in range(ROWS)],
            "Units": generator.integers(0, 40, ROWS),
            "owner": generator.choice(["yes", "no"], ROWS),
            "order_id": [f"A{index:05d}" for index in range(ROWS)],
            "ordered_on": pd.date_range("2026-01-01", periods=ROWS).strftime("%Y-%m-%d"),
            "empty": [None] * ROWS,
            "card": np.where(price > 30, "yes", "no"),
            "sales": generator.normal(8, 2, ROWS).round(2),
            "segment": generator.choice(["a", "b", "c"], ROWS),
        }
    )


@pytest.fixture
def shop_csv(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    shop_table().to_csv(path, index=False)
    return path


def inputs_of(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in contract["inputs"]}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_kinds_names_and_left_out_columns_are_inferred(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"shop{suffix}"
    table = shop_table()
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)

    contract, notes = infer(path, "card", "binary_classification")

    inputs = inputs_of(contract)
    assert inputs["min_price"] | {"min": 0, "max": 0} == {
        "name": "min_price",
        "column": "Min.Price",
        "kind": "number",
        "nullable": True,
        "min": 0,
        "max": 0,
    }
    assert inputs["min_price"]["min"] == pytest.approx(np.nanmin(table["Min.Price"]))
    assert inputs["shelve_loc"]["levels"] == ["Bad", "Good", "Medium"]
    assert inputs["country"]["kind"] == "category"
    assert inputs["country"]["nullable"] is True
    assert inputs["units"]["kind"] == "integer"
    assert inputs["owner"]["kind"] == "boolean"
    assert {"order_id", "ordered_on", "empty"}.isdisjoint(inputs)
    assert contract["keys"] == [{"name": "order_id", "column": "order_id"}]
    assert len(notes) == 3
    assert contract["target"] == {"column": "card", "kind": "category", "levels": ["no", "yes"]}
    parse_contract(dump(contract))  # a valid contract


def test_a_csv_and_a_parquet_file_of_one_table_give_one_contract(tmp_path: Path) -> None:
    table = shop_table()
    # Whole numbers with gaps: pandas keeps them as floats (2006.0), in both files.
    table["built"] = [None if row % 7 == 0 else 1990 + row % 30 for row in range(ROWS)]
    table["store"] = "main"  # one value: tells no row from another
    csv_path, parquet_path = tmp_path / "shop.csv", tmp_path / "shop.parquet"
    table.to_csv(csv_path, index=False)
    table.to_parquet(parquet_path)

    from_csv, csv_notes = infer(csv_path, "card", "binary_classification")
    from_parquet, parquet_notes = infer(parquet_path, "card", "binary_classification")

    assert from_parquet == from_csv
    assert inputs_of(from_csv)["built"] == {
        "name": "built",
        "column": "built",
        "kind": "integer",
        "nullable": True,
        "min": 1990,
        "max": 2019,
    }
    assert "store" not in inputs_of(from_csv)
    assert "store: one value ('main') wherever given: left out" in csv_notes
    assert parquet_notes == csv_notes


def test_named_keys_join_the_id_like_ones_and_are_never_inputs(
    shop_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "features.yaml"

    arguments = [str(shop_csv), "card", "--output", str(output), "--keys"]

    assert main([*arguments, "segment"], model_type="binary_classification") == 0

    contract = parse_contract(output.read_text(encoding="utf-8"))
    assert set(contract.key_names) == {"segment", "order_id"}
    assert set(contract.key_names).isdisjoint(contract.names)
    assert "segment: named as a key" in capsys.readouterr().err
    assert main([*arguments, "card"], model_type="binary_classification") == 1
    assert "key 'card': not a column" in capsys.readouterr().err


def test_a_table_without_an_id_like_column_has_no_keys(shop_csv: Path) -> None:
    table = pd.read_csv(shop_csv).drop(columns=["order_id"])
    table.to_csv(shop_csv, index=False)

    assert infer(shop_csv, "card", "binary_classification")[0]["keys"] == []


def test_training_never_reads_the_keys(shop_csv: Path) -> None:
    contract = parse_contract(dump(infer(shop_csv, "card", "binary_classification")[0]))
    table = pd.read_csv(shop_csv)
    table["order_id"] = table["order_id"].sample(frac=1, random_state=3).to_numpy()
    shuffled = shop_csv.with_name("shuffled.csv")
    table.to_csv(shuffled, index=False)

    assert contract.keys
    assert load_dataset(shuffled, contract).fingerprint(contract) == load_dataset(
        shop_csv, contract
    ).fingerprint(contract)


@pytest.mark.parametrize(
    ("true", "false", "recorded"),
    [
        ("Yes", "No", {"true_values": ["Yes"], "false_values": ["No"]}),
        ("Y", "N", {"true_values": ["Y"], "false_values": ["N"]}),
        ("1", "0", {"true_values": ["1"], "false_values": ["0"]}),
        ("TRUE", "false", {}),
    ],
)
def test_boolean_spellings_are_recorded_and_read_back(
    tmp_path: Path, true: str, false: str, recorded: dict[str, list[str]]
) -> None:
    table = shop_table()
    table["member"] = np.where(table["Units"] > 20, true, false)
    path = tmp_path / "shop.csv"
    table.to_csv(path, index=False)

    data, _ = infer(path, "card", "binary_classification")
    member = inputs_of(data)["member"]
    contract = parse_contract(dump(data))
    item = next(item for item in contract.inputs if item.name == "member")

    assert member["kind"] == "boolean"
    assert {key: member[key] for key in recorded} == recorded
    assert ("true_values" in member) == bool(recorded)
    assert parse_text(item, true.lower()) is True
    assert parse_text(item, false) is False
    assert parse_text(item, "true") is True
    position = contract.number_names.index("member")
    numbers = load_dataset(path, contract).columns.numbers[:, position]
    np.testing.assert_array_equal(numbers, (table["Units"] > 20).to_numpy(np.float32))


def test_huge_numbers_distinct_text_and_constants_read_alike_from_both_files(
    tmp_path: Path,
) -> None:
    """Floats past 2**53 are all whole, yet measurements (not IDs); past 1e32 the model's
    float32 sums would overflow; 40 distinct texts in 40 rows are IDs (a key), not a
    category; a constant number gets one note whatever the file."""
    rows = 40
    table = pd.DataFrame(
        {
            "big": np.linspace(1e17, 1e20, rows),
            "huge": np.linspace(1e37, 3e38, rows),
            "comment": [f"note {row}" for row in range(rows)],
            "version": [3] * rows,
            "label": ["a", "b"] * (rows // 2),
        }
    )
    csv_path, parquet_path = tmp_path / "t.csv", tmp_path / "t.parquet"
    table.to_csv(csv_path, index=False)
    table.to_parquet(parquet_path)

    from_csv = infer(csv_path, "label", "binary_classification")
    from_parquet = infer(parquet_path, "label", "binary_classification")

    assert from_parquet == from_csv
    contract, notes = from_csv
    assert [(entry["name"], entry["kind"]) for entry in contract["inputs"]] == [("big", "number")]
    assert notes[0].startswith("huge: numbers up to 3e+38, past the 1e+32 the model's float32")
    assert [key["column"] for key in contract["keys"]] == ["comment"]
    assert "comment: text whose values never repeat (an ID): a key" in " ".join(notes)
    assert "version: one value ('3') wherever given: left out" in notes


def test_an_inferred_contract_trains_and_exports_with_mixed_kinds(shop_csv: Path) -> None:
    contract = parse_contract(dump(infer(shop_csv, "segment", "multiclass_classification")[0]))

    training, held_out = split(load_dataset(shop_csv, contract))
    pipeline = fit(training, contract)

    assert check_export(pipeline, export_onnx(pipeline, contract), held_out, contract) <= 1e-6


@pytest.mark.parametrize(
    ("target", "model_type", "message"),
    [
        ("sales", "binary_classification", "more than 50 classes"),
        ("segment", "binary_classification", "3 classes"),
        ("ShelveLoc", "regression", "a regression needs numbers"),
        ("absent", "regression", "no column 'absent'"),
    ],
)
def test_a_target_that_does_not_fit_is_refused(
    shop_csv: Path, target: str, model_type: str, message: str
) -> None:
    with pytest.raises(InferenceError, match=message):
        infer(shop_csv, target, model_type)


def test_a_target_with_one_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("x,y\n1,a\n2,a\n", encoding="utf-8")

    with pytest.raises(InferenceError, match="one class"):
        infer(path, "y", "binary_classification")


def test_columns_that_map_to_one_identifier_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twins.csv"
    path.write_text("Min.Price,min price,y\n1,2,a\n2,3,b\n", encoding="utf-8")

    with pytest.raises(InferenceError, match="are both 'min_price'"):
        infer(path, "y", "binary_classification")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("table.txt", "x,y\n1,a\n", "not a CSV or Parquet file"),
        ("table.csv", "", "the file is empty"),
        ("table.csv", "x,y\n", "no rows"),
        ("table.csv", "x,y\n1,a\n2,b,3\n", "line 3 has 3 fields"),
        ("table.parquet", "not parquet", "not a readable Parquet file"),
    ],
)
def test_unreadable_tables_are_refused(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InferenceError, match=message):
        infer(path, "y", "binary_classification")


def test_command_line_writes_the_contract_and_keeps_the_old_one_on_failure(
    shop_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "features.yaml"
    arguments = ["--output", str(output)]

    assert main([str(shop_csv), "card", *arguments], "binary_classification") == 0
    written = output.read_text(encoding="utf-8")
    assert written in capsys.readouterr().out

    assert main([str(shop_csv), "absent", *arguments], "binary_classification") == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert error.count("\n") == 1
    assert output.read_text(encoding="utf-8") == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.yaml", "shop.csv"]


def test_a_hand_edited_contract_with_an_error_is_a_one_line_contract_error() -> None:
    with pytest.raises(ContractError, match="duplicate input names"):
        parse_contract(
            "target: {column: y, kind: number}\n"
            "inputs:\n- {name: a, column: a, kind: number}\n- {name: a, column: b, kind: number}\n"
        )


def test_csv_cells_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["code", "y"], *[[f"{i % 3:03d}", i % 2] for i in range(30)]])

    contract, _ = infer(path, "y", "binary_classification")

    assert contract["inputs"][0]["kind"] == "integer"
    assert contract["target"]["levels"] == ["0", "1"]
