"""The estimator: XGBoost's gradient-boosted trees, registered with skl2onnx through
onnxmltools' converter so the whole pipeline exports as one ONNX graph."""

from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from xgboost import XGBClassifier

SCALES_INPUTS = False
"""Trees split on thresholds and need no scaling; float32 scaling inside ONNX would move
values across split thresholds."""

update_registered_converter(
    XGBClassifier,
    "XGBoostXGBClassifier",
    calculate_linear_classifier_output_shapes,
    convert_xgboost,
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
)


def build_estimator() -> XGBClassifier:
    return XGBClassifier(n_estimators=100, max_depth=3, learning_rate=0.05, n_jobs=1)
