"""BackupStore: the S3 bucket the backup server writes to, optionally replicated to a second region.

Both buckets get the same protection: versioning, default encryption, every kind of public access
blocked, ACLs off, TLS-only access, and the lifecycle from the stack config.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.tooling import TOOLING_KEY

# A backup upload that has not completed in this many days failed: its parts cost money for nothing.
ABORT_INCOMPLETE_UPLOAD_DAYS = 2


@dataclass(frozen=True)
class BackupStoreArgs:
    stack: str
    retention_days: int  # current objects expire after this many days
    transition_days: int  # 0: backups stay in STANDARD
    transition_storage_class: str
    noncurrent_days: int  # old versions of overwritten or deleted objects expire after this
    replica_region: str = ""  # "": no replica
    tooling_archive_base64: str = ""  # the backup scripts (components/tooling.py); "": none


def lifecycle_rules(args: BackupStoreArgs) -> list[dict]:
    rule: dict = {
        "id": "backups",
        "status": "Enabled",
        # Backups only: the tooling object beside them (tooling/) must not expire.
        "filter": {"prefix": f"{args.stack}/"},
        # With days set, S3 also removes delete markers that no longer hide any version.
        "expiration": {"days": args.retention_days},
        "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
    }
    if args.transition_days:
        rule["transitions"] = [{"days": args.transition_days, "storage_class": args.transition_storage_class}]
    return [rule]


@dataclass(frozen=True)
class ProtectedBucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning


def _protected_bucket(name: str, args: BackupStoreArgs, parent: pulumi.Resource,
                      region: str | None = None) -> ProtectedBucket:
    child = pulumi.ResourceOptions(parent=parent)
    # region None: the provider's region; otherwise v7's per-resource region, with no second provider.
    bucket = aws.s3.Bucket(name, region=region, tags={"Name": f"{args.stack}-{name}"}, opts=child)
    versioning = aws.s3.BucketVersioning(name, bucket=bucket.id, region=region,
                                         versioning_configuration={"status": "Enabled"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=bucket.id, region=region,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child)
    public_access = aws.s3.BucketPublicAccessBlock(
        name, bucket=bucket.id, region=region, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(name, bucket=bucket.id, region=region,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    deny_plain_http = pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
    # S3 rejects a policy written while the public access block is still being set.
    aws.s3.BucketPolicy(name, bucket=bucket.id, region=region, policy=deny_plain_http,
                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]))
    # Expiry needs versioning in place first, or current versions would vanish without a trace.
    aws.s3.BucketLifecycleConfiguration(name, bucket=bucket.id, region=region, rules=lifecycle_rules(args),
                                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]))
    return ProtectedBucket(bucket, versioning)


class BackupStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    replica_bucket_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: BackupStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:BackupStore", name, None, opts)
        primary = _protected_bucket(f"{name}-backups", args, self)
        self.bucket_name = primary.bucket.bucket
        self.bucket_arn = primary.bucket.arn
        self.replica_bucket_name = None
        self.tooling_arn = pulumi.Output.concat(self.bucket_arn, f"/{TOOLING_KEY}")
        if args.tooling_archive_base64:
            aws.s3.BucketObjectv2(f"{name}-tooling", bucket=primary.bucket.id, key=TOOLING_KEY,
                                  content_base64=args.tooling_archive_base64, content_type="application/gzip",
                                  opts=pulumi.ResourceOptions(parent=self))
        if args.replica_region:
            replica = _protected_bucket(f"{name}-backups-replica", args, self, region=args.replica_region)
            self._replicate(f"{name}-backups-replication", primary, replica)
            self.replica_bucket_name = replica.bucket.bucket
        self.register_outputs({"bucketName": self.bucket_name, "replicaBucketName": self.replica_bucket_name})

    def _replicate(self, name: str, source: ProtectedBucket, destination: ProtectedBucket) -> None:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(name, assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }), description="S3 replication of the Neo4j backup bucket", opts=child)
        source_arn, destination_arn = source.bucket.arn, destination.bucket.arn
        aws.iam.RolePolicy(name, role=role.id, policy=pulumi.Output.json_dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ReadSource", "Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                 "Resource": source_arn},
                {"Sid": "ReadSourceVersions", "Effect": "Allow",
                 "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging"],
                 "Resource": pulumi.Output.concat(source_arn, "/*")},
                {"Sid": "WriteReplica", "Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
                 "Resource": pulumi.Output.concat(destination_arn, "/*")},
            ],
        }), opts=child)
        aws.s3.BucketReplicationConfig(
            name, bucket=source.bucket.id, role=role.arn,
            rules=[{
                "id": "all-backups", "status": "Enabled", "filter": {"prefix": ""},
                # A deletion in the primary, by mistake or by an attacker, does not reach the copy;
                # the replica's own lifecycle expires old backups.
                "delete_marker_replication": {"status": "Disabled"},
                "destination": {"bucket": destination_arn, "storage_class": "STANDARD"},
            }],
            # S3 refuses replication until both buckets are versioned.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source.versioning, destination.versioning]))
