"""The champion/challenger gate on the local pipeline, against the hostile uploads it must not be
fooled by: labels swapped in an otherwise valid file, a column whose unit changed in uploads
that race, and the same rows re-uploaded reordered, gzipped or as Parquet. Evaluation scores the
serving model in the training job, so the endpoint serves no evaluation traffic."""

from __future__ import annotations

import gzip
import json

import pytest

from functions.common.outcome import Outcome
from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, execution_result, run_upload
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e

# Fewer boosting rounds keep the training jobs short; the data separates well either way.
BOOSTING_ROUNDS = 50
POUNDS_PER_KILOGRAM = 2.20462
UNIT_COLUMN = "mean_area"


def _config(tmp_path, frame):
    sample = write_csv(frame, tmp_path / "schema_sample.csv")
    return init_config(
        sample,
        "target",
        tmp_path / "pipeline.json",
        deployment__poll_interval_seconds=1,
        training__hyperparameters__max_iter=BOOSTING_ROUNDS,
    )


def _evaluation_report(cloud, result) -> dict:
    bucket, _, key = result.evaluation["report_uri"].removeprefix("s3://").partition("/")
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_swapped_labels_are_not_deployed_and_evaluation_never_calls_the_endpoint(tmp_path, breast_cancer_frame):
    config = _config(tmp_path, breast_cancer_frame)
    first = write_csv(breast_cancer_frame.iloc[:300], tmp_path / "cancer_2024_01.csv")
    swapped = breast_cancer_frame.iloc[300:].copy()
    swapped["target"] = 1 - swapped["target"]  # benign <-> malignant
    swapped_file = write_csv(swapped, tmp_path / "cancer_2024_02.csv")

    with LocalCloud(config) as cloud:
        deployed = run_upload(cloud, first)
        result = run_upload(cloud, swapped_file)

        # Then the version serving stays, and the reason says the labels are suspect
        assert deployed.outcome == Outcome.DEPLOYED
        assert result.outcome in {Outcome.MODEL_REJECTED, Outcome.PENDING_APPROVAL}, result.reason
        assert endpoint_status(cloud)["model_version"] == 1
        assert result.reason.startswith("Rejected, suspect labels"), result.reason
        # The target's drift only warned: the gate decided
        assert any(w["check"] == "drift" and w["column"] == "target" for w in result.validation["warnings"])
        report = _evaluation_report(cloud, result)
        assert list(report)[0] == "gate"
        assert [c["rows"] for c in report["gate"]["comparisons"]] == ["the new test rows", "the reference holdout"]
        new_rows, reference = report["gate"]["comparisons"]
        assert new_rows["champion"] < 0.1 < 0.9 < reference["champion"]
        assert reference["challenger"] < 0.1

        # And after two uploads and no user traffic, the endpoint served nothing: no invocation
        # metrics, no captured requests
        cloudwatch = cloud.client("cloudwatch")
        assert cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName="Invocations")["Metrics"] == []
        captured = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="capture/")
        assert captured.get("KeyCount", 0) == 0


def test_racing_uploads_with_a_changed_unit_are_each_checked_against_the_serving_version(tmp_path, breast_cancer_frame):
    config = _config(tmp_path, breast_cancer_frame)
    pounds = write_csv(breast_cancer_frame.iloc[:200], tmp_path / "site_pounds.csv")
    converted = []
    for index, (start, stop) in enumerate([(200, 330), (330, 460)], start=1):
        frame = breast_cancer_frame.iloc[start:stop].copy()
        frame[UNIT_COLUMN] = frame[UNIT_COLUMN] / POUNDS_PER_KILOGRAM
        converted.append(write_csv(frame, tmp_path / f"site_kilograms_{index}.csv"))
    unit_of = {pounds.name: "pounds", **{path.name: "kilograms" for path in converted}}

    with LocalCloud(config) as cloud:
        # When three uploads arrive together, one in the old unit and two converted
        files = [pounds, *converted]
        executions = [arn for path in files for arn in cloud.upload(path)]
        results = [execution_result(cloud, arn, path.name) for arn, path in zip(executions, files)]
        summary = [(r.file, r.outcome, r.reason) for r in results]

        # Then the lock orders them (whichever takes it first is judged first and becomes version
        # 1), and every other upload is drift-checked against the version serving, none skipping
        # the check: the other unit is rejected for drift, the same unit is not
        [first] = [r for r in results if r.model_version == 1]
        assert first.outcome == Outcome.DEPLOYED, summary
        for other in (r for r in results if r is not first):
            drifted = any(e["check"] == "drift" and e["column"] == UNIT_COLUMN for e in other.validation["errors"])
            if unit_of[other.file] != unit_of[first.file]:
                assert other.outcome == Outcome.DATA_REJECTED and drifted, summary
            else:
                assert other.outcome in {Outcome.DEPLOYED, Outcome.MODEL_REJECTED} and not drifted, summary

        # And data in the serving version's unit is still accepted afterwards
        serving_unit = unit_of[first.file]
        later_frame = breast_cancer_frame.iloc[460:].copy()
        if serving_unit == "kilograms":
            later_frame[UNIT_COLUMN] = later_frame[UNIT_COLUMN] / POUNDS_PER_KILOGRAM
        later = run_upload(cloud, write_csv(later_frame, tmp_path / f"site_{serving_unit}_later.csv"))
        assert later.outcome in {Outcome.DEPLOYED, Outcome.MODEL_REJECTED}, later.reason
        assert not [e for e in later.validation["errors"] if e["check"] == "drift"]



def test_the_same_rows_reordered_gzipped_or_as_parquet_do_not_train_again(tmp_path, breast_cancer_frame):
    config = _config(tmp_path, breast_cancer_frame)
    rows = breast_cancer_frame.iloc[:300]
    first = write_csv(rows, tmp_path / "cancer.csv")
    reordered = write_csv(rows.sample(frac=1.0, random_state=1), tmp_path / "cancer_reordered.csv")
    gzipped = tmp_path / "cancer.csv.gz"
    gzipped.write_bytes(gzip.compress(first.read_bytes()))
    parquet = tmp_path / "cancer.parquet"
    rows.to_parquet(parquet, index=False)

    with LocalCloud(config) as cloud:
        assert run_upload(cloud, first).outcome == Outcome.DEPLOYED
        for path in (reordered, gzipped, parquet):
            result = run_upload(cloud, path)

            assert result.outcome == Outcome.DUPLICATE, (path.name, result.reason)
            assert "These rows were already accepted" in result.reason
            assert "Start training" not in {s["name"] for s in result.execution["states"]}
        assert endpoint_status(cloud)["model_version"] == 1
