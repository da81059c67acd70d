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

from components.aws.keys import KEY_ADMIN_ACTIONS, KeyUse, s3_condition
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
    region: str = ""  # the stack's region (the backup key's kms:ViaService)
    key_arn: pulumi.Input[str] | None = None  # SSE-KMS key of the bucket (keys.py); None: SSE-S3
    replica_key_arn: pulumi.Input[str] | None = None  # this account's replica key; None with replica_account
    replica_account: OffsiteAccount | None = None  # the off-site replica lives in another account


@dataclass(frozen=True)
class OffsiteAccount:
    """A replica bucket and its KMS key owned by another AWS account (neo4j:backupReplicaAccountId, …Bucket,
    …KeyArn): this account creates no replica bucket and cannot shorten, delete or overwrite anything there."""
    account_id: str
    bucket: str
    key_arn: str
    partition: str = "aws"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"


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


def replication_rule(stack: str, destination_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str] | None = None,
                     account_id: str = "") -> dict:
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

    SSE-KMS objects replicate only when asked for, re-encrypted under the replica's key (S3 API Reference,
    SourceSelectionCriteria: "A container that describes additional filters for identifying the source objects that
    you want to replicate"; the provider: "If specified, replicaKmsKeyId in destination must be specified as
    well"). In another account (`account_id`), the replicas belong to that account: S3 User Guide, "Changing the
    replica owner": "Add the owner override option to the replication configuration to tell Amazon S3 to change
    replica ownership".
    """
    destination: dict = {"bucket": destination_arn, "storage_class": "STANDARD"}
    rule: dict = {
        "id": "stack-backups", "status": "Enabled", "priority": 1,
        "filter": {"prefix": f"{stack}/"},
        # With a Filter (replication configuration V2), S3 requires the DeleteMarkerReplication element.
        "delete_marker_replication": {"status": "Disabled"},
        "destination": destination,
    }
    if replica_key_arn is not None:
        rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        destination["encryption_configuration"] = {"replica_kms_key_id": replica_key_arn}
    if account_id:
        destination["account"] = account_id
        destination["access_control_translation"] = {"owner": "Destination"}
    return rule


@dataclass(frozen=True)
class ProtectedBucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning


def bucket_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """A backup bucket Pulumi replaces or drops stays in AWS with its backups (retained), so the replacement
    Object Lock forces on an existing stack, or a `pulumi destroy`, never deletes a backup nor fails on a full
    bucket; the operator empties and deletes the old one when its backups are no longer needed."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=True)


def encryption_rule(key_arn: pulumi.Input[str] | None) -> dict:
    """The bucket's default encryption: SSE-KMS under the stack's key with an S3 Bucket Key (one KMS request per
    bucket key, not per object), or SSE-S3 without a key."""
    if key_arn is None:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    return {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
            "bucket_key_enabled": True}


def only_this_key_statements(objects_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> list[dict]:
    """Bucket-policy Denies: an upload that asks for another encryption (SSE-S3, DSSE, another KMS key, a
    customer-provided key) is refused; one that asks for none gets the bucket's default, this key (the backup job
    and the deploy name none). The condition keys s3:x-amz-server-side-encryption,
    s3:x-amz-server-side-encryption-aws-kms-key-id and s3:x-amz-server-side-encryption-customer-algorithm hold the
    request's headers (S3 User Guide, "Bucket policy examples using condition keys"); with IfExists an absent header
    passes. The customer-key Deny is AWS's own sample (aws-samples/resource-control-policy-examples,
    S3-Deny-SSE-C.json: "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"})."""
    return [
        {"Sid": "DenyUploadsUnderAnotherEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects_arn,
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "DenyUploadsUnderAnotherKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects_arn,
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
        {"Sid": "DenyUploadsUnderCustomerKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects_arn,
         "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}},
    ]


def _protected_bucket(name: str, args: BackupStoreArgs, parent: pulumi.Resource,
                      region: str | None = None, key_arn: pulumi.Input[str] | None = None) -> ProtectedBucket:
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
        rules=[encryption_rule(key_arn)], opts=child)
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
        }, *(only_this_key_statements(pulumi.Output.concat(bucket.arn, "/*"), key_arn) if key_arn is not None
             else [])],
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
        primary = _protected_bucket(f"{name}-backups", args, self, key_arn=args.key_arn)
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
        # The replication role's key uses, for the key policies (keys.py): the backup key, the replica key here.
        self.backups_key_uses: tuple[KeyUse, ...] = ()
        self.replica_key_uses: tuple[KeyUse, ...] = ()
        self.offsite_account_policies: pulumi.Output[dict] | None = None
        if args.replica_region and args.replica_account is not None:
            offsite = args.replica_account
            self._replicate(f"{name}-backups-replication", primary, args, offsite.bucket_arn, offsite.key_arn,
                            offsite.account_id)
            self.replica_bucket_name = pulumi.Output.from_input(offsite.bucket)
            self.offsite_account_policies = self.replication_role_arn.apply(
                lambda role_arn: offsite_account_documents(args, offsite, role_arn))
        elif args.replica_region:
            replica = _protected_bucket(f"{name}-backups-replica", args, self, region=args.replica_region,
                                        key_arn=args.replica_key_arn)
            self._replicate(f"{name}-backups-replication", primary, args, replica.bucket.arn, args.replica_key_arn,
                            "", destination_versioning=replica.versioning)
            self.replica_bucket_name = replica.bucket.bucket
            self.bucket_arns += (replica.bucket.arn,)
        self.register_outputs({"bucketName": self.bucket_name, "replicaBucketName": self.replica_bucket_name})

    def _replicate(self, name: str, source: ProtectedBucket, args: BackupStoreArgs,
                   destination_arn: pulumi.Input[str], destination_key_arn: pulumi.Input[str] | None,
                   account_id: str, destination_versioning: aws.s3.BucketVersioning | None = None) -> None:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(name, assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }), description="S3 replication of the Neo4j backup bucket", opts=child)
        self.replication_role_arn = role.arn
        source_arn = source.bucket.arn
        # In another account the replicas become that account's (the owner override, replication_rule).
        write_actions = ["s3:ReplicateObject", "s3:ReplicateTags"] + (
            ["s3:ObjectOwnerOverrideToBucketOwner"] if account_id else [])
        statements: list[dict] = [
            {"Sid": "ReadSource", "Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
             "Resource": source_arn},
            # Object Lock: "You must grant two new permissions on the source S3 bucket in the [...] role that you
            # use to set up replication [...] s3:GetObjectRetention and s3:GetObjectLegalHold" (S3 User Guide,
            # "Managing Object Lock").
            {"Sid": "ReadSourceVersions", "Effect": "Allow",
             "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
             "Resource": pulumi.Output.concat(source_arn, "/*")},
            {"Sid": "WriteReplica", "Effect": "Allow", "Action": write_actions,
             "Resource": pulumi.Output.concat(destination_arn, "/*")},
        ]
        if args.key_arn is not None and destination_key_arn is not None:
            # S3 User Guide, "Replicating encrypted objects": the role decrypts with the source key and encrypts
            # with the replica's, each through S3 of its bucket's region, for its bucket only (keys.py).
            read = s3_condition(args.region, [source_arn])
            write = s3_condition(args.replica_region, [destination_arn])
            statements += [
                {"Sid": "DecryptSource", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": args.key_arn,
                 "Condition": read},
                {"Sid": "EncryptReplica", "Effect": "Allow", "Action": list(REPLICA_KEY_ACTIONS),
                 "Resource": destination_key_arn, "Condition": write},
            ]
            self.backups_key_uses = (KeyUse("ReplicationReadsBackups", (role.arn,), ("kms:Decrypt",), read),)
            if not account_id:
                self.replica_key_uses = (KeyUse("ReplicationWritesReplicas", (role.arn,), REPLICA_KEY_ACTIONS,
                                                write),)
        aws.iam.RolePolicy(name, role=role.id, policy=pulumi.Output.json_dumps(
            {"Version": "2012-10-17", "Statement": statements}), opts=child)
        versioned = [source.versioning] + ([destination_versioning] if destination_versioning is not None else [])
        aws.s3.BucketReplicationConfig(
            name, bucket=source.bucket.id, role=role.arn,
            rules=[replication_rule(self._stack, destination_arn, destination_key_arn if args.key_arn is not None
                                    else None, account_id)],
            # S3 refuses replication until both buckets are versioned.
            opts=pulumi.ResourceOptions(parent=self, depends_on=versioned))


# The replication role on the replica key: encrypt the replicas (S3 asks for a data key under an S3 Bucket Key).
REPLICA_KEY_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKey")
REPLICATION_DESTINATION_READS = ("s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration")


def offsite_account_documents(args: BackupStoreArgs, offsite: OffsiteAccount, role_arn: str) -> dict:
    """What the other account applies to its bucket and key, trusting exactly our replication role: the bucket
    policy, the key policy and the bucket's settings (Object Lock COMPLIANCE for the same period as here,
    versioning, SSE-KMS under its key, the same lifecycle), in the AWS CLI's shapes (s3api put-bucket-policy,
    kms put-key-policy, put-object-lock-configuration, put-bucket-encryption, put-bucket-lifecycle-configuration).
    That account owns the replicas (the owner override): nothing here can shorten, delete or overwrite them."""
    objects = f"{offsite.bucket_arn}/*"
    bucket_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [offsite.bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "ReplicationFromNeo4jCluster", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
         "Resource": objects},
        {"Sid": "ReplicationChecksTheBucket", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": list(REPLICATION_DESTINATION_READS), "Resource": offsite.bucket_arn},
        *only_this_key_statements(objects, offsite.key_arn),
    ]}
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{offsite.partition}:iam::{offsite.account_id}:root"},
         "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*"},
        {"Sid": "ReplicationWritesReplicas", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": list(REPLICA_KEY_ACTIONS), "Resource": "*",
         "Condition": s3_condition(args.replica_region, [offsite.bucket_arn])},
    ]}
    days = object_lock_days(args.retention_days, args.chain_days)
    prefix = f"{args.stack}/"
    settings = {
        "Bucket": offsite.bucket, "Region": args.replica_region, "Account": offsite.account_id,
        "ObjectLockEnabledForBucket": True,
        "VersioningConfiguration": {"Status": "Enabled"},
        "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled",
                                    "Rule": {"DefaultRetention": {"Mode": OBJECT_LOCK_MODE, "Days": days}}},
        "ServerSideEncryptionConfiguration": {"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": offsite.key_arn},
            "BucketKeyEnabled": True}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": [
            {"ID": "backups", "Status": "Enabled", "Filter": {"Prefix": prefix}, "Expiration": {"Days": days},
             "NoncurrentVersionExpiration": {"NoncurrentDays": args.noncurrent_days},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_UPLOAD_DAYS}},
            {"ID": "delete-markers", "Status": "Enabled", "Filter": {"Prefix": prefix},
             "Expiration": {"ExpiredObjectDeleteMarker": True}}]},
    }
    return {"bucketPolicy": bucket_policy, "keyPolicy": key_policy, "bucketSettings": settings}


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
