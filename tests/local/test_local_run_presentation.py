"""What a person reads of a local run: the decision first (the gate's primary metric for
challenger and champion, its interval, the margin, the alarm behind a rollback), live progress
while it runs, and a folder that keeps the results, whatever the keys are called."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.common.outcome import Outcome
from mlops.console import decision_lines, print_result
from mlops.local.job_output import run_with_live_log
from mlops.local.progress import ExecutionProgress, current_state
from mlops.local.results import UploadResult, outcome_decision, upload_result
from mlops.local.run_folder import local_path_for_key, run_name

EVALUATION = {
    "passed": False,
    "primary_metric": "roc_auc",
    # Alphabetically roc_auc comes after six other metrics: it must still lead.
    "metrics": {"accuracy": 0.97, "brier": 0.02, "calibration_error": 0.01, "f1": 0.97, "log_loss": 0.1,
                "precision": 0.98, "recall": 0.96, "roc_auc": 0.9712},
    "confidence_intervals": {"roc_auc": [0.95, 0.99]},
    "champion_metrics": {"accuracy": 0.95, "roc_auc": 0.9901},
    "champion_version": 3,
    "reasons": ["roc_auc 0.9712 is more than 0.01 below the champion's 0.9901"],
    "summary": "Failed: roc_auc 0.9712 is more than 0.01 below the champion's 0.9901.",
    "report_uri": "s3://data/reports/x/evaluation.json",
}


def test_the_decision_carries_primary_metric_interval_champion_and_margin():
    decision = outcome_decision(EVALUATION)

    assert decision == {
        "primary_metric": "roc_auc",
        "challenger": 0.9712,
        "challenger_interval": [0.95, 0.99],
        "champion": 0.9901,
        "champion_version": 3,
        "margin": pytest.approx(0.9712 - 0.9901),
        "passed": False,
        "summary": EVALUATION["summary"],
    }


def test_the_console_leads_with_the_primary_metric_even_when_it_sorts_last():
    lines = decision_lines(outcome_decision(EVALUATION))

    assert lines[0] == "gate: challenger roc_auc=0.9712 (95% CI 0.9500 to 0.9900) vs champion v3 roc_auc=0.9901, margin -0.0189"
    assert lines[1] == f"decision: {EVALUATION['summary']}"


def test_a_first_model_says_there_is_no_champion():
    evaluation = {**EVALUATION, "champion_metrics": None, "champion_version": None, "passed": True, "summary": None}

    assert decision_lines(outcome_decision(evaluation)) == [
        "gate: challenger roc_auc=0.9712 (95% CI 0.9500 to 0.9900), no champion to compare with",
        "decision: the gate passed",
    ]


def _history(*states: str, finished: bool = True) -> list[dict]:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for name in states:
        events.append({"type": "TaskStateEntered", "timestamp": stamp, "stateEnteredEventDetails": {"name": name, "input": "{}"}})
        events.append({"type": "TaskStateExited", "timestamp": stamp, "stateExitedEventDetails": {"name": name}})
    return events if finished else events[:-1]


def test_a_rollback_names_the_alarm_that_caused_it_in_the_reason_the_decision_and_the_json():
    described = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:pipeline:run-1",
        "status": "FAILED",
        "error": "DeploymentRolledBack",
        "cause": "The endpoint rolled back to its previous configuration",
    }
    endpoint = {"name": "mlops-endpoint", "status": "InService", "endpoint_config": "c1", "model_version": 1,
                "failure_reason": "Rolled back: alarm(s) mlops-endpoint-5xx-errors in ALARM during the update"}

    result = upload_result("data.csv", described, _history("Describe endpoint"), endpoint)

    assert result.outcome is Outcome.FAILED
    assert "mlops-endpoint-5xx-errors" in result.reason
    assert result.decision == {"rollback_cause": endpoint["failure_reason"]}
    assert json.loads(result.to_json())["decision"]["rollback_cause"] == endpoint["failure_reason"]
    shown = io.StringIO()
    print_result(result, 1, 1, shown)
    assert "rolled back because: Rolled back: alarm(s) mlops-endpoint-5xx-errors in ALARM" in shown.getvalue()


def test_the_json_puts_the_decision_before_the_details():
    described = {"executionArn": "arn:aws:states:us-east-1:1:execution:p:run", "status": "SUCCEEDED",
                 "output": json.dumps({"evaluation": EVALUATION, "result": {"outcome": "model_rejected", "reason": "worse"}})}

    record = json.loads(upload_result("data.csv", described, _history("Evaluate model"), None).to_json())

    keys = list(record)
    assert keys.index("decision") < keys.index("evaluation") and keys.index("decision") < keys.index("validation")
    assert record["decision"]["primary_metric"] == "roc_auc" and record["decision"]["champion"] == 0.9901


def test_the_current_state_is_the_last_one_entered_and_not_left():
    assert current_state(_history("Validate data", "Start training")) is None
    assert current_state(_history("Validate data", "Start training", finished=False)) == "Start training"


class FakeCloud:
    def __init__(self, job_log_folder: Path) -> None:
        self.job_log_folder = job_log_folder
        self.histories: list[list[dict]] = []

    def history(self, execution_arn: str) -> list[dict]:
        # The last history stays: the execution is over and its history no longer changes.
        return self.histories.pop(0) if len(self.histories) > 1 else self.histories[0]


def test_progress_without_a_terminal_prints_each_state_and_each_job_line_once(tmp_path, monkeypatch):
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr("mlops.local.progress.time.monotonic", lambda: float(next(clock)))
    (tmp_path / "earlier-job.log").write_text("from an earlier upload\n")
    cloud = FakeCloud(tmp_path)
    shown = io.StringIO()
    progress = ExecutionProgress(cloud, shown, interactive=False)
    cloud.histories = [
        _history("Validate data", finished=False),
        _history("Validate data", "Start training", finished=False),
        _history("Validate data", "Start training", finished=False),
    ]

    progress("execution-1")
    (tmp_path / "training-job.log").write_text("epoch 1\nvalidation:roc_auc=0.91;\npartial")
    progress("execution-1")
    progress("execution-1")
    progress.finish()

    lines = shown.getvalue().splitlines()
    assert lines[0].startswith("  -> Validate data (at ")
    assert lines[1].startswith("  -> Start training (at ")
    assert lines[2:] == ["     training-job | epoch 1", "     training-job | validation:roc_auc=0.91;"]
    assert "\x1b" not in shown.getvalue() and "earlier" not in shown.getvalue()


def test_progress_says_a_state_that_began_and_ended_between_two_polls(tmp_path, monkeypatch):
    # Given an execution whose first state was over before the first poll, and whose last states
    # ran after the last one
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr("mlops.local.progress.time.monotonic", lambda: float(next(clock)))
    cloud = FakeCloud(tmp_path)
    cloud.histories = [
        _history("Lock upload", "Validate data", "Start training", finished=False),
        _history("Lock upload", "Validate data", "Start training", "Evaluate model", "Register model"),
    ]
    shown = io.StringIO()
    progress = ExecutionProgress(cloud, shown, interactive=False)

    # When it is polled once and then finished
    progress("execution-1")
    progress.finish("execution-1")

    # Then every state is said once, in order
    said = [line.split(" (at ")[0] for line in shown.getvalue().splitlines()]
    assert said == ["  -> Lock upload", "  -> Validate data", "  -> Start training", "  -> Evaluate model",
                    "  -> Register model"]


def test_progress_of_an_execution_over_before_the_first_poll_is_said_at_the_finish(tmp_path):
    cloud = FakeCloud(tmp_path)
    cloud.histories = [_history("Validate data", "Record outcome")]
    shown = io.StringIO()
    progress = ExecutionProgress(cloud, shown, interactive=False)

    progress.finish("execution-1")

    assert [line.split(" (at ")[0] for line in shown.getvalue().splitlines()] == ["  -> Validate data", "  -> Record outcome"]


def test_progress_in_a_terminal_rewrites_one_status_line(tmp_path, monkeypatch):
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr("mlops.local.progress.time.monotonic", lambda: float(next(clock)))
    cloud = FakeCloud(tmp_path)
    cloud.histories = [_history("Start training", finished=False)]
    shown = io.StringIO()
    progress = ExecutionProgress(cloud, shown, interactive=True)

    progress("execution-1")
    progress.finish()

    assert shown.getvalue().startswith("\r\x1b[2K  ... Start training ")
    assert shown.getvalue().endswith("\r\x1b[2K") and "\n" not in shown.getvalue()


def test_a_jobs_output_reaches_its_log_while_it_runs_and_is_captured_as_subprocess_run_does(tmp_path):
    log = tmp_path / "job.log"
    script = (
        "import sys, time, pathlib\n"
        "print('first line', flush=True)\n"
        f"deadline = time.time() + 60\n"
        f"while 'first line' not in pathlib.Path({str(log)!r}).read_text() and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('seen live' if time.time() < deadline else 'not live', flush=True)\n"
        "print('an error', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )

    completed = run_with_live_log([sys.executable, "-c", script], cwd=tmp_path, env={}, timeout=120, live_log=log)

    assert completed.returncode == 3
    assert completed.stdout == "first line\nseen live\n"
    assert completed.stderr == "an error\n"
    assert sorted(log.read_text().splitlines()) == ["an error", "first line", "seen live"]


def test_a_job_past_its_time_is_killed_and_reported_as_subprocess_run_does(tmp_path):
    with pytest.raises(subprocess.TimeoutExpired):
        run_with_live_log([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path, env={}, timeout=0.5, live_log=None)


@pytest.mark.parametrize("key", [
    "quarantine/run-1/upload/../../../../etc/passwd",
    "quarantine/run-1/upload/" + "x" * 300,
    "quarantine/run-1/upload/bad\x1b[31mname.csv",
    "reports/./run-1/evaluation.html",
])
def test_a_key_never_leads_outside_the_results_folder(tmp_path, key):
    path = local_path_for_key(tmp_path, key)

    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert all(len(part.encode()) <= 255 and part not in {".", ".."} and "\x1b" not in part for part in path.relative_to(tmp_path).parts)


def test_a_plain_key_keeps_its_layout(tmp_path):
    assert local_path_for_key(tmp_path, "reports/run-1/evaluation.html") == tmp_path / "reports" / "run-1" / "evaluation.html"


def test_the_run_folder_is_named_after_its_start_and_first_file():
    assert run_name("sales 2024/06?.csv", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)) == "20260304-050607-06"
    assert run_name("breast_cancer.csv", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)) == "20260304-050607-breast_cancer"
    assert run_name("...", datetime(2026, 3, 4, tzinfo=UTC)) == "20260304-000000-run"


def test_write_outcomes_keeps_the_console_text_and_the_json_lines(tmp_path):
    from mlops.local.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    result = UploadResult(file="a.csv", outcome=Outcome.DATA_REJECTED, reason="column x is text", execution=None)

    folder.write_outcomes([result])

    assert "[1/1] a.csv: DATA REJECTED" in (folder.path / "outcomes.txt").read_text()
    assert json.loads((folder.path / "outcomes.jsonl").read_text())["outcome"] == "data_rejected"


class RunningCloud:
    """A local cloud whose one upload runs two polls through Validate data and Start training,
    with a training job that writes a metric line to its log between them."""

    def __init__(self, config_path, log_folder=None, job_log_folder=None) -> None:
        self.job_log_folder = job_log_folder
        self.job_log_folder.mkdir(parents=True, exist_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None

    def upload(self, path, key=None) -> list[str]:
        return ["execution-1"]

    def wait(self, execution_arn, on_poll=None) -> dict:
        if on_poll is not None:
            on_poll(execution_arn)
            (self.job_log_folder / "training-job.log").write_text("validation:roc_auc=0.91;\n")
            on_poll(execution_arn)
        return {"executionArn": execution_arn, "status": "SUCCEEDED",
                "output": json.dumps({"result": {"outcome": "deployed", "reason": "the gate passed"}})}

    def history(self, execution_arn) -> list[dict]:
        return _history("Validate data", "Start training")


@pytest.fixture
def running_cloud(monkeypatch):
    monkeypatch.setattr("mlops.local.cloud.LocalCloud", RunningCloud)
    monkeypatch.setattr("mlops.local.runner.endpoint_status", lambda cloud: None)
    monkeypatch.setattr("mlops.local.run_folder.RunFolder.sync", lambda self, cloud: None)


def _local_run(tmp_path: Path, *options: str) -> int:
    from mlops.cli import main

    upload = tmp_path / "data.csv"
    upload.write_text("x,label\n1,0\n")
    config = Path(__file__).resolve().parents[2] / "pipeline.json"
    return main(["local", "run", str(upload), "--config", str(config), "--keep", str(tmp_path / "kept"), *options])


def test_a_local_run_shows_its_progress_on_stderr(tmp_path, running_cloud, capsys):
    assert _local_run(tmp_path) == 0

    err = capsys.readouterr().err
    assert "  -> Validate data (at " in err and "  -> Start training (at " in err
    assert "     training-job | validation:roc_auc=0.91;" in err


def test_a_local_run_with_json_prints_the_json_and_where_the_results_are_kept_nothing_else(tmp_path, running_cloud, capsys):
    # Given the same run that shows its progress without --json
    # When it runs with --json
    assert _local_run(tmp_path, "--json") == 0

    # Then stdout is one JSON object per upload and stderr only says where the results are
    captured = capsys.readouterr()
    assert [json.loads(line)["outcome"] for line in captured.out.splitlines()] == ["deployed"]
    assert captured.err == f"Results kept in {tmp_path / 'kept'}\n"
