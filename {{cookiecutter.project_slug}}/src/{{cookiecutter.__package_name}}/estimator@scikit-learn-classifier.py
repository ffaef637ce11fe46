"""The estimator: scikit-learn's logistic regression, which skl2onnx converts as is."""

from sklearn.linear_model import LogisticRegression

SCALES_INPUTS = True
"""The feature pipeline standardises numbers: a linear model converges on them, and the ONNX
graph's float32 arithmetic stays within the export tolerance of the fitted pipeline's."""


def build_estimator() -> LogisticRegression:
    return LogisticRegression(max_iter=1000)
