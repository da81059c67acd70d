"""restore.py --until (issue 20 item 3): a point-in-time restore replays a backup chain's transaction logs up to a
UTC time or a transaction id with `neo4j-admin database restore --restore-until`.

The manual's rules (Operations Manual 5.x, backup-restore/restore-backup.adoc; the same in dev):
  "Differential backup artifacts contain transaction logs that can be replayed and applied to stores contained in
  full backup artifacts when restoring a backup chain. The database applies logs until the recovery predicate is
  satisfied. Currently supported predicates are: `<transactionID>` and `<timestamp>`."
  "to restore a database up to a specific date, the required date predicate should look like
  `--restore-until=2021-09-11 10:15:30`, where 2021-09-11 10:15:30 is a UTC date and time."
  "The `--restore-until=` argument must contain a UTC date and time."
The option is in the synopsis from the 5.0 branch (`[--restore-until=<recoveryCriteria>]`) and not in 4.4's
(`neo4j-admin restore --from=<path>[,<path>...] [--verbose] [--expand-commands] [--database=<database>] [--force]
[--move] [--to-data-directory=<path>] [--to-data-tx-directory=<path>]`). A dump (Community) holds one moment.

neo4j-admin is the stand-in tests/fixtures/enterprise/fake_neo4j_admin.py, which refuses an option its command's
synopsis does not list; S3 is moto in process.
"""
from __future__ import annotations

import json
import sys
from datetime import timedelta

import pytest

from scripts.neo4j_ops.backup import restore_backup
from scripts.neo4j_ops.backup.admin import AdminTool
from scripts.neo4j_ops.backup.commands import restore_main
from scripts.neo4j_ops.backup.layout import FileEntry, Manifest, Parent, catalog, timestamp
from scripts.neo4j_ops.backup.point_in_time import choose_until, parse_until
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025
from tests.support.backup_standins import FAKE_ADMIN, NOW, run

# --- the value ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind", [("2025-03-01 02:30:00", "time"), ("123", "transaction"),
                                        (" 2025-03-01 02:30:00 ", "time")])
def test_until_takes_a_utc_time_as_the_manual_writes_it_or_a_transaction_id(text, kind):
    until = parse_until(text)
    assert (until.moment is not None) == (kind == "time") and until.text == text.strip()


@pytest.mark.parametrize("text", ["2025-03-01T02:30:00Z", "2025-02-30 02:30:00", "2025-03-01 02:30", "0", "-5",
                                  "12a", "yesterday", ""])
def test_anything_else_is_refused_in_one_line_saying_both_forms(text):
    with pytest.raises(ValueError) as refused:
        parse_until(text)
    assert '"2025-01-31 02:30:00"' in str(refused.value) and "transaction id" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_bad_until_exits_2_with_one_line(capsys):
    code = restore_main(["--stack", "prod", "--bucket", "b", "--until", "2025-03-01T02:30", "--verify-only"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--until" in err and "transaction id" in err


def test_until_goes_with_neither_latest_nor_at(capsys):
    with pytest.raises(SystemExit) as exit_:
        restore_main(["--stack", "prod", "--bucket", "b", "--latest", "--until", "123"])
    assert exit_.value.code == 2


def test_until_with_cluster_is_refused_saying_what_to_do(capsys):
    code = restore_main(["--stack", "prod", "--bucket", "b", "--until", "123", "--cluster", "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--cluster" in err and "--until" in err


# --- which chain: a table of manifests ---------------------------------------------------------------------------


SHA = "0" * 64


def backup(stamp: str, parents: tuple[str, ...] = (), *, kind: str | None = None, line: str = "5",
           check: str = "passed") -> Manifest:
    kind = kind or ("differential" if parents else "full")
    return Manifest(stack="prod", database="neo4j", timestamp=stamp, backup_type=kind, method="m",
                    neo4j_version={"5": "5.26.30", "4.4": "4.4.41", "2025": "2025.10.1"}[line], edition="enterprise",
                    version_line=line, files=(FileEntry(f"{stamp}.backup", 10, SHA),), counts=Counts(1, 1),
                    counts_exact=True, started=stamp, completed=stamp, host="h",
                    parents=tuple(Parent(p, (FileEntry(f"{p}.backup", 10, SHA),)) for p in parents), check=check)


def table(*manifests: Manifest):
    groups = {m.timestamp: ["manifest.json", m.files[0].name] for m in manifests}
    return catalog(groups, {m.timestamp: m for m in manifests})


A, A1, A2 = "20250301T020000Z", "20250302T020000Z", "20250303T020000Z"
B, B1 = "20250308T020000Z", "20250309T020000Z"
TWO_CHAINS = (backup(A), backup(A1, (A,)), backup(A2, (A, A1)), backup(B), backup(B1, (B,)))


@pytest.mark.parametrize("until, chosen, ends_before", [
    ("2025-03-01 02:00:00", A, False),  # at the full backup's start: the full alone
    ("2025-03-01 14:00:00", A1, False),  # between A and A1: A1's logs reach it, A2 is not needed
    ("2025-03-03 02:00:00", A2, False),
    ("2025-03-05 00:00:00", A2, True),  # after chain A's newest, before chain B: A2, saying it ends before
    ("2025-03-08 12:00:00", B1, False),  # chain B started before it: the newest chain that covers it
    ("2025-04-01 00:00:00", B1, True),
])
def test_the_newest_complete_chain_whose_full_backup_started_at_or_before_the_time(until, chosen, ends_before):
    picked, why = choose_until(table(*TWO_CHAINS), parse_until(until))
    assert picked.timestamp == chosen
    assert ("was taken before that time" in why) == ends_before and until in why


def test_a_time_before_every_chain_is_refused_naming_the_oldest_backup():
    with pytest.raises(LookupError, match=f"no complete backup chain starts at or before 2025-02-28 .*{A}"):
        choose_until(table(*TWO_CHAINS), parse_until("2025-02-28 23:59:59"))


def test_a_newer_chain_whose_full_backup_failed_its_check_is_passed_over_for_the_older_one():
    backups = table(backup(A), backup(A1, (A,)), backup(B, check="failed"), backup(B1, (B,)))
    picked, why = choose_until(backups, parse_until("2025-03-09 12:00:00"))
    assert picked.timestamp == A1 and f"chain {A}" in why and "was taken before that time" in why


def test_a_chain_broken_by_a_failed_differential_reaches_only_up_to_it():
    backups = table(backup(A), backup(A1, (A,), check="failed"), backup(A2, (A, A1)))
    picked, why = choose_until(backups, parse_until("2025-03-02 12:00:00"))
    assert picked.timestamp == A and "was taken before that time" in why


def test_a_transaction_id_takes_the_newest_complete_chain_and_says_why():
    picked, why = choose_until(table(*TWO_CHAINS), parse_until("123"))
    assert picked.timestamp == B1 and "transaction 123 (not included)" in why and "no transaction ids" in why


@pytest.mark.parametrize("manifests, refusal", [
    ((backup(A, kind="dump"),), "is a dump .*--at instead"),
    ((backup(A, line="4.4"), backup(A1, (A,), line="4.4")), "Neo4j 4.4.41.*no --restore-until.*--at instead"),
])
@pytest.mark.parametrize("until", ["2025-03-02 12:00:00", "7"])
def test_a_dump_or_a_44_backup_is_refused_saying_to_use_at(manifests, refusal, until):
    with pytest.raises(ValueError, match=refusal):
        choose_until(table(*manifests), parse_until(until))


# --- the argument list, against the stand-in Enterprise neo4j-admin ----------------------------------------------


@pytest.mark.parametrize("line", [LINE_5, LINE_2025])
def test_restore_until_is_one_argument_before_the_database_on_5x_and_2025(line, tmp_path):
    assert line.admin_restore("neo4j", tmp_path, "2025-03-01 02:30:00") == [
        "database", "restore", f"--from-path={tmp_path}", "--restore-until=2025-03-01 02:30:00",
        "--overwrite-destination=true", "neo4j"]


def test_44_has_no_restore_until(tmp_path):
    with pytest.raises(ValueError, match="no --restore-until"):
        LINE_44.admin_restore("neo4j", tmp_path, "123")
    flags = tmp_path / "flags"
    flags.mkdir()
    fake_44 = AdminTool([sys.executable, str(FAKE_ADMIN)],
                        extra_env={"FAKE_NEO4J_FLAGS": str(flags), "FAKE_NEO4J_LINE": "4.4"})
    # The stand-in plays 4.4's synopsis: neo4j-admin restore refuses the option as an unknown one.
    with pytest.raises(BackupError, match="Unknown option: '--restore-until=123'"):
        fake_44.run(LINE_44.admin_restore("neo4j", tmp_path) + ["--restore-until=123"], log=lambda _: None)


def restore_options(admin, until: str, **extra) -> restore_backup.RestoreOptions:
    return restore_backup.RestoreOptions(bucket="backups", stack="prod", database="neo4j", neo4j=None, admin=admin,
                                         region="us-east-1", log=lambda _: None, until=parse_until(until), **extra)


def test_a_point_in_time_restore_hands_the_chain_that_reaches_it_to_neo4j_admin(s3, admin, tmp_path):
    staging = tmp_path / "staging"
    full = run(admin, staging, NOW, kind="full")
    diff = run(admin, staging, NOW + timedelta(minutes=30), kind="diff")
    later = run(admin, staging, NOW + timedelta(minutes=60), kind="diff")
    options = restore_options(admin, "2025-03-01 02:20:00")
    chosen = restore_backup._pick(options, s3)
    assert chosen.timestamp == diff["backup"] != later["backup"]  # its logs reach 02:20; the later one is not needed
    into = tmp_path / "download"
    restore_backup._fetch(options, s3, chosen, into)
    assert sorted(p.name for p in into.iterdir()) == sorted(f["name"] for f in full["files"] + diff["files"])
    args = restore_backup._apply_args(LINE_5, chosen.manifest, into, options.until)
    admin.run(args, log=lambda _: None)  # the stand-in refuses an option the 5.x synopsis does not list
    restored = json.loads((tmp_path / "flags" / "restored-neo4j").read_text())
    assert restored == {"chain": ["FULL", "DIFF"], "until": "2025-03-01 02:20:00"}
    call = json.loads((tmp_path / "flags" / "calls").read_text().splitlines()[-1])
    assert "--restore-until=2025-03-01 02:20:00" in call


def test_a_local_44_server_is_refused_before_anything_is_downloaded_or_stopped(s3, admin, tmp_path):
    run(admin, tmp_path / "staging", NOW, kind="full")

    class Silent:
        uri = "bolt://x:7687"

        def port_open(self):
            return False

    options = restore_options(admin, "123", version="4.4.41", work_dir=tmp_path / "work")
    options.neo4j = Silent()
    with pytest.raises(UsageError, match="local Neo4j is 4.4.41.*nothing was stopped.*--at"):
        restore_backup._prepare(options, "restore", refuse_cluster=True)
    assert not (tmp_path / "work").exists()


def test_counts_are_not_compared_with_the_manifest_after_a_point_in_time_restore(tmp_path):
    said = []
    options = restore_backup.RestoreOptions(bucket="b", stack="p", database="neo4j", neo4j=None, admin=None,
                                            log=said.append, until=parse_until("123"))
    m = backup(timestamp(NOW))
    restore_backup._check_counts(options, m, Counts(5, 5))  # the manifest says 1, 1 (exact): no failure
    assert "counts not compared" in said[-1]
    options.until = None
    with pytest.raises(BackupError, match="the restore is not the backup"):
        restore_backup._check_counts(options, m, Counts(5, 5))
