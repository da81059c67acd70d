"""scripts/check.py --wait against recorded Enterprise responses of a cluster that forms while the
check waits (replica-1 answers from the third round, the primaries list it from the fourth), and
of one that never does; the clock and the pauses are simulated, the whole command runs."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from scripts.neo4j_ops.bolt import TlsOptions, classify
from scripts.neo4j_ops.checks import main
from scripts.neo4j_ops.checks.wait import parse_duration
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.shared.errors import UsageError
from tests.conftest import ENTERPRISE

DOWN = {"error": {"kind": "unreachable", "message": "cannot reach replica-1.prod.neo4j.internal:7687: connection "
                                                    "refused (is Neo4j running and listening on that port?)"}}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps({"analyst": "analyst-secret-not-real",
                                                           "scientist": "scientist-secret-not-real"}))


def forming(replica_rounds_down: int, primaries_rounds_without_replica: int) -> dict:
    """The healthy 5.26 cluster, as it looks while replica-1 is still booting."""
    healthy = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    scenario = copy.deepcopy(healthy)
    replica = scenario["endpoints"]["replica-1"]["responses"]
    replica["components"] = [DOWN] * replica_rounds_down + [replica["components"]]
    for name in ("core-1", "core-2", "core-3"):
        responses = scenario["endpoints"][name]["responses"]
        full = responses["show_servers"]
        partial = {"records": [r for r in full["records"] if not r["address"].startswith("replica-1")]}
        responses["show_servers"] = [partial] * primaries_rounds_without_replica + [full]
    return scenario


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def run_wait(scenario: dict, capsys, ca: Path, wait: str):
    clock = Clock()
    transport = RecordedTransport(scenario, tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(ca),
                 "--wait", wait], transport=transport, sleep=clock.sleep, clock=clock)
    out = capsys.readouterr()
    return code, out.out, out.err, clock


def test_wait_reports_each_server_as_it_changes_and_checks_once_the_cluster_formed(capsys, ca):
    code, out, err, clock = run_wait(forming(2, 3), capsys, ca, "20m")
    assert code == 0, out + err
    progress = [line.split("] ", 1)[1] for line in err.splitlines() if line.startswith("check [")]
    # one line per server when its state changes: replica-1 twice (down, then up), each primary once
    assert sum(p.startswith("replica-1: not answering: ") and "connection refused" in p for p in progress) == 1
    assert sum(p.startswith("replica-1: up: Neo4j 5.26.30 enterprise") for p in progress) == 1
    for name in ("core-1", "core-2", "core-3"):
        assert [p for p in progress if p.startswith(f"{name}: ")][0].startswith(f"{name}: up: Neo4j 5.26.30")
    cluster = [p for p in progress if p.startswith("cluster: ")]
    assert cluster[0] == "cluster: waiting for replica-1 to answer"
    assert cluster[1].startswith("cluster: not formed yet: ") and "replica-1" in cluster[1]
    assert cluster[-1].startswith("cluster: formed: all 4 servers answer")
    assert any(p.startswith("ready after ") for p in progress)
    assert clock.pauses == [2.0, 3.0, 4.5]  # bounded, growing pauses between rounds
    assert "all required checks passed" in out


def test_wait_that_runs_out_names_what_is_missing_and_exits_1(capsys, ca):
    code, out, err, clock = run_wait(forming(10_000, 0), capsys, ca, "2m")
    assert code == 1
    line = next(line for line in err.splitlines() if "NOT READY" in line)
    assert line.startswith("check: NOT READY after 120 s (--wait 2m): still missing: replica-1 (not answering: ")
    assert "cluster waiting for replica-1 to answer" in line
    assert sum(clock.pauses) == pytest.approx(120.0) and max(clock.pauses) <= 15.0
    assert "FAIL  bolt:replica-1" in out  # the full report still shows what failed


def test_wait_durations():
    assert parse_duration("20m") == 1200 and parse_duration("90s") == 90 and parse_duration("1h30m") == 5400
    assert parse_duration("300") == 300
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration("twenty minutes")


def test_bad_wait_duration_is_a_usage_error(capsys, ca):
    code = main(["--uri", "bolt://127.0.0.1:1", "--wait", "soon"])
    assert code == 2
    assert "--wait 'soon': not a duration" in capsys.readouterr().err


def test_a_name_that_does_not_resolve_says_the_runner_must_resolve_the_private_zone():
    from neo4j.exceptions import ServiceUnavailable

    error = classify(ServiceUnavailable("Failed to DNS resolve address core-1.prod.neo4j.internal:7687: "
                                        "[Errno -2] Name or service not known"),
                     uri="bolt://core-1.prod.neo4j.internal:7687")
    assert "\n" not in error.message
    assert error.message.startswith("core-1.prod.neo4j.internal does not resolve: ")
    assert "private zone" in error.message and "runner's VPC" in error.message and "Resolver" in error.message


BOOT_FAILED_METRICS = ('# TYPE neo4j_cluster_boot_failed gauge\n'
                       'neo4j_cluster_boot_failed{step="install_neo4j"} 1\nneo4j_cluster_boot_completed 0\n')


def test_a_failed_boot_ends_the_wait_at_once_naming_the_server_and_the_step(capsys, ca):
    scenario = forming(10_000, 0)
    outputs = json.loads((ENTERPRISE / "stack-outputs-prod.json").read_text())
    replica = next(s for s in outputs["servers"] if s["name"] == "replica-1")
    host = replica.get("privateIp") or replica.get("hostname")
    scenario["endpoints"]["replica-1 node exporter"] = {
        "uri": f"bolt://{host}:9100", "metrics": {"url": f"http://{host}:9100/metrics", "body": BOOT_FAILED_METRICS}}
    code, out, err, clock = run_wait(scenario, capsys, ca, "20m")
    assert code == 1
    assert "replica-1: its boot script FAILED at step install_neo4j" in err
    line = next(line for line in err.splitlines() if "NOT READY" in line)
    assert "replica-1: its boot script FAILED at step install_neo4j" in line
    assert "/var/lib/neo4j-cluster/boot-status" in line
    assert len(clock.pauses) <= 1  # it did not wait for the deadline
    bolt_line = next(line for line in out.splitlines() if line.startswith("FAIL  bolt:replica-1"))
    assert "its boot script FAILED at step install_neo4j" in bolt_line  # the check's own line says it too


def test_failed_step_reads_the_textfile_metric():
    from scripts.neo4j_ops.checks.boot import failed_step

    assert failed_step(BOOT_FAILED_METRICS) == "install_neo4j"
    assert failed_step('neo4j_cluster_boot_failed{step="done"} 0\n') is None


@pytest.mark.parametrize("rounds_closed, wait, code", [(2, "20m", 0), (10_000, "1m", 1)])
def test_wait_also_waits_until_haproxy_forwards(rounds_closed, wait, code, capsys, ca):
    # Seen under the engine (tests/engine/test_engine_local_stack.py): the server answered, the check ran at once
    # and its HAProxy probe failed, HAProxy's health checks not having marked the server up yet.
    scenario = copy.deepcopy(load_scenario(ENTERPRISE / "cluster-5.26-healthy.json"))
    closed = {"error": {"kind": "unreachable", "message": "cannot reach haproxy.prod.neo4j.internal:7687: the server "
                                                           "closed the connection"}}
    responses = scenario["endpoints"]["haproxy"]["responses"]
    responses["probe_read"] = [closed] * rounds_closed + [responses["probe_read"]]
    got, out, err, _ = run_wait(scenario, capsys, ca, wait)
    assert got == code, out + err
    progress = [line.split("] ", 1)[1] for line in err.splitlines() if line.startswith("check [")]
    assert progress.count("haproxy: not forwarding yet: cannot reach haproxy.prod.neo4j.internal:7687: the server "
                          "closed the connection") == 1
    if code == 0:
        assert progress.index("haproxy: forwards") > progress.index(next(p for p in progress
                                                                          if p.startswith("cluster: formed")))
    else:
        line = next(line for line in err.splitlines() if "NOT READY" in line)
        assert line.endswith("haproxy (not forwarding yet: cannot reach haproxy.prod.neo4j.internal:7687: the "
                             "server closed the connection)")
