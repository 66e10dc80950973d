"""training.source_dir at synthesis: the folder is checked with a clear message, its
requirements are resolved into wheels for the image once per requirements file, and the source
bundle carries the user's code, the contract runner and the wheels."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from functions.common.config import ConfigError, PipelineConfig, load_config
from infra import training_source
from infra.assets import REPOSITORY_ROOT, build_training_bundle
from infra.training_source import image_wheel_target, requirement_lines, resolve_source_dir
from tests.support.wheels import build_wheel

WHERE = "training.source_dir 'code'"


@pytest.fixture
def breast_cancer_config() -> PipelineConfig:
    return load_config(REPOSITORY_ROOT / "pipeline.json")


def _config(breast_cancer_config: PipelineConfig, tmp_path: Path, source_dir: str | None) -> tuple[PipelineConfig, Path]:
    document = breast_cancer_config.model_dump(mode="json", exclude_none=True)
    document["training"]["source_dir"] = source_dir
    if source_dir is not None:
        # The user's code takes hyperparameters of its own.
        document["training"]["hyperparameters"] = {"estimator": "my_own_forest", "depth": 3}
    path = tmp_path / "configs" / "pipeline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return PipelineConfig.model_validate(document), path


def _folder(root: Path, **files: str) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_folder_resolves_relative_to_the_config_file_not_the_working_directory(breast_cancer_config, tmp_path, monkeypatch):
    # Given a config in configs/ naming code/ beside it, and the working directory above it
    _folder(tmp_path / "configs" / "code", **{"train.py": "print('hi')\n"})
    config, path = _config(breast_cancer_config, tmp_path, "code")
    monkeypatch.chdir(tmp_path)

    source = resolve_source_dir(config, path)

    assert source is not None and source.folder == (tmp_path / "configs" / "code").resolve()


def test_without_source_dir_the_built_in_trainer_runs_and_its_estimators_are_checked(breast_cancer_config, tmp_path):
    config, path = _config(breast_cancer_config, tmp_path, None)
    assert resolve_source_dir(config, path) is None
    document = breast_cancer_config.model_dump(mode="json", exclude_none=True)
    document["training"]["hyperparameters"] = {"estimator": "my_own_forest"}
    with pytest.raises(ValueError, match="my_own_forest"):
        PipelineConfig.model_validate(document)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "does not exist"),
        ({"inference.py": ""}, "holds no train.py, the entry point of the training job"),
        ({"train.py": "", "setup.py": ""}, "holds a setup.py"),
        ({"train.py": "", "script_contract.py": ""}, "holds script_contract.py, a name the source bundle gives"),
        ({"train.py": "", "requirements.txt": "-e .\n"}, r"requirements.txt line 1 \('-e \.'\): the option -e is not supported"),
        ({"train.py": "", "requirements.txt": "# pinned\nfoo @ https://example.com/foo.whl\n"}, "line 2 .*a URL"),
        ({"train.py": "", "requirements.txt": "git+https://github.com/a/b\n"}, "a URL"),
    ],
)
def test_a_folder_the_job_could_not_run_is_a_config_error_naming_it(breast_cancer_config, tmp_path, files, message):
    if files is not None:
        _folder(tmp_path / "configs" / "code", **files)
    config, path = _config(breast_cancer_config, tmp_path, "code")

    with pytest.raises(ConfigError, match=message) as raised:
        resolve_source_dir(config, path)

    assert str(raised.value).startswith(WHERE)
    assert str(tmp_path / "configs" / "code") in str(raised.value)


def test_requirement_lines_keep_the_specifiers_and_drop_where_to_download_from():
    text = "--index-url https://pypi.example/simple\n-f ./wheels-here  # local\nscikit-learn>=1.4 ; python_version >= '3.9'\n\\\nnumpy==2.1.0\n"
    assert requirement_lines(text, WHERE) == ["scikit-learn>=1.4 ; python_version >= '3.9'", "numpy==2.1.0"]


def test_the_wheel_target_is_the_image_python_on_manylinux_x86_64():
    target = image_wheel_target()
    assert target.python_version == "3.10" and target.implementation == "cp"
    assert "manylinux2014_x86_64" in target.platforms and "manylinux_2_39_x86_64" in target.platforms


def test_the_xgboost_images_wheel_target_stops_at_its_older_glibc():
    # The XGBoost image is built on Ubuntu 20.04 (glibc 2.31): a manylinux_2_35 wheel would not load there.
    target = image_wheel_target("xgboost")
    assert target.python_version == "3.10"
    assert "manylinux_2_31_x86_64" in target.platforms and "manylinux_2_32_x86_64" not in target.platforms


def test_wheels_are_downloaded_once_per_requirements_file(breast_cancer_config, tmp_path, monkeypatch):
    # Given a requirement that a local folder of wheels satisfies (no network)
    index = tmp_path / "index"
    build_wheel(index, "tinyratios", "1.0", "")
    _folder(tmp_path / "configs" / "code", **{"train.py": "", "requirements.txt": f"--no-index\n--find-links {index}\ntinyratios\n"})
    config, path = _config(breast_cancer_config, tmp_path, "code")
    source = resolve_source_dir(config, path)
    cache = tmp_path / "cache"

    # When the bundle is built twice, pip being unavailable the second time
    first = training_source.resolved_wheels(source, image_wheel_target(), cache)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again")

    monkeypatch.setattr(training_source.subprocess, "run", no_pip)
    second = training_source.resolved_wheels(source, image_wheel_target(), cache)

    # Then the second used the cached download
    assert [wheel.name for wheel in first] == ["tinyratios-1.0-py3-none-any.whl"] and second == first


def test_a_requirement_pip_cannot_resolve_is_a_config_error_with_pip_s_reason(breast_cancer_config, tmp_path):
    _folder(tmp_path / "configs" / "code", **{"train.py": "", "requirements.txt": f"--no-index\n--find-links {tmp_path}\nnot-a-package-here\n"})
    config, path = _config(breast_cancer_config, tmp_path, "code")

    with pytest.raises(ConfigError, match="cannot be resolved into wheels for Python 3.10 .*not-a-package-here"):
        training_source.resolved_wheels(resolve_source_dir(config, path), image_wheel_target(), tmp_path / "cache")


def test_the_bundle_holds_the_user_code_the_runner_the_built_in_serving_code_and_the_config(breast_cancer_config, tmp_path):
    _folder(
        tmp_path / "configs" / "code",
        **{"train.py": "import helpers\n", "helpers/__init__.py": "", "__pycache__/x.pyc": "", ".git/HEAD": "", "notes.txt": "n"},
    )
    config, path = _config(breast_cancer_config, tmp_path, "code")

    bundle = build_training_bundle(path, tmp_path / "bundle.tar.gz", REPOSITORY_ROOT, resolve_source_dir(config, path))

    with tarfile.open(bundle) as archive:
        names = set(archive.getnames())
        assert archive.extractfile("inference.py").read() == (REPOSITORY_ROOT / "functions/training/inference.py").read_bytes()
        assert archive.extractfile("pipeline_config.json").read() == path.read_bytes()
    assert names == {"train.py", "helpers/__init__.py", "notes.txt", "inference.py", "script_contract.py", "pipeline_config.json"}


def test_the_bundle_is_the_same_bytes_for_the_same_folder(breast_cancer_config, tmp_path):
    _folder(tmp_path / "configs" / "code", **{"train.py": "x = 1\n", "inference.py": "def model_fn(d): ...\n"})
    config, path = _config(breast_cancer_config, tmp_path, "code")
    source = resolve_source_dir(config, path)

    first = build_training_bundle(path, tmp_path / "a.tar.gz", REPOSITORY_ROOT, source).read_bytes()
    second = build_training_bundle(path, tmp_path / "b.tar.gz", REPOSITORY_ROOT, source).read_bytes()
    (tmp_path / "configs" / "code" / "train.py").write_text("x = 2\n")
    changed = build_training_bundle(path, tmp_path / "c.tar.gz", REPOSITORY_ROOT, source).read_bytes()

    assert first == second and changed != first
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        assert archive.extractfile("inference.py").read() == b"def model_fn(d): ...\n"
