"""The sample data set, Diabetes, which scikit-learn ships (442 patients, 10 baseline
measurements each (mean-centred and scaled), and a measure of disease progression one year
later): what training reads when no table is given, so a new project's first `make run`
downloads nothing.
"""

import pandas as pd
from sklearn.datasets import load_diabetes


def sample_table() -> pd.DataFrame:
    """The sample data set as a table: the data set's own column names, and the target."""
    bunch = load_diabetes(as_frame=True)
    frame: pd.DataFrame = bunch.data.copy()
    frame["progression"] = bunch.target
    return frame
