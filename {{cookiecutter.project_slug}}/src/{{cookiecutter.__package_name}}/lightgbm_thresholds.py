"""LightGBM's split thresholds made exact in float32, for the estimator of either model type."""

import re

import lightgbm
import numpy as np


def round_thresholds_down(model: lightgbm.LGBMModel) -> None:
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
