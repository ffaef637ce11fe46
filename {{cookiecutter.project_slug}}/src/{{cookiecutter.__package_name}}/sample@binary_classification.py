"""The sample data set, Breast Cancer Wisconsin (Diagnostic), which scikit-learn ships (569
tumours, 30 measurements of cell nuclei each, labelled malignant or benign): what training
reads when no table is given, so a new project's first `make run` downloads nothing.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer


def sample_table() -> pd.DataFrame:
    """The sample data set as a table: the data set's own column names, and the target."""
    bunch = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = bunch.data.copy()
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return frame
