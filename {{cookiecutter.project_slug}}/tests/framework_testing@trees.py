"""What the consumer's tests know of a tree ensemble (XGBoost, LightGBM): it scores every input
the schema accepts."""

UNSCORABLE: dict[str, dict[str, float]] = {}
"""Changes to a good row that the model refuses all the same: none, as trees only compare
inputs with thresholds (`test_predictor.py` scores the most extreme ones)."""
