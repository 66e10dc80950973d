"""The quality monitor: ground-truth files joined to captured predictions, against moto."""

from __future__ import annotations

import json

import pytest
from tests.support.quality_scenario import DATA_BUCKET, ENDPOINT_NAME
from sklearn.metrics import accuracy_score, roc_auc_score

from functions.common.errors import MissingEnvironmentError
from functions.monitor_quality.ground_truth import GroundTruthFormatError, parse_ground_truth
from functions.monitor_quality.handler import lambda_handler
from functions.monitor_quality.quality import MIN_LABELLED_ROWS_FOR_QUALITY
from functions.monitor_quality.service import QUALITY_REPORTS_PREFIX

LABELLED = 60


def labels_csv(served, indices, extra_ids=()) -> str:
    lines = ["inference_id,label"] + [f"req-{i},{served.truth[i]}" for i in indices]
    lines += [f"{identifier},1" for identifier in extra_ids]
    return "\n".join(lines) + "\n"


def test_joined_labels_give_live_accuracy_and_auc(scenario, context):
    # Given 80 captured predictions, and labels for 60 of them plus 5 unknown ids
    scenario.capture(80)
    event = scenario.upload_ground_truth(labels_csv(scenario.served, range(LABELLED), extra_ids=["gone-1", "gone-2", "gone-3", "gone-4", "gone-5"]))

    summary = lambda_handler(event, context)

    # Then the metrics are those of the joined rows, as scikit-learn computes them
    served = scenario.served
    truth, predicted = served.truth[:LABELLED], served.predictions[:LABELLED]
    positive_scores = [p[served.classes.index("1")] for p in served.probabilities[:LABELLED]]
    assert summary["status"] == "measured"
    assert summary["labelled_rows"] == LABELLED
    assert summary["unjoined_rows"] == 5
    assert summary["metrics"]["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert summary["metrics"]["roc_auc"] == pytest.approx(roc_auc_score([int(t) for t in truth], positive_scores))
    assert summary["metrics"]["accuracy"] < 1.0
    [accuracy] = scenario.metric_values("ModelQuality", EndpointName=ENDPOINT_NAME, MetricName="accuracy")
    assert accuracy == pytest.approx(summary["metrics"]["accuracy"])
    assert scenario.metric_values("ModelQuality", EndpointName=ENDPOINT_NAME, MetricName="roc_auc") == [
        pytest.approx(summary["metrics"]["roc_auc"])
    ]
    assert scenario.metric_values("LabelledRows", EndpointName=ENDPOINT_NAME) == [float(LABELLED)]
    [report_key] = scenario.keys(QUALITY_REPORTS_PREFIX)
    report = json.loads(scenario.s3.get_object(Bucket=DATA_BUCKET, Key=report_key)["Body"].read())
    assert report["join"]["unjoined"] == 5
    assert report["join"]["unjoined_examples"] == ["gone-1", "gone-2", "gone-3", "gone-4", "gone-5"]


def test_json_lines_labels_are_accepted(scenario, context):
    scenario.capture(LABELLED)
    body = "\n".join(json.dumps({"inference_id": f"req-{i}", "label": int(scenario.served.truth[i])}) for i in range(LABELLED))
    summary = lambda_handler(scenario.upload_ground_truth(body, key="ground-truth/batch.jsonl"), context)

    assert summary["status"] == "measured"
    assert summary["labelled_rows"] == LABELLED
    assert summary["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(scenario.served.truth[:LABELLED], scenario.served.predictions[:LABELLED])
    )


def test_capture_older_than_the_lookback_is_not_joined(scenario, context):
    scenario.capture(LABELLED, hours_ago=24 * 30)
    summary = lambda_handler(scenario.upload_ground_truth(labels_csv(scenario.served, range(LABELLED))), context)

    assert summary["labelled_rows"] == 0
    assert summary["unjoined_rows"] == LABELLED


def test_too_few_labels_publish_only_the_labelled_row_count(scenario, context):
    scenario.capture(80)
    few = MIN_LABELLED_ROWS_FOR_QUALITY - 1
    summary = lambda_handler(scenario.upload_ground_truth(labels_csv(scenario.served, range(few))), context)

    assert summary["status"] == "insufficient_labels"
    assert summary["metrics"] == {}
    assert scenario.metric_names() == {"LabelledRows"}
    assert scenario.metric_values("LabelledRows", EndpointName=ENDPOINT_NAME) == [float(few)]


def test_malformed_file_is_rejected_with_its_reason_recorded(scenario, context):
    scenario.capture(10)
    summary = lambda_handler(scenario.upload_ground_truth("id,truth\nreq-1,1\n"), context)

    assert summary["status"] == "rejected"
    assert summary["error_type"] == "GroundTruthFormatError"
    assert summary["check"] == "header"
    assert "inference_id" in summary["reason"]
    assert scenario.metric_names() == set()
    [report_key] = scenario.keys(QUALITY_REPORTS_PREFIX)
    assert json.loads(scenario.s3.get_object(Bucket=DATA_BUCKET, Key=report_key)["Body"].read())["status"] == "rejected"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        (b"", "empty_file"),
        (b"inference_id,label\n", "empty_file"),
        (b"\xff\xfe\x00bad", "encoding"),
        (b"label,other\n1,2\n", "header"),
        (b"inference_id,label\nreq-1,1,extra\n", "csv"),
        (b'{"inference_id": "req-1", "label": 1}\nnot json\n', "json_lines"),
        (b'{"inference_id": "req-1"}\n', "json_lines"),
    ],
)
def test_malformed_ground_truth_is_a_typed_error(body, check):
    with pytest.raises(GroundTruthFormatError) as raised:
        parse_ground_truth(body)
    assert raised.value.check == check


def test_blank_and_repeated_rows_are_counted_not_fatal():
    labels = parse_ground_truth(b"label,inference_id\n1,req-1\n0,req-1\n,req-2\n1,\n0,req-3\n")

    assert labels.labels == {"req-1": "1", "req-3": "0"}
    assert (labels.rows, labels.invalid_rows, labels.duplicate_ids) == (5, 2, 1)


def test_objects_outside_ground_truth_are_ignored(scenario, context):
    summary = lambda_handler(scenario.upload_ground_truth("inference_id,label\n", key="incoming/data.csv"), context)
    assert summary["ignored"] is True
    assert scenario.keys("reports/") == []


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda event: event.update(account="999999999999"), id="another account"),
        pytest.param(lambda event: event.update(region="eu-west-1"), id="another region"),
        pytest.param(lambda event: event["detail"]["bucket"].update(name="other-bucket"), id="another bucket"),
    ],
)
def test_a_forged_ground_truth_event_publishes_nothing(scenario, context, forge):
    # Given labels under ground-truth/, announced by an event that is not this stack's
    event = scenario.upload_ground_truth(labels_csv(scenario.served, range(LABELLED)))
    forge(event)

    # When the quality monitor receives it
    summary = lambda_handler(event, context)

    # Then no metric is published and no report written
    assert summary["ignored"] is True
    assert scenario.metric_names() == set()
    assert scenario.keys("reports/") == []


def test_missing_environment_variable_is_a_typed_error(scenario, context, monkeypatch):
    monkeypatch.delenv("METRICS_NAMESPACE")
    event = scenario.upload_ground_truth(labels_csv(scenario.served, range(3)))
    with pytest.raises(MissingEnvironmentError):
        lambda_handler(event, context)
