"""`mlops demo --json`: one JSON object per chapter, and the demo's results kept in a folder."""

from __future__ import annotations

import json

import pytest

from mlops.cli import main

pytestmark = pytest.mark.e2e

DEMO_CHAPTERS = 6


def test_demo_json_is_one_line_per_chapter_and_its_results_stay(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "demo-results"

    status = main(["demo", "--json", "--keep", str(kept)])

    captured = capsys.readouterr()
    assert status == 0, captured.err + captured.out
    chapters = [json.loads(line) for line in captured.out.splitlines()]
    assert [chapter["chapter"] for chapter in chapters] == list(range(1, DEMO_CHAPTERS + 1))
    assert all(chapter["as_expected"] for chapter in chapters)
    assert chapters[0]["upload"]["decision"]["primary_metric"] == "roc_auc"
    [rollback] = chapters[5]["alarm_decisions"]
    assert rollback["alarm_name"] == "mlops-errors" and rollback["action"] == "rollback"
    assert chapters[5]["version_after"] != chapters[5]["version_before"]
    # Four uploads and one retraining, each with its outcome, reports and the quarantined export
    assert len((kept / "outcomes.jsonl").read_text().splitlines()) == 5
    assert len(list((kept / "reports").glob("*/evaluation.html"))) == 3
    assert list((kept / "quarantine").glob("*/reason.json"))
    assert f"Results kept in {kept.resolve()}" in captured.err
