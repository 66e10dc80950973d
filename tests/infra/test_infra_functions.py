"""Every function: Python 3.12 on arm64, managed layers, JSON logs, tracing, own log group."""

from __future__ import annotations

from infra.constructs.lambda_factory import LambdaFactory

ENVIRONMENT = {
    "validate_data": {"DATA_BUCKET", "MODEL_PACKAGE_GROUP"},
    "evaluate_model": {"DATA_BUCKET", "ENDPOINT_NAME", "MODEL_PACKAGE_GROUP"},
    "register_model": {"DATA_BUCKET", "MODEL_PACKAGE_GROUP", "INFERENCE_IMAGE_URI", "CODE_VERSION"},
    "alarm_responder": {
        "DATA_BUCKET",
        "MODEL_PACKAGE_GROUP",
        "ENDPOINT_NAME",
        "TOPIC_ARN",
        "STATE_MACHINE_ARN",
        "MODEL_ROLE_ARN",
        "IDEMPOTENCY_TABLE",
    },
    "prepare_deployment": {"MODEL_PACKAGE_GROUP", "ENDPOINT_NAME"},
    "monitor_drift": {"DATA_BUCKET", "ENDPOINT_NAME", "METRICS_NAMESPACE"},
    "monitor_quality": {"DATA_BUCKET", "ENDPOINT_NAME", "METRICS_NAMESPACE"},
    "start_pipeline": {"STATE_MACHINE_ARN"},
}
ASYNCHRONOUS = {"alarm_responder", "monitor_drift", "monitor_quality", "start_pipeline"}
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


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


def test_functions_get_the_contract_environment(synthesized):
    for name, function in _functions(synthesized).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert ENVIRONMENT[name] | POWERTOOLS <= set(variables), name
        assert variables["POWERTOOLS_SERVICE_NAME"] == name


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
