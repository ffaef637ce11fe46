"""The feature pipeline: what the model does to its inputs before the estimator sees them.

It is built from the feature contract, fitted with the model and exported inside the same
ONNX graph, so training and serving transform inputs with one implementation and cannot
skew. Per kind:

- numbers, integers and booleans: missing values (nullable inputs) become the training
  median; linear models also standardise them (trees split on thresholds and need no
  scaling, and float32 scaling inside ONNX would move values across split thresholds);
- categories: one-hot over the contract's levels (plus the missing level when the input is
  nullable); a level never seen in training encodes as all zeros.

scikit-learn and pandas are imported in the functions: serving reads the contract without them.
"""

from typing import TYPE_CHECKING

from .contract import MISSING_LEVEL, Columns, Contract, load_contract

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.compose import ColumnTransformer

FEATURE_NAMES: tuple[str, ...] = load_contract().names
"""The model's inputs, in model order: the float32 block, then the categories."""


def build_feature_pipeline(contract: Contract, *, scale: bool) -> "ColumnTransformer":
    """The transformer of the contract's inputs, by position in model order."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    width = len(contract.numbers)
    steps = []
    if any(item.nullable for item in contract.numbers):
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    if scale:
        steps.append(("scale", StandardScaler()))
    transformers = []
    if contract.numbers:
        numbers = Pipeline(steps) if steps else "passthrough"
        transformers.append(("numbers", numbers, list(range(width))))
    if contract.categories:
        levels = [
            [*(item.levels or ()), *([MISSING_LEVEL] if item.nullable else [])]
            for item in contract.categories
        ]
        encoder = OneHotEncoder(
            categories=levels, handle_unknown="ignore", sparse_output=False, dtype=np.float32
        )
        transformers.append(
            ("categories", encoder, list(range(width, width + len(contract.categories))))
        )
    return ColumnTransformer(transformers)


def model_frame(columns: Columns, contract: Contract) -> "pd.DataFrame":
    """The columns as the table scikit-learn fits and predicts on (model order)."""
    import pandas as pd

    numbers = pd.DataFrame(columns.numbers, columns=[item.name for item in contract.numbers])
    categories = pd.DataFrame(
        columns.categories, columns=[item.name for item in contract.categories], dtype=object
    )
    return pd.concat([numbers, categories], axis=1)
