"""The closed loop on the local pipeline: drifted traffic retrains once however often the alarm
event arrives, a second drift alarm inside the cooldown is skipped, and a burst of 5XX errors
after a deployment rolls the endpoint back."""

from __future__ import annotations

import json

import pytest

from mlops.commands.monitoring import run_scheduled_monitors, send_rows
from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, execution_result, run_upload
from mlops.local.standins import ALARM_STATE_CHANGE
from tests.e2e.conftest import init_config, write_csv

pytestmark = pytest.mark.e2e

DRIFTED_FEATURE = "mean_radius"
# The drift alarm watches the fraction of drifted features; a recalibrated sensor moves all of
# the "worst_*" measurements (a third of the features) at once.
RECALIBRATED_FEATURES = [f"worst_{name}" for name in ("radius", "texture", "perimeter", "area", "smoothness",
                         "compactness", "concavity", "concave_points", "symmetry", "fractal_dimension")]


def _decisions(cloud, since: int) -> list[dict]:
    return [d.result for d in cloud.standins.deliveries[since:] if d.detail_type == ALARM_STATE_CHANGE and d.result]


@pytest.fixture
def cancer_config(tmp_path, breast_cancer_frame):
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    # One evaluation period, so a burst of seconds is enough to decide locally.
    return first, init_config(first, "target", tmp_path / "pipeline.json", monitoring__evaluation_periods=1)


def test_drift_retrains_once_even_when_the_alarm_event_arrives_three_times(cancer_config, breast_cancer_frame):
    first, config = cancer_config
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == "deployed"
        traffic = breast_cancer_frame.drop(columns=["target"]).iloc[300:].copy()
        for feature in RECALIBRATED_FEATURES:
            traffic[feature] += 1.5 * breast_cancer_frame[feature].std()
        assert send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, traffic).failed_requests == 0
        started, delivered = len(cloud.standins.started_executions), len(cloud.standins.deliveries)

        # When the scheduled drift monitor runs, and EventBridge delivers the alarm event twice more
        run_scheduled_monitors(cloud.client("events"), cloud.client("lambda"))
        [alarm_event] = [e for e in cloud.standins.published_events if e["detail-type"] == ALARM_STATE_CHANGE]
        assert alarm_event["detail"]["alarmName"] == "mlops-drift" and alarm_event["detail"]["state"]["value"] == "ALARM"
        cloud.standins.publish_event(alarm_event)
        cloud.standins.publish_event(alarm_event)

        # Then exactly one retraining execution started, and it reached an outcome
        retrains = cloud.standins.started_executions[started:]
        assert len(retrains) == 1
        assert execution_result(cloud, retrains[0], "retraining").outcome in {"deployed", "model_rejected"}
        decisions = _decisions(cloud, delivered)
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


def test_a_burst_of_5xx_errors_after_a_deployment_rolls_back(cancer_config, breast_cancer_frame, tmp_path):
    first, config = cancer_config
    more = write_csv(breast_cancer_frame, tmp_path / "cancer_2024_02.csv")
    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == "deployed"
        assert run_upload(cloud, more).outcome == "deployed"
        assert endpoint_status(cloud)["model_version"] == 2
        delivered = len(cloud.standins.deliveries)

        # When requests start failing on the new version
        broken = breast_cancer_frame.drop(columns=["target", DRIFTED_FEATURE]).head(12)
        failed = send_rows(cloud.client("sagemaker-runtime"), cloud.outputs.endpoint_name, broken, rows_per_request=1)
        assert failed.failed_requests == 12

        # Then the errors alarm rolls the endpoint back to version 1 and marks version 2
        [decision] = [d for d in _decisions(cloud, delivered) if d["state"] == "ALARM"]
        assert decision["alarm_name"] == "mlops-errors" and decision["action"] == "rollback"
        assert decision["model_version_before"] == 2 and decision["model_version_after"] == 1
        assert endpoint_status(cloud)["model_version"] == 1
        sagemaker = cloud.client("sagemaker")
        packages = sagemaker.list_model_packages(ModelPackageGroupName="mlops-models")["ModelPackageSummaryList"]
        assert {p["ModelPackageArn"].rsplit("/", 1)[1]: p["ModelApprovalStatus"] for p in packages}["2"] == "Rejected"
        audit = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="audit/")
        assert audit["KeyCount"] >= 1
