"""The cluster's own CA and one certificate per server (pulumi-tls), shared by AWS and Docker.

Each server certificate names the server's stable DNS name (and `localhost` for checks run on the
machine itself); the entry (HAProxy) has a certificate of its own. Private keys are Pulumi secrets end to end.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.topology import ClusterTopology, Server

# Renewal: a `pulumi up` inside a certificate's early-renewal window replaces it. pulumi_tls's docs of
# LocallySignedCert/SelfSignedCert early_renewal_hours: "The resource will consider the
# certificate to have expired the given number of hours before its actual expiry time ... this advance
# update can only be performed should the Terraform configuration be applied during the early renewal
# period". The new PEM reaches the server's secret as a new secret version (components/aws/secrets.py),
# and each server's daily renew-certificates.sh brings it to the running Neo4j.
CA_VALIDITY_HOURS = 10 * 365 * 24
SERVER_VALIDITY_HOURS = 2 * 365 * 24
# A server certificate is renewable in its last 90 days: any deploy in the 60 days before the
# Neo4jCertificateExpiresSoon alert (30 days, components/monitoring/alerts.py) renews it, and the servers have it
# within a day; the alert means no deploy ran in those 60 days.
SERVER_EARLY_RENEWAL_HOURS = 90 * 24
# The CA is renewable in its last two years (a server certificate's whole life): a server certificate
# issued before the CA is renewed never outlives the CA that signed it.
CA_EARLY_RENEWAL_HOURS = SERVER_VALIDITY_HOURS


def server_dns_names(topology: ClusterTopology, server: Server) -> list[str]:
    """The names a server's certificate holds: its advertised hostname, which cluster members, HAProxy and the
    backup job dial (hostname verification, components/render.py), its short name, and localhost for checks on
    the machine itself. Never the entry (HAProxy) name: that is the entry certificate's alone (entry_dns_names),
    so a server's key cannot pose as the entry, nor the entry's as a server."""
    return [server.hostname, server.name, "localhost"]


def entry_dns_names(topology: ClusterTopology) -> list[str]:
    """The entry certificate's names: the entry's (the load balancer's on AWS, the HAProxy container's on Docker)
    and its short name. Its one IP, 127.0.0.1, is the Docker stack's published entry."""
    assert topology.haproxy is not None
    return [topology.haproxy.hostname, topology.haproxy.name]


@dataclass(frozen=True)
class ServerCertificate:
    private_key_pem: pulumi.Output[str]  # secret
    cert_pem: pulumi.Output[str]


def crt_file(certificate: ServerCertificate) -> pulumi.Output[str]:
    """The certificate then its key in one PEM text: HAProxy's `crt` file (a secret, as the key is)."""
    return pulumi.Output.secret(pulumi.Output.all(certificate.cert_pem, certificate.private_key_pem).apply(
        lambda parts: "".join(part for part in parts if part)))


class ClusterCertificates(pulumi.ComponentResource):
    """CA + per-server certificates. `ca_cert_pem` is public; every private key is a secret."""

    ca_cert_pem: pulumi.Output[str]
    servers: dict[str, ServerCertificate]
    grafana: ServerCertificate | None  # the monitoring node's Grafana (HTTPS); None without monitoring
    entry: ServerCertificate | None  # HAProxy's, where it terminates TLS (render.entry_terminates_tls); else None

    def __init__(self, name: str, topology: ClusterTopology, opts: pulumi.ResourceOptions | None = None, *,
                 grafana: bool = False, entry: bool = False):
        """grafana: also a certificate for the monitoring node's Grafana (AWS; the Docker stack's Grafana is on
        127.0.0.1 only). entry: also the entry certificate HAProxy serves (a stack with HAProxy)."""
        super().__init__("neo4j-cluster:tls:ClusterCertificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca", algorithm="ECDSA", ecdsa_curve="P384", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca", private_key_pem=ca_key.private_key_pem, is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS, early_renewal_hours=CA_EARLY_RENEWAL_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject={"common_name": f"neo4j-cluster {topology.domain} CA", "organization": "neo4j-cluster"},
            opts=child)
        self.ca_cert_pem = ca.cert_pem
        self.servers = {}
        for server in topology.neo4j_hosts:  # 4.4's Fabric proxies serve Bolt too
            key = tls.PrivateKey(f"{name}-{server.name}", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            request = tls.CertRequest(
                f"{name}-{server.name}", private_key_pem=key.private_key_pem,
                dns_names=server_dns_names(topology, server),
                ip_addresses=["127.0.0.1"],
                subject={"common_name": server.hostname, "organization": "neo4j-cluster"}, opts=child)
            cert = tls.LocallySignedCert(
                f"{name}-{server.name}", cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=ca.cert_pem,
                validity_period_hours=SERVER_VALIDITY_HOURS, early_renewal_hours=SERVER_EARLY_RENEWAL_HOURS,
                # Servers are both TLS servers and, inside the cluster, TLS clients of each other.
                allowed_uses=["digital_signature", "key_encipherment", "server_auth", "client_auth"],
                opts=child)
            self.servers[server.name] = ServerCertificate(pulumi.Output.secret(key.private_key_pem), cert.cert_pem)
        self.grafana = None
        if grafana and topology.monitoring:
            # Grafana serves HTTPS under the monitoring node's name; a TLS server only (it is nobody's client).
            node = topology.monitoring
            key = tls.PrivateKey(f"{name}-grafana", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            request = tls.CertRequest(
                f"{name}-grafana", private_key_pem=key.private_key_pem, dns_names=[node.hostname, node.name],
                subject={"common_name": node.hostname, "organization": "neo4j-cluster"}, opts=child)
            cert = tls.LocallySignedCert(
                f"{name}-grafana", cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=ca.cert_pem,
                validity_period_hours=SERVER_VALIDITY_HOURS, early_renewal_hours=SERVER_EARLY_RENEWAL_HOURS,
                allowed_uses=["digital_signature", "key_encipherment", "server_auth"], opts=child)
            self.grafana = ServerCertificate(pulumi.Output.secret(key.private_key_pem), cert.cert_pem)
        self.entry = None
        if entry and topology.haproxy:
            # Served by HAProxy to the clients; a TLS server only, so no cluster member accepts it as a client.
            key = tls.PrivateKey(f"{name}-entry", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            request = tls.CertRequest(
                f"{name}-entry", private_key_pem=key.private_key_pem, dns_names=entry_dns_names(topology),
                ip_addresses=["127.0.0.1"],
                subject={"common_name": topology.haproxy.hostname, "organization": "neo4j-cluster"}, opts=child)
            cert = tls.LocallySignedCert(
                f"{name}-entry", cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=ca.cert_pem,
                validity_period_hours=SERVER_VALIDITY_HOURS, early_renewal_hours=SERVER_EARLY_RENEWAL_HOURS,
                allowed_uses=["digital_signature", "key_encipherment", "server_auth"], opts=child)
            self.entry = ServerCertificate(pulumi.Output.secret(key.private_key_pem), cert.cert_pem)
        self.register_outputs({"caCertPem": self.ca_cert_pem})
