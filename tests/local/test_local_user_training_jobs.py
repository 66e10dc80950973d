"""A training job of the user's own code (`training.source_dir`): its bundle runs in the training
job stand-in under the script-mode contract, the contract runner names the part a script broke,
and requirements.txt installs from the bundled wheels into an overlay of the job's own."""

from __future__ import annotations

import io
import shutil
import tarfile
import textwrap
from pathlib import Path

import pytest

from mlops.local import runtime_env
from mlops.local.training_jobs import LocalTrainingJobRunner
from tests.support.training_source import REPOSITORY_ROOT, user_source_bundle
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.usefixtures("image_runtime")

BUCKET = "data"
ARTIFACTS = "artifacts"
EXAMPLE = REPOSITORY_ROOT / "examples" / "custom_training"
TEST_ROWS = 119


@pytest.fixture
def channels(moto_s3, breast_cancer, tmp_path, monkeypatch):
    # The wheels and the jobs' package overlays are cached per test.
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "cache"))
    moto_s3.create_bucket(Bucket=BUCKET)
    moto_s3.create_bucket(Bucket=ARTIFACTS)
    splits = {"train": breast_cancer.iloc[:350], "validation": breast_cancer.iloc[350:450], "test": breast_cancer.iloc[450:]}
    assert len(splits["test"]) == TEST_ROWS
    for name, frame in splits.items():
        moto_s3.put_object(Bucket=BUCKET, Key=f"curated/v1/{name}/data.csv", Body=frame.to_csv(index=False).encode())
    return {name: f"s3://{BUCKET}/curated/v1/{name}/" for name in splits}


def _run(moto_s3, channels, bundle: bytes, work: Path, job: str, network_isolation: bool = True):
    moto_s3.put_object(Bucket=ARTIFACTS, Key=f"assets/{job}.tar.gz", Body=bundle)
    request = {
        "hyper_parameters": {
            "sagemaker_program": "script_contract.py",
            "sagemaker_submit_directory": f"/opt/ml/input/data/code/{job}.tar.gz",
            "C": "0.5",
            "target": "target",
            "problem_type": "binary",
        },
        "input_data_config": [
            {"ChannelName": name, "DataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix"}}}
            for name, uri in {**channels, "code": f"s3://{ARTIFACTS}/assets/{job}.tar.gz"}.items()
        ],
        "output_data_config": {"S3OutputPath": f"s3://{ARTIFACTS}/training-jobs/"},
        "stopping_condition": {"MaxRuntimeInSeconds": 300},
        "enable_network_isolation": network_isolation,
    }
    work.mkdir(exist_ok=True)
    return LocalTrainingJobRunner(work).run(job, request)


def _archive_names(moto_s3, job: str, name: str) -> set[str]:
    body = moto_s3.get_object(Bucket=ARTIFACTS, Key=f"training-jobs/{job}/output/{name}")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return set(archive.getnames())


def _user_folder(tmp_path: Path, **replaced: str) -> Path:
    """A copy of the example with some files replaced (or removed, for an empty text)."""
    folder = tmp_path / "user_code"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in replaced.items():
        path = folder / name
        if text:
            path.write_text(textwrap.dedent(text))
        else:
            path.unlink()
    return folder


def test_the_example_trains_and_its_model_carries_the_code_that_serves_it(moto_s3, channels, tmp_path, breast_cancer_config):
    # Given the example folder, which has no inference.py of its own
    bundle = user_source_bundle(_user_folder(tmp_path), breast_cancer_config)

    # When its job runs
    run = _run(moto_s3, channels, bundle, tmp_path / "work", "user-1")

    # Then it met the contract, and the model carries the built-in serving code and the example's features module
    assert run.succeeded, run.failure_reason
    assert "script-mode contract met" in run.log
    assert {"model.joblib", "metadata.json", "code/inference.py", "code/features.py", "code/pipeline_config.json"} <= _archive_names(
        moto_s3, "user-1", "model.tar.gz"
    )
    assert "predictions.csv" in _archive_names(moto_s3, "user-1", "output.tar.gz")


def test_a_script_that_writes_no_predictions_fails_the_job_naming_the_file(moto_s3, channels, tmp_path, breast_cancer_config):
    folder = _user_folder(tmp_path)
    source = (folder / "train.py").read_text()
    (folder / "train.py").write_text(source.replace('output.to_csv(output_dir / "predictions.csv", index=False)', "pass"))

    run = _run(moto_s3, channels, user_source_bundle(folder, breast_cancer_config), tmp_path / "work", "user-2")

    assert not run.succeeded
    assert "script-mode contract broken: train.py wrote no predictions.csv to SM_OUTPUT_DATA_DIR" in run.failure_reason


def test_predictions_for_fewer_rows_than_the_test_split_fail_the_job_with_both_counts(moto_s3, channels, tmp_path, breast_cancer_config):
    folder = _user_folder(tmp_path)
    source = (folder / "train.py").read_text()
    (folder / "train.py").write_text(source.replace("output.to_csv(", "output.iloc[:-3].to_csv("))

    run = _run(moto_s3, channels, user_source_bundle(folder, breast_cancer_config), tmp_path / "work", "user-3")

    assert not run.succeeded
    assert f"predictions.csv has {TEST_ROWS - 3} rows for the test split's {TEST_ROWS}" in run.failure_reason


def test_an_inference_py_whose_model_fn_raises_fails_the_job_as_a_model_that_does_not_serve(
    moto_s3, channels, tmp_path, breast_cancer_config
):
    folder = _user_folder(
        tmp_path,
        **{"inference.py": """
            def model_fn(model_dir):
                raise RuntimeError("the scaler file is missing")
        """},
    )

    run = _run(moto_s3, channels, user_source_bundle(folder, breast_cancer_config), tmp_path / "work", "user-4")

    assert not run.succeeded
    assert "the model does not serve: loading it with inference.py failed: RuntimeError: the scaler file is missing" in run.failure_reason


def _folder_needing_a_wheel(tmp_path: Path, requirement: str) -> Path:
    index = tmp_path / "local-index"
    build_wheel(index, "tinyratios", "1.0", "def ratio(a, b):\n    return a / b\n")
    folder = _user_folder(tmp_path)
    source = (folder / "train.py").read_text()
    (folder / "train.py").write_text(
        source.replace("from features import EngineeredFeatures", "from features import EngineeredFeatures\nimport tinyratios")
        .replace("    train = read_split", "    assert tinyratios.ratio(1, 4) == 0.25\n    train = read_split", 1)
    )
    (folder / "requirements.txt").write_text(f"--no-index\n--find-links {index}\n{requirement}\n")
    return folder


def test_requirements_install_from_the_bundled_wheels_into_the_job_alone(
    moto_s3, channels, tmp_path, breast_cancer_config, monkeypatch
):
    # Given a script importing a package that its requirements.txt names
    folder = _folder_needing_a_wheel(tmp_path, "tinyratios==1.0")
    bundle = user_source_bundle(folder, breast_cancer_config)
    with tarfile.open(fileobj=io.BytesIO(bundle)) as archive:
        assert "wheels/tinyratios-1.0-py3-none-any.whl" in archive.getnames()
        requirements = archive.extractfile("requirements.txt").read().decode()
    assert "--no-index" in requirements and "--find-links wheels" in requirements
    assert str(tmp_path / "local-index") not in requirements

    # When its job runs with network isolation
    run = _run(moto_s3, channels, bundle, tmp_path / "work", "user-5")

    # Then the package was importable in the job, and the image's shared environment did not get it
    assert run.succeeded, run.failure_reason
    image_site = next(Path(runtime_env.image_python()).parent.parent.glob("lib/python*/site-packages"))
    assert not list(image_site.glob("tinyratios*"))


def test_a_requirement_the_bundle_cannot_satisfy_fails_as_pip_fails_without_a_network(
    moto_s3, channels, tmp_path, breast_cancer_config
):
    # Given a bundle whose requirements.txt names a package from the index (as if it had been bundled by hand)
    folder = _user_folder(tmp_path)
    (folder / "requirements.txt").write_text("")
    bundle = user_source_bundle(folder, breast_cancer_config)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(fileobj=io.BytesIO(bundle)) as archive:
        archive.extractall(unpacked, filter="data")
    (unpacked / "requirements.txt").write_text("six==1.16.0\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(unpacked.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(unpacked)), recursive=False)

    # When its job runs with network isolation
    run = _run(moto_s3, channels, buffer.getvalue(), tmp_path / "work", "user-6")

    # Then it fails at job start with the toolkit's error and pip's reason
    assert not run.succeeded
    assert run.failure_reason.startswith("AlgorithmError: InstallRequirementsError")
    assert "No matching distribution found for six==1.16.0" in run.failure_reason


def test_an_inference_py_that_fails_the_request_fails_the_job_with_the_status_it_answered(
    moto_s3, channels, tmp_path, breast_cancer_config
):
    folder = _user_folder(
        tmp_path,
        **{"inference.py": """
            import joblib

            def model_fn(model_dir):
                return joblib.load(f"{model_dir}/model.joblib")

            def predict_fn(data, model):
                raise ValueError("expected 31 columns")
        """},
    )

    run = _run(moto_s3, channels, user_source_bundle(folder, breast_cancer_config), tmp_path / "work", "user-7")

    assert not run.succeeded
    assert "the model does not serve: the model answered a request of 50 test rows with 500" in run.failure_reason
