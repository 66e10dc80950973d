"""An accepted dataset and a finished training job in moto, as the Evaluate model handler finds
them: buckets, the job's output, with the champion's predictions when a version serves."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.common.config import PipelineConfig

REGION = "us-east-1"
DATA_BUCKET = "data-bucket"
ARTIFACTS_BUCKET = "artifacts-bucket"
ENDPOINT_NAME = "mlops-endpoint"
MODEL_PACKAGE_GROUP = "mlops-models"
ROLE_ARN = "arn:aws:iam::123456789012:role/model-role"


@dataclass(frozen=True)
class BreastCancer:
    """The breast cancer data with schema-style column names, split in two halves."""

    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]

    def fit(self, features: list[str], regularization: float):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=500))
        return model.fit(self.train[features], self.train["target"])


def pipeline_config(features: list[str], **gates: Any) -> PipelineConfig:
    columns = [{"name": name, "type": "float", "nullable": True, "max_null_fraction": 0.05} for name in features]
    columns.append({"name": "target", "type": "category", "categories": ["0", "1"]})
    gate_config = {"primary_metric": "roc_auc", "thresholds": {"roc_auc": 0.8, "f1": 0.7}, "max_regression": 0.01,
                   "bootstrap_samples": 50, **gates}
    return PipelineConfig.model_validate(
        {"project": "mlops", "dataset": {"target": "target", "problem_type": "binary", "columns": columns}, "gates": gate_config}
    )


def predictions_frame(model, rows: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    proba = model.predict_proba(rows[features])
    frame = pd.DataFrame({"prediction": model.predict(rows[features])})
    for j, label in enumerate(model.classes_):
        frame[f"proba__{label}"] = proba[:, j]
    return frame


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass
class EvaluationScenario:
    """An accepted dataset and a finished training job in moto, ready for the handler."""

    data: BreastCancer
    event: dict[str, Any]
    task_root: Path
    s3: Any
    sagemaker: Any
    monkeypatch: pytest.MonkeyPatch

    @property
    def training_job_name(self) -> str:
        return self.event["training_job_name"]

    @property
    def execution_name(self) -> str:
        return self.event["execution_arn"].rsplit(":", 1)[-1]

    def write_config(self, config: PipelineConfig) -> None:
        (self.task_root / "pipeline_config.json").write_text(config.to_json())

    def upload_test_split(self, labels: pd.Series | None = None) -> None:
        bucket, key = self.event["validation"]["channels"]["test"][len("s3://"):].split("/", 1)
        rows = self.data.test[[*self.data.features, "target"]]
        if labels is not None:
            rows = rows.assign(target=labels.to_numpy())
        body = rows.to_csv(index=False).encode()
        self.s3.put_object(Bucket=bucket, Key=key + "data.csv", Body=body)

    def start_training_job(self) -> str:
        self.sagemaker.create_training_job(
            TrainingJobName=self.training_job_name,
            AlgorithmSpecification={"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3", "TrainingInputMode": "File"},
            RoleArn=ROLE_ARN,
            HyperParameters={"sagemaker_program": "train.py", "estimator": "logistic_regression", "target": "target"},
            OutputDataConfig={"S3OutputPath": f"s3://{ARTIFACTS_BUCKET}/training-jobs/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        return self.sagemaker.describe_training_job(TrainingJobName=self.training_job_name)["ModelArtifacts"]["S3ModelArtifacts"]

    def upload_training_output(self, files: dict[str, bytes]) -> None:
        prefix = f"training-jobs/{self.training_job_name}/output/"
        self.s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=prefix + "model.tar.gz", Body=tar_gz({"model.joblib": b"model"}))
        self.s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=prefix + "output.tar.gz", Body=tar_gz(files))

    def upload_challenger(self, model) -> None:
        frame = predictions_frame(model, self.data.test, list(model.feature_names_in_))
        self.upload_training_output({"predictions.csv": frame.to_csv(index=False).encode()})

    def upload_comparison(
        self,
        challenger,
        champion,
        *,
        model_version: int = 3,
        registered_score: float | None = None,
        reference: pd.DataFrame | None = None,
        test_labels: pd.Series | None = None,
    ) -> None:
        """The training job's output when a version serves: both models' predictions on the test
        rows, and on `reference` (default: the train half) with its labels."""
        reference = self.data.train if reference is None else reference
        self.event["validation"]["champion"] = {
            "model_package_arn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/{model_version}",
            "model_version": model_version,
            "model_artifact": f"s3://{ARTIFACTS_BUCKET}/training-jobs/old/output/model.tar.gz",
            "primary_metric": "roc_auc",
            "registered_score": registered_score,
            "reference_manifest_uri": f"s3://{DATA_BUCKET}/curated/reference-holdouts/{self.execution_name}.manifest",
            "reference_dataset_versions": ["a" * 64],
        }
        if test_labels is not None:
            self.upload_test_split(test_labels)

        def csv(model, rows: pd.DataFrame) -> bytes:
            return predictions_frame(model, rows, list(model.feature_names_in_)).to_csv(index=False).encode()

        self.upload_training_output(
            {
                "predictions.csv": csv(challenger, self.data.test),
                "champion_predictions.csv": csv(champion, self.data.test),
                "reference_predictions.csv": csv(challenger, reference),
                "champion_reference_predictions.csv": csv(champion, reference),
                "reference_labels.csv": pd.DataFrame({"label": reference["target"]}).to_csv(index=False).encode(),
            }
        )
