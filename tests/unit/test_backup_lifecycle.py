"""S3 keeps backups for as long as the stack config says, and never fewer than one: the lifecycle rules of
the backup bucket (and of its replica) in the offline plan (scripts/plan.py) against
neo4j:backupRetentionDays and the transition settings.

backup.py relies on these rules: S3 retention is the bucket's lifecycle, an interrupted multipart upload is
cleaned up by the AbortIncompleteMultipartUpload rule, and only objects the job tagged expirable (older chains
with a newer complete one) expire by age, so the newest complete backup of every database survives even when
backups fail for longer than the retention.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from scripts.neo4j_ops.shared.backup_objects import EXPIRABLE_TAG
from tests.conftest import ROOT, stack_config
from tests.support.plans import make_plan

LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
AWS_STACKS = [name for name in ("prod", "dev") if (ROOT / f"Pulumi.{name}.yaml").exists()]


@pytest.fixture(scope="module", params=AWS_STACKS)
def planned(request, tmp_path_factory):
    stack = request.param
    plan = make_plan(stack, stack, stack_config(stack), tmp_path_factory.mktemp(f"plan-{stack}") / "out")
    return plan.settings, plan.document


def lifecycle_rules(plan: dict) -> list[tuple[str, dict]]:
    return [(r["name"], rule) for r in plan["resources"] if r["type"] == LIFECYCLE for rule in r["inputs"]["rules"]]


def of_type(plan: dict, resource_type: str) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == resource_type}


def rule_prefix(rule: dict) -> str:
    found = rule.get("filter") or {}
    return (found.get("and") or found).get("prefix", "")


def rule_tags(rule: dict) -> dict:
    return ((rule.get("filter") or {}).get("and") or {}).get("tags") or {}


def test_the_backup_bucket_has_lifecycle_rules(planned):
    settings, plan = planned
    assert lifecycle_rules(plan), (f"stack {settings.stack}: no {LIFECYCLE} in the plan; the AWS adapter's "
                                   f"BackupStore must give the backup bucket its lifecycle")


def test_every_rule_covers_the_stack_prefix_only(planned):
    settings, plan = planned
    for name, rule in lifecycle_rules(plan):
        assert rule["status"] == "Enabled", name
        assert rule_prefix(rule) == f"{settings.stack}/", f"{name}: the rule must cover {settings.stack}/ only " \
                                                          f"(the tooling object beside it never expires)"


def test_only_objects_tagged_expirable_expire_after_the_retention(planned):
    settings, plan = planned
    key, value = EXPIRABLE_TAG
    expiring = [(name, rule) for name, rule in lifecycle_rules(plan) if (rule.get("expiration") or {}).get("days")]
    assert expiring, "no rule expires superseded backups: the bucket would grow forever"
    for name, rule in expiring:
        assert rule["expiration"]["days"] == settings.backup_retention_days, name
        assert rule_tags(rule) == {key: value}, (f"{name}: a rule that expires current objects by age alone "
                                                 f"deletes the newest backup too once backups fail for "
                                                 f"{settings.backup_retention_days} days")


def test_backups_move_to_the_colder_class_only_when_configured(planned):
    settings, plan = planned
    transitions = [t for _, rule in lifecycle_rules(plan) for t in rule.get("transitions") or []]
    if settings.backup_transition_days:
        assert {json.dumps(t, sort_keys=True) for t in transitions} == {json.dumps(
            {"days": settings.backup_transition_days, "storageClass": settings.backup_transition_storage_class},
            sort_keys=True)}
    else:
        assert transitions == []


def test_unfinished_multipart_uploads_are_cleaned_up(planned):
    _, plan = planned
    per_bucket: dict[str, list] = {}
    for name, rule in lifecycle_rules(plan):
        days = (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation")
        per_bucket.setdefault(name, []).append(days)
        if days:
            assert not rule_tags(rule), f"{name}: S3 refuses AbortIncompleteMultipartUpload in a tag-filtered rule"
    for name, days in per_bucket.items():
        assert any(d and d <= 7 for d in days), f"{name}: an interrupted backup's parts would be kept forever"


def test_overwritten_or_deleted_backup_versions_expire_as_configured(planned):
    settings, plan = planned
    per_bucket: dict[str, set] = {}
    for name, rule in lifecycle_rules(plan):
        kept = (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
        if kept is not None:
            per_bucket.setdefault(name, set()).add(kept)
    assert per_bucket and all(v == {settings.backup_noncurrent_days} for v in per_bucket.values()), per_bucket


def test_the_backup_role_may_tag_its_own_backups(planned):
    settings, plan = planned
    policies = of_type(plan, ROLE_POLICY)
    backup_server = next(name for name in policies if name.endswith("-access")
                         and "s3:PutObject" in policies[name]["policy"])
    statements = json.loads(policies[backup_server]["policy"])["Statement"]
    tagging = [s for s in statements if "s3:PutObjectTagging" in s["Action"]]
    assert tagging, f"{backup_server}: the job cannot tag superseded chains expirable"
    (statement,) = tagging
    assert set(statement["Action"]) == {"s3:PutObjectTagging", "s3:GetObjectTagging"}
    assert statement["Resource"].endswith(f"/{settings.stack}/*"), "tagging only under the stack's prefix"
    others = [name for name in policies if name != backup_server and name.endswith("-access")
              and "ObjectTagging" in policies[name]["policy"]]
    assert not others, f"only the backup server tags backups: {others}"


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
    assert {"s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging", "s3:ReplicateObject",
            "s3:ReplicateTags", "s3:GetReplicationConfiguration"} <= actions
    assert config["role"].endswith("cluster-backups-replication")
    # The replica keeps the same never-zero lifecycle.
    replica_rules = [rule for name, rule in lifecycle_rules(document) if name == replica[0]]
    assert any(rule_tags(r) == dict([EXPIRABLE_TAG]) and r["expiration"].get("days") for r in replica_rules)


# --- the rules, applied: S3's filter semantics over a bucket whose backups stopped -------------------


def _matches(rule: dict, key: str, tags: dict[str, str]) -> bool:
    """S3 User Guide, intro-lifecycle-filters: combined filter elements are a logical AND; a tag filter
    applies to objects that have all its tags (more tags do not matter)."""
    return key.startswith(rule_prefix(rule)) and all(tags.get(k) == v for k, v in rule_tags(rule).items())


def _expired(rules: list[dict], key: str, tags: dict[str, str], age_days: int) -> bool:
    return any(rule["status"] == "Enabled" and _matches(rule, key, tags)
               and (rule.get("expiration") or {}).get("days") is not None
               and age_days >= rule["expiration"]["days"] for rule in rules)


def test_backups_failing_for_longer_than_the_retention_leave_the_newest_backup(planned):
    settings, plan = planned
    rules = [rule for name, rule in lifecycle_rules(plan) if name == "cluster-backups"]
    now = datetime(2026, 6, 1, tzinfo=UTC)
    retention = settings.backup_retention_days
    # Daily backups until 3 x retention ago, then none: the job tagged every older chain once a newer one existed.
    stamps = [now - timedelta(days=3 * retention + n) for n in range(10)]
    newest = max(stamps)
    objects = {f"{settings.stack}/neo4j/{s:%Y%m%dT%H%M%SZ}/{name}": (s, {} if s == newest else dict([EXPIRABLE_TAG]))
               for s in stamps for name in ("neo4j.dump", "manifest.json")}
    objects["tooling/neo4j-cluster-tooling.tar.gz"] = (now - timedelta(days=999), {})
    left = {key for key, (made, tags) in objects.items() if not _expired(rules, key, tags, (now - made).days)}
    assert left == {f"{settings.stack}/neo4j/{newest:%Y%m%dT%H%M%SZ}/neo4j.dump",
                    f"{settings.stack}/neo4j/{newest:%Y%m%dT%H%M%SZ}/manifest.json",
                    "tooling/neo4j-cluster-tooling.tar.gz"}


def test_the_simulation_sees_an_age_only_rule_delete_everything():
    # The check above can fail: yesterday's rule (prefix only) expires the newest backup too.
    age_only = [{"status": "Enabled", "filter": {"prefix": "prod/"}, "expiration": {"days": 30}}]
    assert _expired(age_only, "prod/neo4j/20260101T020000Z/neo4j.dump", {}, 31)
