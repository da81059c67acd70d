"""Fixtures shared by several unit test modules (a module takes one by name or with
`pytestmark = pytest.mark.usefixtures(...)`; no test module imports a fixture from another). Each imports its
helpers when it runs, so loading this file imports nothing of scripts/ for the tests that take none."""
from __future__ import annotations

import sys

import pytest

from tests.support.plans import AWS_STACKS  # the stack names only (it imports components/, never scripts/)


@pytest.fixture
def rollout_env(monkeypatch):
    """What a rollout run against the stand-ins of tests/support/rollout_fakes.py needs: the admin password
    (NEO4J_PASSWORD), no job users' passwords, and gate rounds that barely pause between polls."""
    from tests.support.rollout_fakes import ADMIN

    monkeypatch.setenv("NEO4J_PASSWORD", ADMIN)
    monkeypatch.delenv("NEO4J_USER_PASSWORDS", raising=False)
    # Gate rounds pause between polls: barely, in unit tests.
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.01)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.01)


@pytest.fixture
def restore_s3(mocked_aws):
    """moto's in-process S3 (a stand-in for the backup bucket) with the bucket of the recorded cluster restores
    (tests/support/cluster_restore_replay.py's BUCKET)."""
    from scripts.neo4j_ops.backup.s3 import client
    from tests.support.cluster_restore_replay import BUCKET

    s3 = client(None, "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def s3(mocked_aws):
    """moto's in-process S3 (a stand-in for the backup bucket) with the stack's backup bucket
    (tests/support/backup_standins.py's BUCKET): the backup tests' default; a module whose tests need another bucket
    defines its own `s3`."""
    from scripts.neo4j_ops.backup.s3 import client
    from tests.support.backup_standins import BUCKET

    s3 = client(None, "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def admin(tmp_path):
    """The stand-in neo4j-admin (tests/fixtures/enterprise/fake_neo4j_admin.py), its flags (what it was asked to
    fail) in a folder of the test's own."""
    from scripts.neo4j_ops.backup.admin import AdminTool
    from tests.support.backup_standins import FAKE_ADMIN

    flags = tmp_path / "flags"
    flags.mkdir()
    return AdminTool([sys.executable, str(FAKE_ADMIN)], extra_env={"FAKE_NEO4J_FLAGS": str(flags)})


@pytest.fixture(scope="module", params=AWS_STACKS)
def aws_stack_plan(request, tmp_path_factory):
    """(settings, plan document) of each AWS stack file of the repo (tests/support/plans.py AWS_STACKS), planned
    once per module that takes it."""
    from tests.support.plans import plan_stack_file

    plan = plan_stack_file(request.param, tmp_path_factory)
    return plan.settings, plan.document
