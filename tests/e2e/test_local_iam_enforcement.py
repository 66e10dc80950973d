"""The local cloud refuses what AWS would refuse: each test takes one permission out of the
synthesized template and shows that a local run then fails with the AccessDenied AWS gives,
naming the principal, the action and the resource."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops.local.cloud import LocalCloud
from mlops.local.deployment import DeploymentError, SynthesizedApp, synthesize
from mlops.local.runner import run_upload

pytestmark = pytest.mark.e2e

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"
Template = dict[str, Any]


@pytest.fixture(scope="module")
def app() -> SynthesizedApp:
    return synthesize(REPOSITORY_CONFIG)


@pytest.fixture
def upload(breast_cancer_frame, tmp_path) -> Path:
    path = tmp_path / "breast_cancer.csv"
    breast_cancer_frame.to_csv(path, index=False)
    return path


def cloud_with(app: SynthesizedApp, change: Callable[[Template], None]) -> LocalCloud:
    template = copy.deepcopy(app.template)
    change(template)
    _with_short_retry_waits(template)
    return LocalCloud(REPOSITORY_CONFIG, app=SynthesizedApp(app.outdir, app.stack_name, template, app.assets))


def _with_short_retry_waits(template: Template) -> None:
    """A refused SageMaker call reaches Step Functions as SageMaker's generic exception, which the
    state machine retries as AWS would, waiting 5 + 10 + 20 + 40 + 80 s. The refusals are the
    same with the waits at Step Functions' shortest (1 s, no backoff)."""
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    for index, part in enumerate(parts):
        if isinstance(part, str):
            shortened = re.sub(r'"IntervalSeconds":\d+', '"IntervalSeconds":1', part)
            parts[index] = re.sub(r'"BackoffRate":[\d.]+', '"BackoffRate":1', shortened)


def _role_policy_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if any(role_fragment in role["Ref"] for role in resource["Properties"]["Roles"]):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    assert statements, role_fragment
    return statements


def _remove_action(statements: list[dict[str, Any]], action: str, keep: Callable[[dict[str, Any]], bool]) -> None:
    removed = False
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions and not keep(statement):
            statement["Action"] = [name for name in actions if name != action] or ["s3:GetBucketTagging"]
            removed = True
    assert removed, action


def _without_validate_bucket_listing(template: Template) -> None:
    _remove_action(
        _role_policy_statements(template, "ValidateDataRole"), "s3:ListBucket", keep=lambda statement: "Condition" in statement
    )


def _without_create_training_job(template: Template) -> None:
    _remove_action(_role_policy_statements(template, "TrainingWorkflowRole"), "sagemaker:CreateTrainingJob", keep=lambda _: False)


def _without_cloudwatch_on_topic(template: Template) -> None:
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    kept = [s for s in statements if s.get("Principal") != {"Service": "cloudwatch.amazonaws.com"}]
    assert len(kept) == len(statements) - 1
    policy["Properties"]["PolicyDocument"]["Statement"] = kept


def _without_upload_rule_permission(template: Template) -> None:
    permissions = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission" and logical_id.startswith("WorkflowTriggersUploadRule")
    ]
    assert len(permissions) == 1
    del template["Resources"][permissions[0]]


def test_a_read_of_a_missing_key_without_bucket_listing_is_refused_as_s3_refuses_it(app, upload):
    """The first upload's curated manifest does not exist: S3 answers 403, not 404, to a role
    that may not list the bucket, and validation cannot tell a new upload from a duplicate."""
    with cloud_with(app, _without_validate_bucket_listing) as cloud:
        result = run_upload(cloud, upload)

    assert result.outcome == "failed"
    assert "AccessDenied" in result.reason
    assert "ValidateDataRole" in result.reason
    assert f"s3:ListBucket on resource: arn:aws:s3:::{cloud.outputs.data_bucket}" in result.reason


def test_a_state_machine_task_runs_as_the_state_machine_role(app, upload):
    with cloud_with(app, _without_create_training_job) as cloud:
        result = run_upload(cloud, upload)

    assert result.outcome == "failed"
    assert "TrainingWorkflowRole" in result.reason
    assert "is not authorized to perform: sagemaker:CreateTrainingJob on resource: arn:aws:sagemaker:" in result.reason
    assert not cloud.standins.training.runs


def test_an_alarm_action_publishes_only_as_the_topic_policy_allows_cloudwatch(app):
    with cloud_with(app, lambda template: None) as cloud:
        cloud.set_alarm_state("mlops-errors", "ALARM", "errors above the threshold")
        allowed = [action for action in cloud.standins.service_actions if action.action == "sns:Publish"]
        assert [(action.target_arn, action.error) for action in allowed] == [(cloud.outputs.topic_arn, None)]
    with cloud_with(app, _without_cloudwatch_on_topic) as cloud:
        cloud.set_alarm_state("mlops-errors", "ALARM", "errors above the threshold")
        refused = [action for action in cloud.standins.service_actions if action.action == "sns:Publish"]
        topic = cloud.outputs.topic_arn

    (refusal,) = refused
    assert refusal.principal == "cloudwatch.amazonaws.com"
    assert refusal.error.startswith("AuthorizationError: User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish")
    assert topic in refusal.error


def test_eventbridge_invokes_a_function_only_with_its_permission_and_then_dead_letters_the_event(app, upload):
    with cloud_with(app, _without_upload_rule_permission) as cloud:
        result = run_upload(cloud, upload)
        deliveries = [d for d in cloud.standins.deliveries if "StartPipeline" in d.target_arn]
        dead_letters = [a for a in cloud.standins.service_actions if a.action == "sqs:SendMessage"]

    assert result.outcome == "failed"
    assert result.execution is None
    (delivery,) = deliveries
    assert delivery.error.startswith("AccessDeniedException: User: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction")
    (dead_letter,) = dead_letters
    assert dead_letter.error is None


def _without_create_grant_for_the_workflow(template: Template) -> None:
    _remove_action(_role_policy_statements(template, "TrainingWorkflowRole"), "kms:CreateGrant", keep=lambda _: False)


def _without_logs_in_the_key_policy(template: Template) -> None:
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    kept = [s for s in statements if "logs." not in str(s.get("Principal", {}).get("Service", ""))]
    assert len(kept) == len(statements) - 1
    key["Properties"]["KeyPolicy"]["Statement"] = kept


def test_sagemaker_encrypts_a_training_volume_only_if_the_caller_may_grant_it_the_key(app, upload):
    """CreateTrainingJob with a VolumeKmsKeyId needs kms:CreateGrant of the caller when the
    job's own role does not have it."""
    with cloud_with(app, _without_create_grant_for_the_workflow) as cloud:
        result = run_upload(cloud, upload)

    assert result.outcome == "failed"
    assert "TrainingWorkflowRole" in result.reason
    assert "is not authorized to perform: kms:CreateGrant on resource: arn:aws:kms:" in result.reason
    assert not cloud.standins.training.runs


def test_a_log_group_is_encrypted_only_if_the_key_policy_lets_cloudwatch_logs_use_the_key(app):
    with pytest.raises(DeploymentError) as refused:
        with cloud_with(app, _without_logs_in_the_key_policy):
            pass

    assert "Logs" in str(refused.value)
    assert "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:" in str(refused.value)


def _without_champion_artifact_read(template: Template) -> None:
    removed = 0
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and any("TrainingRole" in r["Ref"] for r in resource["Properties"]["Roles"]):
            document = resource["Properties"]["PolicyDocument"]
            kept = [s for s in document["Statement"] if s.get("Sid") != "ReadChampionArtifact"]
            removed += len(document["Statement"]) - len(kept)
            document["Statement"] = kept
    assert removed == 1


def test_the_training_job_reads_the_champion_s_artifact_as_the_training_role(app, breast_cancer_frame, tmp_path):
    """The champion is scored by the training job from its model.tar.gz: without the training
    role's read of it, the second upload's job fails as SageMaker fails it."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    breast_cancer_frame.iloc[:300].to_csv(first, index=False)
    breast_cancer_frame.iloc[300:].to_csv(second, index=False)
    with cloud_with(app, _without_champion_artifact_read) as cloud:
        deployed = run_upload(cloud, first)
        result = run_upload(cloud, second)

    assert deployed.outcome == "deployed"
    assert result.outcome == "failed"
    assert "AccessDenied" in result.reason and "TrainingRole" in result.reason
    assert "s3:GetObject" in result.reason and "/output/model.tar.gz" in result.reason


def _without_transform_input_read(template: Template) -> None:
    _remove_action(
        _role_policy_statements(template, "TrainingModelRole"),
        "s3:GetObject",
        keep=lambda statement: "batch-jobs" not in json.dumps(statement["Resource"]),
    )


def test_the_transform_job_reads_its_input_as_the_model_role(app, breast_cancer_frame, tmp_path):
    """A Batch Transform job reads the rows to score as its model's execution role: without that
    role's read of the batch-jobs input, the job fails as SageMaker fails it and the batch is failed."""
    training, to_score = tmp_path / "training.csv", tmp_path / "to_score.csv"
    breast_cancer_frame.iloc[:300].to_csv(training, index=False)
    breast_cancer_frame.iloc[300:].drop(columns=["target"]).to_csv(to_score, index=False)
    with cloud_with(app, _without_transform_input_read) as cloud:
        deployed = run_upload(cloud, training)
        result = run_upload(cloud, to_score, key="batch/to_score.csv")

    assert deployed.outcome == "deployed"
    assert result.outcome == "failed"
    assert "AccessDenied" in result.reason and "TrainingModelRole" in result.reason
    assert "s3:GetObject" in result.reason and "/batch-jobs/" in result.reason
