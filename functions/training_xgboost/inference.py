"""Serving code for the SageMaker XGBoost container in script mode (SAGEMAKER_PROGRAM=inference.py).

The image's src/sagemaker_xgboost_container/serving.py (aws/sagemaker-xgboost-container, 3.0-5)
imports this module from SAGEMAKER_SUBMIT_DIRECTORY and wraps its model_fn, input_fn, predict_fn
and output_fn in sagemaker-containers' Transformer, as the scikit-learn image does. The training
entry point copies this file, ``tabular_serving.py`` and the pipeline config into
``<model dir>/code/``.

Requests and responses are those of the scikit-learn trainer's endpoint (``tabular_serving``, the
scikit-learn trainer's inference.py): JSON objects or CSV rows in, ``{"predictions",
"probabilities", "classes"}`` or CSV lines out, 400/406/415 for what the client sent wrong. The
model is an XGBoost Booster over the features encoded by ``FeatureEncoder`` (numbers as they are,
missing values as XGBoost's missing, each category one column), and ``XGBoostModel`` gives it the
predict / predict_proba / classes_ interface the shared scoring code calls.

Runs on Python 3.10+ with numpy, pandas and xgboost only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost

try:
    from . import tabular_serving
    from .tabular_serving import *  # noqa: F401,F403 - the names the shared training code reads from its serving module
except ImportError:
    # Run as a script or imported by the serving container: the code directory is on sys.path.
    import tabular_serving  # type: ignore[no-redef]
    from tabular_serving import *  # type: ignore[no-redef]  # noqa: F401,F403

MODEL_FILE_NAME = "xgboost-model.json"
METADATA_FILE_NAME = "metadata.json"
CONFIG_FILE_NAME = tabular_serving.CONFIG_FILE_NAME
InvalidRequestError = tabular_serving.InvalidRequestError


class FeatureEncoder:
    """The model's input matrix from a prepared feature frame (tabular_serving.prepare_features):
    numeric columns as float (NaN is XGBoost's missing value), then one 0/1 column per known
    category of each categorical column; an unseen or missing category sets none of its columns."""

    def __init__(self, features: list[dict[str, str]], categories: dict[str, list[str]]) -> None:
        self.numeric = tabular_serving.numeric_feature_names(features)
        self.categorical = tabular_serving.categorical_feature_names(features)
        self.categories = {name: list(categories.get(name, [])) for name in self.categorical}

    @property
    def column_names(self) -> list[str]:
        one_hot = [f"{name}={value}" for name in self.categorical for value in self.categories[name]]
        return [*self.numeric, *one_hot]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = [frame[self.numeric].to_numpy(dtype=np.float32)] if self.numeric else []
        for name in self.categorical:
            known = self.categories[name]
            codes = pd.Categorical(frame[name], categories=known).codes
            block = np.zeros((len(frame), len(known)), dtype=np.float32)
            present = codes >= 0
            block[np.flatnonzero(present), codes[present]] = 1.0
            blocks.append(block)
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(blocks)


class XGBoostModel:
    """A trained Booster with its encoder and class labels; predict and predict_proba as a
    scikit-learn classifier's, so the shared scoring and metrics code scores it as it scores the
    scikit-learn pipeline."""

    def __init__(self, booster: xgboost.Booster, encoder: FeatureEncoder, problem_type: str, classes: list[str] | None) -> None:
        self.booster = booster
        self.encoder = encoder
        self.problem_type = problem_type
        self.classes_ = np.asarray(classes if classes is not None else [], dtype=object)

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = xgboost.DMatrix(self.encoder.encode(frame), feature_names=self.encoder.column_names)
        return np.asarray(self.booster.predict(matrix), dtype=float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self._raw(frame)
        if self.problem_type == "binary":
            return np.column_stack([1.0 - raw, raw])
        return raw.reshape(len(frame), len(self.classes_))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.problem_type == "regression":
            return self._raw(frame)
        return self.classes_[np.argmax(self.predict_proba(frame), axis=1)]


def load_model(directory: Path) -> tuple[XGBoostModel, dict[str, Any]]:
    metadata = json.loads((directory / METADATA_FILE_NAME).read_text(encoding="utf-8"))
    booster = xgboost.Booster()
    booster.load_model(str(directory / MODEL_FILE_NAME))
    encoder = FeatureEncoder(metadata["features"], metadata.get("categories") or {})
    return XGBoostModel(booster, encoder, metadata["problem_type"], metadata.get("classes")), metadata


def model_fn(model_dir: str) -> tabular_serving.ServingModel:
    model, metadata = load_model(Path(model_dir))
    # input_fn has no model argument: the shared input_fn reads the features loaded here.
    tabular_serving._loaded_features = metadata["features"]
    return tabular_serving.ServingModel(model, metadata)


input_fn = tabular_serving.input_fn
predict_fn = tabular_serving.predict_fn
output_fn = tabular_serving.output_fn
