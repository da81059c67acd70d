"""`make migrate FROM=legacy TO=prod` run for real (issue 24, item 3; scripts/neo4j_ops/upgrade/migrate_run.py): the
database steps on TO's seed server through the cluster restore's SsmShell (backup/remote.py), here against moto's
in-process SSM/EC2 (moto answers send_command / get_command_invocation with Success without running anything: it
proves the API calls and the commands' text and order, not what the commands do), or a FakeShell (a stand-in that
records each command and fails one on request); TO answers from the recorded migrate-5.26-prod-run.json (DERIVED by
hand, tests/fixtures/enterprise/README.md), FROM from migrate-4.4-legacy.json, its manifests standing in for the bucket.

Rules quoted (Upgrade and Migration Guide, version-5/migration/migrate-databases): "If you are migrating to a cluster,
only restore them to one server; later you will use this server to seed the others."; "Use the neo4j-admin database
migrate command to update the file metadata to the 5 format". Operations Manual 5.x, clustering/databases.adoc: "OPTIONS
{ existingData: 'use', seedURI: 's3://myBucket/myBackup.backup' }". Upgrade and Migration Guide, version-5/migration:
the 4.4 DBMS is the source of the backups; make migrate never writes to it (issue 24: "It never modifies the 4.4
stack")."""
from __future__ import annotations

import json
import shlex

import pytest

from scripts.neo4j_ops.backup.layout import Backup, parse_manifest
from scripts.neo4j_ops.backup.remote import SsmShell
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.upgrade.migrate_command import main, server_name
from scripts.neo4j_ops.upgrade.offline import migrate_argv
from tests.conftest import ENTERPRISE
from tests.support.migrate_stacks import FROM, FROM_URI, NOW, TO_URI, stack_files

RUN = ENTERPRISE / "migrate-5.26-prod-run.json"
SEED = "s3://acme-neo4j-backups/prod/{db}/20261204T020000Z/{db}.dump"
STEPS = ["fetch", "restore", "migrate", "dump", "upload"]


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")


def backups() -> dict[str, list[Backup]]:
    found: dict[str, list[Backup]] = {}
    for m in load_scenario(FROM)["backups"]:
        manifest = parse_manifest(json.dumps(m))
        found.setdefault(manifest.database, []).append(
            Backup(manifest.timestamp, tuple(f.name for f in manifest.files) + ("manifest.json",), manifest))
    return found


def stacks(**to_responses) -> RecordedTransport:
    merged = load_scenario(FROM)
    merged["endpoints"].update(load_scenario(RUN)["endpoints"])
    merged["endpoints"]["prod-core-1"]["responses"].update(to_responses)
    return RecordedTransport(merged)


class FakeShell:
    """A stand-in RemoteShell: records (server, command) and the progress lines printed before it; fails the
    command of `fail` = (database, step) once."""

    def __init__(self, fail: tuple[str, str] | None = None, events: list | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail = fail
        self.events = events if events is not None else []

    def run(self, server, commands, timeout):
        assert len(commands) == 1 and timeout > 0
        self.calls.append((server, commands[0]))
        self.events.append(("run", commands[0]))
        names = f"/migration/{self.fail[0]}" in commands[0] or commands[0].endswith(f" {self.fail[0]}") \
            if self.fail else False
        if names and step_of(commands[0]) == self.fail[1]:
            return 1, "", "ERROR: Failed to migrate database 'sales': the reason"
        return 0, "ok", ""


def step_of(command: str) -> str:
    for step, text in (("upload", "aws s3 cp --region eu-west-1 /var"), ("fetch", "sha256sum -c"),
                       ("restore", "database restore"), ("migrate", "database migrate"), ("dump", "database dump")):
        if text in command:
            return step
    return "?"


def migrate(tmp_path, capsys, *, shell, transport=None, seeds=None, extra=()):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"analyst": "analyst-secret-1", "auditor": "auditor-secret-1"}))
    outputs = []
    for side, bucket in (("from", "acme-neo4j-legacy-backups"), ("to", "acme-neo4j-backups")):  # the recorded ones
        path = tmp_path / f"outputs-{side}.json"
        path.write_text(json.dumps({"backupBucket": bucket}))
        outputs += [f"--{side}-outputs-file", str(path)]
    transport = transport or stacks()
    code = main(["--from", "legacy", "--to", "prod", "--from-uri", FROM_URI, "--to-uri", TO_URI,
                 "--user-passwords-file", str(passwords), *stack_files(tmp_path), *outputs, *extra],
                transport=transport, backups=backups(), now=NOW, shell=shell,
                seeds=seeds or (lambda uris: {}))
    out = capsys.readouterr()
    return code, out.out, out.err, transport


class Sent:
    """moto's SSM client, with each send_command's arguments kept."""

    def __init__(self, ssm):
        self.ssm, self.calls = ssm, []

    def send_command(self, **kwargs):
        self.calls.append(kwargs)
        return self.ssm.send_command(**kwargs)

    def __getattr__(self, name):
        return getattr(self.ssm, name)


def writes_on(transport: RecordedTransport, endpoint: str) -> list[str]:
    return [c.cypher for c in transport.calls if c.write and c.endpoint == endpoint]


def test_a_real_run_sends_each_step_over_ssm_run_shell_script_to_the_seed_server_moto_recorded(
        tmp_path, capsys, mocked_aws):
    import boto3

    ssm, ec2 = boto3.client("ssm", region_name="us-east-1"), boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    made = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "prod-core-1"}]}])["Instances"][0]
    legacy = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "legacy-core-1"}]}])["Instances"][0]
    shell = SsmShell(Sent(ssm), ec2, "prod", poll=0, sleep=lambda s: None, purpose="migrate")
    code, out, err, transport = migrate(tmp_path, capsys, shell=shell)
    assert code == 0, err
    sent = sorted(ssm.list_commands()["Commands"], key=lambda c: c["RequestedDateTime"])
    assert len(sent) == 10  # 5 steps for each of neo4j and sales
    assert {c["DocumentName"] for c in sent} == {"AWS-RunShellScript"}
    # moto 5's list_commands reports every instance it knows under each command's InstanceIds: what was sent is
    # taken from the send_command calls themselves
    assert [c["InstanceIds"] for c in shell.ssm.calls] == [[made["InstanceId"]]] * 10  # the seed server, by Name tag
    assert legacy["InstanceId"] not in str(shell.ssm.calls)  # nothing on the 4.4 stack
    assert {c["Comment"] for c in sent} == {"neo4j-cluster migrate: core-1"}
    commands = [c["Parameters"]["commands"][0] for c in shell.ssm.calls]  # in the order sent
    assert [step_of(c) for c in commands] == STEPS * 2
    for db, group in (("neo4j", commands[:5]), ("sales", commands[5:])):
        assert all(f"/var/lib/neo4j/data/migration/{db}" in c for c in group[:2] + group[4:])
        # the text test_upgrade_real_neo4j.py runs on 5.26.30, as the neo4j user (the data directory's owner)
        assert group[2] == "runuser -u neo4j -- " + shlex.join(migrate_argv(db))
        assert group[0].endswith(f" && chown -R neo4j:neo4j /var/lib/neo4j/data/migration/{db}")
        assert group[3].startswith("install -d -o neo4j -g neo4j /var/lib/neo4j/data/migration/dumps && runuser -u "
                                   "neo4j -- neo4j-admin database dump")
        assert f"s3://acme-neo4j-legacy-backups/legacy/{db}/20261204T020000Z/{db}.tar" in group[0]
        assert group[4].endswith(f"{SEED.format(db=db)} --metadata sha256=$sha && rm -rf "
                                 f"/var/lib/neo4j/data/migration/{db} /var/lib/neo4j/data/migration/dumps/{db}.dump")
    to = writes_on(transport, "prod-core-1")
    assert to[:3] == ["DROP DATABASE `neo4j` IF EXISTS WAIT",
                      f"CREATE DATABASE `neo4j` IF NOT EXISTS OPTIONS {{existingData: 'use', seedURI: "
                      f"'{SEED.format(db='neo4j')}'}} WAIT",
                      f"CREATE DATABASE `sales` IF NOT EXISTS OPTIONS {{existingData: 'use', seedURI: "
                      f"'{SEED.format(db='sales')}'}} WAIT"]
    assert to[3].startswith("CREATE USER `analyst`") and len(to) > 8  # then users, roles, privileges
    assert writes_on(transport, "legacy-core-1") == []  # FROM only read
    assert "database 2/2 sales, step migrate on core-1: runuser -u neo4j -- neo4j-admin database migrate" in err


def test_each_step_is_printed_before_it_runs(tmp_path, capsys, monkeypatch):
    from scripts.neo4j_ops.upgrade import migrate_command

    events: list = []
    shell = FakeShell(events=events)
    monkeypatch.setattr(migrate_command, "print_progress", lambda args: (lambda line: events.append(("log", line))))
    code, out, err, _ = migrate(tmp_path, capsys, shell=shell)
    assert code == 0, err
    runs = [i for i, e in enumerate(events) if e[0] == "run"]
    assert len(runs) == 10
    for i in runs:
        assert events[i - 1][0] == "log" and events[i - 1][1].endswith(events[i][1])


def test_a_failed_step_stops_naming_database_and_step_and_leaves_from_and_created_databases(tmp_path, capsys):
    shell = FakeShell(fail=("sales", "migrate"))
    code, out, err, transport = migrate(tmp_path, capsys, shell=shell)
    assert code == 1 and out == ""
    assert err.splitlines()[-1].startswith(
        "migrate: FAILED: database sales, step migrate failed: exit 1 on core-1: ERROR: Failed to migrate database "
        "'sales': the reason (legacy unchanged; on prod already created: neo4j, left as they are; run make migrate "
        "again"), err
    assert [step_of(c) for _, c in shell.calls] == STEPS + ["fetch", "restore", "migrate"]
    to = writes_on(transport, "prod-core-1")
    assert to == ["DROP DATABASE `neo4j` IF EXISTS WAIT", to[1]] and to[1].startswith("CREATE DATABASE `neo4j`")
    assert writes_on(transport, "legacy-core-1") == []


def test_a_rerun_skips_the_created_database_and_does_not_remake_a_seed_in_the_bucket(tmp_path, capsys):
    asked: list = []

    def seeds(uris):
        asked.append(uris)
        return {"neo4j": "ab" * 32, "sales": "cd" * 32}

    # TO now holds neo4j with the migrated data (from the first run): not refused, not dropped, not created again
    transport = stacks(count_nodes={"records": [{"count": 171}]}, count_relationships={"records": [{"count": 253}]})
    shell = FakeShell()
    code, out, err, transport = migrate(tmp_path, capsys, shell=shell, transport=transport, seeds=seeds)
    assert code == 0, err
    assert asked == [{db: SEED.format(db=db) for db in ("neo4j", "sales")}]
    assert shell.calls == []  # both seeds are in the bucket with their sha256
    to = writes_on(transport, "prod-core-1")
    assert not any(s.startswith(("DROP", "CREATE DATABASE `neo4j`")) for s in to)
    assert to[0].startswith("CREATE DATABASE `sales`")
    assert f"Database neo4j: already on prod, created from its seed {SEED.format(db='neo4j')}: skipped" in out
    assert f"seed already in prod's bucket (sha256 {'cd' * 32}): not made again" in out


def test_a_failed_create_names_the_database_and_a_member_that_did_not_catch_up(tmp_path, capsys):
    create = f"CREATE DATABASE `sales` IF NOT EXISTS OPTIONS {{existingData: 'use', seedURI: " \
             f"'{SEED.format(db='sales')}'}} WAIT"
    transport = stacks(**{create: {"records": [
        {"address": "core-2.prod.neo4j.internal:7687", "state": "Failed", "message": "Unable to start database",
         "success": False}]}})
    code, out, err, transport = migrate(tmp_path, capsys, shell=FakeShell(), transport=transport)
    assert code == 1
    assert "database sales, step create failed: core-2.prod.neo4j.internal:7687: Failed Unable to start " \
           "database" in err
    assert writes_on(transport, "legacy-core-1") == []


def test_dry_run_sends_nothing_to_the_servers_or_either_stack(tmp_path, capsys):
    shell = FakeShell()
    code, out, err, transport = migrate(tmp_path, capsys, shell=shell, extra=("--dry-run",))
    assert code == 0, err
    assert shell.calls == [] and [c for c in transport.calls if c.write] == []
    assert out.splitlines()[-1] == "dry run: nothing was changed"


def test_the_seed_server_is_the_name_ssm_finds():
    assert server_name("core-1") == "core-1"
    assert server_name("core-1.prod.neo4j.internal:7687") == "core-1"
    assert server_name("10.0.1.12:7687") == "10.0.1.12"


def test_a_seed_counts_as_made_only_when_the_bucket_holds_it_with_its_sha256_moto_recorded(mocked_aws):
    import types

    import boto3

    from scripts.neo4j_ops.upgrade.migrate_command import _bucket_seeds

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-neo4j-backups")
    s3.put_object(Bucket="acme-neo4j-backups", Key="prod/neo4j/20261204T020000Z/neo4j.dump", Body=b"dump",
                  Metadata={"sha256": "ab" * 32})  # what the upload step's `aws s3 cp --metadata sha256=…` leaves
    s3.put_object(Bucket="acme-neo4j-backups", Key="prod/sales/20261204T020000Z/sales.dump", Body=b"partial")
    target = types.SimpleNamespace(backup_bucket="acme-neo4j-backups", aws_region="us-east-1")
    settings = types.SimpleNamespace(backup_s3_endpoint=None, region="us-east-1")
    found = _bucket_seeds(target, settings)({db: SEED.format(db=db) for db in ("neo4j", "sales", "other")})
    assert found == {"neo4j": "ab" * 32}  # sales: no checksum (not by our upload); other: absent


def test_ctrl_c_during_a_step_exits_130_saying_where_and_an_api_error_is_a_failed_step(tmp_path, capsys):
    class Interrupted(FakeShell):
        def run(self, server, commands, timeout):
            super().run(server, commands, timeout)
            if step_of(commands[0]) == "dump":
                raise KeyboardInterrupt
            return 0, "", ""

    code, out, err, transport = migrate(tmp_path, capsys, shell=Interrupted())
    assert code == 130
    assert "database neo4j, step dump failed: interrupted; the command may still be running on core-1" in err
    assert [c for c in writes_on(transport, "prod-core-1") if c.startswith("CREATE")] == []

    class Broken(FakeShell):
        def run(self, server, commands, timeout):
            raise RuntimeError("no running instance for server core-1")

    code, out, err, transport = migrate(tmp_path, capsys, shell=Broken())
    assert code == 1
    assert err.splitlines()[-1].startswith("migrate: FAILED: database neo4j, step fetch failed: RuntimeError: no "
                                           "running instance for server core-1 (legacy unchanged")
    assert writes_on(transport, "legacy-core-1") == []
