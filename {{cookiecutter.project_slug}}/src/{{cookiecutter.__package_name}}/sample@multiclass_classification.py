"""The sample data set, Iris plants, which scikit-learn ships (150 iris flowers, 4 measurements
each, labelled with one of 3 species): what training reads when no table is given, so a new
project's first `make run` downloads nothing.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris


def sample_table() -> pd.DataFrame:
    """The sample data set as a table: the data set's own column names, and the target."""
    bunch = load_iris(as_frame=True)
    frame: pd.DataFrame = bunch.data.copy()
    frame["species"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return frame
