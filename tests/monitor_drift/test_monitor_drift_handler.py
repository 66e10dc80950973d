"""The drift monitor handler against moto: capture in, metrics, report and watermark out."""

from __future__ import annotations

import json

import pytest
from tests.support.drift_scenario import DATA_BUCKET, ENDPOINT_NAME, capture_line

from functions.common.errors import MissingEnvironmentError
from functions.monitor_drift.drift_monitor import MIN_ROWS_FOR_DRIFT
from functions.monitor_drift.handler import lambda_handler
from functions.monitor_drift.service import DRIFT_REPORTS_PREFIX, DRIFT_WATERMARK_KEY

SHIFTED_FEATURE = "mean_radius"


def test_shifted_feature_is_reported_drifted_and_evaluation_traffic_is_ignored(scenario, scheduled_event, context):
    # Given 300 live rows with mean_radius shifted by 1.5 standard deviations, in all three capture encodings
    scenario.deploy()
    traffic = scenario.data.shifted(300, seed=1, feature=SHIFTED_FEATURE, standard_deviations=1.5)
    scenario.write_traffic("json", traffic.iloc[:100], encoding="JSON")
    scenario.write_traffic("csv", traffic.iloc[100:200], encoding="CSV")
    scenario.write_traffic("base64", traffic.iloc[200:], encoding="BASE64")
    # and the pipeline's own champion scoring, far off in another feature, in the same window
    evaluation = scenario.data.shifted(200, seed=2, feature="worst_area", standard_deviations=5.0)
    scenario.write_capture("evaluation", [capture_line(evaluation, inference_id="evaluation-exec-1")])

    # When the scheduled run happens
    summary = lambda_handler(scheduled_event, context)

    # Then only the live rows count, and mean_radius alone is drifted
    assert summary["status"] == "measured"
    assert summary["captured_rows"] == 300
    assert summary["capture"]["evaluation_records"] == 1
    assert summary["drifted_features"] == [SHIFTED_FEATURE]
    assert summary["model_version"] == "1"
    fail_psi = scenario.config.drift.fail_psi
    [feature_psi] = scenario.metric_values("FeaturePSI", EndpointName=ENDPOINT_NAME, Feature=SHIFTED_FEATURE)
    assert feature_psi > fail_psi
    [untouched_psi] = scenario.metric_values("FeaturePSI", EndpointName=ENDPOINT_NAME, Feature="worst_area")
    assert untouched_psi < scenario.config.drift.warn_psi
    [fraction] = scenario.metric_values("DriftedFeatureFraction", EndpointName=ENDPOINT_NAME)
    assert fraction == pytest.approx(1 / len(scenario.data.features))
    assert scenario.metric_values("MaxFeaturePSI", EndpointName=ENDPOINT_NAME) == [pytest.approx(feature_psi)]
    assert scenario.metric_values("CapturedRows", EndpointName=ENDPOINT_NAME) == [300.0]
    # and the report says the same
    [report_key] = scenario.keys(DRIFT_REPORTS_PREFIX)
    assert summary["report_uri"] == f"s3://{DATA_BUCKET}/{report_key}"
    report = json.loads(scenario.s3.get_object(Bucket=DATA_BUCKET, Key=report_key)["Body"].read())
    statuses = {f["column"]: f["status"] for f in report["drift"]["comparison"]["features"]}
    assert statuses[SHIFTED_FEATURE] == "fail"
    assert report["baseline_profile_uri"].endswith("/profile.json")


def test_resampled_training_data_shows_no_drift(scenario, scheduled_event, context):
    scenario.deploy()
    scenario.write_traffic("live", scenario.data.resampled(300, seed=5))

    summary = lambda_handler(scheduled_event, context)

    assert summary["status"] == "measured"
    assert summary["drifted_features"] == []
    assert scenario.metric_values("DriftedFeatureFraction", EndpointName=ENDPOINT_NAME) == [0.0]
    assert summary["max_feature_psi"] < scenario.config.drift.warn_psi + 0.1


def test_watermark_advances_so_the_next_run_reads_only_new_capture(scenario, scheduled_event, context):
    scenario.deploy()
    first_key = scenario.write_traffic("first", scenario.data.resampled(120, seed=6))
    first = lambda_handler(scheduled_event, context)
    assert first["captured_rows"] == 120
    watermark = json.loads(scenario.s3.get_object(Bucket=DATA_BUCKET, Key=DRIFT_WATERMARK_KEY)["Body"].read())
    assert watermark["key"] == first_key

    # When nothing new was captured, the next run finds nothing
    second = lambda_handler(scheduled_event, context)
    assert second["status"] == "insufficient_rows"
    assert second["captured_rows"] == 0
    assert second["capture"]["objects"] == 0

    # When new capture arrives (possibly within the same second as the first), only it is read
    scenario.write_traffic("third", scenario.data.resampled(80, seed=7))
    third = lambda_handler(scheduled_event, context)
    assert third["status"] == "measured"
    assert third["captured_rows"] == 80
    assert len(scenario.keys(DRIFT_REPORTS_PREFIX)) == 2


def test_too_few_rows_publish_only_the_row_count_and_keep_the_watermark(scenario, scheduled_event, context):
    scenario.deploy()
    scenario.write_traffic("trickle", scenario.data.resampled(MIN_ROWS_FOR_DRIFT - 10, seed=8))

    summary = lambda_handler(scheduled_event, context)

    assert summary["status"] == "insufficient_rows"
    assert str(MIN_ROWS_FOR_DRIFT) in summary["reason"]
    assert scenario.metric_names() == {"CapturedRows", "DeployedModelVersion"}
    assert scenario.metric_values("CapturedRows", EndpointName=ENDPOINT_NAME) == [MIN_ROWS_FOR_DRIFT - 10.0]
    assert scenario.keys(DRIFT_REPORTS_PREFIX) == []
    assert scenario.keys(DRIFT_WATERMARK_KEY) == []

    # Then rows accumulate: with more traffic the next run measures all of it
    scenario.write_traffic("more", scenario.data.resampled(20, seed=9))
    assert lambda_handler(scheduled_event, context)["captured_rows"] == MIN_ROWS_FOR_DRIFT + 10


def test_every_run_publishes_the_deployed_version_for_the_dashboard(scenario, scheduled_event, context):
    scenario.deploy()
    scenario.write_traffic("live", scenario.data.resampled(100, seed=12))

    lambda_handler(scheduled_event, context)

    assert scenario.metric_values("DeployedModelVersion", EndpointName=ENDPOINT_NAME) == [1.0]


def test_nothing_serving_is_a_skipped_run(scenario, scheduled_event, context):
    scenario.write_traffic("orphan", scenario.data.resampled(100, seed=10))

    summary = lambda_handler(scheduled_event, context)

    assert summary["status"] == "skipped"
    assert ENDPOINT_NAME in summary["reason"] and "does not exist" in summary["reason"]
    assert scenario.metric_names() == set()
    assert scenario.keys(DRIFT_WATERMARK_KEY) == []


def test_serving_model_without_a_training_profile_is_a_skipped_run(scenario, scheduled_event, context):
    scenario.deploy(with_profile=False)
    scenario.write_traffic("live", scenario.data.resampled(100, seed=11))

    summary = lambda_handler(scheduled_event, context)

    assert summary["status"] == "skipped"
    assert "profile_uri" in summary["reason"]
    # What serves is known even though its drift cannot be measured
    assert scenario.metric_names() == {"DeployedModelVersion"}


def test_an_empty_event_names_no_origin_and_is_ignored(scenario, context):
    summary = lambda_handler({}, context)
    assert summary["ignored"] is True
    assert "account" in summary["reason"]


@pytest.mark.parametrize("name", ["DATA_BUCKET", "ENDPOINT_NAME", "METRICS_NAMESPACE"])
def test_missing_environment_variable_is_a_typed_error(scenario, scheduled_event, context, monkeypatch, name):
    monkeypatch.delenv(name)
    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(scheduled_event, context)
    assert raised.value.name == name


@pytest.mark.parametrize("origin", [{"account": "999999999999"}, {"region": "ap-southeast-2"}])
def test_a_scheduled_event_from_elsewhere_measures_and_publishes_nothing(scenario, scheduled_event, context, origin):
    # Given drifted live traffic, and a "Scheduled Event" that claims another account or region
    scenario.deploy()
    traffic = scenario.data.shifted(300, seed=1, feature=SHIFTED_FEATURE, standard_deviations=1.5)
    scenario.write_traffic("json", traffic, encoding="JSON")

    # When it reaches the drift monitor
    summary = lambda_handler({**scheduled_event, **origin}, context)

    # Then the monitor does not run: no metric, no report, no watermark
    assert summary["ignored"] is True
    assert scenario.metric_values("FeaturePSI", EndpointName=ENDPOINT_NAME, Feature=SHIFTED_FEATURE) == []
    assert not scenario.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=DRIFT_WATERMARK_KEY).get("Contents")
