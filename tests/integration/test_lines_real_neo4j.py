"""Every version line we render, run for real: the operator commands and our conf's validation against a
real Neo4j Community server of 4.4, 5.26 and 2025 (tests/support/neo4j_dist.py pins the releases), each
configured by our own templates (tests/support/neo4j_local.py).

The commands run as an operator runs them: `scripts/check.py`, `scripts/diagnose.py` and
`scripts/security.py` as processes (their entry points, not the runtime's modules). 5.26's full matrix
of each command is in test_check_real_neo4j.py, test_diagnose_real_neo4j.py and
test_security_real_neo4j.py; here each line gets the representative set. What a line lacks is skipped
with the reason; a known bug of a line is an expected failure naming it (strict: the test fails once
the bug is fixed, so the mark is removed with the fix).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import PASSWORD
from tests.support.cypher import can_log_in, running_longer_than, terminate_queries, wait_for_transactions
from tests.support.neo4j_dist import LINES, NEO4J_VERSIONS, Neo4jDistError, line_of, run_neo4j_admin
from tests.support.neo4j_local import LocalNeo4j, local_jvm_args, prepare

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LINE_IDS = [line_of(line).label for line in LINES]

# Known bugs of the operator runtime on a line, found by these tests (see known_bugs below).


def known_bugs(request, local: LocalNeo4j, *bugs: str) -> None:
    """Mark the running test an expected failure for each bug of its line (a bug names its line first)."""
    for bug in bugs:
        if bug.startswith(f"{line_of(local.version).label}:"):
            request.applymarker(pytest.mark.xfail(strict=True, reason=bug))


# Per connection and per query. The first queries on a server just started plan cold and can take
# seconds on two busy cores; the commands' default (5 s) is for a warm production server.
QUERY_TIMEOUT = "30"


def script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    """scripts/<name>.py run as a process, with the admin password in $NEO4J_PASSWORD."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    environment.update(NEO4J_PASSWORD=PASSWORD, **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args, "--timeout", QUERY_TIMEOUT],
                          env=environment, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def statuses(report: dict) -> dict[str, str]:
    return {check["name"]: check["status"] for check in report["checks"]}


# --- check ----------------------------------------------------------------------------------------------


def test_check_passes_against_the_lines_server(line_server):
    result = script("check", "--uri", line_server.uri, "--expect-version", line_server.version,
                    "--expect-edition", "community", "--tls", "disabled", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["ok"] is True
    assert (report["version"], report["edition"]) == (line_server.version, "community")
    assert report["servers"][0]["role"] == "standalone"
    found = statuses(report)
    assert found[f"bolt:127.0.0.1:{line_server.bolt_port}"] == "PASS"
    assert found["routing"] == found["writers"] == found["databases"] == "PASS"
    # Cluster-only checks say why they do not apply to a standalone community server.
    assert found["topology"] == found["replication-lag"] == found["metrics"] == "SKIP"


def test_check_names_the_version_it_found(line_server):
    result = script("check", "--uri", line_server.uri, "--expect-version", "5.26.1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"runs Neo4j {line_server.version}, expected 5.26.1" in result.stdout


# --- diagnose -------------------------------------------------------------------------------------------


def test_diagnose_finds_nothing_to_do_on_a_quiet_server(line_server):
    result = script("diagnose", "--uri", line_server.uri, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = {finding["area"]: finding for finding in report["findings"]}
    assert {"heap", "page-cache", "transactions", "leader"} <= set(findings)
    assert "MiB used" in findings["heap"]["summary"]  # read from JMX java.lang:type=Memory
    assert "no metrics endpoint" in findings["page-cache"]["summary"]


# A slow query that reads the store in its loop: 4.4 checks for termination only there (a pure UNWIND
# of numbers, terminated, keeps a core busy until it ends), so the test can stop it on every line.
SLOW = "UNWIND range(1, 2000000000) AS x MATCH (p:DiagnoseProbe) RETURN count(*) AS n"


def test_diagnose_reports_slow_blocked_and_idle_transactions_with_the_lines_own_advice(line_server, request):
    driver = line_server.server.driver()
    driver.execute_query("MERGE (:DiagnoseProbe {id: 1})")
    ended = {"slow": threading.Event(), "blocked": threading.Event()}

    def run_until_stopped(name: str, cypher: str):
        try:  # auto-commit queries: execute_query would retry them after they are terminated
            with driver.session() as session:
                session.run(cypher).consume()
        except Exception:  # noqa: BLE001 - terminated below
            pass
        finally:
            ended[name].set()

    session = driver.session()
    open_tx = session.begin_transaction()  # idle, holding the probe's write lock
    open_tx.run("MATCH (p:DiagnoseProbe {id: 1}) SET p.holder = 'idle transaction'").consume()
    threading.Thread(target=run_until_stopped, args=("slow", SLOW), daemon=True).start()
    threading.Thread(target=run_until_stopped, daemon=True, args=(
        "blocked", "MATCH (p:DiagnoseProbe {id: 1}) SET p.holder = 'blocked query'")).start()
    try:  # the slow query has run past --slow-query's second, and the other waits for the probe's lock
        wait_for_transactions(line_server, lambda rows: running_longer_than(rows, "UNWIND range(1, 2000000000)", 1.2)
                              and any(r["currentQuery"].startswith("MATCH (p:DiagnoseProbe {id: 1}) SET")
                                      and r["status"].startswith("Blocked") for r in rows))
        result = script("diagnose", "--uri", line_server.uri, "--json", "--slow-query", "1")
        report = json.loads(result.stdout)
        assert result.returncode == 1, result.stdout + result.stderr
        found = {f["area"]: f for f in report["findings"]}
        slow, blocked, idle = found["slow-query"], found["blocked-transaction"], found["open-transaction"]
        assert slow["severity"] == "warning" and "UNWIND range(1, 2000000000)" in slow["summary"]
        assert "Blocked by" in blocked["summary"]
        assert "without running a query" in idle["summary"] and "holding" in idle["summary"]
        # The advice is what the line takes: its own setting name and its own way to stop a query.
        timeout_setting = "dbms.transaction.timeout" if line_server.line == "4.4" else "db.transaction.timeout"
        assert timeout_setting in slow["action"] and timeout_setting in idle["action"]
        if line_server.line == "4.4":
            assert "dbms.killQuery(" in slow["action"] and "dbms.killTransaction(" in idle["action"]
        else:
            assert "TERMINATE TRANSACTION 'neo4j-transaction-" in slow["action"]
    finally:
        open_tx.rollback()
        session.close()
        terminate_queries(line_server, "UNWIND range(1, 2000000000)")
        assert all(event.wait(30) for event in ended.values())
        driver.execute_query("MATCH (p:DiagnoseProbe) DELETE p")
        driver.close()


# --- security (community: users; roles need enterprise) ---------------------------------------------------

USER_SECRETS = {"line_reader": "line-reader-secret-1", "line_loader": "line-loader-secret-1"}


def stack_file(tmp_path: Path, local: LocalNeo4j, **config) -> Path:
    path = tmp_path / "Pulumi.lines.yaml"
    path.write_text(yaml.safe_dump({"config": {
        "neo4j:version": local.version, "neo4j:edition": "community", "neo4j:coreCount": 1,
        "neo4j:tls": "disabled", **{f"neo4j:{key}": value for key, value in config.items()}}}))
    return path


def test_security_creates_users_once_and_check_then_finds_them(line_server, tmp_path):
    path = stack_file(tmp_path, line_server, users=[{"name": name} for name in USER_SECRETS])
    secrets = {"NEO4J_USER_PASSWORDS": json.dumps(USER_SECRETS)}
    first = script("security", "--stack-file", str(path), "--uri", line_server.uri, "--json", env=secrets)
    assert first.returncode == 0, first.stdout + first.stderr
    made = json.loads(first.stdout)["changes"]
    assert {(c["kind"], c["target"]) for c in made} <= {("create-user", name) for name in USER_SECRETS}
    second = script("security", "--stack-file", str(path), "--uri", line_server.uri, "--json", env=secrets)
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads(second.stdout)
    assert report["changes"] == []
    assert sorted(report["unchanged"]) == [f"user {name}" for name in sorted(USER_SECRETS)]
    for secret in USER_SECRETS.values():
        assert secret not in first.stdout + first.stderr + second.stdout + second.stderr
    assert all(can_log_in(line_server, user, password) for user, password in USER_SECRETS.items())

    checked = script("check", "--uri", line_server.uri, "--stack-file", str(path), env=secrets)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PASS  users" in checked.stdout and "SKIP  reader-cannot-write" in checked.stdout


def test_security_refuses_roles_on_community_and_changes_nothing(line_server, tmp_path):
    path = stack_file(tmp_path, line_server, users=[{"name": "line_analyst", "roles": ["line_role"]}],
                      roles=[{"name": "line_role", "privileges": ["MATCH {*} ON GRAPH neo4j"]}])
    secrets = {"NEO4J_USER_PASSWORDS": json.dumps({"line_analyst": "line-analyst-secret-1"})}
    result = script("security", "--stack-file", str(path), "--uri", line_server.uri, env=secrets)
    # Refused from the stack config, before anything reaches the server (exit 2: a config error).
    assert result.returncode == 2, result.stdout + result.stderr
    assert "neo4j:roles: roles need edition enterprise" in result.stderr and "Traceback" not in result.stderr
    with line_server.server.driver() as driver:
        records, _, _ = driver.execute_query("SHOW USERS YIELD user WHERE user = 'line_analyst' RETURN user",
                                             database_="system")
    assert records == []


# --- our conf, validated by the real server ---------------------------------------------------------------

# A value of each kind that Neo4j parses, put into an otherwise rendered conf (settings.py would refuse
# these before rendering, so they are written over the rendered lines): the server must refuse to start.
# Keys the test machine overrides (addresses, memory) are not used: their conf value never reaches Neo4j.
BAD_VALUES = {
    "size": ("tx_log.rotation.size", "256 megabytes"),
    "duration": ("logs.query.threshold", "1 fortnight"),
    "retention": ("tx_log.rotation.retention_policy", "2 fortnights"),
}


def _conf_key(line: str, suffix: str) -> str:
    return ("dbms." if line == "4.4" else "db.") + suffix


def _refused(local: LocalNeo4j) -> str:
    """Start the server; it must exit before Bolt answers. Returns what it printed."""
    try:
        local.start(timeout=120)
    except Neo4jDistError as error:
        assert "exited" in str(error), str(error)
        return local.server.console_log.read_text(errors="replace")
    finally:
        local.stop()
    raise AssertionError(f"Neo4j {local.version} started with a bad conf")


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
@pytest.mark.parametrize("line", LINES, ids=LINE_IDS)
def test_the_real_server_refuses_a_bad_value_in_our_conf(line, kind, tmp_path):
    local = prepare(tmp_path / "home", password=PASSWORD, version=NEO4J_VERSIONS[line])
    suffix, bad = BAD_VALUES[kind]
    key = _conf_key(line, suffix)
    conf_file = local.home / "conf" / "neo4j.conf"
    text, replaced = re.subn(rf"(?m)^{re.escape(key)}=.*$", f"{key}={bad}", conf_file.read_text())
    assert replaced == 1, f"the rendered conf of {local.version} has no {key}"
    conf_file.write_text(text)
    logged = _refused(local)
    assert key in logged and bad.split()[-1] in logged, logged  # the setting, and what is wrong with it


@pytest.mark.parametrize("line", LINES, ids=LINE_IDS)
def test_strict_validation_refuses_a_misspelt_key_in_our_conf(line, tmp_path):
    local = prepare(tmp_path / "home", password=PASSWORD, version=NEO4J_VERSIONS[line])
    strict = "dbms.config.strict_validation=true" if line == "4.4" else "server.config.strict_validation.enabled=true"
    assert strict in local.conf  # the template turns it on; without it a misspelt key is only a warning
    misspelt = ("dbms." if line == "4.4" else "server.") + "memory.heap.max_sise"
    conf_file = local.home / "conf" / "neo4j.conf"
    conf_file.write_text(conf_file.read_text() + f"{misspelt}=1g\n")
    logged = _refused(local)
    assert misspelt in logged, logged


# Not 4.4: its neo4j-admin has no validate-config command (added in 5.x); the server start validates the 4.4 conf
# instead (the tests above).
@pytest.mark.parametrize("line", [line for line in LINES if line != "4.4"],
                         ids=[line_of(line).label for line in LINES if line != "4.4"])
def test_neo4j_admin_validates_our_rendered_conf(line, tmp_path):
    version = NEO4J_VERSIONS[line]
    home = prepare(tmp_path / "home", password=PASSWORD, version=version).home
    result = run_neo4j_admin(["server", "validate-config"], home, version=version, jvm_args=local_jvm_args(version))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file validation successful" in result.stdout

