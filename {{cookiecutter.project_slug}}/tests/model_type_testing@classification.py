"""What the tests expect of a classifier's metrics, whatever the data."""

from {{ cookiecutter.__package_name }}.contract import Contract


def chance_level(contract: Contract) -> tuple[str, float]:
    """The metric a model that learnt something beats, and what guessing scores on it: the
    accuracy of picking one of the classes at random."""
    return "accuracy", 1 / len(contract.labels)
