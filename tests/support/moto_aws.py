"""moto, the tests' stand-in for AWS, in its two forms: in process (`mocked_aws`: every boto3 client of the test
process talks to it) and as a threaded HTTP server on 127.0.0.1 (`moto_server`: for code given an endpoint URL,
and for processes the test starts). tests/conftest.py makes them the fixtures `mocked_aws` and `moto_endpoint`.

Either way the AWS SDK gets dummy credentials, a region and AWS_EC2_METADATA_DISABLED=true (`TEST_ENV`): an SDK
without credentials would ask the cloud metadata address, which a test must never reach. Endpoints and profiles
of the machine running the tests are cleared (`ELSEWHERE`), so nothing is sent anywhere but moto.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.support.neo4j_dist import free_port

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
TEST_ENV = {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
ELSEWHERE = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN")


def use_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's environment: TEST_ENV set, ELSEWHERE unset (undone when the test ends)."""
    for key in ELSEWHERE:
        monkeypatch.delenv(key, raising=False)
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)


@contextlib.contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS, in the test environment (`use_test_env`); its data is gone when the block ends."""
    from moto import mock_aws

    use_test_env(monkeypatch)
    with mock_aws():
        yield


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a thread on 127.0.0.1, a free port: yields its endpoint URL; stopped when the block ends.
    Its clients bring their own credentials (`CREDENTIALS`, or the environment of `use_test_env`)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
