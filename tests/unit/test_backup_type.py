"""backup.py --type full|diff (the two timers of Enterprise 5.26 and 2025), with the stand-in Enterprise
neo4j-admin (tests/fixtures/enterprise/fake_neo4j_admin.py) and S3 in moto."""
from __future__ import annotations

from datetime import timedelta

import pytest

from scripts.neo4j_ops.backup import make_backup
from scripts.neo4j_ops.backup.commands import backup_parser
from scripts.neo4j_ops.shared.errors import UsageError
from tests.support.backup_standins import NOW, GivenNeo4j, manifest_of


def run(admin, staging, when, kind, log=lambda _: None) -> dict:
    """On the local chain (--via-staging; S3 is moto in this process, out of the stand-in's reach): 5.26's default
    --type full straight to S3, and its --type diff on the local chain, are in test_backup_chains.py."""
    return make_backup.run_backup(make_backup.BackupOptions(
        bucket="backups", stack="prod", database="neo4j", neo4j=GivenNeo4j(), admin=admin, region="us-east-1",
        source="replica-2.prod.neo4j.internal:6362", staging=staging, local_retention_days=30, full_every_days=7,
        log=log, now=lambda: when, kind=kind, via_staging=True))


def test_full_starts_a_new_chain_and_diff_extends_it(s3, admin, tmp_path):
    staging, said = tmp_path / "staging", []
    first = run(admin, staging, NOW, kind="full")
    diff = run(admin, staging, NOW + timedelta(minutes=15), kind="diff")
    full = run(admin, staging, NOW + timedelta(minutes=30), kind="full", log=said.append)
    assert [first["type"], diff["type"], full["type"]] == ["full", "differential", "full"]
    assert manifest_of(s3, diff["backup"])["chain"] == first["backup"]
    assert manifest_of(s3, diff["backup"])["method"] == "neo4j-admin database backup --type=DIFF"
    assert manifest_of(s3, full["backup"])["chain"] == full["backup"]  # not onto the 30-minute-old chain
    assert any("--type full: starting a new chain" in line for line in said)


def test_diff_without_a_complete_chain_takes_a_full_backup_and_says_so(s3, admin, tmp_path):
    said = []
    result = run(admin, tmp_path / "staging", NOW, kind="diff", log=said.append)
    assert result["type"] == "full"
    assert any("no complete chain to extend: taking a FULL backup" in line for line in said)


def test_type_parses_full_diff_auto_and_nothing_else(capsys):
    assert backup_parser().parse_args(["--stack", "p", "--type", "diff"]).kind == "diff"
    assert backup_parser().parse_args(["--stack", "p"]).kind == "auto"
    with pytest.raises(SystemExit) as exit_:
        backup_parser().parse_args(["--stack", "p", "--type", "FULL"])
    assert exit_.value.code == 2


def test_type_with_a_dump_is_refused():
    from scripts.neo4j_ops.backup.commands import _backup
    args = backup_parser().parse_args(["--stack", "p", "--bucket", "b", "--type", "diff", "--method", "dump"])
    with pytest.raises(UsageError, match="--type diff is for an online backup"):
        _backup(args, print)
