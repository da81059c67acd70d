"""TLS checks against real servers: one with neo4j:tls=required, one with optional, both rendered by
our templates with certificates laid out as setup-neo4j.sh does (ECDSA keys in the SEC1 PEM form
that pulumi-tls produces), and a real HAProxy passing TLS through. The required server's
certificates come from the `cryptography` package, the optional server's from the openssl CLI
(the fallback when cryptography is not installed), so both ways are served by a real Neo4j."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.checks import main
from tests.integration.conftest import PASSWORD, haproxy_in_front
from tests.support.neo4j_local import make_certificates, prepare, start_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    try:
        import cryptography  # noqa: F401 - moto (requirements.txt) brings it; openssl otherwise

        use_openssl = False
    except ImportError:
        use_openssl = True
    certificates = {"required": make_certificates(base / "ca", use_openssl=use_openssl),
                    "optional": make_certificates(base / "ca-openssl", use_openssl=True)}
    servers = {level: prepare(base / level, password=PASSWORD, tls=level, certificates=certificates[level])
               for level in ("required", "optional")}
    start_all(list(servers.values()))
    yield servers, certificates
    for local in servers.values():
        local.stop()


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)


def check(capsys, *args: str) -> tuple[int, str, dict[str, str]]:
    # These tests are about TLS, not speed: a check's default 5 s per connection and query was once too short
    # for a TLS session to a JVM on a CI machine running two test workers beside other work.
    code = main(["--timeout", "30", *args])
    out = capsys.readouterr().out
    status = {p[1]: p[0] for p in (line.split() for line in out.splitlines())
              if len(p) >= 2 and p[0] in ("PASS", "FAIL", "SKIP")}
    return code, out, status


def test_rendered_tls_conf_is_what_the_server_runs_with(tls_servers):
    servers, _ = tls_servers
    assert "server.bolt.tls_level=REQUIRED" in servers["required"].conf
    assert "server.bolt.tls_level=OPTIONAL" in servers["optional"].conf
    assert "dbms.ssl.policy.bolt.enabled=true" in servers["required"].conf


def test_required_tls_refuses_plain_bolt_and_accepts_our_ca(tls_servers, capsys):
    servers, certs = tls_servers
    code, out, status = check(capsys, "--uri", servers["required"].uri, "--tls", "required",
                              "--ca-cert", str(certs["required"].ca_cert))
    assert code == 0, out
    assert status["tls"] == "PASS"
    assert "plain Bolt refused and Bolt over TLS with the cluster CA works" in out
    assert "over TLS" in out  # every other check ran encrypted too
    assert status["routing"] == "PASS"


def test_required_is_not_met_by_a_server_that_only_offers_tls(tls_servers, capsys):
    servers, certs = tls_servers
    code, out, status = check(capsys, "--uri", servers["optional"].uri, "--tls", "required",
                              "--ca-cert", str(certs["optional"].ca_cert))
    assert code == 1
    assert status["tls"] == "FAIL"
    assert "accepts plain (unencrypted) Bolt although TLS is required" in out


def test_optional_tls_passes_on_an_optional_server(tls_servers, capsys):
    servers, certs = tls_servers
    code, out, status = check(capsys, "--uri", servers["optional"].uri, "--tls", "optional",
                              "--ca-cert", str(certs["optional"].ca_cert))
    assert code == 0, out
    assert "(plain Bolt also accepted)" in out


def test_a_certificate_from_another_ca_is_not_trusted(tls_servers, tmp_path, capsys):
    servers, _ = tls_servers
    stranger = make_certificates(tmp_path / "other-ca")
    code, out, status = check(capsys, "--servers", f"core-1={servers['required'].uri}", "--tls", "required",
                              "--ca-cert", str(stranger.ca_cert))
    assert code == 1
    assert status["bolt:core-1"] == "FAIL"
    assert "certificate not trusted" in out and "--ca-cert" in out


def test_plain_client_against_a_tls_only_server_is_told_to_use_the_ca(tls_servers, capsys):
    servers, _ = tls_servers
    code, out, status = check(capsys, "--servers", f"core-1={servers['required'].uri}")
    assert code == 1
    assert status["bolt:core-1"] == "FAIL"
    assert "TLS required? then give --ca-cert" in out


def test_tls_passes_through_a_real_haproxy(tls_servers, tmp_path, capsys):
    servers, certs = tls_servers
    with haproxy_in_front([servers["required"].address], tmp_path) as proxy:
        code, out, status = check(capsys, "--uri", servers["required"].uri, "--tls", "required",
                                  "--ca-cert", str(certs["required"].ca_cert), "--haproxy-uri", proxy.write_uri)
    assert code == 0, out
    assert status["haproxy"] == "PASS"


def test_certificate_material_has_the_deploy_time_shape(tls_servers):
    _, certs = tls_servers
    for material in certs.values():
        assert material.ca_cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert material.server_key.read_text().startswith("-----BEGIN EC PRIVATE KEY-----")


def not_after_of(cert_file) -> str:
    """The certificate's notAfter as openssl prints it, in the ISO form check reports."""
    import datetime as dt
    import ssl
    import subprocess

    end = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert_file)], capture_output=True,
                         text=True, check=True).stdout.strip().split("=", 1)[1]
    return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(end), dt.UTC).strftime("%Y-%m-%d")


def test_check_reports_the_expiry_of_the_certificate_each_server_serves(tls_servers, capsys):
    servers, certs = tls_servers
    local = servers["required"]
    code, out, status = check(capsys, "--uri", local.uri, "--tls", "required", "--ca-cert",
                              str(certs["required"].ca_cert))
    assert code == 0, out
    tls_line = next(line for line in out.splitlines() if line.startswith("PASS  tls"))
    expected = not_after_of(certs["required"].server_cert)
    assert f"certificates expire: 127.0.0.1:{local.bolt_port} {expected} (" in tls_line
    # The test certificates live for days, so check says they need renewing (and still passes: a
    # deploy must not fail for a certificate it cannot renew yet; the alert covers that).
    assert "days — RENEW: within 30 days)" in tls_line


def test_the_https_connector_serves_the_same_certificate_in_a_real_handshake(tls_servers):
    from scripts.neo4j_ops.bolt import TlsOptions, peer_certificate

    servers, certs = tls_servers
    local = servers["required"]
    tls = TlsOptions(str(certs["required"].ca_cert))
    bolt = peer_certificate(f"127.0.0.1:{local.bolt_port}", tls, 5)
    https = peer_certificate(f"127.0.0.1:{local.https_port}", tls, 5)
    assert bolt["not_after"][:10] == https["not_after"][:10] == not_after_of(certs["required"].server_cert)


def test_a_certificate_from_another_ca_is_a_tls_failure_not_an_expiry(tls_servers):
    from scripts.neo4j_ops.bolt import TLS, BoltError, TlsOptions, peer_certificate

    servers, certs = tls_servers
    with pytest.raises(BoltError) as caught:
        peer_certificate(f"127.0.0.1:{servers['required'].bolt_port}", TlsOptions(str(certs["optional"].ca_cert)), 5)
    assert caught.value.kind == TLS and "certificate not trusted" in caught.value.message
