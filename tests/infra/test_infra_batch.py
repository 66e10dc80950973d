"""Batch scoring in the template: the batch/ rule, the state machine's batch branch with its
Batch Transform job (split by line, network isolation, the pipeline's key), and least privilege
for the state machine, the validate function and the model role."""

from __future__ import annotations

from infra_template import render
from monitoring_roles import data_bucket_id, data_object, role_statements

from functions.common.batch_layout import BATCH_PREFIX


def _key_arn(synthesized) -> dict:
    return synthesized.template_json["Outputs"]["KeyArn"]["Value"]


def _state_machine_role_id(synthesized) -> str:
    _, machine = synthesized.only("AWS::StepFunctions::StateMachine")
    return machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]


def _model_role_id(synthesized) -> str:
    return synthesized.template_json["Outputs"]["ModelRoleArn"]["Value"]["Fn::GetAtt"][0]


def _statements_of(synthesized, role_id: str) -> list[dict]:
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_batch_upload_rule_starts_the_pipeline(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": data_bucket_id(synthesized)}]},
                    "object": {"key": [{"prefix": BATCH_PREFIX}]},
                },
            },
            "State": "ENABLED",
        },
    )


def test_the_first_state_sends_batch_uploads_to_the_batch_branch_before_the_lock(synthesized):
    definition = synthesized.definition()
    first = definition["States"][definition["StartAt"]]
    assert definition["StartAt"] == "Batch upload?"
    (batch_choice,) = first["Choices"]
    assert batch_choice["Next"] == "Validate batch"
    assert {"Variable": "$.detail.object.key", "StringMatches": f"{BATCH_PREFIX}*"} in batch_choice["And"]
    assert "deployment lock" in first["Default"].lower()


def test_the_transform_job_splits_by_line_within_limits_with_the_key(synthesized):
    states = synthesized.definition()["States"]
    batch = synthesized.config.batch
    parameters = states["Start transform job"]["Parameters"]
    assert states["Start transform job"]["Resource"].endswith(":aws-sdk:sagemaker:createTransformJob")
    assert parameters["BatchStrategy"] == "MultiRecord"
    assert parameters["MaxPayloadInMB"] == batch.max_payload_mb <= 100
    assert parameters["TransformInput"]["SplitType"] == "Line"
    assert parameters["TransformInput"]["ContentType"] == "text/csv"
    assert parameters["TransformOutput"]["AssembleWith"] == "Line"
    assert parameters["TransformResources"]["InstanceType"] == batch.instance_type
    assert parameters["TransformResources"]["InstanceCount"] == batch.instance_count
    # The pipeline's key, for the job's output and its volume.
    key = render(_key_arn(synthesized))
    assert parameters["TransformOutput"]["KmsKeyId"] == key
    assert parameters["TransformResources"]["VolumeKmsKeyId"] == key


def test_the_batch_model_runs_with_network_isolation_as_the_model_role(synthesized):
    states = synthesized.definition()["States"]
    parameters = states["Create batch model"]["Parameters"]
    assert parameters["EnableNetworkIsolation"] is True
    assert parameters["PrimaryContainer"]["Image.$"] == "$.batch.model.image_uri"
    assert states["Create batch model"]["Next"] == "Start transform job"


def test_every_batch_outcome_is_recorded(synthesized):
    states = synthesized.definition()["States"]
    assert states["Record batch scored"]["Parameters"]["outcome"] == "scored"
    assert states["Record batch rejected"]["Parameters"]["outcome"] == "data_rejected"
    assert states["Record batch failure"]["Next"] == "Notify batch transform failed"
    assert states["Batch transform failed"]["Type"] == "Fail"


def test_the_state_machine_may_create_only_the_projects_transform_jobs(synthesized):
    project = synthesized.config.project
    statements = [
        statement
        for statement in _statements_of(synthesized, _state_machine_role_id(synthesized))
        if "sagemaker:CreateTransformJob" in statement["Action"]
    ]
    assert len(statements) == 1
    resources = statements[0]["Resource"]
    assert [render(resource) for resource in (resources if isinstance(resources, list) else [resources])] == [
        f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:transform-job/{project}-*"
    ]


def test_the_model_role_reads_only_the_transform_input_and_writes_only_its_output(synthesized):
    statements = _statements_of(synthesized, _model_role_id(synthesized))
    reads = [s for s in statements if s["Action"] == "s3:GetObject" and "batch-jobs" in str(s["Resource"])]
    writes = [s for s in statements if "s3:PutObject" in s["Action"] and "batch-jobs" in str(s["Resource"])]
    assert [r["Resource"] for r in reads] == [data_object(synthesized, "batch-jobs/*/input/*")]
    assert [w["Resource"] for w in writes] == [data_object(synthesized, "batch-jobs/*/output/*")]
    assert not [s for s in statements if "predictions/" in str(s["Resource"]) or f"{BATCH_PREFIX}*" in str(s["Resource"])]


def test_the_validate_function_reads_the_tags_of_batch_uploads_only(synthesized):
    tag_reads = [
        statement
        for statement in role_statements(synthesized, "validate_data")
        if "s3:GetObjectTagging" in statement["Action"]
    ]
    assert [statement["Resource"] for statement in tag_reads] == [data_object(synthesized, f"{BATCH_PREFIX}*")]


def test_a_batch_file_above_the_lambda_limit_goes_through_the_validation_job_and_back_to_the_choice(synthesized):
    states = synthesized.definition()["States"]
    choices = {choice["StringEquals"]: choice["Next"] for choice in states["Batch accepted?"]["Choices"]}
    assert choices["validate_in_job"] == "Start batch validation job"
    start = states["Start batch validation job"]
    assert start["Resource"].endswith(":aws-sdk:sagemaker:createProcessingJob")
    assert start["Parameters"]["ProcessingJobName.$"] == "$.batch.validation_job.job_name"
    # The same job as large training uploads: same image, code, isolation and key.
    training_route = states["Start validation job"]["Parameters"]
    for field in ("AppSpecification", "NetworkConfig", "ProcessingResources", "RoleArn"):
        assert start["Parameters"][field] == training_route[field], field
    conclude = states["Conclude batch validation"]
    assert conclude["Parameters"]["mode"] == "batch_validation_concluded"
    assert (conclude["ResultPath"], conclude["Next"]) == ("$.batch", "Batch accepted?")
    assert states["Record batch validation failure"]["Next"] == "Notify batch validation job failed"


def test_the_validate_function_may_delete_only_the_batch_models(synthesized):
    project = synthesized.config.project
    deletes = [
        statement
        for statement in role_statements(synthesized, "validate_data")
        if "sagemaker:DeleteModel" in statement["Action"]
    ]
    assert [render(statement["Resource"]) for statement in deletes] == [
        f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/{project}-batch-*"
    ]


def test_a_file_the_validation_job_checked_is_joined_by_that_jobs_image_before_the_conclusion(synthesized):
    states = synthesized.definition()["States"]
    choice = states["Join in a job?"]
    assert choice["Default"] == "Conclude batch"
    (join,) = choice["Choices"]
    assert join["Next"] == "Start join job" and {"Variable": "$.batch.join_job", "IsNull": False} in join["And"]
    parameters = states["Start join job"]["Parameters"]
    training_route = states["Start validation job"]["Parameters"]
    assert parameters["AppSpecification"]["ImageUri"] == training_route["AppSpecification"]["ImageUri"]
    assert parameters["RoleArn"] == training_route["RoleArn"]
    assert parameters["AppSpecification"]["ContainerArguments"][0] == "--join"
    assert parameters["NetworkConfig"]["EnableNetworkIsolation"] is True
    inputs = {i["InputName"]: i["S3Input"].get("S3Uri.$") for i in parameters["ProcessingInputs"]}
    assert inputs == {
        "code": None,
        "plan": "$.batch.join_job.plan_uri",
        "rows": "$.batch.join_job.rows_uri",
        "answers": "$.batch.join_job.answers_uri",
    }
    outputs = parameters["ProcessingOutputConfig"]
    assert {o["OutputName"]: o["S3Output"]["S3Uri.$"] for o in outputs["Outputs"]} == {
        "predictions": "$.batch.join_job.predictions_uri",
        "summary": "$.batch.join_job.summary_uri",
    }
    assert outputs["KmsKeyId"] == render(_key_arn(synthesized))
    assert states["Record batch join failure"]["Next"] == "Notify batch join job failed"


def test_the_validate_function_may_list_models_to_tell_a_deleted_model_from_a_refused_delete(synthesized):
    lists = [
        statement
        for statement in role_statements(synthesized, "validate_data")
        if "sagemaker:ListModels" in statement["Action"]
    ]
    # ListModels has no resource-level permissions: "*" is the only resource it can be granted on.
    assert [render(statement["Resource"]) for statement in lists] == ["*"]
