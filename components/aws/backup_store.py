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
from scripts.neo4j_ops.shared.backup_objects import EXPIRABLE_TAG

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
    """Two rules under <stack>/ (the tooling object beside it, tooling/, never expires).

    "backups" (prefix only): the age-based transition, the expiry of noncurrent versions, the clean-up of
    unfinished uploads and of delete markers that hide nothing. It expires no current object.
    "superseded-backups" (prefix AND tag): current objects expire after the retention only when tagged
    expirable=true, which the backup job does to a chain once a newer complete, checked chain exists
    (scripts/neo4j_ops/shared/backup_objects.py EXPIRABLE_TAG). So if backups fail for longer than the retention,
    the newest complete chain of each database is still there: the bucket never ends with zero backups.

    S3 User Guide, "Adding filters to Lifecycle rules" (intro-lifecycle-filters): "You can combine different
    filter elements in which case Amazon S3 uses a logical AND", and of tags: "A filter with multiple object
    tags applies to a subset of objects that has all the tags specified. If an object has additional tags
    specified, the filter will still apply." Tag filters cannot carry AbortIncompleteMultipartUpload or
    ExpiredObjectDeleteMarker (S3 refuses them: an upload has no tags yet), hence the two rules.
    """
    tag_key, tag_value = EXPIRABLE_TAG
    prefix = f"{args.stack}/"
    housekeeping: dict = {
        "id": "backups",
        "status": "Enabled",
        "filter": {"prefix": prefix},
        # Removes delete markers that no longer hide any version (after their versions expired).
        "expiration": {"expired_object_delete_marker": True},
        # A superseded backup that expired (or was deleted) becomes a noncurrent version; it goes after this.
        "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
    }
    if args.transition_days:
        housekeeping["transitions"] = [{"days": args.transition_days,
                                        "storage_class": args.transition_storage_class}]
    superseded = {
        "id": "superseded-backups",
        "status": "Enabled",
        "filter": {"and_": {"prefix": prefix, "tags": {tag_key: tag_value}}},
        "expiration": {"days": args.retention_days},
    }
    return [housekeeping, superseded]


def replication_rule(stack: str, destination_arn: pulumi.Input[str]) -> dict:
    """Every object under <stack>/ (untagged and tagged alike, tags included: s3:ReplicateTags) goes to the
    replica bucket in the other region: the off-site copy of the 3-2-1 rule.

    Delete markers are not replicated: a deletion in the primary, by mistake or by an attacker, does not
    reach the copy. Lifecycle expiries would not reach it anyway (S3 User Guide, "Replicating delete markers
    between buckets": "If you enable delete marker replication and your source bucket has an S3 Lifecycle
    expiration rule, the delete markers added by the S3 Lifecycle expiration rule won't be replicated to the
    destination bucket"); the replica's own lifecycle (the same rules, the expirable tag replicated with the
    objects) expires superseded backups there.
    """
    return {
        "id": "stack-backups", "status": "Enabled", "priority": 1,
        "filter": {"prefix": f"{stack}/"},
        # With a Filter (replication configuration V2), S3 requires the DeleteMarkerReplication element.
        "delete_marker_replication": {"status": "Disabled"},
        "destination": {"bucket": destination_arn, "storage_class": "STANDARD"},
    }


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
        self._stack = args.stack
        self.tooling_arn = pulumi.Output.concat(self.bucket_arn, f"/{TOOLING_KEY}")
        if args.tooling_archive_base64:
            tooling = aws.s3.BucketObjectv2(f"{name}-tooling", bucket=primary.bucket.id, key=TOOLING_KEY,
                                            content_base64=args.tooling_archive_base64,
                                            content_type="application/gzip", opts=pulumi.ResourceOptions(parent=self))
            # The ARN resolves once the object exists: the policy naming it, and so the instance that installs
            # it at boot (place_machine), wait for the upload.
            self.tooling_arn = pulumi.Output.all(self.tooling_arn, tooling.id).apply(lambda values: values[0])
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
            rules=[replication_rule(self._stack, destination_arn)],
            # S3 refuses replication until both buckets are versioned.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source.versioning, destination.versioning]))


# --- the 3-2-1 rule: which copies of the data a stack keeps -----------------------------------------------

@dataclass(frozen=True)
class BackupCopies:
    """The copies of a stack's data (production first), the kinds of storage they are on, and whether one is
    off-site: the operations guide's 3-2-1 rule (three copies, two kinds of storage, one off-site)."""
    stack: str
    copies: tuple[str, ...]
    kinds: frozenset[str]
    off_site: bool
    problems: tuple[str, ...]

    def line(self) -> str:
        verdict = ("3-2-1 holds" if not self.problems
                   else "BREAKS 3-2-1: " + "; ".join(self.problems) + "; set neo4j:backupReplicaRegion")
        return (f"{self.stack}: {len(self.copies)} copies — {', '.join(self.copies)}; {len(self.kinds)} kinds of "
                f"storage; off-site: {'yes' if self.off_site else 'no'} ({verdict})")


def keeps_local_copy(edition: str, version_line: str) -> bool:
    """Whether the backup job leaves a copy in its staging directory (kept backupLocalRetentionDays): the
    online backup chains of 4.4 and 5.x, and 4.4's dump, which neo4j-admin writes only to a file. 2025's online
    backup goes straight to S3, and 5.x/2025 dumps are streamed (--to-stdout): no local copy."""
    if edition == "enterprise":
        return version_line != "2025"
    return version_line == "4.4"


def backup_copies(settings) -> BackupCopies:
    """The copies a stack on AWS keeps (settings: components.settings.Settings)."""
    store = f"S3 {settings.backup_s3_endpoint}" if settings.backup_s3_endpoint else f"S3 {settings.region}"
    copies = ["EBS store"]
    kinds = {"EBS"}
    if keeps_local_copy(settings.edition, settings.version_line):
        # On the data volume, beside the store: one more copy, but the same disk and kind of storage.
        copies.append(f"EBS staging ({settings.backup_local_retention_days} days)")
    copies.append(store)
    kinds.add("S3")
    if settings.backup_replica_region:
        copies.append(f"S3 replica {settings.backup_replica_region}")
    off_site = bool(settings.backup_replica_region)
    problems = []
    if len(copies) < 3:
        problems.append(f"only {len(copies)} copies (streamed dumps and direct-to-S3 backups keep no local one)")
    if not off_site:
        problems.append("no off-site copy (S3 in the stack's own region shares its fate)")
    return BackupCopies(settings.stack, tuple(copies), frozenset(kinds), off_site, tuple(problems))
