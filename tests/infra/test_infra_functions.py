"""Every function: Python 3.12 on arm64, managed layers, JSON logs, tracing, own log group."""

from __future__ import annotations

from aws_cdk.assertions import Match, Matcher

from infra.constructs.lambda_factory import LambdaFactory

PROJECT = "mlops"  # pipeline.json's project
ENDPOINT_NAME = "mlops-endpoint"
# The configured group name and the first block of the stack's id (infra/constructs/registry.py).
MODEL_PACKAGE_GROUP = {
    "Fn::Join": [
        "-",
        ["mlops-models", {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}],
    ]
}
MONITORING_NAMESPACE = "mlops/monitoring"


def _ref(logical_id_prefix: str) -> Matcher:
    return Match.object_equals({"Ref": Match.string_like_regexp(f"^{logical_id_prefix}[0-9A-F]{{8}}$")})


DATA_BUCKET = _ref("DataStoreDataBucket")
STATE_MACHINE_ARN = _ref("TrainingWorkflowStateMachine")
# Every variable each function is given, beyond the factory's Powertools ones: the whole
# environment, so a variable the code reads cannot go missing from the template unnoticed.
ENVIRONMENT = {
    "validate_data": {"DATA_BUCKET": DATA_BUCKET, "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP, "ENDPOINT_NAME": ENDPOINT_NAME},
    "evaluate_model": {"DATA_BUCKET": DATA_BUCKET, "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP},
    "register_model": {
        "DATA_BUCKET": DATA_BUCKET,
        "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP,
        "INFERENCE_IMAGE_URI": {"Fn::FindInMap": ["SklearnImages", {"Ref": "AWS::Region"}, "image"]},
        "CODE_VERSION": Match.string_like_regexp("^[0-9a-f]{64}$"),
    },
    "alarm_responder": {
        "DATA_BUCKET": DATA_BUCKET,
        "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "TOPIC_ARN": _ref("NotificationsTopic"),
        "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "MODEL_ROLE_ARN": {"Fn::GetAtt": [Match.string_like_regexp("^TrainingModelRole[0-9A-F]{8}$"), "Arn"]},
        "IDEMPOTENCY_TABLE": _ref("AlarmResponseIdempotencyTable"),
        "METRICS_NAMESPACE": MONITORING_NAMESPACE,
        # Built from the partition, region and account; test_the_responder_knows_the_stacks_alarms reads it.
        "ALARM_ARNS": Match.object_like({"Fn::Join": Match.any_value()}),
    },
    "prepare_deployment": {"MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP, "ENDPOINT_NAME": ENDPOINT_NAME},
    "monitor_drift": {"DATA_BUCKET": DATA_BUCKET, "ENDPOINT_NAME": ENDPOINT_NAME, "METRICS_NAMESPACE": MONITORING_NAMESPACE},
    "monitor_quality": {
        "DATA_BUCKET": DATA_BUCKET,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "METRICS_NAMESPACE": MONITORING_NAMESPACE,
    },
    "start_pipeline": {
        "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "DATA_BUCKET": DATA_BUCKET,
        "MODEL_PACKAGE_GROUP": MODEL_PACKAGE_GROUP,
    },
}
ASYNCHRONOUS = {"alarm_responder", "monitor_drift", "monitor_quality", "start_pipeline"}


def _powertools(name: str) -> dict[str, str]:
    return {"POWERTOOLS_SERVICE_NAME": name, "POWERTOOLS_METRICS_NAMESPACE": PROJECT, "POWERTOOLS_LOG_LEVEL": "INFO"}


def _functions(synthesized):
    return {
        function["Properties"]["Handler"].split(".")[1]: function
        for function in synthesized.resources("AWS::Lambda::Function").values()
    }


def test_functions_share_runtime_architecture_layers_and_observability(synthesized):
    mapping = LambdaFactory.LAYER_MAPPING_ID
    layer_references = [
        {"Fn::FindInMap": [mapping, {"Ref": "AWS::Region"}, "pandas"]},
        {"Fn::FindInMap": [mapping, {"Ref": "AWS::Region"}, "powertools"]},
    ]
    for name, function in _functions(synthesized).items():
        properties = function["Properties"]
        assert properties["Handler"] == f"functions.{name}.handler.lambda_handler"
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert properties["Layers"] == layer_references
        assert properties["Timeout"] > 3 and properties["MemorySize"] > 128


def test_functions_log_to_their_own_retained_encrypted_group(synthesized):
    groups = synthesized.resources("AWS::Logs::LogGroup")
    used = set()
    for function in _functions(synthesized).values():
        group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        used.add(group_id)
        assert groups[group_id]["Properties"]["RetentionInDays"] > 0
        assert "KmsKeyId" in groups[group_id]["Properties"]

    assert len(used) == len(ENVIRONMENT)


def test_functions_get_exactly_the_contract_environment(synthesized):
    assert sorted(_functions(synthesized)) == sorted(ENVIRONMENT)
    for name, variables in ENVIRONMENT.items():
        synthesized.template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": f"functions.{name}.handler.lambda_handler",
                "Environment": {"Variables": Match.object_equals({**_powertools(name), **variables})},
            },
        )


def test_register_function_gets_the_regional_image_and_the_source_bundle_version(synthesized):
    variables = _functions(synthesized)["register_model"]["Properties"]["Environment"]["Variables"]
    definition = synthesized.definition()
    bundle_object = definition["States"]["Start training"]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"]

    assert variables["INFERENCE_IMAGE_URI"] == {"Fn::FindInMap": ["SklearnImages", {"Ref": "AWS::Region"}, "image"]}
    assert bundle_object.rsplit("/", 1)[1].startswith(variables["CODE_VERSION"])


def test_image_mapping_covers_regions_without_account_ids_in_code(synthesized):
    mapping = synthesized.template_json["Mappings"]["SklearnImages"]

    assert {"us-east-1", "eu-west-1"} <= set(mapping)
    assert all(entry["image"].endswith("/sagemaker-scikit-learn:1.4-2-cpu-py3") for entry in mapping.values())


def test_only_event_driven_functions_are_invoked_asynchronously_with_a_failure_destination(synthesized):
    configs = synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
    queue_id, _ = synthesized.only("AWS::SQS::Queue")
    function_ids = {
        function["Properties"]["Handler"].split(".")[1]: logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
    }

    assert sorted(config["Properties"]["FunctionName"]["Ref"] for config in configs) == sorted(
        function_ids[name] for name in ASYNCHRONOUS
    )
    for config in configs:
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def _resolved(value, references):
    """An Fn::Join of strings and pseudo-parameter Refs, as CloudFormation would join it."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return references[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(_resolved(part, references) for part in parts)


def test_the_responder_knows_exactly_the_stacks_routed_alarms(synthesized):
    # The responder ignores any alarm event whose ARN is not in ALARM_ARNS, so the list must be
    # the alarms the state change rule routes to it, in this stack's partition, region and account.
    responder = _functions(synthesized)["alarm_responder"]
    joined = responder["Properties"]["Environment"]["Variables"]["ALARM_ARNS"]
    references = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}

    arns = _resolved(joined, references).split(",")

    [rule] = [
        rule
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("detail-type") == ["CloudWatch Alarm State Change"]
    ]
    routed = rule["Properties"]["EventPattern"]["detail"]["alarmName"]
    assert sorted(arns) == sorted(f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{name}" for name in routed)
    assert len(routed) == 7
