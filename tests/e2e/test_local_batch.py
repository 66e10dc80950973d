"""Batch scoring on the local pipeline: after a training upload deploys a version, a file uploaded
under batch/ is validated without the target, scored by a Batch Transform job running the image's
serving stack, and its predictions are written row-aligned with their ids and the version. The
endpoint's traffic is untouched: no invocation metrics, no captured requests."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from functions.common.outcome import Outcome
from mlops.local.cloud import LocalCloud
from mlops.local.runner import run_upload
from mlops.cli import main
from tests.support.local_pipeline_runs import write_csv

pytestmark = pytest.mark.e2e

BOOSTING_ROUNDS = 50
ID_COLUMN = "patient_id"


def _with_ids(frame: pd.DataFrame, first: int) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, ID_COLUMN, [f"p{first + i:04d}" for i in range(len(frame))])
    return frame


def _config(tmp_path, frame):
    """`mlops init` with the id column ignored, then a person's edits: quick polls, and mini-batches
    of at most 1 MB, so that a larger file is scored in several requests."""
    sample = write_csv(_with_ids(frame, 0), tmp_path / "schema_sample.csv")
    config = tmp_path / "pipeline.json"
    assert main(["init", "--data", str(sample), "--target", "target", "--config", str(config), "--ignore", ID_COLUMN]) == 0
    document = json.loads(config.read_text())
    document["deployment"]["poll_interval_seconds"] = 1
    document["training"]["hyperparameters"]["max_iter"] = BOOSTING_ROUNDS
    document["batch"] = {"poll_interval_seconds": 1, "max_payload_mb": 1}
    config.write_text(json.dumps(document, indent=2))
    return config


def _read(cloud, key: str) -> bytes:
    return cloud.client("s3").get_object(Bucket=cloud.outputs.data_bucket, Key=key)["Body"].read()


def _keys(cloud, prefix: str) -> list[str]:
    listing = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_a_batch_upload_is_scored_as_the_endpoint_scores_it_without_counting_as_its_traffic(
    tmp_path, breast_cancer_frame
):
    config = _config(tmp_path, breast_cancer_frame)
    training = write_csv(_with_ids(breast_cancer_frame.iloc[:400], 0), tmp_path / "cancer_2024_01.csv")
    to_score = _with_ids(breast_cancer_frame.iloc[400:], 400).drop(columns=["target"])
    batch_file = write_csv(to_score, tmp_path / "to_score.csv")
    missing_feature = write_csv(to_score.drop(columns=["mean_radius"]), tmp_path / "no_radius.csv")

    with LocalCloud(config) as cloud:
        # Given a deployed version
        deployed = run_upload(cloud, training)
        assert deployed.outcome == Outcome.DEPLOYED, deployed.reason

        # When a file without the target is uploaded under batch/
        scored = run_upload(cloud, batch_file, key="batch/to_score.csv")

        # Then it is scored, with a reason naming the version
        assert scored.outcome == Outcome.SCORED, scored.reason
        assert "model version 1" in scored.reason

        # And the execution's SageMaker model is deleted once the transform job has ended
        models = [model["ModelName"] for model in cloud.client("sagemaker").list_models()["Models"]]
        assert models and not [name for name in models if "-batch-" in name], models

        # And the endpoint served none of it: no invocation metrics, no captured requests
        cloudwatch = cloud.client("cloudwatch")
        assert cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName="Invocations")["Metrics"] == []
        assert _keys(cloud, "capture/") == []

        # And the predictions are row-aligned with the upload, with its ids and the version
        (predictions_key,) = _keys(cloud, "predictions/to_score/")
        # Read back as written (repr): pandas before 3.1, the Lambda layer's, parses some floats an ulp off
        # unless asked to round-trip.
        predictions = pd.read_csv(io.BytesIO(_read(cloud, predictions_key)), float_precision="round_trip")
        assert list(predictions["row"]) == list(range(1, len(to_score) + 1))
        assert list(predictions[ID_COLUMN]) == list(to_score[ID_COLUMN])
        assert set(predictions["model_version"]) == {1}

        # And they are the endpoint's answers for the same rows
        features = to_score.drop(columns=[ID_COLUMN])
        response = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=cloud.outputs.endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": json.loads(features.to_json(orient="records"))}),
        )
        answer = json.loads(response["Body"].read())
        assert [str(p) for p in predictions["prediction"]] == answer["predictions"]
        for position, label in enumerate(answer["classes"]):
            assert list(predictions[f"probability_{label}"]) == [row[position] for row in answer["probabilities"]]

        # And the report gives row counts, drift against version 1's training data and the distribution
        execution = scored.execution["arn"].rsplit(":", 1)[-1]
        report = json.loads(_read(cloud, f"reports/{execution}/batch.json"))
        assert report["outcome"] == "scored" and report["rows_scored"] == len(to_score)
        assert report["validation"]["drift"]["note"] == "compared with the training data of model version 1"
        assert sum(report["prediction_distribution"]["counts"].values()) == len(to_score)
        assert b"<h1>Batch scored</h1>" in _read(cloud, f"reports/{execution}/batch.html")
        audit = [json.loads(_read(cloud, key)) for key in _keys(cloud, "audit/")]
        assert [(r["what"]["action"], r["what"]["outcome"], r["versions"]["after"]) for r in audit] == [
            ("batch_score", "scored", 1)
        ]

        # When a file misses a feature, or names a version that does not exist
        rejected = run_upload(cloud, missing_feature, key="batch/no_radius.csv")
        unknown_version = run_upload(cloud, batch_file, key="batch/v9/to_score.csv")

        # Then each is rejected with its reason, and the file is kept in quarantine
        assert rejected.outcome == Outcome.DATA_REJECTED and "mean_radius" in rejected.reason
        assert unknown_version.outcome == Outcome.DATA_REJECTED and "model version 9" in unknown_version.reason
        for result in (rejected, unknown_version):
            execution = result.execution["arn"].rsplit(":", 1)[-1]
            assert _keys(cloud, f"quarantine/{execution}/") == [
                f"quarantine/{execution}/reason.json",
                f"quarantine/{execution}/upload/{'no_radius.csv' if result is rejected else 'to_score.csv'}",
            ]


def test_mlops_local_run_of_a_batch_file_above_the_lambda_limit_ends_with_predictions_in_the_results_folder(
    tmp_path, breast_cancer_frame, capsys
):
    # Given a config, a training file and a file to score, both above the size the validate
    # function checks itself, so the validation job checks them
    config = _config(tmp_path, breast_cancer_frame)
    training = write_csv(_with_ids(breast_cancer_frame.iloc[:400], 0), tmp_path / "cancer_2024_01.csv")
    to_score = _with_ids(breast_cancer_frame.iloc[400:], 400).drop(columns=["target"])
    batch_file = write_csv(to_score, tmp_path / "to_score.csv")
    document = json.loads(config.read_text())
    document["validation"] = {"max_lambda_file_bytes": batch_file.stat().st_size - 1}
    config.write_text(json.dumps(document, indent=2))
    keep = tmp_path / "results"

    # When `mlops local run` uploads the training file, then the file to score under batch/
    capsys.readouterr()
    status = main(["local", "run", str(training), "--batch", str(batch_file), "--config", str(config),
                   "--keep", str(keep), "--json"])

    # Then the first deploys and the second is scored, with its predictions kept in the folder
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert status == 0
    assert [result["outcome"] for result in results] == ["deployed", "scored"], results
    scored = results[1]
    assert scored["model_version"] == 1
    key = scored["predictions_uri"].split("/", 3)[3]
    predictions = pd.read_csv(keep / key, float_precision="round_trip")
    assert list(predictions[ID_COLUMN]) == list(to_score[ID_COLUMN])
    # And the validation job checked each file, and joined the batch's predictions: their logs are in the folder
    jobs = keep / "logs" / "jobs"
    for execution in sorted(path.name for path in (keep / "reports").iterdir()):
        assert list(jobs.glob(f"mlops-validate-{execution[:8]}-*.log")), execution
    assert list(jobs.glob(f"mlops-validate-join-{key.split('/')[2][:8]}-*.log"))
