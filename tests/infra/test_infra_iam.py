"""Least privilege: one role per function, no wildcard actions, named resources."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from fnmatch import fnmatchcase

import pytest
from infra_template import render, rendered_group_name
from pydantic import ValidationError

from functions.alarm_responder.responder import rollback_resource_name
from functions.common.config import ConfigError, PipelineConfig, load_config
from functions.prepare_deployment.deployment_plan import deployment_resource_name
from functions.register_model.registration import resource_name
from functions.validate_data.service import training_job_name, validation_job_name
from infra.constructs.monitoring import alarm_name

# Projects a neighbour in the same account might choose, each starting with the name of the
# example project ("mlops").
NEIGHBOUR_PROJECTS = ("mlops-foo", "mlops-v2", "mlopsfoo", "mlops2")
ARN_PREFIX = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:"
EXECUTION_NAME = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

HANDLERS = {
    "validate_data",
    "evaluate_model",
    "register_model",
    "alarm_responder",
    "prepare_deployment",
    "monitor_drift",
    "monitor_quality",
    "start_pipeline",
}


def _policies_of(synthesized, role_id):
    return [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]


def _statements(synthesized, role_id):
    return [statement for statements in _policies_of(synthesized, role_id) for statement in statements]


def _actions(statement):
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _resources(statement):
    resources = statement["Resource"]
    return [render(r) for r in (resources if isinstance(resources, list) else [resources])]


def _function_roles(synthesized):
    return {
        function["Properties"]["Handler"].split(".")[1]: function["Properties"]["Role"]["Fn::GetAtt"][0]
        for function in synthesized.resources("AWS::Lambda::Function").values()
    }


def test_each_function_has_its_own_role_without_managed_policies(synthesized):
    roles = _function_roles(synthesized)

    assert set(roles) == HANDLERS
    assert len(set(roles.values())) == len(HANDLERS)
    for role_id in roles.values():
        assert "ManagedPolicyArns" not in synthesized.template_json["Resources"][role_id]["Properties"]


def test_no_identity_policy_allows_a_wildcard_action(synthesized):
    for policy_id, policy in synthesized.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not [action for action in _actions(statement) if "*" in action], policy_id


def test_function_roles_name_their_resources(synthesized):
    # Resource "*" only for APIs without resource-level permissions.
    unscoped_actions = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sagemaker:ListModelPackages",
        "sagemaker:ListModels",
        "sagemaker:ListEndpoints",
        "cloudwatch:PutMetricData",
    }
    for handler, role_id in _function_roles(synthesized).items():
        statements = _statements(synthesized, role_id)
        assert statements, handler
        for statement in statements:
            if "*" in _resources(statement):
                assert set(_actions(statement)) <= unscoped_actions, (handler, statement)
            if "cloudwatch:PutMetricData" in _actions(statement):
                assert "cloudwatch:namespace" in statement["Condition"]["StringEquals"], (handler, statement)


def test_data_access_is_limited_to_each_stage_prefixes(synthesized):
    expected_writes = {
        "validate_data": {
            "curated/*",
            "quarantine/*",
            "reports/*",
            "validation-jobs/*",
            "batch-jobs/*",
            "predictions/*",
            "audit/*",
        },
        "evaluate_model": {"reports/*"},
        "register_model": set(),
        "alarm_responder": {"incoming/*", "audit/*"},
        "prepare_deployment": set(),
        "monitor_drift": {"monitoring/drift-watermark.json", "reports/monitoring/drift/*"},
        "monitor_quality": {"reports/monitoring/quality/*"},
        "start_pipeline": set(),
    }
    for handler, role_id in _function_roles(synthesized).items():
        writes = {
            resource.split(">/", 1)[1]
            for statement in _statements(synthesized, role_id)
            if "s3:PutObject" in _actions(statement)
            for resource in _resources(statement)
        }
        assert writes == expected_writes[handler], handler


def test_state_machine_role_passes_only_the_sagemaker_roles_to_sagemaker(synthesized):
    (machine,) = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = _statements(synthesized, role_id)

    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]

    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert sorted(_resources(pass_role)) == [
        "<TrainingModelRoleFBBF21D3.Arn>",
        "<TrainingTrainingRole444F28B6.Arn>",
        "<ValidationValidationJobRole81AE9EC9.Arn>",
    ]
    actions = Counter(action for s in statements for action in _actions(s))
    for action in (
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DescribeEndpoint",
        "sagemaker:ListEndpoints",
        "lambda:InvokeFunction",
        "sns:Publish",
    ):
        assert actions[action] >= 1, action
    training_statements = [s for s in statements if "sagemaker:CreateTrainingJob" in _actions(s)]
    assert all(r.endswith(":training-job/mlops-*") for s in training_statements for r in _resources(s))


def test_every_role_is_assumed_by_exactly_its_service(synthesized):
    principals = Counter(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
        for role in synthesized.resources("AWS::IAM::Role").values()
    )

    assert principals == Counter(
        {"lambda.amazonaws.com": 8, "sagemaker.amazonaws.com": 3, "states.amazonaws.com": 1}
    )


def test_prepare_deployment_reads_only_the_group_versions_and_the_endpoint_chain(synthesized):
    role_id = _function_roles(synthesized)["prepare_deployment"]
    config = synthesized.config
    granted = {
        action: sorted(_resources(statement))
        for statement in _statements(synthesized, role_id)
        for action in _actions(statement)
        if action.startswith("sagemaker:")
    }

    assert set(granted) == {
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
    }
    (packages,) = granted["sagemaker:DescribeModelPackage"]
    assert packages.endswith(f":model-package/{rendered_group_name(config.model_package_group)}/*")
    (endpoint,) = granted["sagemaker:DescribeEndpoint"]
    assert endpoint.endswith(f":endpoint/{config.deployment.endpoint_name}")
    assert [r.rsplit(":", 1)[1] for r in granted["sagemaker:DescribeEndpointConfig"]] == [f"endpoint-config/{config.project}-*"]
    assert [r.rsplit(":", 1)[1] for r in granted["sagemaker:DescribeModel"]] == [f"model/{config.project}-*"]
    assert all(r.startswith("arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:") for rs in granted.values() for r in rs)


def _runtime_arns(config: PipelineConfig) -> list[str]:
    """ARNs of what a pipeline with `config` creates and acts on at run time, named by the
    pipeline's own name builders, as the stack's policies render them."""
    project = config.project
    sagemaker = ARN_PREFIX.format(service="sagemaker")
    state_machine = f"{project}-training-pipeline"
    execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:{state_machine}:{EXECUTION_NAME}"
    training_job = training_job_name(project, "ab" * 32, EXECUTION_NAME)
    validation_job = validation_job_name(project, execution_arn, EXECUTION_NAME)
    log_group = ARN_PREFIX.format(service="logs") + "log-group:/aws/sagemaker/"
    # SageMaker's stream names: <job>/algo-<n>-<epoch seconds>, and <variant>/<instance id> for endpoints.
    log_streams = [
        f"{log_group}TrainingJobs:log-stream:{training_job}/algo-1-1717200000",
        f"{log_group}ProcessingJobs:log-stream:{validation_job}/algo-1-1717200000",
        f"{log_group}Endpoints/{config.deployment.endpoint_name}:log-stream:AllTraffic/i-0123456789abcdef0",
    ]
    return [
        *log_streams,
        f"{sagemaker}training-job/{training_job_name(project, 'ab' * 32, EXECUTION_NAME)}",
        f"{sagemaker}processing-job/{validation_job_name(project, execution_arn, EXECUTION_NAME)}",
        f"{sagemaker}model/{resource_name(project, 3, EXECUTION_NAME)}",
        f"{sagemaker}endpoint-config/{resource_name(project, 3, EXECUTION_NAME)}",
        f"{sagemaker}model/{deployment_resource_name(project, 3, EXECUTION_NAME)}",
        f"{sagemaker}endpoint-config/{deployment_resource_name(project, 3, EXECUTION_NAME)}",
        f"{sagemaker}model/{rollback_resource_name(config, 3, datetime(2024, 6, 1, tzinfo=UTC))}",
        f"{sagemaker}endpoint-config/{rollback_resource_name(config, 3, datetime(2024, 6, 1, tzinfo=UTC))}",
        f"{sagemaker}model-package/{config.model_package_group}/3",
        f"{sagemaker}endpoint/{config.deployment.endpoint_name}",
        f"{ARN_PREFIX.format(service='cloudwatch')}alarm:{alarm_name(project, 'errors')}",
        f"{ARN_PREFIX.format(service='states')}execution:{state_machine}:{EXECUTION_NAME}",
    ]


def _name_patterns(synthesized) -> list[str]:
    return sorted({
        resource
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for resource in _resources(statement)
        if "*" in resource and resource != "*"
    })


def _neighbour(config: PipelineConfig, project: str) -> PipelineConfig | None:
    """The example config under another project name, if the config accepts that name."""
    document = config.model_dump(mode="json", exclude_none=True)
    document["project"] = project
    document["deployment"]["endpoint_name"] = f"{project}-endpoint"
    try:
        return PipelineConfig.model_validate(document)
    except ValidationError:
        return None


def test_no_name_pattern_in_the_policies_matches_what_another_valid_project_creates(synthesized):
    patterns = _name_patterns(synthesized)
    own = _runtime_arns(synthesized.config)
    neighbours = [n for n in (_neighbour(synthesized.config, p) for p in NEIGHBOUR_PROJECTS) if n is not None]

    reached = {
        (neighbour.project, arn, pattern)
        for neighbour in neighbours
        for arn in _runtime_arns(neighbour)
        for pattern in patterns
        if fnmatchcase(arn, pattern)
    }

    assert reached == set()
    assert [n.project for n in neighbours] == ["mlopsfoo", "mlops2"]
    # The patterns do reach the names the pipeline itself gives (the test compares like with like).
    for kind in ("training-job/", "processing-job/", ":model/", "endpoint-config/", "alarm:", "execution:",
                 "TrainingJobs:log-stream:", "ProcessingJobs:log-stream:", "Endpoints/"):
        assert any(fnmatchcase(arn, pattern) for arn in own if kind in arn for pattern in patterns), kind


def test_a_project_name_that_would_make_the_patterns_ambiguous_is_refused(synthesized, tmp_path):
    document = json.loads(synthesized.config.to_json())
    document["project"] = "mlops-foo"
    config_path = tmp_path / "pipeline.json"
    config_path.write_text(json.dumps(document))

    with pytest.raises(ConfigError) as refused:
        load_config(config_path)

    message = str(refused.value)
    assert "\nproject\n" in message
    assert "'mlops-foo'" in message and "no '-'" in message
