"""Stand-ins the backup tests share (no Enterprise server here): the server's answers given from a recorded
(derived, see tests/fixtures/enterprise/README.md) 5.26 cluster, the stand-in neo4j-admin (FAKE_ADMIN), the stack's
bucket (BUCKET), an S3 client that refuses some calls, and `run`, a backup on its local chain with the stand-ins
(`manifest_of` reads what it wrote). Their fixtures, `s3` (moto's S3 with BUCKET) and `admin` (the stand-in
neo4j-admin), are in tests/unit/conftest.py."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from scripts.neo4j_ops.backup.admin import AdminTool
from scripts.neo4j_ops.facts import Counts, ServerFacts, ServerSpec
from tests.conftest import ENTERPRISE

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
FAKE_ADMIN = ENTERPRISE / "fake_neo4j_admin.py"  # stand-in: plays neo4j-admin's backup, aggregate and check (5.x)
BUCKET = "backups"


def recorded_show_databases(scenario: str, endpoint: str = "core-1") -> list[dict]:
    """SHOW DATABASES YIELD * rows of a recorded (derived) scenario."""
    document = json.loads((ENTERPRISE / f"{scenario}.json").read_text())
    return document["endpoints"][endpoint]["responses"]["show_databases"]["records"]


FACTS = ServerFacts(ServerSpec("local", "bolt://x:7687"), version="5.26.30", edition="enterprise",
                    servers=[{"name": f"server-{n}"} for n in (1, 2, 3)], counts=Counts(50, 40),
                    databases=recorded_show_databases("cluster-5.26-healthy"))


class GivenNeo4j:
    """Stand-in for the local server, as far as a backup asks it: the answers are given (FACTS)."""
    uri = "bolt://x:7687"

    def facts(self, database: str) -> ServerFacts:
        return FACTS

    def port_open(self) -> bool:
        return True


class Refusing:
    """An S3 client that refuses some calls with AccessDenied (a role that may read but not write)."""

    def __init__(self, real, refuse):
        self.real, self.refuse = real, refuse

    def __getattr__(self, name):
        from botocore.exceptions import ClientError

        method = getattr(self.real, name)

        def call(*args, **kwargs):
            if self.refuse(name, kwargs):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, name)
            return method(*args, **kwargs)
        return call


def s3_client_of_iam_user(iam, name: str, policy: str):
    """An S3 client as a new IAM user of moto's holding only `policy` (a role's, to test what it may do):
    moto checks every request against it once authorization is on (set_initial_no_auth_action_count)."""
    import boto3

    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"])


def run(admin: AdminTool, staging: Path, when: datetime, **extra) -> dict:
    """A 5.26 run on its local chain (--via-staging): these tests are about the chain, and S3 is moto inside this
    process, which the stand-in (a process of its own) cannot reach for 5.26's default backup straight to S3;
    that one is tested against moto's server in test_backup_chains.py."""
    from scripts.neo4j_ops.backup import make_backup

    options = make_backup.BackupOptions(
        bucket="backups", stack="prod", database="neo4j", neo4j=GivenNeo4j(),
        admin=admin, region="us-east-1", source="replica-2.prod.neo4j.internal:6362", staging=staging,
        local_retention_days=30, full_every_days=7, log=lambda _: None, now=lambda: when,
        **{"via_staging": True, **extra})
    return make_backup.run_backup(options)


def manifest_of(s3, stamp: str) -> dict:
    """The manifest.json of prod's neo4j backup `stamp` in the stack's bucket (BUCKET)."""
    return json.loads(s3.get_object(Bucket="backups", Key=f"prod/neo4j/{stamp}/manifest.json")["Body"].read())
