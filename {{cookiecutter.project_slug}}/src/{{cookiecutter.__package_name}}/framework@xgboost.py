"""What the artifact records and trusts of XGBoost: read when training and when loading, so it
imports nothing of the framework (the serving image does not have it)."""

LIBRARIES = (
    "onnxmltools",
    "xgboost-cpu",
)
"""Distributions beyond scikit-learn whose versions shape the artifact."""

PIPELINE_TYPES = frozenset(
    {
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    }
)
"""Types of a fitted pipeline outside skops' default allow-list."""
