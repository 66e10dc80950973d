"""A Model Registry and an endpoint in moto, as the Prepare deployment handler finds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.common.config import PipelineConfig
from tests.support.events import load_event

REGION = "us-east-1"
MODEL_PACKAGE_GROUP = "mlops-models"
ENDPOINT_NAME = "mlops-endpoint"
IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
MODEL_ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-model"
DATASET_VERSION = "9f2c6e0b5a1d4c3e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
MODEL_DATA_URL = "s3://artifacts-bucket/training-jobs/mlops-9f2c6e0b5a1d-3f2a9c1e/output/model.tar.gz"


def write_config(task_root: Path, deployment_mode: str = "realtime") -> None:
    config = PipelineConfig.model_validate(
        {
            "project": "mlops",
            "dataset": {
                "target": "target",
                "problem_type": "binary",
                "columns": [
                    {"name": "mean_radius", "type": "float"},
                    {"name": "target", "type": "category", "categories": ["0", "1"]},
                ],
            },
            "gates": {"primary_metric": "roc_auc"},
            "approval": "manual",
            "deployment": {"endpoint_name": ENDPOINT_NAME, "mode": deployment_mode},
        }
    )
    (task_root / "pipeline_config.json").write_text(config.to_json())


@dataclass
class ApprovalScenario:
    sagemaker: Any

    def register(self, *, approved_by: str = "none", group: str = MODEL_PACKAGE_GROUP) -> str:
        """A version as Register version leaves it: pending, with its lineage."""
        created = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE_URI,
                        "ModelDataUrl": MODEL_DATA_URL,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            "DATASET_VERSION": DATASET_VERSION,
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={"dataset_version": DATASET_VERSION, "approved_by": approved_by},
        )
        return created["ModelPackageArn"]

    def approve(self, package_arn: str) -> None:
        # SageMaker keeps the metadata on an update that omits it; moto 5.2 clears it, so it is resent.
        metadata = self.sagemaker.describe_model_package(ModelPackageName=package_arn)["CustomerMetadataProperties"]
        self.sagemaker.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus="Approved", CustomerMetadataProperties=metadata
        )

    def serve(self, model_version: str, package_arn: str) -> None:
        """The endpoint serves a model whose environment names `model_version`."""
        name = f"mlops-v{model_version}-serving"
        self.sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=MODEL_ROLE_ARN,
            PrimaryContainer={
                "Image": IMAGE_URI,
                "ModelDataUrl": MODEL_DATA_URL,
                "Environment": {"MODEL_VERSION": model_version, "MODEL_PACKAGE_ARN": package_arn},
            },
        )
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
            ],
        )
        self.sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=name)


def request_for(package_arn: str, **changes: Any) -> dict[str, Any]:
    """The payload the "Prepare deployment" state builds from the approval event."""
    request = load_event("prepare_deployment_request")
    request["detail"]["ModelPackageArn"] = package_arn
    request["detail"]["ModelPackageVersion"] = int(package_arn.rsplit("/", 1)[1])
    request.update(changes)
    return request
