"""Tree ensembles compare each input with thresholds: no input, however large, overflows them."""

import numpy as np

from {{ cookiecutter.__package_name }}.predictor import Predictor, score_accepted
from {{ cookiecutter.__package_name }}.schema import FLOAT32_MAX

from answers_testing import answers
from contract_testing import constant_columns


def test_trees_score_the_most_extreme_inputs(predictor: Predictor) -> None:
    columns = constant_columns(2, FLOAT32_MAX)
    columns.numbers[1] = -FLOAT32_MAX

    _, scores, refused = score_accepted(predictor, columns)

    assert refused == {}
    assert np.isfinite(answers(scores)).all()
