"""The validate_data Lambda handler against moto: accepted, rejected, duplicate, drift, env."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from functions.common import s3_layout
from functions.common.errors import MissingEnvironmentError
from functions.validate_data.handler import lambda_handler
from functions.validate_data.splitting import SPLIT_NAMES
from functions.validate_data.storage import DataStore
from tests.support.events import load_event
from validate_data_support import DATA_BUCKET, request_for, to_csv_bytes


def test_accepted_upload_writes_splits_manifest_profile_and_reports(aws, lambda_context, breast_cancer):
    # Given the breast cancer data uploaded under incoming/
    event = load_event("validate_data_request")
    body = to_csv_bytes(breast_cancer)
    aws.put(event["key"], body)

    # When the handler validates it
    result = lambda_handler(event, lambda_context)

    # Then it is accepted under its content hash with the three split channels
    import hashlib

    version = hashlib.sha256(body).hexdigest()
    assert result["outcome"] == "accepted", result
    assert result["dataset_version"] == version
    assert result["rows"] == len(breast_cancer)
    assert result["errors"] == []
    prefix = f"curated/{version}/"
    assert result["channels"] == {
        name: f"s3://{DATA_BUCKET}/{prefix}{name}/" for name in ("train", "validation", "test")
    }
    splits = {name: pd.read_csv(io.BytesIO(aws.get(f"{prefix}{name}/data.csv"))) for name in ("train", "validation", "test")}
    assert sum(len(split) for split in splits.values()) == len(breast_cancer)
    for split in splits.values():
        assert list(split.columns) == list(breast_cancer.columns)
        assert set(split["target"]) == {0, 1}
    assert len(splits["test"]) == pytest.approx(0.2 * len(breast_cancer), abs=2)

    manifest = aws.get_json(f"{prefix}manifest.json")
    assert manifest["sha256"] == version
    assert manifest["source_uri"] == f"s3://{DATA_BUCKET}/{event['key']}"
    assert manifest["execution_arn"] == event["execution_arn"]
    assert manifest["split_rows"] == {name: len(split) for name, split in splits.items()}
    assert "created" in manifest

    profile = aws.get_json(f"{prefix}profile.json")
    assert result["profile_uri"] == f"s3://{DATA_BUCKET}/{prefix}profile.json"
    assert profile["columns"]["mean_radius"]["kind"] == "numeric"
    assert len(profile["columns"]["mean_radius"]["fractions"]) == len(profile["columns"]["mean_radius"]["edges"]) + 1

    report = aws.get_json(f"reports/{event['execution_name']}/validation.json")
    assert report["outcome"] == "accepted"
    assert "first dataset" in report["drift"]["note"]
    html = aws.get(f"reports/{event['execution_name']}/validation.html").decode()
    assert html.startswith("<!DOCTYPE html>")
    assert result["report_html_uri"].endswith("validation.html")
    assert result["training_job_name"] == f"mlops-{version[:12]}-{event['execution_name'][:8]}"
    assert aws.keys("quarantine/") == []


def test_rejected_upload_is_quarantined_with_its_reason(aws, lambda_context, breast_cancer):
    # Given a file without its target column
    event = request_for("incoming/no_target.csv")
    body = to_csv_bytes(breast_cancer.drop(columns=["target"]))
    aws.put(event["key"], body)

    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "data_rejected"
    assert "target" in result["reason"]
    assert {finding["check"] for finding in result["errors"]} == {"missing_target"}
    quarantine_key = f"quarantine/{event['execution_name']}/upload/no_target.csv"
    assert result["quarantine_uri"] == f"s3://{DATA_BUCKET}/{quarantine_key}"
    assert aws.get(quarantine_key) == body
    assert aws.get(event["key"]) == body, "the original must stay in incoming/"
    reason = aws.get_json(f"quarantine/{event['execution_name']}/reason.json")
    assert reason["errors"][0]["check"] == "missing_target"
    assert reason["reason"] == result["reason"]
    assert aws.keys("curated/") == []
    assert aws.get_json(f"reports/{event['execution_name']}/validation.json")["outcome"] == "data_rejected"


def test_same_bytes_under_another_key_is_a_duplicate(aws, lambda_context, breast_cancer):
    body = to_csv_bytes(breast_cancer)
    first = request_for("incoming/first.csv", "11111111-aaaa")
    second = request_for("incoming/second.csv", "22222222-bbbb")
    aws.put(first["key"], body)
    aws.put(second["key"], body)

    accepted = lambda_handler(first, lambda_context)
    duplicate = lambda_handler(second, lambda_context)

    assert accepted["outcome"] == "accepted"
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["dataset_version"] == accepted["dataset_version"]
    assert accepted["dataset_version"] in duplicate["reason"]
    assert "incoming/first.csv" in duplicate["reason"]
    assert duplicate["training_job_name"] is None


def test_retry_of_the_same_execution_returns_its_own_result(aws, lambda_context, breast_cancer):
    event = load_event("validate_data_request")
    aws.put(event["key"], to_csv_bytes(breast_cancer))

    first = lambda_handler(event, lambda_context)
    retried = lambda_handler(event, lambda_context)

    assert retried == first
    assert retried["outcome"] == "accepted"


def test_racing_executions_on_the_same_bytes_train_once(aws, lambda_context, breast_cancer, monkeypatch):
    # Given a second execution that looked for the manifest before the first one wrote it
    body = to_csv_bytes(breast_cancer)
    first = request_for("incoming/first.csv", "11111111-aaaa")
    second = request_for("incoming/second.csv", "22222222-bbbb")
    aws.put(first["key"], body)
    aws.put(second["key"], body)
    accepted = lambda_handler(first, lambda_context)
    manifest_key = s3_layout.curated_manifest_key(accepted["dataset_version"])
    read_json = DataStore.read_json
    stale_reads = [manifest_key]

    def read_before_the_first_claim(store, key):
        if key in stale_reads:
            stale_reads.remove(key)
            return None
        return read_json(store, key)

    monkeypatch.setattr(DataStore, "read_json", read_before_the_first_claim)

    # When it reaches the manifest write
    raced = lambda_handler(second, lambda_context)

    # Then the conditional write lets only the first execution train
    assert stale_reads == []
    assert raced["outcome"] == "duplicate"
    assert raced["training_job_name"] is None
    assert aws.get_json(manifest_key)["execution_arn"] == first["execution_arn"]


def test_an_invocation_cut_short_while_writing_splits_is_retried_to_complete_data(aws, lambda_context, breast_cancer, monkeypatch):
    # Given an invocation that stops (a Lambda timeout) after writing one split
    event = load_event("validate_data_request")
    aws.put(event["key"], to_csv_bytes(breast_cancer))
    upload_file = DataStore.upload_file
    uploads = []

    def stop_after_one_split(store, path, key, content_type):
        if uploads:
            raise TimeoutError("Task timed out")
        uploads.append(key)
        return upload_file(store, path, key, content_type)

    monkeypatch.setattr(DataStore, "upload_file", stop_after_one_split)
    with pytest.raises(TimeoutError):
        lambda_handler(event, lambda_context)
    monkeypatch.setattr(DataStore, "upload_file", upload_file)

    # When the state machine retries it
    retried = lambda_handler(event, lambda_context)

    # Then it is accepted with every split in place, and nothing was quarantined
    assert retried["outcome"] == "accepted"
    for name in SPLIT_NAMES:
        assert aws.keys(s3_layout.curated_split_key(retried["dataset_version"], name)), name
    assert aws.keys("quarantine/") == []


def test_missing_environment_variable_is_a_clear_error(aws, lambda_context, breast_cancer):
    event = load_event("validate_data_request")
    aws.put(event["key"], to_csv_bytes(breast_cancer))
    aws.monkeypatch.delenv("MODEL_PACKAGE_GROUP")

    with pytest.raises(MissingEnvironmentError) as raised:
        lambda_handler(event, lambda_context)

    assert raised.value.name == "MODEL_PACKAGE_GROUP"
    assert "MODEL_PACKAGE_GROUP" in str(raised.value)


def test_file_over_the_lambda_limit_is_rejected_without_reading_it(aws, lambda_context, breast_cancer_config, breast_cancer):
    config = breast_cancer_config.model_copy(deep=True)
    config.validation.max_lambda_file_bytes = 1000
    aws.use_config(config)
    event = request_for("incoming/big.csv")
    aws.put(event["key"], to_csv_bytes(breast_cancer))

    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "data_rejected"
    assert [finding["check"] for finding in result["errors"]] == ["file_too_large"]
    assert "file too large for the Lambda route" in result["reason"]
    assert aws.keys(f"quarantine/{event['execution_name']}/") == [
        f"quarantine/{event['execution_name']}/reason.json",
        f"quarantine/{event['execution_name']}/upload/big.csv",
    ]


def test_drift_is_measured_against_the_serving_versions_profile(aws, lambda_context, breast_cancer):
    # Given an approved model trained on the first half of the data
    first_half = breast_cancer.sample(frac=0.5, random_state=7)
    first = request_for("incoming/first_half.csv", "aaaa1111")
    aws.put(first["key"], to_csv_bytes(first_half))
    accepted = lambda_handler(first, lambda_context)
    assert accepted["outcome"] == "accepted"
    aws.serve_version(accepted)

    # When the other half arrives with one feature shifted by half a standard deviation
    shifted = breast_cancer.drop(first_half.index).copy()
    shifted["mean_texture"] = shifted["mean_texture"] + 0.5 * breast_cancer["mean_texture"].std()
    second = request_for("incoming/shifted.csv", "bbbb2222")
    aws.put(second["key"], to_csv_bytes(shifted))
    result = lambda_handler(second, lambda_context)

    # Then it is accepted with a drift warning naming that feature, and the report plots it
    assert result["outcome"] == "accepted"
    drift_columns = {finding["column"] for finding in result["warnings"] if finding["check"] == "drift"}
    assert drift_columns == {"mean_texture"}
    report = aws.get_json(f"reports/{second['execution_name']}/validation.json")
    assert report["drift"]["baseline_profile_uri"] == accepted["profile_uri"]
    html = aws.get(f"reports/{second['execution_name']}/validation.html").decode()
    assert "<svg" in html and "mean_texture" in html


def test_severe_drift_rejects_the_data(aws, lambda_context, breast_cancer):
    first = request_for("incoming/base.csv", "cccc3333")
    aws.put(first["key"], to_csv_bytes(breast_cancer))
    accepted = lambda_handler(first, lambda_context)
    aws.serve_version(accepted)

    moved = breast_cancer.copy()
    moved["mean_texture"] = moved["mean_texture"] + 3 * moved["mean_texture"].std()
    second = request_for("incoming/moved.csv", "dddd4444")
    aws.put(second["key"], to_csv_bytes(moved))
    result = lambda_handler(second, lambda_context)

    assert result["outcome"] == "data_rejected"
    assert ("drift", "mean_texture") in {(finding["check"], finding["column"]) for finding in result["errors"]}


def test_result_is_json_serialisable_for_the_state_machine(aws, lambda_context, penguins, penguins_config):
    aws.use_config(penguins_config)
    event = load_event("validate_data_request_versioned")
    aws.put(event["key"], to_csv_bytes(penguins))

    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "accepted", result
    assert json.loads(json.dumps(result)) == result
    test_split = pd.read_csv(io.BytesIO(aws.get(f"curated/{result['dataset_version']}/test/data.csv")))
    shares = test_split["species"].value_counts(normalize=True).sort_index()
    overall = penguins["species"].value_counts(normalize=True).sort_index()
    assert np.allclose(shares.to_numpy(), overall.to_numpy(), atol=0.03), "test split is stratified by class"


def test_a_rejected_uploads_report_draws_every_columns_distributions_too(aws, lambda_context, breast_cancer):
    # Given a serving version, and an upload rejected for its duplicate rows, not for drift
    first = request_for("incoming/serving.csv", "eeee5555")
    aws.put(first["key"], to_csv_bytes(breast_cancer))
    aws.serve_version(lambda_handler(first, lambda_context))
    broken = pd.concat([breast_cancer, breast_cancer.iloc[::4]])
    second = request_for("incoming/broken.csv", "ffff6666")
    aws.put(second["key"], to_csv_bytes(broken))

    # When it is validated
    result = lambda_handler(second, lambda_context)

    # Then its report compares every column with the serving version's, and the page draws each one
    assert result["outcome"] == "data_rejected"
    assert {finding["check"] for finding in result["errors"]} == {"duplicate_rows"}
    report = aws.get_json(f"reports/{second['execution_name']}/validation.json")
    assert {feature["column"] for feature in report["drift"]["features"]} == set(breast_cancer.columns)
    html = aws.get(f"reports/{second['execution_name']}/validation.html").decode()
    figures = re.findall(r'<figure class="(?:ok|drift)"><figcaption>([^ <]+) &middot; PSI [^<]*</figcaption><svg ', html)
    assert sorted(figures) == sorted(breast_cancer.columns)
