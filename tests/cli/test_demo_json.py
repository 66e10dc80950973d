"""`mlops demo --json`: exactly one JSON object per chapter on stdout, whatever each chapter
comes to; the story's narration goes to stderr. (The demo's own run is what `mlops demo` does;
here the local cloud and its uploads are stand-ins, so the output's shape is what is checked.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from functions.common.outcome import Outcome
from mlops.cli import main
from mlops.commands import demo
from mlops.local.results import UploadResult

UPLOAD_OUTCOMES = [Outcome.DEPLOYED, Outcome.FAILED, Outcome.DUPLICATE, Outcome.DATA_REJECTED]


class StandInCloud:
    def __init__(self, config_path, log_folder=None, job_log_folder=None) -> None:
        self.job_log_folder = job_log_folder

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None


def test_demo_json_prints_one_object_per_chapter(tmp_path, monkeypatch, capsys):
    outcomes = iter(UPLOAD_OUTCOMES)
    monkeypatch.setattr("mlops.local.cloud.LocalCloud", StandInCloud)
    monkeypatch.setattr("mlops.local.runner.run_upload", lambda cloud, path, key=None, progress=None: UploadResult(
        file=path.name, outcome=next(outcomes), reason="because", execution=None))
    monkeypatch.setattr("mlops.local.run_folder.RunFolder.sync", lambda self, cloud: None)
    monkeypatch.setattr(demo, "MONITORING_CHAPTERS", [
        ("drift", lambda *_: (True, {"alarm_decisions": [{"alarm_name": "mlops-drift"}]})),
        ("rollback", lambda *_: (False, {"alarm_decisions": [{"alarm_name": "mlops-errors"}]})),
    ])

    status = main(["demo", "--json", "--keep", str(tmp_path / "kept")])

    captured = capsys.readouterr()
    chapters = [json.loads(line) for line in captured.out.splitlines()]
    assert [chapter["chapter"] for chapter in chapters] == [1, 2, 3, 4, 5, 6]
    assert [chapter["as_expected"] for chapter in chapters] == [True, False, True, True, True, False]
    assert chapters[1]["upload"]["outcome"] == "failed" and chapters[1]["expected_outcome"] == "deployed"
    assert chapters[5]["alarm_decisions"] == [{"alarm_name": "mlops-errors"}]
    assert status == 1
    assert "Chapter 6." in captured.err and "expected deployed, got failed" in captured.err
    assert len((tmp_path / "kept" / "outcomes.jsonl").read_text().splitlines()) == len(UPLOAD_OUTCOMES)


class CloudWithHistory(StandInCloud):
    def history(self, execution_arn):
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        return [{"type": "TaskStateEntered", "timestamp": stamp, "stateEnteredEventDetails": {"name": "Validate data"}}]


def test_demo_json_shows_no_progress(tmp_path, monkeypatch, capsys):
    # Given uploads that report to any progress display they are given, as a real wait does
    def run_upload(cloud, path, key=None, progress=None):
        if progress is not None:
            progress("execution-1")
            progress.finish("execution-1")
        return UploadResult(file=path.name, outcome=Outcome.DEPLOYED, reason="because", execution=None)

    monkeypatch.setattr("mlops.local.cloud.LocalCloud", CloudWithHistory)
    monkeypatch.setattr("mlops.local.runner.run_upload", run_upload)
    monkeypatch.setattr("mlops.local.run_folder.RunFolder.sync", lambda self, cloud: None)
    monkeypatch.setattr(demo, "MONITORING_CHAPTERS", [])

    # When the demo runs with --json, and then without
    main(["demo", "--json", "--keep", str(tmp_path / "as-json")])
    as_json = capsys.readouterr()
    main(["demo", "--keep", str(tmp_path / "readable")])
    readable = capsys.readouterr()

    # Then only the readable run shows the state being executed
    assert "-> Validate data" in readable.err
    assert "-> Validate data" not in as_json.err + as_json.out
    assert all(json.loads(line) for line in as_json.out.splitlines())
