"""Backup chains per line, every artifact checked, earlier backups left as they are, from recorded enterprise
responses.

No Enterprise server is here: neo4j-admin is tests/fixtures/enterprise/fake_neo4j_admin.py, which prints
what the Operations Manual records for `neo4j-admin database backup` (5.x, 2025) and `neo4j-admin backup`
(4.4) and plays the rules the manual states (a DIFF needs a full in its directory; a differential cannot
be checked until aggregated; 4.4 moves a folder it cannot increment to <db>.err.N); the outputs it prints
and which of them are derived are in tests/fixtures/enterprise/neo4j-admin-backup.json. S3 is moto's
server on 127.0.0.1 (the stand-in, a separate process, writes to it for the 5.26 and 2025 straight-to-S3 path);
the server's answers (version, edition, counts, SHOW DATABASES) are given.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.neo4j_ops.backup import make_backup
from scripts.neo4j_ops.backup.admin import AdminTool
from scripts.neo4j_ops.backup.layout import choose
from scripts.neo4j_ops.backup.retention import plan_retention, read_chains
from scripts.neo4j_ops.backup.s3 import list_backups
from scripts.neo4j_ops.facts import Counts, ServerFacts, ServerSpec
from scripts.neo4j_ops.shared.errors import BackupError
from tests.conftest import ENTERPRISE

FAKE_ADMIN = ENTERPRISE / "fake_neo4j_admin.py"
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
VERSIONS = {"5": "5.26.30", "4.4": "4.4.41", "2025": "2025.10.1"}
SCENARIOS = {"5": "cluster-5.26-healthy", "4.4": "cluster-4.4-healthy", "2025": "cluster-5.26-healthy"}


def show_databases(scenario: str) -> list[dict]:
    document = json.loads((ENTERPRISE / f"{scenario}.json").read_text())
    return document["endpoints"]["core-1"]["responses"]["show_databases"]["records"]


class GivenNeo4j:
    uri = "bolt://x:7687"

    def __init__(self, line: str):
        self.answers = ServerFacts(ServerSpec("local", self.uri), version=VERSIONS[line], edition="enterprise",
                                   servers=[{"name": f"server-{n}"} for n in (1, 2, 3)], counts=Counts(50, 40),
                                   databases=show_databases(SCENARIOS[line]))

    def facts(self, database: str) -> ServerFacts:
        return self.answers

    def port_open(self) -> bool:
        return True


@pytest.fixture
def s3(moto_endpoint, aws_env, request):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = "b-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{id(request) % 10000}"
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    return client


@pytest.fixture
def flags(tmp_path) -> Path:
    path = tmp_path / "flags"
    path.mkdir()
    return path


def admin_for(line: str, flags: Path) -> AdminTool:
    return AdminTool([sys.executable, str(FAKE_ADMIN)],
                     extra_env={"FAKE_NEO4J_FLAGS": str(flags), "FAKE_NEO4J_LINE": line})


def run(s3, moto_endpoint, line: str, flags: Path, staging: Path, when: datetime, **extra) -> dict:
    notes: list[str] = []
    options = make_backup.BackupOptions(
        bucket=s3.bucket, stack="prod", database="neo4j", neo4j=GivenNeo4j(line), admin=admin_for(line, flags),
        endpoint_url=moto_endpoint, region="us-east-1", source="auto", staging=staging, local_retention_days=30,
        full_every_days=7, log=notes.append, now=lambda: when, **extra)
    try:
        result = make_backup.run_backup(options)
    except BackupError as error:
        error.notes = notes
        raise
    result["notes"] = notes
    return result


def manifest_of(s3, stamp: str) -> dict:
    return json.loads(s3.get_object(Bucket=s3.bucket, Key=f"prod/neo4j/{stamp}/manifest.json")["Body"].read())


def calls(flags: Path) -> list[list[str]]:
    return [json.loads(line) for line in (flags / "calls").read_text().splitlines()]


def day(n: int) -> datetime:
    return NOW + timedelta(days=n)


# --- 5.x's local chain (--via-staging; --type diff): FULL, then DIFF; a broken chain starts a new one -------


def chain_run(s3, moto_endpoint, flags: Path, staging: Path, when: datetime) -> dict:
    """A 5.26 run that keeps the local chain (backup.py --via-staging), as its differentials do."""
    return run(s3, moto_endpoint, "5", flags, staging, when, via_staging=True)


def test_5x_chain_full_then_differentials_each_checked_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = chain_run(s3, moto_endpoint, flags, staging, day(0))
    second = chain_run(s3, moto_endpoint, flags, staging, day(1))
    assert (first["type"], second["type"]) == ("full", "differential")
    assert first["check"] == second["check"] == "passed"
    backups = [a for a in calls(flags) if a[:2] == ["database", "backup"]]
    assert [a[4] for a in backups] == ["--type=FULL", "--type=DIFF"]
    # The differential is checked after its chain is aggregated in scratch space (a differential alone
    # cannot be checked), and the chain's own artifacts are untouched.
    assert [a[:2] for a in calls(flags)][-2:] == [["database", "aggregate-backup"], ["database", "check"]]
    chain = staging / "neo4j" / first["backup"]
    assert len(list(chain.glob("*.backup"))) == 2 and not list((staging / "neo4j").glob("check-*"))
    m2 = manifest_of(s3, second["backup"])
    assert m2["check"] == "passed" and "aggregated" in m2["check_detail"]
    assert [p["timestamp"] for p in m2["parents"]] == [first["backup"]]
    report = s3.get_object(Bucket=s3.bucket, Key=f"prod/neo4j/{second['backup']}/check-report.txt")["Body"].read()
    assert b"aggregate-backup" in report and b"exit status: 0" in report


def test_5x_differential_whose_logs_are_pruned_falls_back_to_a_new_full_chain_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = chain_run(s3, moto_endpoint, flags, staging, day(0))
    (flags / "pruned").touch()
    second = chain_run(s3, moto_endpoint, flags, staging, day(1))
    assert second["type"] == "full" and manifest_of(s3, second["backup"])["parents"] == []
    said = [n for n in second["notes"] if "starting a new chain" in n]
    assert len(said) == 1 and f"onto chain {first['backup']} failed" in said[0]
    assert "transaction logs needed for a differential" in said[0]
    assert sorted(p.name for p in (staging / "neo4j").iterdir()) == [first["backup"], second["backup"]]
    (flags / "pruned").unlink()
    third = chain_run(s3, moto_endpoint, flags, staging, day(2))
    assert third["type"] == "differential"
    assert [p["timestamp"] for p in manifest_of(s3, third["backup"])["parents"]] == [second["backup"]]


def test_5x_damaged_local_chain_starts_a_new_chain_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = chain_run(s3, moto_endpoint, flags, staging, day(0))
    chain_run(s3, moto_endpoint, flags, staging, day(1))
    full = next(iter(sorted((staging / "neo4j" / first["backup"]).glob("*.backup"))))
    full.write_bytes(b"truncated")  # the full artifact no longer matches its manifest
    third = chain_run(s3, moto_endpoint, flags, staging, day(2))
    assert third["type"] == "full"
    assert any("is damaged" in n and "starting a new chain" in n for n in third["notes"])


def test_5x_a_backup_that_fails_its_check_is_marked_never_chosen_and_ends_its_chain_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = chain_run(s3, moto_endpoint, flags, staging, day(0))
    (flags / "inconsistent").touch()
    with pytest.raises(BackupError, match="failed its consistency check") as failed:
        chain_run(s3, moto_endpoint, flags, staging, day(1))
    bad = make_backup.make_timestamp(day(1))
    assert manifest_of(s3, bad)["check"] == "failed"
    report = s3.get_object(Bucket=s3.bucket, Key=f"prod/neo4j/{bad}/check-report.txt")["Body"].read()
    assert b"The referenced relationship record is not in use" in report  # the .report file, kept
    backups = list_backups(s3, s3.bucket, "prod", "neo4j")
    assert [b.status for b in backups] == ["complete", "failed-check"]
    assert choose(backups)[0].timestamp == first["backup"]
    with pytest.raises(LookupError, match="failed-check.*newest complete one before it is " + first["backup"]):
        choose(backups, bad)
    assert "check-report.txt" in str(failed.value)
    # Local staging does not count it as complete, and the next run does not build on it.
    chains = read_chains(staging / "neo4j")
    assert chains[0].runs == (first["backup"],)
    (flags / "inconsistent").unlink()
    third = chain_run(s3, moto_endpoint, flags, staging, day(2))
    assert third["type"] == "full" and any("failed its consistency check" in n for n in third["notes"])


def test_no_check_is_recorded_as_skipped_in_the_manifest(s3, moto_endpoint, flags, tmp_path):
    made = run(s3, moto_endpoint, "5", flags, tmp_path / "staging", day(0), check=False)
    written = manifest_of(s3, made["backup"])
    assert written["check"] == "skipped" and "--no-check" in written["check_detail"]
    assert not [a for a in calls(flags) if a[:2] == ["database", "check"]]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert not [k for k in keys if k.endswith("check-report.txt")]


# --- 4.4: incremental into the folder, falling back to full ---------------------------------------------


def test_44_incremental_then_fallback_to_full_from_recorded_enterprise_4_4(s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = run(s3, moto_endpoint, "4.4", flags, staging, day(0))
    second = run(s3, moto_endpoint, "4.4", flags, staging, day(1))
    assert manifest_of(s3, first["backup"])["method"].startswith("neo4j-admin backup (full;")
    assert manifest_of(s3, second["backup"])["method"].startswith("neo4j-admin backup (incremental;")
    backups = [a for a in calls(flags) if a[:1] == ["backup"]]
    assert all("--fallback-to-full=true" in a and "--check-consistency=true" in a for a in backups)
    assert first["check"] == second["check"] == "passed"
    assert first["type"] == second["type"] == "full"  # each upload is the whole folder, restorable alone
    (flags / "pruned").touch()
    third = run(s3, moto_endpoint, "4.4", flags, staging, day(2))
    assert manifest_of(s3, third["backup"])["method"].startswith("neo4j-admin backup (full, after the incremental")
    said = [n for n in third["notes"] if "fell back to a full backup" in n]
    assert len(said) == 1 and "neo4j.err.0" in said[0]
    assert not list((staging / "neo4j").rglob("neo4j.err.*"))


def test_44_backup_whose_own_check_finds_inconsistencies_is_marked_failed_from_recorded_enterprise_4_4(
        s3, moto_endpoint, flags, tmp_path):
    (flags / "inconsistent").touch()
    with pytest.raises(BackupError, match="failed its consistency check"):
        run(s3, moto_endpoint, "4.4", flags, tmp_path / "staging", day(0))
    stamp = make_backup.make_timestamp(day(0))
    written = manifest_of(s3, stamp)
    assert written["check"] == "failed" and "exit 3" in written["check_detail"]
    assert [b.status for b in list_backups(s3, s3.bucket, "prod", "neo4j")] == ["failed-check"]


# --- 5.26 and 2025: straight to S3 ----------------------------------------------------------------------


@pytest.mark.parametrize("line", ["5", "2025"])
def test_5_26_and_2025_back_up_straight_to_s3_and_check_it_there_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path, line):
    """Operations Manual 5.x, online-backup.adoc: "The `--to-path=<path>` option can also back up databases into AWS
    S3 buckets (from Neo4j 5.19), Google Cloud storage buckets (from Neo4j 5.21), and Azure buckets (from 5.24)";
    `--temp-path` "(Introduced in 5.24)". So 5.26, like 2025, writes its full backup straight to the prefix."""
    staging = tmp_path / "staging"
    staging.mkdir()
    made = run(s3, moto_endpoint, line, flags, staging, day(0))
    stamp = made["backup"]
    backup_call = next(a for a in calls(flags) if a[:2] == ["database", "backup"])
    assert f"--to-path=s3://{s3.bucket}/prod/neo4j/{stamp}/" in backup_call and "--type=FULL" in backup_call
    assert any(a.startswith(f"--temp-path={staging}") for a in backup_call)
    check_call = next(a for a in calls(flags) if a[:2] == ["database", "check"])
    assert f"--from-path=s3://{s3.bucket}/prod/neo4j/{stamp}/" in check_call
    written = manifest_of(s3, stamp)
    assert written["check"] == "passed" and written["backup_type"] == "full"
    artifact = s3.get_object(Bucket=s3.bucket, Key=f"prod/neo4j/{stamp}/{written['files'][0]['name']}")
    import hashlib

    assert hashlib.sha256(artifact["Body"].read()).hexdigest() == written["files"][0]["sha256"]
    assert list(staging.rglob("*")) == [staging / "neo4j"]  # nothing staged, the temp path removed
    assert choose(list_backups(s3, s3.bucket, "prod", "neo4j"))[0].timestamp == stamp


@pytest.mark.parametrize("line", ["5", "2025"])
def test_the_full_timer_backs_up_straight_to_s3_and_the_diff_timer_extends_the_local_chain(
        s3, moto_endpoint, flags, tmp_path, line):
    """neo4j-backup.timer (--type full) and neo4j-backup-diff.timer (--type diff) on 5.26 and 2025: a differential
    needs its chain in the directory it writes to, and each backup straight to S3 has a prefix of its own."""
    staging = tmp_path / "staging"
    staging.mkdir()
    full = run(s3, moto_endpoint, line, flags, staging, day(0), kind="full")
    diffs = [run(s3, moto_endpoint, line, flags, staging, day(0) + timedelta(minutes=m), kind="diff")
             for m in (15, 30)]
    backups = [c for c in calls(flags) if c[:2] == ["database", "backup"]]
    targets = [next(a for a in c if a.startswith("--to-path=")) for c in backups]
    assert targets == [f"--to-path=s3://{s3.bucket}/prod/neo4j/{full['backup']}/",
                       f"--to-path={staging / 'neo4j' / diffs[0]['backup']}",
                       f"--to-path={staging / 'neo4j' / diffs[0]['backup']}"]
    # The first --type diff finds no local chain: a full one starts it, and says so.
    assert [d["type"] for d in diffs] == ["full", "differential"]
    assert any("differentials extend the local chain" in n for n in diffs[0]["notes"])
    assert manifest_of(s3, diffs[1]["backup"])["chain"] == diffs[0]["backup"]


def test_2025_via_staging_keeps_the_local_chain_from_recorded_enterprise_responses(s3, moto_endpoint, flags, tmp_path):
    staging = tmp_path / "staging"
    first = run(s3, moto_endpoint, "2025", flags, staging, day(0), via_staging=True)
    second = run(s3, moto_endpoint, "2025", flags, staging, day(1), via_staging=True)
    assert (first["type"], second["type"]) == ("full", "differential")


def test_2025_backup_whose_upload_fails_leaves_no_manifest_from_recorded_enterprise_responses(
        s3, moto_endpoint, flags, tmp_path):
    """Fault ("manifest written last" on the online path): neo4j-admin fails after writing part of the
    backup to S3: no manifest, so the prefix is incomplete, never restored and keeps nothing from expiring."""
    first = run(s3, moto_endpoint, "2025", flags, tmp_path, day(0))
    (flags / "fail-after-write").touch()
    with pytest.raises(BackupError, match="failed \\(exit 1\\)"):
        run(s3, moto_endpoint, "2025", flags, tmp_path, day(1))
    failed = make_backup.make_timestamp(day(1))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])]
    assert [k.rsplit("/", 1)[1].endswith(".backup") for k in keys if failed in k] == [True]  # the partial write
    assert [b.status for b in list_backups(s3, s3.bucket, "prod", "neo4j")] == ["complete", "incomplete"]
    assert choose(list_backups(s3, s3.bucket, "prod", "neo4j"))[0].timestamp == first["backup"]


# --- never zero backups: the bucket's Object Lock and age, not the job ---------------------------------------


def test_a_run_leaves_every_earlier_backup_in_s3_as_it_was(s3, moto_endpoint, flags, tmp_path):
    """The job never marks, re-tags or deletes what earlier runs wrote: every machine role is denied
    s3:PutObjectTagging and the bucket expires backups by age alone once their Object Lock ends, so the newest
    chain outlives the retention after the last backup (tests/unit/test_backup_lifecycle.py). Two chains, then
    backups that fail their check for weeks: no object is tagged, none changes, and no run warns about it."""
    staging = tmp_path / "staging"
    written = {}
    for n in (0, 1, 9, 10):
        result = run(s3, moto_endpoint, "5", flags, staging, day(n))
        assert "expiry" not in result and not [note for note in result["notes"] if "warning" in note or "expir" in note]
        written.update({o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]})
    (flags / "inconsistent").touch()
    for n in range(11, 60, 7):
        with pytest.raises(BackupError):
            run(s3, moto_endpoint, "5", flags, staging, day(n))
    now = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert {key: now.get(key) for key in written} == written
    assert {key: s3.get_object_tagging(Bucket=s3.bucket, Key=key)["TagSet"] for key in now} == {key: [] for key in now}


def test_retention_ignores_failed_check_runs_as_complete(tmp_path):
    from scripts.neo4j_ops.backup.retention import Chain

    good = Chain("20250101T000000Z", NOW - timedelta(days=90), ("20250101T000000Z",))
    failed_only = Chain("20250201T000000Z", NOW - timedelta(days=60), ())  # its one run failed its check
    decisions = plan_retention([good, failed_only], NOW, 3)
    assert [d.delete for d in decisions] == [False, True]
    assert replace(good).complete and not failed_only.complete


def test_44_online_backup_whose_upload_fails_leaves_no_manifest_from_recorded_enterprise_4_4(
        s3, moto_endpoint, flags, tmp_path, monkeypatch):
    """Fault ("manifest written last" on the online path, 4.4): the folder's tar upload is refused."""
    from tests.support.backup_standins import Refusing

    staging = tmp_path / "staging"
    first = run(s3, moto_endpoint, "4.4", flags, staging, day(0))
    real_client = make_backup.client
    monkeypatch.setattr(make_backup, "client", lambda *a, **k: Refusing(
        real_client(*a, **k), lambda name, kw: name in ("put_object", "upload_part") and
        kw.get("Key", "").endswith(".tar")))
    with pytest.raises(BackupError, match="upload to s3://.*failed"):
        run(s3, moto_endpoint, "4.4", flags, staging, day(1))
    failed = make_backup.make_timestamp(day(1))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])]
    assert [k for k in keys if failed in k] == []
    chain = staging / "neo4j" / first["backup"]
    assert sorted(p.name for p in chain.glob("manifest-*.json")) == [f"manifest-{first['backup']}.json"]
