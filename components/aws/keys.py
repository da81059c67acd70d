"""Customer-managed KMS keys (issue 26, item 5): one for the backup bucket, one for the Secrets Manager secrets,
and one in the replica's region for a replica bucket this account owns.

Each key's policy lets the account (root) administer it, never use it (so the deploy, through its IAM permissions,
manages it), and names the exact principals that use it: the machine roles `place_machine` granted a use
(`KeyUsers`), the replication role and the deploy's own principal, each narrowed to the one service
(`kms:ViaService`) and to this stack's buckets or secrets (`kms:EncryptionContext:…`). KMS Developer Guide,
"kms:ViaService": "The kms:ViaService condition key limits use of an AWS KMS key to requests from specified AWS
services." The encryption contexts: S3 with an S3 Bucket Key passes the bucket's ARN (S3 User Guide, "Replicating
encrypted objects": "When an S3 bucket key is enabled for the source and destination bucket, the encryption
context will be the bucket ARN and not the object ARN"); Secrets Manager passes the secret's ARN under
`SecretARN` (Secrets Manager User Guide, "Secret encryption and decryption", encryption context).

The machine roles carry the same conditions in their own policies (machine.py): a key use needs both.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

BACKUPS = "backups"
SECRETS = "secrets"
REPLICA = "replica"
# A scheduled deletion can be cancelled for this many days (KMS allows 7 to 30): the longest there is, since a
# deleted key makes every backup and secret it encrypted unreadable for good.
KEY_DELETION_WINDOW_DAYS = 30
# Managing the key, never using it: no kms:Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*.
KEY_ADMIN_ACTIONS = (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
)
KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
# Reading an SSE-KMS object; writing one. S3 User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)":
# "To upload or download an object encrypted with an AWS KMS key to or from Amazon S3, you need kms:GenerateDataKey
# and kms:Decrypt permissions on the key" (a multipart upload decrypts the data key for each part).
S3_READ = ("kms:Decrypt",)
S3_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")
# Reading a secret; putting a new version of one (the deploy).
SECRET_READ = ("kms:Decrypt",)
SECRET_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")


def via(service: str, region: str) -> str:
    return f"{service}.{region}.amazonaws.com"


def s3_condition(region: str, bucket_arns: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    """Only through S3 in `region`, only for these buckets (their S3 Bucket Keys' encryption context)."""
    return {"StringEquals": {"kms:ViaService": via("s3", region),
                             "kms:EncryptionContext:aws:s3:arn": list(bucket_arns)}}


def secrets_condition(region: str, secret_arns: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    """Only through Secrets Manager in `region`, only for these secrets."""
    return {"StringEquals": {"kms:ViaService": via("secretsmanager", region),
                             "kms:EncryptionContext:SecretARN": list(secret_arns)}}


def role_statement(sid: str, key_arn: pulumi.Input[str], actions: Sequence[str],
                   condition: dict[str, Any]) -> dict[str, Any]:
    """An identity-policy statement granting a key use (machine roles, the replication role)."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": key_arn, "Condition": condition}


@dataclass(frozen=True)
class KeyUse:
    """One statement of a key policy: these principals may do these actions under this condition."""
    sid: str
    principals: tuple[pulumi.Input[str], ...]
    actions: tuple[str, ...]
    condition: dict[str, Any]


def key_policy(account_root: pulumi.Input[str], uses: Sequence[KeyUse]) -> dict[str, Any]:
    """The account administers the key (KMS Developer Guide, "Default key policy": the account's IAM policies then
    decide who of it may); only the named principals use it."""
    statements: list[dict[str, Any]] = [{
        "Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": account_root},
        "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*"}]
    for use in uses:
        if use.principals:
            statements.append({"Sid": use.sid, "Effect": "Allow", "Principal": {"AWS": list(use.principals)},
                               "Action": list(use.actions), "Resource": "*", "Condition": use.condition})
    return {"Version": "2012-10-17", "Statement": statements}


class KeyUsers:
    """Who was granted which use of which key, as `place_machine` grants it: the key policies name exactly these
    roles. Filled while the machines are placed, read once by `EncryptionKeys.apply_policies`."""

    def __init__(self) -> None:
        self._grants: dict[tuple[str, tuple[str, ...]], list[pulumi.Input[str]]] = {}

    def add(self, key: str, actions: Sequence[str], role_arn: pulumi.Input[str]) -> None:
        self._grants.setdefault((key, tuple(actions)), []).append(role_arn)

    def of(self, key: str) -> dict[tuple[str, ...], tuple[pulumi.Input[str], ...]]:
        """actions → the roles granted them, for one key."""
        return {actions: tuple(roles) for (name, actions), roles in self._grants.items() if name == key}


@dataclass(frozen=True)
class MachineKeys:
    """What a machine's role needs to use the stack's keys (machine.py)."""
    region: str
    backups_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    backups_bucket_arn: pulumi.Input[str]  # the primary backup bucket: the encryption context of its objects
    users: KeyUsers


def deploy_principal(opts: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """The IAM principal running this deploy: an assumed role's role ARN (path included), a user's own ARN.
    It uploads the tooling archive and writes the secrets, so it uses the backup and secrets keys."""
    caller = aws.get_caller_identity_output(opts=opts)
    return aws.iam.get_session_context_output(arn=caller.arn, opts=opts).issuer_arn


@dataclass(frozen=True)
class EncryptionKeysArgs:
    stack: str
    replica_region: str = ""  # "": no replica key here (no replica, or one in another account)


def _key(name: str, description: str, parent: pulumi.Resource, region: str | None = None) -> aws.kms.Key:
    # KMS Developer Guide, "Rotate AWS KMS keys": with automatic rotation on, KMS makes new key material every
    # year and keeps the old, so everything encrypted earlier still decrypts.
    return aws.kms.Key(name, description=description, enable_key_rotation=True,
                       deletion_window_in_days=KEY_DELETION_WINDOW_DAYS, region=region,
                       opts=pulumi.ResourceOptions(parent=parent))


class EncryptionKeys(pulumi.ComponentResource):
    backups: aws.kms.Key
    secrets: aws.kms.Key
    replica: aws.kms.Key | None

    def __init__(self, name: str, args: EncryptionKeysArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:EncryptionKeys", name, None, opts)
        self._name = name
        self.backups = _key(f"{name}-backups-key", f"{args.stack}: the Neo4j backup bucket (SSE-KMS)", self)
        self.secrets = _key(f"{name}-secrets-key", f"{args.stack}: the Neo4j cluster's Secrets Manager secrets", self)
        self.replica = (_key(f"{name}-replica-key", f"{args.stack}: the Neo4j backup replica bucket (SSE-KMS)",
                             self, region=args.replica_region) if args.replica_region else None)
        self._replica_region = args.replica_region
        for label, key in ((BACKUPS, self.backups), (SECRETS, self.secrets)):
            aws.kms.Alias(f"{name}-{label}-key", name=f"alias/neo4j-cluster/{args.stack}/{label}",
                          target_key_id=key.arn, opts=pulumi.ResourceOptions(parent=self))
        if self.replica is not None:
            aws.kms.Alias(f"{name}-{REPLICA}-key", name=f"alias/neo4j-cluster/{args.stack}/{REPLICA}",
                          target_key_id=self.replica.arn, region=args.replica_region,
                          opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"backupsKeyArn": self.backups.arn, "secretsKeyArn": self.secrets.arn})

    def apply_policies(self, *, account_root: pulumi.Input[str], deploy: pulumi.Input[str], region: str,
                       users: KeyUsers, bucket_arn: pulumi.Input[str], secret_arns: Sequence[pulumi.Input[str]],
                       replication: Sequence[KeyUse] = (), replica: Sequence[KeyUse] = ()) -> None:
        """The keys' policies, once every role that uses them exists. `replication`: the replication role's use of
        the backup key; `replica`: its use of the replica key (this account's replica bucket)."""
        backups = [KeyUse("DeployWritesTooling", (deploy,), S3_WRITE, s3_condition(region, [bucket_arn]))]
        for actions, roles in users.of(BACKUPS).items():
            writes = "GenerateDataKey" in " ".join(actions)
            backups.append(KeyUse("MachinesWriteBackups" if writes else "MachinesReadBackups", roles, actions,
                                  s3_condition(region, [bucket_arn])))
        backups += list(replication)
        secrets = [KeyUse("DeployWritesSecrets", (deploy,), SECRET_WRITE, secrets_condition(region, secret_arns))]
        for actions, roles in users.of(SECRETS).items():
            secrets.append(KeyUse("MachinesReadOwnSecrets", roles, actions, secrets_condition(region, secret_arns)))
        policies = [(BACKUPS, self.backups, backups, None), (SECRETS, self.secrets, secrets, None)]
        if self.replica is not None:
            policies.append((REPLICA, self.replica, list(replica), self._replica_region))
        for label, key, uses, key_region in policies:
            aws.kms.KeyPolicy(f"{self._name}-{label}-key", key_id=key.arn, region=key_region,
                              policy=pulumi.Output.json_dumps(key_policy(account_root, uses)),
                              opts=pulumi.ResourceOptions(parent=self))
