"""Scaling respects each database's own topology (issue 21): the default database follows the stack's counts, a
neo4j:databases entry keeps its own, a database the stack does not list keeps its own when the cluster grows and is
lowered only as far as the servers that stay require when it shrinks. Replayed from the recorded (derived) scaling
scenarios of tests/fixtures/enterprise/scaling/ with further databases added to their SHOW DATABASES rows."""
from __future__ import annotations

import copy

from scripts.neo4j_ops.bolt import Auth, statement_runner
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.scaling.plan import database_targets
from scripts.neo4j_ops.scaling.run import Wait, scale_in, scale_out
from scripts.neo4j_ops.shared.versions import Version
from tests.conftest import ENTERPRISE

ALTER = "ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES"
PRIMARIES = {"core-1", "core-2", "core-3"}


def with_databases(scenario: str, extra: dict[str, tuple[int, int]]) -> dict:
    """The scenario with databases `extra` (name → requested primaries, secondaries) added to every SHOW DATABASES
    answer: online on the primaries, and on as many secondaries as requested."""
    document = load_scenario(ENTERPRISE / "scaling" / scenario)
    responses = document["endpoints"]["core-1"]["responses"]
    answers = responses["show_databases"] if isinstance(responses["show_databases"], list) \
        else [responses["show_databases"]]
    for answer in answers:
        rows = answer["records"]
        template = [r for r in rows if r["name"] == "neo4j"]
        for name, (primaries, secondaries) in extra.items():
            on_secondaries = 0
            for row in template:
                host = row["address"].split(".")[0]
                if host not in PRIMARIES:
                    if on_secondaries >= secondaries:
                        continue
                    on_secondaries += 1
                added = copy.deepcopy(row)
                added.update({"name": name, "currentStatus": "online", "requestedPrimariesCount": primaries,
                              "requestedSecondariesCount": secondaries, "default": False, "home": False})
                rows.append(added)
    return document


def run_of(document: dict):
    transport = RecordedTransport(document)
    client = transport.client("neo4j://core-1.prod.neo4j.internal:7687", Auth("neo4j", "not-a-real-password"))
    return transport, statement_runner(client, timeout=5)


def alters(transport: RecordedTransport) -> list[dict]:
    assert transport.missing == []
    return [c.params for c in transport.calls if c.cypher == ALTER]


def no_wait() -> Wait:
    clock = [0.0]
    return Wait(timeout_seconds=60, interval_seconds=5, sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                clock=lambda: clock[0])


def test_scale_out_sets_each_stack_database_to_its_own_topology_and_leaves_unmanaged_ones():
    document = with_databases("scale-out-2025-auto-enabled.json", {"reports": (3, 0), "legacy": (1, 0)})
    transport, run = run_of(document)
    result = scale_out(run, Version.parse("2025.10.1"), None, 3, 2, lambda m: None,
                       expected_addresses=["replica-2.prod.neo4j.internal:7687"], wait=no_wait(),
                       topologies={"neo4j": (3, 2), "reports": (3, 0)})
    assert alters(transport) == [{"dbname": "neo4j", "primary": 3, "secondary": 2},
                                 {"dbname": "reports", "primary": 3, "secondary": 0}]
    assert "reports: 3 primaries, 0 secondaries" in result.notes[-1]
    assert "legacy" not in result.notes[-1]


def test_without_topologies_every_database_gets_the_stacks_counts_as_before():
    document = with_databases("scale-out-2025-auto-enabled.json", {"reports": (3, 0)})
    transport, run = run_of(document)
    result = scale_out(run, Version.parse("2025.10.1"), None, 3, 2, lambda m: None, wait=no_wait(), dry_run=True)
    assert [s.params["dbname"] for s in result.statements if s.cypher == ALTER] == ["neo4j", "reports"]
    assert all((s.params["primary"], s.params["secondary"]) == (3, 2) for s in result.statements
               if s.cypher == ALTER)


def test_scale_in_lowers_an_unmanaged_database_only_as_far_as_the_staying_servers_require():
    document = with_databases("scale-in-5.26.json", {"reports": (3, 0), "legacy": (3, 2), "scratch": (1, 0)})
    transport, run = run_of(document)
    scale_in(run, Version.parse("5.26.30"), ["replica-2.prod.neo4j.internal:7687"], None, 3, 1, lambda m: None,
             wait=no_wait(), topologies={"neo4j": (3, 1), "reports": (3, 0)})
    assert alters(transport) == [{"dbname": "legacy", "primary": 3, "secondary": 1},
                                 {"dbname": "neo4j", "primary": 3, "secondary": 1},
                                 {"dbname": "reports", "primary": 3, "secondary": 0}]


def test_database_targets_rule():
    rows = [{"name": "kept", "requestedPrimariesCount": 1, "requestedSecondariesCount": 0},
            {"name": "big", "requestedPrimariesCount": 5, "requestedSecondariesCount": 2}]
    names = ["big", "kept", "sales"]
    assert database_targets(rows, names, 3, 1, None, "in") == {n: (3, 1) for n in names}
    assert database_targets(rows, names, 3, 1, {"sales": (2, 0)}, "in") == {"big": (3, 1), "sales": (2, 0)}
    assert database_targets(rows, names, 3, 1, {"sales": (2, 0)}, "out") == {"sales": (2, 0)}


def test_make_scale_takes_the_topologies_from_the_stack_file(tmp_path, monkeypatch, capsys):
    import json

    import yaml

    from scripts import scale
    from tests.conftest import ROOT

    monkeypatch.setenv("NEO4J_PASSWORD", "not-a-real-password")
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    config["config"].update({"neo4j:coreCount": 3, "neo4j:replicaCount": 1,
                             "neo4j:databases": [{"name": "neo4j", "primaries": 3, "secondaries": 0}],
                             "neo4j:composites": []})
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "ca.crt").write_text("recorded: not read\n")
    document = load_scenario(ENTERPRISE / "scaling" / "scale-in-5.26.json")
    document["endpoints"]["core-1"]["responses"]["components"] = {
        "records": [{"name": "Neo4j Kernel", "versions": ["5.26.30"], "edition": "enterprise"}]}
    arguments = ["--stack", "prod", "--stack-file", str(tmp_path / "Pulumi.prod.yaml"), "--outputs-file",
                 str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(tmp_path / "ca.crt"), "--quiet",
                 "--dry-run", "--json"]
    assert scale.main(arguments, transport=RecordedTransport(document)) == 0
    report = json.loads(capsys.readouterr().out)
    # the default database named by an entry: its own counts, not coreCount/replicaCount (3 and 1)
    assert [s["params"] for s in report["statements"] if s["cypher"] == ALTER] == [
        {"dbname": "neo4j", "primary": 3, "secondary": 0}]
