"""What validation hands the champion/challenger gate: the same rows in another order, encoding,
compression or format are a duplicate; drift is checked against the version serving, with a
per-column policy; the serving version's artifact, registered score and reference holdout."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest

from functions.validate_data.handler import lambda_handler
from validate_data_support import DATA_BUCKET, accept_upload, request_for, to_csv_bytes


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("reordered.csv", lambda frame: to_csv_bytes(frame.sample(frac=1.0, random_state=5))),
        ("same.csv.gz", lambda frame: gzip.compress(to_csv_bytes(frame))),
        ("same.parquet", _parquet),
        ("crlf_and_bom.csv", lambda frame: b"\xef\xbb\xbf" + to_csv_bytes(frame, lineterminator="\r\n")),
    ],
)
def test_the_same_rows_in_another_order_encoding_or_format_are_a_duplicate(aws, lambda_context, breast_cancer, name, encode):
    first = accept_upload(aws, lambda_context, breast_cancer, "original.csv", "aaaa0001")

    event = request_for(f"incoming/{name}", "bbbb0002")
    aws.put(event["key"], encode(breast_cancer))
    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "duplicate", result
    assert result["dataset_version"] != first["dataset_version"]  # other bytes
    assert result["rows_fingerprint"] == first["rows_fingerprint"]
    assert f"already accepted as dataset version {first['dataset_version']}" in result["reason"]
    assert "in another order, encoding, compression or format" in result["reason"]
    # And nothing was curated for it
    assert aws.keys(f"curated/{result['dataset_version']}/") == []


def test_one_changed_row_is_new_data(aws, lambda_context, breast_cancer):
    first = accept_upload(aws, lambda_context, breast_cancer, "original.csv", "aaaa0001")
    changed = breast_cancer.copy()
    changed.loc[3, "mean_radius"] = changed.loc[3, "mean_radius"] + 0.5

    second = accept_upload(aws, lambda_context, changed, "changed.csv", "bbbb0002")

    assert second["rows_fingerprint"] != first["rows_fingerprint"]


def test_drift_is_checked_against_the_serving_version_and_reported_with_its_champion(aws, lambda_context, breast_cancer):
    # Given a version serving, trained on the first half
    first_half = breast_cancer.sample(frac=0.5, random_state=7)
    accepted = accept_upload(aws, lambda_context, first_half, "first.csv", "aaaa0001")
    package_arn = aws.serve_version(accepted, primary_metric_value="0.987")

    # When the other half arrives
    second = accept_upload(aws, lambda_context, breast_cancer.drop(first_half.index), "second.csv", "bbbb0002")

    # Then it names the serving version as its champion, with the reference holdout's manifest
    champion = second["champion"]
    assert champion["model_package_arn"] == package_arn
    assert champion["model_version"] == 1
    assert champion["model_artifact"] == "s3://artifacts/training-jobs/v/output/model.tar.gz"
    assert (champion["primary_metric"], champion["registered_score"]) == ("roc_auc", 0.987)
    assert champion["reference_dataset_versions"] == [accepted["dataset_version"]]
    manifest_key = champion["reference_manifest_uri"].removeprefix(f"s3://{DATA_BUCKET}/")
    assert aws.get_json(manifest_key) == [
        {"prefix": f"s3://{DATA_BUCKET}/curated/"},
        f"{accepted['dataset_version']}/test/data.csv",
    ]
    report = aws.get_json("reports/bbbb0002/validation.json")
    assert report["drift"]["baseline_model_package_arn"] == package_arn


def test_without_a_serving_version_there_is_no_champion(aws, lambda_context, breast_cancer):
    result = accept_upload(aws, lambda_context, breast_cancer, "first.csv", "aaaa0001")

    assert result["champion"] is None


def _target_drifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep every malignant row (target 0) and a fifth of the benign ones: the target's mix moves."""
    benign = frame[frame["target"] == 1]
    return pd.concat([frame[frame["target"] == 0], benign.head(len(benign) // 5)])


def test_target_drift_warns_by_default_and_leaves_the_decision_to_the_gate(aws, lambda_context, breast_cancer):
    accepted = accept_upload(aws, lambda_context, breast_cancer, "base.csv", "aaaa0001")
    aws.serve_version(accepted)

    result = accept_upload(aws, lambda_context, _target_drifted(breast_cancer), "moved.csv", "bbbb0002")

    target_findings = [f for f in result["warnings"] if f["check"] == "drift" and f["column"] == "target"]
    assert target_findings, result["warnings"]
    feature = next(f for f in aws.get_json("reports/bbbb0002/validation.json")["drift"]["features"] if f["column"] == "target")
    assert feature["psi"] - feature["noise_psi"] >= feature["fail_psi"]  # beyond the fail level, yet only a warning


def test_a_target_whose_policy_is_fail_rejects_the_same_upload(aws, lambda_context, breast_cancer, breast_cancer_config):
    config = breast_cancer_config.model_copy(deep=True)
    config.dataset.column("target").drift = "fail"
    aws.use_config(config)
    accepted = accept_upload(aws, lambda_context, breast_cancer, "base.csv", "aaaa0001")
    aws.serve_version(accepted)

    event = request_for("incoming/moved.csv", "bbbb0002")
    aws.put(event["key"], to_csv_bytes(_target_drifted(breast_cancer)))
    result = lambda_handler(event, lambda_context)

    assert result["outcome"] == "data_rejected"
    assert [(f["check"], f["column"]) for f in result["errors"]] == [("drift", "target")]


def test_a_feature_whose_policy_is_ignore_is_not_compared(aws, lambda_context, breast_cancer, breast_cancer_config):
    config = breast_cancer_config.model_copy(deep=True)
    config.dataset.column("mean_texture").drift = "ignore"
    aws.use_config(config)
    accepted = accept_upload(aws, lambda_context, breast_cancer, "base.csv", "aaaa0001")
    aws.serve_version(accepted)
    moved = breast_cancer.copy()
    moved["mean_texture"] = moved["mean_texture"] + 3 * moved["mean_texture"].std()

    result = accept_upload(aws, lambda_context, moved, "moved.csv", "bbbb0002")

    drift = aws.get_json("reports/bbbb0002/validation.json")["drift"]
    assert drift["skipped"]["mean_texture"] == "drift policy is ignore"
    assert not [f for f in result["warnings"] if f.get("column") == "mean_texture"]
