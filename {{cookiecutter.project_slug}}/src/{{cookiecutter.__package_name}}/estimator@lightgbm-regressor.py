"""The estimator: LightGBM's gradient-boosted trees, with split thresholds made exact in
float32 after fitting, registered with skl2onnx through onnxmltools' converter so the whole
pipeline exports as one ONNX graph."""

import re
from typing import Any, Self

import lightgbm
import numpy as np
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes

SCALES_INPUTS = False
"""Trees split on thresholds and need no scaling; float32 scaling inside ONNX would move
values across split thresholds."""


class LGBMRegressor(lightgbm.LGBMRegressor):
    """LightGBM's regressor whose fitted split thresholds are exact in float32."""

    def fit(self, *args: Any, **kwargs: Any) -> Self:
        super().fit(*args, **kwargs)
        round_thresholds_down(self)
        return self


def round_thresholds_down(model: LGBMRegressor) -> None:
    """Make LightGBM's float64 split thresholds exact in float32, without changing a split.

    The ONNX graph compares float32 inputs with float32 thresholds. Rounding a threshold to
    the nearest float32 can move it onto an input value and send that row the other way
    (measured on the diabetes sample data: a prediction off by 3.0). For a float32 input x,
    `x <= t` holds exactly when `x <= t32`, t32 the largest float32 not above t.
    """

    def round_down(match: re.Match[str]) -> str:
        thresholds = []
        for text in match.group(1).split():
            threshold = np.float32(text)
            if threshold > float(text):
                threshold = np.nextafter(threshold, np.float32(-np.inf))
            thresholds.append(repr(float(threshold)))
        return "threshold=" + " ".join(thresholds)

    text = re.sub(r"^threshold=(.*)$", round_down, model.booster_.model_to_string(), flags=re.M)
    # The header's byte sizes of the trees no longer hold: without them the trees are read
    # one after the other.
    text = re.sub(r"^tree_sizes=.*\n", "", text, flags=re.M)
    model._Booster = lightgbm.Booster(model_str=text)


update_registered_converter(
    LGBMRegressor,
    "LightGbmLGBMRegressor",
    calculate_linear_regressor_output_shapes,
    convert_lightgbm,
)


def build_estimator() -> LGBMRegressor:
    return LGBMRegressor(max_depth=3, num_leaves=8, learning_rate=0.05, verbose=-1)
