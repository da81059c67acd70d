"""scripts/databases.py against the recorded (derived) Enterprise clusters of tests/fixtures/enterprise/databases/
(derive.py there): the statements in order, --dry-run printing them and sending none, the unmanaged database
reported and never dropped, the run that finds everything in place sending nothing."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from components.databases import DatabaseTopology
from scripts import databases as command
from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.databases.plan import plan
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.shared.versions import Version
from tests.conftest import ENTERPRISE, ROOT, prod_stack_args, recorded_writes

FIXTURES = ENTERPRISE / "databases"
ALTER = "ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES"
CREATE_REPORTS = "CREATE DATABASE `reports` IF NOT EXISTS TOPOLOGY 2 PRIMARIES 0 SECONDARIES WAIT"
SEED = "s3://neo4j-prod-backups/orders/orders-2026-12-01.backup"
CREATE_ORDERS = ("CREATE DATABASE `orders` IF NOT EXISTS TOPOLOGY 3 PRIMARIES 1 SECONDARY "
                 f"OPTIONS {{existingData: 'use', seedURI: '{SEED}'}}")
DATABASES = [{"name": "sales"}, {"name": "reports", "primaries": 2, "secondaries": 0, "wait": True},
             {"name": "orders", "seedUri": SEED}]


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A prod stack file (3 cores, 1 replica) of `version` listing DATABASES; the arguments that name it."""
    monkeypatch.setenv("NEO4J_PASSWORD", "not-a-real-password")
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())

    def write(version: str, databases: list | None = None) -> list[str]:
        config["config"].update({"neo4j:version": version, "neo4j:coreCount": 3, "neo4j:replicaCount": 1,
                                 "neo4j:databases": DATABASES if databases is None else databases,
                                 "neo4j:composites": []})  # tests/unit/test_composites_recorded.py has them
        for key in [k for k in config["config"] if k.startswith("neo4j:backup") and "Schedule" in k]:
            del config["config"][key]  # 4.4 has one daily backup: the prod schedules are 5.26's
        config["config"].pop("neo4j:plugins", None)  # each line ships its own plugin names; not what this tests
        return prod_stack_args(tmp_path, config, "--uri", "neo4j://core-1.prod.neo4j.internal:7687")
    return write



@pytest.mark.parametrize("scenario,version", [("databases-5.26.json", "5.26.30"), ("databases-2025.json", "2025.10.1")])
def test_dry_run_against_the_recorded_cluster_prints_the_statements_in_order_and_sends_none(
        stack, capsys, scenario, version):
    recorded = RecordedTransport(FIXTURES / scenario)
    assert command.main([*stack(version), "--dry-run"], transport=recorded) == 0
    assert recorded_writes(recorded) == []
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"databases (Neo4j {version}): would run 3 statements"
    assert out[1:4] == [
        f'  {ALTER};  // {{\'dbname\': \'sales\', \'primary\': 3, \'secondary\': 1}}',
        f"  {CREATE_REPORTS};",
        f"  {CREATE_ORDERS};",
    ]
    assert "  . unmanaged (listed by the cluster, not by neo4j:databases or neo4j:composites; never dropped): legacy" \
        in out


@pytest.mark.parametrize("scenario,version", [("databases-5.26.json", "5.26.30"), ("databases-2025.json", "2025.10.1")])
def test_the_run_sends_the_statements_in_the_stack_order_to_system_and_drops_nothing(stack, capsys, scenario, version):
    recorded = RecordedTransport(FIXTURES / scenario)
    assert command.main([*stack(version), "--json"], transport=recorded) == 0
    assert recorded_writes(recorded) == [ALTER, CREATE_REPORTS, CREATE_ORDERS]
    assert all(c.database == "system" for c in recorded.calls if c.write)
    assert not any("DROP" in c.cypher for c in recorded.calls)
    report = json.loads(capsys.readouterr().out)
    assert report["unmanaged"] == ["legacy"] and all(s["ran"] for s in report["statements"])


def test_a_wait_that_ran_out_stops_the_run_with_exit_1_and_sends_nothing_more(stack, capsys):
    document = load_scenario(FIXTURES / "databases-5.26.json")
    answers = document["endpoints"]["core-1"]["responses"]
    for answer in answers[CREATE_REPORTS]["records"]:
        answer.update({"state": "Timeout", "message": "not caught up", "success": False})
    recorded = RecordedTransport(document)
    assert command.main(stack("5.26.30"), transport=recorded) == 1
    assert recorded_writes(recorded) == [ALTER, CREATE_REPORTS]
    assert "not done in time on core-1.prod.neo4j.internal:7687: Timeout" in capsys.readouterr().err


def test_neo4j_4_4_creates_without_topology_and_waits(stack, capsys):
    recorded = RecordedTransport(FIXTURES / "databases-4.4.json")
    assert command.main([*stack("4.4.46", [{"name": "reports", "wait": True}]), "--json"], transport=recorded) == 0
    assert recorded_writes(recorded) == ["CREATE DATABASE `reports` IF NOT EXISTS WAIT"]
    assert json.loads(capsys.readouterr().out)["unmanaged"] == ["legacy"]


def test_a_second_run_over_a_cluster_that_has_everything_sends_nothing():
    """Idempotent: once the databases exist with the stack's counts, the plan is empty."""
    rows = load_scenario(FIXTURES / "databases-5.26.json")["endpoints"]["core-1"]["responses"]["show_databases"]
    rows = [dict(r) for r in rows["records"]]
    for row in rows:
        if row["name"] == "sales":
            row["requestedPrimariesCount"], row["requestedSecondariesCount"] = 3, 1
    for name, primaries, secondaries in (("reports", 2, 0), ("orders", 3, 1)):
        rows.append({**rows[0], "name": name, "requestedPrimariesCount": primaries,
                     "requestedSecondariesCount": secondaries})
    wanted = [DatabaseTopology("neo4j", 3, 1, default=True, listed=False), DatabaseTopology("sales", 3, 1),
              DatabaseTopology("reports", 2, 0, wait=True), DatabaseTopology("orders", 3, 1, seed_uri=SEED)]
    decided = plan(wanted, rows, Version.parse("5.26.30"))
    assert decided.statements == [] and decided.unmanaged == ["legacy"]


def test_the_default_database_keeps_the_stack_counts_unless_an_entry_names_it():
    rows = [{"name": "neo4j", "type": "standard", "requestedPrimariesCount": 1, "requestedSecondariesCount": 0}]
    v = Version.parse("5.26.30")
    assert plan([DatabaseTopology("neo4j", 3, 1, default=True, listed=False)], rows, v).statements == []
    named = plan([DatabaseTopology("neo4j", 3, 1, default=True, listed=True)], rows, v).statements
    assert [s.params for s in named] == [{"dbname": "neo4j", "primary": 3, "secondary": 1}]
    # never created by this command: Neo4j creates the default database itself
    assert plan([DatabaseTopology("neo4j", 3, 1, default=True)], [], v).statements == []


def test_every_statement_is_built_by_queries_py():
    assert q.create_database("reports", primaries=2, secondaries=0, wait=True) == CREATE_REPORTS
    assert q.create_database("orders", primaries=3, secondaries=1, seed_uri=SEED) == CREATE_ORDERS
    with pytest.raises(ValueError):
        q.create_database("orders", primaries=3, secondaries=1, seed_uri="s3://b/x'; DROP DATABASE neo4j")


def test_help_shows_an_example_and_says_it_never_drops():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "databases.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for words in ("--dry-run", "--stack", "never drops", "IF NOT EXISTS", "SET TOPOLOGY", "examples:"):
        assert words in result.stdout


def test_without_ca_cert_the_stack_outputs_ca_is_used_as_check_does(stack, tmp_path):
    arguments = stack("5.26.30")
    at = arguments.index("--ca-cert")
    del arguments[at:at + 2]
    del arguments[arguments.index("--uri"):arguments.index("--uri") + 2]
    arguments += ["--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json")]
    recorded = RecordedTransport(FIXTURES / "databases-5.26.json")
    assert command.main([*arguments, "--dry-run"], transport=recorded) == 0
    assert [c.cypher for c in recorded.calls][:2] == [q.COMPONENTS.cypher, q.SHOW_DATABASES.cypher]


def test_every_deploy_applies_the_databases_after_the_post_deploy_check():
    steps = yaml.safe_load((ROOT / ".github" / "actions" / "pulumi-stack" / "action.yml").read_text())["runs"]["steps"]
    check = next(i for i, s in enumerate(steps) if "scripts/check.py" in s.get("run", ""))
    step = next(i for i, s in enumerate(steps) if "scripts/databases.py" in s.get("run", ""))
    assert step > check and steps[step]["if"] == "inputs.command == 'up'"
    lines = steps[step]["run"].splitlines()
    masked = next(i for i, line in enumerate(lines) if "::add-mask::" in line)
    assert masked < next(i for i, line in enumerate(lines) if "scripts/databases.py" in line)
    assert '--stack "$STACK"' in steps[step]["run"] and "--dry-run" not in steps[step]["run"]
