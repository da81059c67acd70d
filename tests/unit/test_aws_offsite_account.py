"""The prod off-site replica in another AWS account (issue 26, item 1): neo4j:backupReplicaAccountId,
backupReplicaBucket and backupReplicaKeyArn. This account makes no replica bucket or key; replication hands the
replicas to that account (owner override) under that account's key; the plan writes the documents that account
applies (bucket policy, key policy, bucket settings) trusting exactly this stack's replication role.

Checked on the plan and the written documents only: no second account exists here, and moto evaluates neither
bucket policies nor key policies.

S3 User Guide, "Changing the replica owner": "Add the owner override option to the replication configuration to
tell Amazon S3 to change replica ownership", "Grant Amazon S3 the s3:ObjectOwnerOverrideToBucketOwner permission to
change replica ownership", and "Add the s3:ObjectOwnerOverrideToBucketOwner permission in the destination bucket
policy". S3 User Guide, "Managing Object Lock": "The Amazon S3 destination bucket must have Object Lock enabled on
it" (the settings document says so, with the same COMPLIANCE period as here).
"""
from __future__ import annotations

import json

import pytest

from components.settings import ConfigError, load_settings
from scripts.neo4j_ops.plan.summary import encryption_lines
from tests.conftest import stack_config
from tests.support.plans import make_plan

ACCOUNT = "210987654321"
OFFSITE_BUCKET = "acme-neo4j-offsite"
KEY_ARN = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OFFSITE = {"neo4j:backupReplicaAccountId": ACCOUNT, "neo4j:backupReplicaBucket": OFFSITE_BUCKET,
           "neo4j:backupReplicaKeyArn": KEY_ARN}
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


@pytest.fixture(scope="module")
def offsite(tmp_path_factory):
    return make_plan("prod-offsite", "prod", {**stack_config("prod"), **OFFSITE},
                     tmp_path_factory.mktemp("offsite") / "out")


def _document(plan, name: str) -> dict:
    return json.loads((plan.out / "offsite-account" / name).read_text())


def _replication(plan) -> dict:
    (config,) = plan.of_type(REPLICATION).values()
    return config


@pytest.mark.parametrize("dropped", ["neo4j:backupReplicaAccountId", "neo4j:backupReplicaBucket",
                                     "neo4j:backupReplicaKeyArn"])
def test_the_three_keys_come_together_and_each_partial_set_is_refused_by_name(dropped):
    config = {**stack_config("prod"), **OFFSITE}
    del config[dropped]
    with pytest.raises(ConfigError) as refused:
        load_settings("prod", config)
    (problem,) = refused.value.problems
    assert problem.startswith("neo4j:backupReplica") and "allowed: all four" in problem


def test_the_other_accounts_key_must_be_that_accounts_and_in_the_replica_region():
    config = {**stack_config("prod"), **OFFSITE,
              "neo4j:backupReplicaKeyArn": KEY_ARN.replace("eu-central-1", "eu-west-1")}
    with pytest.raises(ConfigError) as refused:
        load_settings("prod", config)
    assert refused.value.problems[0].startswith("neo4j:backupReplicaKeyArn: got a key of account")
    settings = load_settings("prod", {**stack_config("prod"), **OFFSITE})
    assert (settings.backup_replica_account_id, settings.backup_replica_bucket) == (ACCOUNT, OFFSITE_BUCKET)


def test_this_account_makes_no_replica_bucket_nor_replica_key(offsite):
    assert set(offsite.of_type("aws:s3/bucket:Bucket")) == {"cluster-backups"}
    assert set(offsite.of_type("aws:kms/key:Key")) == {"cluster-backups-key", "cluster-secrets-key"}


def test_replication_hands_the_replicas_to_the_other_account_under_its_key(offsite):
    (rule,) = _replication(offsite)["rules"]
    destination = rule["destination"]
    assert destination["bucket"] == f"arn:aws:s3:::{OFFSITE_BUCKET}"
    assert destination["account"] == ACCOUNT
    assert destination["accessControlTranslation"] == {"owner": "Destination"}
    assert destination["encryptionConfiguration"] == {"replicaKmsKeyId": KEY_ARN}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    role = {s["Sid"]: s for s in json.loads(offsite.of_type("aws:iam/rolePolicy:RolePolicy")[
        "cluster-backups-replication"]["policy"])["Statement"]}
    assert "s3:ObjectOwnerOverrideToBucketOwner" in role["WriteReplica"]["Action"]
    assert role["WriteReplica"]["Resource"] == f"arn:aws:s3:::{OFFSITE_BUCKET}/*"
    assert role["EncryptReplica"]["Resource"] == KEY_ARN
    assert role["EncryptReplica"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.eu-central-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{OFFSITE_BUCKET}"]}


def test_the_plan_writes_the_other_accounts_documents(offsite):
    written = {f"offsite-account/{name}" for name in ("bucket-policy.json", "key-policy.json", "bucket-settings.json")}
    assert written <= set(offsite.document["artifacts"])
    assert all((offsite.out / relative).is_file() for relative in written)
    # And only then: prod without the keys writes none.
    assert "offsiteAccountPolicies" in offsite.document["outputs"]


def test_the_other_accounts_policies_trust_exactly_our_replication_role(offsite):
    role = _replication(offsite)["role"]
    for name in ("bucket-policy.json", "key-policy.json"):
        for statement in _document(offsite, name)["Statement"]:
            principal = statement["Principal"]
            if statement["Effect"] == "Deny":
                assert principal == "*"  # Denies apply to everyone
            elif statement["Sid"] == "KeyAdministration":
                assert principal == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}  # that account, not ours
                assert not [a for a in statement["Action"] if a in ("kms:Encrypt", "kms:Decrypt")]
            else:
                assert principal == {"AWS": role}, (name, statement)
    bucket = {s["Sid"]: s for s in _document(offsite, "bucket-policy.json")["Statement"]}
    assert set(bucket["ReplicationFromNeo4jCluster"]["Action"]) == {
        "s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"}
    assert not [a for s in bucket.values() if s["Effect"] == "Allow" for a in s["Action"] if "Delete" in a]
    assert bucket["DenyUploadsUnderAnotherKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}}
    key = {s["Sid"]: s for s in _document(offsite, "key-policy.json")["Statement"]}
    assert key["ReplicationWritesReplicas"]["Condition"]["StringEquals"]["kms:ViaService"] == \
        "s3.eu-central-1.amazonaws.com"


def test_the_other_accounts_bucket_locks_every_version_as_long_as_ours(offsite):
    settings = _document(offsite, "bucket-settings.json")
    lock = offsite.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")["cluster-backups"]
    ours = lock["rule"]["defaultRetention"]
    assert settings["ObjectLockEnabledForBucket"] is True
    assert settings["VersioningConfiguration"] == {"Status": "Enabled"}
    assert settings["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
        "Mode": "COMPLIANCE", "Days": int(ours["days"])}}}
    assert ours["mode"] == "COMPLIANCE"
    (rule,) = settings["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
                    "BucketKeyEnabled": True}
    backups = settings["LifecycleConfiguration"]["Rules"][0]
    assert backups["Expiration"] == {"Days": int(ours["days"])}  # never before the lock ends, as here
    assert (settings["Bucket"], settings["Region"], settings["Account"]) == (OFFSITE_BUCKET, "eu-central-1", ACCOUNT)


def test_make_plan_says_where_the_off_site_copy_lives(offsite, tmp_path_factory):
    lines = encryption_lines(offsite.document)
    assert f"Off-site replica in account {ACCOUNT}: arn:aws:s3:::{OFFSITE_BUCKET}, replicas owned there; apply " \
           "build/<stack>/offsite-account/*.json in that account" in lines
    prod = make_plan("prod", "prod", stack_config("prod"), tmp_path_factory.mktemp("kms-prod") / "out")
    shown = encryption_lines(prod.document)
    assert "Encryption cluster-backups: SSE-KMS key backups-key, bucket key" in shown
    assert not [line for line in shown if line.startswith("Off-site")]
    assert not (prod.out / "offsite-account").exists()
    assert prod.document["outputs"].get("offsiteAccountPolicies") is None
