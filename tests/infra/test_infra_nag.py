"""cdk-nag (AwsSolutions, Serverless) finds nothing unacknowledged, and every
acknowledgement carries a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Validations, aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from infra.app import build_app, pipeline_stack

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


def test_nag_packs_report_no_violations(synthesized):
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())

    violations = [
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]

    assert violations == []


def test_no_error_or_warning_annotations(synthesized):
    annotations = Annotations.from_stack(synthesized.stack)

    for pack in ("AwsSolutions-.*", "Serverless-.*"):
        assert annotations.find_error("*", Match.string_like_regexp(pack)) == []
        assert annotations.find_warning("*", Match.string_like_regexp(pack)) == []
    assert annotations.find_error("*", Match.any_value()) == []


def test_every_acknowledgement_has_a_reason(synthesized):
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledgements = [
        entry.data
        for construct in synthesized.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
    ]

    assert acknowledgements
    for data in acknowledgements:
        for rule, reason in data.items():
            assert rule.startswith(("Annotation::AwsSolutions-", "Annotation::Serverless-")), rule
            assert isinstance(reason, str) and len(reason.split()) >= 6, (rule, reason)


def test_wildcard_resource_acknowledgements_name_the_finding(synthesized):
    # A bare "AwsSolutions-IAM5" would hide every wildcard on the construct.
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    rules = {
        rule
        for construct in synthesized.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule in entry.data
    }

    iam5 = {rule for rule in rules if "AwsSolutions-IAM5" in rule}
    assert iam5
    assert all(rule.startswith("Annotation::AwsSolutions-IAM5[Resource::") for rule in iam5), sorted(iam5)


def test_an_unacknowledged_finding_of_either_pack_fails_synthesis(tmp_path):
    # Given the pipeline app with one queue that has no dead-letter queue and no acknowledgement
    app = build_app(EXAMPLE_CONFIG, outdir=tmp_path)
    sqs.Queue(pipeline_stack(app), "QueueWithoutDeadLetterQueue", enforce_ssl=True)

    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()

    assert "AwsSolutions-SQS3" in str(failure.value)
    assert "Serverless-SQSRedrivePolicy" in str(failure.value)
