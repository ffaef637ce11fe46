"""The estimator: LightGBM's gradient-boosted trees, with split thresholds made exact in
float32 after fitting, registered with skl2onnx through onnxmltools' converter so the whole
pipeline exports as one ONNX graph."""

from typing import Any, Self

import lightgbm
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes

from .lightgbm_thresholds import round_thresholds_down

SCALES_INPUTS = False
"""Trees split on thresholds and need no scaling; float32 scaling inside ONNX would move
values across split thresholds."""


class LGBMRegressor(lightgbm.LGBMRegressor):
    """LightGBM's regressor whose fitted split thresholds are exact in float32."""

    def fit(self, *args: Any, **kwargs: Any) -> Self:
        super().fit(*args, **kwargs)
        round_thresholds_down(self)
        return self


update_registered_converter(
    LGBMRegressor,
    "LightGbmLGBMRegressor",
    calculate_linear_regressor_output_shapes,
    convert_lightgbm,
)


def build_estimator() -> LGBMRegressor:
    return LGBMRegressor(max_depth=3, num_leaves=8, learning_rate=0.05, verbose=-1)
