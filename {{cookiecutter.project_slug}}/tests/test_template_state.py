"""The SAM template's state table: keyed by entity, kept, and readable by both functions,
which may do nothing else with it."""

from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
STATE_TABLE = "{{ cookiecutter.__package_name | upper }}_STATE_TABLE"


def resources() -> dict[str, Any]:
    template: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    return dict(template["Resources"])


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_the_state_table_is_keyed_by_entity_id_and_kept() -> None:
    table = resources()["EntityStateTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "entity_id", "KeyType": "HASH"}]
    assert table["Properties"]["AttributeDefinitions"] == [
        {"AttributeName": "entity_id", "AttributeType": "S"}
    ]
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("function", "role", "actions"),
    [
        ("PredictFunction", "PredictRole", ["dynamodb:BatchGetItem", "dynamodb:GetItem"]),
        ("ScoreFunction", "ScoreRole", ["dynamodb:BatchGetItem"]),
    ],
)
def test_each_function_is_given_the_table_and_may_only_read_it(
    function: str, role: str, actions: list[str]
) -> None:
    everything = resources()
    variables = everything[function]["Properties"]["Environment"]["Variables"]
    assert variables[STATE_TABLE] == {"Ref": "EntityStateTable"}
    reaching = [
        statement
        for statement in statements(everything[role])
        if "dynamodb" in repr(statement) or "EntityStateTable" in repr(statement)
    ]
    assert reaching == [
        {
            "Effect": "Allow",
            "Action": actions,
            "Resource": {"Fn::GetAtt": ["EntityStateTable", "Arn"]},
        }
    ]


def test_only_the_two_functions_roles_exist() -> None:
    everything = resources()
    roles = sorted(name for name, item in everything.items() if item["Type"] == "AWS::IAM::Role")
    assert roles == ["PredictRole", "ScoreRole"]
