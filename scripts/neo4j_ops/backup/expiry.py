"""Never zero backups in S3: which objects the bucket's lifecycle rule may expire.

The rule (components/aws/backup_store.py) expires, under <stack>/, only objects tagged EXPIRABLE_TAG
(`expirable=true`), after neo4j:backupRetentionDays. An age-only rule would delete every backup once
backups have failed for longer than the retention. So after a run whose backup is complete (and its
consistency check did not fail), every object of every backup older than the full backup the newest
restorable chain starts with is tagged; the objects of that chain and of anything newer are left
untagged (or re-marked `expirable=false`, should an earlier run have tagged them: when the newest chain
is later found damaged, the one before it becomes the newest and must not expire). Nothing is ever deleted
here; re-runs change nothing.

Tagging an existing object needs s3:PutObjectTagging and s3:GetObjectTagging on the backup role.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..shared.backup_objects import EXPIRABLE_TAG
from ..shared.errors import BackupError, describe
from .layout import Backup, object_key
from .s3 import list_backups


@dataclass(frozen=True)
class ExpiryPlan:
    keep_from: str | None  # timestamp of the full backup of the newest restorable chain; None: there is none
    expirable: tuple[Backup, ...]  # every backup older than keep_from
    kept: tuple[Backup, ...]  # keep_from and everything newer


def plan_expiry(backups: list[Backup]) -> ExpiryPlan:
    """Pure. A backup whose check failed, or whose chain is incomplete, is not restorable, so it never
    decides what is kept: only the newest restorable one does (with the whole chain it needs)."""
    usable = [b for b in backups if b.restorable]
    if not usable:
        return ExpiryPlan(None, (), tuple(backups))
    keep_from = usable[-1].chain_start
    return ExpiryPlan(keep_from, tuple(b for b in backups if b.timestamp < keep_from),
                      tuple(b for b in backups if b.timestamp >= keep_from))


def _has_tag(tags: list[dict]) -> bool:
    key, value = EXPIRABLE_TAG
    return any(t.get("Key") == key and t.get("Value") == value for t in tags)


def tag_expirable(s3, bucket: str, stack: str, database: str, log: Callable[[str], None] = print) -> dict:
    """Tag the objects of the backups older than the newest restorable chain expirable=true; untag the rest.
    Returns what was done; BackupError (naming the permission) when S3 refuses."""
    from botocore.exceptions import BotoCoreError, ClientError

    plan = plan_expiry(list_backups(s3, bucket, stack, database))
    if plan.keep_from is None:
        log(f"expiry: no restorable backup of {database!r} in s3://{bucket}/{stack}/{database}/: nothing is "
            f"tagged {'='.join(EXPIRABLE_TAG)}, so nothing expires")
        return {"keep_from": None, "tagged": 0, "untagged": 0, "already": 0}
    tagged = untagged = already = 0
    key_name, value = EXPIRABLE_TAG
    try:
        for backup, expire in [(b, True) for b in plan.expirable] + [(b, False) for b in plan.kept]:
            for name in backup.names:
                key = object_key(stack, database, backup.timestamp, name)
                tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
                if _has_tag(tags) == expire:
                    already += expire
                    continue
                others = [t for t in tags if t.get("Key") != key_name]
                # Un-marking sets the value to "false" (the rule matches only "true"): PutObjectTagging alone,
                # no s3:DeleteObjectTagging, and the object's other tags are kept either way.
                new = others + [{"Key": key_name, "Value": value if expire else "false"}]
                s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": new})
                if expire:
                    tagged += 1
                else:
                    untagged += 1
                    log(f"expiry: {key} belongs to the newest restorable chain: marked {key_name}=false")
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"tagging the objects of old backups in s3://{bucket}/{stack}/{database}/ failed: "
                          f"{describe(error)}; the backup role needs s3:GetObjectTagging and s3:PutObjectTagging "
                          f"(old backups do not expire until this works; none is at risk)") from None
    log(f"expiry: {len(plan.expirable)} backup(s) older than chain {plan.keep_from} marked "
        f"{key_name}={value} ({tagged} object(s) tagged now, {already} already); the newest restorable chain "
        f"({len(plan.kept)} backup(s) from {plan.keep_from} on) stays untagged and never expires")
    return {"keep_from": plan.keep_from, "tagged": tagged, "untagged": untagged, "already": already,
            "expirable_backups": [b.timestamp for b in plan.expirable]}
