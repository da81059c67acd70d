"""The prod plan's SSE-KMS on the backup bucket, in moto's S3 and KMS with IAM enforced: the backup host's
credentials (core-1's role policy from plan.json, on an IAM user) upload a backup that names no encryption, and S3
stores it under the stack's KMS key with an S3 Bucket Key; a secondary's credentials (read-only) cannot upload.

What moto does NOT evaluate, so what is checked on the plan only (test_aws_kms_keys.py,
test_aws_offsite_account.py): KMS key policies (moto lets any principal use any key), the Condition of an IAM
statement (kms:ViaService, kms:EncryptionContext:…; moto skips a conditioned statement), and bucket policies (the
Deny of an upload naming another key or SSE-S3). The kms statements of the role are therefore inert here.
"""
from __future__ import annotations

import pytest

from tests.conftest import stack_config
from tests.support.backup_standins import s3_client_of_iam_user
from tests.support.plans import make_plan

BUCKET = "prod-backups-kms-under-test"
MOCK = "arn:aws:mock:::"
KEY = "prod/neo4j/20260601T020000Z/neo4j.backup"


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return make_plan("prod", "prod", stack_config("prod"), tmp_path_factory.mktemp("kms-moto-prod") / "out")


def _inputs(plan, resource_type: str, name: str) -> dict:
    (inputs,) = [r["inputs"] for r in plan.resources if r["type"] == resource_type and r["name"] == name]
    return inputs


def _role_policy(plan, machine: str, key_arn: str) -> str:
    policy = _inputs(plan, "aws:iam/rolePolicy:RolePolicy", f"cluster-{machine}-access")["policy"]
    # The mocks' ARNs become the real bucket's and key's; the replica bucket stays a name moto never matches.
    return (policy.replace(f'"{MOCK}cluster-backups-key"', f'"{key_arn}"')
            .replace(f"{MOCK}cluster-backups/", f"arn:aws:s3:::{BUCKET}/")
            .replace(f'"{MOCK}cluster-backups"', f'"arn:aws:s3:::{BUCKET}"'))


def test_a_backup_uploaded_without_naming_a_key_is_stored_under_the_stacks_key(prod, mocked_aws):
    import boto3
    from botocore.exceptions import ClientError
    from moto.core import set_initial_no_auth_action_count

    (rule,) = _inputs(prod, "aws:s3/bucketServerSideEncryptionConfiguration:"
                            "BucketServerSideEncryptionConfiguration", "cluster-backups")["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == f"{MOCK}cluster-backups-key"
    key_inputs = _inputs(prod, "aws:kms/key:Key", "cluster-backups-key")

    kms = boto3.client("kms", region_name="us-east-1")
    key_arn = kms.create_key(Description=key_inputs["description"])["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"], "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": rule["bucketKeyEnabled"]}]})
    iam = boto3.client("iam", region_name="us-east-1")
    host_name = prod.topology.backup_server.name
    host = s3_client_of_iam_user(iam, "backup-host", _role_policy(prod, host_name, key_arn))
    secondary = prod.topology.secondaries[0].name
    reader = s3_client_of_iam_user(iam, "secondary", _role_policy(prod, secondary, key_arn))

    @set_initial_no_auth_action_count(0)  # from here on, every request is checked against IAM
    def upload() -> None:
        host.put_object(Bucket=BUCKET, Key=KEY, Body=b"the real backup")  # as the job does: no SSE header
        stored = host.head_object(Bucket=BUCKET, Key=KEY)
        assert stored["ServerSideEncryption"] == "aws:kms"
        assert stored["SSEKMSKeyId"] == key_arn
        assert stored["BucketKeyEnabled"] is True
        assert host.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"the real backup"
        # A secondary restores from the bucket (reads) but writes nothing there.
        assert reader.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"the real backup"
        with pytest.raises(ClientError) as refused:
            reader.put_object(Bucket=BUCKET, Key=f"{KEY}.junk", Body=b"junk")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"

    upload()
