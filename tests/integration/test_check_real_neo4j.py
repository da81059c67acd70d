"""scripts/check.py against a real Neo4j Community 5.26 configured by our templates, directly and
through a real HAProxy."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.neo4j_ops.checks import main
from scripts.neo4j_ops.queries import PROBE_LABEL
from tests.integration.conftest import PASSWORD, haproxy_in_front
from tests.support.neo4j_dist import NEO4J_VERSION, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    monkeypatch.delenv("NEO4J_USER_PASSWORDS", raising=False)


def run(capsys, *args: str) -> tuple[int, str]:
    # These tests are about what check reports, not speed: the default 5 s per query was once too short for the
    # first query on the shared server under a loaded run (test_direct_check_passes_…: "did not finish within
    # 5.0 s"). The default itself is pinned by a unit test.
    code = main(["--timeout", "30", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def results(output: str) -> dict[str, str]:
    """'PASS  routing  write via …' lines → {name: status}."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("PASS", "FAIL", "SKIP"):
            found[parts[1]] = parts[0]
    return found


def test_direct_check_passes_against_a_server_configured_by_our_templates(neo4j_server, capsys):
    code, out = run(capsys, "--uri", neo4j_server.uri, "--expect-version", NEO4J_VERSION,
                    "--expect-edition", "community", "--tls", "disabled")
    assert code == 0, out
    assert out.splitlines()[0].split() == ["SERVER", "ADDRESS", "ROLE", "DATABASE", "HEALTH", "LAG"]
    assert f"127.0.0.1:{neo4j_server.bolt_port}  127.0.0.1:{neo4j_server.bolt_port}  standalone  neo4j" in out
    status = results(out)
    assert status[f"bolt:127.0.0.1:{neo4j_server.bolt_port}"] == "PASS"
    assert status["routing"] == status["writers"] == status["databases"] == "PASS"
    # Cluster-only checks say why they do not apply to a standalone community server.
    assert status["topology"] == status["replication-lag"] == status["metrics"] == "SKIP"
    assert "enterprise-only" in out and "all required checks passed" in out


def test_the_probe_node_is_removed_after_the_check(neo4j_server, capsys):
    assert run(capsys, "--uri", neo4j_server.uri)[0] == 0
    with neo4j_server.server.driver() as driver:
        records, _, _ = driver.execute_query(f"MATCH (p:{PROBE_LABEL}) RETURN count(p) AS n")
    assert records[0]["n"] == 0


def test_wrong_password_fails_with_an_authentication_message(neo4j_server, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "not-the-password")
    code, out = run(capsys, "--servers", f"core-1={neo4j_server.uri}")
    assert code == 1
    assert "FAIL  bolt:core-1" in out
    assert "authentication failed for user neo4j" in out and "check the password" in out
    assert "auth failed" in out  # the overview row


def test_unexpected_version_is_reported_with_what_was_found(neo4j_server, capsys):
    code, out = run(capsys, "--uri", neo4j_server.uri, "--expect-version", "5.26.29")
    assert code == 1
    assert f"runs Neo4j {NEO4J_VERSION}, expected 5.26.29" in out


def test_json_output_is_one_document_with_every_check(neo4j_server, capsys):
    code, out = run(capsys, "--uri", neo4j_server.uri, "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] is True
    assert document["version"] == NEO4J_VERSION and document["edition"] == "community"
    assert {c["name"] for c in document["checks"]} >= {"routing", "writers", "topology", "tls", "haproxy"}
    assert document["servers"][0]["role"] == "standalone"


def test_check_through_a_real_haproxy_writes_and_reads_your_own_write(neo4j_server, haproxy, capsys):
    code, out = run(capsys, "--uri", neo4j_server.uri, "--haproxy-uri", haproxy.write_uri,
                    "--haproxy-read-uri", haproxy.read_uri)
    assert code == 0, out
    assert results(out)["haproxy"] == "PASS"
    assert f"write via {haproxy.write_uri} and read-your-own-write via {haproxy.read_uri} work" in out


def test_haproxy_without_a_live_backend_fails_naming_haproxy(neo4j_server, tmp_path, capsys):
    dead = f"127.0.0.1:{free_port()}"
    with haproxy_in_front([dead], tmp_path) as proxy:
        code, out = run(capsys, "--uri", neo4j_server.uri, "--haproxy-uri", proxy.write_uri, "--timeout", "3")
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("FAIL  haproxy"))
    assert proxy.write_uri in line


def test_check_script_exits_0_then_1_naming_the_stopped_server(neo4j_server, neo4j_factory):
    """The acceptance path: scripts/check.py as a command, against two servers checked in parallel,
    then again after one of them stopped."""
    (other,) = neo4j_factory()
    command = [sys.executable, str(ROOT / "scripts" / "check.py"), "--uri", neo4j_server.uri,
               "--servers", f"main={neo4j_server.uri},other={other.uri}", "--timeout", "15"]
    env = {**os.environ, "NEO4J_PASSWORD": PASSWORD}
    up = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    assert up.stdout.startswith("SERVER") and "main, other are each the writer of their databases" in up.stdout
    assert results(up.stdout)["bolt:main"] == results(up.stdout)["bolt:other"] == "PASS"
    other.stop()
    down = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert down.returncode == 1, down.stdout + down.stderr
    failure = next(line for line in down.stdout.splitlines() if line.startswith("FAIL  bolt:other"))
    assert f"cannot reach 127.0.0.1:{other.bolt_port}: connection refused" in failure
    assert any(line.split()[:1] == ["other"] and "unreachable" in line for line in down.stdout.splitlines())
    assert results(down.stdout)["bolt:main"] == "PASS"
    assert "1 check failed: bolt:other" in down.stdout


def test_a_recording_of_a_real_server_replays_to_the_same_report(neo4j_server, tmp_path, capsys):
    """--record writes what the server answered; replaying it gives the same checks (how the
    enterprise fixtures can be re-recorded from a live cluster)."""
    from scripts.neo4j_ops.recorded import RecordedTransport

    recording = tmp_path / "recording.json"
    live_code, live = run(capsys, "--uri", neo4j_server.uri, "--record", str(recording))
    scenario = json.loads(recording.read_text())
    assert PASSWORD not in recording.read_text()
    assert {"components", "show_databases"} <= set(scenario["endpoints"][neo4j_server.address]["responses"])
    replayed = RecordedTransport(recording)
    code = main(["--uri", neo4j_server.uri], transport=replayed)
    replay = capsys.readouterr().out
    assert (code, replayed.missing) == (live_code, [])
    assert results(replay) == results(live)
