"""Shared test helpers: settings from plain dicts, the real tools the integration tests run, the fixtures paths,
and moto (the AWS stand-in) as fixtures."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.settings import Settings, load_settings
from tests.support import engine_report, moto_aws
from tests.support.suite_timing import (  # noqa: F401 (hooks)
    pytest_collection_finish,
    pytest_runtest_logreport,
    pytest_runtest_makereport,
    pytest_terminal_summary,
)


def pytest_configure(config) -> None:
    # The engine's own output in the summary, from every worker (tests/support/engine_report.py).
    config.pluginmanager.register(engine_report, "neo4j-cluster-engine-report")


# An AWS SDK without credentials asks the cloud metadata address (169.254.169.254): never from a test process.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

ROOT = Path(__file__).resolve().parent.parent

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The recorded (mostly derived) Enterprise responses: see README.md there.
ENTERPRISE = FIXTURES / "enterprise"
# The recorded 4.4 prod cluster's servers (tests/fixtures/enterprise), as --servers names them.
SERVERS_44 = ("core-1:primary=core-1.prod.neo4j.internal:7687,core-2:primary=core-2.prod.neo4j.internal:7687,"
              "core-3:primary=core-3.prod.neo4j.internal:7687,"
              "replica-1:secondary=replica-1.prod.neo4j.internal:7687")

# A cluster with every feature on: the richest artifacts.
BASE = {
    "neo4j:acceptLicense": True,
    "neo4j:coreCount": 3,
    "neo4j:replicaCount": 1,
    "neo4j:coreInstanceType": "r6i.xlarge",
    "neo4j:region": "eu-west-1",
}


def make_settings(stack: str = "test", **overrides) -> Settings:
    """Settings from BASE plus overrides given as camelCase keys: make_settings(coreCount=5)."""
    config = dict(BASE)
    config.update({f"neo4j:{key}": value for key, value in overrides.items()})
    return load_settings(stack, config)


def stack_config(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


# Keys of 5.x and 2025 that 4.4 refuses: differentials, per-database topology, composite databases.
KEYS_NOT_ON_4_4 = ("neo4j:backupDiffSchedule", "neo4j:databases", "neo4j:composites")


def prod_stack_args(tmp_path: Path, config: dict, *extra: str) -> list[str]:
    """Writes `config` (a whole stack file) as tmp_path/Pulumi.prod.yaml; the arguments that make a command use it
    with the CA file a recorded cluster never reads (tmp_path/ca.crt), quietly."""
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "ca.crt").write_text("recorded: not read\n")
    return ["--stack", "prod", "--stack-file", str(path), *extra, "--ca-cert", str(tmp_path / "ca.crt"), "--quiet"]


def recorded_writes(recorded) -> list[str]:
    """The Cypher a run sent as writes to a RecordedTransport, which answered every statement it was asked."""
    assert recorded.missing == []
    return [c.cypher for c in recorded.calls if c.write]


def stack_config_on(stack: str, version: str) -> dict:
    """A stack file's config moved to another Neo4j version, as a user would move it: on 4.4 without the keys of
    5.x and 2025, and each plugin under the line's own key (4.4's APOC Core is apoc-core)."""
    from components.plugins import APOC_CORE, APOC_KEY
    from scripts.neo4j_ops.shared.versions import line_of

    config = {**stack_config(stack), "neo4j:version": version}
    line = line_of(version).name
    if line == "4.4":
        config = {key: value for key, value in config.items() if key not in KEYS_NOT_ON_4_4}
    if "neo4j:plugins" in config:
        config["neo4j:plugins"] = [APOC_KEY[line] if key == APOC_CORE else key for key in config["neo4j:plugins"]]
    return config


def require_tool(name: str) -> str:
    """Path of a real tool; `make test` installs it (scripts/install-tools.sh), so missing is a failure."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make tools` (scripts/install-tools.sh installs it)")
    return path


@pytest.fixture
def ca(tmp_path) -> Path:
    """The --ca-cert file of a replayed run: it must exist, but recorded runs (RecordedTransport) never open it."""
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n(recorded runs never open it)\n-----END CERTIFICATE-----\n")
    return path


# --- AWS: moto (tests/support/moto_aws.py) -------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch) -> None:
    """Dummy credentials, region us-east-1, no metadata lookups, no endpoint or profile of this machine."""
    moto_aws.use_test_env(monkeypatch)


@pytest.fixture
def mocked_aws(monkeypatch) -> Iterator[None]:
    """moto's in-process AWS for the test (in `aws_env`'s environment): every boto3 client talks to it."""
    with moto_aws.mocked_aws(monkeypatch):
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The endpoint URL of moto's server on 127.0.0.1, one per session (each test makes its own buckets)."""
    with moto_aws.moto_server() as endpoint:
        yield endpoint


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` (make test's integration run) queues the longest modules first and keeps the boot
    rehearsal's modules on one worker (tests/support/xdist_schedule.py); other modes keep xdist's own."""
    if config.getvalue("dist") == "loadscope":
        from tests.support.xdist_schedule import LongestModulesFirst

        return LongestModulesFirst(config, log)
    return None
