"""The training state machine against its contract (state names, payloads, result paths)."""

from __future__ import annotations

import json

import boto3
import pytest

from functions.common.config import TrainingConfig
from functions.common.outcome import Outcome
from tests.support.state_machine_fragments import fragment_interpreter, run_fragment

CONTRACT_STATES = {
    "Which event?",
    "Prepare deployment",
    "Deployment needed?",
    "Record deployment not needed",
    "Deployment not needed",
    "Validate data",
    "Data accepted?",
    "Record duplicate",
    "Duplicate upload",
    "Notify data rejected",
    "Record data rejected",
    "Data rejected",
    "Start training",
    "Describe training job",
    "Training finished?",
    "Describe training failure",
    "Notify training failed",
    "Training failed",
    "Wait for training",
    "Evaluate model",
    "Register version",
    "Approval status?",
    "Notify model rejected",
    "Record model rejected",
    "Model rejected",
    "Notify pending approval",
    "Record pending approval",
    "Pending approval",
    "Create model",
    "Create endpoint config",
    "Find endpoint",
    "Endpoint exists?",
    "Create endpoint",
    "Update endpoint",
    "Describe endpoint",
    "Endpoint ready?",
    "Notify deployed",
    "Record deployed",
    "Deployed",
    "Notify deployment rolled back",
    "Deployment rolled back",
    "Deployment failed",
    "Wait for endpoint",
    "Notify pipeline failure",
    "Pipeline failed",
    "Acquire deployment lock",
    "Read deployment lock",
    "Lock still held?",
    "Describe lock owner",
    "Lock owner running?",
    "Wait for deployment lock",
    "Take over deployment lock",
    "Approved version to deploy?",
    "Release deployment lock (model rejected)",
    "Release deployment lock (pending approval)",
    "Release deployment lock (deployment not needed)",
    "Release deployment lock (unexpected approval status)",
    "Release deployment lock (deployed)",
    "Release deployment lock (rolled back)",
    "Release deployment lock (deployment failed)",
    "Release deployment lock (pipeline failed)",
}
SUCCEED_OUTCOMES = {
    "Duplicate upload": ("Record duplicate", "duplicate"),
    "Data rejected": ("Record data rejected", "data_rejected"),
    "Model rejected": ("Record model rejected", "model_rejected"),
    "Pending approval": ("Record pending approval", "pending_approval"),
    "Deployed": ("Record deployed", "deployed"),
    "Deployment not needed": ("Record deployment not needed", "duplicate"),
    "Scored": ("Record batch scored", "scored"),
    "Batch rejected": ("Record batch rejected", "data_rejected"),
}
FAIL_ERRORS = {
    "Pipeline failed": "PipelineFailed",
    "Training failed": "TrainingFailed",
    "Validation job failed": "ValidationJobFailed",
    "Deployment rolled back": "DeploymentRolledBack",
    "Deployment failed": "DeploymentFailed",
    "Batch transform failed": "BatchTransformFailed",
    "Batch validation job failed": "BatchValidationJobFailed",
    "Batch join job failed": "BatchJoinJobFailed",
    "Batch not scored": "BatchNotScored",
}
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
SAGEMAKER_RETRY_ERRORS = {
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
}


@pytest.fixture(scope="module")
def definition(synthesized):
    return synthesized.definition()


@pytest.fixture(scope="module")
def states(definition):
    return definition["States"]


def _tasks(states):
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def _successors(state) -> set[str]:
    names = {state.get("Next"), state.get("Default")}
    names |= {choice["Next"] for choice in state.get("Choices", [])}
    names |= {catch["Next"] for catch in state.get("Catch", [])}
    return {name for name in names if name}


def test_every_contract_state_exists_and_starts_by_taking_the_lock_then_telling_approvals_from_uploads(
    definition, states
):
    # Uploads that race are ordered by the lock before validation, so each is drift-checked
    # and judged against the version serving when it runs; a batch upload to score does not
    # take it (tests/infra/test_infra_batch.py).
    assert definition["StartAt"] == "Batch upload?"
    assert states["Batch upload?"]["Default"] == "Acquire deployment lock"
    assert states["Acquire deployment lock"]["Next"] == "Which event?"
    assert states["Take over deployment lock"]["Next"] == "Which event?"
    assert CONTRACT_STATES <= set(states), sorted(CONTRACT_STATES - set(states))


def test_an_approval_event_prepares_deployment_and_anything_else_validates_data(states):
    which = states["Which event?"]

    (choice,) = which["Choices"]

    assert choice["And"] == [
        {"Variable": "$.source", "IsPresent": True},
        {"Variable": "$.source", "StringEquals": "aws.sagemaker"},
    ]
    assert choice["Next"] == "Approved version to deploy?"
    assert which["Default"] == "Which validation route?"
    (holding,) = states["Approved version to deploy?"]["Choices"]
    assert holding["And"] == choice["And"]
    assert holding["Next"] == "Prepare deployment"
    assert states["Prepare deployment"]["Next"] == "Deployment needed?"
    needed = states["Deployment needed?"]
    assert needed["Choices"] == [{"Variable": "$.registration.deploy", "BooleanEquals": True, "Next": "Create model"}]
    assert needed["Default"] == "Release deployment lock (deployment not needed)"
    assert states["Release deployment lock (deployment not needed)"]["Next"] == "Record deployment not needed"
    assert states["Record deployment not needed"]["Parameters"] == {
        "outcome": Outcome.DUPLICATE,
        "reason.$": "$.registration.reason",
    }


def test_every_state_is_reachable_and_every_transition_exists(definition, states):
    seen, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        successors = _successors(states[name])
        assert successors <= set(states), (name, successors - set(states))
        frontier.extend(successors)

    assert seen == set(states)


def test_machine_and_every_task_have_timeouts(definition, states):
    assert definition["TimeoutSeconds"] > 0
    for name, state in _tasks(states).items():
        assert state.get("TimeoutSeconds", 0) > 0, name


def test_every_task_retries_and_catches_into_the_failure_notification(states):
    # Every failure releases the deployment lock, then notifies, then fails.
    release = "Release deployment lock (pipeline failed)"
    expected_next = {
        "Notify pipeline failure": ("Pipeline failed", "$.error"),
        release: ("Notify pipeline failure", "$.deployment_lock"),
    }
    for name, state in _tasks(states).items():
        assert state.get("Retry"), name
        last_catch = state["Catch"][-1]
        assert last_catch["ErrorEquals"] == ["States.ALL"], name
        assert (last_catch["Next"], last_catch["ResultPath"]) == expected_next.get(name, (release, "$.error")), name
    assert states[release]["Next"] == "Notify pipeline failure"


def test_failure_notification_names_the_execution_and_the_cause(states):
    message = states["Notify pipeline failure"]["Parameters"]["Message.$"]

    assert message.startswith("States.Format(")
    assert "$$.Execution.Name" in message and "$.error.Cause" in message
    assert states["Notify pipeline failure"]["Next"] == "Pipeline failed"


def test_terminal_states_record_outcomes_and_fail_with_contract_errors(states):
    for succeed, (record, outcome) in SUCCEED_OUTCOMES.items():
        assert states[succeed]["Type"] == "Succeed"
        assert states[record]["Type"] == "Pass" and states[record]["Next"] == succeed
        assert states[record]["ResultPath"] == "$.result"
        assert states[record]["Parameters"]["outcome"] == outcome
        assert "reason.$" in states[record]["Parameters"]
    for fail, error in FAIL_ERRORS.items():
        assert states[fail] == {**states[fail], "Type": "Fail", "Error": error}
    terminal = {name for name, state in states.items() if state["Type"] in {"Succeed", "Fail"}}
    assert terminal == set(SUCCEED_OUTCOMES) | set(FAIL_ERRORS)


def test_lambda_tasks_use_payload_response_only_with_contract_payloads(synthesized, states):
    functions = {
        name: f"<{logical_id}.Arn>"
        for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items()
        for name in [resource["Properties"]["Handler"].split(".")[1]]
    }
    expected = {
        "Validate data": (
            "validate_data",
            "$.validation",
            {
                "bucket.$": "$.detail.bucket.name",
                "key.$": "$.detail.object.key",
                "object.$": "$.detail.object",
                "execution_arn.$": "$$.Execution.Id",
                "execution_name.$": "$$.Execution.Name",
            },
        ),
        "Evaluate model": (
            "evaluate_model",
            "$.evaluation",
            {
                "validation.$": "$.validation",
                "training_job_name.$": "$.validation.training_job_name",
                "execution_arn.$": "$$.Execution.Id",
            },
        ),
        "Register version": (
            "register_model",
            "$.registration",
            {
                "validation.$": "$.validation",
                "evaluation.$": "$.evaluation",
                "training_job_name.$": "$.validation.training_job_name",
                "execution_arn.$": "$$.Execution.Id",
            },
        ),
        "Prepare deployment": (
            "prepare_deployment",
            "$.registration",
            {
                "detail.$": "$.detail",
                "event_id.$": "$.id",
                "execution_arn.$": "$$.Execution.Id",
                "execution_name.$": "$$.Execution.Name",
            },
        ),
    }
    for name, (function, result_path, parameters) in expected.items():
        state = states[name]
        assert state["Resource"] == functions[function], name
        assert state["ResultPath"] == result_path, name
        assert state["Parameters"] == parameters, name
        (retry,) = state["Retry"]
        assert set(retry["ErrorEquals"]) == LAMBDA_RETRY_ERRORS
        assert (retry["BackoffRate"], retry["MaxAttempts"]) == (2, 3)


def test_sagemaker_tasks_use_aws_sdk_integrations_without_sync(definition, states):
    actions = {
        "Start training": "createTrainingJob",
        "Describe training job": "describeTrainingJob",
        "Describe training failure": "describeTrainingJob",
        "Create model": "createModel",
        "Create endpoint config": "createEndpointConfig",
        "Find endpoint": "listEndpoints",
        "Create endpoint": "createEndpoint",
        "Update endpoint": "updateEndpoint",
        "Describe endpoint": "describeEndpoint",
    }
    for name, action in actions.items():
        assert states[name]["Resource"] == f"arn:<AWS::Partition>:states:::aws-sdk:sagemaker:{action}", name
        assert set(states[name]["Retry"][0]["ErrorEquals"]) == SAGEMAKER_RETRY_ERRORS, name
    assert ".sync" not in json.dumps(definition)


def test_sdk_results_are_narrowed_with_result_selectors(states):
    assert states["Describe training job"]["ResultSelector"] == {"status.$": "$.TrainingJobStatus"}
    assert states["Describe training job"]["ResultPath"] == "$.training"
    assert states["Describe training failure"]["ResultSelector"] == {
        "status.$": "$.TrainingJobStatus",
        "reason.$": "$.FailureReason",
    }
    assert states["Find endpoint"]["ResultSelector"] == {"names.$": "$.Endpoints[*].EndpointName"}
    assert states["Find endpoint"]["ResultPath"] == "$.existing_endpoints"
    assert states["Describe endpoint"]["ResultSelector"] == {
        "status.$": "$.EndpointStatus",
        "endpoint_config_name.$": "$.EndpointConfigName",
    }
    assert states["Describe endpoint"]["ResultPath"] == "$.endpoint"
    for name in ("Start training", "Create model", "Create endpoint config", "Create endpoint", "Update endpoint"):
        assert states[name]["ResultPath"] is None, name


def test_start_training_follows_the_config_and_resumes_an_existing_job(synthesized, states):
    config = synthesized.config
    state = states["Start training"]
    parameters = state["Parameters"]

    assert state["Catch"][0] == {
        "ErrorEquals": ["SageMaker.ResourceInUseException"],
        "ResultPath": "$.training",
        "Next": "Describe training job",
    }
    assert parameters["TrainingJobName.$"] == "$.validation.training_job_name"
    assert parameters["AlgorithmSpecification"] == {
        "TrainingImage": "<FindInMap:SklearnImages:<AWS::Region>:image>",
        "TrainingInputMode": "File",
    }
    hyperparameters = parameters["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == "train.py"
    assert hyperparameters["sagemaker_submit_directory"].startswith("/opt/ml/input/data/code/")
    assert hyperparameters["target"] == config.dataset.target
    assert hyperparameters["problem_type"] == config.dataset.problem_type
    for name, value in config.training.hyperparameters.items():
        assert hyperparameters[name] == str(value)
    assert all(isinstance(value, str) for value in hyperparameters.values())
    channels = {channel["ChannelName"]: channel for channel in parameters["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "test", "code"}
    for name in ("train", "validation", "test"):
        source = channels[name]["DataSource"]["S3DataSource"]
        assert source["S3Uri.$"] == f"$.validation.channels.{name}"
        assert source["S3DataType"] == "S3Prefix"
        assert channels[name]["ContentType"] == "text/csv"
    bundle_key = hyperparameters["sagemaker_submit_directory"].rsplit("/", 1)[1]
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"].endswith(f"/{bundle_key}")
    assert parameters["OutputDataConfig"]["S3OutputPath"].endswith("/training-jobs/")
    assert parameters["ResourceConfig"]["InstanceType"] == config.training.instance_type
    assert "VolumeKmsKeyId" in parameters["ResourceConfig"]
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": config.training.max_runtime_seconds}
    assert parameters["EnableNetworkIsolation"] is config.training.network_isolation


def test_choices_route_by_contract_values(states):
    def routes(name):
        return {
            (choice.get("Variable"), choice.get("StringEquals")): choice["Next"]
            for choice in states[name]["Choices"]
            if "Variable" in choice
        }

    # The lock is held from the start: every end after it releases it.
    assert routes("Data accepted?") == {
        ("$.validation.outcome", "duplicate"): "Release deployment lock (duplicate)",
        ("$.validation.outcome", "data_rejected"): "Release deployment lock (data rejected)",
        # A file the function cannot read is validated by the job, whose result is judged here again.
        ("$.validation.outcome", "validation_job_needed"): "Plan validation job",
    }
    assert states["Release deployment lock (duplicate)"]["Next"] == "Record duplicate"
    assert states["Release deployment lock (data rejected)"]["Next"] == "Notify data rejected"
    assert states["Data accepted?"]["Default"] == "Is a version serving?"
    assert routes("Training finished?") == {
        ("$.training.status", "Completed"): "Approved version to deploy?",
        ("$.training.status", "Failed"): "Describe training failure",
        ("$.training.status", "Stopped"): "Release deployment lock (training failed)",
    }
    assert states["Describe training failure"]["Next"] == "Release deployment lock (training failed)"
    assert states["Release deployment lock (training failed)"]["Next"] == "Notify training failed"
    assert states["Training finished?"]["Default"] == "Wait for training"
    assert states["Wait for training"]["Next"] == "Describe training job"
    assert routes("Approval status?") == {
        ("$.registration.approval_status", "Rejected"): "Release deployment lock (model rejected)",
        ("$.registration.approval_status", "PendingManualApproval"): "Release deployment lock (pending approval)",
        ("$.registration.approval_status", "Approved"): "Create model",
    }
    assert states["Approval status?"]["Default"] == "Release deployment lock (unexpected approval status)"
    assert states["Approved version to deploy?"]["Default"] == "Evaluate model"
    ready = states["Endpoint ready?"]
    first = ready["Choices"][0]
    assert {"Variable": "$.endpoint.endpoint_config_name", "StringEqualsPath": "$.registration.endpoint_config_name"} in first["And"]
    assert first["Next"] == "Release deployment lock (deployed)"
    assert routes("Endpoint ready?") == {
        ("$.endpoint.status", "InService"): "Release deployment lock (rolled back)",
        ("$.endpoint.status", "Failed"): "Release deployment lock (deployment failed)",
    }
    assert states["Release deployment lock (deployed)"]["Next"] == "Notify deployed"
    assert ready["Default"] == "Wait for endpoint"


def test_deployment_uses_data_capture_and_blue_green_rollback_on_alarms(synthesized, states):
    config = synthesized.config
    endpoint_config = states["Create endpoint config"]["Parameters"]
    (variant,) = endpoint_config["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == config.deployment.instance_type
    capture = endpoint_config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["DestinationS3Uri"].endswith("/capture")
    assert capture["InitialSamplingPercentage"] == config.deployment.data_capture_percent

    deployment = states["Update endpoint"]["Parameters"]["DeploymentConfig"]

    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    # One instance: a canary of it would be the whole fleet, so the default shifts all at once.
    assert config.deployment.initial_instance_count == 1
    assert routing["Type"] == "ALL_AT_ONCE"
    assert routing["WaitIntervalInSeconds"] == config.deployment.wait_interval_seconds
    assert deployment["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": f"{config.project}-errors"},
        {"AlarmName": f"{config.project}-latency"},
    ]
    assert states["Create model"]["Parameters"]["EnableNetworkIsolation"] is True


def test_state_machine_is_standard_traced_and_logs_everything_encrypted(synthesized):
    _, machine = synthesized.only("AWS::StepFunctions::StateMachine")
    properties = machine["Properties"]
    log_group_id = properties["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"][
        "Fn::GetAtt"
    ][0]

    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert "KmsKeyId" in synthesized.template_json["Resources"][log_group_id]["Properties"]


@pytest.mark.parametrize(
    ("existing", "expected_state"),
    [
        ([], "Create endpoint"),
        (["mlops-endpoint-shadow"], "Create endpoint"),
        (["mlops-endpoint-shadow", "mlops-endpoint"], "Update endpoint"),
    ],
)
def test_endpoint_exists_decision_runs_in_the_local_interpreter(states, local_credentials, existing, expected_state):
    # Given the synthesized Find endpoint -> Match -> Endpoint exists? states, run against moto
    fragment = {name: json.loads(json.dumps(states[name])) for name in ("Find endpoint", "Match endpoint name", "Endpoint exists?")}
    fragment["Find endpoint"]["Resource"] = "arn:aws:states:::aws-sdk:sagemaker:listEndpoints"
    del fragment["Find endpoint"]["Catch"]
    fragment["Endpoint exists?"]["Choices"][0]["Next"] = "Update endpoint"
    fragment["Endpoint exists?"]["Default"] = "Create endpoint"
    fragment["Update endpoint"] = {"Type": "Succeed"}
    fragment["Create endpoint"] = {"Type": "Succeed"}
    endpoint_name = states["Find endpoint"]["Parameters"]["NameContains"]
    assert endpoint_name == "mlops-endpoint"

    with fragment_interpreter() as interpreter:
        sagemaker = boto3.client("sagemaker")
        if existing:
            sagemaker.create_model(ModelName="model", ExecutionRoleArn=interpreter.role_arn, PrimaryContainer={"Image": "image"})
            sagemaker.create_endpoint_config(
                EndpointConfigName="config",
                ProductionVariants=[
                    {"VariantName": "AllTraffic", "ModelName": "model", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
                ],
            )
        for name in existing:
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="config")

        # When
        output, entered = interpreter.run(fragment, "Find endpoint", {})

    # Then
    assert entered[-1] == expected_state
    assert output["existing_endpoints"]["exists"] is (expected_state == "Update endpoint")


@pytest.fixture
def local_credentials(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("machine_input", "expected_state"),
    [
        ({"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change", "detail": {}}, "Approved version to deploy?"),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, "Which validation route?"),
        # A hand-started execution without an EventBridge envelope is treated as an upload.
        ({"detail": {}}, "Which validation route?"),
    ],
)
def test_which_event_decision_runs_in_the_local_interpreter(states, local_credentials, machine_input, expected_state):
    fragment = {"Which event?": json.loads(json.dumps(states["Which event?"]))}
    fragment["Approved version to deploy?"] = {"Type": "Succeed"}
    fragment["Which validation route?"] = {"Type": "Succeed"}

    _, entered = run_fragment(fragment, "Which event?", machine_input)

    assert entered == ["Which event?", expected_state]


def test_deployment_not_needed_records_the_reason_in_the_local_interpreter(states, local_credentials):
    fragment = {
        name: json.loads(json.dumps(states[name]))
        for name in ("Deployment needed?", "Record deployment not needed", "Deployment not needed")
    }
    fragment["Create model"] = {"Type": "Succeed"}
    fragment["Release deployment lock (deployment not needed)"] = {"Type": "Pass", "Next": "Record deployment not needed"}
    reason = "Endpoint mlops-endpoint already serves model version 3."

    output, entered = run_fragment(fragment, "Deployment needed?", {"registration": {"deploy": False, "reason": reason}})

    assert entered[-1] == "Deployment not needed"
    assert output["result"] == {"outcome": Outcome.DUPLICATE, "reason": reason}


def test_training_volumes_and_output_endpoint_storage_and_capture_use_the_key(synthesized, states):
    key_id, _ = synthesized.only("AWS::KMS::Key")
    key_arn = f"<{key_id}.Arn>"
    training = states["Start training"]["Parameters"]
    endpoint_config = states["Create endpoint config"]["Parameters"]

    assert training["ResourceConfig"]["VolumeKmsKeyId"] == key_arn
    assert training["OutputDataConfig"]["KmsKeyId"] == key_arn
    assert endpoint_config["KmsKeyId"] == key_arn
    assert endpoint_config["DataCaptureConfig"]["KmsKeyId"] == key_arn


def test_training_runs_without_network_access_by_default_and_in_the_example_config(states):
    assert TrainingConfig().network_isolation is True
    assert states["Start training"]["Parameters"]["EnableNetworkIsolation"] is True


def test_the_training_job_scores_the_champion_only_when_a_version_serves(states):
    serving = states["Is a version serving?"]
    (choice,) = serving["Choices"]
    assert choice["And"] == [
        {"Variable": "$.validation.champion", "IsPresent": True},
        {"Variable": "$.validation.champion", "IsNull": False},
        {"Variable": "$.validation.champion.reference_manifest_uri", "IsPresent": True},
        {"Variable": "$.validation.champion.reference_manifest_uri", "IsNull": False},
    ]
    assert (choice["Next"], serving["Default"]) == ("Start training against the champion", "Start training")

    def channels(name):
        return {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in states[name]["Parameters"]["InputDataConfig"]}

    first, against = channels("Start training"), channels("Start training against the champion")
    assert set(first) == {"train", "validation", "test", "code"}
    assert set(against) == set(first) | {"champion", "reference"}
    assert against["champion"] == {
        "S3DataType": "S3Prefix",
        "S3Uri.$": "$.validation.champion.model_artifact",
        "S3DataDistributionType": "FullyReplicated",
    }
    assert against["reference"] == {
        "S3DataType": "ManifestFile",
        "S3Uri.$": "$.validation.champion.reference_manifest_uri",
        "S3DataDistributionType": "FullyReplicated",
    }
    # Both wait on the same job, and a redriven execution describes the job it created.
    for name in ("Start training", "Start training against the champion"):
        assert states[name]["Next"] == "Describe training job"
        assert states[name]["Catch"][0] == {
            "ErrorEquals": ["SageMaker.ResourceInUseException"],
            "ResultPath": "$.training",
            "Next": "Describe training job",
        }
    # Evaluation never calls the endpoint
    assert "InvokeEndpoint" not in json.dumps(states)
