"""A training script of the user's own, run by the pipeline under the script-mode contract
(README, "Your own training code"): it reads the channels, fits a model with its own feature
engineering (features.py), prints its validation metric, and writes

- SM_MODEL_DIR/model.joblib and metadata.json, the built-in serving code's model format, so this
  folder needs no inference.py of its own;
- SM_OUTPUT_DATA_DIR/predictions.csv, one row per test row in the test split's order: the
  prediction, then one `proba__<class>` column per class.

Hyperparameters arrive as `--name value` arguments: the config's `training.hyperparameters`, and
the dataset's `target` and `problem_type`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from features import EngineeredFeatures

NUMERIC_TYPES = {"integer", "float"}
CATEGORICAL_TYPES = {"category", "boolean"}
NOT_FEATURES = {"date", "ignore"}


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--target")
    parser.add_argument("--problem_type")
    # Hyperparameters of the config this script does not use are accepted and left alone.
    arguments, _ = parser.parse_known_args()
    return arguments


def read_split(channel: str, dataset: dict) -> pd.DataFrame:
    path = Path(os.environ[f"SM_CHANNEL_{channel.upper()}"]) / "data.csv"
    text_columns = {c["name"]: str for c in dataset["columns"] if c["type"] in CATEGORICAL_TYPES}
    text_columns[dataset["target"]] = str
    return pd.read_csv(path, dtype=text_columns, float_precision="round_trip")


def main() -> None:
    arguments = parse_arguments()
    dataset = json.loads((Path(__file__).parent / "pipeline_config.json").read_text())["dataset"]
    if dataset["problem_type"] != "binary":
        raise SystemExit(f"this example trains binary classifiers; the dataset is {dataset['problem_type']}")
    target = dataset["target"]
    features = [c for c in dataset["columns"] if c["name"] != target and c["type"] not in NOT_FEATURES]
    numeric = [c["name"] for c in features if c["type"] in NUMERIC_TYPES]
    categorical = [c["name"] for c in features if c["type"] in CATEGORICAL_TYPES]
    names = numeric + categorical

    train = read_split("train", dataset)
    model = Pipeline([
        ("engineer", EngineeredFeatures(numeric, categorical)),
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=arguments.C, max_iter=5000)),
    ])
    model.fit(train[names], train[target].astype(str))
    classes = [str(label) for label in model.classes_]

    validation = read_split("validation", dataset)
    auc = roc_auc_score(validation[target].astype(str) == classes[1], model.predict_proba(validation[names])[:, 1])
    print(f"validation:roc_auc={auc:.6f};", flush=True)

    test = read_split("test", dataset)
    output = pd.DataFrame({"prediction": model.predict(test[names])})
    probabilities = model.predict_proba(test[names])
    for position, label in enumerate(classes):
        output[f"proba__{label}"] = probabilities[:, position]
    output_dir = Path(os.environ["SM_OUTPUT_DATA_DIR"])
    output_dir.mkdir(parents=True, exist_ok=True)
    output.to_csv(output_dir / "predictions.csv", index=False)

    model_dir = Path(os.environ["SM_MODEL_DIR"])
    joblib.dump(model, model_dir / "model.joblib")
    metadata = {
        "problem_type": dataset["problem_type"],
        "target": target,
        "features": [{"name": c["name"], "type": c["type"]} for c in features],
        "classes": classes,
        "estimator": "LogisticRegression on engineered features",
        "validation_metrics": {"roc_auc": float(np.round(auc, 6))},
        "training_rows": len(train),
    }
    (model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


if __name__ == "__main__":
    main()
