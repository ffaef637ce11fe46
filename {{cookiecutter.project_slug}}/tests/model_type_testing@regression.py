"""What the tests expect of a regressor's metrics, whatever the data."""

from {{ cookiecutter.__package_name }}.contract import Contract


def chance_level(contract: Contract) -> tuple[str, float]:
    """The metric a model that learnt something beats, and what guessing scores on it: the
    r2 of predicting the mean, whatever the inputs."""
    return "r2", 0.0
