"""The command-line contract of check/security/diagnose, and the pieces under them that need no
server: usage errors (exit 2, one line), stack outputs → what is checked, deadlines, errors in words."""
from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scripts.neo4j_ops import checks, diagnose, security
from scripts.neo4j_ops.bolt import AUTH, UNREACHABLE, BoltError, NeoTransport, address_of, classify
from scripts.neo4j_ops.checks.results import SKIP
from scripts.neo4j_ops.checks.routing import routing_result
from scripts.neo4j_ops.parallel import TaskTimeoutError, run_all
from scripts.neo4j_ops.target import build_target, parse_servers
from tests.conftest import ENTERPRISE, ROOT


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "secret")


def test_stack_without_the_pulumi_cli_is_a_one_line_usage_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi here
    assert checks.main(["--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("check: --stack prod needs the pulumi CLI, which is not installed")
    assert "--outputs-file" in err and "--uri" in err


@pytest.mark.parametrize("argv, message", [
    ([], "nothing to check"),
    (["--uri", "http://x:7474"], "is not a Bolt URI"),
    (["--uri", "bolt://x:7687", "--tls", "required"], "give --ca-cert"),
    (["--servers", "a=bolt://x:1,a=bolt://y:1"], "a server name appears twice"),
    (["--servers", "a:leader=bolt://x:1"], "must be primary or secondary"),
    (["--uri", "bolt://x:7687", "--ca-cert", "/no/such/ca.crt"], "no such file"),
])
def test_bad_input_is_a_usage_error_naming_the_problem(argv, message, capsys):
    assert checks.main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_password_names_the_environment_variable(capsys, monkeypatch):
    monkeypatch.delenv("NEO4J_PASSWORD")
    assert checks.main(["--uri", "bolt://127.0.0.1:7687"]) == 2
    assert "set the environment variable NEO4J_PASSWORD" in capsys.readouterr().err


@pytest.mark.parametrize("module, prog", [(checks, "check"), (security, "security"), (diagnose, "diagnose")])
def test_help_shows_an_example_and_the_exit_codes(module, prog, capsys):
    with pytest.raises(SystemExit) as exited:
        module.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: {prog}" in out and "examples:" in out and "Exit status" in out


def test_the_scripts_are_thin_commands():
    for name in ("check", "security", "diagnose", "backup", "restore"):
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), "--help"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "examples:" in proc.stdout.lower(), proc.stderr
        assert len((ROOT / "scripts" / f"{name}.py").read_text().splitlines()) < 25


def test_servers_are_parsed_with_names_roles_and_bare_addresses():
    specs = parse_servers("core-1:primary=bolt://10.0.0.1:7687, replica-1:secondary=10.0.0.9:7687,10.0.0.5")
    assert [(s.name, s.uri, s.role) for s in specs] == [
        ("core-1", "bolt://10.0.0.1:7687", "primary"),
        ("replica-1", "bolt://10.0.0.9:7687", "secondary"),
        ("10.0.0.5:7687", "bolt://10.0.0.5", None),
    ]


def test_stack_outputs_and_config_say_what_to_check(monkeypatch):
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", '{"analyst": "x"}')
    args = checks.build_parser().parse_args(["--stack", "prod", "--outputs-file",
                                             str(ENTERPRISE / "stack-outputs-prod.json")])
    target = build_target(args)
    assert [(s.name, s.role, s.address) for s in target.servers] == [
        ("core-1", "primary", "core-1.prod.neo4j.internal:7687"),
        ("core-2", "primary", "core-2.prod.neo4j.internal:7687"),
        ("core-3", "primary", "core-3.prod.neo4j.internal:7687"),
        ("replica-1", "secondary", "replica-1.prod.neo4j.internal:7687")]
    assert target.servers[0].aliases >= {"core-1.prod.neo4j.internal:7687", "10.40.1.10:7687"}
    assert target.routing_uri == "neo4j://core-1.prod.neo4j.internal:7687"
    # HAProxy's write and read frontends, as the stack exports them (haproxyUri, haproxyReadUri).
    assert target.haproxy_uri == "bolt://haproxy.prod.neo4j.internal:7687"
    assert target.haproxy_read_uri == "bolt://haproxy.prod.neo4j.internal:7689"
    # Pulumi.prod.yaml: the expectations.
    assert (target.expect_version, target.expect_edition, target.tls_expected) == ("5.26.30", "enterprise", "required")
    assert [u.name for u in target.users] == ["analyst", "scientist"] and target.roles[0].name == "data_scientist"
    assert Path(target.tls.ca_file).read_text() == "(written by the tests)"  # from caCertPem
    assert target.fault_tolerance == 1 and target.user_passwords == {"analyst": "x"}


def test_a_task_that_hangs_misses_its_deadline_without_holding_up_the_others():
    start = time.monotonic()
    outcomes = run_all({"hangs": lambda: time.sleep(30), "quick": lambda: 42}, 0.3)
    assert time.monotonic() - start < 2
    assert outcomes["quick"].value == 42
    assert isinstance(outcomes["hangs"].error, TaskTimeoutError)
    assert str(outcomes["hangs"].error) == "no answer within 0.3 s"


def test_driver_errors_are_described_in_operator_terms():
    from neo4j.exceptions import AuthError, ServiceUnavailable

    refused = classify(ServiceUnavailable("Couldn't connect to 10.0.0.1:7687 (resolved to ('10.0.0.1:7687',)):\n"
                                          "Failed to establish connection to ResolvedIPv4Address(('10.0.0.1', 7687)) "
                                          "(reason [Errno 111] Connection refused)"), uri="bolt://10.0.0.1:7687")
    assert refused.kind == UNREACHABLE
    assert refused.message == ("cannot reach 10.0.0.1:7687: connection refused (is Neo4j running and listening on "
                               "that port?)")
    auth = classify(AuthError("The client is unauthorized due to authentication failure."),
                    uri="bolt://h:7687", user="neo4j")
    assert auth.kind == AUTH and auth.message.startswith("authentication failed for user neo4j on h:7687")
    timeout = classify(ServiceUnavailable("Timed out trying to establish connection"), uri="bolt://h:1", timeout=5)
    assert "no answer within 5 s" in timeout.message
    assert address_of("neo4j+s://[::1]:7687") == "[::1]:7687" and address_of("10.0.0.1") == "10.0.0.1:7687"


def test_the_real_transport_reads_a_metrics_endpoint_over_http():
    body = "# TYPE neo4j_dbms_page_cache_hit_ratio gauge\nneo4j_dbms_page_cache_hit_ratio 0.99\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status = 200 if self.path == "/metrics" else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body.encode() if status == 200 else b"no")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        transport = NeoTransport()
        assert transport.http_get(f"http://127.0.0.1:{port}/metrics", 2) == (200, body)
        assert transport.http_get(f"http://127.0.0.1:{port}/other", 2)[0] == 404
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(BoltError) as refused:
        NeoTransport().http_get(f"http://127.0.0.1:{port}/metrics", 2)
    assert refused.value.kind == UNREACHABLE and "connection refused" in refused.value.message


@pytest.mark.parametrize("name, argv, option", [
    ("check", ["--max-lag", "soon"], "--max-lag"),  # refused by argparse
    ("check", ["--servers", "a:leader=bolt://x:1"], "--servers"),  # refused by build_target (UsageError)
    ("diagnose", ["--uri", "bolt://x:7687", "--heap-warn", "lots"], "--heap-warn"),
    ("diagnose", ["--uri", "http://x:7474"], "--uri"),
    ("security", ["--stack-file", "/no/such/Pulumi.prod.yaml"], "--stack-file"),
    ("security", ["--no-such-option"], "--no-such-option"),
])
def test_usage_errors_of_the_real_commands_exit_2_with_one_line_naming_the_option(name, argv, option):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *argv], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "NEO4J_PASSWORD": "secret"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{name}: ") and option in line, line


def test_a_standalone_44_server_is_the_writer_of_its_databases_though_44_has_no_writer_column():
    from scripts.neo4j_ops.checks.membership import writers_result
    from scripts.neo4j_ops.facts import ServerFacts, ServerSpec

    spec = ServerSpec("127.0.0.1:7687", "bolt://127.0.0.1:7687")
    rows = [{"name": name, "address": "127.0.0.1:7687", "role": "standalone", "requestedStatus": "online",
             "currentStatus": "online", "error": ""} for name in ("neo4j", "system")]  # 4.4.46, as it answers
    facts = [ServerFacts(spec, version="4.4.46", edition="community", databases=rows)]
    target = build_target(checks.build_parser().parse_args(["--uri", spec.uri]))
    result = writers_result(target, facts)
    assert result.status == "PASS" and "is the writer of its databases" in result.detail


def test_the_project_directory_variable_names_where_stack_files_are_read_and_pulumi_runs(monkeypatch, tmp_path):
    # NEO4J_CLUSTER_PROJECT_DIR: a copy of the project whose Pulumi.<stack>.yaml differs from this checkout's.
    import yaml

    from scripts.neo4j_ops.rollout.stack import AutomationStack
    from scripts.neo4j_ops.target import PROJECT_DIR_VARIABLE, stack_settings

    monkeypatch.delenv(PROJECT_DIR_VARIABLE, raising=False)
    assert stack_settings("prod", None).replica_count == 2  # this checkout's Pulumi.prod.yaml
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["neo4j:replicaCount"] = 3
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setenv(PROJECT_DIR_VARIABLE, str(tmp_path))
    assert stack_settings("prod", None).replica_count == 3
    selected = []
    AutomationStack("prod", "aws", automation=type("Auto", (), {
        "select_stack": staticmethod(lambda name, work_dir: selected.append((name, work_dir)))}))
    assert selected == [("prod", str(tmp_path))]


def test_without_the_flag_check_gives_each_connection_and_query_5_seconds_and_help_says_so():
    # Integration tests pass --timeout 30 (they test what check reports on a loaded machine, not speed): the
    # default a user gets is pinned here.
    parser = checks.build_parser()
    assert parser.parse_args([]).timeout == 5.0
    [action] = [a for a in parser._actions if "--timeout" in a.option_strings]
    assert action.help == "per connection and per query (default: 5)"


def test_a_docker_stacks_routing_uri_is_not_probed_from_outside_its_network_and_check_says_why(tmp_path):
    # neo4j:// of a local stack names the servers by their Docker network names (components/docker/__init__.py):
    # from the laptop a probe through it can only fail; HAProxy and the published ports are what check probes.
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "boltUri": "bolt://127.0.0.1:7687", "routingUri": "neo4j://core-1.local.neo4j.internal:7687",
        "haproxyUri": "bolt://127.0.0.1:7687", "haproxyReadUri": "bolt://127.0.0.1:7689", "tls": "disabled",
        "servers": [{"name": "core-1", "role": "primary", "zone": "local", "hostname": "core-1.local.neo4j.internal",
                     "privateIp": "core-1.local.neo4j.internal", "boltUri": "bolt://127.0.0.1:17687"}]}))
    args = checks.build_parser().parse_args(["--stack", "local", "--outputs-file", str(outputs)])
    target = build_target(args)
    assert target.routing_uri is None and target.haproxy_uri == "bolt://127.0.0.1:7687"
    result = routing_result(target, [], None)
    assert (result.status, result.detail) == (SKIP, target.routing_skipped)
    assert "neo4j://core-1.local.neo4j.internal:7687 is for clients on the stack's Docker network" in result.detail
    # the same outputs of an aws stack are probed
    assert build_target(checks.build_parser().parse_args(["--stack", "dev", "--outputs-file", str(outputs)])
                        ).routing_uri == "neo4j://core-1.local.neo4j.internal:7687"
