"""What to do about an alarm state change. Pure: the facts about the registry, the endpoint, the
curated data and past decisions come in as arguments; nothing here talks to AWS."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.common.config import PipelineConfig
from functions.common.contracts import AlarmDecision
from functions.common.eventbridge import EventBridgeEvent
from functions.common.s3_layout import AUDIT_PREFIX, INCOMING_PREFIX
from functions.common.serving_model import ServingModel

ALARM_STATE = "ALARM"
AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Action = Literal["rollback", "retrain", "notify", "none"]
# acted: the action was carried out; skipped: a rule or a missing fact held it back;
# none: the transition needs no action; failed: the action was attempted and could not finish.
DecisionStatus = Literal["acted", "skipped", "none", "failed"]

DEFAULT_ACTION: Action = "notify"
RETRAIN_DATASET_PREFIX = f"{INCOMING_PREFIX}retrain-"
RETRAIN_WINDOW = timedelta(days=1)
# Compact and free of "-" so the audit key's timestamp ends at the first "-".
AUDIT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
RETRAIN_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
ROLLBACK_NAME_TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
# An audit key's name segment: S3 allows 1,024 bytes a key, and a reader's file system 255 a name.
AUDIT_NAME_MAX_CHARS = 64
AUDIT_NAME_DIGEST_CHARS = 16
UNSAFE_AUDIT_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
MAX_SNS_SUBJECT_CHARS = 100
MAX_APPROVAL_DESCRIPTION_CHARS = 1024

OUTCOME_NONE = "none"
OUTCOME_NOTIFIED = "notified"
OUTCOME_COOLDOWN = "skipped: cooldown"
OUTCOME_DAILY_CAP = "skipped: daily retrain cap"
OUTCOME_NO_CURATED_DATASET = "skipped: no curated dataset"
OUTCOME_NO_NEW_ROWS = "skipped: no new rows since the serving version"
OUTCOME_NO_ENDPOINT = "skipped: no endpoint serving"
OUTCOME_SERVING_VERSION_UNKNOWN = "skipped: serving version unknown"
OUTCOME_NO_PREVIOUS_VERSION = "skipped: no previous approved version"


# ---------------------------------------------------------------------------------------------
# The event: EventBridge "CloudWatch Alarm State Change"


class AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    value: AlarmStateValue
    reason: str = ""
    timestamp: datetime
    reason_data: str | None = Field(default=None, alias="reasonData")


class AlarmStateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    alarm_name: str = Field(alias="alarmName", min_length=1)
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: dict[str, Any] | None = None


class AlarmStateChangeEvent(EventBridgeEvent):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChangeDetail  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# Facts gathered by the caller


@dataclass(frozen=True)
class RegisteredVersion:
    version: int
    model_package_arn: str


@dataclass(frozen=True)
class CuratedDataset:
    dataset_version: str
    manifest_key: str
    manifest_last_modified: datetime


@dataclass(frozen=True)
class PastDecision:
    """One audit record, as far as the retrain cooldown and daily cap care."""

    decided_at: datetime
    action: str
    status: str


@dataclass(frozen=True)
class Decision:
    record: AlarmDecision
    status: DecisionStatus
    rollback_from: ServingModel | None = None
    rollback_to: RegisteredVersion | None = None
    retrain_dataset_key: str | None = None
    curated_dataset: CuratedDataset | None = None


# ---------------------------------------------------------------------------------------------
# Rules

# Builds the decision's AlarmDecision from an outcome and the version serving afterwards.
_RecordBuilder = Callable[..., AlarmDecision]


def alarm_kind(alarm_name: str, project: str) -> str:
    prefix = f"{project}-"
    return alarm_name[len(prefix) :] if alarm_name.startswith(prefix) else alarm_name


def action_for(change: AlarmStateChangeDetail, config: PipelineConfig) -> Action:
    if change.state.value != ALARM_STATE:
        return "none"
    return config.monitoring.actions.get(alarm_kind(change.alarm_name, config.project), DEFAULT_ACTION)


def reason_sentence(change: AlarmStateChangeDetail) -> str:
    previous = change.previous_state.value if change.previous_state else "an unknown state"
    sentence = f"Alarm {change.alarm_name} went from {previous} to {change.state.value}"
    alarm_reason = change.state.reason.strip()
    if alarm_reason:
        sentence = f"{sentence}: {alarm_reason}"
    return sentence if sentence.endswith(".") else f"{sentence}."


def retrain_block(past: Sequence[PastDecision], config: PipelineConfig, now: datetime) -> str | None:
    """The skip outcome that holds a retrain back, or None when retraining is allowed.

    Only retrains that were actually started count: a skipped retrain trained nothing, so it
    neither extends the cooldown nor uses up the daily cap.
    """
    started = sorted(
        decision.decided_at
        for decision in past
        if decision.action == "retrain" and decision.status == "acted" and now - decision.decided_at < RETRAIN_WINDOW
    )
    if started and (now - started[-1]).total_seconds() < config.monitoring.cooldown_seconds:
        return OUTCOME_COOLDOWN
    if len(started) >= config.monitoring.max_retrains_per_day:
        return OUTCOME_DAILY_CAP
    return None


def retrain_dataset_key(now: datetime) -> str:
    return f"{RETRAIN_DATASET_PREFIX}{now.strftime(RETRAIN_TIMESTAMP_FORMAT)}.csv"


def rollback_resource_name(config: PipelineConfig, version: int, now: datetime) -> str:
    """Name for the rollback's SageMaker model and endpoint config (<= 63 chars, [a-z0-9-])."""
    return f"{config.project}-v{version}-rollback-{now.strftime(ROLLBACK_NAME_TIMESTAMP_FORMAT)}"


def rollback_outcome(from_version: int, to_version: int) -> str:
    return f"rolled back from version {from_version} to version {to_version}"


def retrain_outcome(dataset_key: str) -> str:
    return f"retraining started with {dataset_key}"


def decide(
    change: AlarmStateChangeDetail,
    config: PipelineConfig,
    *,
    now: datetime,
    serving: ServingModel | None,
    previous_version: RegisteredVersion | None = None,
    past_decisions: Sequence[PastDecision] = (),
    curated_dataset: CuratedDataset | None = None,
) -> Decision:
    action = action_for(change, config)
    serving_version = serving.model_version if serving else None

    def record(outcome: str, version_after: int | None = serving_version) -> AlarmDecision:
        return AlarmDecision(
            alarm_name=change.alarm_name,
            alarm_kind=alarm_kind(change.alarm_name, config.project),
            state=change.state.value,
            action=action,
            outcome=outcome,
            reason=reason_sentence(change),
            model_version_before=serving_version,
            model_version_after=version_after,
        )

    if action == "none":
        return Decision(record(OUTCOME_NONE), "none")
    if action == "notify":
        return Decision(record(OUTCOME_NOTIFIED), "acted")
    if action == "retrain":
        return _decide_retrain(record, config, now, past_decisions, curated_dataset)
    return _decide_rollback(record, serving, previous_version)


def _decide_retrain(
    record: _RecordBuilder,
    config: PipelineConfig,
    now: datetime,
    past_decisions: Sequence[PastDecision],
    curated_dataset: CuratedDataset | None,
) -> Decision:
    blocked = retrain_block(past_decisions, config, now)
    if blocked:
        return Decision(record(blocked), "skipped")
    if curated_dataset is None:
        return Decision(record(OUTCOME_NO_CURATED_DATASET), "skipped")
    key = retrain_dataset_key(now)
    return Decision(record(retrain_outcome(key)), "acted", retrain_dataset_key=key, curated_dataset=curated_dataset)


def _decide_rollback(
    record: _RecordBuilder, serving: ServingModel | None, previous_version: RegisteredVersion | None
) -> Decision:
    if serving is None:
        return Decision(record(OUTCOME_NO_ENDPOINT), "skipped")
    if serving.endpoint_status != "InService":
        # An endpoint mid-update is being deployed (blue/green with its own alarm-driven
        # rollback) or rolled back already; a second update would be refused anyway.
        return Decision(record(f"skipped: endpoint is {serving.endpoint_status}"), "skipped")
    if serving.model_version is None or serving.model_package_arn is None:
        return Decision(record(OUTCOME_SERVING_VERSION_UNKNOWN), "skipped")
    if previous_version is None or previous_version.version >= serving.model_version:
        return Decision(record(OUTCOME_NO_PREVIOUS_VERSION), "skipped")
    return Decision(
        record(rollback_outcome(serving.model_version, previous_version.version), previous_version.version),
        "acted",
        rollback_from=serving,
        rollback_to=previous_version,
    )


def previous_approved(approved: Sequence[RegisteredVersion], serving_version: int) -> RegisteredVersion | None:
    """The newest approved version older than the one serving."""
    older = [version for version in approved if version.version < serving_version]
    return max(older, key=lambda version: version.version, default=None)


def skipped(decision: Decision, outcome: str) -> Decision:
    """The same decision, held back by a fact found while carrying it out; nothing changed."""
    record = decision.record.model_copy(
        update={"outcome": outcome, "model_version_after": decision.record.model_version_before}
    )
    return Decision(record, "skipped")


def failed(decision: Decision, outcome: str) -> Decision:
    """The same decision, recorded as attempted and not finished; nothing changed version."""
    record = decision.record.model_copy(
        update={"outcome": outcome, "model_version_after": decision.record.model_version_before}
    )
    return Decision(record, "failed")


# ---------------------------------------------------------------------------------------------
# Records


def audit_key(alarm_name: str, now: datetime) -> str:
    """audit/<day>/<timestamp>-<name>.json, with the name made one bounded key segment: a name
    from outside (an alarm's, a command's) can hold "/", "..", control characters or 255
    characters, any of which would put the record where `audit_key_time` cannot read it back."""
    return f"{AUDIT_PREFIX}{now:%Y/%m/%d}/{now.strftime(AUDIT_TIMESTAMP_FORMAT)}-{audit_name_segment(alarm_name)}.json"


def audit_name_segment(name: str) -> str:
    """`name` itself when it is short and made of letters, digits, ".", "_" and "-" only;
    otherwise those characters of it (others become "_"), cut to AUDIT_NAME_MAX_CHARS, then "~"
    and the start of its SHA-256, so two names never share a segment."""
    safe = UNSAFE_AUDIT_NAME_CHARS.sub("_", name)
    if safe == name and 0 < len(name) <= AUDIT_NAME_MAX_CHARS and name.strip(".") != "":
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:AUDIT_NAME_DIGEST_CHARS]
    return f"{safe[:AUDIT_NAME_MAX_CHARS]}~{digest}"


def audit_day_prefixes(now: datetime) -> list[str]:
    """The audit folders that can hold records from the last RETRAIN_WINDOW."""
    return [f"{AUDIT_PREFIX}{day:%Y/%m/%d}/" for day in (now - RETRAIN_WINDOW, now)]


def audit_key_time(key: str) -> datetime | None:
    """When the record under `key` was decided, or None for a key not written by audit_key."""
    name = key.rsplit("/", 1)[-1]
    stamp = name.split("-", 1)[0]
    try:
        return datetime.strptime(stamp, AUDIT_TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def audit_record(
    decision: Decision,
    change: AlarmStateChangeDetail,
    *,
    responder: str,
    alarm_arn: str | None,
    now: datetime,
    details: dict[str, Any],
) -> dict[str, Any]:
    record = decision.record
    return {
        "who": {"responder": responder, "alarm": record.alarm_name, "alarm_arn": alarm_arn},
        "what": {"action": record.action, "outcome": record.outcome, "status": decision.status},
        "why": record.reason,
        "when": {
            "decided_at": now.isoformat(),
            "alarm_state_changed_at": change.state.timestamp.isoformat(),
        },
        "versions": {"before": record.model_version_before, "after": record.model_version_after},
        "alarm": {
            "name": record.alarm_name,
            "kind": record.alarm_kind,
            "state": record.state,
            "previous_state": change.previous_state.value if change.previous_state else None,
            "reason": change.state.reason,
        },
        "details": details,
        "decision": record.model_dump(mode="json"),
    }


def past_decision(record: dict[str, Any]) -> PastDecision:
    """Read back what retrain_block needs from an audit record; KeyError/ValueError if malformed."""
    decided_at = datetime.fromisoformat(record["when"]["decided_at"])
    if decided_at.tzinfo is None:
        raise ValueError("audit record time has no time zone")
    return PastDecision(
        decided_at=decided_at,
        action=record["what"]["action"],
        status=record["what"]["status"],
    )


def notification_message(record: AlarmDecision) -> str:
    return f"{record.reason.rstrip('.')}; {record.action}: {record.outcome}."


def notification_subject(decision: Decision) -> str:
    record = decision.record
    subject = f"{record.alarm_name} {record.state}: {record.action} {decision.status}"
    # SNS subjects are ASCII, one line, under 100 characters.
    ascii_subject = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")
    return ascii_subject[:MAX_SNS_SUBJECT_CHARS]


def approval_description(reason: str) -> str:
    return reason[:MAX_APPROVAL_DESCRIPTION_CHARS]
