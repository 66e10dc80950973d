"""`mlops local invoke FILE` and `mlops local monitor`: traffic for the endpoint of the local
server, and the monitoring loop run now instead of on its schedule.

Both use only AWS APIs (SageMaker runtime, EventBridge, Lambda, CloudWatch, S3), so they do to
the local server exactly what the same calls would do in an account."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.cli_support import EXIT_FAILED, EXIT_OK, UsageError
from mlops.commands.audit import audit_lines

if TYPE_CHECKING:
    import pandas as pd

ROWS_PER_REQUEST = 100
SCHEDULED_EVENT = "Scheduled Event"
RECENT_DECISIONS_HOURS = 1.0


def register(local_commands: argparse._SubParsersAction) -> None:
    invoke = local_commands.add_parser("invoke", help="send the rows of a file to the local endpoint")
    invoke.add_argument("file", type=Path, help="a CSV or Parquet file; its feature columns are sent, 100 rows a request")
    invoke.add_argument("--config", type=Path, default=None, help="the pipeline config (default: the server's own)")
    invoke.add_argument("--json", action="store_true", help="one JSON object: counts, prediction counts, errors")
    invoke.set_defaults(handler=lambda arguments: local_invoke(arguments.file, arguments.config, arguments.json))
    monitor = local_commands.add_parser("monitor", help="run the drift monitor now; show alarms and decisions")
    monitor.add_argument("--config", type=Path, default=None, help="the pipeline config (default: the server's own)")
    monitor.add_argument("--json", action="store_true", help="one JSON object: monitor runs, alarms, decisions")
    monitor.set_defaults(handler=lambda arguments: local_monitor(arguments.config, arguments.json))


@dataclass
class InvocationSummary:
    requests: int = 0
    rows: int = 0
    failed_requests: int = 0
    predictions: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def send_rows(runtime: Any, endpoint_name: str, frame: pd.DataFrame, rows_per_request: int = ROWS_PER_REQUEST) -> InvocationSummary:
    """Send the rows as JSON requests of `rows_per_request` rows; failures are counted, not raised."""
    from botocore.exceptions import ClientError

    summary = InvocationSummary()
    records = json.loads(frame.to_json(orient="records"))
    for start in range(0, len(records), rows_per_request):
        batch = records[start : start + rows_per_request]
        summary.requests += 1
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"instances": batch}),
            )
        except ClientError as error:
            summary.failed_requests += 1
            summary.errors.append(error.response.get("Error", {}).get("Message", str(error)))
            continue
        summary.rows += len(batch)
        summary.predictions.extend(json.loads(response["Body"].read())["predictions"])
    return summary


def run_scheduled_monitors(events: Any, lambda_client: Any) -> list[dict[str, Any]]:
    """Invoke every Lambda target of every scheduled rule now, as the schedule would."""
    results = []
    for rule in events.list_rules().get("Rules", []):
        if not rule.get("ScheduleExpression") or rule.get("State") != "ENABLED":
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
            if ":lambda:" not in target["Arn"]:
                continue
            # arn:<partition>:events:<region>:<account>:rule/<name>, as EventBridge fills them in.
            _, _, _, region, account, _ = rule["Arn"].split(":", 5)
            event = {
                "version": "0",
                "id": f"mlops-local-monitor-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}",
                "detail-type": SCHEDULED_EVENT,
                "source": "aws.events",
                "account": account,
                "region": region,
                "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": [rule["Arn"]],
                "detail": {},
            }
            response = lambda_client.invoke(FunctionName=target["Arn"], Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
            results.append({"rule": rule["Name"], "error": response.get("FunctionError"), "result": payload})
    return results


def alarm_states(cloudwatch: Any, prefix: str) -> list[tuple[str, str, str]]:
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix).get("MetricAlarms", [])
    return [(alarm["AlarmName"], alarm["StateValue"], alarm.get("StateReason", "")) for alarm in alarms]


def local_invoke(file: Path, config_path: Path | None, as_json: bool = False) -> int:
    import pandas as pd

    from mlops.aws_target import resolve_target
    from mlops.sample_files import read_sample

    if not file.is_file():
        raise UsageError(f"mlops local invoke: no such file: {file}")
    target = resolve_target("mlops local invoke", config_path, local=True)
    target.require_endpoint("mlops local invoke")
    frame = read_sample(file)
    features = [c.name for c in target.config.dataset.feature_columns if c.name in frame.columns]
    summary = send_rows(target.client("sagemaker-runtime"), target.endpoint_name, frame[features])
    counts = pd.Series(summary.predictions).astype(str).value_counts().head(10) if summary.predictions else None
    if as_json:
        print(json.dumps({
            "endpoint": target.endpoint_name, "rows": len(frame), "requests": summary.requests,
            "rows_scored": summary.rows, "failed_requests": summary.failed_requests,
            "prediction_counts": {} if counts is None else {str(k): int(v) for k, v in counts.items()},
            "errors": summary.errors,
        }, sort_keys=True))
        return EXIT_OK if summary.failed_requests == 0 else EXIT_FAILED
    print(f"Sent {len(frame)} rows in {summary.requests} requests to {target.endpoint_name}: "
          f"{summary.rows} rows scored, {summary.failed_requests} requests failed.")
    if counts is not None:
        print("Predictions: " + ", ".join(f"{label}: {count}" for label, count in counts.items()))
    for message in summary.errors[:3]:
        print(f"  error: {message}", file=sys.stderr)
    return EXIT_OK if summary.failed_requests == 0 else EXIT_FAILED


def monitor_run_line(run: dict[str, Any]) -> str:
    """One readable line for one scheduled monitor's run: what it found, not its raw answer."""
    if run["error"]:
        payload = run["result"] if isinstance(run["result"], dict) else {}
        return f"{run['rule']}: failed ({run['error']}: {payload.get('errorMessage') or 'no message'})"
    result = run["result"] if isinstance(run["result"], dict) else {}
    status = result.get("status") or "done"
    parts = [f"{run['rule']}: {status}"]
    if result.get("reason"):
        parts.append(f"- {result['reason']}")
    if result.get("captured_rows") is not None:
        parts.append(f"- {result['captured_rows']} captured rows")
    if result.get("drifted_feature_fraction") is not None:
        drifted = result.get("drifted_features") or []
        shown = ", ".join(map(str, drifted[:5])) + (f" and {len(drifted) - 5} more" if len(drifted) > 5 else "")
        parts.append(f"- {float(result['drifted_feature_fraction']):.0%} of features drifted" + (f" ({shown})" if shown else ""))
    if result.get("max_feature_psi") is not None:
        parts.append(f"- max PSI {float(result['max_feature_psi']):.3f}")
    if result.get("report_uri"):
        parts.append(f"- report {result['report_uri']}")
    return " ".join(parts)


def local_monitor(config_path: Path | None, as_json: bool = False) -> int:
    from mlops.audit_log import read_audit_log
    from mlops.aws_target import resolve_target

    target = resolve_target("mlops local monitor", config_path, local=True)
    results = run_scheduled_monitors(target.client("events"), target.client("lambda"))
    alarms = alarm_states(target.client("cloudwatch"), f"{target.config.project}-")
    entries = (
        read_audit_log(target.client("s3"), target.data_bucket, RECENT_DECISIONS_HOURS, datetime.now(timezone.utc))
        if target.data_bucket else []
    )
    status = EXIT_OK if all(result["error"] is None for result in results) else EXIT_FAILED
    if as_json:
        print(json.dumps({
            "monitors": results,
            "alarms": [{"name": name, "state": state, "reason": reason} for name, state, reason in alarms],
            "decisions": [{"key": entry.key, "record": entry.record} for entry in entries],
        }, default=str, sort_keys=True))
        return status
    print("Monitors run now:")
    for result in results or []:
        print(f"  {monitor_run_line(result)}")
    if not results:
        print("  (no scheduled monitor is enabled)")
    print("Alarms:")
    width = max((len(name) for name, _, _ in alarms), default=0)
    for name, state, reason in alarms:
        print(f"  {name:<{width}}  {state:<17}  {reason[:100]}")
    if target.data_bucket:
        print("Responder and operator decisions in the last hour:")
        for line in audit_lines(entries) or ["(none)"]:
            print(f"  {line}")
    return status
