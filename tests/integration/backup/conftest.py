"""Fixtures of the backup/restore tests: moto's S3 server and a real Neo4j Community server configured by
our templates (tests/support/neo4j_local.py), both on 127.0.0.1, and the commands backup.py/restore.py
are given to run neo4j-admin and to stop/start Neo4j (see support.py). The server is 5.26 unless a
module asks for another line (`controlled_server`)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.moto_aws import TEST_ENV
from tests.support.neo4j_dist import NEO4J_VERSION
from tests.support.neo4j_local import prepare

from .support import PASSWORD, ControlledServer, write_neo4j_commands

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts"
CREDENTIALS = TEST_ENV  # dummy credentials, region us-east-1, no metadata lookups


# --- S3 ----------------------------------------------------------------------------------------------


@dataclass
class MotoS3:
    endpoint: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def moto_s3(moto_endpoint) -> MotoS3:
    return MotoS3(moto_endpoint)


@pytest.fixture
def bucket(moto_s3) -> str:
    name = f"backups-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=name)
    return name


def keys(moto_s3: MotoS3, bucket: str) -> list[str]:
    listing = moto_s3.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


# --- neo4j-admin and the drill's server, as commands ----------------------------------------------------


@pytest.fixture(scope="session")
def neo4j_commands(tmp_path_factory) -> dict[str, Path]:
    return write_neo4j_commands(tmp_path_factory.mktemp("neo4j-bin"))


# --- the production stand-in: one server per module, stopped/started by command -----------------------


@contextlib.contextmanager
def controlled_server(base: Path, version: str = NEO4J_VERSION) -> Iterator[ControlledServer]:
    """A running server of `version` with our rendered conf in base/, stopped and started by command."""
    controlled = ControlledServer(prepare(base, password=PASSWORD, version=version))
    try:
        controlled.ensure_running()
        yield controlled
    finally:
        controlled.close()


@pytest.fixture(scope="module")
def neo4j(tmp_path_factory):
    with controlled_server(tmp_path_factory.mktemp("neo4j-prod")) as controlled:
        yield controlled


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEO4J_"))}
    env.update(CREDENTIALS, NEO4J_PASSWORD=PASSWORD, AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def common_args(moto_s3: MotoS3, bucket: str, neo4j: ControlledServer, commands: dict[str, Path],
                stack: str = "test") -> list[str]:
    return ["--bucket", bucket, "--stack", stack, "--endpoint-url", moto_s3.endpoint, "--region", "us-east-1",
            "--neo4j-home", str(neo4j.home), "--neo4j-admin", str(commands["admin"]), "--uri", neo4j.uri,
            "--stop-command", neo4j.command("stop"), "--start-command", neo4j.command("start")]


def run_script(name: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 600):
    """Run scripts/<name>.py as a process; returns CompletedProcess (text)."""
    return subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *args], env=env or script_env(),
                          capture_output=True, text=True, timeout=timeout)
