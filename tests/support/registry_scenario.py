"""A Model Registry in moto and the training job a candidate came from, as the Register version
handler finds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.common.config import PipelineConfig
from tests.support.events import load_event

REGION = "us-east-1"
MODEL_PACKAGE_GROUP = "mlops-models"
INFERENCE_IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
CODE_VERSION = "3e1f0c2"


def write_config(task_root: Path, approval: str = "automatic") -> None:
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
            "gates": {"primary_metric": "roc_auc", "thresholds": {"roc_auc": 0.8}},
            "approval": approval,
        }
    )
    (task_root / "pipeline_config.json").write_text(config.to_json())


@dataclass
class RegistryScenario:
    sagemaker: Any
    task_root: Path

    def event(self, **changes: Any) -> dict[str, Any]:
        event = load_event("register_model")
        for dotted, value in changes.items():
            target = event
            *parents, leaf = dotted.split("__")
            for parent in parents:
                target = target[parent]
            target[leaf] = value
        return event

    def use_approval(self, approval: str) -> None:
        write_config(self.task_root, approval=approval)

    def packages(self) -> list[dict[str, Any]]:
        summaries = self.sagemaker.list_model_packages(ModelPackageGroupName=MODEL_PACKAGE_GROUP)["ModelPackageSummaryList"]
        return [self.sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]

    def start_training_job(self, name: str) -> None:
        self.sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": INFERENCE_IMAGE_URI, "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/training-role",
            HyperParameters={
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": "/opt/ml/input/data/code/source.tar.gz",
                "estimator": "gradient_boosting",
                "max_iter": "200",
                "learning_rate": "0.1",
                "target": "target",
                "problem_type": "binary",
            },
            OutputDataConfig={"S3OutputPath": "s3://artifacts-bucket/training-jobs/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
