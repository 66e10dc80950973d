"""`mlops versions | lineage | approve | reject | rollback` against a deployed pipeline in moto."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.cli import main
from mlops.cli_support import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mlops.local.server import LocalServer, write_state_file
from mlops.local.server_access import LocalCredentials
from registry_cli_support import (
    CODE_VERSION,
    DATA_BUCKET,
    ENDPOINT_NAME,
    GROUP,
    MODEL_ROLE_ARN,
    OPERATOR,
    audit_records,
    dataset_version,
    stack_outputs,
    training_job,
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def package(version_arn: str) -> dict:
    return boto3.client("sagemaker").describe_model_package(ModelPackageName=version_arn)


def table_row(out: str, version: int) -> list[str]:
    for line in out.splitlines():
        cells = line.split()
        if cells and (cells[0] == str(version) or cells[:2] == ["*", str(version)]):
            return cells
    raise AssertionError(f"no row for version {version} in:\n{out}")


def test_versions_lists_every_version_and_marks_the_one_serving(deployment, capsys):
    status, out, _ = run(capsys, "versions")

    assert status == EXIT_OK
    assert table_row(out, 2) == ["*", "2", "Approved", "roc_auc=0.9876", "2" * 12, *table_row(out, 2)[5:]]
    assert table_row(out, 1)[:4] == ["1", "Approved", "roc_auc=0.9811", "1" * 12]
    assert table_row(out, 3)[:2] == ["3", "PendingManualApproval"]
    # Newest version first
    rows = [line.split() for line in out.splitlines()[1:4]]
    assert [row[1] if row[0] == "*" else row[0] for row in rows] == ["3", "2", "1"]
    assert f"serving on endpoint {ENDPOINT_NAME}" in out


def test_versions_says_when_no_endpoint_serves(deployment, capsys):
    boto3.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT_NAME)

    status, out, _ = run(capsys, "versions")

    assert status == EXIT_OK
    assert "*" not in out
    assert f"Endpoint {ENDPOINT_NAME} does not exist" in out


def test_versions_as_json_is_one_lineage_shaped_object_per_version_newest_first(deployment, capsys):
    status, out, _ = run(capsys, "versions", "--json")

    assert status == EXIT_OK
    records = [json.loads(line) for line in out.splitlines()]
    assert [record["version"] for record in records] == [3, 2, 1]
    assert [record["serving"] for record in records] == [False, True, False]
    assert records[1]["model_package_arn"] == deployment.package_arns[2]
    assert records[1]["approval_status"] == "Approved"
    assert records[1]["dataset_version"] == dataset_version(2)
    assert (records[1]["primary_metric"], records[1]["primary_metric_value"]) == ("roc_auc", "0.9876")
    # The same keys and values as the version's lineage record
    for record in records:
        lineage = json.loads(run(capsys, "lineage", str(record["version"]), "--json")[1])
        assert record == {key: lineage[key] for key in record}


def test_versions_as_json_of_an_empty_registry_prints_nothing(aws, monkeypatch, capsys):
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", lambda session, name: stack_outputs("arn:topic"))

    assert run(capsys, "versions", "--json") == (EXIT_OK, "", "")
    assert run(capsys, "versions")[1].startswith(f"No versions in model package group {GROUP}")


def test_lineage_shows_what_produced_a_version(deployment, capsys):
    status, out, _ = run(capsys, "lineage", "3")

    assert status == EXIT_OK
    assert dataset_version(3) in out
    assert training_job(3) in out
    assert CODE_VERSION in out
    assert "max_depth=6 n_estimators=200" in out
    assert "run-3" in out  # the execution ARN
    lines = {line.split("  ", 2)[1].strip(): line for line in out.splitlines()[1:]}
    assert lines["compared with"].split()[-1] == "2"
    assert lines["gate decision"].split()[-1] == "passed"
    # The gate comes first: its metric, the margin, both comparisons, then the decision
    labels = [line.split("  ", 2)[1].strip() for line in out.splitlines()[1:]]
    assert labels[:7] == [
        "primary metric", "metric value", "required gain", "on new test rows", "on reference holdout",
        "compared with", "gate decision",
    ]
    assert lines["required gain"].endswith("more than +0.0000")
    assert lines["on reference holdout"].endswith("challenger=0.9800 champion=0.9700 gain=+0.0100 rows=240")


def test_lineage_as_json_parses_the_hyperparameters(deployment, capsys):
    status, out, _ = run(capsys, "lineage", "2", "--json")

    assert status == EXIT_OK
    record = json.loads(out)
    assert record["serving"] is True
    assert record["dataset_version"] == dataset_version(2)
    assert record["dataset_uri"] == f"s3://data-bucket/curated/{dataset_version(2)}/".replace(
        "data-bucket", "mlops-data-123456789012")
    assert record["hyperparameters"] == {"max_depth": "6", "n_estimators": "200"}
    assert record["training_job"] == training_job(2)
    assert record["model_data_url"].endswith(f"/{training_job(2)}/output/model.tar.gz")
    assert record["approval_status"] == "Approved"


def test_lineage_of_an_unknown_version_is_a_usage_error(deployment, capsys):
    status, out, err = run(capsys, "lineage", "9")

    assert status == EXIT_USAGE
    assert out == ""
    assert err.strip() == "mlops lineage: no version 9 in model package group mlops-models"


def test_approve_changes_the_status_keeps_the_lineage_and_records_a_person_approved(deployment, capsys):
    metadata_before = package(deployment.package_arns[3])["CustomerMetadataProperties"]
    assert metadata_before["approved_by"] == "none"

    status, out, _ = run(capsys, "approve", "3", "--reason", "reviewed the evaluation report")

    assert status == EXIT_OK
    approved = package(deployment.package_arns[3])
    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovalDescription"] == f"Approved by {OPERATOR} with mlops approve: reviewed the evaluation report"
    assert approved["CustomerMetadataProperties"] == {**metadata_before, "approved_by": "person"}
    assert "approval event starts its deployment" in out
    [record] = audit_records(boto3.client("s3"))
    assert record["who"] == {"command": "mlops approve", "user": OPERATOR}
    assert record["what"]["action"] == "approve"
    assert record["details"]["model_version"] == 3


def test_approve_of_an_unknown_version_exits_2_and_changes_nothing(deployment, capsys):
    status, out, err = run(capsys, "approve", "9")

    assert status == EXIT_USAGE
    assert len(err.strip().splitlines()) == 1
    assert "no version 9" in err
    assert package(deployment.package_arns[3])["ModelApprovalStatus"] == "PendingManualApproval"
    assert audit_records(boto3.client("s3")) == []


def test_reject_records_the_reason(deployment, capsys):
    metadata_before = package(deployment.package_arns[3])["CustomerMetadataProperties"]

    status, out, _ = run(capsys, "reject", "3", "--reason", "trained on a mislabelled batch")

    assert status == EXIT_OK
    rejected = package(deployment.package_arns[3])
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["ApprovalDescription"].endswith(": trained on a mislabelled batch")
    assert rejected["CustomerMetadataProperties"] == metadata_before
    assert "PendingManualApproval -> Rejected" in out


def test_reject_needs_a_reason(deployment, capsys):
    status, _, err = run(capsys, "reject", "3")

    assert status == EXIT_USAGE
    assert "--reason" in err
    assert package(deployment.package_arns[3])["ModelApprovalStatus"] == "PendingManualApproval"


def test_rollback_serves_the_previous_approved_version_and_audits_it(deployment, capsys):
    # Given version 2 serving and version 1 approved before it
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    metadata_before = package(deployment.package_arns[2])["CustomerMetadataProperties"]

    # When an operator rolls back
    status, out, _ = run(capsys, "rollback", "--reason", "customers report wrong scores")

    # Then the endpoint moves to a new config serving version 1 with the same capture settings
    assert status == EXIT_OK
    [update] = deployment.update_endpoint_calls
    assert update["EndpointName"] == ENDPOINT_NAME
    new_config = sagemaker.describe_endpoint_config(EndpointConfigName=update["EndpointConfigName"])
    assert new_config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{DATA_BUCKET}/capture/"
    model = sagemaker.describe_model(ModelName=new_config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["Environment"]["MODEL_VERSION"] == "1"
    assert model["ExecutionRoleArn"] == MODEL_ROLE_ARN
    assert "version 2 -> version 1" in out

    # And version 2 is Rejected with the operator's reason, its lineage intact
    rejected = package(deployment.package_arns[2])
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["ApprovalDescription"] == f"Rolled back by {OPERATOR} with mlops rollback: customers report wrong scores."
    assert rejected["CustomerMetadataProperties"] == metadata_before

    # And the audit log says who, what and why
    [record] = audit_records(s3)
    assert record["who"] == {"command": "mlops rollback", "user": OPERATOR}
    assert record["what"] == {"action": "rollback", "outcome": "rolled back from version 2 to version 1", "status": "acted"}
    assert record["versions"] == {"before": 2, "after": 1}
    assert record["why"] == rejected["ApprovalDescription"]
    assert record["details"]["rejected_model_package_arn"] == deployment.package_arns[2]


def test_rollback_to_a_version_that_is_not_approved_is_refused(deployment, capsys):
    status, _, err = run(capsys, "rollback", "--to", "3")

    assert status == EXIT_USAGE
    assert "approve it first" in err
    assert deployment.update_endpoint_calls == []
    assert package(deployment.package_arns[2])["ModelApprovalStatus"] == "Approved"


def test_rollback_without_an_older_approved_version_fails_cleanly(deployment, capsys):
    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=deployment.package_arns[1], ModelApprovalStatus="Rejected"
    )

    status, _, err = run(capsys, "rollback")

    assert status == EXIT_FAILED
    assert "no approved version older than 2" in err
    assert deployment.update_endpoint_calls == []
    assert audit_records(boto3.client("s3")) == []


def test_unreachable_stack_is_a_one_line_usage_error(environment, monkeypatch, capsys):
    def missing_stack(session, name):
        raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {name} does not exist"}},
                          "DescribeStacks")

    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", missing_stack)

    status, out, err = run(capsys, "versions")

    assert status == EXIT_USAGE
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "mlops-pipeline" in err and "cdk deploy" in err


@pytest.mark.parametrize("argv", [["versions", "--local"], ["rollback", "--local"]])
def test_local_without_a_running_server_is_a_usage_error(environment, capsys, argv):
    status, _, err = run(capsys, *argv)

    assert status == EXIT_USAGE
    assert "mlops local up" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_server(environment, tmp_path):
    """The local server on 127.0.0.1, the state file `mlops local up` writes for it, and a client
    factory signing with the credentials the server generated."""
    credentials = LocalCredentials.generate()
    (tmp_path / ".mlops").mkdir()
    # mock_aws leaves requests to 127.0.0.1 alone and resets the backends the server shares on exit.
    with mock_aws(), LocalServer(0, credentials) as server:
        outputs = {"ModelPackageGroupName": "local-models", "EndpointName": "local-endpoint"}
        write_state_file(tmp_path / ".mlops" / "local-server.json", server.state(tmp_path / "pipeline.json", outputs))
        session = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            region_name="us-east-1",
        )
        yield lambda service: session.client(service, endpoint_url=server.endpoint_url)


def test_versions_reaches_the_local_server(local_server, capsys):
    # Given the local server holds one approved version
    sagemaker = local_server("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="local-models")
    sagemaker.create_model_package(
        ModelPackageGroupName="local-models",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties={"primary_metric": "f1", "primary_metric_value": "0.5", "dataset_version": "ab" * 32},
    )

    status, out, _ = run(capsys, "versions", "--local")

    assert status == EXIT_OK
    assert table_row(out, 1)[:4] == ["1", "Approved", "f1=0.5000", "abababababab"]
    assert "Endpoint local-endpoint does not exist" in out


def test_local_server_that_does_not_answer_is_a_usage_error(environment, tmp_path, capsys):
    port = free_port()
    credentials = LocalCredentials.generate()
    (tmp_path / ".mlops").mkdir()
    (tmp_path / ".mlops" / "local-server.json").write_text(json.dumps({
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region": "us-east-1",
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
        "outputs": {},
    }))

    status, _, err = run(capsys, "versions", "--local")

    assert status == EXIT_USAGE
    assert "does not answer" in err


def test_local_server_state_without_credentials_is_a_usage_error(local_server, tmp_path, capsys):
    # A state file written before the server generated credentials: it must be restarted.
    state_file = tmp_path / ".mlops" / "local-server.json"
    state = json.loads(state_file.read_text())
    del state["access_key_id"], state["secret_access_key"]
    state_file.write_text(json.dumps(state))

    status, out, err = run(capsys, "versions", "--local")

    assert status == EXIT_USAGE
    assert out == ""
    assert "mlops local up" in err
