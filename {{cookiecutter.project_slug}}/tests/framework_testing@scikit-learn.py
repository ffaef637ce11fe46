"""What the consumer's tests know of a scikit-learn model: inputs the schema accepts that its
arithmetic overflows on."""

from {{ cookiecutter.__package_name }}.schema import FLOAT32_MAX

from contract_testing import CONTRACT

UNSCORABLE: dict[str, dict[str, float]] = {
    "a model overflow": {
        item.name: FLOAT32_MAX / 2 for item in CONTRACT.inputs if item.kind == "number"
    },
}
"""Changes to a good row that the model refuses all the same, by what they are: every number at
half the float32 limit, which a linear model's arithmetic overflows on."""
