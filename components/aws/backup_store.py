"""BackupStore: the S3 bucket the backup server writes to, optionally replicated to a second region.

Both buckets get the same protection: Object Lock (COMPLIANCE, see `object_lock_days`) with versioning, default
encryption, every kind of public access blocked, ACLs off, TLS-only access, and the lifecycle from the stack config.

Object Lock is set when a bucket is created: on a stack whose buckets exist without it, `pulumi up` REPLACES both
buckets (new, empty ones; the old ones, with their backups, stay in AWS, out of the stack: `bucket_options`; the
operator deletes them when their backups are no longer needed). S3 User Guide, "S3 Object Lock overview": "You can
only enable Object Lock for new buckets", and "Once you create a bucket with Object Lock enabled, you can't disable
Object Lock or suspend versioning for the bucket."
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.machine import TOOLING_WRITE_ACTIONS
from components.tooling import TOOLING_KEY, TOOLING_PREFIX

# A backup upload that has not completed in this many days failed: its parts cost money for nothing.
ABORT_INCOMPLETE_UPLOAD_DAYS = 2
# COMPLIANCE, not GOVERNANCE. S3 User Guide, "S3 Object Lock overview": "In compliance mode, a protected object
# version can't be overwritten or deleted by any user, including the root user in your AWS account. When an object
# is locked in compliance mode, its retention mode can't be changed, and its retention period can't be shortened."
# Governance is what a compromised account role undoes: "To override or remove governance-mode retention settings,
# a user must have the `s3:BypassGovernanceRetention` permission" (any administrator has it).
OBJECT_LOCK_MODE = "COMPLIANCE"


@dataclass(frozen=True)
class BackupStoreArgs:
    stack: str
    retention_days: int  # current objects expire after this many days
    chain_days: int  # the longest a backup chain grows (Settings.backup_chain_days)
    transition_days: int  # 0: backups stay in STANDARD
    transition_storage_class: str
    noncurrent_days: int  # old versions of overwritten or deleted objects expire after this
    replica_region: str = ""  # "": no replica
    tooling_archive_base64: str = ""  # the backup scripts (components/tooling.py); "": none


def object_lock_days(retention_days: int, chain_days: int) -> int:
    """How long every object version is locked, from its creation: the retention plus the longest a chain grows.

    A chain is a full backup and the differentials until the next full one (at most `chain_days` later), and a
    differential is useless without its full backup: locking (and keeping) each object for retention + chain days
    keeps every chain whole for as long as any of its backups is within the retention. It is also the "never zero"
    guarantee: when backups stop, the newest chain's full backup is at most `chain_days` older than its last
    differential, so the whole newest chain stays, locked, for at least the retention after the last backup,
    whatever anyone on a server (or an account administrator) does. The backup freshness alert fires long before.
    """
    return retention_days + chain_days


def lifecycle_rules(args: BackupStoreArgs) -> list[dict]:
    """Two rules under <stack>/ (the tooling object beside it, tooling/, never expires); no rule looks at tags.

    "backups": current objects expire at the age they stop being locked (`object_lock_days`), by age alone, so no
    principal on a server can make anything expire sooner (a rule that expired tagged objects would let a
    compromised server tag every backup into expiry). Expiry in a versioned bucket adds a delete
    marker; the object version becomes noncurrent and goes `noncurrent_days` later, never before its lock ends. S3
    User Guide, "Managing Object Lock": "Object lifecycle management configurations continue to function normally
    on protected objects, including placing delete markers. However, protected object versions remain safe from
    being deleted or overwritten by a lifecycle configuration." The same holds for the old version of an object a
    compromised writer overwrote: it stays, locked, for the full period. Also the age-based transition and the
    clean-up of unfinished uploads.
    "delete-markers": removes delete markers that hide no version any more (S3 refuses ExpiredObjectDeleteMarker
    beside Days in one Expiration, hence a rule of its own).
    """
    prefix = f"{args.stack}/"
    backups: dict = {
        "id": "backups",
        "status": "Enabled",
        "filter": {"prefix": prefix},
        "expiration": {"days": object_lock_days(args.retention_days, args.chain_days)},
        # An expired (delete-marked) or overwritten version goes this many days later, once its lock allows.
        "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
    }
    if args.transition_days:
        backups["transitions"] = [{"days": args.transition_days, "storage_class": args.transition_storage_class}]
    markers = {
        "id": "delete-markers",
        "status": "Enabled",
        "filter": {"prefix": prefix},
        "expiration": {"expired_object_delete_marker": True},
    }
    return [backups, markers]


def replication_rule(stack: str, destination_arn: pulumi.Input[str]) -> dict:
    """Every object under <stack>/ (untagged and tagged alike, tags included: s3:ReplicateTags) goes to the
    replica bucket in the other region: the off-site copy of the 3-2-1 rule.

    Delete markers are not replicated: a deletion in the primary, by mistake or by an attacker, does not
    reach the copy. Lifecycle expiries would not reach it anyway (S3 User Guide, "Replicating delete markers
    between buckets": "If you enable delete marker replication and your source bucket has an S3 Lifecycle
    expiration rule, the delete markers added by the S3 Lifecycle expiration rule won't be replicated to the
    destination bucket"); the replica's own lifecycle (the same rules) expires old backups there. Object Lock
    replicates too: S3 User Guide, "Managing Object Lock": replication makes "automatic, asynchronous copying of
    locked objects and their retention metadata", and "The Amazon S3 destination bucket must have Object Lock
    enabled on it".
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


def bucket_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """A backup bucket Pulumi replaces or drops stays in AWS with its backups (retained), so the replacement
    Object Lock forces on an existing stack, or a `pulumi destroy`, never deletes a backup nor fails on a full
    bucket; the operator empties and deletes the old one when its backups are no longer needed."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=True)


def _protected_bucket(name: str, args: BackupStoreArgs, parent: pulumi.Resource,
                      region: str | None = None) -> ProtectedBucket:
    child = pulumi.ResourceOptions(parent=parent)
    # region None: the provider's region; otherwise v7's per-resource region, with no second provider.
    # Object Lock only at creation: a new input on an existing bucket replaces it (module docstring).
    bucket = aws.s3.Bucket(name, region=region, object_lock_enabled=True, tags={"Name": f"{args.stack}-{name}"},
                           opts=bucket_options(parent))
    versioning = aws.s3.BucketVersioning(name, bucket=bucket.id, region=region,
                                         versioning_configuration={"status": "Enabled"}, opts=child)
    # Every new object version is locked from its creation (S3 User Guide, "S3 Object Lock overview": with a
    # default retention, "Amazon S3 calculates a `Retain Until Date` for the object version by adding the specified
    # duration to the object version's creation timestamp"). The servers may not set their own retention
    # (machine.py denies s3:PutObjectRetention), as the guide's tip advises: "set the bucket defaults and deny users
    # permission to configure object retention settings".
    aws.s3.BucketObjectLockConfiguration(
        name, bucket=bucket.id, region=region, object_lock_enabled="Enabled",
        rule={"default_retention": {"mode": OBJECT_LOCK_MODE,
                                    "days": object_lock_days(args.retention_days, args.chain_days)}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]))
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
        }, {
            # What root runs or loads (tooling/: the archive, haproxy.cfg) is written by the deploy alone: never with
            # any EC2 instance's role credentials, whatever a role policy grants now or later. "aws:EC2InstanceSourceVPC
            # — This single-valued condition key contains the VPC ID to which an EC2 instance is deployed" (AWS
            # Security Blog, "How to use policies to restrict where EC2 instance credentials can be used from"):
            # present on every request signed with instance credentials. (The roles' own Deny: machine.py.)
            "Sid": "DenyMachinesWritingWhatRootRuns", "Effect": "Deny", "Principal": "*",
            "Action": list(TOOLING_WRITE_ACTIONS), "Resource": pulumi.Output.concat(bucket.arn, f"/{TOOLING_PREFIX}*"),
            "Condition": {"Null": {"aws:EC2InstanceSourceVPC": "false"}},
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
        self.bucket_arns: tuple[pulumi.Output[str], ...] = (primary.bucket.arn,)  # every bucket holding backups
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
            self.bucket_arns += (replica.bucket.arn,)
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
                # Object Lock: "You must grant two new permissions on the source S3 bucket in the [...] role that you
                # use to set up replication [...] s3:GetObjectRetention and s3:GetObjectLegalHold" (S3 User Guide,
                # "Managing Object Lock").
                {"Sid": "ReadSourceVersions", "Effect": "Allow",
                 "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
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
