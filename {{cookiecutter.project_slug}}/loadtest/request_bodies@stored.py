"""The load test's request bodies: each names one of the sample entities, in turn. Store
them first with

    .venv/bin/python -m {{ cookiecutter.__package_name }}.state load-sample
"""

import itertools

SAMPLE_ENTITIES = 100

BODIES = itertools.cycle([{"entity_id": f"sample-{i}"} for i in range(SAMPLE_ENTITIES)])
