"""The alarm responder's decision rules, without AWS."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.alarm_responder import responder
from functions.alarm_responder.responder import (
    AlarmStateChangeDetail,
    AlarmStateChangeEvent,
    CuratedDataset,
    PastDecision,
    RegisteredVersion,
)
from functions.common.config import (
    ColumnSchema,
    DatasetSchema,
    GateConfig,
    MonitoringConfig,
    PipelineConfig,
)
from functions.common.serving_model import ServingModel
from tests.support.events import load_event

NOW = datetime(2024, 6, 3, 11, 0, 30, 123456, tzinfo=UTC)
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/{}"


def make_config(**monitoring: object) -> PipelineConfig:
    return PipelineConfig(
        project="mlops",
        dataset=DatasetSchema(
            target="target",
            problem_type="binary",
            columns=[ColumnSchema(name="mean_radius", type="float"), ColumnSchema(name="target", type="integer")],
        ),
        gates=GateConfig(primary_metric="roc_auc"),
        monitoring=MonitoringConfig(**{"cooldown_seconds": 3600, "max_retrains_per_day": 2, **monitoring}),
    )


def load_change(name: str) -> AlarmStateChangeDetail:
    event = load_event(f"alarm_state_change_{name}")
    return AlarmStateChangeEvent.model_validate(event).detail


def renamed(change: AlarmStateChangeDetail, alarm_name: str) -> AlarmStateChangeDetail:
    return change.model_copy(update={"alarm_name": alarm_name})


def serving(version: int | None = 3, status: str = "InService") -> ServingModel:
    return ServingModel(
        endpoint_name="mlops-endpoint",
        endpoint_status=status,
        endpoint_config_name="mlops-v3-config",
        model_name="mlops-v3",
        model_version=version,
        model_package_arn=PACKAGE_ARN.format(version) if version is not None else None,
    )


def version(number: int) -> RegisteredVersion:
    return RegisteredVersion(version=number, model_package_arn=PACKAGE_ARN.format(number))


CURATED = CuratedDataset(
    dataset_version="ab" * 32,
    manifest_key=f"curated/{'ab' * 32}/manifest.json",
    manifest_last_modified=NOW - timedelta(days=3),
)


def retrain_started(minutes_ago: float) -> PastDecision:
    return PastDecision(decided_at=NOW - timedelta(minutes=minutes_ago), action="retrain", status="acted")


# --- the event model -----------------------------------------------------------------------------


def test_sample_events_parse_into_the_alarm_state_change_model():
    change = load_change("errors_alarm")

    assert change.alarm_name == "mlops-errors"
    assert change.state.value == "ALARM"
    assert change.previous_state is not None and change.previous_state.value == "OK"
    assert change.state.timestamp == datetime(2024, 6, 3, 9, 15, 42, 453000, tzinfo=UTC)


def test_an_event_from_another_source_is_refused():
    event = load_event("alarm_state_change_errors_alarm")
    event["source"] = "aws.s3"

    with pytest.raises(ValidationError):
        AlarmStateChangeEvent.model_validate(event)


# --- which action --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alarm_name", "kind", "action"),
    [
        ("mlops-errors", "errors", "rollback"),
        ("mlops-latency", "latency", "rollback"),
        ("mlops-drift", "drift", "retrain"),
        ("mlops-invocation-anomaly", "invocation-anomaly", "notify"),
        ("mlops-pipeline-failures", "pipeline-failures", "notify"),
        ("someone-elses-alarm", "someone-elses-alarm", "notify"),
    ],
)
def test_alarm_kind_maps_to_the_configured_action(alarm_name, kind, action):
    change = renamed(load_change("errors_alarm"), alarm_name)

    assert responder.alarm_kind(alarm_name, "mlops") == kind
    assert responder.action_for(change, make_config()) == action


def test_an_invocation_anomaly_notifies_by_default_and_follows_the_configured_action():
    change = renamed(load_change("errors_alarm"), "mlops-invocation-anomaly")

    assert MonitoringConfig().actions["invocation-anomaly"] == "notify"
    assert responder.action_for(change, make_config(actions={"invocation-anomaly": "retrain"})) == "retrain"


@pytest.mark.parametrize("event_name", ["errors_ok", "latency_insufficient_data"])
def test_transitions_out_of_alarm_take_no_action_and_are_still_recorded(event_name):
    change = load_change(event_name)

    decision = responder.decide(change, make_config(), now=NOW, serving=serving(3), previous_version=version(2))

    assert decision.status == "none"
    assert decision.record.action == "none"
    assert decision.record.outcome == "none"
    assert decision.record.model_version_before == decision.record.model_version_after == 3
    assert decision.rollback_to is None and decision.retrain_dataset_key is None


def test_unmapped_alarm_notifies():
    change = renamed(load_change("errors_alarm"), "mlops-pipeline-failures")

    decision = responder.decide(change, make_config(), now=NOW, serving=serving(3))

    assert (decision.record.action, decision.record.outcome, decision.status) == ("notify", "notified", "acted")


# --- rollback ------------------------------------------------------------------------------------


def test_error_alarm_rolls_back_to_the_previous_approved_version():
    decision = responder.decide(
        load_change("errors_alarm"), make_config(), now=NOW, serving=serving(3), previous_version=version(2)
    )

    assert decision.status == "acted"
    assert decision.record.outcome == "rolled back from version 3 to version 2"
    assert (decision.record.model_version_before, decision.record.model_version_after) == (3, 2)
    assert decision.rollback_to == version(2)
    assert decision.rollback_from == serving(3)


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        ({"serving": None}, "skipped: no endpoint serving"),
        ({"serving": serving(3, status="Updating")}, "skipped: endpoint is Updating"),
        ({"serving": serving(None)}, "skipped: serving version unknown"),
        ({"serving": serving(3), "previous_version": None}, "skipped: no previous approved version"),
        ({"serving": serving(3), "previous_version": version(3)}, "skipped: no previous approved version"),
    ],
)
def test_rollback_is_skipped_when_there_is_nothing_safe_to_roll_back_to(facts, outcome):
    decision = responder.decide(load_change("errors_alarm"), make_config(), now=NOW, **facts)

    assert decision.status == "skipped"
    assert decision.record.outcome == outcome
    assert decision.record.model_version_before == decision.record.model_version_after
    assert decision.rollback_to is None


def test_previous_approved_is_the_newest_version_older_than_the_serving_one():
    approved = [version(6), version(5), version(3), version(1)]

    assert responder.previous_approved(approved, 5) == version(3)
    assert responder.previous_approved(approved, 7) == version(6)
    assert responder.previous_approved(approved, 1) is None


def test_rollback_resource_name_is_a_valid_sagemaker_name():
    name = responder.rollback_resource_name(make_config(), 12345, NOW)

    assert name == "mlops-v12345-rollback-20240603110030"
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9])*", name) and len(name) <= 63


# --- retrain -------------------------------------------------------------------------------------


def test_drift_alarm_retrains_with_a_timestamped_incoming_dataset():
    decision = responder.decide(
        load_change("drift_alarm"), make_config(), now=NOW, serving=serving(3), curated_dataset=CURATED
    )

    assert decision.status == "acted"
    assert decision.retrain_dataset_key == "incoming/retrain-20240603T110030Z.csv"
    assert decision.record.outcome == "retraining started with incoming/retrain-20240603T110030Z.csv"
    assert decision.curated_dataset == CURATED


@pytest.mark.parametrize(
    ("past", "outcome"),
    [
        ([retrain_started(minutes_ago=10)], "skipped: cooldown"),
        ([retrain_started(minutes_ago=59)], "skipped: cooldown"),
        ([retrain_started(minutes_ago=120), retrain_started(minutes_ago=600)], "skipped: daily retrain cap"),
    ],
)
def test_retrain_is_held_back_by_cooldown_and_daily_cap(past, outcome):
    decision = responder.decide(
        load_change("drift_alarm"), make_config(), now=NOW, serving=serving(3), past_decisions=past,
        curated_dataset=CURATED,
    )

    assert decision.status == "skipped"
    assert decision.record.outcome == outcome
    assert decision.retrain_dataset_key is None


@pytest.mark.parametrize(
    "past",
    [
        [retrain_started(minutes_ago=61)],
        # Older than a day: outside both the cooldown and the daily window.
        [retrain_started(minutes_ago=24 * 60 + 1), retrain_started(minutes_ago=24 * 60 + 5)],
        # Skipped retrains and other actions trained nothing.
        [
            PastDecision(decided_at=NOW - timedelta(minutes=5), action="retrain", status="skipped"),
            PastDecision(decided_at=NOW - timedelta(minutes=5), action="retrain", status="failed"),
            PastDecision(decided_at=NOW - timedelta(minutes=5), action="rollback", status="acted"),
        ],
    ],
)
def test_retrain_is_allowed_after_cooldown_and_under_the_cap(past):
    decision = responder.decide(
        load_change("drift_alarm"), make_config(), now=NOW, serving=serving(3), past_decisions=past,
        curated_dataset=CURATED,
    )

    assert decision.status == "acted"


def test_zero_cooldown_still_enforces_the_cap():
    config = make_config(cooldown_seconds=0, max_retrains_per_day=1)

    assert responder.retrain_block([], config, NOW) is None
    assert responder.retrain_block([retrain_started(minutes_ago=1)], config, NOW) == "skipped: daily retrain cap"


def test_retrain_without_a_curated_dataset_is_skipped():
    decision = responder.decide(load_change("drift_alarm"), make_config(), now=NOW, serving=serving(3))

    assert decision.status == "skipped"
    assert decision.record.outcome == "skipped: no curated dataset"


def test_failed_decision_keeps_the_serving_version():
    decision = responder.decide(
        load_change("errors_alarm"), make_config(), now=NOW, serving=serving(3), previous_version=version(2)
    )

    failed = responder.failed(decision, "failed: previous version has no deployable container")

    assert failed.status == "failed"
    assert failed.record.outcome == "failed: previous version has no deployable container"
    assert (failed.record.model_version_before, failed.record.model_version_after) == (3, 3)


# --- records -------------------------------------------------------------------------------------


def test_reason_is_one_sentence_naming_the_alarm_and_its_reason():
    reason = responder.reason_sentence(load_change("errors_alarm"))

    assert reason.startswith("Alarm mlops-errors went from OK to ALARM: Threshold Crossed: 3 out of the last 3")
    assert reason.endswith(".")


def test_audit_key_layout_and_its_time_read_back():
    key = responder.audit_key("mlops-drift", NOW)

    assert key == "audit/2024/06/03/20240603T110030.123456Z-mlops-drift.json"
    assert responder.audit_key_time(key) == NOW
    assert responder.audit_key_time("audit/2024/06/03/notes.txt") is None


def test_audit_day_prefixes_cover_the_last_day():
    assert responder.audit_day_prefixes(NOW) == ["audit/2024/06/02/", "audit/2024/06/03/"]


def test_audit_record_answers_who_what_why_when_and_reads_back_for_cooldown():
    change = load_change("errors_alarm")
    decision = responder.decide(change, make_config(), now=NOW, serving=serving(3), previous_version=version(2))

    record = responder.audit_record(
        decision, change, responder="arn:aws:lambda:us-east-1:123456789012:function:responder",
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-errors", now=NOW, details={"x": 1},
    )

    assert record["who"]["responder"].endswith(":function:responder")
    assert record["who"]["alarm"] == "mlops-errors"
    assert record["what"] == {
        "action": "rollback", "outcome": "rolled back from version 3 to version 2", "status": "acted"
    }
    assert record["why"] == decision.record.reason
    assert record["when"]["decided_at"] == NOW.isoformat()
    assert record["versions"] == {"before": 3, "after": 2}
    json.dumps(record)  # JSON-ready
    assert responder.past_decision(json.loads(json.dumps(record))) == PastDecision(NOW, "rollback", "acted")


def test_notification_is_one_sentence_with_a_valid_sns_subject():
    change = renamed(load_change("errors_alarm"), "mlops-" + "x" * 120)
    decision = responder.decide(change, make_config(), now=NOW, serving=serving(3))

    message = responder.notification_message(decision.record)
    subject = responder.notification_subject(decision)

    assert message.endswith("; notify: notified.")
    assert message.count(". ") == 0
    assert len(subject) <= 100 and subject.isascii() and "\n" not in subject


def test_approval_description_fits_the_registry_limit():
    assert len(responder.approval_description("x" * 5000)) == 1024


HOSTILE_ALARM_NAMES = [
    "mlops-drift/../../retrain",
    "..",
    "a/b",
    "x" * 255,
    "naïve alarm\x1b[31m\n",
    "mlops drift",
]


@pytest.mark.parametrize("alarm_name", HOSTILE_ALARM_NAMES)
def test_audit_key_of_any_alarm_name_is_one_bounded_segment_whose_time_reads_back(alarm_name):
    # Given an alarm name from outside the stack, with separators, dots, control characters or length
    key = responder.audit_key(alarm_name, NOW)

    # Then the record lands in the day's folder, as one safe segment, and its time reads back
    folder, segment = key.rsplit("/", 1)
    assert folder == "audit/2024/06/03"
    assert re.fullmatch(r"[A-Za-z0-9._~-]+\.json", segment)
    assert len(segment) <= 40 + responder.AUDIT_NAME_MAX_CHARS + 1 + responder.AUDIT_NAME_DIGEST_CHARS
    assert responder.audit_key_time(key) == NOW


def test_audit_keys_of_names_that_clean_alike_stay_distinct():
    assert responder.audit_key("a/b", NOW) != responder.audit_key("a_b", NOW)
    assert responder.audit_key("a/b", NOW) != responder.audit_key("a?b", NOW)
    assert responder.audit_key("x" * 300, NOW) != responder.audit_key("x" * 301, NOW)
