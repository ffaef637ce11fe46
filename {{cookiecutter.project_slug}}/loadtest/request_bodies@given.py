"""The load test's request bodies: rows of the sample data, in turn."""

import itertools

from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.settings import Settings

BODIES = itertools.cycle(load_dataset(Settings().training_data).columns.records(load_contract()))
