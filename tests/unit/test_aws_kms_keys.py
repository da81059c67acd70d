"""Customer-managed KMS keys on the prod plan (issue 26, item 5): the backup buckets use SSE-KMS under keys of
their own (the replica's in its own region), the secrets under a third key; each key's policy lets the account
administer it and names exactly the roles that use it, narrowed to one service and to this stack's buckets or
secrets; the roles carry the same narrowing.

Checked on the plan only: moto evaluates neither KMS key policies nor IAM conditions (kms:ViaService, encryption
context) nor bucket policies. What moto does show (an upload with the plan's bucket encryption is stored under the
stack's key) is in test_backup_kms_moto.py.

The documentation each condition relies on:
- KMS Developer Guide, "kms:ViaService": "The kms:ViaService condition key limits use of an AWS KMS key to
  requests from specified AWS services."
- S3 User Guide, "Replicating encrypted objects": "When an S3 bucket key is enabled for the source and destination
  bucket, the encryption context will be the bucket ARN and not the object ARN" (kms:EncryptionContext:aws:s3:arn).
- Secrets Manager User Guide, "Secret encryption and decryption": Secrets Manager passes the secret's ARN as the
  encryption context pair SecretARN (kms:EncryptionContext:SecretARN).
"""
from __future__ import annotations

import json

import pytest

from components.aws.keys import KEY_ADMIN_ACTIONS, KEY_DELETION_WINDOW_DAYS
from tests.conftest import stack_config
from tests.support.plans import make_plan

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "aws:secretsmanager/secret:Secret"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
MOCK = "arn:aws:mock:::"  # the recording mocks' ARN of a resource: this prefix and its name
USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt*", "kms:GenerateDataKey*"}


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return make_plan("prod", "prod", stack_config("prod"), tmp_path_factory.mktemp("kms-prod") / "out")


def _statements(policy_text: str) -> list[dict]:
    return json.loads(policy_text)["Statement"]


def _key_policy(plan, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in _statements(plan.of_type(KEY_POLICY)[name]["policy"])}


def _role_statements(plan) -> dict[str, dict[str, dict]]:
    """Role ARN (as the mocks make it) → its access policy's statements by Sid."""
    return {f"{MOCK}{name.removesuffix('-access')}-role": {s["Sid"]: s for s in _statements(inputs["policy"])}
            for name, inputs in plan.of_type(ROLE_POLICY).items() if name.endswith("-access")}


def test_three_keys_rotate_and_wait_the_longest_window_before_deletion(prod):
    keys = prod.of_type(KEY)
    assert set(keys) == {"cluster-backups-key", "cluster-secrets-key", "cluster-replica-key"}
    for inputs in keys.values():
        assert inputs["enableKeyRotation"] is True
        assert inputs["deletionWindowInDays"] == KEY_DELETION_WINDOW_DAYS == 30
    # The replica's key lives in the replica's region (KMS keys are regional; S3 wants one in the bucket's region).
    assert keys["cluster-replica-key"]["region"] == prod.settings.backup_replica_region
    assert "region" not in keys["cluster-backups-key"]


def test_each_backup_bucket_is_sse_kms_with_a_bucket_key_under_its_own_key(prod):
    sse = prod.of_type(SSE)
    expected = {"cluster-backups": f"{MOCK}cluster-backups-key",
                "cluster-backups-replica": f"{MOCK}cluster-replica-key"}
    assert set(sse) == set(expected)
    for bucket, key in expected.items():
        (rule,) = sse[bucket]["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}
        assert rule["bucketKeyEnabled"] is True


def test_each_bucket_policy_refuses_uploads_under_another_encryption_or_key(prod):
    buckets = {"cluster-backups": "cluster-backups-key", "cluster-backups-replica": "cluster-replica-key"}
    for bucket, key in buckets.items():
        statements = {s["Sid"]: s for s in _statements(prod.of_type(BUCKET_POLICY)[bucket]["policy"])}
        other_key = statements["DenyUploadsUnderAnotherKey"]
        assert (other_key["Effect"], other_key["Action"]) == ("Deny", "s3:PutObject")
        assert other_key["Resource"] == f"{MOCK}{bucket}/*"
        assert other_key["Condition"] == {"StringNotEqualsIfExists": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": f"{MOCK}{key}"}}
        assert statements["DenyUploadsUnderAnotherEncryption"]["Condition"] == {
            "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
        assert statements["DenyUploadsUnderCustomerKeys"]["Condition"] == {
            "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_the_account_administers_every_key_and_uses_none(prod):
    for name in ("cluster-backups-key", "cluster-secrets-key", "cluster-replica-key"):
        admin = _key_policy(prod, name)["KeyAdministration"]
        assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert set(admin["Action"]) == set(KEY_ADMIN_ACTIONS)
        assert not set(admin["Action"]) & USE_ACTIONS
        assert not any(action.startswith(("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt"))
                       for action in admin["Action"])


def test_every_key_use_is_one_service_in_its_region_for_this_stacks_buckets_or_secrets(prod):
    region, replica_region = prod.settings.region, prod.settings.backup_replica_region
    secret_arns = sorted(f"{MOCK}{name}" for name in prod.of_type(SECRET))
    expected = {
        "cluster-backups-key": ("s3", region, "aws:s3:arn", [f"{MOCK}cluster-backups"]),
        "cluster-replica-key": ("s3", replica_region, "aws:s3:arn", [f"{MOCK}cluster-backups-replica"]),
        "cluster-secrets-key": ("secretsmanager", region, "SecretARN", secret_arns),
    }
    for name, (service, in_region, context, values) in expected.items():
        uses = [s for sid, s in _key_policy(prod, name).items() if sid != "KeyAdministration"]
        assert uses
        for use in uses:
            condition = use["Condition"]["StringEquals"]
            assert condition["kms:ViaService"] == f"{service}.{in_region}.amazonaws.com"
            assert sorted(condition[f"kms:EncryptionContext:{context}"]) == values
            assert "*" not in json.dumps(use["Principal"])


def test_the_backup_key_is_used_by_exactly_the_roles_that_read_or_write_the_bucket(prod):
    backups = _key_policy(prod, "cluster-backups-key")
    host = f"{MOCK}cluster-{prod.topology.backup_server.name}-role"
    roles = _role_statements(prod)
    # Writers: the backup host alone (GenerateDataKey): what it uploads is encrypted under the key.
    assert backups["MachinesWriteBackups"]["Principal"] == {"AWS": [host]}
    assert set(backups["MachinesWriteBackups"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    # Readers: every role that reads objects of the backup bucket (restores, HAProxy's config), nobody else.
    readers = {arn for arn, statements in roles.items() if arn != host and (
        "ReadSeeds" in statements or "ReadOwnObjects" in statements)}
    assert set(backups["MachinesReadBackups"]["Principal"]["AWS"]) == readers
    assert backups["MachinesReadBackups"]["Action"] == ["kms:Decrypt"]
    monitoring = f"{MOCK}cluster-monitoring-role"
    assert monitoring in roles and monitoring not in readers
    # The roles' own policies carry the same narrowing on the same key.
    for arn in readers | {host}:
        (statement,) = [s for s in roles[arn].values() if s["Resource"] == f"{MOCK}cluster-backups-key"]
        assert statement["Condition"] == backups["MachinesReadBackups"]["Condition"]
    assert set(roles[host]["EncryptBackups"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert all("GenerateDataKey" not in json.dumps(roles[arn]) for arn in readers)


def test_each_role_decrypts_its_own_secrets_only_and_the_secrets_key_names_exactly_those_roles(prod):
    secrets_key = _key_policy(prod, "cluster-secrets-key")
    roles = _role_statements(prod)
    readers = {arn for arn, statements in roles.items() if "ReadOwnSecrets" in statements}
    assert set(secrets_key["MachinesReadOwnSecrets"]["Principal"]["AWS"]) == readers
    assert secrets_key["MachinesReadOwnSecrets"]["Action"] == ["kms:Decrypt"]
    for arn in readers:
        decrypt = roles[arn]["DecryptOwnSecrets"]
        assert decrypt["Resource"] == f"{MOCK}cluster-secrets-key"
        assert decrypt["Action"] == ["kms:Decrypt"]
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == \
            f"secretsmanager.{prod.settings.region}.amazonaws.com"
        # Exactly the secrets it may read: a replica's role cannot decrypt the admin password even by the key.
        assert sorted(decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"]) == \
            sorted(roles[arn]["ReadOwnSecrets"]["Resource"])
    for secondary in prod.topology.secondaries:
        context = roles[f"{MOCK}cluster-{secondary.name}-role"]["DecryptOwnSecrets"]["Condition"]["StringEquals"]
        assert f"{MOCK}cluster-admin-password" not in context["kms:EncryptionContext:SecretARN"]


def test_every_secret_is_encrypted_under_the_stacks_key_and_keeps_its_recovery_window(prod):
    secrets = prod.of_type(SECRET)
    assert secrets
    for inputs in secrets.values():
        assert inputs["kmsKeyId"] == f"{MOCK}cluster-secrets-key"
        assert inputs["recoveryWindowInDays"] >= 7


def test_the_deploy_uses_the_keys_only_through_their_services(prod):
    deploy = "arn:aws:iam::123456789012:user/plan"  # the plan's caller (components/program/recording.py)
    tooling = _key_policy(prod, "cluster-backups-key")["DeployWritesTooling"]
    assert tooling["Principal"] == {"AWS": [deploy]}
    assert tooling["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{prod.settings.region}.amazonaws.com"
    secrets = _key_policy(prod, "cluster-secrets-key")["DeployWritesSecrets"]
    assert secrets["Principal"] == {"AWS": [deploy]}
    # The replica's key: nobody of this account writes there but S3 replication.
    assert set(_key_policy(prod, "cluster-replica-key")) == {"KeyAdministration", "ReplicationWritesReplicas"}


def test_replication_reencrypts_under_the_replica_key_and_its_role_may_exactly_that(prod):
    (config,) = prod.of_type(REPLICATION).values()
    (rule,) = config["rules"]
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": f"{MOCK}cluster-replica-key"}
    role = config["role"]
    statements = {s["Sid"]: s for s in _statements(prod.of_type(ROLE_POLICY)["cluster-backups-replication"]["policy"])}
    assert statements["DecryptSource"]["Resource"] == f"{MOCK}cluster-backups-key"
    assert statements["DecryptSource"]["Action"] == ["kms:Decrypt"]
    assert statements["EncryptReplica"]["Resource"] == f"{MOCK}cluster-replica-key"
    assert statements["EncryptReplica"]["Condition"]["StringEquals"]["kms:ViaService"] == \
        f"s3.{prod.settings.backup_replica_region}.amazonaws.com"
    assert _key_policy(prod, "cluster-backups-key")["ReplicationReadsBackups"]["Principal"] == {"AWS": [role]}
    assert _key_policy(prod, "cluster-replica-key")["ReplicationWritesReplicas"]["Principal"] == {"AWS": [role]}
