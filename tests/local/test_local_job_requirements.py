"""A job's requirements.txt installed as the image's pip would install it, into an overlay of the
job's own: what the image already has stays the image's, and the overlay is built once."""

from __future__ import annotations

import subprocess

import pytest

from mlops.local import job_requirements
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.usefixtures("image_runtime")


def _code_dir(tmp_path, requirements: str):
    code = tmp_path / "code"
    build_wheel(code / "wheels", "tinyratios", "1.0", "def ratio(a, b):\n    return a / b\n")
    (code / "requirements.txt").write_text(requirements)
    return code


def test_only_what_the_image_lacks_is_installed_and_only_once(tmp_path, monkeypatch):
    # Given requirements naming a bundled package and one the image already has (no wheel bundled for it)
    code = _code_dir(tmp_path, "--no-index\n--find-links wheels\ntinyratios==1.0\nnumpy>=1.20\n")

    # When the overlay is built, and asked for again with pip unavailable
    overlay = job_requirements.install_overlay(code, network_isolation=True, cache_root=tmp_path / "cache")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again")

    monkeypatch.setattr(subprocess, "run", no_pip)
    again = job_requirements.install_overlay(code, network_isolation=True, cache_root=tmp_path / "cache")

    # Then it holds the bundled package and not the image's numpy, and the second call reused it
    assert overlay is not None and again == overlay
    assert (overlay / "tinyratios" / "__init__.py").is_file()
    assert not list(overlay.glob("numpy*"))


def test_requirements_the_image_already_meets_need_no_overlay(tmp_path):
    code = _code_dir(tmp_path, "--no-index\nscikit-learn\n")

    assert job_requirements.install_overlay(code, network_isolation=True, cache_root=tmp_path / "cache") is None


def test_under_isolation_a_requirement_from_an_index_fails_with_pip_s_error(tmp_path):
    # Given a requirements file that would fetch from the index
    code = _code_dir(tmp_path, "tinyratios==1.0\n")

    # Then under network isolation pip finds no index, as in the job
    with pytest.raises(job_requirements.RequirementsInstallError, match="No matching distribution found for tinyratios==1.0"):
        job_requirements.install_overlay(code, network_isolation=True, cache_root=tmp_path / "cache")


def test_an_isolated_job_s_pip_has_every_proxy_at_a_closed_port(monkeypatch):
    # Given a machine whose pip could reach an index directly or through its proxy
    monkeypatch.setenv("NO_PROXY", "pypi.org")
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")

    isolated = job_requirements.pip_environment(network_isolation=True)
    connected = job_requirements.pip_environment(network_isolation=False)

    assert all(isolated[name] == job_requirements.UNREACHABLE_PROXY for name in job_requirements.PROXY_VARIABLES)
    assert "NO_PROXY" not in isolated and "no_proxy" not in isolated
    assert connected["https_proxy"] == "http://proxy.example:3128"
