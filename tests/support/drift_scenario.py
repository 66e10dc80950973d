"""A serving endpoint in moto for the drift monitor: its model package names a training profile
built by validation's drift code from the breast cancer data; and a writer of SageMaker-format
capture objects."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from functions.common.config import PipelineConfig

REGION = "us-east-1"
DATA_BUCKET = "data-bucket"
ENDPOINT_NAME = "mlops-endpoint"
VARIANT_NAME = "AllTraffic"
METRICS_NAMESPACE = "mlops/monitoring"
MODEL_PACKAGE_GROUP = "mlops-models"
ROLE_ARN = "arn:aws:iam::123456789012:role/model-role"
IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
PROFILE_KEY = "curated/" + "ab" * 32 + "/profile.json"


@dataclass(frozen=True)
class BreastCancer:
    frame: pd.DataFrame
    features: list[str]

    def resampled(self, rows: int, seed: int) -> pd.DataFrame:
        picked = np.random.default_rng(seed).integers(0, len(self.frame), rows)
        return self.frame.iloc[picked][self.features].reset_index(drop=True)

    def shifted(self, rows: int, seed: int, feature: str, standard_deviations: float) -> pd.DataFrame:
        traffic = self.resampled(rows, seed)
        traffic[feature] = traffic[feature] + standard_deviations * self.frame[feature].std()
        return traffic


def pipeline_config(features: list[str]) -> PipelineConfig:
    columns: list[dict[str, Any]] = [
        {"name": name, "type": "float", "nullable": True, "max_null_fraction": 0.05} for name in features
    ]
    columns.append({"name": "target", "type": "category", "categories": ["0", "1"]})
    return PipelineConfig.model_validate(
        {
            "project": "mlops",
            "dataset": {"target": "target", "problem_type": "binary", "columns": columns},
            "gates": {"primary_metric": "roc_auc"},
        }
    )


def capture_line(
    rows: pd.DataFrame, *, encoding: str = "JSON", inference_id: str, response: dict[str, Any] | None = None
) -> str:
    """One SageMaker data-capture record for a request carrying `rows`."""
    if encoding == "CSV":
        content_type, data = "text/csv", rows.to_csv(header=False, index=False)
    else:
        content_type = "application/json"
        data = json.dumps({"instances": rows.to_dict(orient="records")})
        if encoding == "BASE64":
            data = base64.b64encode(data.encode()).decode()
    answer = response or {"predictions": ["1"] * len(rows), "probabilities": [[0.2, 0.8]] * len(rows), "classes": ["0", "1"]}
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": json.dumps(answer),
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": f"event-{inference_id}", "inferenceTime": "2026-11-22T15:00:00Z",
                              "inferenceId": inference_id},
            "eventVersion": "0",
        }
    )


@dataclass
class DriftScenario:
    data: BreastCancer
    config: PipelineConfig
    task_root: Path
    s3: Any
    sagemaker: Any
    cloudwatch: Any
    written: list[str] = field(default_factory=list)

    def write_capture(self, name: str, lines: list[str], hour: datetime | None = None) -> str:
        at = hour or datetime.now(UTC)
        key = f"capture/{ENDPOINT_NAME}/{VARIANT_NAME}/{at:%Y/%m/%d/%H}/{name}.jsonl"
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
        self.written.append(key)
        return key

    def write_traffic(self, name: str, traffic: pd.DataFrame, *, encoding: str = "JSON", rows_per_request: int = 10) -> str:
        lines = [
            capture_line(traffic.iloc[start : start + rows_per_request], encoding=encoding, inference_id=f"{name}-{start}")
            for start in range(0, len(traffic), rows_per_request)
        ]
        return self.write_capture(name, lines)

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=prefix)
        return sorted(entry["Key"] for entry in listed.get("Contents", []))

    def metric_names(self) -> set[str]:
        return {metric["MetricName"] for metric in self.cloudwatch.list_metrics(Namespace=METRICS_NAMESPACE)["Metrics"]}

    def metric_values(self, name: str, **dimensions: str) -> list[float]:
        response = self.cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRICS_NAMESPACE,
                            "MetricName": name,
                            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
                        },
                        "Period": 3600,
                        "Stat": "Maximum",
                    },
                }
            ],
            # moto walks the window period by period, so it is kept to the test's own hour.
            StartTime=datetime.now(UTC) - timedelta(minutes=30),
            EndTime=datetime.now(UTC) + timedelta(minutes=30),
        )
        return response["MetricDataResults"][0]["Values"]

    def deploy(self, *, with_profile: bool = True) -> None:
        self.sagemaker.create_model_package_group(ModelPackageGroupName=MODEL_PACKAGE_GROUP)
        metadata = {"dataset_version": "ab" * 32}
        if with_profile:
            metadata["profile_uri"] = f"s3://{DATA_BUCKET}/{PROFILE_KEY}"
        package_arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=MODEL_PACKAGE_GROUP,
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties=metadata,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": "s3://artifacts/training-jobs/job/output/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
        self.sagemaker.create_model(
            ModelName="mlops-v1",
            ExecutionRoleArn=ROLE_ARN,
            PrimaryContainer={
                "Image": IMAGE_URI,
                "ModelDataUrl": "s3://artifacts/training-jobs/job/output/model.tar.gz",
                "Environment": {"MODEL_PACKAGE_ARN": package_arn, "MODEL_VERSION": "1"},
            },
        )
        self.sagemaker.create_endpoint_config(
            EndpointConfigName="mlops-v1-config",
            ProductionVariants=[{"VariantName": VARIANT_NAME, "ModelName": "mlops-v1", "InstanceType": "ml.m5.large",
                                 "InitialInstanceCount": 1}],
        )
        self.sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName="mlops-v1-config")
