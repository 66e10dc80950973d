"""An accepted dataset and a finished training job in moto, as the Evaluate model handler finds
them: buckets, the job's output, an endpoint serving the champion."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
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
    invocations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def training_job_name(self) -> str:
        return self.event["training_job_name"]

    @property
    def execution_name(self) -> str:
        return self.event["execution_arn"].rsplit(":", 1)[-1]

    def write_config(self, config: PipelineConfig) -> None:
        (self.task_root / "pipeline_config.json").write_text(config.to_json())

    def upload_test_split(self) -> None:
        bucket, key = self.event["validation"]["channels"]["test"][len("s3://"):].split("/", 1)
        body = self.data.test[[*self.data.features, "target"]].to_csv(index=False).encode()
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

    def deploy_champion(self, model_version: str = "3") -> None:
        self.sagemaker.create_model(
            ModelName="mlops-v3-11111111",
            ExecutionRoleArn=ROLE_ARN,
            PrimaryContainer={
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
                "ModelDataUrl": f"s3://{ARTIFACTS_BUCKET}/training-jobs/old/output/model.tar.gz",
                "Environment": {"MODEL_VERSION": model_version, "MODEL_PACKAGE_ARN": "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/3"},
            },
        )
        self.sagemaker.create_endpoint_config(
            EndpointConfigName="mlops-v3-11111111",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "mlops-v3-11111111",
                                 "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        )
        self.sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName="mlops-v3-11111111")

    def serve_with(self, model) -> None:
        """Answer InvokeEndpoint with `model`'s predictions, the way the inference container does."""
        invocations = self.invocations
        real_client = boto3.client

        def answer(params: dict[str, Any], **_: Any):
            request = json.loads(params["body"])
            invocations.append({"rows": len(request["instances"]), "inference_id": params["headers"].get("X-Amzn-SageMaker-Inference-Id")})
            rows = pd.DataFrame(request["instances"])[list(model.feature_names_in_)]
            body = json.dumps({
                "predictions": [str(p) for p in model.predict(rows)],
                "probabilities": model.predict_proba(rows).tolist(),
                "classes": [str(c) for c in model.classes_],
            }).encode()
            parsed = {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}
            return AWSResponse("https://runtime.sagemaker", 200, {}, None), parsed

        def client(service_name: str, *args: Any, **kwargs: Any):
            created = real_client(service_name, *args, **kwargs)
            if service_name == "sagemaker-runtime":
                created.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", answer)
            return created

        self.monkeypatch.setattr(boto3, "client", client)
