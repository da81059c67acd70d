"""renew-certificates.sh against real Neo4j Community servers (2025.10.1 and 5.26) that serve Bolt and HTTPS
with our TLS policy (tests/support/neo4j_local.py lays the certificates out as setup-neo4j.sh does).

The rendered script runs whole, in bash, with its machine paths moved to the server's NEO4J_HOME and these
stand-ins only: `aws` answers the server's secret (a renewed certificate, signed by the same CA, as
`pulumi up` renews it), `install` drops -o/-g (no neo4j user here), `cypher-shell` sends the query through
the Python driver to the real server, and `systemctl restart neo4j` asks this test to restart the real
server (same NEO4J_HOME, same ports). The TLS handshakes the script checks the served certificate with are
real `openssl s_client` runs, and this test checks them again with Python's `ssl`.

What real Community servers show here:
- 2025.10.1 Community has no reload: `dbms.security.reloadTLS()` is not registered and
  `dbms.security.tls_reload_enabled` is no setting of it (both are Enterprise-only in the Operations Manual,
  dev, procedures/built-in-procedures.adoc and configuration/configuration-settings.adoc). The script as
  rendered for a standalone Enterprise 2025.10.1 server (RELOAD=true) calls the procedure, is refused, sees
  by its real handshake that the old certificate is still served, and restarts; the new one is then served.
- 5.26 takes a certificate in at a restart only. The script of an Enterprise cluster asks SHOW SERVERS
  first; Community cannot answer it, so the script restarts nothing. The script of a standalone server
  restarts it, and the new certificate is served.
The reload itself (same PID, new certificate) needs Enterprise 2025.03+ and cannot run here; that path is
covered by tests/unit/test_cert_renewal.py with stand-ins.
"""
from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.integration.conftest import PASSWORD
from tests.support.neo4j_dist import NEO4J_VERSIONS
from tests.support.neo4j_local import Certificates, LocalNeo4j, make_certificates, prepare, start_all
from tests.support.shell import sandbox

pytestmark = pytest.mark.integration

# cypher-shell's part: the query through the Python driver to the real server, printed as --format plain
# prints it (a header of the column names, then one line per record).
CYPHER_SHELL = '''
import os, sys
import neo4j
args = sys.argv[1:]
uri = args[args.index("-a") + 1].replace("bolt+ssc://localhost", "bolt+ssc://127.0.0.1")
database = args[args.index("-d") + 1]
query = args[-1]
try:
    with neo4j.GraphDatabase.driver(uri, auth=(os.environ["NEO4J_USERNAME"], os.environ["NEO4J_PASSWORD"])) as driver:
        records, _, keys = driver.execute_query(query, database_=database)
except neo4j.exceptions.Neo4jError as error:
    print(error.message, file=sys.stderr)
    sys.exit(1)
except Exception as error:  # not reachable, not up
    print(error, file=sys.stderr)
    sys.exit(1)
print(", ".join(keys))
for record in records:
    print(", ".join(str(value) for value in record.values()))
'''


def renewed(certs: Certificates, directory: Path) -> Certificates:
    """A new key and certificate for the same names, signed by the same CA: what `pulumi up` makes when the
    certificate is in its early-renewal window."""
    directory.mkdir(parents=True, exist_ok=True)
    out = Certificates(directory, certs.ca_cert, directory / "server.key", directory / "server.crt")
    ca_key = certs.directory / "ca.key"

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(out.server_key))
    run("req", "-new", "-key", str(out.server_key), "-subj", "/CN=localhost", "-out", "server.csr")
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                          "extendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", str(certs.ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "3", "-sha256", "-extfile", "server.ext", "-out", str(out.server_cert))
    return out


def served_der(port: int, ca: Path) -> bytes:
    """The certificate a real TLS handshake on 127.0.0.1:port gets, verified with the CA."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        return tls.getpeercert(binary_form=True)


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def _fingerprint(cert: Path) -> str:
    """As `openssl x509 -fingerprint -sha256` prints it: AB:CD:…"""
    import hashlib

    digest = hashlib.sha256(der(cert)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> tuple[Certificates, Certificates]:
    base = tmp_path_factory.mktemp("renewal-certs")
    first = make_certificates(base / "a", use_openssl=True)  # keeps ca.key to sign the renewal with
    return first, renewed(first, base / "b")


@pytest.fixture(scope="module")
def servers(tmp_path_factory, certificates) -> dict[str, LocalNeo4j]:
    first, _ = certificates
    base = tmp_path_factory.mktemp("renewal")
    started = {line: prepare(base / line, password=PASSWORD, tls="required", certificates=first,
                             version=NEO4J_VERSIONS[line]) for line in ("2025", "5")}
    start_all(list(started.values()))
    yield started
    for local in started.values():
        local.stop()


def script_for(local: LocalNeo4j, box_root: Path, **stack) -> str:
    """renew-certificates.sh as rendered for core-1 of a stack of the server's release (`stack`: its other
    keys), with only the machine's paths and ports moved to the test server's."""
    settings = make_settings(version=local.version, tls="required", **stack)
    text = aws_artifacts(settings, plan_topology(settings))["core-1"]["renew-certificates.sh"]
    moves = {
        "CERT_DIR=/var/lib/neo4j/certificates": f'CERT_DIR="{local.home / "certificates"}"',
        "TEXTFILE_DIR=/var/lib/prometheus/node-exporter": f'TEXTFILE_DIR="{box_root / "textfile"}"',
        "RENEW_STATUS=/var/lib/neo4j-cluster/cert-renew-status": f'RENEW_STATUS="{box_root / "status"}"',
        'LOCAL_URI="bolt+ssc://localhost:7687"': f'LOCAL_URI="bolt+ssc://localhost:{local.bolt_port}"',
        "SERVED_PORTS=(bolt:7687 https:7473)": f"SERVED_PORTS=(bolt:{local.bolt_port} https:{local.https_port})",
        "POLL_SECONDS=5": "POLL_SECONDS=1",
    }
    for old, new in moves.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# A standalone server of each edition: no cluster to ask before a restart.
ENTERPRISE_STANDALONE = {"edition": "enterprise", "coreCount": 1, "replicaCount": 0}
COMMUNITY_STANDALONE = {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False}


def run_renewal(local: LocalNeo4j, box_root: Path, secret: Certificates, *, timeout: float = 240,
                **stack) -> tuple[subprocess.CompletedProcess, int]:
    """Run the script; when it asks systemctl to restart neo4j, restart the real server. Returns the result
    and how many restarts it asked for."""
    box = sandbox(box_root)
    (box_root / "secret.json").write_text(json.dumps({"key": secret.server_key.read_text(),
                                                      "cert": secret.server_cert.read_text(),
                                                      "ca": secret.ca_cert.read_text()}))
    box.stand_in("aws", f'''id=""; while (($#)); do [[ "$1" == --secret-id ]] && id=$2; shift; done
case "$id" in */tls/*) cat "{box_root}/secret.json";; *) echo "{PASSWORD}";; esac''')
    box.stand_in("install", '''args=(); while (($#)); do case "$1" in -o|-g) shift 2;; *) args+=("$1"); shift;; esac
done; exec /usr/bin/install "${args[@]}"''')
    (box_root / "cypher_shell.py").write_text(CYPHER_SHELL)
    box.stand_in("cypher-shell", f'exec "{sys.executable}" "{box_root}/cypher_shell.py" "$@"')
    requested, done = box_root / "restart-requested", box_root / "restart-done"
    requested.unlink(missing_ok=True)
    done.unlink(missing_ok=True)
    box.stand_in("systemctl", f'''[[ "$1 $2" == "restart neo4j" ]] || exit 0
rm -f "{done}"; touch "{requested}"
for _ in $(seq 1 600); do [[ -e "{done}" ]] && exit 0; /bin/sleep 0.5; done; exit 1''')
    program = box_root / "renew-certificates.sh"
    program.write_text(script_for(local, box_root, **stack))
    # On Enterprise the script logs in as its job user, which the first primary creates at boot with the password
    # of its own secret (the stand-in `aws` answers PASSWORD for it): the same user here, on the real server.
    user = re.search(r"^NEO4J_USER=(\S+)$", program.read_text(), re.M).group(1)
    if user != "neo4j":
        with local.server.driver() as admin:
            admin.execute_query(f"CREATE OR REPLACE USER {user} SET PASSWORD $password CHANGE NOT REQUIRED",
                                password=PASSWORD, database_="system")
    env = {"PATH": f"{box.bin}:/usr/bin:/bin", "HOME": str(box_root)}
    process = subprocess.Popen(["bash", str(program)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=box_root)
    restarts = 0
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"renew-certificates.sh did not finish in {timeout} s")
        if requested.exists():
            requested.unlink()
            restarts += 1
            local.stop()
            local.start()
            done.touch()
        time.sleep(0.2)
    output = process.stdout.read()
    return subprocess.CompletedProcess(process.args, process.returncode, output, ""), restarts


def test_community_2025_has_neither_the_reload_procedure_nor_its_setting(servers, certificates):
    local = servers["2025"]
    with local.server.driver() as driver:  # over TLS, trusting the test CA (neo4j_local.prepare)
        procedures, _, _ = driver.execute_query(
            "SHOW PROCEDURES YIELD name WHERE name = 'dbms.security.reloadTLS' RETURN name", database_="system")
        settings, _, _ = driver.execute_query(
            "SHOW SETTINGS YIELD name WHERE name = 'dbms.security.tls_reload_enabled' RETURN name",
            database_="system")
    assert procedures == [] and settings == []


def test_5_26_restarts_only_when_the_cluster_answers_then_serves_the_renewed_certificate(servers, certificates,
                                                                                         tmp_path):
    local = servers["5"]
    first, second = certificates
    assert served_der(local.bolt_port, first.ca_cert) == der(first.server_cert)
    pid = local.server.process.pid
    # The script of a 3-server Enterprise cluster asks SHOW SERVERS first; a real Community server cannot answer
    # ("Unsupported administration command"), and an unanswered question is no licence to restart.
    skipped, restarts = run_renewal(local, tmp_path / "cluster", second)
    assert skipped.returncode == 0, skipped.stdout
    assert "cannot ask this server about the cluster" in skipped.stdout
    assert "Unsupported administration command: SHOW SERVERS" in skipped.stdout
    assert restarts == 0 and local.server.process.pid == pid
    assert (tmp_path / "cluster" / "status").read_text().startswith("state=skipped step=cluster_health ")
    assert served_der(local.bolt_port, first.ca_cert) == der(first.server_cert), "5.26 read the files without a restart"
    # The script of a standalone server restarts it: the renewed certificate is then served on Bolt and HTTPS.
    result, restarts = run_renewal(local, tmp_path / "standalone", second, **COMMUNITY_STANDALONE)
    assert result.returncode == 0, result.stdout
    assert "the installed certificates are not served yet" in result.stdout  # installed by the first run
    assert restarts == 1 and local.server.process.pid != pid
    assert "reloadTLS" not in result.stdout
    for port in (local.bolt_port, local.https_port):
        assert served_der(port, first.ca_cert) == der(second.server_cert)
    assert (tmp_path / "standalone" / "status").read_text().startswith("state=ok step=done ")


def test_2025_script_reloads_and_when_community_still_serves_the_old_certificate_restarts(servers, certificates,
                                                                                         tmp_path):
    local = servers["2025"]
    first, second = certificates
    for port in (local.bolt_port, local.https_port):
        assert served_der(port, first.ca_cert) == der(first.server_cert)
    pid = local.server.process.pid
    # Rendered for Enterprise 2025.10.1 (RELOAD=true), standalone so that no SHOW SERVERS is asked first.
    result, restarts = run_renewal(local, tmp_path / "run", second, **ENTERPRISE_STANDALONE)
    assert result.returncode == 0, result.stdout
    assert "RELOAD=true" in (tmp_path / "run" / "renew-certificates.sh").read_text()
    out = result.stdout
    # The reload ran for real and Community refused it; the real handshake still saw the old certificate.
    assert "CALL dbms.security.reloadTLS()" in out and "the reload procedure failed" in out
    fingerprint_a = _fingerprint(first.server_cert)
    assert f"bolt (port {local.bolt_port}) serves {fingerprint_a}, installed is {_fingerprint(second.server_cert)}" \
        in out
    assert "the reload did not bring the renewed certificates: restarting instead" in out
    assert restarts == 1 and local.server.process.pid != pid
    for port in (local.bolt_port, local.https_port):
        assert served_der(port, first.ca_cert) == der(second.server_cert)
    metric = (tmp_path / "run" / "textfile" / "neo4j_cluster_certificates.prom").read_text()
    end = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(second.server_cert)],
                         capture_output=True, text=True, check=True).stdout.split("=", 1)[1].strip()
    assert f'neo4j_cluster_certificate_expiry_seconds{{scope="bolt"}} {int(ssl.cert_time_to_seconds(end))}' in metric
    # Run again: nothing new, nothing restarted.
    pid = local.server.process.pid
    again, restarts = run_renewal(local, tmp_path / "again", second, **ENTERPRISE_STANDALONE)
    assert again.returncode == 0, again.stdout
    assert "certificates unchanged and served" in again.stdout
    assert restarts == 0 and local.server.process.pid == pid
    assert os.path.exists(tmp_path / "again" / "status")
