"""What the artifact records and trusts of LightGBM: read when training and when loading, so it
imports nothing of the framework (the serving image does not have it)."""

LIBRARIES = (
    "onnxmltools",
    "lightgbm",
)
"""Distributions beyond scikit-learn whose versions shape the artifact."""

PIPELINE_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        # estimator.py's subclasses, whose thresholds are exact in float32.
        f"{__package__}.estimator.LGBMClassifier",
        f"{__package__}.estimator.LGBMRegressor",
    }
)
"""Types of a fitted pipeline outside skops' default allow-list."""
