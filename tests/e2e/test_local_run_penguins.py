"""`mlops local run` on the Palmer penguins data (multiclass, categorical features, missing
values): deployment, manual approval, training failure, and usage errors."""

from __future__ import annotations

import json

import pytest

from functions.common.outcome import Outcome
from mlops.cli import main
from tests.support.local_pipeline_runs import init_config, local_run, results_folder, write_csv

pytestmark = pytest.mark.e2e


def test_penguins_with_manual_approval_wait_for_a_person(tmp_path, capsys, penguins_frame):
    # Given a config that asks a person to approve every version
    data = write_csv(penguins_frame, tmp_path / "penguins.csv")
    config = init_config(data, "species", tmp_path / "pipeline.json", approval="manual")

    exit_code, [result] = local_run(capsys, config, data, as_json=False)

    # Then the version is registered, pending, and nothing is deployed
    assert exit_code == 0
    # And while it ran, each state and the training job's lines were shown as they came, as
    # plain lines (capsys is no terminal), then the decision led the result
    shown = capsys.readouterr()
    assert "Traceback" not in shown.out + shown.err
    assert "  -> Validate data (at " in shown.err and "  -> Start training (at " in shown.err
    job_lines = [line for line in shown.err.splitlines() if line.startswith("     mlops-") and " | " in line]
    assert any("validation:f1_macro=" in line for line in job_lines), shown.err
    assert "\x1b" not in shown.err
    assert f"Results kept in {results_folder(config).resolve()}" in shown.out
    # The console's text, as the results folder keeps it
    console = (results_folder(config) / "outcomes.txt").read_text()
    assert console.index("      gate: challenger f1_macro=") < console.index("Validate data")
    assert result["outcome"] == Outcome.PENDING_APPROVAL
    assert result["approval_status"] == "PendingManualApproval"
    assert result["endpoint"] is None
    assert result["evaluation"]["passed"] is True
    assert "approv" in result["reason"].lower()


def test_penguins_deploy_and_reject_broken_data(tmp_path, capsys, penguins_frame):
    first = write_csv(penguins_frame.iloc[:250], tmp_path / "penguins_2007.csv")
    config = init_config(first, "species", tmp_path / "pipeline.json")
    unseen_island = penguins_frame.iloc[250:].copy()
    unseen_island["bill_length_mm"] = "unknown"
    broken = write_csv(unseen_island, tmp_path / "penguins_text_in_numbers.csv")

    exit_code, results = local_run(capsys, config, first, broken)

    assert exit_code == 0
    assert [r["outcome"] for r in results] == [Outcome.DEPLOYED, Outcome.DATA_REJECTED]
    assert results[0]["evaluation"]["metrics"]["accuracy"] > 0.9
    assert any(e["column"] == "bill_length_mm" for e in results[1]["validation"]["errors"])
    assert results[1]["endpoint"]["model_version"] == 1
    # And the run's folder keeps what moto held: both reports, the quarantine copy and its
    # reason, the functions' and the training job's logs, and each outcome
    kept = results_folder(config)
    deployed_execution, rejected_execution = (r["execution"]["arn"].rsplit(":", 1)[-1] for r in results)
    assert {p.name for p in (kept / "reports" / deployed_execution).iterdir()} == {
        "validation.html", "validation.json", "evaluation.html", "evaluation.json"}
    assert (kept / "reports" / rejected_execution / "validation.html").is_file()
    reason = json.loads((kept / "quarantine" / rejected_execution / "reason.json").read_text())
    assert "bill_length_mm" in json.dumps(reason)
    assert (kept / "quarantine" / rejected_execution / "upload" / "penguins_text_in_numbers.csv").read_bytes() == broken.read_bytes()
    assert any(log.read_text() for log in (kept / "logs" / "functions").glob("*ValidateData*.log"))
    assert "validation:" in "".join(log.read_text() for log in (kept / "logs" / "jobs").glob("*.log"))
    assert [json.loads(line)["outcome"] for line in (kept / "outcomes.jsonl").read_text().splitlines()] == [
        Outcome.DEPLOYED, Outcome.DATA_REJECTED]
    assert "penguins_text_in_numbers.csv: DATA REJECTED" in (kept / "outcomes.txt").read_text()


def test_a_training_failure_is_a_failed_outcome_with_the_jobs_reason(tmp_path, capsys, penguins_frame):
    # Given a config whose training hyperparameters the training script refuses (an unknown
    # estimator name is refused earlier, when the config loads)
    data = write_csv(penguins_frame, tmp_path / "penguins.csv")
    config = init_config(data, "species", tmp_path / "pipeline.json", training__hyperparameters={"class_weight": "heavy"})

    exit_code, [result] = local_run(capsys, config, data)

    assert exit_code == 1
    assert result["outcome"] == Outcome.FAILED
    assert "class_weight" in result["reason"] and "heavy" in result["reason"]
    assert result["model_version"] is None
    failed_states = [s["name"] for s in result["execution"]["states"] if s["status"] == "failed"]
    assert "Training failed" in failed_states
    assert "Notify training failed" in [s["name"] for s in result["execution"]["states"]]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["local", "run", "missing.csv", "--config", "pipeline.json"], "no such file"),
        (["local", "run"], "mlops local run"),
        (["local", "dance"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error


def test_an_invalid_config_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps({"dataset": {}}))
    assert main(["local", "run", str(data), "--config", str(config)]) == 2
    assert "invalid" in capsys.readouterr().err


def test_a_manual_approval_deploys_the_pending_version(tmp_path, capsys, penguins_frame):
    # Given a version pending manual approval in a running local cloud
    from mlops.local.cloud import LocalCloud
    from mlops.local.runner import endpoint_status, run_upload

    data = write_csv(penguins_frame, tmp_path / "penguins.csv")
    config = init_config(data, "species", tmp_path / "pipeline.json", approval="manual")
    with LocalCloud(config) as cloud:
        pending = run_upload(cloud, data)
        assert pending.outcome == Outcome.PENDING_APPROVAL and pending.endpoint is None
        started_before = len(cloud.standins.started_executions)

        # When a person approves it with the CLI (against this account)
        assert main(["approve", str(pending.model_version), "--config", str(config), "--reason", "checked the report"]) == 0

        # Then the approval event starts the deployment branch, which deploys that version
        [deployment] = cloud.standins.started_executions[started_before:]
        described = cloud.wait(deployment)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["result"]["outcome"] == Outcome.DEPLOYED
        assert endpoint_status(cloud)["model_version"] == pending.model_version
