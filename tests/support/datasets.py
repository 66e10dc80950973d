"""The public datasets the tests train and validate on, shaped as the pipeline's schemas name them."""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer


def breast_cancer() -> pd.DataFrame:
    """The Wisconsin breast cancer data with its features and `target`, spaces in names made underscores."""
    return load_breast_cancer(as_frame=True).frame.rename(columns=lambda name: str(name).replace(" ", "_"))
