"""`make upgrade STACK=… VERSION=… [DRY_RUN=1]` (scripts/upgrade.py → scripts/neo4j_ops/upgrade/, issue 24 item 2)
against the recorded Enterprise 5.26 cluster: tests/fixtures/enterprise/upgrade-5.26-prod.json extends
cluster-5.26-healthy.json with what the preflight asks (DERIVED from the manual; the fixture README says how), and its
manifests stand in for the bucket. The version guard's rules are tested in test_upgrade_paths.py; here: the command's
dry run, its one-line refusals, a preflight failure that touches no server, and a run through the rollout to the check.

Rules quoted (Upgrade and Migration Guide, "In-place rolling upgrade of a cluster", 5.x and 2025-2026): "check servers
are hosting all their assigned databases. The query should return no results: SHOW SERVERS YIELD name, hosting,
requestedHosting, serverId WHERE requestedHosting <> hosting"; "In the 2025.01 release, discovery service v1 is
removed. Therefore, you must transition to v2 before upgrading to any 2025-2026 version." Operations Manual 5.x,
clustering/monitoring/status-check.adoc: "you can use the `replicationSuccessful` field to determine overall
write-availability, whereas the `memberStatus` field can be checked in order to see whether the database is
fault-tolerant or not"."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
import yaml

from scripts.neo4j_ops.bolt import Reply, TlsOptions, address_of
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.shared.upgrade_paths import upgrade_path
from scripts.neo4j_ops.upgrade import build_parser, main
from scripts.neo4j_ops.upgrade.preflight import discovery_finding, hosting_finding, status_finding
from tests.conftest import ENTERPRISE, stack_config_on
from tests.support.rollout_fakes import RecordedCluster, moved_away

SCENARIO = ENTERPRISE / "upgrade-5.26-prod.json"
OUTPUTS = ENTERPRISE / "stack-outputs-prod.json"
BACKED_UP = datetime(2026, 12, 4, 2, 5, 12, tzinfo=UTC)  # the scenario's backups completed then
SOON = lambda: datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # noqa: E731  (6 h later)
LATE = lambda: datetime(2026, 12, 6, 8, 0, tzinfo=UTC)  # noqa: E731  (54 h later, over the 24 h default)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.01)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.01)


def stack_file(tmp_path, version: str, **extra) -> str:
    path = tmp_path / "Pulumi.prod.yaml"
    # the recorded cluster runs 3 primaries and 1 secondary
    config = {**stack_config_on("prod", version), "neo4j:coreCount": 3, "neo4j:replicaCount": 1, **extra}
    path.write_text(yaml.safe_dump({"config": config}))
    return str(path)


class FakeStack:
    name = "prod"

    def __init__(self, on_apply=lambda server: None):
        self.asked, self.applied, self.on_apply = [], [], on_apply

    def pending(self, servers):
        self.asked.append(list(servers))
        return {s: ["replace (userDataBase64)"] for s in servers if not s.startswith("haproxy")}

    def apply(self, server, log):
        self.applied.append(server)
        self.on_apply(server)


class Upgrading(RecordedCluster):
    """The recorded cluster; a server whose step ran answers dbms.components() with the new release."""

    def __init__(self, scenario, tls, version="2025.10.1"):
        self.recorded = RecordedTransport(scenario, tls=tls)
        self.version, self.done = version, set()

    def client(self, uri, auth, *, tls=None):
        inner, owner = self.recorded.client(uri, auth, tls=tls), self

        class Client:
            uri = inner.uri

            def verify(self):
                inner.verify()

            def run(self, name, cypher, params=None, **kwargs):
                if name == "components" and address_of(uri) in owner.done:
                    return Reply([{"name": "Neo4j Kernel", "versions": [owner.version], "edition": "enterprise"}])
                reply = inner.run(name, cypher, params, **kwargs)
                if name == "set_config_value":  # the rollout's move of a leader's databases (rollout/leadership.py)
                    owner.recorded.scenario = moved_away(owner.recorded.scenario, address_of(uri),
                                                         [d for d in params["value"].split(",") if d])
                return reply
        return Client()

    def upgrade(self, server):
        self.done.add(f"{server}.prod.neo4j.internal:7687")



def upgrade(capsys, ca, *args, transport=None, stack=None, now=SOON):
    code = main(["--stack", "prod", "--outputs-file", str(OUTPUTS), "--ca-cert", str(ca), *args],
                transport=transport, stack=stack, now=now)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dry_run_prints_the_path_the_preflight_and_the_order_from_recorded_enterprise_responses(tmp_path, capsys, ca):
    code, out, err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "5.26.30"), "--version", "2025.10.1",
                             "--dry-run", "--replay", str(SCENARIO))
    assert code == 0, out + err
    assert "path: 5.26.30 → 2025.10.1: the rolling upgrade from the 5.26 LTS" in out
    for check in ("backup", "databases", "hosting", "status", "discovery"):
        assert any(line.split()[:2] == [check, "PASS"] for line in out.splitlines()), (check, out)
    assert "dbms.cluster.statusCheck([]) on core-1, core-2, core-3" in out
    order = [line.split()[1] for line in out.splitlines() if line[:1].isdigit()]
    assert order == ["replica-1", "core-3", "core-1", "core-2"]  # secondaries, then primaries, leaders last
    assert "pending: Neo4j 5.26.30 → 2025.10.1" in out
    assert "still names neo4j:version 5.26.30" in out  # what the real run will ask first


def test_dry_run_of_a_stale_backup_says_the_real_run_would_stop(tmp_path, capsys, ca):
    code, out, _err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "5.26.30"), "--version", "2025.10.1",
                              "--dry-run", "--replay", str(SCENARIO), now=LATE)
    assert code == 0
    assert "over neo4j:upgradeMaxBackupAgeHours 24" in out and "a real run would stop here" in out
    # the key moves the limit
    code, out, _err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "5.26.30",
                                                                      **{"neo4j:upgradeMaxBackupAgeHours": 72}),
                              "--version", "2025.10.1", "--dry-run", "--replay", str(SCENARIO), now=LATE)
    assert "the preflight FAILED" not in out


@pytest.mark.parametrize("version, words", [
    ("4.4.46", "VERSION 4.4.46: the cluster runs Neo4j 5.26.30; a downgrade is not supported"),
    ("5.26.2", "VERSION 5.26.2: the cluster runs Neo4j 5.26.30; a downgrade is not supported"),
    ("5.20.1", "--version 5.20.1: not a release this program deploys"),
    ("2025.13.0", "--version 2025.13.0: not a release this program deploys"),
])
def test_an_unsupported_version_is_refused_in_one_line(tmp_path, capsys, ca, version, words):
    code, out, err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "5.26.30"), "--version", version,
                             "--dry-run", "--replay", str(SCENARIO))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_a_real_run_needs_the_stack_file_to_name_the_version(tmp_path, capsys, ca):
    stack = FakeStack()
    code, _out, err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "5.26.30"), "--version", "2025.10.1",
                              transport=RecordedTransport(SCENARIO, tls=TlsOptions(str(ca))), stack=stack)
    assert code == 2 and stack.asked == []
    assert "set neo4j:version: 2025.10.1 there and run `make up STACK=prod`" in err


def backups_of():
    from scripts.neo4j_ops.backup.layout import Backup, parse_manifest

    found = {}
    for m in load_scenario(SCENARIO)["backups"]:
        manifest = parse_manifest(json.dumps(m))
        found.setdefault(manifest.database, []).append(Backup(manifest.timestamp, (), manifest))
    return found


def test_a_failed_preflight_stops_before_any_server(tmp_path, capsys, ca):
    scenario = load_scenario(SCENARIO)
    rows = scenario["endpoints"]["core-3"]["responses"]["cluster_status_check"]["records"]
    rows[0].update(replicationSuccessful=False)
    stack = FakeStack()
    code, out, _err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "2025.10.1"), "--version", "2025.10.1",
                              transport=RecordedTransport(scenario, tls=TlsOptions(str(ca))), stack=stack)
    assert code == 1
    assert stack.asked == [] and stack.applied == []
    assert "status     FAIL" in out and "core-3 (neo4j" in out and "replicationSuccessful False" in out
    assert "stopped before any server; every server untouched" in out


def test_a_passing_preflight_rolls_every_server_to_the_release_then_checks(tmp_path, capsys, ca, monkeypatch):
    monkeypatch.setattr("scripts.neo4j_ops.upgrade.command._bucket_backups", lambda *a: backups_of())
    cluster = Upgrading(SCENARIO, TlsOptions(str(ca)))
    stack = FakeStack(on_apply=cluster.upgrade)
    code, out, err = upgrade(capsys, ca, "--stack-file", stack_file(tmp_path, "2025.10.1"), "--version", "2025.10.1",
                             transport=cluster, stack=stack)
    assert stack.applied == ["replica-1", "core-3", "core-1", "core-2"], out + err
    assert "The full check (make check's) on 2025.10.1" in out
    assert code == 0, out + err


def test_help_shows_an_example():
    text = build_parser().format_help()
    assert "make upgrade STACK=prod VERSION=2025.10.1 DRY_RUN=1" in text
    assert "--replay tests/fixtures/enterprise/upgrade-5.26-prod.json" in text


# --- the findings, table-driven ---------------------------------------------------------------------------------

def test_hosting_differs_from_requested_fails_naming_the_server():
    from scripts.neo4j_ops.facts import ServerFacts, ServerSpec

    facts = [ServerFacts(ServerSpec("core-1", "bolt://core-1:7687"), servers=[
        {"address": "core-1:7687", "hosting": ["system"], "requestedHosting": ["neo4j", "system"]}])]
    finding = hosting_finding(facts)
    assert finding.status == "FAIL" and "core-1:7687: hosting ['system'], requested ['neo4j', 'system']" in \
        finding.detail


@pytest.mark.parametrize("row, words", [
    ({"replicationSuccessful": True, "memberStatus": "UNAVAILABLE"}, "UNAVAILABLE"),
    ({"replicationSuccessful": False, "memberStatus": "APPLYING"}, "replicationSuccessful False"),
    ({"replicationSuccessful": None, "memberStatus": None, "error": "database foo does not exist"},
     "database foo does not exist"),
])
def test_status_check_failures(row, words):
    finding = status_finding({"core-1": [{"database": "neo4j", "serverName": "s1", **row}]})
    assert finding.status == "FAIL" and words in finding.detail


def test_status_check_is_skipped_where_the_line_has_none():
    assert status_finding(None).status == "SKIP"


def test_discovery_v1_fails_only_when_the_line_changes():
    rows = {"core-1": [{"name": "dbms.cluster.discovery.version", "value": "V1_ONLY"}]}
    assert discovery_finding([upgrade_path("5.26.30", "2025.10.1")], rows).status == "FAIL"
    assert "dbms.cluster.discovery.version=V1_ONLY" in discovery_finding([upgrade_path("5.26.30", "2025.10.1")],
                                                                         rows).detail
    assert discovery_finding([upgrade_path("5.26.1", "5.26.30")], rows).status == "SKIP"


def test_the_scenario_is_the_healthy_cluster_plus_the_preflights_answers():
    scenario = json.loads(SCENARIO.read_text())
    assert scenario["extends"] == "cluster-5.26-healthy.json" and "DERIVED" in scenario["status"]
    assert copy.deepcopy(scenario)["backups"][0]["check"] == "passed"
    assert datetime.strptime(scenario["backups"][0]["completed"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) == BACKED_UP


def make_upgrade(ca, version: str):
    import os
    import shutil
    import subprocess

    from tests.conftest import ROOT

    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    args = (f"ARGS=--outputs-file {OUTPUTS} --ca-cert {ca} --replay {SCENARIO}")
    return subprocess.run([make, "--no-print-directory", "upgrade", "STACK=prod", f"VERSION={version}", "DRY_RUN=1",
                           args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NEO4J_PASSWORD": "admin-secret-not-real",
                               "AWS_EC2_METADATA_DISABLED": "true"})


def test_make_upgrade_dry_run_against_the_recorded_cluster(ca):
    """The issue's acceptance: `make upgrade STACK=prod VERSION=2025.10.1 DRY_RUN=1` against the recorded 5.26 cluster
    prints the preflight and the order and exits 0 (the backup age is judged against the clock: the recording's
    backups grow old, which the dry run reports and exits 0 on); VERSION=4.4.46 is refused in one line, exit 2."""
    result = make_upgrade(ca, "2025.10.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Preflight:" in result.stdout and "Rollout order of stack prod" in result.stdout
    refused = make_upgrade(ca, "4.4.46")
    assert refused.returncode == 2
    ours = [line for line in refused.stderr.splitlines() if line.startswith("upgrade:")]
    assert len(ours) == 1 and "VERSION 4.4.46: the cluster runs Neo4j 5.26.30; a downgrade" in ours[0]
    assert "Preflight:" not in refused.stdout
