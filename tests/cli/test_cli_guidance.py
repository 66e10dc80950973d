"""The CLI guides a person: `mlops` alone lists the commands, `--version` answers, every option
says what it is for, every read command speaks JSON, and a mistake (a missing AWS profile,
credentials, region or stack; a sample no config can come from) is one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError

from mlops.cli import build_parser, installed_version, main
from mlops.cli_support import EXIT_USAGE, USER_AWS_VARIABLES

READ_COMMANDS = (["versions"], ["lineage", "1"], ["audit"], ["local", "invoke", "data.csv"], ["local", "monitor"], ["demo"])
LOCAL_COMMAND_LINES = (
    (["local", "run", "data.csv"], "mlops.commands.local_run.local_run"),
    (["local", "up"], "mlops.commands.local_server.local_up"),
    (["local", "down"], "mlops.commands.local_server.local_down"),
    (["local", "invoke", "data.csv"], "mlops.commands.monitoring.local_invoke"),
    (["local", "monitor"], "mlops.commands.monitoring.local_monitor"),
    (["demo"], "mlops.commands.demo.demo"),
    (["versions", "--local"], "mlops.commands.registry.versions"),
    (["audit", "--local"], "mlops.commands.audit.audit"),
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def all_parsers(parser: argparse.ArgumentParser, path: str = "mlops") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.extend(all_parsers(child, f"{path} {name}"))
    return found


def test_mlops_alone_lists_every_command_with_one_line_each(capsys):
    status, out, _ = run(capsys)

    assert status == EXIT_USAGE
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert listed == ["init", "local", "demo", "versions", "lineage", "approve", "reject", "rollback", "batch", "audit"]
    assert all(len(line.split()) > 2 for line in out.splitlines() if line.startswith("  "))


def test_mlops_local_alone_lists_the_local_commands(capsys):
    status, out, _ = run(capsys, "local")

    assert status == EXIT_USAGE
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  ")] == ["run", "up", "down", "invoke", "monitor"]


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlops {installed_version()}"
    assert installed_version()[0].isdigit()


def test_every_option_and_argument_of_every_command_has_help():
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in all_parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not (action.help or "").strip()
    ]

    assert missing == []


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda argv: " ".join(argv))
def test_every_read_command_takes_json(argv):
    assert build_parser().parse_args([*argv, "--json"]).json is True


@pytest.mark.parametrize(("argv", "handler"), LOCAL_COMMAND_LINES, ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_local_commands_never_see_the_users_aws_profile_credentials_or_region(argv, handler, monkeypatch, tmp_path):
    user_config = tmp_path / "aws-config"
    user_config.write_text("[profile work]\nregion = eu-west-3\n")
    for name, value in {
        "AWS_PROFILE": "does-not-exist",
        "AWS_ACCESS_KEY_ID": "AKIAUSERKEY",
        "AWS_SECRET_ACCESS_KEY": "user-secret",
        "AWS_SESSION_TOKEN": "user-token",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_CONFIG_FILE": str(user_config),
        "AWS_ENDPOINT_URL_S3": "https://s3.example.com",
    }.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, str | None] = {}

    def record_environment(*_, **__) -> int:
        seen.update({name: os.environ.get(name) for name in (*USER_AWS_VARIABLES, "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL_S3")})
        # A boto3 session made now (as every local command makes them) must not fail on the profile.
        seen["session_region"] = boto3.Session().region_name
        return 0

    monkeypatch.setattr(handler, record_environment)

    assert main(argv) == 0

    assert seen["AWS_PROFILE"] is None and seen["AWS_SESSION_TOKEN"] is None and seen["AWS_ENDPOINT_URL_S3"] is None
    assert seen["AWS_ACCESS_KEY_ID"] == "local" and seen["AWS_CONFIG_FILE"] == os.devnull
    assert seen["session_region"] == "us-east-1"
    # And the user's own settings are back once the command is done.
    assert os.environ["AWS_PROFILE"] == "does-not-exist" and os.environ["AWS_CONFIG_FILE"] == str(user_config)


def test_aws_commands_keep_the_users_aws_settings(environment, monkeypatch):
    seen = {}
    monkeypatch.setattr("mlops.commands.registry.versions", lambda *_, **__: seen.update(key=os.environ.get("AWS_ACCESS_KEY_ID")) or 0)

    assert main(["versions"]) == 0

    assert seen["key"] == "testing"


@pytest.fixture
def no_aws_settings(environment, monkeypatch, tmp_path):
    """A machine with no AWS config, credentials or region, and a boto3 that has made no session."""
    for name in USER_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def test_a_profile_that_does_not_exist_is_named(no_aws_settings, capsys):
    status, out, err = run(capsys, "versions", "--profile", "nowhere")

    assert status == EXIT_USAGE and out == ""
    assert err.strip() == (
        "mlops versions: the AWS profile 'nowhere' is not in your AWS config (~/.aws/config); "
        "name one that is with --profile or AWS_PROFILE"
    )


def test_aws_profile_variable_naming_no_profile_is_a_usage_error(no_aws_settings, monkeypatch, capsys):
    monkeypatch.setenv("AWS_PROFILE", "nowhere")

    status, _, err = run(capsys, "audit")

    assert status == EXIT_USAGE
    assert "the AWS profile 'nowhere' is not in your AWS config" in err


def test_a_missing_region_is_named(no_aws_settings, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    status, _, err = run(capsys, "versions")

    assert status == EXIT_USAGE
    assert "no AWS region is set; pass --region REGION" in err


def test_missing_credentials_are_named_not_called_a_missing_stack(no_aws_settings, capsys):
    status, _, err = run(capsys, "versions", "--region", "eu-west-1")

    assert status == EXIT_USAGE
    assert "no AWS credentials found; pass --profile NAME" in err
    assert "cdk deploy" not in err


def test_profile_and_region_choose_the_session_the_stack_is_read_with(no_aws_settings, monkeypatch, tmp_path, capsys):
    (tmp_path / "empty-aws-file").write_text(
        "[profile ops]\nregion = eu-central-1\naws_access_key_id = AKIAOPS\naws_secret_access_key = secret\n"
    )
    sessions = []

    def not_deployed(session, name):
        sessions.append((session.profile_name, session.region_name))
        raise ClientError({"Error": {"Code": "ValidationError", "Message": "Stack with id x does not exist"}}, "DescribeStacks")

    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", not_deployed)

    status, _, err = run(capsys, "versions", "--profile", "ops", "--region", "ap-southeast-2")

    assert status == EXIT_USAGE
    assert sessions == [("ops", "ap-southeast-2")]
    assert "the stack mlops-pipeline is not deployed in ap-southeast-2" in err and "cdk deploy" in err


@pytest.mark.parametrize(("code", "expected"), [
    ("AccessDenied", "may not read the stack mlops-pipeline"),
    ("ExpiredToken", "your AWS credentials were refused (ExpiredToken)"),
])
def test_refused_credentials_are_told_apart_from_a_missing_stack(environment, monkeypatch, capsys, code, expected):
    def refused(session, name):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "DescribeStacks")

    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", refused)

    status, _, err = run(capsys, "versions")

    assert status == EXIT_USAGE
    assert expected in err and "not deployed" not in err


def test_profile_with_local_is_a_usage_error(environment, capsys):
    status, _, err = run(capsys, "versions", "--local", "--profile", "ops")

    assert status == EXIT_USAGE
    assert "--local uses the local server" in err


def test_init_with_a_target_of_too_many_classes_is_one_line(tmp_path, capsys):
    data = tmp_path / "visits.csv"
    data.write_text("count,day\n" + "".join(f"{i},2024-01-{1 + i % 28:02d}x{i}\n" for i in range(80)))

    status, out, err = run(capsys, "init", "--data", str(data), "--target", "day", "--config", str(tmp_path / "p.json"))

    assert status == EXIT_USAGE and out == ""
    assert err.strip() == (
        "mlops init: cannot infer a config from visits.csv: the target 'day' is text with 80 distinct values; "
        "classification supports at most 50 classes"
    )
    assert not (tmp_path / "p.json").exists()


def test_init_on_a_header_only_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "empty.csv"
    data.write_text("a,b,label\n")

    status, _, err = run(capsys, "init", "--data", str(data), "--target", "label", "--config", str(tmp_path / "p.json"))

    assert status == EXIT_USAGE
    assert err.strip() == "mlops init: cannot infer a config from empty.csv: the data has no rows"


def test_monitor_json_is_one_object(environment, monkeypatch, capsys):
    """`mlops local monitor --json`: the runs, alarms and decisions as one JSON object."""
    from mlops.commands import monitoring

    class Target:
        config = type("Config", (), {"project": "mlops"})()
        data_bucket = None

        def client(self, service):
            return service

    monkeypatch.setattr("mlops.aws_target.resolve_target", lambda *_, **__: Target())
    monkeypatch.setattr(monitoring, "run_scheduled_monitors", lambda *_: [
        {"rule": "mlops-drift", "error": None, "result": {"status": "skipped", "reason": "no captured requests"}}])
    monkeypatch.setattr(monitoring, "alarm_states", lambda *_: [("mlops-drift", "OK", "fine")])

    status, out, _ = run(capsys, "local", "monitor", "--json")

    assert status == 0
    [line] = out.splitlines()
    document = json.loads(line)
    assert document["monitors"][0]["result"]["status"] == "skipped"
    assert document["alarms"] == [{"name": "mlops-drift", "state": "OK", "reason": "fine"}]


class MonitorTarget:
    config = type("Config", (), {"project": "mlops"})()
    data_bucket = "data-bucket"

    def client(self, service):
        return service


def test_monitor_prints_each_run_each_alarm_and_the_recent_decisions_as_readable_lines(environment, monkeypatch, capsys):
    """`mlops local monitor`: a line per monitor run saying what it found, an aligned line per
    alarm, and a line per decision of the last hour."""
    from datetime import UTC, datetime

    from mlops.audit_log import AuditEntry
    from mlops.commands import monitoring

    # Given a drift monitor that found drift, one that failed, two alarms and one responder decision
    monkeypatch.setattr("mlops.aws_target.resolve_target", lambda *_, **__: MonitorTarget())
    monkeypatch.setattr(monitoring, "run_scheduled_monitors", lambda *_: [
        {"rule": "mlops-drift-schedule", "error": None, "result": {
            "status": "drift", "captured_rows": 300, "drifted_feature_fraction": 0.25,
            "drifted_features": ["a", "b", "c", "d", "e", "f", "g"], "max_feature_psi": 0.8123,
            "report_uri": "s3://data-bucket/reports/drift.json"}},
        {"rule": "mlops-quality-schedule", "error": "Unhandled", "result": {"errorMessage": "no ground truth"}},
    ])
    monkeypatch.setattr(monitoring, "alarm_states", lambda *_: [
        ("mlops-drift", "ALARM", "Threshold Crossed: 1 datapoint"), ("mlops-endpoint-5xx", "OK", "fine")])
    decision = {"who": {"alarm": "mlops-drift"}, "what": {"action": "retrain", "outcome": "started"},
                "versions": {"before": 2, "after": 2}, "why": "features drifted"}
    monkeypatch.setattr("mlops.audit_log.read_audit_log", lambda *_: [
        AuditEntry("audit/1.json", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), decision)])

    # When the monitors run now without --json
    status, out, _ = run(capsys, "local", "monitor")

    # Then every line reads as a sentence or a table row, not as a raw answer
    assert status == 1
    assert out.splitlines() == [
        "Monitors run now:",
        "  mlops-drift-schedule: drift - 300 captured rows - 25% of features drifted (a, b, c, d, e and 2 more)"
        " - max PSI 0.812 - report s3://data-bucket/reports/drift.json",
        "  mlops-quality-schedule: failed (Unhandled: no ground truth)",
        "Alarms:",
        "  mlops-drift         ALARM              Threshold Crossed: 1 datapoint",
        "  mlops-endpoint-5xx  OK                 fine",
        "Responder and operator decisions in the last hour:",
        "  2026-01-02 03:04:05 UTC  mlops-drift  retrain  started  v2 unchanged  features drifted",
    ]


def test_monitor_says_when_no_monitor_ran_and_no_decision_was_made(environment, monkeypatch, capsys):
    from mlops.commands import monitoring

    monkeypatch.setattr("mlops.aws_target.resolve_target", lambda *_, **__: MonitorTarget())
    monkeypatch.setattr(monitoring, "run_scheduled_monitors", lambda *_: [])
    monkeypatch.setattr(monitoring, "alarm_states", lambda *_: [])
    monkeypatch.setattr("mlops.audit_log.read_audit_log", lambda *_: [])

    status, out, _ = run(capsys, "local", "monitor")

    assert status == 0
    assert out.splitlines() == [
        "Monitors run now:",
        "  (no scheduled monitor is enabled)",
        "Alarms:",
        "Responder and operator decisions in the last hour:",
        "  (none)",
    ]
