"""S3 keeps backups for as long as the stack config says, nobody on a server can make that shorter, and the
newest chain outlives the retention after the last backup: the backup buckets' Object Lock, lifecycle rules and
the guard on every machine role in the offline plan (scripts/plan.py), and the same rules applied in moto's S3.

Object Lock (COMPLIANCE) keeps every object version for neo4j:backupRetentionDays + one full-backup interval from
its creation; the lifecycle expires current objects at that age, by age alone (no tag: the backup job's old
`expirable=true` tag was a way for a compromised server to expire everything), and removes old versions only after
their lock. An interrupted multipart upload is cleaned up by the AbortIncompleteMultipartUpload rule.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from components.settings import FULL_EVERY_DAYS
from tests.conftest import ROOT, stack_config
from tests.support.plans import make_plan

LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def lifecycle_rules(plan: dict) -> list[tuple[str, dict]]:
    return [(r["name"], rule) for r in plan["resources"] if r["type"] == LIFECYCLE for rule in r["inputs"]["rules"]]


def of_type(plan: dict, resource_type: str) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == resource_type}


def rule_prefix(rule: dict) -> str:
    found = rule.get("filter") or {}
    return (found.get("and") or found).get("prefix", "")


def rule_tags(rule: dict) -> dict:
    return ((rule.get("filter") or {}).get("and") or {}).get("tags") or {}


def test_the_backup_bucket_has_lifecycle_rules(aws_stack_plan):
    settings, plan = aws_stack_plan
    assert lifecycle_rules(plan), (f"stack {settings.stack}: no {LIFECYCLE} in the plan; the AWS adapter's "
                                   f"BackupStore must give the backup bucket its lifecycle")


def test_every_rule_covers_the_stack_prefix_only(aws_stack_plan):
    settings, plan = aws_stack_plan
    for name, rule in lifecycle_rules(plan):
        assert rule["status"] == "Enabled", name
        assert rule_prefix(rule) == f"{settings.stack}/", f"{name}: the rule must cover {settings.stack}/ only " \
                                                          f"(the tooling object beside it never expires)"


def lock_days(plan: dict) -> dict[str, tuple[str, int]]:
    """Bucket resource name → (mode, days) of its default retention."""
    return {name: (inputs["rule"]["defaultRetention"]["mode"], int(inputs["rule"]["defaultRetention"]["days"]))
            for name, inputs in of_type(plan, OBJECT_LOCK).items()}


def test_every_backup_bucket_is_created_with_object_lock_in_compliance_mode(aws_stack_plan):
    # S3 User Guide, "S3 Object Lock overview": "In compliance mode, a protected object version can't be
    # overwritten or deleted by any user, including the root user in your AWS account. [...] its retention period
    # can't be shortened." Governance mode yields to s3:BypassGovernanceRetention, which a compromised account role
    # has. "You can only enable Object Lock for new buckets": objectLockEnabled is on the Bucket itself.
    settings, plan = aws_stack_plan
    buckets = of_type(plan, BUCKET)
    assert buckets and all(inputs.get("objectLockEnabled") is True for inputs in buckets.values()), buckets
    locks = lock_days(plan)
    assert set(locks) == set(buckets), "every backup bucket needs its default retention"
    for name, (mode, days) in locks.items():
        assert mode == "COMPLIANCE", name
        assert days == settings.backup_retention_days + settings.backup_chain_days, name
        assert of_type(plan, OBJECT_LOCK)[name]["objectLockEnabled"] == "Enabled"


def test_current_backups_expire_by_age_alone_when_their_lock_ends(aws_stack_plan):
    settings, plan = aws_stack_plan
    expiring = [(name, rule) for name, rule in lifecycle_rules(plan) if (rule.get("expiration") or {}).get("days")]
    assert expiring, "no rule expires old backups: the bucket would grow forever"
    assert {name for name, _ in expiring} == set(of_type(plan, BUCKET))
    locks = lock_days(plan)
    for name, rule in expiring:
        assert rule["expiration"]["days"] == locks[name][1] >= settings.backup_retention_days, name
    for name, rule in lifecycle_rules(plan):
        assert not rule_tags(rule), (f"{name}: a tag-filtered rule lets whoever may tag (a server) decide what "
                                     f"expires")


def test_full_backup_interval_is_the_backup_jobs():
    from scripts.neo4j_ops.backup.backup_run import BackupOptions

    (default,) = [f.default for f in dataclasses.fields(BackupOptions) if f.name == "full_every_days"]
    assert FULL_EVERY_DAYS == default, "a longer chain than the lock covers breaks when its full expires"
    # The timer's job runs the default.
    assert "--full-every-days" not in (ROOT / "templates" / "backup" / "neo4j-backup.sh.j2").read_text()


def test_backups_move_to_the_colder_class_only_when_configured(aws_stack_plan):
    settings, plan = aws_stack_plan
    transitions = [t for _, rule in lifecycle_rules(plan) for t in rule.get("transitions") or []]
    if settings.backup_transition_days:
        assert {json.dumps(t, sort_keys=True) for t in transitions} == {json.dumps(
            {"days": settings.backup_transition_days, "storageClass": settings.backup_transition_storage_class},
            sort_keys=True)}
    else:
        assert transitions == []


def test_unfinished_multipart_uploads_are_cleaned_up(aws_stack_plan):
    _, plan = aws_stack_plan
    per_bucket: dict[str, list] = {}
    for name, rule in lifecycle_rules(plan):
        days = (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation")
        per_bucket.setdefault(name, []).append(days)
        if days:
            assert not rule_tags(rule), f"{name}: S3 refuses AbortIncompleteMultipartUpload in a tag-filtered rule"
    for name, days in per_bucket.items():
        assert any(d and d <= 7 for d in days), f"{name}: an interrupted backup's parts would be kept forever"


def test_overwritten_or_deleted_backup_versions_expire_as_configured(aws_stack_plan):
    settings, plan = aws_stack_plan
    per_bucket: dict[str, set] = {}
    for name, rule in lifecycle_rules(plan):
        kept = (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
        if kept is not None:
            per_bucket.setdefault(name, set()).add(kept)
    assert per_bucket and all(v == {settings.backup_noncurrent_days} for v in per_bucket.values()), per_bucket


def test_no_machine_may_delete_tag_relock_or_reconfigure_backups(aws_stack_plan):
    # IAM User Guide, "Policies and permissions in IAM": "An explicit deny in any of these policies overrides the
    # allow." S3 User Guide, "S3 Object Lock overview", tip: "set the bucket defaults and deny users permission to
    # configure object retention settings".
    settings, plan = aws_stack_plan
    policies = {name: json.loads(inputs["policy"]) for name, inputs in of_type(plan, ROLE_POLICY).items()
                if name.endswith("-access")}
    bucket_arns = {f"arn:aws:mock:::{name}" for name in of_type(plan, BUCKET)}
    instances = {r["name"] for r in plan["resources"] if r["type"] == "aws:ec2/instance:Instance"}
    assert {name.removesuffix("-access") for name in policies} == instances, "every machine has its guard"
    for name, document in policies.items():
        (guard,) = [s for s in document["Statement"] if s.get("Sid") == "NeverTamperWithBackups"]
        assert guard["Effect"] == "Deny"
        assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:PutObjectRetention",
                "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention", "s3:PutLifecycleConfiguration",
                "s3:PutBucketObjectLockConfiguration"} <= set(guard["Action"])
        assert set(guard["Resource"]) == bucket_arns | {f"{arn}/*" for arn in bucket_arns}, name
        allowed = {a for s in document["Statement"] if s["Effect"] == "Allow"
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not allowed & {"s3:PutObjectTagging", "s3:DeleteObject", "s3:PutObjectRetention"}, name


def test_prod_keeps_an_off_site_replica_that_is_really_wired(tmp_path):
    plan = make_plan("prod", "prod", stack_config("prod"), tmp_path / "out")
    settings, document = plan.settings, plan.document
    assert settings.backup_replica_region and settings.backup_replica_region != settings.region
    buckets = of_type(document, BUCKET)
    replica = [name for name, inputs in buckets.items() if inputs.get("region") == settings.backup_replica_region]
    assert len(replica) == 1, f"no bucket in {settings.backup_replica_region}: {buckets}"
    versioning = of_type(document, VERSIONING)
    assert len(versioning) == 2 and all(v["versioningConfiguration"]["status"] == "Enabled"
                                        for v in versioning.values()), "S3 replicates only between versioned buckets"
    (config,) = of_type(document, REPLICATION).values()
    (rule,) = config["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": f"{settings.stack}/"}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["destination"]["bucket"].endswith(replica[0])
    role_policy = json.loads(of_type(document, ROLE_POLICY)["cluster-backups-replication"]["policy"])
    actions = {a for s in role_policy["Statement"] for a in s["Action"]}
    # S3 User Guide, "Managing Object Lock": "The Amazon S3 destination bucket must have Object Lock enabled on it"
    # and the replication role needs "s3:GetObjectRetention and s3:GetObjectLegalHold".
    assert {"s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging", "s3:ReplicateObject",
            "s3:ReplicateTags", "s3:GetReplicationConfiguration", "s3:GetObjectRetention",
            "s3:GetObjectLegalHold"} <= actions
    assert config["role"].endswith("cluster-backups-replication")
    assert buckets[replica[0]]["objectLockEnabled"] is True
    assert lock_days(document)[replica[0]] == lock_days(document)["cluster-backups"]
    # The replica keeps the same lifecycle.
    replica_rules = [rule for name, rule in lifecycle_rules(document) if name == replica[0]]
    primary_rules = [rule for name, rule in lifecycle_rules(document) if name == "cluster-backups"]
    assert replica_rules == primary_rules


# --- the rules, applied: S3's lifecycle and Object Lock over a bucket whose backups stopped -------------------


def _matches(rule: dict, key: str) -> bool:
    return key.startswith(rule_prefix(rule))


def _current_expiry(rules: list[dict], key: str) -> int | None:
    days = [rule["expiration"]["days"] for rule in rules if rule["status"] == "Enabled" and _matches(rule, key)
            and (rule.get("expiration") or {}).get("days") is not None]
    return min(days) if days else None


def _noncurrent_expiry(rules: list[dict], key: str) -> int | None:
    days = [rule["noncurrentVersionExpiration"]["noncurrentDays"] for rule in rules
            if rule["status"] == "Enabled" and _matches(rule, key) and rule.get("noncurrentVersionExpiration")]
    return min(days) if days else None


def _version_gone(rules: list[dict], lock: int, key: str, age_days: int) -> bool:
    """Whether an object version made `age_days` ago is permanently gone. Expiry makes a current version
    noncurrent (a delete marker on top); the noncurrent expiry removes it that many days later, but never while it
    is locked: "protected object versions remain safe from being deleted or overwritten by a lifecycle
    configuration" (S3 User Guide, "Managing Object Lock")."""
    current = _current_expiry(rules, key)
    if current is None or age_days < current:
        return False
    noncurrent = _noncurrent_expiry(rules, key)
    return noncurrent is not None and age_days >= max(current + noncurrent, lock)


def _is_current(rules: list[dict], key: str, age_days: int) -> bool:
    current = _current_expiry(rules, key)
    return current is None or age_days < current


def _chains(stack: str, last: datetime, days: int, interval: int) -> dict[str, datetime]:
    """Daily enterprise backups up to `last`, a full one every `interval` days: key → made."""
    objects = {}
    for n in range(days):
        made = last - timedelta(days=n)
        kind = "full" if (days - 1 - n) % interval == 0 else "diff"
        objects[f"{stack}/neo4j/{made:%Y%m%dT%H%M%SZ}/{kind}.backup"] = made
    return objects


def _newest_chain(objects: dict[str, datetime]) -> set[str]:
    ordered = sorted(objects, key=objects.get)
    start = max(i for i, key in enumerate(ordered) if key.endswith("full.backup"))
    return set(ordered[start:])


def test_the_newest_chain_stays_whole_and_current_for_the_retention_after_backups_stop(aws_stack_plan):
    settings, plan = aws_stack_plan
    rules = [rule for name, rule in lifecycle_rules(plan) if name == "cluster-backups"]
    lock = lock_days(plan)["cluster-backups"][1]
    retention = settings.backup_retention_days
    last = datetime(2026, 6, 1, tzinfo=UTC)
    interval = settings.backup_chain_days
    for offset in range(interval):  # backups stop anywhere in a chain
        objects = _chains(settings.stack, last, 3 * retention + offset, interval)
        newest = _newest_chain(objects)
        for days_after in (0, retention // 2, retention):
            now = last + timedelta(days=days_after)
            current = {k for k, made in objects.items() if _is_current(rules, k, (now - made).days)}
            assert newest <= current, (offset, days_after, sorted(newest - current))
            kept = {k for k, made in objects.items() if not _version_gone(rules, lock, k, (now - made).days)}
            assert newest <= kept
        # Older chains do go: the bucket does not grow forever.
        long_after = last + timedelta(days=lock + settings.backup_noncurrent_days + 1)
        assert not {k for k, made in objects.items() if not _version_gone(rules, lock, k, (long_after - made).days)}


def test_the_simulation_sees_a_chain_break_when_the_expiry_is_the_bare_retention():
    # The check above can fail: expiring at the retention alone drops a full backup its newest differentials need.
    bare = [{"status": "Enabled", "filter": {"prefix": "prod/"}, "expiration": {"days": 30}}]
    objects = _chains("prod", datetime(2026, 6, 1, tzinfo=UTC), 40, 7)
    newest = _newest_chain(objects)
    now = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=30)
    assert not newest <= {k for k, made in objects.items() if _is_current(bare, k, (now - made).days)}


def test_a_replaced_or_dropped_backup_bucket_stays_in_aws_with_its_backups():
    # Object Lock forces a replacement of an existing bucket ("You can only enable Object Lock for new buckets",
    # S3 User Guide, "S3 Object Lock overview"): the old bucket, full of backups, must not be deleted by it.
    from components.aws.backup_store import bucket_options

    options = bucket_options(parent=None)
    assert options.retain_on_delete is True and not options.protect


def test_the_plan_summary_names_each_backup_buckets_object_lock(tmp_path):
    from scripts.neo4j_ops.plan.summary import summary

    plan = make_plan("prod", "prod", stack_config("prod"), tmp_path / "out")
    text = summary(plan.settings, plan.topology, plan.rendered, plan.document, plan.out)
    days = plan.settings.backup_retention_days + plan.settings.backup_chain_days
    assert f"Object Lock cluster-backups: COMPLIANCE {days} days" in text
    assert f"Object Lock cluster-backups-replica: COMPLIANCE {days} days" in text


@pytest.mark.parametrize(("overrides", "chain_days"), [
    ({"edition": "enterprise", "version": "5.26.30"}, 7),  # the default full backup: Sundays
    ({"edition": "enterprise", "version": "2025.10.1", "backupFullSchedule": "*-*-01 02:00:00 UTC"}, 31),
    ({"edition": "enterprise", "version": "5.26.30", "backupFullSchedule": "*-*-* 02:00:00 UTC"}, 1),
    ({"edition": "enterprise", "version": "4.4.46"}, FULL_EVERY_DAYS),  # backup.py --full-every-days
    ({"edition": "community", "coreCount": 1, "replicaCount": 0}, FULL_EVERY_DAYS),
])
def test_a_chain_lasts_the_longest_gap_between_full_backups_and_the_lock_covers_it(overrides, chain_days):
    # A monthly full backup makes chains of up to 31 days: a lock of retention + 7 would let a full backup expire
    # while the differentials of its last three weeks still need it.
    from components.aws.backup_store import object_lock_days
    from tests.conftest import make_settings

    settings = make_settings(**overrides)
    assert settings.backup_chain_days == chain_days
    assert object_lock_days(settings.backup_retention_days, settings.backup_chain_days) == \
        settings.backup_retention_days + chain_days
