"""boto3 clients are made once per execution environment and per region and credentials."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from functions.common.aws_clients import DEFAULT_CLIENT_CONFIG, aws_client, clear_clients


@pytest.fixture
def made(monkeypatch) -> list[tuple[str, Config]]:
    """Every client boto3 makes, as (service, config)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    calls: list[tuple[str, Config]] = []
    make_client = boto3.client

    def recording_client(service_name, *args, config=None, **kwargs):
        calls.append((service_name, config))
        return make_client(service_name, *args, config=config, **kwargs)

    monkeypatch.setattr(boto3, "client", recording_client)
    return calls


def test_a_client_is_made_at_its_first_use_and_reused_after(made):
    first = aws_client("s3")
    second = aws_client("s3")

    assert second is first
    assert made == [("s3", DEFAULT_CLIENT_CONFIG)]


def test_each_service_and_config_has_its_own_client(made):
    slow_reads = Config(read_timeout=70)

    clients = {id(aws_client("s3")), id(aws_client("sagemaker")), id(aws_client("s3", slow_reads))}

    assert len(clients) == 3
    assert made == [("s3", DEFAULT_CLIENT_CONFIG), ("sagemaker", DEFAULT_CLIENT_CONFIG), ("s3", slow_reads)]


def test_a_client_is_not_reused_in_another_region(made, monkeypatch):
    east = aws_client("s3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    west = aws_client("s3")

    assert west is not east
    assert (east.meta.region_name, west.meta.region_name) == ("us-east-1", "eu-west-1")


def test_a_client_is_not_reused_with_other_credentials(made, monkeypatch):
    first = aws_client("s3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "another-principal")

    assert aws_client("s3") is not first


def test_clearing_makes_the_next_use_a_cold_start(made):
    first = aws_client("s3")
    clear_clients()

    assert aws_client("s3") is not first
    assert len(made) == 2
