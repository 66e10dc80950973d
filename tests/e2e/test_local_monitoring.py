"""The closed loop on the local pipeline: drifted traffic retrains once however often the alarm
event arrives, a second drift alarm inside the cooldown is skipped, a burst of 5XX errors
after a deployment rolls the endpoint back, and a burst of traffic far above what the endpoint
usually receives is announced to a person."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from functions.common.config import MonitoringConfig
from functions.common.outcome import Outcome
from mlops.commands.monitoring import run_scheduled_monitors, send_rows
from mlops.local import moto_access, runtime_env
from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, execution_result, run_upload
from mlops.local.standins import ALARM_STATE_CHANGE
from tests.support.local_pipeline_runs import init_config, write_csv
from tests.support.runtimes import image_python

pytestmark = pytest.mark.e2e

# The drift alarm watches the fraction of drifted features; a recalibrated sensor moves all of
# the "worst_*" measurements (a third of the features) at once.
RECALIBRATED_FEATURES = [f"worst_{name}" for name in ("radius", "texture", "perimeter", "area", "smoothness",
                         "compactness", "concavity", "concave_points", "symmetry", "fractal_dimension")]


# What the endpoint usually receives: invocations per 5-minute period over the last two hours,
# the last period included.
LEARNED_TRAFFIC = [10, 9, 11, 10, 12, 8, 10, 11, 9, 10, 13, 7, 10, 11, 9, 10, 12, 8, 10, 11, 9, 10, 10, 12, 9]
BURST_REQUESTS = 80


def _decisions(cloud, since: int) -> list[dict]:
    return [d.result for d in cloud.standins.deliveries[since:] if d.detail_type == ALARM_STATE_CHANGE and d.result]


@pytest.fixture
def cancer_config(tmp_path, breast_cancer_frame):
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    # One evaluation period, so a burst of seconds is enough to decide locally.
    return first, init_config(
        first,
        "target",
        tmp_path / "pipeline.json",
        monitoring__evaluation_periods=1,
        monitoring__invocation_anomaly_evaluation_periods=1,
    )


def _learned_traffic(cloud) -> None:
    """The Invocations SageMaker reported for the endpoint before now, which the band learns from."""
    config = json.loads(cloud.config_path.read_text())
    period = timedelta(seconds=config.get("monitoring", {}).get("invocation_anomaly_period_seconds", 300))
    now = datetime.now(timezone.utc)
    dimensions = [
        {"Name": "EndpointName", "Value": cloud.outputs.endpoint_name},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    moto_access.cloudwatch_backend().put_metric_data(
        "AWS/SageMaker",
        [
            {"MetricName": "Invocations", "Dimensions": dimensions, "Unit": "Count", "Value": count,
             "Timestamp": now - (periods_ago + 0.5) * period}
            for periods_ago, count in enumerate(LEARNED_TRAFFIC)
        ],
    )


def _break_serving_model(cloud, work: Path) -> None:
    """Replace the estimator in the serving version's artifact with one never fitted, before the
    endpoint first loads it: the model's own code then fails on every request."""
    sagemaker = cloud.client("sagemaker")
    config_name = sagemaker.describe_endpoint(EndpointName=cloud.outputs.endpoint_name)["EndpointConfigName"]
    model_name = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]["ModelName"]
    bucket, _, key = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"][5:].partition("/")
    unpacked = work / "broken-model"
    with tarfile.open(fileobj=io.BytesIO(moto_access.read_object(bucket, key)), mode="r:gz") as archive:
        archive.extractall(unpacked, filter="data")
    subprocess.run(
        [str(image_python()), "-c", "import joblib, sys; from sklearn.linear_model import LogisticRegression; "
         "joblib.dump(LogisticRegression(), sys.argv[1])", str(unpacked / "model.joblib")],
        env=runtime_env.clean_environment(),
        check=True,
    )
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for path in sorted(unpacked.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(unpacked)), recursive=False)
    moto_access.write_object(bucket, key, packed.getvalue())


def test_drift_retrains_once_even_when_the_alarm_event_arrives_three_times(cancer_config, breast_cancer_frame):
    first, config = cancer_config
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        labelled = breast_cancer_frame.iloc[300:].copy()
        for feature in RECALIBRATED_FEATURES:
            labelled[feature] += 1.5 * breast_cancer_frame[feature].std()
        # The new period's labelled rows arrive too (rejected for drift at upload), so the
        # retraining has rows the serving version was not trained on
        new_rows = write_csv(labelled, config.parent / "cancer_recalibrated.csv")
        assert run_upload(cloud, new_rows).outcome == Outcome.DATA_REJECTED
        traffic = labelled.drop(columns=["target"])
        assert send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, traffic).failed_requests == 0
        started, delivered = len(cloud.standins.started_executions), len(cloud.standins.deliveries)

        # When the scheduled drift monitor runs, and EventBridge delivers the alarm event twice more
        run_scheduled_monitors(cloud.client("events"), cloud.client("lambda"))
        # Only the drift alarm's events: on a loaded machine the first requests, which load the
        # model, can also cross the latency alarm's threshold.
        [alarm_event] = [
            e
            for e in cloud.standins.published_events
            if e["detail-type"] == ALARM_STATE_CHANGE and e["detail"]["alarmName"] == "mlops-drift"
        ]
        assert alarm_event["detail"]["state"]["value"] == "ALARM"
        cloud.standins.publish_event(alarm_event)
        cloud.standins.publish_event(alarm_event)

        # Then exactly one retraining execution started, and it reached an outcome
        retrains = cloud.standins.started_executions[started:]
        assert len(retrains) == 1
        # It is validated like any upload: the recalibrated rows it carries drift beyond the
        # features' fail level against the version serving, so it may end rejected there.
        retrained = execution_result(cloud, retrains[0], "retraining")
        assert retrained.outcome in {Outcome.DEPLOYED, Outcome.MODEL_REJECTED, Outcome.DATA_REJECTED}, retrained.reason
        assert endpoint_status(cloud)["model_version"] == 1 or retrained.outcome == Outcome.DEPLOYED
        decisions = [d for d in _decisions(cloud, delivered) if d["alarm_name"] == "mlops-drift"]
        assert [d["action"] for d in decisions] == ["retrain", "retrain", "retrain"]
        assert len({json.dumps(d, sort_keys=True) for d in decisions}) == 1  # the repeats got the first answer
        assert decisions[0]["outcome"].startswith("retraining started")

        # And a second drift alarm inside the cooldown is recorded as skipped
        cloudwatch = cloud.client("cloudwatch")
        cloudwatch.set_alarm_state(AlarmName="mlops-drift", StateValue="OK", StateReason="traffic back to normal")
        delivered = len(cloud.standins.deliveries)
        cloudwatch.set_alarm_state(AlarmName="mlops-drift", StateValue="ALARM", StateReason="drift again")
        started = len(cloud.standins.started_executions)
        [second] = [d for d in _decisions(cloud, delivered) if d["state"] == "ALARM"]
        assert second["outcome"] == "skipped: cooldown"
        assert cloud.standins.started_executions[started:] == []


def test_a_drift_alarm_with_no_new_rows_since_the_serving_version_retrains_nothing(cancer_config, breast_cancer_frame):
    first, config = cancer_config
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        started, delivered = len(cloud.standins.started_executions), len(cloud.standins.deliveries)

        # When the drift alarm fires with nothing uploaded since the serving version's data
        cloud.client("cloudwatch").set_alarm_state(AlarmName="mlops-drift", StateValue="ALARM", StateReason="drift")

        # Then no retraining starts, and the audit record says why
        [decision] = [d for d in _decisions(cloud, delivered) if d["alarm_name"] == "mlops-drift"]
        assert (decision["action"], decision["outcome"]) == ("retrain", "skipped: no new rows since the serving version")
        assert cloud.standins.started_executions[started:] == []


def test_a_burst_of_5xx_errors_after_a_deployment_rolls_back(cancer_config, breast_cancer_frame, tmp_path):
    first, config = cancer_config
    more = write_csv(breast_cancer_frame, tmp_path / "cancer_2024_02.csv")
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        assert run_upload(cloud, more).outcome == Outcome.DEPLOYED
        assert endpoint_status(cloud)["model_version"] == 2
        delivered = len(cloud.standins.deliveries)

        # When the new version's model fails on every well-formed request (its own 5XX; a client's
        # malformed request is a 4XX, which the errors alarm does not count)
        _break_serving_model(cloud, tmp_path)
        rows = breast_cancer_frame.drop(columns=["target"]).head(12)
        failed = send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, rows, rows_per_request=1)

        # Then the errors alarm goes off at its threshold, and the requests after it are served again
        threshold = MonitoringConfig.model_validate(json.loads(cloud.config_path.read_text()).get("monitoring", {})).error_5xx_threshold
        assert failed.failed_requests == threshold
        assert len(failed.predictions) == len(rows) - threshold

        # by version 1: the alarm's action rolled the endpoint back and marked version 2
        [decision] = [d for d in _decisions(cloud, delivered) if d["state"] == "ALARM"]
        assert decision["alarm_name"] == "mlops-errors" and decision["action"] == "rollback"
        assert decision["model_version_before"] == 2 and decision["model_version_after"] == 1
        assert endpoint_status(cloud)["model_version"] == 1
        sagemaker = cloud.client("sagemaker")
        packages = sagemaker.list_model_packages(ModelPackageGroupName=cloud.outputs.model_package_group)["ModelPackageSummaryList"]
        assert {p["ModelPackageArn"].rsplit("/", 1)[1]: p["ModelApprovalStatus"] for p in packages}["2"] == "Rejected"
        audit = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="audit/")
        assert audit["KeyCount"] >= 1


def test_a_burst_far_above_the_learned_traffic_is_announced_to_a_person(cancer_config, breast_cancer_frame):
    first, config = cancer_config
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        cloudwatch = cloud.client("cloudwatch")
        [detector] = cloudwatch.describe_anomaly_detectors(Namespace="AWS/SageMaker")["AnomalyDetectors"]
        assert detector["SingleMetricAnomalyDetector"]["MetricName"] == "Invocations"
        _learned_traffic(cloud)
        assert cloudwatch.describe_alarms(AlarmNames=["mlops-invocation-anomaly"])["MetricAlarms"][0]["StateValue"] == "OK"
        delivered = len(cloud.standins.deliveries)

        # When eight times the usual traffic arrives within minutes
        rows = breast_cancer_frame.drop(columns=["target"]).head(BURST_REQUESTS)
        burst = send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, rows, rows_per_request=1)
        assert burst.failed_requests == 0

        # Then the invocation anomaly alarm goes off once, and the responder notifies without touching the endpoint
        [alarm] = cloudwatch.describe_alarms(AlarmNames=["mlops-invocation-anomaly"])["MetricAlarms"]
        assert alarm["StateValue"] == "ALARM"
        # (the first request also loads the model, which the latency alarm may see)
        [decision] = [d for d in _decisions(cloud, delivered) if d["alarm_name"] == "mlops-invocation-anomaly"]
        assert decision["state"] == "ALARM"
        assert (decision["action"], decision["outcome"]) == ("notify", "notified")
        assert decision["model_version_before"] == decision["model_version_after"] == 1
        assert endpoint_status(cloud)["model_version"] == 1

        # And the audit log holds the decision
        s3 = cloud.client("s3")
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="audit/")["Contents"]]
        records = [json.loads(s3.get_object(Bucket=cloud.outputs.data_bucket, Key=key)["Body"].read()) for key in keys]
        [record] = [r for r in records if r["alarm"]["name"] == "mlops-invocation-anomaly"]
        assert record["what"] == {"action": "notify", "outcome": "notified", "status": "acted"}
        assert record["alarm"]["kind"] == "invocation-anomaly"
