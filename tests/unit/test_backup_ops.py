"""The pure core of scripts/neo4j_ops/backup: manifests, which backup a restore picks, retention, neo4j-admin
arguments, the drill server's neo4j.conf, part sizes; and the scripts' command lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.neo4j_ops.backup.layout import (
    MANIFEST,
    MANIFEST_KEYS,
    Counts,
    FileEntry,
    Manifest,
    ManifestError,
    Parent,
    catalog,
    choose,
    group_keys,
    parse_manifest,
    parse_time,
    timestamp,
)
from scripts.neo4j_ops.backup.retention import Chain, plan_retention
from scripts.neo4j_ops.backup.s3 import DEFAULT_PART, MAX_PARTS, part_size_for
from scripts.neo4j_ops.backup.scratch import scratch_conf, scratch_ports_needed
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025, LINES, Version
from tests.conftest import ROOT
from tests.support.neo4j_settings import SETTINGS_DIR as SETTINGS_LISTS
from tests.support.ops_scripts import script

SHA = "a" * 64
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def manifest(stamp: str, backup_type: str = "dump", parents: tuple[Parent, ...] = (), name: str = "neo4j.dump",
             sha: str = SHA, exact: bool = True) -> Manifest:
    return Manifest(stack="prod", database="neo4j", timestamp=stamp, backup_type=backup_type,
                    method="neo4j-admin database dump --to-stdout", neo4j_version="5.26.30", edition="community",
                    version_line="5", files=(FileEntry(name, 123, sha),), counts=Counts(10, 9), counts_exact=exact,
                    started="2025-03-01T02:00:00Z", completed="2025-03-01T02:01:00Z", host="core-1", parents=parents)


# --- manifest ------------------------------------------------------------------------------------------


def test_manifest_round_trips_and_holds_every_documented_key():
    original = manifest("20250301T020000Z")
    document = json.loads(original.to_json())
    assert tuple(document) == MANIFEST_KEYS
    assert document["size"] == 123 and document["sha256"] == SHA
    assert document["counts"] == {"nodes": 10, "relationships": 9}
    assert parse_manifest(original.to_json()) == original


@pytest.mark.parametrize(("change", "problem"), [
    ({"format": 2}, "format 2"),
    ({"backup_type": "snapshot"}, "backup_type"),
    ({"files": []}, "non-empty"),
    ({"files": [{"name": "../etc/passwd", "size": 1, "sha256": SHA}]}, "bad file name"),
    ({"files": [{"name": "neo4j.dump", "size": 1, "sha256": "xyz"}]}, "bad size or sha256"),
    ({"counts": {"nodes": "10", "relationships": 9}}, "'nodes'"),
    ({"counts_exact": "yes"}, "counts_exact"),
    ({"size": 999}, "sum of the files"),
    ({"backup_type": "differential", "parents": []}, "without parents"),
    ({"check": "maybe"}, "check 'maybe' is not one of passed, failed, skipped"),
    ({"check_detail": 5}, "'check_detail' is not text"),
])
def test_a_damaged_manifest_is_refused_saying_what_is_wrong(change, problem):
    document = json.loads(manifest("20250301T020000Z").to_json())
    document.update(change)
    with pytest.raises(ManifestError, match=problem):
        parse_manifest(json.dumps(document))


def test_a_manifest_under_the_wrong_prefix_is_refused():
    with pytest.raises(ManifestError, match="sits under"):
        parse_manifest(manifest("20250301T020000Z").to_json(), expect_timestamp="20250302T020000Z")
    with pytest.raises(ManifestError, match="not JSON"):
        parse_manifest(b"\x00garbage")


def test_timestamps_sort_in_time_order_and_parse_both_ways():
    assert timestamp(NOW) == "20250301T020000Z"
    assert parse_time("20250301T020000Z") == NOW == parse_time("2025-03-01T03:00:00+01:00")
    with pytest.raises(ValueError, match="is not a time"):
        parse_time("yesterday")


# --- which backup -------------------------------------------------------------------------------------


def keys_of(*stamps_and_names: tuple[str, str]) -> list[str]:
    return [f"prod/neo4j/{stamp}/{name}" for stamp, name in stamps_and_names]


def test_backups_without_a_manifest_are_incomplete_and_never_chosen():
    groups = group_keys(keys_of(("20250101T020000Z", "neo4j.dump"), ("20250101T020000Z", MANIFEST),
                                ("20250102T020000Z", "neo4j.dump"), ("junk", "x"), ("20250103T020000Z", "a/b")),
                        "prod", "neo4j")
    assert sorted(groups) == ["20250101T020000Z", "20250102T020000Z"]
    backups = catalog(groups, {"20250101T020000Z": manifest("20250101T020000Z")})
    assert [b.status for b in backups] == ["complete", "incomplete"]
    chosen, why = choose(backups)
    assert chosen.timestamp == "20250101T020000Z" and "newest complete" in why


def test_unreadable_manifest_or_missing_object_makes_a_backup_incomplete():
    groups = {"20250101T020000Z": [MANIFEST], "20250102T020000Z": [MANIFEST, "neo4j.dump"]}
    backups = catalog(groups, {"20250101T020000Z": manifest("20250101T020000Z"),
                               "20250102T020000Z": ManifestError("not JSON")})
    assert backups[0].status == "incomplete" and "missing object(s) neo4j.dump" in backups[0].problem
    assert backups[1].status == "incomplete" and "unreadable manifest" in backups[1].problem
    with pytest.raises(LookupError, match="complete backups: none"):
        choose(backups)


def test_a_differential_needs_every_earlier_backup_of_its_chain():
    full = manifest("20250101T020000Z", "full", name="neo4j-1.backup")
    diff = manifest("20250102T020000Z", "differential", name="neo4j-2.backup",
                    parents=(Parent(full.timestamp, full.files),))
    groups = {full.timestamp: [MANIFEST, "neo4j-1.backup"], diff.timestamp: [MANIFEST, "neo4j-2.backup"]}
    assert choose(catalog(groups, {full.timestamp: full, diff.timestamp: diff}))[0].timestamp == diff.timestamp

    expired = catalog({diff.timestamp: groups[diff.timestamp]}, {diff.timestamp: diff})
    assert "needs backup 20250101T020000Z of its chain, which is gone" in expired[0].problem

    replaced = manifest(full.timestamp, "full", name="neo4j-1.backup", sha="b" * 64)
    mixed = catalog(groups, {full.timestamp: replaced, diff.timestamp: diff})
    assert "not the one it was made on" in mixed[1].problem


def test_a_manifest_written_before_checks_counts_as_skipped():
    document = json.loads(manifest("20250301T020000Z").to_json())
    del document["check"], document["check_detail"]
    old = parse_manifest(json.dumps(document))
    assert old.check == "skipped" and old.check_detail == "made before backups were checked"


def test_a_failed_check_is_never_chosen_nor_are_the_differentials_built_on_it():
    full = replace(manifest("20250101T020000Z", "full", name="neo4j-1.backup"), check="passed")
    bad = replace(manifest("20250102T020000Z", "differential", name="neo4j-2.backup",
                           parents=(Parent(full.timestamp, full.files),)), check="failed", check_detail="exit 1")
    later = replace(manifest("20250103T020000Z", "differential", name="neo4j-3.backup",
                             parents=(Parent(full.timestamp, full.files), Parent(bad.timestamp, bad.files))),
                    check="passed")
    groups = {m.timestamp: [MANIFEST, m.files[0].name] for m in (full, bad, later)}
    backups = catalog(groups, {m.timestamp: m for m in (full, bad, later)})
    assert [b.status for b in backups] == ["complete", "failed-check", "unrestorable"]
    assert "consistency check failed (exit 1" in backups[1].problem
    assert "needs backup 20250102T020000Z of its chain, which is failed-check" in backups[2].problem
    assert choose(backups)[0].timestamp == full.timestamp
    assert [b.chain_start for b in backups] == [full.timestamp] * 3


def test_at_takes_an_exact_backup_or_the_newest_before_a_time_and_refuses_incomplete_ones():
    groups = {"20250101T020000Z": [MANIFEST, "neo4j.dump"], "20250102T020000Z": [MANIFEST, "neo4j.dump"],
              "20250103T020000Z": ["neo4j.dump"]}
    backups = catalog(groups, {s: manifest(s) for s in ("20250101T020000Z", "20250102T020000Z")})
    assert choose(backups, "20250101T020000Z")[0].timestamp == "20250101T020000Z"
    assert choose(backups, "2025-01-02T12:00:00Z")[0].timestamp == "20250102T020000Z"
    with pytest.raises(LookupError, match="20250103T020000Z is incomplete.*before it is 20250102T020000Z"):
        choose(backups, "20250103T020000Z")
    with pytest.raises(LookupError, match="no complete backup at or before 2024"):
        choose(backups, "2024-12-31T00:00:00Z")


# --- local retention ------------------------------------------------------------------------------------


def chain(name: str, age_days: float, runs: tuple[str, ...] = ()) -> Chain:
    return Chain(name, NOW - timedelta(days=age_days), runs)


def test_retention_keeps_the_newest_complete_backup_whatever_its_age():
    chains = [chain("20250101T020000Z", 59, ("20250101T020000Z",)),
              chain("20250105T020000Z", 55, ("20250105T020000Z", "20250106T020000Z")),
              chain("20250110T020000Z", 50)]  # newer, but never uploaded
    decisions = {d.chain.name: d for d in plan_retention(chains, NOW, days=3)}
    assert decisions["20250101T020000Z"].delete
    assert not decisions["20250105T020000Z"].delete
    assert "always kept" in decisions["20250105T020000Z"].reason
    assert decisions["20250110T020000Z"].delete and "incomplete" in decisions["20250110T020000Z"].reason


def test_retention_keeps_recent_chains_and_deletes_nothing_when_nothing_is_complete_and_recent():
    decisions = plan_retention([chain("20250227T020000Z", 1), chain("20250228T020000Z", 0.5, ("x",))], NOW, 3)
    assert not any(d.delete for d in decisions)
    assert plan_retention([], NOW, 3) == []


def local_manifest(stamp: str, name: str = "neo4j-x.backup", size: int = 8) -> str:
    full = manifest(stamp, "full", name=name)
    return Manifest(**{**full.__dict__, "files": (FileEntry(name, size, SHA),), "chain": stamp}).to_json()


def test_prune_only_deletes_old_chains_on_disk_but_never_the_newest_complete_one(tmp_path):
    database = tmp_path / "neo4j"
    old = int((datetime.now(UTC) - timedelta(days=40)).timestamp())
    for name, uploaded in (("20240101T020000Z", True), ("20240102T020000Z", True), ("20240103T020000Z", False)):
        folder = database / name
        folder.mkdir(parents=True)
        (folder / "neo4j-x.backup").write_bytes(b"artifact")
        if uploaded:
            (folder / f"manifest-{name}.json").write_text(local_manifest(name))
        for path in (folder / "neo4j-x.backup", *folder.glob("manifest-*"), folder):
            os.utime(path, (old, old))
    (database / "lost+found").mkdir()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "backup.py"), "--stack", "prod", "--prune-only",
                             "--staging-dir", str(tmp_path), "--local-retention-days", "30", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pruned": ["20240101T020000Z", "20240103T020000Z"],
                                         "kept": ["20240102T020000Z"]}
    assert sorted(p.name for p in database.iterdir()) == ["20240102T020000Z", "lost+found"]


@pytest.mark.parametrize("broken", ["", "{}", "{not json", "wrong-size", "wrong-timestamp", "missing-artifact"])
def test_an_empty_or_unreadable_local_manifest_never_makes_a_broken_chain_the_newest_complete(tmp_path, broken):
    """Fault: a manifest written on a full disk (empty, truncated) made its broken chain "newest complete",
    and the real newest complete chain was deleted. Every manifest is parsed and checked against the disk."""
    from scripts.neo4j_ops.backup.retention import prune

    database = tmp_path / "neo4j"
    old = int((datetime.now(UTC) - timedelta(days=40)).timestamp())
    good, bad = "20240101T020000Z", "20240105T020000Z"
    for name in (good, bad):
        folder = database / name
        folder.mkdir(parents=True)
        (folder / "neo4j-x.backup").write_bytes(b"artifact")
    (database / good / f"manifest-{good}.json").write_text(local_manifest(good))
    text = {"wrong-size": local_manifest(bad, size=9), "wrong-timestamp": local_manifest(good),
            "missing-artifact": local_manifest(bad, name="neo4j-y.backup")}.get(broken, broken)
    (database / bad / f"manifest-{bad}.json").write_text(text)
    for path in database.rglob("*"):
        os.utime(path, (old, old))
    decisions = {d.chain.name: d for d in prune(tmp_path, "neo4j", 30, datetime.now(UTC), log=lambda _: None)}
    assert not decisions[good].delete and "newest complete" in decisions[good].reason
    assert decisions[bad].delete and "incomplete" in decisions[bad].reason
    assert (database / good).is_dir() and not (database / bad).exists()


def test_an_object_whose_size_is_not_its_manifests_makes_the_backup_incomplete():
    """Fault: --list showed a backup whose object no longer matched its manifest's size as complete."""
    stamp = "20250101T020000Z"
    groups = {stamp: [MANIFEST, "neo4j.dump"]}
    backups = catalog(groups, {stamp: manifest(stamp)}, {stamp: {MANIFEST: 500, "neo4j.dump": 122}})
    assert backups[0].status == "incomplete" and not backups[0].restorable
    assert "neo4j.dump holds 122 bytes, the manifest says 123" in backups[0].problem
    assert catalog(groups, {stamp: manifest(stamp)}, {stamp: {"neo4j.dump": 123}})[0].status == "complete"


# --- neo4j-admin ----------------------------------------------------------------------------------------


def test_neo4j_admin_arguments_per_line():
    path = Path("/b")
    assert LINE_5.admin_dump_to_stdout("neo4j") == ["database", "dump", "--to-stdout", "neo4j"]
    with pytest.raises(ValueError, match="4.4"):
        LINE_44.admin_dump_to_stdout("neo4j")
    assert LINE_5.admin_online_backup("neo4j", "h:6362", path) == [
        "database", "backup", "--from=h:6362", "--to-path=/b", "--type=AUTO", "neo4j"]
    assert LINE_5.admin_online_backup("neo4j", "h:6362", path, kind="DIFF") == [
        "database", "backup", "--from=h:6362", "--to-path=/b", "--type=DIFF", "neo4j"]
    assert LINE_2025.admin_online_backup("neo4j", "h:6362", "s3://b/p/", kind="FULL", temp_dir=Path("/t")) == [
        "database", "backup", "--from=h:6362", "--to-path=s3://b/p/", "--type=FULL", "--temp-path=/t", "neo4j"]
    with pytest.raises(ValueError, match="not one of AUTO, FULL, DIFF"):
        LINE_5.admin_online_backup("neo4j", "h:6362", path, kind="INCREMENTAL")
    assert LINE_44.admin_online_backup("neo4j", "h:6362", path) == [
        "backup", "--from=h:6362", "--backup-dir=/b", "--database=neo4j", "--fallback-to-full=true",
        "--check-consistency=false"]
    assert LINE_44.admin_online_backup("neo4j", "h:6362", path, check=True, report_dir=Path("/r"))[-2:] == [
        "--check-consistency=true", "--report-dir=/r"]
    assert LINE_5.admin_check("neo4j", path, Path("/t"), Path("/r")) == [
        "database", "check", "--from-path=/b", "--temp-path=/t", "--report-path=/r", "neo4j"]
    assert LINE_44.admin_check("neo4j", Path("/b/neo4j"), Path("/t"), Path("/r")) == [
        "check-consistency", "--backup=/b/neo4j", "--report-dir=/r"]
    assert LINE_44.admin_check_store("neo4j", Path("/r")) == [
        "check-consistency", "--database=neo4j", "--report-dir=/r"]
    assert LINE_5.admin_aggregate("neo4j", path) == ["database", "aggregate-backup", "--from-path=/b", "neo4j"]
    # Operations Manual 5.x, online-backup.adoc: "The `--to-path=<path>` option can also back up databases into AWS
    # S3 buckets (from Neo4j 5.19) …"; `--temp-path`, which the backup to S3 passes, is "(Introduced in 5.24)".
    releases = {LINE_44: "4.4.41", LINE_5: "5.26.30", LINE_2025: "2025.10.1"}
    assert [line.backs_up_to_s3(Version.parse(v)) for line, v in releases.items()] == [False, True, True]
    assert [line.checks_from_s3(Version.parse(v)) for line, v in releases.items()] == [False, True, True]
    assert not LINE_5.backs_up_to_s3(Version.parse("5.23.0")) and LINE_5.backs_up_to_s3(Version.parse("5.24.0"))
    assert not LINE_5.checks_from_s3(Version.parse("5.18.1")) and LINE_5.checks_from_s3(Version.parse("5.19.0"))
    assert [line.checks_dumps for line in (LINE_44, LINE_5, LINE_2025)] == [False, True, True]
    assert LINE_2025.admin_load("neo4j", path) == [
        "database", "load", "--from-path=/b", "--overwrite-destination=true", "neo4j"]
    assert LINE_44.admin_load("neo4j", path) == ["load", "--from=/b/neo4j.dump", "--database=neo4j", "--force"]
    assert LINE_5.admin_restore("neo4j", path) == [
        "database", "restore", "--from-path=/b", "--overwrite-destination=true", "neo4j"]
    assert LINE_44.admin_restore("neo4j", path) == ["restore", "--from=/b/neo4j", "--database=neo4j", "--force"]
    assert LINE_44.admin_set_initial_password("pw") == ["set-initial-password", "pw"]
    assert LINE_2025.admin_set_initial_password("pw") == ["dbms", "set-initial-password", "pw"]


@pytest.mark.parametrize("line", ["4.4", "5", "2025"])
@pytest.mark.parametrize("edition", ["community", "enterprise"])
def test_drill_server_conf_uses_only_real_settings_and_loopback(line, edition, tmp_path):
    known = json.loads((SETTINGS_LISTS / f"{line}.json").read_text())["settings"]
    ports = {name: 40000 + i for i, name in enumerate(scratch_ports_needed(LINES[line], edition))}
    text = scratch_conf(LINES[line], edition, "movies", tmp_path, ports, "512m", "256m")
    pairs = dict(raw.split("=", 1) for raw in text.splitlines() if raw and not raw.startswith("#"))
    assert not [key for key in pairs if key not in known], "settings Neo4j does not know"
    if edition == "community":
        assert not [key for key in pairs if known[key].get("enterprise")], "enterprise-only settings"
    addresses = [v for k, v in pairs.items() if k.endswith(("_address", ".endpoints"))]
    assert addresses and all(v.startswith("127.0.0.1") for v in addresses)
    assert len({v.rsplit(":", 1)[-1] for v in addresses if ":" in v}) == len(ports)
    assert str(tmp_path) in pairs.get("server.directories.data", pairs.get("dbms.directories.data"))


def test_part_size_fits_the_store_into_s3s_part_limit():
    assert part_size_for(None) == DEFAULT_PART == part_size_for(10 * 1024 ** 3)
    terabyte = 1024 ** 4
    assert part_size_for(terabyte) * (MAX_PARTS - 100) >= 2 * terabyte
    assert part_size_for(None, requested=64 * 1024 ** 2) == 64 * 1024 ** 2


# --- command lines --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["backup", "restore"])
def test_help_shows_examples_and_exit_codes(name):
    result = script(name, "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout and "Exit status: 0" in result.stdout
    for option in ("--endpoint-url", "--bucket", "--stack", "--database", "--neo4j-home", "--neo4j-conf", "--uri",
                   "--password-env"):
        assert option in result.stdout


@pytest.mark.parametrize(("name", "args", "message"), [
    ("backup", ["--stack", "prod"], "no bucket: pass --bucket or set $BACKUP_BUCKET"),
    ("backup", ["--stack", "prod", "--bucket", "b", "--concurrency", "0"], "must be at least 1"),
    ("backup", ["--stack", "prod", "--bucket", "b", "--part-size", "1MiB"], "at least 5MiB"),
    ("restore", ["--stack", "prod", "--bucket", "b", "--latest"], "add --yes to confirm"),
    ("restore", ["--stack", "prod", "--bucket", "b", "--latest", "--yes"], "$NEO4J_PASSWORD is not set"),
    ("restore", ["--stack", "prod", "--bucket", "b"], "one of the arguments --latest --at --until --list is required"),
])
def test_usage_errors_exit_2_with_a_message_and_no_traceback(name, args, message):
    result = script(name, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
