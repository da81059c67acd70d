"""S3 keeps backups for as long as the stack config says: the lifecycle rules of the backup bucket in
the offline plan (scripts/plan.py) against neo4j:backupRetentionDays and the transition settings.

backup.py relies on these rules: S3 retention is the bucket's lifecycle, and an interrupted
multipart upload is cleaned up by the AbortIncompleteMultipartUpload rule.
"""
from __future__ import annotations

import pytest

from tests.conftest import ROOT, stack_config
from tests.support.plans import make_plan

LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
AWS_STACKS = [name for name in ("prod", "dev") if (ROOT / f"Pulumi.{name}.yaml").exists()]


@pytest.fixture(scope="module", params=AWS_STACKS)
def planned(request, tmp_path_factory):
    stack = request.param
    plan = make_plan(stack, stack, stack_config(stack), tmp_path_factory.mktemp(f"plan-{stack}") / "out")
    return plan.settings, plan.document


def lifecycle_rules(plan: dict) -> list[tuple[str, dict]]:
    return [(r["name"], rule) for r in plan["resources"] if r["type"] == LIFECYCLE for rule in r["inputs"]["rules"]]


def test_the_backup_bucket_has_lifecycle_rules(planned):
    settings, plan = planned
    assert lifecycle_rules(plan), (f"stack {settings.stack}: no {LIFECYCLE} in the plan; the AWS adapter's "
                                   f"BackupStore must give the backup bucket its lifecycle")


def test_backups_expire_after_the_configured_retention(planned):
    settings, plan = planned
    for name, rule in lifecycle_rules(plan):
        assert rule["status"] == "Enabled", name
        assert rule["expiration"]["days"] == settings.backup_retention_days, name
        prefix = (rule.get("filter") or {}).get("prefix", "")
        assert f"{settings.stack}/neo4j/".startswith(prefix), f"{name}: the rule must cover {settings.stack}/"


def test_backups_move_to_the_colder_class_only_when_configured(planned):
    settings, plan = planned
    for name, rule in lifecycle_rules(plan):
        transitions = rule.get("transitions") or []
        if settings.backup_transition_days:
            assert transitions == [{"days": settings.backup_transition_days,
                                    "storageClass": settings.backup_transition_storage_class}], name
        else:
            assert transitions == [], name


def test_unfinished_multipart_uploads_are_cleaned_up(planned):
    _, plan = planned
    for name, rule in lifecycle_rules(plan):
        days = (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation")
        assert days and days <= 7, f"{name}: an interrupted backup's parts would be kept (and billed) forever"


def test_overwritten_or_deleted_backup_versions_expire_as_configured(planned):
    settings, plan = planned
    for name, rule in lifecycle_rules(plan):
        kept = (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
        assert kept == settings.backup_noncurrent_days, name
