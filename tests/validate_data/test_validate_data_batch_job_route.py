"""A batch file above validation.max_lambda_file_bytes (moto): "batch" stages the validation job,
the job checks the file as a file to score, and "batch_validation_concluded" leaves the plan the
Lambda route leaves for the same bytes; after the transform job the execution's model is deleted."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from functions.validate_data import processing_job
from functions.validate_data.handler import lambda_handler
from validate_data_support import DATA_BUCKET, MODEL_ROLE_ARN, accept_upload, request_for, run_validation_job, to_csv_bytes

LAMBDA_EXECUTION = "aaaaaaaa-0000-4000-8000-00000000ba7c"
JOB_EXECUTION = "bbbbbbbb-0000-4000-8000-00000000ba7c"
SMALL_LIMIT_BYTES = 1000


def _batch_request(key: str, execution: str, mode: str = "batch", **extra) -> dict:
    return {**request_for(key, execution), "mode": mode, **extra}


def _serve_first_version(aws, breast_cancer, lambda_context) -> str:
    accepted = accept_upload(aws, lambda_context, breast_cancer.iloc[:300], "train.csv", "0f1e2d3c-0000-4000-8000-000000000001")
    return aws.serve_version(accepted)


def _with_small_lambda_limit(aws, config) -> None:
    aws.use_config(config.model_copy(
        update={"validation": config.validation.model_copy(update={"max_lambda_file_bytes": SMALL_LIMIT_BYTES})}
    ))


def _job_route(aws, key: str, lambda_context, work) -> tuple[dict, dict]:
    staged = lambda_handler(_batch_request(key, JOB_EXECUTION), lambda_context)
    assert staged["outcome"] == "validate_in_job", staged
    run_validation_job(aws, staged["validation_job"], work)
    concluded = lambda_handler(
        _batch_request(key, JOB_EXECUTION, "batch_validation_concluded", plan=staged), lambda_context
    )
    return staged, concluded


def _masked(document: dict, execution: str) -> dict:
    """The document with what names the execution masked (the model is named per execution)."""
    masked = json.loads(json.dumps(document).replace(execution, "<execution>"))
    masked["model"].pop("model_name")
    return masked


def test_a_large_batch_file_is_validated_by_the_job_into_the_plan_the_lambda_route_gives(
    aws, lambda_context, breast_cancer, breast_cancer_config, tmp_path
):
    # Given version 1 serving and a file to score with one value outside its column's range
    _serve_first_version(aws, breast_cancer, lambda_context)
    to_score = breast_cancer.drop(columns=["target"]).iloc[300:].copy()
    to_score.iloc[4, to_score.columns.get_loc("area_error")] = 5000.0
    aws.put("batch/june.csv", to_csv_bytes(to_score))
    on_lambda = lambda_handler(_batch_request("batch/june.csv", LAMBDA_EXECUTION), lambda_context)
    assert on_lambda["outcome"] == "accepted" and on_lambda["quarantined_rows"] == 1, on_lambda

    # When the same bytes are above the Lambda route's limit
    _with_small_lambda_limit(aws, breast_cancer_config)
    staged, concluded = _job_route(aws, "batch/june.csv", lambda_context, tmp_path)

    # Then the job is planned with the serving version's model, and its outcome makes the same plan
    assert staged["model"]["model_version"] == 1 and staged["validation_job"]["job_name"].startswith("mlops-validate-")
    assert "max_lambda_file_bytes" in staged["reason"]
    plan_document = aws.get_json(f"validation-jobs/{JOB_EXECUTION}/plan.json")
    assert plan_document["purpose"] == "scoring" and plan_document["baseline"]["profile"] is not None
    join_job = concluded.pop("join_job")
    assert on_lambda.pop("join_job") is None
    assert join_job["job_name"].startswith("mlops-validate-join-")
    assert _masked(concluded, JOB_EXECUTION) == _masked(on_lambda, LAMBDA_EXECUTION)
    for name in ("input/features.csv", "rows.csv"):
        assert aws.get(f"batch-jobs/{JOB_EXECUTION}/{name}") == aws.get(f"batch-jobs/{LAMBDA_EXECUTION}/{name}"), name
    assert aws.get(f"quarantine/{JOB_EXECUTION}/rows.csv") == aws.get(f"quarantine/{LAMBDA_EXECUTION}/rows.csv")
    saved = aws.get_json(f"batch-jobs/{JOB_EXECUTION}/plan.json")
    assert saved["validation"]["drift"]["note"] == "compared with the training data of model version 1"


def test_a_large_batch_file_the_job_rejects_is_quarantined_with_a_report(
    aws, lambda_context, breast_cancer, breast_cancer_config, tmp_path
):
    _serve_first_version(aws, breast_cancer, lambda_context)
    broken = breast_cancer.drop(columns=["target"]).iloc[300:].copy()
    broken["mean_radius"] = "n/a"
    aws.put("batch/broken.csv", to_csv_bytes(broken))
    _with_small_lambda_limit(aws, breast_cancer_config)

    _, concluded = _job_route(aws, "batch/broken.csv", lambda_context, tmp_path)

    assert concluded["outcome"] == "data_rejected" and "mean_radius" in concluded["reason"]
    assert concluded["quarantine_uri"] == f"s3://{DATA_BUCKET}/quarantine/{JOB_EXECUTION}/upload/broken.csv"
    assert aws.get(f"quarantine/{JOB_EXECUTION}/upload/broken.csv") == aws.get("batch/broken.csv")
    assert aws.get_json(f"quarantine/{JOB_EXECUTION}/reason.json")["reason"] == concluded["reason"]
    assert aws.get_json(f"reports/{JOB_EXECUTION}/batch.json")["outcome"] == "data_rejected"


def test_a_failed_batch_validation_job_is_recorded_naming_the_job(
    aws, lambda_context, breast_cancer, breast_cancer_config
):
    _serve_first_version(aws, breast_cancer, lambda_context)
    aws.put("batch/june.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).iloc[300:]))
    _with_small_lambda_limit(aws, breast_cancer_config)
    staged = lambda_handler(_batch_request("batch/june.csv", JOB_EXECUTION), lambda_context)

    failed = lambda_handler(
        _batch_request(
            "batch/june.csv",
            JOB_EXECUTION,
            "batch_failed",
            plan=staged,
            processing={"status": "Failed", "reason": "AlgorithmError: out of disk"},
        ),
        lambda_context,
    )

    job_name = staged["validation_job"]["job_name"]
    assert failed["outcome"] == "failed"
    assert failed["reason"] == f"validation job {job_name} failed: AlgorithmError: out of disk"
    assert aws.get_json(f"reports/{JOB_EXECUTION}/batch.json")["validation_job_name"] == job_name


def _answers(rows: int) -> bytes:
    """A transform job's output for `rows` rows, in mini-batches of 50 rows, one JSON answer a line."""
    lines = []
    for start in range(0, rows, 50):
        labels = [str((start + i) % 2) for i in range(min(50, rows - start))]
        probabilities = [[0.125, 0.875] if label == "1" else [0.75, 0.25] for label in labels]
        lines.append(json.dumps({"predictions": labels, "probabilities": probabilities, "classes": ["0", "1"]}))
    return ("\n".join(lines) + "\n").encode()


def _run_join_job(aws, join_job: dict, work) -> None:
    """What SageMaker Processing does with the join job's inputs and outputs (batch.py's states)."""
    folders = {name: work / name for name in ("plan", "rows", "answers", "predictions", "summary")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for name, field in (("plan", "plan_uri"), ("rows", "rows_uri"), ("answers", "answers_uri")):
        prefix = join_job[field].removeprefix(f"s3://{DATA_BUCKET}/")
        for key in aws.keys(prefix):
            (folders[name] / key.rsplit("/", 1)[-1]).write_bytes(aws.get(key))
    arguments = [
        "--join", "--plan", str(folders["plan"] / "join-plan.json"), "--data", str(folders["rows"]),
        "--answers", str(folders["answers"]), "--output", str(folders["predictions"]),
        "--summary", str(folders["summary"]), "--message-file", str(work / "message"),
    ]
    assert processing_job.main(arguments, (aws.task_root / "pipeline_config.json").read_text()) == 0
    for name, field in (("predictions", "predictions_uri"), ("summary", "summary_uri")):
        prefix = join_job[field].removeprefix(f"s3://{DATA_BUCKET}/")
        for path in folders[name].iterdir():
            aws.put(prefix + path.name, path.read_bytes())


def test_the_join_job_writes_the_predictions_the_function_writes_for_the_same_answers(
    aws, lambda_context, breast_cancer, breast_cancer_config, tmp_path
):
    # Given the same file scored on both routes, with the same answers from the transform job
    _serve_first_version(aws, breast_cancer, lambda_context)
    to_score = breast_cancer.drop(columns=["target"]).iloc[300:]
    aws.put("batch/june.csv", to_csv_bytes(to_score))
    on_lambda = lambda_handler(_batch_request("batch/june.csv", LAMBDA_EXECUTION), lambda_context)
    _with_small_lambda_limit(aws, breast_cancer_config)
    _, on_job = _job_route(aws, "batch/june.csv", lambda_context, tmp_path / "validation")
    for execution in (LAMBDA_EXECUTION, JOB_EXECUTION):
        aws.put(f"batch-jobs/{execution}/output/features.csv.out", _answers(len(to_score)))

    # When the function joins the first, and the join job the second
    joined_here = lambda_handler(_batch_request("batch/june.csv", LAMBDA_EXECUTION, "batch_conclude", plan=on_lambda), lambda_context)
    _run_join_job(aws, on_job["join_job"], tmp_path / "join")
    joined_in_job = lambda_handler(_batch_request("batch/june.csv", JOB_EXECUTION, "batch_conclude", plan=on_job), lambda_context)

    # Then the predictions, the counts and the distribution are the same
    assert joined_in_job["rows_scored"] == joined_here["rows_scored"] == len(to_score)
    here = aws.get(f"predictions/june/{LAMBDA_EXECUTION}/predictions.csv")
    assert aws.get(f"predictions/june/{JOB_EXECUTION}/predictions.csv") == here
    reports = [aws.get_json(f"reports/{execution}/batch.json") for execution in (LAMBDA_EXECUTION, JOB_EXECUTION)]
    assert reports[0]["prediction_distribution"] == reports[1]["prediction_distribution"]
    assert reports[0]["classes"] == reports[1]["classes"] == ["0", "1"]
    assert reports[1]["join_job_name"] == on_job["join_job"]["job_name"]


def _create_batch_model(aws, plan: dict) -> None:
    model = plan["model"]
    aws.sagemaker.create_model(
        ModelName=model["model_name"],
        ExecutionRoleArn=MODEL_ROLE_ARN,
        PrimaryContainer={"Image": model["image_uri"], "ModelDataUrl": model["model_data_url"]},
    )


def _model_exists(aws, name: str) -> bool:
    try:
        aws.sagemaker.describe_model(ModelName=name)
    except ClientError:
        return False
    return True


@pytest.mark.parametrize("mode", ["batch_conclude", "batch_failed"])
def test_the_executions_model_is_deleted_once_its_transform_job_has_ended(aws, lambda_context, breast_cancer, mode):
    # Given a planned batch whose model the state machine created
    _serve_first_version(aws, breast_cancer, lambda_context)
    aws.put("batch/two.csv", to_csv_bytes(breast_cancer.drop(columns=["target"]).iloc[300:302]))
    plan = lambda_handler(_batch_request("batch/two.csv", JOB_EXECUTION), lambda_context)
    _create_batch_model(aws, plan)
    aws.put(f"batch-jobs/{JOB_EXECUTION}/output/features.csv.out", b'{"predictions": ["1", "0"]}\n')
    name = plan["model"]["model_name"]

    # When the transform job has completed (or failed) and the step runs, twice as on a retry
    request = _batch_request("batch/two.csv", JOB_EXECUTION, mode, plan=plan, transform={"status": "Failed"})
    lambda_handler(request, lambda_context)
    lambda_handler(request, lambda_context)

    # Then the model is gone and the report says so
    assert not _model_exists(aws, name)
    assert aws.get_json(f"reports/{JOB_EXECUTION}/batch.json")["model_cleanup"] == f"model {name} was already deleted"
