"""The backup host's own credentials against a backup bucket built as the prod plan says, in moto's S3 with IAM
enforced: it can write new backups, but it cannot overwrite, re-tag into expiry or delete an existing one.

The bucket gets the plan's Object Lock default retention; an IAM user gets core-1's role policy from plan.json
(the mocks' ARNs replaced by the bucket's). moto enforces identity policies on S3 (Allow, explicit Deny, Resource)
and refuses to delete a version under a COMPLIANCE lock, also for a principal allowed s3:*. What moto does not
model (a COMPLIANCE retention that cannot be shortened; PutObjectRetention and PutObjectLegalHold as actions of
their own) is asserted on the plan in tests/unit/test_backup_lifecycle.py.
"""
from __future__ import annotations

import json

import pytest

from tests.conftest import stack_config
from tests.support.backup_standins import s3_client_of_iam_user
from tests.support.plans import make_plan

BUCKET = "prod-backups-under-test"
MOCK_ARN = "arn:aws:mock:::cluster-backups"
KEY = "prod/neo4j/20260601T020000Z/neo4j.backup"
BACKUP = b"the real backup"


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return make_plan("prod", "prod", stack_config("prod"), tmp_path_factory.mktemp("lock-prod") / "out")


def _inputs(plan, resource_type: str, name: str) -> dict:
    (inputs,) = [r["inputs"] for r in plan.resources if r["type"] == resource_type and r["name"] == name]
    return inputs


def _backup_host_policy(plan) -> str:
    server = plan.topology.backup_server.name
    policy = _inputs(plan, "aws:iam/rolePolicy:RolePolicy", f"cluster-{server}-access")["policy"]
    # Only the primary bucket exists here: the replica's ARN stays a name moto never matches.
    return (policy.replace(f"{MOCK_ARN}/", f"arn:aws:s3:::{BUCKET}/")
            .replace(f'"{MOCK_ARN}"', f'"arn:aws:s3:::{BUCKET}"'))


def test_the_backup_hosts_credentials_cannot_overwrite_retag_or_delete_a_backup(prod, mocked_aws):
    import boto3
    from botocore.exceptions import ClientError
    from moto.core import set_initial_no_auth_action_count

    lock = _inputs(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "cluster-backups")
    retention = lock["rule"]["defaultRetention"]
    assert _inputs(prod, "aws:s3/bucket:Bucket", "cluster-backups")["objectLockEnabled"] is True

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": lock["objectLockEnabled"],
        "Rule": {"DefaultRetention": {"Mode": retention["mode"], "Days": int(retention["days"])}}})
    iam = boto3.client("iam", region_name="us-east-1")
    host = s3_client_of_iam_user(iam, "backup-host", _backup_host_policy(prod))
    admin = s3_client_of_iam_user(iam, "account-admin", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))

    @set_initial_no_auth_action_count(0)  # from here on, every request is checked against IAM
    def attack() -> None:
        def refused(call, **kwargs) -> str:
            with pytest.raises(ClientError) as caught:
                call(Bucket=BUCKET, **kwargs)
            return caught.value.response["Error"]["Code"]

        original = host.put_object(Bucket=BUCKET, Key=KEY, Body=BACKUP)["VersionId"]  # the job's own write
        locked = admin.head_object(Bucket=BUCKET, Key=KEY, VersionId=original)
        assert locked["ObjectLockMode"] == "COMPLIANCE"
        # Re-tag into expiry, delete (the current object and the version), all refused by the role's Deny.
        assert refused(host.put_object_tagging, Key=KEY,
                       Tagging={"TagSet": [{"Key": "expirable", "Value": "true"}]}) == "AccessDenied"
        assert refused(host.delete_object, Key=KEY) == "AccessDenied"
        assert refused(host.delete_object, Key=KEY, VersionId=original) == "AccessDenied"
        # Overwrite: PutObject is what the job needs, so it "succeeds", as a new version over the locked one.
        junk = host.put_object(Bucket=BUCKET, Key=KEY, Body=b"junk")["VersionId"]
        assert junk != original
        # The locked version is still there (an operator reads it by version: the host may not, s3:GetObjectVersion).
        assert admin.get_object(Bucket=BUCKET, Key=KEY, VersionId=original)["Body"].read() == BACKUP
        # Not even a principal allowed s3:* deletes the locked version (COMPLIANCE).
        assert refused(admin.delete_object, Key=KEY, VersionId=original) == "AccessDenied"
        assert admin.get_object(Bucket=BUCKET, Key=KEY, VersionId=original)["Body"].read() == BACKUP
        # The refusals above are the role's Deny, not moto refusing everything: a principal allowed s3:* may tag.
        admin.put_object_tagging(Bucket=BUCKET, Key=KEY, VersionId=original,
                                 Tagging={"TagSet": [{"Key": "expirable", "Value": "true"}]})
        versions = admin.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]
        assert {v["VersionId"] for v in versions} == {original, junk}

    attack()
