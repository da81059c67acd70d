"""renew-certificates.sh, the daily job that brings a renewed certificate from Secrets Manager to a running
server: the rendered script runs for real in bash, with only its machine paths moved into a sandbox and
stand-ins for what only the machine has (the AWS CLI, systemctl, cypher-shell, and the TLS handshake of
`openssl s_client`, which here answers with the certificate a stand-in server "serves"). Real openssl
reads the real certificates (made with tests/support/neo4j_local.py make_certificates); real sha256sum,
jq and install write them. What a real server does with them is tests/integration/test_cert_renewal_real_neo4j.py.
"""
from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from components.aws.user_data import SERVER_FILE_PLACES, aws_artifacts
from components.monitoring import CERTIFICATE_EXPIRY_WARNING_DAYS
from components.program import tls
from components.render import render_neo4j_conf
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.neo4j_local import Certificates, make_certificates
from tests.support.neo4j_settings import setting_list
from tests.support.promtool_rules import check_metrics
from tests.support.shell import Sandbox, sandbox

VERSIONS = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.1"}
PASSWORD = "admin-secret-not-real"
SCOPES = ("bolt", "https", "cluster", "backup")


def artifacts(server: str = "core-1", **stack) -> dict[str, str]:
    settings = make_settings(**stack)
    return aws_artifacts(settings, plan_topology(settings))[server]


def renew_script(**stack) -> str:
    return artifacts(**stack)["renew-certificates.sh"]


@pytest.fixture(scope="module")
def cert_a(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("cert-a"), use_openssl=True)


@pytest.fixture(scope="module")
def cert_b(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("cert-b"), use_openssl=True)


def material(certs: Certificates) -> str:
    return json.dumps({"key": certs.server_key.read_text(), "cert": certs.server_cert.read_text(),
                       "ca": certs.ca_cert.read_text()})


class Machine:
    """A sandboxed server: its certificate directory, the secret Secrets Manager holds, what each TLS port
    serves, whether the cluster is whole; `run()` runs the rendered script and returns the result."""

    def __init__(self, box: Sandbox, script: str):
        self.box = box
        self.root = box.root
        self.certs = self.root / "certificates"
        self.textfiles = self.root / "textfile"
        self.status = self.root / "cert-renew-status"
        self.script = self.sandboxed(script)
        (self.root / "up").touch()
        self.stand_ins()

    def sandboxed(self, script: str) -> str:
        """The rendered script with its machine paths moved into the sandbox and no pauses; nothing else."""
        moves = {"CERT_DIR=/var/lib/neo4j/certificates": f'CERT_DIR="{self.certs}"',
                 "TEXTFILE_DIR=/var/lib/prometheus/node-exporter": f'TEXTFILE_DIR="{self.textfiles}"',
                 "RENEW_STATUS=/var/lib/neo4j-cluster/cert-renew-status": f'RENEW_STATUS="{self.status}"',
                 "POLL_SECONDS=5": "POLL_SECONDS=0", "RELOAD_WAIT_SECONDS=60": "RELOAD_WAIT_SECONDS=2"}
        for old, new in moves.items():
            assert script.count(old) == 1, old
            script = script.replace(old, new)
        script = re.sub(r"^RESTART_WAIT_SECONDS=\d+$", "RESTART_WAIT_SECONDS=2", script, count=1, flags=re.M)
        return script

    def stand_ins(self) -> None:
        root = self.root
        box = self.box
        # Secrets Manager: the server's TLS secret (secret.json) or the admin password.
        box.stand_in("aws", f'''id=""; while (($#)); do [[ "$1" == --secret-id ]] && id=$2; shift; done
case "$id" in */tls/*) cat "{root}/secret.json";; *) echo "{PASSWORD}";; esac''')
        # install without -o/-g (no neo4j user here); modes are kept.
        box.stand_in("install", '''args=(); while (($#)); do case "$1" in -o|-g) shift 2;; *) args+=("$1"); shift;; esac
done; exec /usr/bin/install "${args[@]}"''')
        # A TLS handshake on a port gets the certificate the stand-in server serves there (served-<port>.pem);
        # everything else is the real openssl.
        box.stand_in("openssl", f'''if [[ "$1" == s_client ]]; then
  port=${{3##*:}}; [[ -e "{root}/up" && -f "{root}/served-$port.pem" ]] || exit 1; cat "{root}/served-$port.pem"; exit 0
fi
exec /usr/bin/openssl "$@"''')
        # cypher-shell: the query is the last argument. The password must come from the environment.
        box.stand_in("cypher-shell", f'''query=${{*: -1}}
[[ "$NEO4J_PASSWORD" == "{PASSWORD}" && " $* " != *"{PASSWORD}"* ]] || {{ echo "bad credentials" >&2; exit 1; }}
[[ -e "{root}/up" ]] || exit 1
case "$query" in
  "CALL dbms.components() YIELD name RETURN name") echo name; echo "Neo4j Kernel";;
  *SHOW\\ SERVERS*|*dbms.cluster.overview*) echo available; cat "{root}/available";;
  *reloadTLS*) [[ -e "{root}/reload-missing" ]] && exit 1
    [[ -e "{root}/reload-takes" ]] && "{root}/serve-installed"; exit 0;;
  *) exit 1;;
esac''')
        serve = root / "serve-installed"
        serve.write_text(f'#!/usr/bin/env bash\nfor p in $(cat "{root}/ports"); do '
                         f'cp "{self.certs}/${{p%%:*}}/public.crt" "{root}/served-${{p##*:}}.pem"; done\n')
        serve.chmod(0o755)
        # systemctl restart: the restarted server reads the installed files.
        box.stand_in("systemctl", f'[[ "$1" == restart ]] && "{serve}"; exit 0')
        box.stand_in("sleep")

    def install(self, certs: Certificates, scopes=SCOPES) -> None:
        """What the boot wrote: `jq -r` prints each PEM with one more newline."""
        for scope in scopes:
            base = self.certs / scope
            (base / "trusted").mkdir(parents=True, exist_ok=True)
            (base / "private.key").write_text(certs.server_key.read_text() + "\n")
            (base / "public.crt").write_text(certs.server_cert.read_text() + "\n")
            (base / "trusted" / "ca.crt").write_text(certs.ca_cert.read_text() + "\n")

    def serve(self, certs: Certificates, ports: dict[str, int]) -> None:
        (self.root / "ports").write_text(" ".join(f"{scope}:{port}" for scope, port in ports.items()))
        for port in ports.values():
            shutil.copyfile(certs.server_cert, self.root / f"served-{port}.pem")

    def served(self, port: int) -> str:
        return (self.root / f"served-{port}.pem").read_text().strip()

    def run(self, *args: str) -> subprocess.CompletedProcess:
        program = self.root / "renew-certificates.sh"
        program.write_text(self.script)
        environment = {"PATH": f"{self.box.bin}:/usr/bin:/bin", "HOME": str(self.root)}
        return subprocess.run(["bash", str(program), *args], capture_output=True, text=True, env=environment,
                              cwd=self.root, timeout=120)

    def calls(self, tool: str) -> list[str]:
        return [c for c in self.box.calls() if c.startswith(tool + " ")]

    def metric(self, name: str) -> str:
        text = (self.textfiles / "neo4j_cluster_certificate_renewal.prom").read_text()
        return next(line for line in text.splitlines() if line.startswith(name))


PORTS = {"bolt": 7687, "https": 7473}


def machine(tmp_path: Path, installed: Certificates, secret: Certificates, served: Certificates | None = None,
            *, available: int = 5, **stack) -> Machine:
    stack = {"version": VERSIONS["5"], "tls": "required", **stack}
    m = Machine(sandbox(tmp_path), renew_script(**stack))
    scopes = SCOPES if make_settings(**stack).clustered else ("bolt", "https")
    m.install(installed, scopes)
    m.serve(served or installed, PORTS)
    (tmp_path / "secret.json").write_text(material(secret))
    (tmp_path / "available").write_text(f"{available}\n")
    return m


def installed_cert(m: Machine, scope: str = "bolt") -> str:
    return (m.certs / scope / "public.crt").read_text()


# --- nothing new ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["4.4", "5", "2025"])
def test_an_unchanged_secret_changes_nothing_and_restarts_nothing(tmp_path, cert_a, line):
    m = machine(tmp_path, cert_a, cert_a, version=VERSIONS[line])
    before = {p: p.stat().st_mtime_ns for p in m.certs.rglob("*") if p.is_file()}
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "certificates unchanged and served" in result.stdout
    assert m.calls("systemctl") == []
    assert not [c for c in m.calls("cypher-shell") if "reloadTLS" in c or "SHOW SERVERS" in c]
    assert {p: p.stat().st_mtime_ns for p in m.certs.rglob("*") if p.is_file()} == before
    assert m.status.read_text().startswith("state=ok step=done ")
    assert m.metric("neo4j_cluster_certificate_renewal_failed") == \
        'neo4j_cluster_certificate_renewal_failed{step="done"} 0'
    expiry = (m.textfiles / "neo4j_cluster_certificates.prom").read_text()
    assert 'neo4j_cluster_certificate_expiry_seconds{scope="bolt"}' in expiry


@pytest.mark.integration
def test_what_the_renewal_writes_for_node_exporter_passes_promtool(tmp_path, cert_a):
    """Node exporter's textfile collector reads the Prometheus text format: `promtool check metrics` (Debian's
    prometheus) reads the renewal's outcome and the certificates' expiry files and finds nothing to say."""
    m = machine(tmp_path, cert_a, cert_a)
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    files = sorted(m.textfiles.glob("*.prom"))
    assert [f.name for f in files] == ["neo4j_cluster_certificate_renewal.prom", "neo4j_cluster_certificates.prom"]
    for path in files:
        check_metrics(path.read_text(), path.name)


# --- 2025: reload ----------------------------------------------------------------------------------------


def test_2025_enterprise_installs_the_renewed_certificate_and_reloads_without_a_restart(tmp_path, cert_a, cert_b):
    m = machine(tmp_path, cert_a, cert_b, version=VERSIONS["2025"])
    (tmp_path / "reload-takes").touch()
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    for scope in SCOPES:
        assert installed_cert(m, scope) == cert_b.server_cert.read_text() + "\n"
        assert (m.certs / scope / "private.key").read_text() == cert_b.server_key.read_text() + "\n"
        assert (m.certs / scope / "trusted" / "ca.crt").read_text() == cert_b.ca_cert.read_text() + "\n"
        assert stat.S_IMODE((m.certs / scope / "private.key").stat().st_mode) == 0o400
        assert not list((m.certs / scope).glob(".*.new")), "temporary files left beside the certificates"
    reloads = [c for c in m.calls("cypher-shell") if "CALL dbms.security.reloadTLS()" in c]
    assert len(reloads) == 1 and "-a bolt+ssc://localhost:7687" in reloads[0]  # this member, not routed
    assert m.calls("systemctl") == []
    assert m.served(7687) == m.served(7473) == cert_b.server_cert.read_text().strip()
    assert "reloaded: the renewed certificates are served" in result.stdout
    assert m.status.read_text().startswith("state=ok step=done ") and "reloaded" in m.status.read_text()


def test_2025_restarts_when_the_reload_does_not_bring_the_new_certificate(tmp_path, cert_a, cert_b):
    m = machine(tmp_path, cert_a, cert_b, version=VERSIONS["2025"])
    (tmp_path / "reload-missing").touch()  # e.g. the procedure is not there (a Community server has none)
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restarting instead" in result.stdout
    assert m.calls("systemctl") == ["systemctl restart neo4j"]
    assert m.served(7687) == cert_b.server_cert.read_text().strip()


# --- 5.x and 4.4: one server restarts while the others are up --------------------------------------------


@pytest.mark.parametrize("line,query", [("5", "SHOW SERVERS"), ("4.4", "CALL dbms.cluster.overview()")])
def test_a_changed_secret_restarts_this_server_when_every_member_is_available(tmp_path, cert_a, cert_b, line, query):
    expected = len(plan_topology(make_settings(version=VERSIONS[line])).servers)
    m = machine(tmp_path, cert_a, cert_b, version=VERSIONS[line], available=expected)
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c for c in m.calls("cypher-shell") if query in c], m.calls("cypher-shell")
    assert not [c for c in m.calls("cypher-shell") if "reloadTLS" in c]
    assert m.calls("systemctl") == ["systemctl restart neo4j"]
    assert m.served(7687) == m.served(7473) == cert_b.server_cert.read_text().strip()
    assert f"all {expected} cluster members available" in result.stdout
    assert m.status.read_text().startswith("state=ok step=done ") and "restarted" in m.status.read_text()


@pytest.mark.parametrize("line", ["4.4", "5"])
def test_the_restart_is_skipped_while_a_peer_is_down_and_done_at_the_next_run(tmp_path, cert_a, cert_b, line):
    expected = len(plan_topology(make_settings(version=VERSIONS[line])).servers)
    m = machine(tmp_path, cert_a, cert_b, version=VERSIONS[line], available=expected - 1)
    first = m.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert m.calls("systemctl") == []
    assert f"{expected - 1} of {expected} cluster members available" in first.stdout
    assert "skipped" in first.stdout
    assert m.status.read_text().startswith("state=skipped step=cluster_health ")
    assert m.metric("neo4j_cluster_certificate_renewal_pending") == "neo4j_cluster_certificate_renewal_pending 1"
    assert m.served(7687) == cert_a.server_cert.read_text().strip()  # still the old one: nothing restarted
    # The files are already in place; the next run sees they are not served yet and restarts then.
    (tmp_path / "available").write_text(f"{expected}\n")
    second = m.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "the installed certificates are not served yet" in second.stdout
    assert m.calls("systemctl") == ["systemctl restart neo4j"]
    assert m.served(7687) == cert_b.server_cert.read_text().strip()
    assert m.metric("neo4j_cluster_certificate_renewal_pending") == "neo4j_cluster_certificate_renewal_pending 0"


def test_an_unanswered_cluster_question_is_no_licence_to_restart(tmp_path, cert_a, cert_b):
    m = machine(tmp_path, cert_a, cert_b)
    (tmp_path / "available").write_text("")  # cypher-shell prints only the header
    result = m.run()
    assert result.returncode == 0
    assert m.calls("systemctl") == []
    assert "cannot ask this server about the cluster" in result.stdout


def test_a_server_that_does_not_come_back_is_a_failure_with_its_step(tmp_path, cert_a, cert_b):
    m = machine(tmp_path, cert_a, cert_b)
    m.box.stand_in("systemctl", f'rm -f "{tmp_path}/up"')  # restarted, never back
    result = m.run()
    assert result.returncode != 0
    assert m.status.read_text().startswith("state=failed step=wait_for_server ")
    assert m.metric("neo4j_cluster_certificate_renewal_failed") == \
        'neo4j_cluster_certificate_renewal_failed{step="wait_for_server"} 1'
    assert "FAILED at step wait_for_server" in result.stdout


def test_a_standalone_community_server_restarts_without_asking_for_a_cluster(tmp_path, cert_a, cert_b):
    m = machine(tmp_path, cert_a, cert_b, edition="community", coreCount=1, replicaCount=0, acceptLicense=False,
                version=VERSIONS["2025"])
    result = m.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [c for c in m.calls("cypher-shell") if "reloadTLS" in c or "SHOW SERVERS" in c]
    assert m.calls("systemctl") == ["systemctl restart neo4j"]
    assert m.served(7687) == cert_b.server_cert.read_text().strip()


# --- bad input ---------------------------------------------------------------------------------------


def test_a_secret_without_a_certificate_fails_at_fetch_and_touches_nothing(tmp_path, cert_a):
    m = machine(tmp_path, cert_a, cert_a)
    (tmp_path / "secret.json").write_text(json.dumps({"key": "k", "ca": "c"}))
    result = m.run()
    assert result.returncode != 0
    assert "has no cert (expected JSON with key, cert and ca)" in result.stdout
    assert m.status.read_text().startswith("state=failed step=fetch ")
    assert installed_cert(m) == cert_a.server_cert.read_text() + "\n"
    assert m.calls("systemctl") == []


def test_help_and_unknown_arguments(tmp_path, cert_a):
    m = machine(tmp_path, cert_a, cert_a)
    helped = m.run("--help")
    assert helped.returncode == 0 and "usage:" in helped.stdout
    wrong = m.run("--now")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "renew-certificates: unknown argument '--now' (allowed: --help)"
    assert m.calls("aws") == []


# --- what is rendered where --------------------------------------------------------------------------------


def test_boot_and_renewal_share_one_copy_of_the_secret_and_install_functions():
    files = artifacts(version=VERSIONS["5"], tls="required")
    for name in ("retry", "secret", "fetch_certificates", "certificates_differ", "write_certificates",
                 "publish_certificate_expiry"):
        definition = re.compile(rf"^{name}\(\) \{{\n.*?^\}}\n", re.S | re.M)
        boot, renew = definition.search(files["setup-neo4j.sh"]), definition.search(files["renew-certificates.sh"])
        assert boot and renew and boot.group(0) == renew.group(0), name
    assert "systemctl enable --now neo4j-cert-renew.timer" in files["setup-neo4j.sh"]


def test_without_tls_there_is_nothing_to_renew():
    files = artifacts(version=VERSIONS["5"], tls="disabled")
    assert not {"renew-certificates.sh", "neo4j-cert-renew.service", "neo4j-cert-renew.timer"} & set(files)
    assert "neo4j-cert-renew" not in files["setup-neo4j.sh"]
    assert "neo4j-cert-renew" not in files["cloud-init.yaml"]


def test_cloud_init_places_the_script_and_units():
    # On every server but the backup server, whose tooling archive carries them (test_setup_script.py).
    settings = make_settings(version=VERSIONS["2025"], tls="required", coreCount=3, replicaCount=1)
    topology = plan_topology(settings)
    rendered = aws_artifacts(settings, topology)
    for server in topology.servers:
        files = rendered[server.name]
        for name in ("renew-certificates.sh", "neo4j-cert-renew.service", "neo4j-cert-renew.timer"):
            placed = f"path: {SERVER_FILE_PLACES[name]}" in files["cloud-init.yaml"]
            assert placed == (server != topology.backup_server), (server.name, name)
    files = rendered[topology.primaries[1].name]
    assert f"ExecStart={SERVER_FILE_PLACES['renew-certificates.sh']}" in files["neo4j-cert-renew.service"]


def test_every_server_renews_at_its_own_hour_and_missed_runs_are_caught_up():
    settings = make_settings(version=VERSIONS["5"], tls="required", coreCount=5, replicaCount=2)
    topology = plan_topology(settings)
    rendered = aws_artifacts(settings, topology)
    times = [re.search(r"^OnCalendar=(.+)$", rendered[s.name]["neo4j-cert-renew.timer"], re.M)[1]
             for s in topology.servers]
    assert len(set(times)) == len(times) == 7
    assert times[0] == "*-*-* 09:15:00 UTC" and times[1] == "*-*-* 10:15:00 UTC"
    assert all("Persistent=true" in rendered[s.name]["neo4j-cert-renew.timer"] for s in topology.servers)


def test_the_prod_stack_user_data_still_fits_ec2s_limit():
    from components.aws.machine import USER_DATA_LIMIT, compressed_user_data
    from components.settings import load_settings
    from tests.conftest import stack_config

    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    rendered = aws_artifacts(settings, topology)
    for server in topology.servers:
        files = rendered[server.name]
        assert "renew-certificates.sh" in files
        compressed_user_data(files["cloud-init.yaml"])  # raises above USER_DATA_LIMIT
    assert USER_DATA_LIMIT == 16 * 1024


# --- the conf and the Pulumi side ---------------------------------------------------------------------------


@pytest.mark.parametrize("version,edition,expected", [
    ("2025.10.1", "enterprise", True), ("2025.03.0", "enterprise", True), ("2025.02.0", "enterprise", False),
    ("2025.10.1", "community", False), ("5.26.30", "enterprise", False), ("4.4.46", "enterprise", False)])
def test_tls_reload_is_switched_on_only_where_the_manual_has_it(version, edition, expected):
    # Operations Manual dev, configuration/configuration-settings.adoc: dbms.security.tls_reload_enabled is
    # "label--enterprise-edition label--new-2025.03"; the 2025 settings list (tests/fixtures) has it.
    stack = {"version": version, "edition": edition, "tls": "required"}
    if edition == "community":
        stack.update(coreCount=1, replicaCount=0, acceptLicense=False)
    settings = make_settings(**stack)
    topology = plan_topology(settings)
    conf = render_neo4j_conf(settings, topology, topology.servers[0])
    assert ("dbms.security.tls_reload_enabled=true" in conf) is expected
    script = aws_artifacts(settings, topology)["core-1"]["renew-certificates.sh"]
    assert ("RELOAD=true" in script) is expected
    entry = setting_list("2025")["settings"]["dbms.security.tls_reload_enabled"]
    assert entry["enterprise"] is True and entry["since"] == "2025.03"


def test_certificates_are_renewable_well_before_the_expiry_alert():
    day = 24
    assert tls.SERVER_EARLY_RENEWAL_HOURS >= (CERTIFICATE_EXPIRY_WARNING_DAYS + 60) * day
    assert tls.SERVER_EARLY_RENEWAL_HOURS < tls.SERVER_VALIDITY_HOURS / 4
    # A server certificate signed just before the CA became renewable still ends before the CA does.
    assert tls.CA_EARLY_RENEWAL_HOURS >= tls.SERVER_VALIDITY_HOURS
    assert tls.CA_EARLY_RENEWAL_HOURS < tls.CA_VALIDITY_HOURS
