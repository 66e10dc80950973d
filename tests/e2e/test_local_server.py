"""`mlops local up` / `mlops local down`: the local cloud as a server that boto3 reaches with an
endpoint URL, used the way a person uses AWS (upload, watch the execution, list versions,
invoke the endpoint)."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
import pytest

from functions.common.outcome import Outcome
from mlops.cli import main
from mlops.local.deployment import synthesize
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e

EXECUTION_TIMEOUT_SECONDS = 300
POLL_SECONDS = 0.5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_execution(stepfunctions, state_machine_arn: str) -> dict:
    deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        executions = stepfunctions.list_executions(stateMachineArn=state_machine_arn)["executions"]
        if executions and executions[0]["status"] != "RUNNING":
            return stepfunctions.describe_execution(executionArn=executions[0]["executionArn"])
        time.sleep(POLL_SECONDS)
    raise AssertionError("the upload's execution did not finish")


def test_local_up_serves_the_pipeline_to_boto3_and_local_down_stops_it(tmp_path, monkeypatch, capsys, breast_cancer_frame):
    # Given a config, and a local cloud started as a server
    monkeypatch.chdir(tmp_path)
    data = write_csv(breast_cancer_frame, tmp_path / "breast_cancer.csv")
    config = init_config(data, "target", tmp_path / "pipeline.json")
    # Synthesized here, where the CDK's runtime is already running, instead of by a cold one in
    # the server's process: `local up` then finds the app in the synthesis cache, as a second
    # `local up` of the same config does.
    synthesize(config)
    port = _free_port()
    try:
        assert main(["local", "up", "--config", str(config), "--port", str(port)]) == 0
        printed = capsys.readouterr().out
        state = json.loads((tmp_path / ".mlops" / "local-server.json").read_text())
        url = state["endpoint_url"]
        outputs = state["outputs"]
        assert url == f"http://127.0.0.1:{port}"
        assert f"--endpoint-url {url} " in printed
        kept = Path(state["results_folder"])
        assert kept.parent == (tmp_path / "mlops-runs").resolve() and f"kept in {kept} as they come" in printed

        # When a user uploads data with boto3 and the credentials `local up` printed, as they
        # would to the data bucket in AWS
        exported = re.search(r"export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_DEFAULT_REGION=(\S+)", printed)
        assert exported, printed
        access_key_id, secret_access_key, region = exported.groups()
        session = boto3.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
        )
        s3 = session.client("s3", endpoint_url=url)
        s3.upload_file(str(data), outputs["DataBucketName"], "incoming/breast_cancer.csv")
        stepfunctions = session.client("stepfunctions", endpoint_url=url)
        execution = _wait_for_execution(stepfunctions, outputs["StateMachineArn"])

        # Then the upload deploys, the registry lists the version and the endpoint answers
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        assert json.loads(execution["output"])["result"]["outcome"] == Outcome.DEPLOYED
        sagemaker = session.client("sagemaker", endpoint_url=url)
        packages = sagemaker.list_model_packages(ModelPackageGroupName=outputs["ModelPackageGroupName"])
        assert [p["ModelApprovalStatus"] for p in packages["ModelPackageSummaryList"]] == ["Approved"]
        rows = breast_cancer_frame.drop(columns=["target"]).head(3).to_csv(index=False, header=False)
        response = session.client("sagemaker-runtime", endpoint_url=url).invoke_endpoint(
            EndpointName=outputs["EndpointName"], ContentType="text/csv", Body=rows
        )
        assert len(json.loads(response["Body"].read())["predictions"]) == 3
        assert response["ContentType"] == "application/json"
        # And a malformed request is the client's error, which the image's serving stack answers with
        # a 400 naming the problem, counted as a 4XX and not as an error of the model
        with pytest.raises(ClientError) as refused:
            session.client("sagemaker-runtime", endpoint_url=url).invoke_endpoint(
                EndpointName=outputs["EndpointName"], ContentType="text/csv", Body="1.0,2.0\n"
            )
        assert refused.value.response["Error"]["Code"] == "ModelError"
        assert refused.value.response["OriginalStatusCode"] == 400
        assert "expected 30" in refused.value.response["Error"]["Message"]
        errors = session.client("cloudwatch", endpoint_url=url).get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors", StartTime=time.time() - 3600,
            EndTime=time.time() + 60, Period=3600, Statistics=["Sum"],
            Dimensions=[{"Name": "EndpointName", "Value": outputs["EndpointName"]}, {"Name": "VariantName", "Value": "AllTraffic"}],
        )
        assert sum(point["Sum"] for point in errors["Datapoints"]) == 0

        # And the server keeps the run's results in its folder while it runs: the reports,
        # the functions' and the training job's logs, and the upload's outcome
        execution_name = execution["executionArn"].rsplit(":", 1)[-1]
        outcomes = kept / "outcomes.txt"
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        while not (outcomes.exists() and "incoming/breast_cancer.csv: DEPLOYED" in outcomes.read_text()):
            assert time.monotonic() < deadline, "the server did not keep the upload's outcome"
            time.sleep(POLL_SECONDS)
        assert (kept / "reports" / execution_name / "evaluation.html").is_file()
        assert list((kept / "logs" / "functions").glob("*.log")) and list((kept / "logs" / "jobs").glob("*.log"))

        # And the commands that work on the local server sign with the same credentials, from
        # any directory
        capsys.readouterr()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        assert main(["versions", "--local"]) == 0
        assert main(["local", "invoke", str(data)]) == 0
        assert main(["local", "monitor"]) == 0
        assert f"Sent {len(breast_cancer_frame)} rows" in capsys.readouterr().out
        # And `mlops batch --local` scores a file through the server's batch branch
        to_score = write_csv(breast_cancer_frame.drop(columns=["target"]).head(50), elsewhere / "to_score.csv")
        assert main(["batch", str(to_score), "--local", "--json"]) == 0
        scored = json.loads(capsys.readouterr().out)
        assert (scored["outcome"], scored["model_version"]) == ("scored", 1), scored
        assert scored["predictions_uri"].startswith(f"s3://{outputs['DataBucketName']}/predictions/to_score/")
    finally:
        # When the user stops it
        assert main(["local", "down"]) == 0

    # Then nothing listens on the port and the state files are gone
    assert not _listening(port)
    assert not (tmp_path / ".mlops" / "local-server.pid").exists()
    assert "Stopped the local server" in capsys.readouterr().out
