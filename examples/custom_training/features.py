"""Feature engineering of the example: each `worst_<x>` measurement as a ratio to its
`mean_<x>` counterpart (how far the worst cell departs from the typical one), and the log of
every positive-valued area, beside the original numeric features; category features one-hot
encoded over the categories seen in training.

The transformer is pickled with the model, by reference to this module: the model's serving
code imports it from the artifact's code/ folder, where the bundle's modules are copied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

WORST_PREFIX = "worst_"
MEAN_PREFIX = "mean_"
AREA_SUFFIX = "area"
# A denominator this close to zero gives no usable ratio; the ratio is then missing.
MIN_RATIO_DENOMINATOR = 1e-9


class EngineeredFeatures(BaseEstimator, TransformerMixin):
    def __init__(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, frame: pd.DataFrame, labels=None) -> "EngineeredFeatures":
        self.ratio_pairs_ = [
            (name, MEAN_PREFIX + name.removeprefix(WORST_PREFIX))
            for name in self.numeric
            if name.startswith(WORST_PREFIX) and MEAN_PREFIX + name.removeprefix(WORST_PREFIX) in self.numeric
        ]
        self.log_columns_ = [name for name in self.numeric if name.endswith(AREA_SUFFIX)]
        self.categories_ = {
            name: sorted(frame[name].dropna().astype(str).unique()) for name in self.categorical
        }
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        columns = [frame[self.numeric].to_numpy(dtype=float)]
        for worst, mean in self.ratio_pairs_:
            denominator = frame[mean].to_numpy(dtype=float)
            safe = np.where(np.abs(denominator) < MIN_RATIO_DENOMINATOR, np.nan, denominator)
            columns.append((frame[worst].to_numpy(dtype=float) / safe)[:, None])
        for name in self.log_columns_:
            values = frame[name].to_numpy(dtype=float)
            columns.append(np.log(np.where(values > 0, values, np.nan))[:, None])
        for name, categories in self.categories_.items():
            text = frame[name].astype(object).where(frame[name].notna(), None)
            columns.append(np.stack([(text == category).to_numpy(dtype=float) for category in categories], axis=1))
        return np.hstack(columns)
