"""One EC2 machine with its own IAM role and a stable DNS name: what every AWS component places.

Neo4j servers, HAProxy and monitoring differ only in the values below, so the hardening lives in
one place: IMDSv2 only, encrypted gp3 volumes, Session Manager instead of SSH, and an inline
policy that names the exact secrets (and backup objects) this one machine may touch.
"""
from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.keys import (
    BACKUPS,
    S3_READ,
    S3_WRITE,
    SECRET_READ,
    SECRETS,
    MachineKeys,
    role_statement,
    s3_condition,
    secrets_condition,
)
from components.instance_types import INSTANCE_TYPES
from components.tooling import TOOLING_PREFIX
from components.topology import Node

# Canonical's account and the name of its newest LTS server images: Ubuntu 24.04 (noble), named by architecture.
# Canonical's "Find Ubuntu images on AWS" (canonical/ubuntu-cloud-docs, docs/aws/aws-how-to/instances/
# find-ubuntu-images.rst): the filter pattern is `ubuntu/images/$VIRT_TYPE-$VOL_TYPE/ubuntu-$RELEASE-$ARCH-$PRODUCT-*`
# with VOL_TYPE "`ssd-gp3` (for >=23.10)", RELEASE `noble-24.04`, ARCH `amd64` or `arm64`, PRODUCT `server`; the
# owner "`099720109477` (in the default partition)". Ubuntu 22.04's standard support ends in April 2027; the boot
# scripts also run on 22.04 and Debian 12 (neo4j:amiId), see README "Images".
UBUNTU_OWNER = "099720109477"
UBUNTU_RELEASE = "noble-24.04"
UBUNTU_IMAGE_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def ubuntu_image_name_pattern(arch: str) -> str:
    """The AMI name filter of the newest Ubuntu 24.04 server image of an EC2 architecture (x86_64, arm64)."""
    return f"ubuntu/images/hvm-ssd-gp3/ubuntu-{UBUNTU_RELEASE}-{UBUNTU_IMAGE_ARCH[arch]}-server-*"


# EC2 refuses user data above 16 KiB; cloud-init reads gzip natively, so every payload is gzipped.
USER_DATA_LIMIT = 16 * 1024
# The attachment's device name. On Nitro the disk appears as an NVMe device whatever this says;
# setup-neo4j.sh finds it by the volume id in its serial (/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…).
DATA_DEVICE = "/dev/sdf"
# The instance tag that names a machine's data volume; the boot script reads it through IMDS.
DATA_VOLUME_TAG = "DataVolumeId"
# What `pulumi up` must never apply to a running Neo4j server: each of these stops, restarts or replaces
# it (cloud-init reads user data only on a new instance). They are held back on existing servers and
# applied one server at a time, by replacing that server (its data volume follows it).
HELD_BACK_ON_SERVERS = ("ami", "user_data_base64", "instance_type", "subnet_id", "availability_zone")
# The volume stays in the zone it was made in: moving a server to another zone is a restore, not an `up`.
HELD_BACK_ON_DATA_VOLUMES = ("availability_zone",)


@dataclass(frozen=True)
class MachineContext:
    """What every machine of a stack shares."""
    stack: str
    images: Mapping[str, pulumi.Input[str]]  # architecture → AMI id
    dns_zone_id: pulumi.Input[str]
    session_log_group_arn: pulumi.Input[str]  # where Session Manager streams every session (sessions.py)
    # The backup buckets (primary and replica): no machine may delete, re-tag, re-lock or reconfigure anything there.
    backup_bucket_arns: tuple[pulumi.Input[str], ...] = ()
    # The stack's KMS keys (keys.py): a role that reads secrets or backups gets the matching key use. None: no keys.
    keys: MachineKeys | None = None

    def image_for(self, instance_type: str) -> pulumi.Input[str]:
        return self.images[INSTANCE_TYPES[instance_type].arch]


@dataclass(frozen=True)
class BucketAccess:
    """Backups under one prefix of one bucket: list, read and write, never delete (the lifecycle prunes)."""
    bucket_arn: pulumi.Input[str]
    objects_arn: pulumi.Input[str]  # e.g. arn:aws:s3:::bucket/prod/*
    tooling_arn: pulumi.Input[str]  # the backup scripts' archive, read at boot


@dataclass(frozen=True)
class DataVolume:
    """A machine's data disk: its own EBS volume, attached, so it outlives the instance."""
    size_gb: int
    zone: str  # the server's zone (a volume attaches only to an instance in its zone)
    deletable: bool = False  # neo4j:dataVolumesDeletable: without it the volume is protected and retained


@dataclass(frozen=True)
class MachineArgs:
    host: str  # "core-1": the Name tag's suffix
    hostname: str  # "core-1.prod.neo4j.internal": the A record
    instance_type: str
    user_data: str  # the rendered cloud-init.yaml; holds no secret
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    root_volume_gb: int
    data_volume: DataVolume | None = None
    reads_secrets: tuple[pulumi.Input[str], ...] = ()  # secret ARNs this machine may read
    reads_objects: tuple[pulumi.Input[str], ...] = ()  # S3 object ARNs this machine may read (HAProxy: its config)
    backups: BucketAccess | None = None
    # Every Neo4j server, read-only (restore.py --cluster): 5.x+ seeds from S3, 4.4's cores download the backup.
    seeds_from: BucketAccess | None = None
    tags: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    metadata_tags: bool = False  # instance tags readable through IMDS (the backup job reads its bucket so)
    public_ip: bool = False
    # Cloud-init runs once per instance, so new user data only takes effect on a new instance.
    # Stateless machines are replaced for it; Neo4j servers never are (see place_machine).
    replace_on_new_user_data: bool = False
    # Prometheus's EC2 service discovery (the monitoring node): "The IAM credentials used must have the
    # ec2:DescribeInstances permission to discover scrape targets, and may optionally have the
    # ec2:DescribeAvailabilityZones permission to make the availability zone ID available as a label"
    # (Prometheus configuration docs, <ec2_sd_config>). Neither action takes a resource ARN: "*".
    discovers_instances: bool = False
    # neo4j:rolloutRelease names this server: `make rollout`'s step for it takes everything held back
    # (a new instance for new user data, image, type or subnet; its volume and DNS record follow).
    released: bool = False


@dataclass(frozen=True)
class Machine:
    instance: aws.ec2.Instance
    role: aws.iam.Role
    data_volume: aws.ebs.Volume | None = None
    data_attachment: aws.ec2.VolumeAttachment | None = None


def instance_ignore_changes(args: MachineArgs) -> list[str]:
    """Stateless machines are replaced for new user data and keep only their image; Neo4j servers hold
    back everything that would restart or replace them (HELD_BACK_ON_SERVERS), unless the rollout released
    this one server for its step."""
    if args.replace_on_new_user_data:
        return ["ami"]
    return [] if args.released else list(HELD_BACK_ON_SERVERS)


def data_volume_options(volume: DataVolume, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Protected (`pulumi up`/`destroy` refuse to delete it) and retained (kept in AWS if Pulumi ever drops
    it from the state), unless the stack opted in with neo4j:dataVolumesDeletable."""
    kept = not volume.deletable
    return pulumi.ResourceOptions(parent=parent, protect=kept, retain_on_delete=kept,
                                  ignore_changes=list(HELD_BACK_ON_DATA_VOLUMES))


def attachment_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    # A replaced instance gets the volume only once the old one let it go: detach first, then attach.
    return pulumi.ResourceOptions(parent=parent, delete_before_replace=True)


def compressed_user_data(text: str) -> str:
    """Base64 of the gzipped cloud-init text (mtime 0: the same text gives the same bytes)."""
    packed = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    if len(packed) > USER_DATA_LIMIT:
        raise ValueError(f"user data is {len(packed)} bytes gzipped; EC2 allows {USER_DATA_LIMIT}")
    return base64.b64encode(packed).decode()


def _fitting_user_data(host: str, text: str) -> str:
    try:
        return compressed_user_data(text)
    except ValueError as error:
        # RunError: one line and no traceback, from `make plan` as from `pulumi up`.
        raise pulumi.RunError(
            f"{host}: {error} (user data, checked before anything is created): fewer or shorter settings of "
            f"neo4j:extraConfig, primaryExtraConfig and secondaryExtraConfig, or fewer neo4j:users and neo4j:plugins, "
            f"make it fit") from None


def ubuntu_image(arch: str, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """The newest Ubuntu 24.04 server image of an architecture, from Canonical's account only."""
    image = aws.ec2.get_ami_output(
        most_recent=True, owners=[UBUNTU_OWNER],
        filters=[{"name": "name", "values": [ubuntu_image_name_pattern(arch)]},
                 {"name": "architecture", "values": [arch]},
                 {"name": "virtualization-type", "values": ["hvm"]}],
        opts=opts)
    return image.id


ASSUME_ROLE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


# What no machine may do to the backup buckets, whatever else its policy allows: an explicit Deny wins over any
# Allow ("An explicit deny in any of these policies overrides the allow", IAM User Guide, "Policies and permissions
# in IAM").
# Deleting or re-tagging (the lifecycle looks at no tag, but nothing on a server needs to tag), setting or extending
# an object's retention or legal hold (S3 User Guide, "S3 Object Lock overview": "set the bucket defaults and deny
# users permission to configure object retention settings"; "Legal holds can be freely placed and removed by any user
# who has the `s3:PutObjectLegalHold` permission"), bypassing governance, and changing the bucket's own protection.
# An overwrite is a PutObject, which the backup job needs: with versioning and Object Lock it adds a version and the
# locked one stays (backup_store.py).
BACKUP_TAMPERING_ACTIONS = (
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
    "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention", "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
    "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutReplicationConfiguration", "s3:DeleteBucket",
)


# Writing an object (a multipart upload and a copy onto it are s3:PutObject too) or replicating one onto it.
TOOLING_WRITE_ACTIONS = ("s3:PutObject", "s3:ReplicateObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl")


def _guard_statements(context: MachineContext) -> list[dict[str, Any]]:
    if not context.backup_bucket_arns:
        return []
    buckets = list(context.backup_bucket_arns)
    objects = [pulumi.Output.concat(arn, "/*") for arn in context.backup_bucket_arns]
    tooling = [pulumi.Output.concat(arn, f"/{TOOLING_PREFIX}*") for arn in context.backup_bucket_arns]
    return [{"Sid": "NeverTamperWithBackups", "Effect": "Deny", "Action": list(BACKUP_TAMPERING_ACTIONS),
             "Resource": buckets + objects},
            # What root runs or loads (the tooling archive, haproxy.cfg): written by the deploy alone. No machine has
            # a grant there; the explicit Deny keeps it so whatever a later grant says.
            {"Sid": "NeverWriteWhatRootRuns", "Effect": "Deny", "Action": list(TOOLING_WRITE_ACTIONS),
             "Resource": tooling}]


# Session Manager and nothing else of Systems Manager: Systems Manager User Guide, "Create a custom IAM instance
# profile for Session Manager", the policy "with permissions for Session Manager and Amazon S3 and CloudWatch Logs":
# "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
# "ssmmessages:OpenDataChannel", "ssm:UpdateInstanceInformation" on "*", and "logs:CreateLogStream",
# "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams" (here on the stack's session log group,
# but DescribeLogGroups, which names no group). No ec2messages (Run Command) and no ssm:GetParameter*.
SESSION_MANAGER_ACTIONS = ("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                           "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                           "ssmmessages:OpenDataChannel")
SESSION_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def session_manager_policy(log_group_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "SessionManager", "Effect": "Allow", "Action": list(SESSION_MANAGER_ACTIONS), "Resource": "*"},
        {"Sid": "FindSessionLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        {"Sid": "WriteSessionLogs", "Effect": "Allow", "Action": list(SESSION_LOG_ACTIONS),
         "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":log-stream:*")]},
    ]})


def _access_statements(args: MachineArgs) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    if args.reads_secrets:
        statements.append({"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": list(args.reads_secrets)})
    if args.reads_objects:
        statements.append({"Sid": "ReadOwnObjects", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": list(args.reads_objects)})
    if args.backups is not None:
        # The backup job checks the bucket and lists earlier backups; the restore drill reads the
        # newest. PutObject covers multipart uploads; Abort lets a failed upload clean up after itself, and
        # the next run finds what an earlier, killed run left unfinished (S3's ListMultipartUploads needs
        # s3:ListBucketMultipartUploads on the bucket, ListParts s3:ListMultipartUploadParts on the objects).
        statements.append({"Sid": "ListBackups", "Effect": "Allow",
                           "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
                           "Resource": args.backups.bucket_arn})
        statements.append({"Sid": "ReadWriteBackups", "Effect": "Allow",
                           "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                      "s3:ListMultipartUploadParts"],
                           "Resource": args.backups.objects_arn})
        statements.append({"Sid": "ReadBackupTooling", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": args.backups.tooling_arn})
    if args.discovers_instances:
        statements.append({"Sid": "DiscoverScrapeTargets", "Effect": "Allow",
                           "Action": ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"], "Resource": "*"})
    if args.seeds_from is not None:
        # restore.py --cluster seeds the restored database on every member from the backup's S3 URI through
        # CloudSeedProvider with this server's own credentials (Operations Manual 5.x, seed-from-uri.adoc): read
        # the objects, and list them, as for a differential backup "the `CloudSeedProvider` searches the
        # directory containing differential backup files for a backup chain". Never write or delete.
        statements.append({"Sid": "ListSeeds", "Effect": "Allow", "Action": "s3:ListBucket",
                           "Resource": args.seeds_from.bucket_arn})
        statements.append({"Sid": "ReadSeeds", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": args.seeds_from.objects_arn})
    return statements


def _key_uses(args: MachineArgs, keys: MachineKeys | None) -> list[tuple[str, str, tuple[str, ...], dict[str, Any]]]:
    """(sid, key, actions, condition) for each key use this machine's reads and writes need: the secrets key for
    its own secrets only, the backup key through S3 for the backup bucket only (keys.py: kms:ViaService and the
    encryption context)."""
    if keys is None:
        return []
    uses = []
    if args.reads_secrets:
        uses.append(("DecryptOwnSecrets", SECRETS, SECRET_READ, secrets_condition(keys.region, args.reads_secrets)))
    if args.backups is not None:
        uses.append(("EncryptBackups", BACKUPS, S3_WRITE, s3_condition(keys.region, [args.backups.bucket_arn])))
    elif args.seeds_from is not None or args.reads_objects:
        # Restores read backups; HAProxy reads its config from the backup bucket (tooling/).
        uses.append(("DecryptBackupBucketObjects", BACKUPS, S3_READ, s3_condition(keys.region,
                                                                                  [keys.backups_bucket_arn])))
    return uses


def place_machine(name: str, args: MachineArgs, context: MachineContext, parent: pulumi.Resource) -> Machine:
    """Role, instance profile, instance and A record, all named `name[-…]` under `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-role", assume_role_policy=ASSUME_ROLE_POLICY,
                        description=f"{context.stack} {args.host}: Session Manager and its own secrets only",
                        opts=child)
    # Session Manager replaces SSH: no key pair, no port 22, every session logged to the stack's log group.
    aws.iam.RolePolicy(f"{name}-ssm", role=role.id, policy=session_manager_policy(context.session_log_group_arn),
                       opts=child)
    key_uses = _key_uses(args, context.keys)
    statements = (_access_statements(args) + _guard_statements(context)
                  + [role_statement(sid, getattr(context.keys, f"{key}_key_arn"), actions, condition)
                     for sid, key, actions, condition in key_uses])
    if context.keys is not None:
        for _, key, actions, _ in key_uses:
            context.keys.users.add(key, actions, role.arn)  # the key's policy names exactly these roles
    boot_reads: list[pulumi.Resource] = []  # what the boot script reads: the instance starts after it exists
    if statements:
        boot_reads.append(aws.iam.RolePolicy(
            f"{name}-access", role=role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}), opts=child))
    profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)

    data_volume = None
    tags: dict[str, pulumi.Input[str]] = {"Name": f"{context.stack}-{args.host}", **args.tags}
    if args.data_volume is not None:
        data_volume = aws.ebs.Volume(
            f"{name}-data", availability_zone=args.data_volume.zone, size=args.data_volume.size_gb, type="gp3",
            encrypted=True,
            tags={"Name": f"{context.stack}-{args.host}-data", "Server": args.host, "Stack": context.stack},
            opts=data_volume_options(args.data_volume, parent))
        tags[DATA_VOLUME_TAG] = data_volume.id
    root = {"volume_type": "gp3", "encrypted": True, "delete_on_termination": True,
            "volume_size": args.root_volume_gb, "tags": {"Name": f"{context.stack}-{args.host}-root"}}
    instance = aws.ec2.Instance(
        name,
        ami=context.image_for(args.instance_type),
        instance_type=args.instance_type,
        subnet_id=args.subnet_id,
        vpc_security_group_ids=[args.security_group_id],
        associate_public_ip_address=args.public_ip,
        iam_instance_profile=profile.name,
        user_data_base64=_fitting_user_data(args.host, args.user_data),
        # Cloud-init reads user data once, so an in-place update would change nothing: new user data means a new
        # instance, at once for a stateless machine, in its rollout step for the held-back ones (Neo4j servers
        # and the HAProxy pair, whose ignore_changes hold it back until then).
        user_data_replace_on_change=True,
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",  # IMDSv2 only
            "http_put_response_hop_limit": 1,  # credentials never leave the host (no containers here)
            "instance_metadata_tags": "enabled" if args.metadata_tags or data_volume else "disabled",
        },
        # The root disk's own tags: volume_tags would fight the data volume's tags.
        root_block_device=root,
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # IAM is eventually consistent and cloud-init starts within seconds: the role's policy (and through
            # the ARNs it names, the secret versions and the tooling object) exist before the instance does.
            depends_on=boot_reads,
            # A newer Ubuntu image must not replace every server at the next `up`; a server moves to
            # a new image, user data, type or subnet only when replaced on purpose, one at a time.
            ignore_changes=instance_ignore_changes(args)),
    )
    attachment = None
    if data_volume is not None:
        # Made after the instance: setup-neo4j.sh waits for the device. Detaching stops the instance
        # first, so Neo4j shuts down cleanly before its store goes.
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-data-attachment", device_name=DATA_DEVICE, volume_id=data_volume.id, instance_id=instance.id,
            stop_instance_before_detaching=True, opts=attachment_options(parent))
    # Low TTL: a replaced machine is found under its old name within a minute.
    aws.route53.Record(name, zone_id=context.dns_zone_id, name=args.hostname, type="A", ttl=60,
                       records=[instance.private_ip], opts=child)
    return Machine(instance, role, data_volume, attachment)


@dataclass(frozen=True)
class NodeArgs:
    """A support machine (HAProxy, monitoring): one instance, its user data, the secrets it reads."""
    node: Node
    instance_type: str
    user_data: str
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    reads_secrets: tuple[pulumi.Input[str], ...]
    context: MachineContext


def place_node(name: str, args: NodeArgs, parent: pulumi.Resource, *, root_volume_gb: int,
               public_ip: bool = False, data_volume: DataVolume | None = None,
               discovers_instances: bool = False) -> Machine:
    # Support machines are replaced for a config change; the state one keeps (Prometheus's time series)
    # is on a data volume, which follows it to the new instance.
    return place_machine(
        f"{name}-{args.node.name}",
        MachineArgs(host=args.node.name, hostname=args.node.hostname, instance_type=args.instance_type,
                    user_data=args.user_data, subnet_id=args.subnet_id, security_group_id=args.security_group_id,
                    root_volume_gb=root_volume_gb, data_volume=data_volume, reads_secrets=args.reads_secrets,
                    public_ip=public_ip, discovers_instances=discovers_instances,
                    replace_on_new_user_data=True),
        args.context, parent)
