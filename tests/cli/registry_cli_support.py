"""What the operating commands' tests share: a deployed pipeline's names and how its registry was filled."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.common.config import ColumnSchema, DatasetSchema, GateConfig, PipelineConfig
from functions.common.contracts import RegisterModelRequest

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "us-east-1"
OPERATOR = "alice"
DATA_BUCKET = "mlops-data-123456789012"
GROUP = "mlops-models"
ENDPOINT_NAME = "mlops-endpoint"
MODEL_ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-model"
IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
CODE_VERSION = "c0de" * 16
HYPERPARAMETERS = {"n_estimators": "200", "max_depth": "6", "sagemaker_program": '"train.py"'}
APPROVAL = {1: "Approved", 2: "Approved", 3: "PendingManualApproval"}
PRIMARY_METRIC_VALUES = {1: 0.9811, 2: 0.9876, 3: 0.9939}
SERVING_VERSION = 2


@dataclass
class Deployment:
    package_arns: dict[int, str]
    topic_arn: str
    update_endpoint_calls: list[dict[str, Any]] = field(default_factory=list)


def dataset_version(version: int) -> str:
    return f"{version}" * 64


def training_job(version: int) -> str:
    return f"mlops-{dataset_version(version)[:12]}-run{version}"


def registration_request(version: int) -> RegisterModelRequest:
    """The sample Register version event, made into the request that produced `version`."""
    event = json.loads((EVENTS / "register_model.json").read_text())
    event["validation"]["dataset_version"] = dataset_version(version)
    event["evaluation"]["metrics"]["roc_auc"] = PRIMARY_METRIC_VALUES[version]
    event["evaluation"]["champion_version"] = version - 1 if version > 1 else None
    if version > 1:
        event["evaluation"]["comparisons"] = [
            {"rows": "the new test rows", "row_count": 114, "challenger": PRIMARY_METRIC_VALUES[version],
             "champion": PRIMARY_METRIC_VALUES[version - 1],
             "gain": PRIMARY_METRIC_VALUES[version] - PRIMARY_METRIC_VALUES[version - 1]},
            {"rows": "the reference holdout", "row_count": 240, "challenger": 0.98, "champion": 0.97, "gain": 0.01},
        ]
    event["training_job_name"] = training_job(version)
    event["execution_arn"] = f"arn:aws:states:{REGION}:123456789012:execution:mlops-training:run-{version}"
    return RegisterModelRequest.model_validate(event)


def pipeline_config() -> PipelineConfig:
    return PipelineConfig(
        project="mlops",
        dataset=DatasetSchema(
            target="target",
            problem_type="binary",
            columns=[ColumnSchema(name="mean_radius", type="float"), ColumnSchema(name="target", type="integer")],
        ),
        gates=GateConfig(primary_metric="roc_auc"),
    )


def stack_outputs(topic_arn: str) -> dict[str, str]:
    return {
        "DataBucketName": DATA_BUCKET,
        "ArtifactsBucketName": "mlops-artifacts-123456789012",
        "EndpointName": ENDPOINT_NAME,
        "ModelPackageGroupName": GROUP,
        "ModelRoleArn": MODEL_ROLE_ARN,
        "TopicArn": topic_arn,
    }


def audit_records(s3: Any) -> list[dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix="audit/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=DATA_BUCKET, Key=item["Key"])["Body"].read()) for item in listed]
