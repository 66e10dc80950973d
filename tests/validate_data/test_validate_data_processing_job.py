"""The validation job's entry point on files (no AWS), and the job route (plan -> job -> conclude)
against the Lambda route on the same bytes (moto): the same `$.validation` result."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from functions.common.config import PipelineConfig
from functions.validate_data import job_bootstrap, processing_job
from functions.validate_data.handler import lambda_handler
from functions.validate_data.validation import validate_file
from infra.assets import build_validation_job_bundle
from tests.support.runtimes import image_python
from validate_data_support import DATA_BUCKET, request_for, run_validation_job, to_csv_bytes

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
FIRST_DATASET_NOTE = "no model serves yet: this is a first dataset, drift not checked"


def _job_folders(tmp_path: Path, file_name: str, body: bytes, execution_name: str = "exec-1") -> dict[str, Path]:
    folders = {name: tmp_path / name for name in ("plan", "data", "output")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    (folders["data"] / file_name).write_bytes(body)
    plan = {
        "format_version": 1,
        "source_uri": f"s3://{DATA_BUCKET}/incoming/{file_name}",
        "file_name": file_name,
        "input_file_name": file_name,
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:mlops:{execution_name}",
        "execution_name": execution_name,
        "baseline": {"model_package_arn": None, "profile_uri": None, "profile": None, "note": FIRST_DATASET_NOTE},
    }
    (folders["plan"] / "plan.json").write_text(json.dumps(plan))
    folders["message"] = tmp_path / "opt-ml-output" / "message"
    return folders


def _arguments(folders: dict[str, Path]) -> list[str]:
    return [
        "--plan",
        str(folders["plan"] / "plan.json"),
        "--data",
        str(folders["data"]),
        "--output",
        str(folders["output"]),
        "--message-file",
        str(folders["message"]),
    ]


def test_the_job_writes_the_outcome_and_splits_validate_file_computes(tmp_path, breast_cancer, breast_cancer_config):
    # Given the breast cancer data as the job's input
    body = to_csv_bytes(breast_cancer)
    folders = _job_folders(tmp_path / "job", "cancer.csv", body)

    exit_code = processing_job.main(_arguments(folders), breast_cancer_config.to_json())

    # Then the outcome is what validate_file gives on the same file, with the splits beside it
    assert exit_code == 0
    document = json.loads((folders["output"] / "outcome.json").read_text())
    direct = validate_file(folders["data"] / "cancer.csv", breast_cancer_config, work_dir=tmp_path / "direct")
    assert document["dataset_version"] == hashlib.sha256(body).hexdigest()
    assert document["execution_name"] == "exec-1"
    assert document["outcome"]["accepted"] is direct.accepted is True
    assert document["outcome"]["rows"] == direct.rows == len(breast_cancer)
    assert document["outcome"]["split_rows"] == direct.split_rows
    assert document["outcome"]["profile"] == json.loads(json.dumps(direct.profile))
    assert document["outcome"]["split_files"] == {name: f"splits/{name}.csv" for name in ("train", "validation", "test")}
    for name, path in direct.split_files.items():
        assert (folders["output"] / "splits" / f"{name}.csv").read_bytes() == path.read_bytes()
    assert folders["message"].read_text() == f"cancer.csv: {len(breast_cancer)} rows, accepted"


def test_bad_data_is_an_outcome_of_the_job_not_a_failure(tmp_path, breast_cancer, breast_cancer_config):
    broken = breast_cancer.copy()
    broken["mean_radius"] = "n/a"
    folders = _job_folders(tmp_path, "broken.csv", to_csv_bytes(broken))

    exit_code = processing_job.main(_arguments(folders), breast_cancer_config.to_json())

    assert exit_code == 0
    outcome = json.loads((folders["output"] / "outcome.json").read_text())["outcome"]
    assert outcome["accepted"] is False
    assert any(error["column"] == "mean_radius" for error in outcome["errors"])
    assert outcome["split_files"] == {}
    assert not (folders["output"] / "splits").exists()
    assert "rejected" in folders["message"].read_text()


def test_a_job_that_cannot_finish_exits_non_zero_with_the_reason_in_the_message_file(tmp_path, breast_cancer_config):
    folders = _job_folders(tmp_path, "cancer.csv", b"a,b\n1,2\n")
    (folders["data"] / "cancer.csv").unlink()

    exit_code = processing_job.main(_arguments(folders), breast_cancer_config.to_json())

    assert exit_code == 1
    assert folders["message"].read_text() == "FileNotFoundError: the job's input has no file 'cancer.csv'"
    assert not (folders["output"] / "outcome.json").exists()


def test_the_job_is_not_bound_by_the_lambda_routes_limit_on_decompressed_gzip(tmp_path, breast_cancer, breast_cancer_config):
    # Given a gzip upload whose content is larger than the Lambda route's limit
    config = breast_cancer_config.model_copy(deep=True)
    config.validation.max_lambda_file_bytes = 1000
    body = gzip.compress(to_csv_bytes(breast_cancer), mtime=0)
    folders = _job_folders(tmp_path, "cancer.csv.gz", body)

    assert processing_job.main(_arguments(folders), config.to_json()) == 0

    outcome = json.loads((folders["output"] / "outcome.json").read_text())["outcome"]
    assert outcome["accepted"] is True, outcome["errors"]
    assert outcome["rows"] == len(breast_cancer)


def test_the_bundle_runs_as_a_program_in_the_image_with_its_packaged_config(tmp_path, breast_cancer, breast_cancer_config):
    # Given the bundle as the CDK app builds it for this config
    config_path = tmp_path / "pipeline.json"
    config_path.write_text(breast_cancer_config.to_json())
    bundle = build_validation_job_bundle(config_path, tmp_path / "bundle" / "validation-job.zip")
    folders = _job_folders(tmp_path / "job", "cancer.csv", to_csv_bytes(breast_cancer))

    # When the image's Python runs the zip the way the job's ContainerEntrypoint does, outside the repository
    completed = subprocess.run(
        [str(image_python()), str(bundle), *_arguments(folders)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    outcome = json.loads((folders["output"] / "outcome.json").read_text())["outcome"]
    assert outcome["accepted"] is True
    assert outcome["rows"] == len(breast_cancer)


def test_the_bundle_imports_the_validation_code_from_the_zip_and_carries_the_wheels(tmp_path, breast_cancer_config):
    config_path = tmp_path / "pipeline.json"
    config_path.write_text(breast_cancer_config.to_json())
    bundle = build_validation_job_bundle(config_path, tmp_path / "validation-job.zip")

    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        main = archive.read("__main__.py")
        packaged_config = archive.read("pipeline_config.json")

    assert main == (REPOSITORY_ROOT / "functions" / "validate_data" / "job_bootstrap.py").read_bytes()
    assert PipelineConfig.model_validate_json(packaged_config) == breast_cancer_config
    assert {"functions/validate_data/processing_job.py", "functions/validate_data/validation.py"} <= names
    assert "functions/common/config.py" in names
    assert not any(name.startswith("functions/training/") for name in names)
    wheels = {name.split("/")[1].split("-")[0] for name in names if name.startswith("wheels/")}
    assert wheels == {"pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"}
    # Run as a program, the zip is the first entry of sys.path: the job imports the bundled code.
    imported = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(bundle)!r}); "
         "import functions.validate_data.processing_job as job; print(job.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == f"{bundle}/functions/validate_data/processing_job.py"


def test_unpacked_wheels_come_first_on_the_path(tmp_path, monkeypatch):
    # Given a bundle holding one wheel with a module the interpreter does not have
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("vendored_for_job/__init__.py", "ANSWER = 42\n")
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("wheels/vendored_for_job-1.0-py3-none-any.whl", wheel.getvalue())
        archive.writestr("__main__.py", "")
    monkeypatch.setattr(sys, "path", list(sys.path))

    unpacked = job_bootstrap.unpack_wheels(bundle, tmp_path / "site")

    assert unpacked == ["vendored_for_job-1.0-py3-none-any.whl"]
    assert sys.path[0] == str(tmp_path / "site")
    import vendored_for_job

    assert vendored_for_job.ANSWER == 42
    monkeypatch.delitem(sys.modules, "vendored_for_job")


# ---------------------------------------------------------------- the route against moto


def _run_job_route(aws, event: dict[str, Any], lambda_context, work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plan, then what SageMaker does with the plan's inputs and output, then conclude."""
    plan = lambda_handler({**event, "mode": "plan"}, lambda_context)
    if plan["result"] is not None:
        return plan, plan["result"]
    run_validation_job(aws, plan, work)
    return plan, lambda_handler({**event, "mode": "conclude"}, lambda_context)


def _without_execution(result: dict[str, Any], execution_name: str) -> dict[str, Any]:
    """The result with what names the execution (report and quarantine URIs, job name) masked."""
    masked = json.loads(json.dumps(result).replace(execution_name, "<execution>").replace(execution_name[:8], "<exec>"))
    return masked


def _lambda_route_then_forget(aws, body: bytes, key: str, lambda_context, execution_name: str) -> dict[str, Any]:
    aws.put(key, body)
    result = lambda_handler(request_for(key, execution_name), lambda_context)
    if result.get("dataset_version"):
        # So that the job route sees these bytes for the first time too.
        aws.s3.delete_object(Bucket=DATA_BUCKET, Key=f"curated/{result['dataset_version']}/manifest.json")
        aws.s3.delete_object(Bucket=DATA_BUCKET, Key=f"curated/rows-fingerprints/{result['rows_fingerprint']}.json")
    return result


def test_accepted_data_gets_the_lambda_routes_result_splits_profile_and_report(aws, lambda_context, breast_cancer, tmp_path):
    # Given the same bytes validated on the Lambda route by one execution
    body = to_csv_bytes(breast_cancer)
    lambda_result = _lambda_route_then_forget(aws, body, "incoming/cancer.csv", lambda_context, "aaaaaaaa-lambda-route")
    version = lambda_result["dataset_version"]
    splits = {name: aws.get(f"curated/{version}/{name}/data.csv") for name in ("train", "validation", "test")}
    profile = aws.get(f"curated/{version}/profile.json")
    lambda_report = aws.get_json("reports/aaaaaaaa-lambda-route/validation.json")

    # When another execution takes the job route on them
    event = request_for("incoming/cancer.csv", "bbbbbbbb-job-route")
    plan, result = _run_job_route(aws, event, lambda_context, tmp_path)

    # Then the result, the curated splits, the profile and the report are the Lambda route's
    assert result["outcome"] == "accepted"
    assert _without_execution(result, "bbbbbbbb-job-route") == _without_execution(lambda_result, "aaaaaaaa-lambda-route")
    for name, split in splits.items():
        stored = aws.s3.get_object(Bucket=DATA_BUCKET, Key=f"curated/{version}/{name}/data.csv")
        assert stored["Body"].read() == split
        assert stored["ContentType"] == "text/csv"
    assert aws.get(f"curated/{version}/profile.json") == profile
    job_report = aws.get_json("reports/bbbbbbbb-job-route/validation.json")
    for report in (job_report, lambda_report):
        for field in ("created", "execution_arn", "execution_name"):
            report.pop(field)
    assert job_report == lambda_report
    manifest = aws.get_json(f"curated/{version}/manifest.json")
    assert manifest["execution_arn"] == event["execution_arn"]
    assert manifest["result"] == result
    assert plan["job_name"].startswith("mlops-validate-bbbbbbbb-")


def test_rows_held_back_on_the_job_route_are_the_lambda_routes(aws, lambda_context, breast_cancer, tmp_path):
    # Given bytes with one value above its column's range, validated on the Lambda route
    frame = breast_cancer.copy()
    frame.loc[11, "area_error"] = 5000.0
    body = to_csv_bytes(frame)
    lambda_result = _lambda_route_then_forget(aws, body, "incoming/tail.csv", lambda_context, "aaaaaaaa-lambda-route")
    lambda_rows = aws.get("quarantine/aaaaaaaa-lambda-route/rows.csv")

    # When another execution takes the job route on them
    _, result = _run_job_route(aws, request_for("incoming/tail.csv", "bbbbbbbb-job-route"), lambda_context, tmp_path)

    # Then the same row is held back with the same reason, and the results agree
    assert result["outcome"] == "accepted" and result["quarantined_rows"] == 1
    assert result["quarantined_rows_uri"] == f"s3://{DATA_BUCKET}/quarantine/bbbbbbbb-job-route/rows.csv"
    assert aws.get("quarantine/bbbbbbbb-job-route/rows.csv") == lambda_rows
    assert _without_execution(result, "bbbbbbbb-job-route") == _without_execution(lambda_result, "aaaaaaaa-lambda-route")
    assert aws.get_json("quarantine/bbbbbbbb-job-route/reason.json")["quarantined_rows"] == 1


def test_rejected_data_is_quarantined_with_the_reason_as_on_the_lambda_route(aws, lambda_context, breast_cancer, tmp_path):
    broken = breast_cancer.copy()
    broken["mean_radius"] = "n/a"
    body = to_csv_bytes(broken)
    lambda_result = _lambda_route_then_forget(aws, body, "incoming/broken.csv", lambda_context, "aaaaaaaa-lambda-route")

    _, result = _run_job_route(aws, request_for("incoming/broken.csv", "bbbbbbbb-job-route"), lambda_context, tmp_path)

    assert result["outcome"] == "data_rejected"
    assert _without_execution(result, "bbbbbbbb-job-route") == _without_execution(lambda_result, "aaaaaaaa-lambda-route")
    assert result["quarantine_uri"] == f"s3://{DATA_BUCKET}/quarantine/bbbbbbbb-job-route/upload/broken.csv"
    assert aws.get("quarantine/bbbbbbbb-job-route/upload/broken.csv") == body
    reason = aws.get_json("quarantine/bbbbbbbb-job-route/reason.json")
    assert reason["reason"] == result["reason"]
    assert reason["dataset_version"] == hashlib.sha256(body).hexdigest()
    assert aws.keys("curated/") == []


def test_bytes_already_accepted_are_a_duplicate_and_a_retry_gets_its_own_result(aws, lambda_context, breast_cancer, tmp_path):
    body = to_csv_bytes(breast_cancer)
    aws.put("incoming/cancer.csv", body)
    first = request_for("incoming/cancer.csv", "bbbbbbbb-job-route")
    _, accepted = _run_job_route(aws, first, lambda_context, tmp_path / "first")

    retried = lambda_handler({**first, "mode": "conclude"}, lambda_context)
    aws.put("incoming/cancer_again.csv", body)
    _, duplicate = _run_job_route(
        aws, request_for("incoming/cancer_again.csv", "cccccccc-job-route"), lambda_context, tmp_path / "second"
    )

    assert accepted["outcome"] == "accepted"
    assert retried == accepted
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["dataset_version"] == accepted["dataset_version"]


def test_an_upload_gone_before_the_job_is_rejected_by_the_plan_as_on_the_lambda_route(aws, lambda_context):
    lambda_result = lambda_handler(request_for("incoming/gone.csv", "aaaaaaaa-lambda-route"), lambda_context)

    plan = lambda_handler({**request_for("incoming/gone.csv", "bbbbbbbb-job-route"), "mode": "plan"}, lambda_context)

    assert plan["result"] == lambda_result
    assert plan["result"]["errors"][0]["check"] == "source_missing"
    assert aws.keys("validation-jobs/") == []


def test_the_plan_names_exactly_the_upload_and_the_job_the_same_for_every_attempt(aws, lambda_context, breast_cancer):
    aws.put("incoming/sub/cancer.csv", to_csv_bytes(breast_cancer))
    event = {**request_for("incoming/sub/cancer.csv", "bbbbbbbb-job-route"), "mode": "plan"}

    plan = lambda_handler(event, lambda_context)
    again = lambda_handler(copy.deepcopy(event), lambda_context)

    assert again == plan
    assert len(plan["job_name"]) <= 63
    prefix = f"s3://{DATA_BUCKET}/validation-jobs/bbbbbbbb-job-route/"
    assert plan["plan_uri"] == prefix + "plan.json"
    assert plan["source_manifest_uri"] == prefix + "source.manifest"
    assert plan["output_uri"] == prefix + "output/"
    assert aws.get_json("validation-jobs/bbbbbbbb-job-route/source.manifest") == [
        {"prefix": f"s3://{DATA_BUCKET}/validation-jobs/bbbbbbbb-job-route/source/"},
        "upload",
    ]
    assert aws.get("validation-jobs/bbbbbbbb-job-route/source/upload") == to_csv_bytes(breast_cancer)
    document = aws.get_json("validation-jobs/bbbbbbbb-job-route/plan.json")
    assert document["file_name"] == "cancer.csv"
    assert document["input_file_name"] == "upload"
    assert document["baseline"]["note"] == FIRST_DATASET_NOTE


def test_conclude_without_the_jobs_outcome_is_an_error_not_a_verdict(aws, lambda_context, breast_cancer):
    from functions.common.errors import ValidationJobOutputError

    aws.put("incoming/cancer.csv", to_csv_bytes(breast_cancer))
    event = request_for("incoming/cancer.csv", "bbbbbbbb-job-route")
    lambda_handler({**event, "mode": "plan"}, lambda_context)

    with pytest.raises(ValidationJobOutputError, match="output/outcome.json does not exist"):
        lambda_handler({**event, "mode": "conclude"}, lambda_context)
    assert aws.keys("quarantine/") == [] and aws.keys("curated/") == []



def test_the_job_validates_the_version_the_event_names_even_after_an_overwrite(aws, lambda_context, breast_cancer, tmp_path):
    # Given a versioned bucket, an upload, and the same key overwritten with broken bytes after its event
    aws.s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "incoming/overwritten.csv"
    good = to_csv_bytes(breast_cancer)
    good_version = aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=good)["VersionId"]
    aws.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=to_csv_bytes(breast_cancer.drop(columns=["target"])))

    # When the job route validates the first upload's execution
    event = {**request_for(key, "bbbbbbbb-version"), "version_id": good_version}
    _, result = _run_job_route(aws, event, lambda_context, tmp_path)

    # Then the job read the bytes of the version the event named
    assert result["outcome"] == "accepted", result["reason"]
    assert result["dataset_version"] == hashlib.sha256(good).hexdigest()


@pytest.mark.parametrize(
    "key",
    [
        "incoming/..",
        "incoming/" + "l" * 300 + ".csv",
        "incoming/" + "ü" * 200 + ".csv",
    ],
    ids=["dot-dot", "300-byte-name", "400-byte-utf8-name"],
)
def test_a_key_no_file_system_takes_as_a_name_is_validated_by_the_job(aws, lambda_context, breast_cancer, tmp_path, key):
    # Given an upload whose key's last segment cannot name a file (S3 keys run to 1,024 bytes)
    aws.put(key, to_csv_bytes(breast_cancer))

    # When the job route validates it
    _, result = _run_job_route(aws, request_for(key, "bbbbbbbb-odd-key"), lambda_context, tmp_path)

    # Then it is validated like any other upload
    assert result["outcome"] == "accepted", result["reason"]
    assert result["rows"] == len(breast_cancer)


# Modules of the bundle that serve only the Lambda function; the image has no Powertools.
LAMBDA_ONLY_PACKAGE = "aws_lambda_powertools"


def test_every_module_of_the_bundle_imports_under_the_images_python(tmp_path, breast_cancer_config):
    # Given the bundle and the image's interpreter (Python 3.10, with the bundle's own pydantic wheels)
    config_path = tmp_path / "pipeline.json"
    config_path.write_text(breast_cancer_config.to_json())
    bundle = build_validation_job_bundle(config_path, tmp_path / "validation-job.zip")
    script = (
        "import importlib, json, sys, tempfile, zipfile\n"
        "from pathlib import Path\n"
        "bundle = Path(sys.argv[1])\n"
        "sys.path.insert(0, str(bundle))\n"
        "import __main__ as _\n"
        "from functions.validate_data import job_bootstrap\n"
        "job_bootstrap.unpack_wheels(bundle, Path(tempfile.mkdtemp()))\n"
        "names = sorted(n[:-3].replace('/', '.') for n in zipfile.ZipFile(bundle).namelist()\n"
        "               if n.startswith('functions/') and n.endswith('.py'))\n"
        "failures = {}\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as error:\n"
        f"        if error.name != {LAMBDA_ONLY_PACKAGE!r}:\n"
        "            failures[name] = repr(error)\n"
        "    except Exception as error:\n"
        "        failures[name] = repr(error)\n"
        "print(json.dumps({'imported': names, 'failures': failures}))\n"
    )
    # When each of its modules is imported there
    completed = subprocess.run(
        [str(image_python()), "-c", script, str(bundle)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    # Then none fails for a reason of its own (the validation service included)
    report = json.loads(completed.stdout)
    assert "functions.validate_data.service" in report["imported"]
    assert report["failures"] == {}
