"""The entry certificate end to end (issue 26, item 6): the RENDERED haproxy.cfg of a TLS-required stack, run by a
real haproxy on loopback in front of a real Neo4j Community 5.26 server with TLS required. HAProxy ends the client's
TLS with the entry certificate (the entry name only) and opens its own TLS to the server, verifying the server's
certificate against the CA and by name; a client verifies the entry, never sees the server's certificate, and
its Bolt session runs on the server.

Substituted, as tests/support/haproxy.py does for every rendered config: addresses and ports, the CA and entry
paths; and the name HAProxy verifies the server by (`verifyhost`): the deploy's server certificate names the
server's hostname, the test server's names localhost, so `verifyhost <hostname>` becomes `verifyhost localhost`.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
from pathlib import Path

import neo4j
import pytest
from neo4j import GraphDatabase

from components.render import HAPROXY_ENTRY_PEM, render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.integration.conftest import PASSWORD
from tests.support.haproxy import Loopback, loopback_cfg, loopback_dirs, running_haproxy, server_names
from tests.support.neo4j_dist import free_port
from tests.support.neo4j_local import Certificates

pytestmark = pytest.mark.integration

ENTRY = "haproxy.test.neo4j.internal"


def issue(directory: Path) -> tuple[Certificates, Path]:
    """A CA; the server's certificate (localhost, 127.0.0.1; a TLS server and client, as the deploy's); the entry's
    (ENTRY and 127.0.0.1; a TLS server only) as HAProxy's crt file (certificate, then key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entry test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(names: list[str], uses: list) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                    critical=False)
                .add_extension(x509.ExtendedKeyUsage(uses), critical=False)
                .sign(ca_key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_cert, server_key = leaf(["localhost"], [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    (directory / "server.crt").write_bytes(server_cert)
    (directory / "server.key").write_bytes(server_key)
    entry_cert, entry_key = leaf([ENTRY], [ExtendedKeyUsageOID.SERVER_AUTH])
    (directory / "entry.pem").write_bytes(entry_cert + entry_key)
    return (Certificates(directory, directory / "ca.crt", directory / "server.key", directory / "server.crt"),
            directory / "entry.pem")


def rendered_cfg() -> str:
    """The single Community server's stack with TLS required (its HAProxy checks GET / over HTTPS)."""
    settings = make_settings(edition="community", coreCount=1, replicaCount=0, acceptLicense=False, tls="required")
    cfg = render_haproxy_cfg(settings, plan_topology(settings))
    assert f"ssl crt {HAPROXY_ENTRY_PEM}" in cfg and "verifyhost " in cfg
    return cfg


def on_loopback(cfg: str, server, certificates: Certificates, entry_pem: Path, verify_as: str,
                directory: Path) -> tuple[str, dict]:
    (name,) = server_names(cfg, "neo4j_read")
    binds = {"bolt_write": free_port(), "bolt_read": free_port(), "stats": free_port(), "health": free_port()}
    text = loopback_cfg(cfg, Loopback(binds=binds, servers={name: (server.bolt_port, server.https_port)},
                                      nameserver_port=free_port(), ca_file=str(certificates.ca_cert), maxconn=1000,
                                      **loopback_dirs(directory)))
    text = text.replace(HAPROXY_ENTRY_PEM, str(entry_pem))
    text, verified = re.subn(r"verifyhost \S+", f"verifyhost {verify_as}", text)
    assert verified == 2  # the server in the write and in the read backend
    return text, binds


def peer_names(port: int, ca: Path, name: str) -> list[str]:
    """The DNS names of the certificate a TLS client verifying `name` against `ca` is shown at `port`."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        return [value for kind, value in tls.getpeercert()["subjectAltName"] if kind == "DNS"]


@pytest.fixture(scope="module")
def tls_server(neo4j_factory, tmp_path_factory):
    certificates, entry_pem = issue(tmp_path_factory.mktemp("entry-tls"))
    (server,) = neo4j_factory(tls="required", certificates=certificates)
    return server, certificates, entry_pem


def test_clients_verify_the_entry_certificate_and_their_bolt_session_runs_on_the_tls_server(tls_server, tmp_path):
    server, certificates, entry_pem = tls_server
    text, binds = on_loopback(rendered_cfg(), server, certificates, entry_pem, "localhost", tmp_path)
    with running_haproxy(text, tmp_path, listen_ports=list(binds.values()), stats_port=binds["stats"]) as proxy:
        proxy.wait_for_first_checks()
        assert set(proxy.checked().values()) == {"L7OK"}  # HTTPS checks, the server verified
        for port in (binds["bolt_write"], binds["bolt_read"]):
            # The entry's certificate, verified by the entry name: not the server's (localhost).
            assert peer_names(port, certificates.ca_cert, ENTRY) == [ENTRY]
            with GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", PASSWORD), encrypted=True,
                                      trusted_certificates=neo4j.TrustCustomCAs(str(certificates.ca_cert))) as driver:
                records, _, _ = driver.execute_query("RETURN 41 + 1 AS answer")
                assert records[0]["answer"] == 42
        # A client that does not speak TLS gets no session: the entry speaks TLS only.
        with GraphDatabase.driver(f"bolt://127.0.0.1:{binds['bolt_write']}", auth=("neo4j", PASSWORD),
                                  connection_timeout=5) as plain, pytest.raises(neo4j.exceptions.ServiceUnavailable):
            plain.verify_connectivity()


def test_a_server_whose_certificate_does_not_name_it_gets_no_connection(tls_server, tmp_path):
    """HAProxy verifies the server by name: the same server, verified as another name, is refused (no check passes,
    no Bolt session reaches it), so a certificate the CA signed for another machine cannot pose as this server."""
    server, certificates, entry_pem = tls_server
    text, binds = on_loopback(rendered_cfg(), server, certificates, entry_pem, "core-9.elsewhere.invalid",
                              tmp_path)
    with running_haproxy(text, tmp_path, listen_ports=list(binds.values()), stats_port=binds["stats"]) as proxy:
        proxy.wait_for_first_checks()
        assert "L7OK" not in set(proxy.checked().values()), proxy.checked()
        with GraphDatabase.driver(f"bolt://127.0.0.1:{binds['bolt_write']}", auth=("neo4j", PASSWORD),
                                  encrypted=True, connection_timeout=5,
                                  trusted_certificates=neo4j.TrustCustomCAs(str(certificates.ca_cert))) as driver, \
                pytest.raises(neo4j.exceptions.ServiceUnavailable):
            driver.verify_connectivity()
