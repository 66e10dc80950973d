"""`cdk destroy` then `cdk deploy` works: the model package group the first stack retained does
not collide by name with the second stack's, and a group that does collide fails the deployment
as CloudFormation fails it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.responses import CloudWatchResponse

from mlops.local import moto_access
from mlops.local.alarms import put_anomaly_detector
from mlops.local.cloud import MOTO_CONFIG
from mlops.local.deployment import DeploymentError, SynthesizedApp, deploy, environment_for_moto, synthesize
from mlops.local.lambda_runtime import patched_environment

pytestmark = pytest.mark.e2e

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


@pytest.fixture(scope="module")
def app() -> SynthesizedApp:
    return synthesize(REPOSITORY_CONFIG)


@contextmanager
def local_account() -> Iterator[boto3.Session]:
    """moto with the one stand-in a deployment needs (anomaly detectors, which moto lacks)."""
    with (
        patched_environment(environment_for_moto()),
        mock_aws(config=MOTO_CONFIG),
        mock.patch.object(CloudWatchResponse, "put_anomaly_detector", put_anomaly_detector, create=True),
    ):
        yield boto3.Session(region_name=moto_access.LOCAL_REGION)


def _groups(session: boto3.Session) -> list[str]:
    listed = session.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    return sorted(group["ModelPackageGroupName"] for group in listed)


def _destroy(session: boto3.Session, stack_name: str) -> None:
    session.client("cloudformation").delete_stack(StackName=stack_name)


def test_a_deployment_after_destroy_gets_a_group_of_its_own_beside_the_retained_one(app):
    with local_account() as session:
        first = deploy(app, session)
        _destroy(session, app.stack_name)
        second = deploy(app, session)
        groups = _groups(session)

    first_group, second_group = (stack.outputs["ModelPackageGroupName"] for stack in (first, second))
    assert first_group != second_group
    assert groups == sorted([first_group, second_group])
    assert all(group.startswith("mlops-models-") for group in groups)


def test_a_group_under_a_fixed_name_collides_with_the_retained_one(app):
    template = copy.deepcopy(app.template)
    (group,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    group["Properties"]["ModelPackageGroupName"] = "mlops-models"
    fixed = SynthesizedApp(app.outdir, app.stack_name, template, app.assets)
    with local_account() as session:
        deploy(fixed, session)
        _destroy(session, app.stack_name)
        with pytest.raises(DeploymentError, match="'mlops-models' already exists"):
            deploy(fixed, session)
